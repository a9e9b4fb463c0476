"""RunContext: what an operator's ``run`` may use while it executes one node."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from engine.atomic import temp_sibling
from engine.dataroots import DataRoots
from engine.errors import OperatorError, node_phrase


class Cancelled(Exception):
    """Raised inside a node when its run is cancelled."""


@dataclass(frozen=True)
class NodePlace:
    """Where a node runs: its run, its id and operator, its folders and data roots."""

    run_id: str
    node_id: str
    op_id: str
    node_dir: Path
    flow_dir: Path
    workspace_dir: Path | None = None
    data_roots: DataRoots | None = None


@dataclass(frozen=True)
class NodeInputs:
    """What the runner knows about a node's inputs beyond their values."""

    #: what produced each input table, by port and link name
    lineage: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: the stored file of each input port (for column statistics)
    paths: dict[str, Path] = field(default_factory=dict)
    #: return output tables as DataFrames: the runner hands them on unsaved
    pass_through: bool = False


class RunServices(Protocol):
    """What the run offers a node beyond its inputs (the runner implements it per node)."""

    def spark(self) -> Any: ...
    def log(self, level: str, message: str) -> None: ...
    def cancelled(self) -> bool: ...
    def resolve(self, ref: dict[str, Any]) -> Path: ...
    def publish(self, bundle: Path, name: str, description: str) -> int: ...
    def registered(self, name: str, version: int | None) -> tuple[int, Path]: ...
    def statistics(self, path: Path) -> dict[str, Any]: ...
    def holdout(self, model: str) -> str | None: ...


class RunContext:
    """The node's place in the run, the run's services and what is known of its inputs."""

    def __init__(self, place: NodePlace, services: RunServices, inputs: NodeInputs | None = None):
        self.place = place
        self.run_id = place.run_id
        self.node_id = place.node_id
        self.op_id = place.op_id
        self.flow_dir = place.flow_dir
        self.workspace_dir = place.workspace_dir
        self._node_dir = place.node_dir
        self._services = services
        self._inputs = inputs or NodeInputs()
        self._temps: list[Path] = []
        self.artifacts: dict[str, Path] = {}
        self.lineage: dict[str, dict[str, Any]] = {}
        self.metrics: dict[str, Any] | None = None
        #: return output tables as DataFrames: the runner hands them on unsaved
        self.pass_through = self._inputs.pass_through
        self._data_roots = place.data_roots or DataRoots.for_flow(
            place.flow_dir, place.workspace_dir
        )

    @property
    def where(self) -> str:
        """How sentences name this node: ``split (node "holdout")``."""
        return node_phrase(self.op_id, self.node_id)

    @property
    def spark(self) -> Any:
        """The SparkSession (started on first use), with this run's job tag set."""
        return self._services.spark()

    def log(self, message: str, level: str = "info") -> None:
        """A line for the run log (CLI progress, the studio's log panel, the store)."""
        self._services.log(level, message)

    def check_cancelled(self) -> None:
        """Call between steps of long driver-side work; raises Cancelled when asked to stop."""
        if self._services.cancelled():
            raise Cancelled("cancelled")

    @property
    def cancelled(self) -> bool:
        return self._services.cancelled()

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
        links = self._inputs.lineage.get(port) or {}
        if link is None:
            return dict(next(iter(links.values()), {}))
        return dict(links.get(link) or {})

    def artifact_path(self, ref: dict[str, Any]) -> Path:
        """The folder of an artifact a lineage reference points to."""
        return self._services.resolve(ref)

    def publish_model(self, bundle: Path, name: str, description: str = "") -> int:
        """Register a model bundle as the next version of ``name``; returns the version."""
        return self._services.publish(bundle, name, description)

    def input_statistics(self, port: str) -> dict[str, Any] | None:
        """Column statistics of an input table (computed once, stored with it): the training
        baseline a model bundle keeps for drift checks."""
        path = self._inputs.paths.get(port)
        return None if path is None else self._services.statistics(path)

    def registered_model(self, name: str, version: int | None = None) -> tuple[int, Path]:
        """A published model's (version, bundle folder): the given version, else production."""
        return self._services.registered(name, version)

    def serving_log_holdout(self, model: str) -> str | None:
        """The cut a retraining policy set for ``model``'s serving log in this run (ISO 8601
        time; logged predictions from then on are held out), or None."""
        holdout = getattr(self._services, "holdout", None)
        return holdout(model) if holdout is not None else None

    def cleanup(self) -> None:
        for p in self._temps:
            if p.exists():
                shutil.rmtree(p, ignore_errors=True)
        self._temps.clear()
