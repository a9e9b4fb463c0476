"""Finds operators through the ``seer.operators`` entry-point group.

The engine never imports an operator module by name: the package's own operators and
third-party operator packs register the same way (see pyproject.toml).
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from engine.spec import Operator

ENTRY_POINT_GROUP = "seer.operators"
log = logging.getLogger(__name__)


class Registry:
    def __init__(self, operators: dict[str, Operator], load_errors: dict[str, str]):
        self._ops = operators
        self.load_errors = load_errors

    def get(self, op_id: str) -> Operator | None:
        return self._ops.get(op_id)

    def __contains__(self, op_id: str) -> bool:
        return op_id in self._ops

    def ids(self) -> list[str]:
        return sorted(self._ops)

    def all(self) -> list[Operator]:
        return [self._ops[k] for k in self.ids()]


_lock = threading.Lock()
_registry: Registry | None = None


def load_registry(refresh: bool = False) -> Registry:
    """The operators installed in this environment (loaded once per process)."""
    global _registry
    with _lock:
        if _registry is None or refresh:
            ops: dict[str, Operator] = {}
            errors: dict[str, str] = {}
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    cls = ep.load()
                    op = cls()
                except Exception as exc:  # a broken pack must not take the others down
                    errors[ep.name] = f"{type(exc).__name__}: {exc}"
                    log.warning("operator %s could not be loaded: %s", ep.name, exc)
                    continue
                if not isinstance(op, Operator) or op.id != ep.name:
                    errors[ep.name] = (
                        f"entry point {ep.value} is not an Operator with id {ep.name!r}"
                    )
                    continue
                problem = op.spec_problem()
                if problem:
                    errors[ep.name] = problem
                    log.warning("operator %s could not be loaded: %s", ep.name, problem)
                    continue
                ops[op.id] = op
            _registry = Registry(ops, errors)
        return _registry
