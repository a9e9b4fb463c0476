"""What every callback works with (the workspace, its flows folder, data roots, runs and
scoring service) and how a plain module-level function becomes a Dash callback.

Callbacks are plain functions ``fn(studio, [trigger,] *values)``: a test calls them with a
``Studio`` and a ``Trigger`` it builds, no browser nor Dash request needed. ``server_callback``
registers one on an app, reading the trigger from Dash's context at request time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dash
from dash import ClientsideFunction, ctx

from engine.dataroots import DataRoots
from engine.workspace import Workspace
from studio.model import FlowFolder
from studio.runs import RunManager
from studio.services import ScoringService

NAMESPACE = "seer"  # window.dash_clientside.seer in assets/15_seer_callbacks.js


@dataclass
class Studio:
    ws: Workspace
    flows: FlowFolder
    roots: DataRoots
    runs: RunManager
    scoring: ScoringService

    @classmethod
    def open(
        cls,
        ws: Workspace,
        master: str | None = None,
        serve_port: int = 8600,
        data_roots: tuple[str, ...] = (),
    ) -> Studio:
        # the studio's flows live in the workspace's flows/ folder: one set of roots for all
        roots = DataRoots.for_flow(ws.flows_dir, ws.root, data_roots)
        return cls(
            ws=ws,
            flows=FlowFolder(ws.flows_dir),
            roots=roots,
            runs=RunManager(ws, master, roots),
            scoring=ScoringService(ws, port=serve_port),
        )


@dataclass(frozen=True)
class Trigger:
    """What set a callback off: the component id, the new value, every changed prop id."""

    id: Any = None
    value: Any = None
    prop_ids: tuple[str, ...] = field(default=())

    @classmethod
    def current(cls) -> Trigger:
        value = ctx.triggered[0]["value"] if ctx.triggered else None
        return cls(ctx.triggered_id, value, tuple(ctx.triggered_prop_ids))

    @property
    def pattern(self) -> dict[str, Any] | None:
        """The id when a pattern-matching component fired with a real click or value."""
        return self.id if isinstance(self.id, dict) and self.value else None

    @property
    def empty_pattern(self) -> bool:
        """A pattern-matching component that appeared (n_clicks 0) rather than was clicked."""
        return isinstance(self.id, dict) and not self.value

    def is_type(self, kind: str) -> bool:
        return isinstance(self.id, dict) and self.id.get("type") == kind


def server_callback(
    app: dash.Dash,
    studio: Studio,
    fn: Callable[..., Any],
    *dependencies: Any,
    trigger: bool = False,
    **options: Any,
) -> None:
    """Register ``fn(studio, [Trigger,] *values)`` as a callback of ``app``, under fn's name
    (studio/policy.py names each callback's action by it)."""

    if trigger:

        def callback(*values: Any) -> Any:
            return fn(studio, Trigger.current(), *values)
    else:

        def callback(*values: Any) -> Any:
            return fn(studio, *values)

    callback.__name__ = fn.__name__
    callback.__qualname__ = fn.__qualname__
    callback.__doc__ = fn.__doc__
    app.callback(*dependencies, **options)(callback)


def clientside_callback(app: dash.Dash, name: str, *dependencies: Any, **options: Any) -> None:
    """Register the browser function ``window.dash_clientside.seer[name]``."""
    app.clientside_callback(ClientsideFunction(NAMESPACE, name), *dependencies, **options)
