"""Files a node reads: glob expansion and fingerprints for cache keys."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

_GLOB_CHARS = set("*?[")


def is_url(text: str) -> bool:
    """Whether a path param names a remote location (a URL or a JDBC/cloud scheme)."""
    return "://" in text or text.startswith(("jdbc:", "s3a:", "gs:", "hdfs:", "abfss:"))


def expand_paths(path: str) -> list[Path]:
    """The data files a path names: a file, every file in a folder, or a glob's matches.

    Hidden files and Spark's marker files (names starting with '.' or '_') are left out.
    """
    if any(c in path for c in _GLOB_CHARS):
        found = [Path(p) for p in sorted(glob.glob(path, recursive=True))]
        files: list[Path] = []
        for f in found:
            files.extend(expand_paths(str(f)) if f.is_dir() else [f])
        return files
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(
            f
            for f in p.rglob("*")
            if f.is_file()
            and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)
        )
    return []


def files_fingerprint(path: str) -> list[Any]:
    """Name, size and modification time of every file a path names (cheap, no reads)."""
    out = []
    for f in expand_paths(path):
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out
