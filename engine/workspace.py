"""The workspace folder: flows/, runs/<id>/, models/, logs/, seer.db (see DESIGN.md)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from engine.dataroots import DEFAULT_WORKSPACE
from engine.leases import process_tag, recover
from engine.store import Store

__all__ = ["DEFAULT_WORKSPACE", "Workspace"]


class Workspace:
    def __init__(self, root: str | Path | None = None, store_url: str | None = None):
        root = root or os.environ.get("SEER_WORKSPACE") or DEFAULT_WORKSPACE
        self.root = Path(root).expanduser().resolve()
        self._store_url = store_url or os.environ.get("SEER_STORE_URL")

    @property
    def flows_dir(self) -> Path:
        return self.root / "flows"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def spark_local_dir(self) -> Path:
        """Spark's scratch space (shuffle and spill files), one folder per process: Spark
        removes it when its JVM ends, and opening the workspace removes the folders of
        processes that died without that (engine/leases.py)."""
        return self.root / "tmp" / "spark" / process_tag()

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    @cached_property
    def store(self) -> Store:
        """The workspace store. Opening it marks runs whose process died ``interrupted`` and
        removes what they left half-written (engine/leases.py)."""
        self.root.mkdir(parents=True, exist_ok=True)
        store = Store(self._store_url or (self.root / "seer.db"))
        recover(store, self.runs_dir, self.root / "tmp" / "spark")
        return store

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
