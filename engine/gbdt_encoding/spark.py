"""The batch half of the GBDT column encoding: Spark expressions (scoring with predict, training
on the cluster), and the same encoding done on the driver over the raw columns collected once
as Arrow (driver-side training and validation).

Gives what ``engine/gbdt_encoding/online.py`` gives row by row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Spec = list[dict[str, Any]]


def _col(name: str) -> Any:
    from pyspark.sql import functions as F

    return F.col(f"`{name}`")


def gbdt_columns(spec: Spec) -> list[Any]:
    """Spark expressions for LightGBM's input: numbers as double, categories as their code
    (position in the fitted category list), missing or unseen values as null (NaN)."""
    from pyspark.sql import functions as F

    exprs = []
    for c in spec:
        if c["categorical"]:
            cats = F.array(*[F.lit(v) for v in c["categories"]])
            pos = F.array_position(cats, _col(c["name"]).cast("string"))
            exprs.append(F.when(pos > 0, (pos - 1).cast("double")).alias(c["name"]))
        else:
            exprs.append(_col(c["name"]).cast("double").alias(c["name"]))
    return exprs


def collect_gbdt_columns(df: Any, y_col: Any, spec: Spec, row_key: Any = None) -> Any:
    """The 0/1 label (as ``__y``) and the raw feature columns (numbers as double, categories as
    text) as an Arrow table on the driver, in whatever order Spark returns them; with
    ``row_key`` (a bigint column expression), also that column as ``__row``."""
    exprs = [
        _col(c["name"]).cast("string" if c["categorical"] else "double").alias(c["name"])
        for c in spec
    ]
    if row_key is not None:
        exprs.append(row_key.alias("__row"))
    return df.select(y_col.alias("__y"), *exprs).toArrow()


def encode_gbdt_table(table: Any, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """A table from collect_gbdt_columns as LightGBM's input and label: numbers as they are,
    categories as their position in the fitted category list, missing or unseen values as NaN
    (what gbdt_columns computes in Spark)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    x = np.empty((table.num_rows, len(spec)), dtype=np.float64)
    for j, c in enumerate(spec):
        column = table.column(c["name"])
        if c["categorical"]:
            column = pc.index_in(column, value_set=pa.array(c["categories"], pa.string()))
        x[:, j] = column.to_numpy(zero_copy_only=False).astype(np.float64)
    return x, table.column("__y").to_numpy().astype(np.int8)
