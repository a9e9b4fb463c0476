"""Table schemas: column names and Spark type names, known without running a Spark job.

Shared by operator specs (validation infers output schemas), the runner (the schemas of
stored tables) and column statistics; it imports nothing from the rest of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Spark's simple type string: string, int, bigint, double, date, array<int>, ...

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type}


@dataclass(frozen=True)
class TableSchema:
    """Column names and types of a table, known without running a Spark job."""

    columns: tuple[Column, ...]

    @classmethod
    def of(cls, *pairs: tuple[str, str]) -> TableSchema:
        return cls(tuple(Column(n, t) for n, t in pairs))

    @classmethod
    def from_json(cls, data: list[dict[str, str]]) -> TableSchema:
        return cls(tuple(Column(c["name"], c["type"]) for c in data))

    @classmethod
    def from_arrow(cls, schema: Any) -> TableSchema:
        """From a pyarrow schema (e.g. a Parquet footer), with Spark's type names."""
        return cls(tuple(Column(f.name, arrow_type_name(f.type)) for f in schema))

    @classmethod
    def from_spark(cls, struct: Any) -> TableSchema:
        return cls(tuple(Column(f.name, f.dataType.simpleString()) for f in struct.fields))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def type_of(self, name: str) -> str | None:
        for c in self.columns:
            if c.name == name:
                return c.type
        return None

    def to_json(self) -> list[dict[str, str]]:
        return [c.to_json() for c in self.columns]


def arrow_type_name(t: Any) -> str:
    """Spark's simple type name for a pyarrow type."""
    import pyarrow as pa

    checks = [
        (pa.types.is_string, "string"),
        (pa.types.is_large_string, "string"),
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_boolean, "boolean"),
        (pa.types.is_date32, "date"),
        (pa.types.is_timestamp, "timestamp"),
        (pa.types.is_binary, "binary"),
    ]
    for check, name in checks:
        if check(t):
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{arrow_type_name(t.value_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{f.name}:{arrow_type_name(f.type)}" for f in t)
        return f"struct<{fields}>"
    if pa.types.is_map(t):
        return f"map<{arrow_type_name(t.key_type)},{arrow_type_name(t.item_type)}>"
    return str(t)


class LinkedSchemas(list):
    """The schemas of an input port's several links, in link order, each with the name the
    operator sees it by (``link_names``: the upstream node id, or ``<node>_<port>`` when two
    links come from the same node), e.g. the view names of a SQL query."""

    def __init__(self, schemas: list[TableSchema | None], link_names: list[str]):
        super().__init__(schemas)
        self.link_names = list(link_names)
