"""The scoring service as the studio sees it: found on its port or started as a separate
`seer serve` process (serving stays lean and outlives a studio restart), plus the try-it form's
fields and the call it makes."""

from __future__ import annotations

import atexit
import json
import socket
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
    """This workspace's `seer serve`: used on its port only when its /healthz names this
    workspace; when another workspace's service (or any other program) holds the port, the
    studio starts its own on a free port and says so in ``status()``."""

    def __init__(self, ws: Workspace, host: str = "127.0.0.1", port: int = 8600):
        self.ws = ws
        self.host = host
        self.port = port
        self.requested_port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._workspace_id: str | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def workspace_id(self) -> str:
        if self._workspace_id is None:
            self._workspace_id = self.ws.store.workspace_id()
        return self._workspace_id

    def _answer(self) -> str | None:
        """Who answers on the port: "ours", "foreign" (another workspace's service or another
        program), or None (nothing listens)."""
        try:
            r = httpx.get(f"{self.url}/healthz", timeout=0.5)
        except httpx.HTTPError:
            return None
        try:
            ws_id = r.json().get("workspace") if r.status_code == 200 else None
        except (ValueError, AttributeError):
            ws_id = None
        return "ours" if ws_id == self.workspace_id else "foreign"

    def healthy(self) -> bool:
        """True when this workspace's service answers on the port."""
        return self._answer() == "ours"

    def _moved(self) -> str:
        if self.port == self.requested_port:
            return ""
        return (
            f"; port {self.requested_port} is taken by another workspace's scoring service or "
            f"another program, so this studio's service runs on port {self.port} (choose the "
            "port with --serve-port)"
        )

    def status(self) -> str:
        answer = self._answer()
        if answer == "ours":
            return "running" + self._moved()
        if answer == "foreign":
            return (
                f"not running: port {self.port} is taken by another workspace's scoring service "
                "or another program (this studio starts its own on a free port on the first "
                "publish or try-it; or choose a port with --serve-port)"
            )
        if self.proc is not None and self.proc.poll() is not None:
            return (
                f"stopped (exit code {self.proc.returncode}; see {self.ws.logs_dir / 'serve.log'})"
            )
        return "not running (starts on the first publish or try-it)"

    def ensure_started(self, wait: float = 10.0) -> bool:
        """Find this workspace's service on its port, or start `seer serve` for it (on a free
        port when the port is held by someone else)."""
        with self._lock:
            answer = self._answer()
            if answer == "ours":
                return True
            if answer == "foreign" or _port_taken(self.host, self.port):
                if self.proc is not None and self.proc.poll() is None:
                    self.stop()
                self.port = _free_port(self.host)
            if self.proc is None or self.proc.poll() is not None:
                self.ws.logs_dir.mkdir(parents=True, exist_ok=True)
                logf = open(self.ws.logs_dir / "serve.log", "ab")  # noqa: SIM115 - the child owns it
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import sys; from seer_cli.main import main; sys.exit(main(sys.argv[1:]))",
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
                if self._answer() == "ours":
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
        return answer_view(name, data)


def warning_text(w: Any) -> str:
    """One warning of the service's answer as a sentence (a string, or a record naming the
    field, the value and the values the model knows)."""
    if not isinstance(w, dict):
        return str(w)
    field = w.get("field") or w.get("column") or w.get("name")
    known = w.get("known") or w.get("known_values") or w.get("values")
    text = w.get("message") or w.get("detail")
    if text:  # the service's own sentence already names the field and the known values
        return str(text)
    value = w.get("value")
    seen = f'"{value}" is' if value is not None else "The value is"
    text = f"{seen} not a category the model saw for {field}" if field else str(w)
    if known and isinstance(known, list):
        shown = ", ".join(str(k) for k in known[:12]) + (", …" if len(known) > 12 else "")
        text = f"{text}. Known values: {shown}"
    return text


