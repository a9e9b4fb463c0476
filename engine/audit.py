"""The audit log: who did what, when, to which flow, model or version, and how it ended.

Written by the studio (the logged-in user, or ``local:<os user>`` in single-user mode) and by
the CLI (``cli:<os user>``) for runs, flow file changes, uploads, publishing, promotions,
canaries, rollbacks, logins and user changes. Rows are only ever added.
"""

from __future__ import annotations

import getpass
import logging
import time
import uuid
from typing import Any

from engine.store import Store

log = logging.getLogger("seer.audit")

OUTCOMES = ("ok", "failed", "denied")


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def cli_actor() -> str:
    return f"cli:{os_user()}"


def record(
    store: Store,
    actor: str,
    action: str,
    *,
    outcome: str = "ok",
    flow: str | None = None,
    model: str | None = None,
    version: int | None = None,
    run_id: str | None = None,
    detail: str | None = None,
) -> None:
    """Add one entry. A failure to write it is logged, never raised: the action itself has
    already happened (or been refused) and must report that to its user."""
    try:
        store.execute(
            "INSERT INTO audit (id, ts, actor, action, flow, model, version, run_id, outcome, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex,
                time.time(),
                actor,
                action,
                flow,
                model,
                version,
                run_id,
                outcome if outcome in OUTCOMES else "failed",
                (detail or None) and str(detail)[:2000],
            ),
        )
    except Exception as exc:  # the store is read-only or full: say so in the log
        log.error("Could not write the audit entry %s by %s: %s", action, actor, exc)


def entries(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries first."""
    return store.query(
        "SELECT ts, actor, action, flow, model, version, run_id, outcome, detail FROM audit "
        "ORDER BY ts DESC LIMIT ?",
        (max(1, int(limit)),),
    )
