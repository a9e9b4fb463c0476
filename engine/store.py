"""The workspace store: runs, node runs, the output cache, logs and lineage.

SQLite (WAL mode, busy timeout) by default — shared safely by the studio, the CLI and the
scoring service, from several threads and processes — or PostgreSQL given a URL
(``postgresql://host:port/db``) for a shared server. Every write is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.diskerrors import (
    disk_full_message,
    is_disk_full,
    is_read_only,
    nearly_full,
    read_only_message,
    why_unwritable,
)

SCHEMA_VERSION = 1

_TABLES = [
    """CREATE TABLE IF NOT EXISTS runs (
        run_id TEXT PRIMARY KEY,
        flow_name TEXT NOT NULL,
        flow_path TEXT,
        flow_json TEXT NOT NULL,
        params_json TEXT NOT NULL,
        master TEXT,
        status TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        finished_at DOUBLE PRECISION,
        error TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS node_runs (
        run_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        op TEXT NOT NULL,
        status TEXT NOT NULL,
        cache_key TEXT,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        seconds DOUBLE PRECISION,
        rows_json TEXT,
        metrics_json TEXT,
        error TEXT,
        traceback TEXT,
        PRIMARY KEY (run_id, node_id)
    )""",
    """CREATE TABLE IF NOT EXISTS node_cache (
        cache_key TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        node_id TEXT NOT NULL,
        outputs_json TEXT NOT NULL,
        external_json TEXT,
        metrics_json TEXT,
        created_at DOUBLE PRECISION NOT NULL
    )""",
    # who runs a run (host, process ids) and when it last said it is alive (see engine/leases.py)
    """CREATE TABLE IF NOT EXISTS run_leases (
        run_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        processes_json TEXT NOT NULL,
        heartbeat_at DOUBLE PRECISION NOT NULL
    )""",
    # temporary files and folders a running run may leave behind if it is killed
    """CREATE TABLE IF NOT EXISTS run_temps (
        run_id TEXT NOT NULL,
        path TEXT NOT NULL,
        PRIMARY KEY (run_id, path)
    )""",
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    # studio users (engine/users.py): argon2 password hashes, never passwords
    """CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL
    )""",
    # the audit log (engine/audit.py): who did what, when, to which flow/model/version
    """CREATE TABLE IF NOT EXISTS audit (
        id TEXT PRIMARY KEY,
        ts DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        flow TEXT,
        model TEXT,
        version INTEGER,
        run_id TEXT,
        outcome TEXT NOT NULL,
        detail TEXT
    )""",
    # API keys of the scoring service (engine/api_keys.py): only a hash of each key is kept
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        label TEXT,
        key_hash TEXT NOT NULL UNIQUE,
        models TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        revoked_at DOUBLE PRECISION
    )""",
]
_LOGS = {
    "sqlite": """CREATE TABLE IF NOT EXISTS logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL, node_id TEXT, ts DOUBLE PRECISION NOT NULL,
        level TEXT NOT NULL, message TEXT NOT NULL)""",
    "postgresql": """CREATE TABLE IF NOT EXISTS logs (
        id BIGSERIAL PRIMARY KEY,
        run_id TEXT NOT NULL, node_id TEXT, ts DOUBLE PRECISION NOT NULL,
        level TEXT NOT NULL, message TEXT NOT NULL)""",
}
_INDEXES = [
    "CREATE INDEX IF NOT EXISTS logs_run ON logs (run_id, id)",
    "CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at)",
    "CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts)",
    "CREATE INDEX IF NOT EXISTS runs_status ON runs (status)",
]
_ADDED_INDEXES = ["CREATE INDEX IF NOT EXISTS runs_flow ON runs (flow_id, started_at)"]

# columns added after a table was first released: (table, column, type), added to an existing
# store when missing (an older store keeps working; the column is NULL for its old rows)
_ADDED_COLUMNS = [
    # the flow's stable id (engine/flow.py Flow.id): the studio shows only this flow's results
    ("runs", "flow_id", "TEXT"),
]

_NODE_FIELDS = {
    "op",
    "status",
    "cache_key",
    "started_at",
    "finished_at",
    "seconds",
    "rows_json",
    "metrics_json",
    "error",
    "traceback",
}


class StoreError(Exception):
    """The workspace store cannot be used (unreachable, or written by a newer Seer)."""


