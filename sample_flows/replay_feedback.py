"""Replay rows through the scoring service and send each row's true outcome back as feedback:
what production traffic and its later outcomes look like, for the loop walkthrough in
docs/serving.md.

    python sample_flows/replay_feedback.py ROWS.csv --model credit_risk --label default \
        [--url http://127.0.0.1:8600] [--batch 20] [--order COLUMN] [--skip N] [--limit N]

Rows are sent in the file's order (or sorted by ``--order``), ``--batch`` instances per
request; the label column is left out of the request and sent to ``:feedback`` with the
prediction's id. Prints the served versions and the number of rows sent.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from typing import Any

import httpx


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value


def replay(
    url: str, model: str, rows: list[dict[str, Any]], label: str, batch: int = 20
) -> Counter[int]:
    """Score ``rows`` through the service and feed their ``label`` back; the versions seen."""
    seen: Counter[int] = Counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for start in range(0, len(rows), batch):
            part = rows[start : start + batch]
            instances = [{k: _jsonable(v) for k, v in r.items() if k != label} for r in part]
            answer = client.post(f"/v1/models/{model}:predict", json={"instances": instances})
            answer.raise_for_status()
            body = answer.json()
            seen[body["version"]] += len(part)
            for pred, row in zip(body["predictions"], part, strict=True):
                sent = client.post(
                    f"/v1/models/{model}:feedback", json={"id": pred["id"], "label": row[label]}
                )
                sent.raise_for_status()
    return seen


def main() -> None:
    import pyarrow.csv as pacsv

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", help="a CSV file with the model's input columns and the label")
    ap.add_argument("--model", required=True)
    ap.add_argument("--label", required=True, help="the column holding the true outcome")
    ap.add_argument("--url", default="http://127.0.0.1:8600")
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--order", help="send the rows sorted by this column (e.g. a date)")
    ap.add_argument("--skip", type=int, default=0, help="leave out the first N rows")
    ap.add_argument("--limit", type=int, help="send at most N rows")
    args = ap.parse_args()
    rows = pacsv.read_csv(args.rows).to_pylist()
    if args.order:
        rows.sort(key=lambda r: (r[args.order] is None, r[args.order]))
    rows = rows[args.skip :][: args.limit]
    seen = replay(args.url, args.model, rows, args.label, args.batch)
    print(json.dumps({"rows": len(rows), "versions": dict(seen)}))


if __name__ == "__main__":
    main()
