"""Studio users and roles, kept in the workspace store.

Passwords are hashed with argon2id (argon2-cffi); the store never holds a password. Roles are
ordered, each one including the one before it:

- ``viewer``: opens flows and looks at runs, results and models;
- ``editor``: edits, saves and runs flows, uploads data;
- ``publisher``: publishes models, promotes, sets canaries, rolls back;
- ``admin``: manages users and reads the audit log.

Every action the studio or the CLI checks is named in ``ACTIONS`` with the least role it needs.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.store import Store

ROLES = ("viewer", "editor", "publisher", "admin")

ACTIONS: dict[str, str] = {
    "view": "viewer",  # open flows, runs, results, models; try a model
    "edit": "editor",  # the file picker for a node's path param
    "save": "editor",  # save, save as, rename, delete, duplicate
    "run": "editor",  # start or cancel a run
    "upload": "editor",
    "publish": "publisher",
    "promote": "publisher",
    "canary": "publisher",
    "rollback": "publisher",
    "users": "admin",
    "audit": "admin",
}

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_hasher = PasswordHasher()
# verified against when the name is unknown, so a wrong name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash("seer-no-such-user")


class UserError(ValueError):
    """A user command cannot be done; the message says why and what to do instead."""


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str = ""

    def can(self, action: str) -> bool:
        return role_allows(self.role, action)

    @property
    def session_tag(self) -> str:
        """Changes when the password changes: sessions opened before a change end with it."""
        return self.password_hash[-16:]


def role_allows(role: str | None, action: str) -> bool:
    """Whether `role` may do `action`; an unknown action needs admin."""
    if role not in ROLES:
        return False
    needed = ACTIONS.get(action, "admin")
    return ROLES.index(role) >= ROLES.index(needed)


def required_role(action: str) -> str:
    return ACTIONS.get(action, "admin")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise UserError(
            f"{name!r} is not a valid user name: use 1 to 64 letters, digits, '.', '_', '@' or "
            "'-', starting with a letter or digit."
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.")
    return role


def check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"The password is too long: use at most {MAX_PASSWORD} characters.")
    return password


class Users:
    """The users of one workspace store."""

    def __init__(self, store: Store):
        self.store = store

    def count(self) -> int:
        return int(self.store.query("SELECT COUNT(*) AS n FROM users")[0]["n"])

    def list(self) -> list[dict[str, Any]]:
        return self.store.query(
            "SELECT name, role, created_at, updated_at FROM users ORDER BY name"
        )

    def get(self, name: str) -> User | None:
        rows = self.store.query(
            "SELECT name, role, password_hash FROM users WHERE name = ?", (name,)
        )
        return User(**rows[0]) if rows else None

    def add(self, name: str, role: str, password: str) -> User:
        check_name(name)
        check_role(role)
        check_password(password)
        if self.get(name):
            raise UserError(
                f'A user named "{name}" exists; change the password with `seer users passwd '
                f"{name}` or choose another name."
            )
        now = time.time()
        digest = _hasher.hash(password)
        self.store.execute(
            "INSERT INTO users (name, role, password_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, role, digest, now, now),
        )
        return User(name, role, digest)

    def remove(self, name: str) -> None:
        user = self.require(name)
        admins = [u for u in self.list() if u["role"] == "admin"]
        if user.role == "admin" and len(admins) == 1 and self.count() > 1:
            raise UserError(
                f'"{name}" is the last admin: make another user admin first '
                "(`seer users add NAME --role admin`), or remove the other users before it."
            )
        self.store.execute("DELETE FROM users WHERE name = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        self.require(name)
        check_password(password)
        self.store.execute(
            "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
            (_hasher.hash(password), time.time(), name),
        )

    def verify(self, name: str, password: str) -> User | None:
        """The user if the password is right; None otherwise (same cost either way)."""
        user = self.get(name) if isinstance(name, str) and _NAME.match(name) else None
        try:
            _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            return None
        return user

    def require(self, name: str) -> User:
        user = self.get(name)
        if not user:
            known = ", ".join(u["name"] for u in self.list()) or "none yet"
            raise UserError(f'There is no user named "{name}" (users: {known}).')
        return user