def answer_warnings(data: dict[str, Any]) -> list[str]:
    """The warnings of an answer: top-level, or on the prediction itself."""
    found: list[Any] = list(data.get("warnings") or [])
    for p in data.get("predictions") or []:
        if isinstance(p, dict):
            found += list(p.get("warnings") or [])
    return [warning_text(w) for w in found]


def answer_view(name: str, data: dict[str, Any]) -> Any:
    """The service's answer to a try-it: score, prediction, any warnings, the raw answer."""
    p = data["predictions"][0]
    warnings = [
        html.Div(["⚠ ", text], className="try-warning", role="alert")
        for text in answer_warnings(data)
    ]
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
            *warnings,
            html.Pre(json.dumps(data, indent=1), className="code-view"),
        ]
    )


def _port_taken(host: str, port: int) -> bool:
    """True when some program listens on host:port."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


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
    if not manifest.get("baseline"):
        manifest = {**manifest, "baseline": training_baseline(ws, manifest)}
    return fields_from_manifest(manifest)


def _links_into(flow: dict[str, Any], node_id: str) -> list[tuple[str, str]]:
    return [
        (lk["from"]["node"], lk["from"]["port"])
        for lk in flow.get("links", [])
        if lk.get("to", {}).get("node") == node_id
    ]


def training_baseline(ws: Workspace, manifest: dict[str, Any]) -> dict[str, Any] | None:
    """For a model trained on features made upstream (its bundle keeps no statistics of the raw
    columns), the statistics of the raw table those features came from: in the run that trained
    it, the nearest table upstream of the model's node that has every input column."""
    from engine.stats import table_stats

    lineage = manifest.get("lineage") or {}
    run = ws.store.get_run(lineage.get("run_id") or "") if lineage.get("node_id") else None
    if not run:
        return None
    try:
        flow = run["flow_json"]
        flow = json.loads(flow) if isinstance(flow, str) else flow
    except ValueError:
        return None
    wanted = {f["name"] for f in manifest.get("input_schema") or []}
    queue, seen = [lineage["node_id"]], set()
    while queue:
        node = queue.pop(0)
        for src, port in _links_into(flow, node):
            if src in seen:
                continue
            seen.add(src)
            out = (ws.store.outputs_of(run["run_id"], src) or {}).get(port) or {}
            if out.get("type") == "table" and out.get("path") and not out.get("transient"):
                try:
                    stats = table_stats(out["path"])
                except (OSError, ValueError):
                    stats = None
                if stats and wanted <= {c["name"] for c in stats["columns"]}:
                    return stats
            queue.append(src)
    return None


def _example(kind: str, t: str, st: dict[str, Any]) -> Any:
    """A typical training value: the mean of a number (rounded as its type), else the most
    frequent value."""
    if kind == "number" and st.get("mean") is not None:
        mean = float(st["mean"])
        return round(mean, 2) if t in ("float", "double") else int(round(mean))
    if st.get("top"):
        return st["top"][0]["value"]
    return 0 if kind == "number" else None


def fields_from_manifest(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields a try-it form asks for: the model's inputs but never its label, each
    pre-filled with a typical value from the training data's statistics (the baseline); a
    category column lists the values the model was trained on (``known``)."""
    from engine.serving.scoring import known_categories

    baseline = {c["name"]: c for c in ((manifest.get("baseline") or {}).get("columns") or [])}
    label = manifest.get("label")
    try:
        known = known_categories(manifest)
    except (KeyError, TypeError):  # a bundle that keeps no category lists
        known = {}
    out = []
    for f in manifest.get("input_schema") or []:
        if f["name"] == label:
            continue
        t = f.get("type", "string")
        kind = (
            "number"
            if t in NUMERIC or t.startswith("decimal")
            else ("bool" if t == "boolean" else "text")
        )
        example = _example(kind, t, baseline.get(f["name"], {}))
        field = {"name": f["name"], "type": t, "kind": kind, "example": example}
        if kind == "text" and known.get(f["name"]):
            field["known"] = known[f["name"]]  # offered as a pick list in the form
        out.append(field)
    return out
