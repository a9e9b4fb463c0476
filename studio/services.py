"""The scoring service as the studio sees it: found on its port or started as a separate
`seer serve` process (serving stays lean and outlives a studio restart), plus the try-it form's
fields and the call it makes."""

from __future__ import annotations

import atexit
import json
import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from dash import html

from engine.workspace import Workspace

NUMERIC = ("tinyint", "smallint", "int", "bigint", "float", "double", "integer", "long")


class ScoringService:
    def __init__(self, ws: Workspace, host: str = "127.0.0.1", port: int = 8600):
        self.ws = ws
        self.host = host
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def healthy(self) -> bool:
        try:
            r = httpx.get(f"{self.url}/healthz", timeout=0.5)
            return r.status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> str:
        if self.healthy():
            return "running"
        if self.proc is not None and self.proc.poll() is not None:
            return (
                f"stopped (exit code {self.proc.returncode}; see {self.ws.logs_dir / 'serve.log'})"
            )
        return "not running (starts on the first publish or try-it)"

    def ensure_started(self, wait: float = 10.0) -> bool:
        """Find the service on its port, or start `seer serve` for this workspace."""
        with self._lock:
            if self.healthy():
                return True
            if self.proc is None or self.proc.poll() is not None:
                self.ws.logs_dir.mkdir(parents=True, exist_ok=True)
                logf = open(self.ws.logs_dir / "serve.log", "ab")  # noqa: SIM115 - the child owns it
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import sys; from engine.cli import main; sys.exit(main(sys.argv[1:]))",
                        "serve",
                        "--host",
                        self.host,
                        "--port",
                        str(self.port),
                        "--workspace",
                        str(self.ws.root),
                    ],
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                atexit.register(self.stop)
            deadline = time.time() + wait
            while time.time() < deadline:
                if self.healthy():
                    return True
                if self.proc.poll() is not None:
                    return False
                time.sleep(0.1)
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def try_predict(self, name: str, record: dict[str, Any]) -> Any:
        """Score one record through the live service; the answer (or its error) as HTML."""
        if not self.ensure_started():
            return html.Div(
                f"The scoring service did not start; see {self.ws.logs_dir / 'serve.log'}.",
                className="inline-error",
            )
        body = {"instances": [record]}
        try:
            r = httpx.post(f"{self.url}/v1/models/{name}:predict", json=body, timeout=10)
        except httpx.HTTPError as exc:
            return html.Div(f"The scoring service did not answer: {exc}", className="inline-error")
        try:
            data = r.json()
        except ValueError:
            data = {"error": r.text[:500]}
        if r.status_code != 200:
            msg = data.get("detail") or data.get("error") or data
            return html.Div(f"{r.status_code}: {msg}", className="inline-error")
        p = data["predictions"][0]
        return html.Div(
            [
                html.Div(
                    [
                        html.Span("score ", className="muted"),
                        html.B(f"{p['score']:.6f}", id={"type": "try-score", "name": name}),
                        html.Span("  prediction ", className="muted"),
                        html.B(str(p["prediction"])),
                        html.Span(f"  model {data['model']} v{data['version']}", className="muted"),
                    ]
                ),
                html.Pre(json.dumps(data, indent=1), className="code-view"),
            ]
        )


def try_it_fields(ws: Workspace, name: str) -> list[dict[str, Any]]:
    """The production version's input columns with an example value from its training data."""
    from engine.model_registry import ModelRegistry, RegistryError

    reg = ModelRegistry(ws)
    try:
        route = reg.route(name)
        if route is None:
            return []
        path = reg.path(name, route.production)
        manifest = json.loads((path / "manifest.json").read_text("utf-8"))
    except (RegistryError, OSError, ValueError):
        return []
    baseline = {c["name"]: c for c in ((manifest.get("baseline") or {}).get("columns") or [])}
    out = []
    for f in manifest.get("input_schema") or []:
        t = f.get("type", "string")
        kind = (
            "number"
            if t in NUMERIC or t.startswith("decimal")
            else ("bool" if t == "boolean" else "text")
        )
        st = baseline.get(f["name"], {})
        example: Any = None
        if kind == "number" and st.get("mean") is not None:
            example = (
                round(float(st["mean"]), 2)
                if t in ("float", "double")
                else int(round(float(st["mean"])))
            )
        elif st.get("top"):
            example = st["top"][0]["value"]
        elif kind == "number":
            example = 0
        out.append({"name": f["name"], "type": t, "kind": kind, "example": example})
    return out
