"""File import and export: import.csv, import.parquet, export.csv, export.parquet."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.opapi import (
    SIMPLE_TYPES,
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    TableSchema,
    expand_paths,
    files_fingerprint,
    is_simple_type,
    replace_path,
    spark_error_message,
    temp_sibling,
    with_node,
)

_PATH_HELP = "relative paths resolve against the flow file's folder"


def _input_files(ctx: RunContext, op: str, path: str) -> list[Path]:
    what = f"The 'path' parameter of {ctx.where}"
    ctx.check_path(path, what)
    files = expand_paths(path)
    for f in files:  # each file read, after links are followed
        ctx.check_path(f, what)
    if not files:
        raise OperatorError(
            f'{ctx.where} found no file at "{path}". Check the path ({_PATH_HELP}: {ctx.flow_dir}).'
        )
    return files


# -- import.csv ---------------------------------------------------------------------------------
class ImportCsv(Operator):
    id = "import.csv"
    version = 1
    category = "Data"
    title = "Import CSV"
    description = (
        "Reads delimited text files: one file, every file in a folder, or a glob such as "
        "data/*.csv. Column types are inferred unless an explicit schema is given."
    )
    outputs = (Port("out", "table", "The rows of the file(s)."),)
    params = (
        Param(
            "path",
            "string",
            f"File, folder or glob to read; {_PATH_HELP}.",
            required=True,
            min_length=1,
            widget="path",
        ),
        Param(
            "delimiter",
            "string",
            "Field separator, e.g. ',', ';' or '\\t'.",
            default=",",
            min_length=1,
            widget="text",
        ),
        Param(
            "header",
            "boolean",
            "The first line holds column names.",
            default=True,
            widget="checkbox",
        ),
        Param(
            "quote",
            "string",
            "Quote character around fields that contain the delimiter.",
            default='"',
            widget="text",
        ),
        Param(
            "encoding",
            "string",
            "Text encoding of the file(s).",
            default="UTF-8",
            min_length=1,
            widget="text",
        ),
        Param(
            "null_values",
            "array",
            "Field values read as missing.",
            default=[""],
            items={"type": "string"},
            widget="json",
        ),
        Param(
            "infer_types",
            "boolean",
            "Infer column types from the data (otherwise every column is a string).",
            default=True,
            widget="checkbox",
        ),
        Param(
            "schema",
            "object",
            'Explicit column types in file order, e.g. {"age": "int", "job": "string"}; '
            "overrides type inference.",
            nullable=True,
            values={"type": "string"},
            widget="mapping",
        ),
        Param(
            "limit",
            "integer",
            "Read only the first N rows (for a quick look or a trial run); not set reads all.",
            nullable=True,
            minimum=1,
            widget="number",
        ),
        Param(
            "bad_rows",
            "string",
            "What to do with a row that cannot be parsed: fail the node, keep it with "
            "missing values, or drop it.",
            default="fail",
            enum=("fail", "null", "drop"),
            widget="select",
        ),
    )

    def check_params(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        out = []
        for col, typ in (params.get("schema") or {}).items():
            if not is_simple_type(typ):
                out.append(
                    (
                        "schema",
                        f"The 'schema' parameter of {self.id} gives column '{col}' the "
                        f"unknown type '{typ}'; use one of {', '.join(SIMPLE_TYPES)} or "
                        "decimal(p,s).",
                    )
                )
        if len(params.get("delimiter") or ",") > 1 and params.get("delimiter") != "\\t":
            out.append(
                (
                    "delimiter",
                    f"The 'delimiter' parameter of {self.id} must be one "
                    f"character. Got {params.get('delimiter')!r}.",
                )
            )
        return out

    def fingerprint(self, params: Mapping[str, Any]) -> Any:
        return files_fingerprint(params["path"])

    def error_hint(self, message: str, params: Mapping[str, Any]) -> str | None:
        if "malformed" in message.lower():
            return (
                "Check 'delimiter', 'quote' and 'schema', or set 'bad_rows' to \"null\" or "
                '"drop" to keep going past unreadable rows.'
            )
        return None

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        if params.get("schema"):
            return {"out": TableSchema.of(*params["schema"].items())}
        files = expand_paths(params.get("path") or "")
        if not files:
            return {"out": None}
        schema = sniff_csv_schema(files[0], params)
        problem = wrong_delimiter(schema.names, params)
        if problem:
            raise OperatorError(problem)
        return {"out": schema}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        files = _input_files(ctx, self.id, params["path"])
        delimiter = "\t" if params["delimiter"] == "\\t" else params["delimiter"]
        nulls = list(params["null_values"]) or [""]
        reader = (
            ctx.spark.read.option("sep", delimiter)
            .option("header", params["header"])
            .option("quote", params["quote"])
            .option("escape", params["quote"])
            .option("encoding", params["encoding"])
            .option("nullValue", nulls[0])
            .option(
                "mode",
                {"fail": "FAILFAST", "null": "PERMISSIVE", "drop": "DROPMALFORMED"}[
                    params["bad_rows"]
                ],
            )
        )
        if params.get("schema"):
            ddl = ", ".join(f"`{c}` {t}" for c, t in params["schema"].items())
            reader = reader.schema(ddl)
        else:
            reader = reader.option("inferSchema", params["infer_types"])
        try:
            df = reader.csv([str(f) for f in files])
        except Exception as exc:
            raise OperatorError(
                f"{ctx.where} could not read {params['path']}: {spark_error_message(exc)}"
            ) from exc
        problem = wrong_delimiter(df.columns, params)
        if problem:
            raise OperatorError(with_node(problem, self.id, ctx.node_id))
        if params.get("limit"):
            df = df.limit(params["limit"])
        if len(nulls) > 1:
            from pyspark.sql import functions as F

            df = df.select(
                *[
                    F.when(F.col(f"`{f.name}`").isin(nulls[1:]), None)
                    .otherwise(F.col(f"`{f.name}`"))
                    .alias(f.name)
                    if f.dataType.simpleString() == "string"
                    else F.col(f"`{f.name}`")
                    for f in df.schema.fields
                ]
            )
        ctx.log(f"reading {len(files)} file(s) from {params['path']}")
        return {"out": df}


_OTHER_DELIMITERS = {";": ";", "\t": "\\t", "|": "|", ",": ","}


def wrong_delimiter(names: list[str], params: Mapping[str, Any]) -> str | None:
    """A sentence when the file was evidently split on the wrong delimiter: one column whose
    name holds another delimiter several times."""
    if len(names) != 1:
        return None
    current = "\t" if params.get("delimiter") == "\\t" else params.get("delimiter")
    for char, shown in _OTHER_DELIMITERS.items():
        if char != current and names[0].count(char) >= 2:
            return (
                f"The 'delimiter' parameter of import.csv does not match the file: with "
                f'{params.get("delimiter")!r} every line is one column ("{names[0][:60]}"). '
                f"The file looks {shown!r}-separated: set 'delimiter' to {shown!r}."
            )
    return None


def sniff_csv_schema(path: Path, params: Mapping[str, Any], max_rows: int = 1000) -> TableSchema:
    """Column names (and likely types) from the head of a CSV file, without Spark."""
    delimiter = "\t" if params.get("delimiter") == "\\t" else (params.get("delimiter") or ",")
    with open(path, encoding=params.get("encoding") or "utf-8", errors="replace", newline="") as f:
        head = io.StringIO("".join(line for _, line in zip(range(max_rows + 1), f, strict=False)))
    rows = list(csv.reader(head, delimiter=delimiter, quotechar=params.get("quote") or '"'))
    if not rows:
        return TableSchema(())
    if params.get("header", True):
        names, body = rows[0], rows[1:]
    else:
        names, body = [f"_c{i}" for i in range(len(rows[0]))], rows
    nulls = set(params.get("null_values") or [""])
    types = []
    for i, _ in enumerate(names):
        values = [r[i] for r in body if i < len(r) and r[i] not in nulls]
        types.append(_guess_type(values) if params.get("infer_types", True) else "string")
    return TableSchema.of(*zip(names, types, strict=True))


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|NaN|Infinity)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _guess_type(values: list[str]) -> str:
    if not values:
        return "string"
    if all(_INT.fullmatch(v) for v in values):
        return "int" if all(-(2**31) <= int(v) < 2**31 for v in values) else "bigint"
    if all(_FLOAT.fullmatch(v) for v in values):
        return "double"
    if all(v.lower() in ("true", "false") for v in values):
        return "boolean"
    if all(_DATE.fullmatch(v) for v in values):
        return "date"
    return "string"


# -- import.parquet -----------------------------------------------------------------------------
class ImportParquet(Operator):
    id = "import.parquet"
    version = 1
    category = "Data"
    title = "Import Parquet"
    description = "Reads a Parquet file or a folder of Parquet part files."
    outputs = (Port("out", "table", "The rows of the file(s)."),)
    params = (
        Param(
            "path",
            "string",
            f"Parquet file, folder or glob; {_PATH_HELP}.",
            required=True,
            min_length=1,
            widget="path",
        ),
    )

    def fingerprint(self, params: Mapping[str, Any]) -> Any:
        return files_fingerprint(params["path"])

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        files = expand_paths(params.get("path") or "")
        if not files:
            return {"out": None}
        import pyarrow.parquet as pq

        schema = pq.read_schema(files[0])
        return {"out": TableSchema.from_arrow(schema)}

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        # A snapshot of the source files goes into the run store by a plain file copy (no
        # Spark job): later changes to the source cannot alter this run's output.
        files = _input_files(ctx, self.id, params["path"])
        source = Path(params["path"])
        folder = ctx.table_dir("out")
        import pyarrow.parquet as pq

        for i, f in enumerate(files):
            try:
                pq.read_schema(f)
            except Exception as exc:
                raise OperatorError(
                    f'{ctx.where}: "{f}" is not a readable Parquet file ({exc}). '
                    "Point 'path' at Parquet files only."
                ) from exc
            # a folder keeps its layout (hive-style partition folders stay meaningful)
            rel = f.relative_to(source) if source.is_dir() else Path(f"part-{i:05d}-{f.name}")
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, folder / rel)
        ctx.log(f"copied {len(files)} Parquet file(s) from {params['path']}")
        return {"out": folder}


# -- exports ------------------------------------------------------------------------------------
class _Export(Operator):
    category = "Data"
    inputs = (Port("in", "table", "The table to write."),)
    outputs = ()
    suffix = ""

    def external_outputs(self, params: Mapping[str, Any]) -> list[str]:
        return [params["path"]]

    def _target(self, ctx: RunContext, params: Mapping[str, Any]) -> tuple[Path, bool]:
        ctx.check_path(params["path"], f"The 'path' parameter of {ctx.where}")
        target = Path(params["path"])
        single = target.suffix.lower() == self.suffix
        if target.exists() and not params["overwrite"]:
            raise OperatorError(
                f'{ctx.where} will not replace "{target}": it exists and '
                "'overwrite' is off. Turn 'overwrite' on or choose another path."
            )
        if target.exists() and single and target.is_dir():
            raise OperatorError(
                f'{ctx.where}: "{target}" is a folder; a path ending in '
                f"{self.suffix} names one file. Remove the folder or change the path."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        return target, single

    def _write(
        self, df: Any, ctx: RunContext, params: Mapping[str, Any], fmt: str, options: dict[str, Any]
    ) -> None:
        target, single = self._target(ctx, params)
        # a temporary name carrying the run id: a killed run's staging folder is found and removed
        staging = temp_sibling(target, "staging")
        try:
            writer = (df.coalesce(1) if single else df).write.mode("overwrite").options(**options)
            try:
                writer.format(fmt).save(str(staging))
            except Exception as exc:
                raise OperatorError(
                    f"{ctx.where} could not write {target}: {spark_error_message(exc)}"
                ) from exc
            if single:
                parts = sorted(staging.glob(f"part-*{self.suffix}*")) or sorted(
                    staging.glob("part-*")
                )
                if not parts:  # an empty table: Spark wrote no part file
                    _write_empty(staging / f"part-00000{self.suffix}", df, fmt, options)
                    parts = [staging / f"part-00000{self.suffix}"]
                os.replace(parts[0], target)
            else:
                for marker in staging.glob(".*.crc"):
                    marker.unlink()
                replace_path(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        ctx.log(f"wrote {target}")

    def infer_schema(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, TableSchema | None]:
        return {}


def _write_empty(path: Path, df: Any, fmt: str, options: dict[str, Any]) -> None:
    if fmt == "csv":
        sep = options.get("sep", ",")
        path.write_text(sep.join(df.columns) + "\n", encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(df.limit(0).toPandas()), path)


class ExportCsv(_Export):
    id = "export.csv"
    version = 1
    title = "Export CSV"
    description = (
        "Writes the table as CSV with a header. A path ending in .csv is one file; any other "
        "path is a folder of part files. Written under a temporary name, then renamed."
    )
    suffix = ".csv"
    params = (
        Param(
            "path",
            "string",
            f"Target file (.csv) or folder; {_PATH_HELP}.",
            required=True,
            min_length=1,
            widget="path",
        ),
        Param("delimiter", "string", "Field separator.", default=",", min_length=1, widget="text"),
        Param(
            "overwrite",
            "boolean",
            "Replace the target if it exists.",
            default=True,
            widget="checkbox",
        ),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        sep = "\t" if params["delimiter"] == "\\t" else params["delimiter"]
        self._write(inputs["in"], ctx, params, "csv", {"header": "true", "sep": sep, "escape": '"'})
        return {}


class ExportParquet(_Export):
    id = "export.parquet"
    version = 1
    title = "Export Parquet"
    description = (
        "Writes the table as Parquet. A path ending in .parquet is one file; any other path "
        "is a folder of part files. Written under a temporary name, then renamed."
    )
    suffix = ".parquet"
    params = (
        Param(
            "path",
            "string",
            f"Target file (.parquet) or folder; {_PATH_HELP}.",
            required=True,
            min_length=1,
            widget="path",
        ),
        Param(
            "overwrite",
            "boolean",
            "Replace the target if it exists.",
            default=True,
            widget="checkbox",
        ),
    )

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        self._write(inputs["in"], ctx, params, "parquet", {})
        return {}
