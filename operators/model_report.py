"""report.model: the model documentation of a run, as one self-contained HTML page.

The structure follows what a model validation (SR 11-7) expects: purpose and data, variables
(IV and bins), the model (points table or coefficients, importance), performance on every
scored sample (AUC, KS, Gini, ROC, gains, lift, calibration), stability (PSI of the score and of
each input between the first sample and the others), limitations, and lineage.
"""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from engine.opapi import (
    Operator,
    OperatorError,
    Param,
    Port,
    RunContext,
    binary_report,
    read_manifest,
)
from operators.modeling import check_collect, col
from operators.report_html import bar_chart, esc, fmt, line_chart, page, table

PSI_READING = ((0.1, "stable"), (0.25, "some shift"), (math.inf, "major shift"))
PSI_EPS = 1e-4
DATE_TYPES = ("date", "timestamp", "timestamp_ntz")
PACKAGES = ("seer-studio", "pyspark", "lightgbm", "scikit-learn", "optbinning", "numpy")


def psi(reference: np.ndarray, other: np.ndarray) -> float:
    """Population stability index of two distributions given as counts over the same bins."""
    e = np.maximum(reference / max(reference.sum(), 1), PSI_EPS)
    a = np.maximum(other / max(other.sum(), 1), PSI_EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_reading(value: float) -> str:
    return next(word for limit, word in PSI_READING if value < limit)


def binned_counts(ref: np.ndarray, others: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Counts of the reference and of each other sample over the reference's bins: deciles of
    numbers (plus a missing bin), or the 20 most frequent values (plus other and missing)."""
    if ref.dtype.kind == "f":
        finite = ref[np.isfinite(ref)]
        edges = np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))) if len(finite) else []

        def counts(x: np.ndarray) -> np.ndarray:
            miss = ~np.isfinite(x)
            k = np.searchsorted(edges, x[~miss], side="right")
            return np.append(np.bincount(k, minlength=len(edges) + 1), miss.sum())

    else:
        values, n = np.unique(ref[ref != None].astype(str), return_counts=True)  # noqa: E711
        top = list(values[np.argsort(-n, kind="stable")][:20])

        def counts(x: np.ndarray) -> np.ndarray:
            text = np.array(["\0missing" if v is None else str(v) for v in x], dtype=object)
            out = [int((text == t).sum()) for t in top]
            missing = int((text == "\0missing").sum())
            return np.array([*out, len(x) - sum(out) - missing, missing])

    return [counts(ref), *[counts(o) for o in others]]


class ModelReport(Operator):
    id = "report.model"
    compares_training_scores = True  # train and test performance side by side
    version = 1
    category = "Evaluation"
    title = "Model report"
    description = (
        "The model documentation of a run as one self-contained HTML page (no script, nothing "
        "fetched): purpose and data (rows, period, label rate), variables with their IV and "
        "bins, the model (points table or coefficients, importance), performance on every "
        "scored sample (AUC, KS, Gini, ROC, gains, lift, calibration), stability (PSI of the "
        "score and of each input between the first sample and the others), limitations and "
        "lineage. Link the model and the predict outputs to document, the development sample "
        "first. The page is in the report output (`html`) and, with 'path', written to a file."
    )
    inputs = (
        Port("model", "model", "The model bundle to document."),
        Port(
            "scored",
            "table",
            "Outputs of predict with the model: the development sample first, then "
            "validation or test samples.",
            multiple=True,
        ),
    )
    outputs = (Port("report", "report", "The HTML page (`html`) and its figures."),)
    params = (
        Param(
            "title",
            "string",
            "The report's title (not set: the model's type and label).",
            nullable=True,
            widget="text",
            title="Title",
        ),
        Param(
            "purpose",
            "string",
            "What the model is for, in a sentence or two.",
            default="",
            widget="text",
            title="Purpose",
        ),
        Param(
            "limitations",
            "string",
            "Known limitations to state (the report adds the ones it can see).",
            default="",
            widget="text",
            title="Limitations",
        ),
        Param(
            "path",
            "string",
            "Also write the page to this .html file (not set: only in the report output).",
            nullable=True,
            widget="path",
            title="HTML file",
        ),
    )

    def check_columns(
        self, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> list[tuple[str, str]]:
        return []

    def infer_schema(self, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def external_outputs(self, params: Mapping[str, Any]) -> list[str]:
        return [params["path"]] if params.get("path") else []

    def run(
        self, ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
    ) -> dict[str, Any]:
        where = f'{self.id} (node "{ctx.node_id}")'
        folder: Path = inputs["model"]
        manifest = read_manifest(folder)
        samples = {
            name: _collect(ctx, df, manifest, name, where) for name, df in inputs["scored"].items()
        }
        figures = _figures(manifest, samples)
        title = params.get("title") or (
            f"{manifest['model_type']} model of {manifest['label']} — model documentation"
        )
        sections = [
            ("Purpose and data", _data_section(params, manifest, samples, figures)),
            ("Variables", _variables_section(manifest)),
            ("The model", _model_section(manifest)),
            ("Performance", _performance_section(figures)),
            ("Stability", _stability_section(figures)),
            ("Limitations", _limitations_section(params, manifest, figures)),
            ("Lineage", _lineage_section(ctx, manifest, folder)),
        ]
        text = page(title, sections)
        if params.get("path"):
            _write_html(ctx, params["path"], text)
        ctx.set_metrics(
            {
                **{f"{n}_auc": f["auc"] for n, f in figures["performance"].items()},
                "score_psi": max(figures["score_psi"].values(), default=None),
            }
        )
        return {"report": {"title": title, "html": text, "figures": _scalars(figures)}}


def _write_html(ctx: RunContext, path: str, text: str) -> None:
    target = Path(path)
    ctx.check_path(target, "the report file")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    ctx.log(f"wrote {target}")


def _collect(
    ctx: RunContext, df: Any, manifest: Mapping[str, Any], name: str, where: str
) -> dict[str, Any]:
    """Label (0/1), score and the model's input columns of one scored sample, on the driver."""
    from pyspark.sql import functions as F

    label, positive = manifest["label"], manifest.get("positive", 1)
    inputs = [c["name"] for c in manifest["input_schema"] if c["name"] != label]
    missing = [c for c in (label, "score", *inputs) if c not in df.columns]
    if missing:
        raise OperatorError(
            f'{where}: the input "{name}" has no column {", ".join(missing)}; link predict '
            "outputs of this model (they keep the input columns and add the score)."
        )
    rows = df.count()
    check_collect(ctx, where, rows, 16 + 16 * len(inputs), "the rows scored")
    types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    numeric = [c for c in inputs if types[c] not in ("string", "boolean", *DATE_TYPES)]
    table = df.select(
        (col(label).cast("string") == F.lit(str(positive))).cast("int").alias("__y"),
        col("score").cast("double").alias("__s"),
        *[col(c).cast("double").alias(c) if c in numeric else col(c) for c in inputs],
    ).toArrow()
    dates = [c for c in df.columns if types[c] in DATE_TYPES]
    period = None
    if dates:
        r = df.agg(F.min(col(dates[0])), F.max(col(dates[0]))).first()
        period = (dates[0], str(r[0])[:10], str(r[1])[:10])
    columns = {
        c: (
            np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=float)
            if c in numeric
            else np.array(table.column(c).to_pylist(), dtype=object)
        )
        for c in inputs
    }
    return {
        "y": table.column("__y").to_numpy(zero_copy_only=False).astype(np.int8),
        "s": table.column("__s").to_numpy(zero_copy_only=False).astype(float),
        "columns": columns,
        "period": period,
    }


def _figures(manifest: Mapping[str, Any], samples: Mapping[str, Any]) -> dict[str, Any]:
    perf = {}
    threshold = float(manifest.get("threshold", 0.5))
    for name, s in samples.items():
        rep = binary_report(s["y"], s["s"], threshold)
        rep["gini"] = 2 * rep["auc"] - 1
        perf[name] = rep
    names = list(samples)
    ref = samples[names[0]]
    score_psi, var_psi = {}, {}
    for other in names[1:]:
        a, b = binned_counts(ref["s"], [samples[other]["s"]])
        score_psi[other] = psi(a, b)
        var_psi[other] = {
            c: psi(*binned_counts(ref["columns"][c], [samples[other]["columns"][c]]))
            for c in ref["columns"]
        }
    return {
        "performance": perf,
        "score_psi": score_psi,
        "variable_psi": var_psi,
        "samples": samples,
    }


def _scalars(figures: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("rows", "positives", "auc", "ks", "gini", "logloss")
    return {
        "performance": {n: {k: r[k] for k in keep} for n, r in figures["performance"].items()},
        "score_psi": figures["score_psi"],
        "variable_psi": figures["variable_psi"],
    }


def _data_section(
    params: Mapping[str, Any],
    manifest: Mapping[str, Any],
    samples: Mapping[str, Any],
    figures: Mapping[str, Any],
) -> str:
    rows = []
    for name, s in samples.items():
        period = s["period"]
        rows.append(
            [
                name,
                len(s["y"]),
                int(s["y"].sum()),
                float(s["y"].mean()) if len(s["y"]) else None,
                f"{period[1]} to {period[2]} ({period[0]})" if period else "",
            ]
        )
    purpose = esc(params.get("purpose") or "Not stated.")
    return (
        f"<p>{purpose}</p><p>Model type <b>{esc(manifest['model_type'])}</b>, predicting "
        f"<b>{esc(manifest['label'])}</b> = {esc(manifest.get('positive'))} (the event). "
        f"Threshold {fmt(manifest.get('threshold'))}.</p>"
        + table(["sample", "rows", "events", "event rate", "period"], rows)
        + '<p class="muted">The first sample is the development sample: stability is measured '
        "against it.</p>"
    )


def _variables_section(manifest: Mapping[str, Any]) -> str:
    features = (manifest.get("transform") or {}).get("features") or []
    woe = [f for f in features if f.get("kind") == "woe"]
    if not woe:
        inputs = [[c["name"], c["type"]] for c in manifest["input_schema"]]
        return table(["input column", "type"], inputs)
    points = {}
    for r in (manifest.get("scorecard") or {}).get("points", []):
        points[(r["variable"], r["bin"])] = r["points"]
    out = [
        table(
            ["variable", "IV", "strength", "trend", "bins from"],
            [
                [
                    f["column"],
                    f["fitted"]["iv"],
                    f["fitted"]["strength"],
                    f["fitted"]["trend"],
                    f["fitted"]["source"],
                ]
                for f in sorted(woe, key=lambda f: -f["fitted"]["iv"])
            ],
        )  # fmt: skip
    ]
    for f in woe:
        bins = f["fitted"]["table"]
        out.append(f"<h3>{esc(f['column'])} (IV {f['fitted']['iv']:.3f})</h3>")
        rows = [
            [b["bin"], b["count"], b["event_rate"], b["woe"], points.get((f["column"], b["bin"]))]
            for b in bins
        ]
        out.append(
            '<div class="charts">'
            + table(["bin", "rows", "event rate", "WOE", "points"], rows)
            + bar_chart("WOE per bin", [b["bin"] for b in bins], [b["woe"] for b in bins])
            + "</div>"
        )
    return "".join(out)


def _model_section(manifest: Mapping[str, Any]) -> str:
    card = manifest.get("scorecard")
    if card:
        head = (
            f"<p>Logistic regression on WOE features, scaled to points: {fmt(card['base_score'], 0)} "
            f"points at odds of {fmt(card['base_odds'], 0)}:1, {fmt(card['pdo'], 0)} points to "
            f"double the odds (factor {card['factor']:.4f}, offset {card['offset']:.4f}). "
            f"Intercept {card['intercept']:.6f}.</p>"
        )
        coefs = table(
            ["variable", "coefficient", "IV"],
            [[v["column"], v["coefficient"], v["iv"]] for v in card["variables"]],
        )
        pts = table(
            ["variable", "bin", "WOE", "points", "rows", "event rate"],
            [
                [r["variable"], r["bin"], r["woe"], r["points"], r["count"], r["event_rate"]]
                for r in card["points"]
            ],
        )
        return head + coefs + "<h3>Points table</h3>" + pts
    params = manifest.get("params") or {}
    out = "<p>Parameters: " + esc(", ".join(f"{k} = {v}" for k, v in params.items())) + "</p>"
    importance = manifest.get("feature_importance") or []
    if importance:
        out += table(
            ["feature", "gain", "splits"],
            [[d["feature"], d["gain"], d["split"]] for d in importance[:30]],
        )
    if manifest.get("nonzero_weights") is not None:
        out += f"<p>{manifest['nonzero_weights']:,} non-zero weights in the hashed space.</p>"
    return out


def _performance_section(figures: Mapping[str, Any]) -> str:
    perf = figures["performance"]
    rows = [
        [n, r["rows"], r["auc"], r["ks"], r["gini"], r["logloss"], r["average_precision"]]
        for n, r in perf.items()
    ]
    roc = {n: (r["charts"]["roc"]["fpr"], r["charts"]["roc"]["tpr"]) for n, r in perf.items()}
    gains = {
        n: ([0] + [d["decile"] / 10 for d in r["charts"]["deciles"]],
            [0] + [d["cumulative_gain"] for d in r["charts"]["deciles"]])
        for n, r in perf.items()
    }  # fmt: skip
    last_name, last = list(perf.items())[-1]
    lift = bar_chart(
        f"Lift by decile ({last_name})",
        [f"decile {d['decile']}" for d in last["charts"]["deciles"]],
        [d["lift"] for d in last["charts"]["deciles"]],
    )
    calibration = table(
        ["score bin", "rows", "mean score", "observed rate"],
        [
            [f"{c['bin'] / 10:.1f}-{(c['bin'] + 1) / 10:.1f}", c["rows"], c["mean_score"],
             c["observed_rate"]]
            for c in last["charts"]["calibration"]
        ],
    )  # fmt: skip
    return (
        table(["sample", "rows", "AUC", "KS", "Gini", "log-loss", "avg precision"], rows)
        + '<div class="charts">'
        + line_chart("ROC", roc, diagonal=True)
        + line_chart("Cumulative gain", gains, diagonal=True)
        + lift
        + "</div>"
        + f"<h3>Calibration ({esc(last_name)})</h3>"
        + calibration
    )


def _stability_section(figures: Mapping[str, Any]) -> str:
    if not figures["score_psi"]:
        return "<p>Only one sample is linked: link a second one (a test or a later period) to "
        "measure stability.</p>"
    out = table(
        ["sample", "score PSI", "reading"],
        [[n, v, psi_reading(v)] for n, v in figures["score_psi"].items()],
    )
    for name, by_var in figures["variable_psi"].items():
        out += f"<h3>Inputs: {esc(name)} against the development sample</h3>"
        out += table(
            ["input", "PSI", "reading"],
            [[c, v, psi_reading(v)] for c, v in sorted(by_var.items(), key=lambda kv: -kv[1])],
        )
    return (
        out + '<p class="muted">PSI reading: stable < 0.1 <= some shift < 0.25 <= major shift.</p>'
    )


def _limitations_section(
    params: Mapping[str, Any], manifest: Mapping[str, Any], figures: Mapping[str, Any]
) -> str:
    notes = [params["limitations"]] if params.get("limitations") else []
    for name, r in figures["performance"].items():
        if r["positives"] < 100:
            notes.append(
                f"The sample {name} holds only {r['positives']} events: its figures are uncertain."
            )
    for name, v in figures["score_psi"].items():
        if v >= 0.1:
            notes.append(f"The score distribution of {name} moved ({psi_reading(v)}, PSI {v:.3f}).")
    if manifest.get("model_type") == "scorecard":
        notes.append(
            "Variables were selected on every training row; the bundle's validation figures are "
            "slightly optimistic. Figures on a separate test sample above are not."
        )
    notes.append("Binary classification only; the model is as good as its training data's reach.")
    return "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"


def _lineage_section(ctx: RunContext, manifest: Mapping[str, Any], folder: Path) -> str:
    lineage = manifest.get("lineage") or {}
    versions = []
    for p in PACKAGES:
        try:
            versions.append([p, metadata.version(p)])
        except metadata.PackageNotFoundError:
            continue
    versions.append(["python", platform.python_version()])
    rows = [
        ["model trained in run", lineage.get("run_id", "")],
        ["by node", lineage.get("node_id", "")],
        ["model bundle", str(folder)],
        ["report made in run", ctx.run_id],
        ["by node", ctx.node_id],
    ]
    return table(["", ""], rows) + table(["package", "version"], versions)
