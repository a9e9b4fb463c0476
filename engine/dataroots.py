"""Data roots: the folders a flow's file paths may point into.

A shared flow is data: it must not read ``/etc/passwd`` or ``~/.ssh``, nor write an export
over a file outside the places its user chose. Every path a flow names (imports, exports, a
SQLite database, uploads and the studio's file picker) must lie inside one of:

- the workspace folder;
- the flow file's folder;
- folders the user names: ``--data-root DIR`` (``seer run``, ``validate``, ``studio``; may be
  repeated) and ``SEER_DATA_ROOTS`` (folders joined by the platform's path separator, ``:`` on
  Linux and macOS, ``;`` on Windows).

Paths are compared after symbolic links and ``..`` are resolved, so a link inside a root that
points outside it is refused too. Remote URLs (``s3a://``, ``hdfs://``, ...) are allowed only
under a root given as such a URL prefix. Checked when a flow is validated and again when a node
reads or writes (see RunContext.check_path).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

ENV_VAR = "SEER_DATA_ROOTS"
#: the workspace folder when neither --workspace nor SEER_WORKSPACE names one
DEFAULT_WORKSPACE = "seer-workspace"
_GLOB_CHARS = "*?["
_HOW = (
    "To allow a folder, name it with --data-root DIR (seer run, validate, studio) or add it to "
    f"{ENV_VAR}."
)


def _is_remote(text: str) -> bool:
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.lower() != "file" and scheme.isascii() and scheme.isalnum()


def _real(path: str | Path) -> str:
    return os.path.realpath(os.path.expanduser(str(path)))


class DataRoots:
    """An ordered set of allowed folders (local paths, or remote URL prefixes)."""

    def __init__(self, roots: Iterable[str | Path]):
        local: list[str] = []
        remote: list[str] = []
        for r in roots:
            text = str(r).strip()
            if not text or "\x00" in text:
                continue
            if _is_remote(text):
                remote.append(text.rstrip("/") + "/")
            else:
                local.append(_real(text.removeprefix("file://")))
        self.local = tuple(dict.fromkeys(local))
        self.remote = tuple(dict.fromkeys(remote))

    @classmethod
    def for_flow(
        cls,
        flow_dir: Path | None,
        workspace: Path | None = None,
        extra: Iterable[str | Path] = (),
        env: Mapping[str, str] | None = None,
    ) -> DataRoots:
        """The default roots: the workspace, the flow's folder, ``extra`` and the environment."""
        env = os.environ if env is None else env
        if workspace is None:
            workspace = Path(env.get("SEER_WORKSPACE") or DEFAULT_WORKSPACE)
        named = [p for p in env.get(ENV_VAR, "").split(os.pathsep) if p.strip()]
        return cls([workspace, *([flow_dir] if flow_dir else []), *extra, *named])

    def __iter__(self):
        return iter((*self.local, *self.remote))

    def describe(self) -> str:
        return ", ".join(self) or "none"

    def contains(self, path: str | Path) -> bool:
        text = str(path)
        if "\x00" in text:
            return False
        if _is_remote(text):
            return any(text.startswith(r) or text + "/" == r for r in self.remote)
        real = _real(text.removeprefix("file://"))
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.local)

    def problem(self, path: str, what: str) -> str | None:
        """The sentence when ``path`` (absolute, or a glob) lies outside every root, else None.
        ``what`` names the thing at fault, e.g. ``The 'path' parameter of import.csv``."""
        if not isinstance(path, str) or not path:
            return None
        if "\x00" in path:
            return f"{what} contains a null character; remove it."
        checked = path
        if any(c in path for c in _GLOB_CHARS):  # the folder the glob starts from
            head = path[: min(path.index(c) for c in _GLOB_CHARS if c in path)]
            checked = head if head.endswith(("/", os.sep)) else os.path.dirname(head) or "."
            if ".." in Path(path[len(head) :]).parts:
                return f"{what} may not use '..' after a wildcard: {path}."
        if self.contains(checked):
            return None
        return (
            f"{what} points outside the allowed data folders: {path}. Allowed: "
            f"{self.describe()}. {_HOW}"
        )
