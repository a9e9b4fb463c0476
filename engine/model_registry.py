"""The model registry: named models with numbered versions, stages, canary routes.

Publishing copies a bundle into ``models/<name>/<version>/`` in the workspace and records it in
the store with its lineage (flow, run, node), metrics and input schema. The first version of a
name becomes production at once; later ones are staging until promoted. Every change bumps a
generation counter, which the scoring service watches to pick changes up without a restart.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.atomic import remove_path, temp_sibling
from engine.bundle import read_manifest
from engine.workspace import Workspace

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_VERSION = 2**63 - 1  # what the store's INTEGER column holds

DDL = [
    """CREATE TABLE IF NOT EXISTS model_versions (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        stage TEXT NOT NULL,
        path TEXT NOT NULL,
        model_type TEXT,
        flow_name TEXT,
        run_id TEXT,
        node_id TEXT,
        metrics_json TEXT,
        input_schema_json TEXT,
        description TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (name, version)
    )""",
    """CREATE TABLE IF NOT EXISTS model_routes (
        name TEXT PRIMARY KEY,
        production INTEGER,
        previous INTEGER,
        canary INTEGER,
        canary_percent DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # a version every request is mirrored to (scores logged, never returned)
    """CREATE TABLE IF NOT EXISTS model_shadows (
        name TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # the production versions a promotion replaced, newest on top: rollback pops them
    """CREATE TABLE IF NOT EXISTS model_history (
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, seq)
    )""",
]


class RegistryError(ValueError):
    """A registry request that cannot be done; the message says why and what to do."""


def check_version(value: object) -> int:
    """A version number as given by a user (CLI argument, URL): a whole number from 1 to 2^63-1."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[+-]?[0-9]{1,30}", text):
        raise RegistryError(
            f"Version {str(value)[:40]!r} is not a version number: versions are whole numbers "
            "from 1 (see `seer models show NAME`)."
        )
    number = int(text)
    if not 1 <= number <= MAX_VERSION:
        raise RegistryError(
            f"Version {number} does not exist: versions are whole numbers from 1 to {MAX_VERSION}."
        )
    return number


@dataclass(frozen=True)
class Route:
    name: str
    production: int | None
    canary: int | None
    canary_percent: float
    shadow: int | None = None  # every request mirrored to it, its scores logged only