class Store:
    """A thin layer over SQLite or PostgreSQL; one connection per thread."""

    def __init__(self, target: str | Path):
        text = str(target)
        if text.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
            self.url = text
        else:
            self.dialect = "sqlite"
            path = Path(text.removeprefix("sqlite:///"))
            self.url = str(path)
        self._local = threading.local()
        try:
            if self.dialect == "sqlite":
                path.parent.mkdir(parents=True, exist_ok=True)
            self._create_schema()
        except (OSError, sqlite3.OperationalError) as exc:
            problem = self._unwritable(exc)
            if problem is None:
                raise
            raise problem from exc

    def _unwritable(self, exc: BaseException) -> StoreError | None:
        """A read-only or full workspace as one sentence (None: some other problem)."""
        if self.dialect != "sqlite":
            return None
        path = Path(self.url)
        # SQLite says "disk I/O error" when it cannot even create its WAL files on a full disk
        if is_disk_full(exc) or ("disk I/O error" in str(exc) and nearly_full(path.parent)):
            return StoreError(disk_full_message("the workspace store", path.parent))
        if is_read_only(exc):
            # name the store file when only it is read-only, else the workspace folder
            folder_ok = path.parent.is_dir() and "cannot be written" in why_unwritable(path.parent)
            return StoreError(read_only_message(path if folder_ok else path.parent))
        return None

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            conn = sqlite3.connect(
                self.url, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:  # pragma: no cover - depends on the install
            raise StoreError(
                "A PostgreSQL workspace store needs the psycopg package: "
                "pip install 'seer-studio[postgres]'."
            ) from None
        try:
            return psycopg.connect(self.url, row_factory=dict_row, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreError(f"Cannot connect to the workspace store {self.url}: {exc}") from None

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        conn = self._conn()
        if self.dialect == "sqlite":
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        else:
            with conn.transaction():
                yield conn

    def execute(self, sql: str, args: Sequence[Any] = ()) -> None:
        with self.transaction() as conn:
            conn.execute(self._sql(sql), tuple(args))

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        conn = self._conn()
        cur = conn.execute(self._sql(sql), tuple(args))
        return [dict(r) for r in cur.fetchall()]

    def _create_schema(self) -> None:
        with self.transaction() as conn:
            for ddl in [*_TABLES, _LOGS[self.dialect], *_INDEXES]:
                conn.execute(ddl)
            self._add_columns(conn)
            for ddl in _ADDED_INDEXES:
                conn.execute(ddl)
            conn.execute(
                self._sql(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO NOTHING"
                ),
                (str(SCHEMA_VERSION),),
            )
        version = int(self.query("SELECT value FROM meta WHERE key = 'schema_version'")[0]["value"])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The workspace store was written by a newer Seer (store schema {version}; "
                f"this Seer knows {SCHEMA_VERSION}). Upgrade Seer."
            )

    def _add_columns(self, conn: Any) -> None:
        """Add the columns of _ADDED_COLUMNS an older store lacks (inside the schema
        transaction, so concurrent openers do not both add them)."""
        for table, column, kind in _ADDED_COLUMNS:
            if self.dialect == "postgresql":
                rows = conn.execute(
                    "SELECT column_name AS name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = %s",
                    (table,),
                ).fetchall()
            else:
                rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
            if column not in {r["name"] for r in rows}:  # ALTER only when needed: it locks
                conn.execute(
                    f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"
                    if self.dialect == "postgresql"
                    else f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
                )

    def workspace_id(self) -> str:
        """This workspace's stable identity (made on first use, kept in the meta table): the
        scoring service reports it so a studio never takes another workspace's service for its
        own."""
        rows = self.query("SELECT value FROM meta WHERE key = 'workspace_id'")
        if rows:
            return str(rows[0]["value"])
        self.execute(
            "INSERT INTO meta (key, value) VALUES ('workspace_id', ?) ON CONFLICT (key) DO NOTHING",
            (uuid.uuid4().hex,),
        )
        return str(self.query("SELECT value FROM meta WHERE key = 'workspace_id'")[0]["value"])

    # -- runs --------------------------------------------------------------------------------
    def create_run(
        self,
        run_id: str,
        flow_name: str,
        flow_path: str | None,
        flow_json: dict[str, Any],
        params: dict[str, Any],
        master: str | None,
        flow_id: str | None = None,
    ) -> None:
        self.execute(
            "INSERT INTO runs (run_id, flow_name, flow_path, flow_json, params_json, master, "
            "status, started_at, flow_id) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
            (
                run_id,
                flow_name,
                flow_path,
                json.dumps(flow_json),
                json.dumps(params),
                master,
                time.time(),
                flow_id,
            ),
        )

    def latest_flow_run(self, flow_id: str) -> str | None:
        """The newest run of the flow with this id, if any."""
        rows = self.query(
            "SELECT run_id FROM runs WHERE flow_id = ? ORDER BY started_at DESC LIMIT 1",
            (flow_id,),
        )
        return rows[0]["run_id"] if rows else None

    def flow_node_runs(self, flow_id: str, node_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """A node's succeeded (or cached) runs within the runs of one flow, newest first:
        run_id and cache_key."""
        return self.query(
            "SELECT n.run_id, n.cache_key FROM node_runs n JOIN runs r ON r.run_id = n.run_id "
            "WHERE r.flow_id = ? AND n.node_id = ? AND n.status IN ('succeeded', 'cached') "
            "ORDER BY r.started_at DESC LIMIT ?",
            (flow_id, node_id, limit),
        )

    def finish_run(self, run_id: str, status: str, error: str | None = None) -> None:
        self.execute(
            "UPDATE runs SET status = ?, finished_at = ?, error = ? WHERE run_id = ?",
            (status, time.time(), error, run_id),
        )

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM runs WHERE run_id = ?", (run_id,))
        return rows[0] if rows else None

    def list_runs(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM runs ORDER BY started_at DESC LIMIT ?", (limit,))

    # -- node runs ---------------------------------------------------------------------------
    def set_node(self, run_id: str, node_id: str, **fields: Any) -> None:
        unknown = set(fields) - _NODE_FIELDS
        if unknown:
            raise ValueError(f"unknown node_runs fields: {unknown}")
        for key in ("rows_json", "metrics_json"):
            if key in fields and not isinstance(fields[key], (str, type(None))):
                fields[key] = json.dumps(fields[key])
        sets = ", ".join(f"{c} = ?" for c in fields)
        with self.transaction() as conn:
            cur = conn.execute(
                self._sql(f"UPDATE node_runs SET {sets} WHERE run_id = ? AND node_id = ?"),
                (*fields.values(), run_id, node_id),
            )
            if cur.rowcount == 0:
                cols = ["run_id", "node_id", *fields]
                conn.execute(
                    self._sql(
                        f"INSERT INTO node_runs ({', '.join(cols)}) "
                        f"VALUES ({', '.join('?' for _ in cols)})"
                    ),
                    (run_id, node_id, *fields.values()),
                )

    def node_runs(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM node_runs WHERE run_id = ?", (run_id,))
        for r in rows:
            r["rows"] = json.loads(r.pop("rows_json") or "{}")
            r["metrics"] = json.loads(r.pop("metrics_json") or "null")
        return rows

    # -- cache -------------------------------------------------------------------------------
    def cache_get(self, cache_key: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM node_cache WHERE cache_key = ?", (cache_key,))
        if not rows:
            return None
        r = rows[0]
        r["outputs"] = json.loads(r.pop("outputs_json"))
        r["external"] = json.loads(r.pop("external_json") or "null")
        r["metrics"] = json.loads(r.pop("metrics_json") or "null")
        return r

    def cache_put(
        self,
        cache_key: str,
        run_id: str,
        node_id: str,
        outputs: dict[str, Any],
        external: Any,
        metrics: Any,
    ) -> None:
        self.execute(
            "INSERT INTO node_cache (cache_key, run_id, node_id, outputs_json, external_json, "
            "metrics_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cache_key) DO "
            "UPDATE SET run_id = excluded.run_id, node_id = excluded.node_id, "
            "outputs_json = excluded.outputs_json, external_json = excluded.external_json, "
            "metrics_json = excluded.metrics_json, created_at = excluded.created_at",
            (
                cache_key,
                run_id,
                node_id,
                json.dumps(outputs),
                json.dumps(external),
                json.dumps(metrics),
                time.time(),
            ),
        )

    def cache_delete(self, cache_key: str) -> None:
        self.execute("DELETE FROM node_cache WHERE cache_key = ?", (cache_key,))

    def outputs_of(self, run_id: str, node_id: str) -> dict[str, Any] | None:
        """Where a node's outputs of a run live (port -> {type, path, rows, schema, lineage})."""
        rows = self.query(
            "SELECT cache_key FROM node_runs WHERE run_id = ? AND node_id = ? "
            "AND status IN ('succeeded', 'cached')",
            (run_id, node_id),
        )
        if not rows or not rows[0]["cache_key"]:
            return None
        entry = self.cache_get(rows[0]["cache_key"])
        return entry["outputs"] if entry else None

    def lineage(self, run_id: str, node_id: str, port: str) -> dict[str, Any]:
        """What produced a table's feature columns and scores (transform, model), if anything."""
        outputs = self.outputs_of(run_id, node_id) or {}
        return dict(outputs.get(port, {}).get("lineage") or {})

    # -- logs --------------------------------------------------------------------------------
    def add_log(self, run_id: str, node_id: str | None, level: str, message: str) -> None:
        self.execute(
            "INSERT INTO logs (run_id, node_id, ts, level, message) VALUES (?, ?, ?, ?, ?)",
            (run_id, node_id, time.time(), level, message),
        )

    def logs(self, run_id: str, after_id: int = 0) -> list[dict[str, Any]]:
        return self.query(
            "SELECT * FROM logs WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after_id)
        )

    # -- leases: which process runs a run (engine/leases.py) -------------------------------------
    def take_lease(self, run_id: str, host: str, pid: int, processes: list[Any]) -> None:
        self.execute(
            "INSERT INTO run_leases (run_id, host, pid, processes_json, heartbeat_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, "
            "pid = excluded.pid, processes_json = excluded.processes_json, "
            "heartbeat_at = excluded.heartbeat_at",
            (run_id, host, pid, json.dumps(processes), time.time()),
        )

    def beat_leases(self, run_ids: Sequence[str], processes: list[Any]) -> None:
        if not run_ids:
            return
        marks = ", ".join("?" for _ in run_ids)
        self.execute(
            f"UPDATE run_leases SET heartbeat_at = ?, processes_json = ? WHERE run_id IN ({marks})",
            (time.time(), json.dumps(processes), *run_ids),
        )

    def release_lease(self, run_id: str) -> None:
        with self.transaction() as conn:
            conn.execute(self._sql("DELETE FROM run_leases WHERE run_id = ?"), (run_id,))
            conn.execute(self._sql("DELETE FROM run_temps WHERE run_id = ?"), (run_id,))

    def add_run_temp(self, run_id: str, path: str) -> None:
        self.execute(
            "INSERT INTO run_temps (run_id, path) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (run_id, path),
        )

    def run_temps(self, run_id: str) -> list[str]:
        rows = self.query("SELECT path FROM run_temps WHERE run_id = ?", (run_id,))
        return [r["path"] for r in rows]

    def unfinished_runs(self) -> list[dict[str, Any]]:
        """Runs still marked running or queued, with their lease (None columns without one)."""
        rows = self.query(
            "SELECT r.run_id, r.started_at, l.host, l.pid, l.processes_json, l.heartbeat_at "
            "FROM runs r LEFT JOIN run_leases l ON l.run_id = r.run_id "
            "WHERE r.status IN ('running', 'queued')"
        )
        for r in rows:
            r["processes"] = json.loads(r.pop("processes_json") or "[]")
        return rows

    def mark_interrupted(self, run_id: str, error: str, ended_at: float | None = None) -> bool:
        """Mark a run and its unfinished nodes interrupted, ended at ``ended_at`` (its last
        heartbeat; default now); False if it was no longer running (another process got there
        first, or the run finished)."""
        now = time.time() if ended_at is None else ended_at
        with self.transaction() as conn:
            cur = conn.execute(
                self._sql(
                    "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE run_id = ? AND status IN ('running', 'queued')"
                ),
                (now, error, run_id),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                self._sql(
                    "UPDATE node_runs SET status = 'interrupted', finished_at = ?, error = ? "
                    "WHERE run_id = ? AND status IN ('running', 'queued')"
                ),
                (now, error, run_id),
            )
        return True

    def cached_nodes(self, run_id: str) -> set[str]:
        """The nodes of a run whose outputs the cache still points to."""
        rows = self.query("SELECT node_id FROM node_cache WHERE run_id = ?", (run_id,))
        return {r["node_id"] for r in rows}

    def run_summaries(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent runs, newest first, with their first failed (or interrupted) node."""
        runs = self.query(
            "SELECT run_id, flow_name, flow_path, status, started_at, finished_at, error "
            "FROM runs ORDER BY started_at DESC LIMIT ?",
            (limit,),
        )
        for r in runs:
            bad = self.query(
                "SELECT node_id FROM node_runs WHERE run_id = ? "
                "AND status IN ('failed', 'interrupted') ORDER BY finished_at, node_id LIMIT 1",
                (r["run_id"],),
            )
            r["failed_node"] = bad[0]["node_id"] if bad else None
        return runs
