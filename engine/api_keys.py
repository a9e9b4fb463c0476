"""API keys of the scoring service: per model (or all models), with scopes, stored hashed.

A key is 256 random bits; the store keeps only its SHA-256 (for a high-entropy random secret a
fast hash is the right tool — a slow password hash such as argon2 protects guessable passwords,
which these are not). The key itself is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from engine.store import Store

SCOPES = ("score", "feedback", "read")
KEY_PREFIX = "seer_"


class ApiKeyError(ValueError):
    """A key request that cannot be done; the message says why."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What one key may do: ``models`` None means every model."""

    key_id: str
    models: frozenset[str] | None
    scopes: frozenset[str]

    def allows(self, model: str | None, scope: str) -> bool:
        if scope not in self.scopes:
            return False
        if model is None:  # a question about every model (the model list, /metrics)
            return self.models is None
        return self.models is None or model in self.models


def parse_scopes(text: str) -> list[str]:
    scopes = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise ApiKeyError(
            f"--scope takes a comma-separated list of {', '.join(SCOPES)}. Got {text!r}."
        )
    return sorted(set(scopes), key=SCOPES.index)


def create_key(
    store: Store, models: list[str] | None, scopes: list[str], label: str = ""
) -> tuple[str, str]:
    """A new key for ``models`` (None: all); returns (key id, the key)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    key_id = "k" + secrets.token_hex(4)
    store.execute(
        "INSERT INTO api_keys (key_id, label, key_hash, models, scopes, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            key_id,
            label,
            hash_key(key),
            "*" if models is None else json.dumps(sorted(set(models))),
            ",".join(scopes),
            time.time(),
        ),
    )
    return key_id, key


def list_keys(store: Store) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT key_id, label, models, scopes, created_at, revoked_at FROM api_keys "
        "ORDER BY created_at"
    )
    for r in rows:
        r["models"] = None if r["models"] == "*" else json.loads(r["models"])
        r["scopes"] = r["scopes"].split(",")
        r["status"] = "revoked" if r["revoked_at"] else "active"
    return rows


def revoke_key(store: Store, key_id: str) -> None:
    rows = store.query("SELECT revoked_at FROM api_keys WHERE key_id = ?", (key_id,))
    if not rows:
        raise ApiKeyError(f"No API key with id {key_id!r} (see `seer keys list`).")
    if rows[0]["revoked_at"]:
        raise ApiKeyError(f"API key {key_id} is revoked already.")
    store.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (time.time(), key_id))


def active_grants(store: Store) -> dict[str, Grant]:
    """The active keys by hash."""
    out = {}
    for r in store.query(
        "SELECT key_id, key_hash, models, scopes FROM api_keys WHERE revoked_at IS NULL"
    ):
        models = None if r["models"] == "*" else frozenset(json.loads(r["models"]))
        out[r["key_hash"]] = Grant(r["key_id"], models, frozenset(r["scopes"].split(",")))
    return out