class ModelRegistry:
    def __init__(self, workspace: Workspace):
        self.ws = workspace
        self.store = workspace.store
        with self.store.transaction() as conn:
            for ddl in DDL:
                conn.execute(ddl)
            conn.execute(
                self.store._sql(
                    "INSERT INTO meta (key, value) VALUES ('registry_generation', '0') ON CONFLICT (key) DO NOTHING"
                )
            )

    # -- reading -----------------------------------------------------------------------------
    def generation(self) -> int:
        rows = self.store.query("SELECT value FROM meta WHERE key = 'registry_generation'")
        return int(rows[0]["value"]) if rows else 0

    def versions(self, name: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT * FROM model_versions WHERE name = ? ORDER BY version", (name,)
        )
        for r in rows:
            r["metrics"] = json.loads(r.pop("metrics_json") or "{}")
            r["input_schema"] = json.loads(r.pop("input_schema_json") or "[]")
        return rows

    _ROUTES = (
        "SELECT r.name, r.production, r.canary, r.canary_percent, s.version AS shadow "
        "FROM model_routes r LEFT JOIN model_shadows s ON s.name = r.name"
    )

    @staticmethod
    def _route(r: dict[str, Any]) -> Route:
        return Route(
            r["name"], r["production"], r["canary"], float(r["canary_percent"] or 0), r["shadow"]
        )

    def route(self, name: str) -> Route | None:
        rows = self.store.query(f"{self._ROUTES} WHERE r.name = ?", (name,))
        return self._route(rows[0]) if rows else None

    def routes(self) -> list[Route]:
        return [self._route(r) for r in self.store.query(f"{self._ROUTES} ORDER BY r.name")]

    def list_models(self) -> list[dict[str, Any]]:
        out = []
        for route in self.routes():
            versions = self.versions(route.name)
            out.append(
                {
                    "name": route.name,
                    "production": route.production,
                    "canary": route.canary,
                    "canary_percent": route.canary_percent,
                    "shadow": route.shadow,
                    "versions": len(versions),
                    "latest": versions[-1]["version"] if versions else None,
                }
            )
        return out

    def show(self, name: str) -> dict[str, Any]:
        route = self._route_or_fail(name)
        return {
            "name": name,
            "production": route.production,
            "canary": route.canary,
            "canary_percent": route.canary_percent,
            "shadow": route.shadow,
            "versions": self.versions(name),
        }

    def path(self, name: str, version: int) -> Path:
        version = check_version(version)
        rows = self.store.query(
            "SELECT path FROM model_versions WHERE name = ? AND version = ?", (name, version)
        )
        if not rows:
            raise RegistryError(self._no_version(name, version))
        stored = Path(rows[0]["path"])
        # a workspace that was moved or copied (an exported serving folder in an image) keeps
        # its bundles under its own models folder
        local = self.ws.models_dir / name / str(version)
        return stored if stored.exists() or not local.exists() else local

    # -- changing ----------------------------------------------------------------------------
    def publish(
        self,
        bundle: str | Path,
        name: str,
        *,
        flow_name: str | None = None,
        run_id: str | None = None,
        node_id: str | None = None,
        description: str = "",
    ) -> int:
        """Register a bundle as the next version of ``name``; returns the version number."""
        if not NAME.fullmatch(name or ""):
            raise RegistryError(
                f'"{name}" cannot name a model: use 1-64 letters, digits, "_", "-" or ".", starting with a letter '
                "or digit."
            )
        manifest = read_manifest(bundle)
        staging = temp_sibling(self.ws.models_dir / name / "new", "publish")
        staging.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(bundle, staging)
        try:
            with self.store.transaction() as conn:
                sql = self.store._sql
                row = conn.execute(
                    sql("SELECT MAX(version) AS v FROM model_versions WHERE name = ?"), (name,)
                ).fetchone()
                current = (row["v"] if isinstance(row, dict) else row[0]) if row else None
                version = int(current or 0) + 1
                target = self.ws.models_dir / name / str(version)
                remove_path(target)  # a leftover of an interrupted publish
                staging.rename(target)
                first = version == 1
                conn.execute(
                    sql(
                        "INSERT INTO model_versions (name, version, stage, path, model_type, flow_name, run_id, "
                        "node_id, metrics_json, input_schema_json, description, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        name,
                        version,
                        "production" if first else "staging",
                        str(target),
                        manifest.get("model_type"),
                        flow_name,
                        run_id,
                        node_id,
                        json.dumps(manifest.get("metrics", {})),
                        json.dumps(manifest.get("input_schema", [])),
                        description,
                        time.time(),
                    ),
                )
                if first:
                    conn.execute(
                        sql(
                            "INSERT INTO model_routes (name, production, previous, canary, canary_percent, updated_at) "
                            "VALUES (?, ?, NULL, NULL, 0, ?)"
                        ),
                        (name, version, time.time()),
                    )
                self._bump(conn)
        finally:
            remove_path(staging)
        return version

    def promote(self, name: str, version: int) -> None:
        self._set_production(name, version, remember=True)

    def _set_production(
        self, name: str, version: int, remember: bool, pop: int | None = None
    ) -> None:
        """Put ``version`` in production; ``remember`` pushes the replaced version on the
        rollback stack (a promotion does); ``pop`` removes the stack from that entry up (a
        rollback does)."""
        route = self._route_or_fail(name)
        version = check_version(version)
        self.path(name, version)  # exists?
        if route.production == version:
            raise RegistryError(f"Version {version} of {name} is already in production.")
        with self.store.transaction() as conn:
            sql = self.store._sql
            if remember and route.production is not None:
                row = conn.execute(
                    sql("SELECT MAX(seq) AS s FROM model_history WHERE name = ?"), (name,)
                ).fetchone()
                top = (row["s"] if isinstance(row, dict) else row[0]) if row else None
                conn.execute(
                    sql("INSERT INTO model_history (name, seq, version) VALUES (?, ?, ?)"),
                    (name, int(top or 0) + 1, route.production),
                )
            if pop is not None:
                conn.execute(
                    sql("DELETE FROM model_history WHERE name = ? AND seq >= ?"), (name, pop)
                )
            conn.execute(
                sql(
                    "UPDATE model_versions SET stage = 'archived' WHERE name = ? AND stage = 'production'"
                ),
                (name,),
            )
            conn.execute(
                sql(
                    "UPDATE model_versions SET stage = 'production' WHERE name = ? AND version = ?"
                ),
                (name, version),
            )
            conn.execute(  # the version promoted is no longer anyone's shadow
                sql("DELETE FROM model_shadows WHERE name = ? AND version = ?"), (name, version)
            )
            canary = None if route.canary == version else route.canary
            conn.execute(
                sql(
                    "UPDATE model_routes SET production = ?, previous = ?, canary = ?, canary_percent = ?, updated_at = ? "
                    "WHERE name = ?"
                ),
                (
                    version,
                    route.production if remember else None,
                    canary,
                    route.canary_percent if canary else 0,
                    time.time(),
                    name,
                ),
            )
            self._bump(conn)

    def rollback(self, name: str) -> int:
        """Put the previous production version back; returns it. The history is a stack: a
        second rollback goes further back, never forward to the version just rolled back."""
        route = self._route_or_fail(name)
        history = self.store.query(
            "SELECT seq, version FROM model_history WHERE name = ? ORDER BY seq DESC", (name,)
        )
        for entry in history:
            if entry["version"] != route.production:
                self._set_production(name, entry["version"], remember=False, pop=entry["seq"])
                return int(entry["version"])
        rows = self.store.query("SELECT previous FROM model_routes WHERE name = ?", (name,))
        previous = rows[0]["previous"]  # a workspace from before the stack: its one version
        if history or previous is None or previous == route.production:
            raise RegistryError(f"{name} has no earlier production version to roll back to.")
        self._set_production(name, previous, remember=False)
        return int(previous)

    def canary(self, name: str, version: int, percent: float) -> None:
        route = self._route_or_fail(name)
        version = check_version(version)
        self.path(name, version)
        if not 0 <= percent <= 100:  # also refuses NaN
            raise RegistryError(f"--percent must be between 0 and 100. Got {percent:g}.")
        if version == route.production and percent > 0:
            raise RegistryError(
                f"Version {version} of {name} is in production already; a canary is another version."
            )
        stage = next(v["stage"] for v in self.versions(name) if v["version"] == version)
        if stage != "staging" and percent > 0:
            raise RegistryError(
                f"Version {version} of {name} is {stage}; a canary goes to a version in staging "
                f"(publish it again to get a new staging version)."
            )
        with self.store.transaction() as conn:
            conn.execute(
                self.store._sql(
                    "UPDATE model_routes SET canary = ?, canary_percent = ?, updated_at = ? WHERE name = ?"
                ),
                (version if percent > 0 else None, float(percent), time.time(), name),
            )
            self._bump(conn)

    def shadow(self, name: str, version: int | None) -> None:
        """Mirror every request of ``name`` to ``version`` (its scores are logged with
        ``"shadow": true``, never returned); None ends the mirroring."""
        route = self._route_or_fail(name)
        if version is not None:
            version = check_version(version)
            self.path(name, version)
            if version == route.production:
                raise RegistryError(
                    f"Version {version} of {name} is in production; a shadow is another version."
                )
        with self.store.transaction() as conn:
            sql = self.store._sql
            if version is None:
                conn.execute(sql("DELETE FROM model_shadows WHERE name = ?"), (name,))
                self._bump(conn)
                return
            conn.execute(
                sql(
                    "INSERT INTO model_shadows (name, version, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET version = excluded.version, "
                    "updated_at = excluded.updated_at"
                ),
                (name, version, time.time()),
            )
            self._bump(conn)

    # -- helpers -----------------------------------------------------------------------------
    def _bump(self, conn: Any) -> None:
        value = (
            "CAST(value AS INTEGER) + 1"
            if self.store.dialect == "sqlite"
            else "(CAST(value AS INTEGER) + 1)::text"
        )
        conn.execute(f"UPDATE meta SET value = {value} WHERE key = 'registry_generation'")

    def _route_or_fail(self, name: str) -> Route:
        route = self.route(name)
        if route is None:
            known = ", ".join(r.name for r in self.routes()) or "none yet"
            raise RegistryError(f'No model named "{name}" in this workspace (models: {known}).')
        return route

    def _no_version(self, name: str, version: int) -> str:
        have = ", ".join(str(v["version"]) for v in self.versions(name)) or "none"
        return f"{name} has no version {version} (versions: {have})."
