"""RunContext: what an operator's ``run`` may use while it executes one node."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.atomic import temp_sibling
from engine.dataroots import DataRoots
from engine.errors import OperatorError


class Cancelled(Exception):
    """Raised inside a node when its run is cancelled."""


class RunContext:
    def __init__(
        self,
        *,
        run_id: str,
        node_id: str,
        op_id: str,
        node_dir: Path,
        flow_dir: Path,
        spark_factory: Callable[[], Any],
        log: Callable[[str, str], None],
        cancel_event: threading.Event,
        input_lineage: dict[str, dict[str, dict[str, Any]]] | None = None,
        resolve: Callable[[dict[str, Any]], Path] | None = None,
        publish: Callable[[Path, str, str], int] | None = None,
        workspace_dir: Path | None = None,
        registered: Callable[[str, int | None], tuple[int, Path]] | None = None,
        input_paths: dict[str, Path] | None = None,
        statistics: Callable[[Path], dict[str, Any]] | None = None,
        pass_through: bool = False,
        data_roots: DataRoots | None = None,
    ):
        self.run_id = run_id
        self.node_id = node_id
        self.op_id = op_id
        self.flow_dir = flow_dir
        self._node_dir = node_dir
        self._spark_factory = spark_factory
        self._log = log
        self._cancel = cancel_event
        self._temps: list[Path] = []
        self.artifacts: dict[str, Path] = {}
        self.lineage: dict[str, dict[str, Any]] = {}
        self.metrics: dict[str, Any] | None = None
        self._input_lineage = input_lineage or {}
        self._resolve = resolve
        self._publish = publish
        self.workspace_dir = workspace_dir
        self._registered = registered
        self._input_paths = input_paths or {}
        self._statistics = statistics
        #: return output tables as DataFrames: the runner hands them on unsaved
        self.pass_through = pass_through
        self._data_roots = data_roots or DataRoots.for_flow(flow_dir, workspace_dir)

    @property
    def spark(self) -> Any:
        """The SparkSession (started on first use), with this run's job tag set."""
        return self._spark_factory()

    def log(self, message: str, level: str = "info") -> None:
        """A line for the run log (CLI progress, the studio's log panel, the store)."""
        self._log(level, message)

    def check_cancelled(self) -> None:
        """Call between steps of long driver-side work; raises Cancelled when asked to stop."""
        if self._cancel.is_set():
            raise Cancelled("cancelled")

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_path(self, path: str | Path, what: str) -> None:
        """Raise OperatorError unless ``path`` lies inside the data roots (checked when the
        flow was validated; checked again here, on the files actually read or written, so a
        symbolic link or a glob match cannot lead outside)."""
        sentence = self._data_roots.problem(str(path), what)
        if sentence:
            raise OperatorError(sentence)

    def scratch_dir(self) -> Path:
        """A private temporary folder for this node, removed when the node ends."""
        self._node_dir.mkdir(parents=True, exist_ok=True)
        p = temp_sibling(self._node_dir / "scratch", "tmp")
        p.mkdir(parents=True)
        self._temps.append(p)
        return p

    def table_dir(self, port: str) -> Path:
        """An empty folder to write a table output into as Parquet files yourself (e.g. with
        pyarrow, or one Spark job that writes several outputs); return this path as the
        port's value and the runner moves it into the run store as it is."""
        return self.artifact_dir(port)

    def artifact_dir(self, port: str) -> Path:
        """An empty folder to write a model or transform output into; the runner moves it
        into the run store when the node succeeds (and discards it when it fails)."""
        if port not in self.artifacts:
            self._node_dir.mkdir(parents=True, exist_ok=True)
            p = temp_sibling(self._node_dir / port, "tmp")
            p.mkdir(parents=True)
            self.artifacts[port] = p
            self._temps.append(p)
        return self.artifacts[port]

    def set_lineage(self, port: str, **info: Any) -> None:
        """Record what produced an output table's feature columns or scores, e.g.
        ``set_lineage("out", model={"run_id": ..., "node_id": ...})``."""
        self.lineage.setdefault(port, {}).update(info)

    def set_metrics(self, metrics: dict[str, Any]) -> None:
        """The scalar metrics shown for this node (`seer run --json`, the studio)."""
        self.metrics = metrics

    def input_lineage(self, port: str, link: str | None = None) -> dict[str, Any]:
        """What produced an input table's feature columns or scores: e.g.
        ``{"transform": {"run_id", "node_id", "port"}}`` for a features.extract output. For a
        port with several links, ``link`` names one (as the inputs dict does); default: the first."""
        links = self._input_lineage.get(port) or {}
        if link is None:
            return dict(next(iter(links.values()), {}))
        return dict(links.get(link) or {})

    def artifact_path(self, ref: dict[str, Any]) -> Path:
        """The folder of an artifact a lineage reference points to."""
        if self._resolve is None:
            raise LookupError("artifact references cannot be resolved outside a run")
        return self._resolve(ref)

    def publish_model(self, bundle: Path, name: str, description: str = "") -> int:
        """Register a model bundle as the next version of ``name``; returns the version."""
        if self._publish is None:
            raise LookupError("models can only be published from a run")
        return self._publish(bundle, name, description)

    def input_statistics(self, port: str) -> dict[str, Any] | None:
        """Column statistics of an input table (computed once, stored with it): the training
        baseline a model bundle keeps for drift checks."""
        path = self._input_paths.get(port)
        if path is None or self._statistics is None:
            return None
        return self._statistics(path)

    def registered_model(self, name: str, version: int | None = None) -> tuple[int, Path]:
        """A published model's (version, bundle folder): the given version, else production."""
        if self._registered is None:
            raise LookupError("the registry is only reachable from a run")
        return self._registered(name, version)

    def cleanup(self) -> None:
        for p in self._temps:
            if p.exists():
                shutil.rmtree(p, ignore_errors=True)
        self._temps.clear()
