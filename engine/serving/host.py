"""The loaded versions of every deployed model, refreshed from the registry without a restart.

A new version is loaded fully, then swapped in with one assignment, so a request in flight sees
the old routing table or the new one, never half of each.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

from engine.model_registry import ModelRegistry, RegistryError, check_version
from engine.serving.scoring import LoadedModel, RequestError

log = logging.getLogger(__name__)


class ModelHost:
    def __init__(self, registry: ModelRegistry):
        self.registry = registry
        self._loaded: dict[tuple[str, int], LoadedModel] = {}
        self.routes: dict[str, dict[str, Any]] = {}
        self.generation = -1
        self.refresh()

    def refresh(self) -> None:
        gen = self.registry.generation()
        if gen == self.generation:
            return
        routes: dict[str, dict[str, Any]] = {}
        loaded = dict(self._loaded)
        for route in self.registry.routes():
            wanted = [v for v in (route.production, route.canary, route.shadow) if v is not None]
            for v in wanted:
                if (route.name, v) not in loaded:
                    try:
                        loaded[(route.name, v)] = LoadedModel(
                            route.name, v, self.registry.path(route.name, v)
                        )
                    except Exception:
                        log.exception("cannot load %s version %s", route.name, v)
            if route.production is not None and (route.name, route.production) in loaded:
                routes[route.name] = {
                    "production": loaded[(route.name, route.production)],
                    "canary": loaded.get((route.name, route.canary)) if route.canary else None,
                    "percent": route.canary_percent,
                    "shadow": loaded.get((route.name, route.shadow)) if route.shadow else None,
                }
        self._loaded = loaded
        self.routes = routes  # one assignment: requests see the old or the new table, never half
        self.generation = gen

    def deployed(self, name: str) -> bool:
        return name in self.routes

    def any_version(self, name: str) -> LoadedModel:
        """A loaded version of a deployed model (its production one)."""
        route = self.routes.get(name)
        if route is None:
            raise RequestError(404, self.unknown(name))
        return route["production"]

    def unknown(self, name: str) -> str:
        known = ", ".join(sorted(self.routes)) or "none"
        return f'No deployed model named "{name}" (models: {known}).'

    def version(self, name: str, version_text: str) -> LoadedModel:
        if not self.deployed(name):
            raise RequestError(404, self.unknown(name))
        try:
            version = check_version(version_text)
        except RegistryError as exc:
            raise RequestError(404, str(exc)) from None
        model = self._loaded.get((name, version))
        if model is None:
            try:
                path = self.registry.path(name, version)
            except RegistryError as exc:
                raise RequestError(404, str(exc)) from None
            model = LoadedModel(name, version, path)
            self._loaded[(name, version)] = model
        return model

    def shadow(self, name: str) -> LoadedModel | None:
        """The version ``name``'s requests are mirrored to, if any."""
        route = self.routes.get(name)
        return route.get("shadow") if route is not None else None

    def pick(self, name: str, request_id: str) -> LoadedModel:
        route = self.routes.get(name)
        if route is None:
            raise RequestError(404, self.unknown(name))
        canary = route["canary"]
        if canary is not None and zlib.crc32(request_id.encode()) % 10_000 < route["percent"] * 100:
            return canary
        return route["production"]

    def production_version(self, name: str) -> int | None:
        route = self.routes.get(name)
        return route["production"].version if route is not None else None
