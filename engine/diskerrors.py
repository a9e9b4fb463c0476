"""Write failures a user can fix — a full disk, a read-only workspace — told in one sentence.

They arrive as Python ``OSError``s, SQLite errors or Java exceptions from Spark (whose text
carries the operating system's message); these helpers recognise them along an exception's
cause chain and say what to do.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_READ_ONLY_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM}
_FULL_TEXTS = ("No space left on device", "database or disk is full", "Disk quota exceeded")
_READ_ONLY_TEXTS = (
    "Read-only file system",
    "attempt to write a readonly database",
    "unable to open database file",
    "Permission denied",
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # a Py4J error whose JVM is gone
        return type(exc).__name__


def is_disk_full(exc: BaseException) -> bool:
    return any(
        (isinstance(e, OSError) and e.errno in _FULL_ERRNOS)
        or any(t in _text(e) for t in _FULL_TEXTS)
        for e in _chain(exc)
    )


def nearly_full(folder: Path) -> bool:
    """Less than 1 MiB left for this user on the folder's file system."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1024 * 1024


def is_read_only(exc: BaseException) -> bool:
    return any(
        (isinstance(e, OSError) and e.errno in _READ_ONLY_ERRNOS)
        or any(t in _text(e) for t in _READ_ONLY_TEXTS)
        for e in _chain(exc)
    )


def failed_path(exc: BaseException) -> Path | None:
    """The file an ``OSError`` along the chain names, if any."""
    for e in _chain(exc):
        if isinstance(e, OSError) and e.filename:
            return Path(os.fsdecode(e.filename))
    return None


def why_unwritable(path: Path) -> str:
    """Why nothing can be written at ``path`` (its nearest existing folder is looked at)."""
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    except OSError:
        pass
    target = path if path.exists() else folder
    if not os.access(target, os.W_OK):
        return "this user may not write to it"
    return "it cannot be written"


def disk_full_message(what: str, where: Path | str) -> str:
    return (
        f"No space left on device while writing {what} under {where}: "
        "free space or choose another workspace."
    )


def read_only_message(where: Path) -> str:
    return (
        f"Seer cannot write to {where}: {why_unwritable(where)}. Make it writable or choose "
        "another workspace (--workspace DIR or $SEER_WORKSPACE)."
    )


def tightest(paths: list[Path]) -> Path | None:
    """Of several folders, the one on the file system with the least free space."""
    best: tuple[int, Path] | None = None
    for p in paths:
        folder = p
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        free = st.f_bavail * st.f_frsize
        if best is None or free < best[0]:
            best = (free, p)
    return best[1] if best else None


def write_failure_sentence(exc: BaseException, root: Path) -> str | None:
    """A read-only or full disk met while working on the workspace ``root``, as one sentence;
    None when the error is something else."""
    import sqlite3

    where = failed_path(exc)
    if is_disk_full(exc) or ("disk I/O error" in _text(exc) and nearly_full(root)):
        what = "the workspace store" if isinstance(exc, sqlite3.Error) else "files"
        return disk_full_message(what, where.parent if where else root)
    # EACCES/EPERM may come from a read; only a refused write under the workspace is this case
    under_workspace = where is not None and where.is_relative_to(root)
    if (
        isinstance(exc, OSError)
        and is_read_only(exc)
        and (exc.errno == errno.EROFS or under_workspace)
    ):
        return read_only_message(where or root)
    return None
