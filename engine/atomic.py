"""Atomic writes: a reader sees the old content or the new, never a half-written file.

Temporary names look like ``.<name>.<tag>-<10 hex>`` next to their target. Inside a run (see
``temp_owner``) they end in ``.run-<run id>`` and are reported to the run's owner before they
are created, so what a killed run leaves behind can be found and attributed to it safely.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: a temporary name made by ``temp_sibling``: the target's name, the tag, and the run if any
TEMP_NAME = re.compile(
    r"^\.(?P<name>.+)\.(?P<tag>[a-z]+)-[0-9a-f]{10}(?:\.run-(?P<run>[0-9A-Za-z_-]+))?$"
)


@dataclass(frozen=True)
class TempOwner:
    """The run that temporary names made in this context belong to."""

    run_id: str
    register: Callable[[Path], None]


_owner: contextvars.ContextVar[TempOwner | None] = contextvars.ContextVar(
    "seer_temp_owner", default=None
)


@contextmanager
def temp_owner(owner: TempOwner) -> Iterator[None]:
    """Within this block (this thread), temporary names carry ``owner.run_id`` and are
    registered with ``owner.register`` before use."""
    token = _owner.set(owner)
    try:
        yield
    finally:
        _owner.reset(token)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_sibling(p)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def temp_sibling(path: str | Path, tag: str = "tmp") -> Path:
    """A fresh, unused name next to ``path`` (same filesystem, so a rename is atomic)."""
    p = Path(path)
    name = f".{p.name}.{tag}-{uuid.uuid4().hex[:10]}"
    owner = _owner.get()
    if owner is None:
        return p.parent / name
    tmp = p.parent / f"{name}.run-{owner.run_id}"
    owner.register(tmp)
    return tmp


def replace_path(src: str | Path, dst: str | Path) -> None:
    """Move ``src`` (a file or folder) to ``dst``, replacing what is there.

    A file replaces a file atomically. A folder replaces a folder by two renames (the old
    one is moved aside first and removed after), so ``dst`` is never half-written.
    """
    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir() and (dst.exists() or dst.is_symlink()):
        aside = temp_sibling(dst, "old")
        os.replace(dst, aside)
        try:
            os.replace(src, dst)
        except BaseException:
            os.replace(aside, dst)
            raise
        remove_path(aside)
    else:
        if dst.is_dir() and not dst.is_symlink():
            aside = temp_sibling(dst, "old")
            os.replace(dst, aside)
            os.replace(src, dst)
            remove_path(aside)
        else:
            os.replace(src, dst)


def remove_path(path: str | Path) -> None:
    p = Path(path)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
