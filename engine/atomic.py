"""Atomic writes: a reader sees the old content or the new, never a half-written file."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
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
    return p.parent / f".{p.name}.{tag}-{uuid.uuid4().hex[:10]}"


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
