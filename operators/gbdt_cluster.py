"""LightGBM across Spark executors: LightGBM's own socket-based data-parallel training, launched
inside a Spark barrier stage with one LightGBM machine per partition. Used by train.gbdt for
data that should not be brought to the driver; the result is the same model text (and so the
same bundle) as a driver-side fit."""

from __future__ import annotations

from typing import Any

from engine.opapi import OperatorError, gbdt_columns


def train_on_cluster(
    df: Any,
    y_col: Any,
    spec: list[dict[str, Any]],
    lgb_params: dict[str, Any],
    rounds: int,
    workers: int,
    where: str,
) -> tuple[str, int]:
    """Train on the rows of `df` spread over `workers` barrier tasks; returns (model text,
    machines used). Rows go to partitions by a hash of their content and are sorted within
    them, so the same data gives the same model on any cluster of the same size."""
    from pyspark.sql import functions as F

    names = [c["name"] for c in spec]
    cat_idx = [i for i, c in enumerate(spec) if c["categorical"]]
    data = df.select(y_col.cast("double").alias("__y"), *gbdt_columns(spec))
    key = F.xxhash64(F.lit(31), *[F.col(c) for c in data.columns])
    data = data.repartition(workers, key).sortWithinPartitions(key, *data.columns)
    params = {
        **lgb_params,
        "tree_learner": "data",
        "num_machines": workers,
        "pre_partition": True,
        "time_out": 5,
    }

    def task(batches: Any) -> Any:
        import socket

        import lightgbm as lgb
        import numpy as np
        import pyarrow as pa
        from pyspark import BarrierTaskContext

        ctx = BarrierTaskContext.get()
        table = pa.Table.from_batches(list(batches)) if batches is not None else None
        rows = 0 if table is None else table.num_rows
        host = ctx.getTaskInfos()[ctx.partitionId()].address.split(":")[0]
        with socket.socket() as s:  # a free port for this machine's LightGBM listener
            s.bind(("", 0))
            port = s.getsockname()[1]
        peers = ctx.allGather(f"{host}:{port}:{rows}")
        if any(p.rsplit(":", 1)[1] == "0" for p in peers):
            raise RuntimeError("a LightGBM machine received no rows")
        machines = ",".join(p.rsplit(":", 1)[0] for p in peers)
        assert table is not None
        x = np.column_stack(
            [table.column(n).to_numpy(zero_copy_only=False).astype(float) for n in names]
        )
        y = table.column("__y").to_numpy(zero_copy_only=False)
        booster = lgb.train(
            {**params, "machines": machines, "local_listen_port": port},
            lgb.Dataset(x, y, feature_name=names, categorical_feature=cat_idx),
            num_boost_round=rounds,
        )
        text = booster.model_to_string() if ctx.partitionId() == 0 else None
        ctx.barrier()
        if text is not None:
            yield pa.RecordBatch.from_pylist([{"model": text}])

    try:
        out = data.mapInArrow(task, "model string", barrier=True).collect()
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OperatorError(
            f"{where} could not train on the cluster ({workers} LightGBM machines): {msg}. The barrier "
            "stage needs that many free task slots at once and executors that can reach each other "
            "on free TCP ports; set 'engine' to driver for data that fits the driver."
        ) from exc
    if len(out) != 1:
        raise OperatorError(
            f"{where}: the cluster training returned {len(out)} models instead of one."
        )
    # the training machines' addresses are no part of the model (and would make two trainings
    # of the same data differ)
    text = "\n".join(
        line
        for line in out[0]["model"].split("\n")
        if not line.startswith(("[machines:", "[local_listen_port:"))
    )
    return text, workers
