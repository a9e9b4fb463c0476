"""import.serving_log reads whatever the service logged, including records a crash cut short,
a full disk truncated or a client filled with odd types: they never break the loop's input."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from .conftest import run_flow, write_flow

pytestmark = pytest.mark.spark


def test_odd_and_broken_log_records_do_not_break_the_serving_log(
    spark, workspace, tmp_path: Path
) -> None:
    folder = workspace.root / "logs" / "serving" / "risk"
    folder.mkdir(parents=True)
    predictions = [
        {
            "request_id": "r1",
            "version": 1,
            "ts": 1.0,
            "instances": [{"age": 31, "city": "Oslo"}, {"age": 45, "city": "Bergen"}],
            "predictions": [{"score": 0.2, "prediction": 0}, {"score": 0.9, "prediction": 1}],
        },
        # the same column as a string once, and an extra field of a mixed type
        {
            "request_id": "r2",
            "version": 2,
            "ts": 2.0,
            "instances": [{"age": "52", "city": "Oslo", "note": 7}],
            "predictions": [{"score": 0.5, "prediction": 1}],
        },
        {
            "request_id": "r3",
            "version": 2,
            "ts": 3.0,
            "instances": [{"age": 29.5, "city": None, "note": "x"}],
            "predictions": [{"score": 0.1, "prediction": 0}],
        },
    ]
    lines = [json.dumps(p) for p in predictions]
    lines += ['{"request_id": "r4", "version": 2, "ts": 4.0, "instan', "[1, 2]", '{"oops": 1}']
    (folder / "predictions-2026-12-07.jsonl").write_text("\n".join(lines) + "\n")
    feedback = [
        {"id": "r1/0", "label": 0},
        {"id": "r1/1", "label": 1},
        {"id": "r2/0", "label": 1},
        {"id": "r3/0", "label": 0},
        {"nolabel": True},
    ]
    (folder / "feedback-2026-12-07.jsonl").write_text(
        "\n".join(json.dumps(f) for f in feedback) + '\n{"id": "r9/0", "lab'
    )
    path = write_flow(
        tmp_path, [{"id": "log", "op": "import.serving_log", "params": {"model": "risk"}}], []
    )
    result = run_flow(path, workspace)
    node = result.nodes["log"]
    assert node.status == "succeeded", node.error
    df = pq.read_table(node.outputs["out"]["path"]).to_pandas().sort_values("prediction_id")
    assert list(df["prediction_id"]) == ["r1/0", "r1/1", "r2/0", "r3/0"]
    assert list(df["age"]) == ["31", "45", "52", "29.5"]  # the column's values disagreed: text
    assert list(df["label"]) == [0, 1, 1, 0]
    logs = [e.message for e in result.events if getattr(e, "kind", "") == "log"]
    assert any("skipped 5 malformed log records" in m for m in logs), logs


def test_holdout_cut_and_shadow_scores_are_left_out(spark, workspace, tmp_path: Path) -> None:
    folder = workspace.root / "logs" / "serving" / "risk"
    folder.mkdir(parents=True)
    records = [
        {"request_id": f"r{i}", "version": 1, "ts": 1_800_000_000.0 + i, "instances": [{"a": i}]}
        for i in range(4)
    ]
    records.append({**records[3], "version": 2, "shadow": True})  # the shadow's mirror of r3
    for r in records:
        r["predictions"] = [{"score": 0.5, "prediction": 1}]
    (folder / "predictions-1.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    (folder / "feedback-1.jsonl").write_text(
        "\n".join(json.dumps({"id": f"r{i}/0", "label": i % 2}) for i in range(4))
    )

    def read(**params: str) -> tuple[list[str], list[str]]:
        path = write_flow(
            tmp_path,
            [{"id": "log", "op": "import.serving_log", "params": {"model": "risk", **params}}],
            [],
        )
        result = run_flow(path, workspace)
        node = result.nodes["log"]
        assert node.status == "succeeded", node.error
        ids = sorted(pq.read_table(node.outputs["out"]["path"]).column("prediction_id").to_pylist())
        return ids, [e.message for e in result.events if getattr(e, "kind", "") == "log"]

    ids, _ = read()
    assert ids == ["r0/0", "r1/0", "r2/0", "r3/0"]  # the shadow's scores are not rows
    # 1_800_000_002 is 2027-01-15T08:00:02Z: r2 and r3 were logged at or after it
    ids, logs = read(holdout_after="2027-01-15T08:00:02Z")
    assert ids == ["r0/0", "r1/0"]
    assert any(m.startswith("held out 2 predictions") for m in logs), logs
    bad = write_flow(
        tmp_path,
        [
            {
                "id": "log",
                "op": "import.serving_log",
                "params": {"model": "risk", "holdout_after": "soon"},
            }
        ],
        [],
        name="bad",
    )
    from engine.flow import FlowError

    with pytest.raises(FlowError, match="ISO 8601"):
        run_flow(bad, workspace)
