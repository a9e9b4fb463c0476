"""Prometheus metrics of the scoring service, in the text exposition format (version 0.0.4).

Label values come only from a closed set: the names of deployed models (anything else a client
puts in a URL is counted under ``model="_unknown"``), version numbers the service loaded, and
HTTP status codes. So the page stays small whatever clients send, and every label value is
escaped as the format requires (backslash, double quote, newline) in case a name ever holds one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

UNKNOWN_MODEL = "_unknown"
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**pairs: str) -> str:
    return ",".join(f'{k}="{escape_label(str(v))}"' for k, v in pairs.items())


class Metrics:
    """Request counters and latency histograms by model, version and status."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.busy_rejections = 0
        self.lock = threading.Lock()

    def observe(self, model: str, version: str, status: int, seconds: float) -> None:
        """``model`` must be a deployed model's name or UNKNOWN_MODEL (the caller decides)."""
        with self.lock:
            self.requests[(model, version, status)] += 1
            buckets = self.latency.setdefault((model, version), [0.0] * (len(LATENCY_BUCKETS) + 2))
            for i, b in enumerate(LATENCY_BUCKETS):
                if seconds <= b:
                    buckets[i] += 1
            buckets[-2] += 1  # count
            buckets[-1] += seconds  # sum

    def render(self, extra: Iterable[str] = ()) -> str:
        lines = [
            "# HELP seer_requests_total Scoring requests by model, version and HTTP status.",
            "# TYPE seer_requests_total counter",
        ]
        with self.lock:
            for (m, v, s), n in sorted(self.requests.items()):
                lines.append(
                    f"seer_requests_total{{{_labels(model=m, version=v, status=str(s))}}} {n}"
                )
            lines += [
                "# HELP seer_request_seconds Scoring latency.",
                "# TYPE seer_request_seconds histogram",
            ]
            for (m, v), b in sorted(self.latency.items()):
                mv = _labels(model=m, version=v)
                for i, bound in enumerate(LATENCY_BUCKETS):
                    lines.append(f'seer_request_seconds_bucket{{{mv},le="{bound}"}} {int(b[i])}')
                lines.append(f'seer_request_seconds_bucket{{{mv},le="+Inf"}} {int(b[-2])}')
                lines.append(f"seer_request_seconds_count{{{mv}}} {int(b[-2])}")
                lines.append(f"seer_request_seconds_sum{{{mv}}} {b[-1]:.6f}")
            busy = self.busy_rejections
        lines += [
            "# HELP seer_busy_rejections_total Large batches refused with 503 because the worker "
            "threads and their queue were full.",
            "# TYPE seer_busy_rejections_total counter",
            f"seer_busy_rejections_total {busy}",
            *extra,
        ]
        return "\n".join(lines) + "\n"


def gauge(name: str, help_text: str, value: float, kind: str = "gauge") -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value:g}"]
