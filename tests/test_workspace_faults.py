"""A read-only or full workspace: one sentence and exit code 2 (a failed node for a disk that
fills during a run), never a Python traceback or a Java stack trace."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import seer_cli, write_flow

IS_ROOT = os.geteuid() == 0


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"root, but this machine refuses to mount a tmpfs: {done.stderr.strip()}")


def _umount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


@pytest.fixture(scope="module")
def read_only_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A workspace that exists (a store, a flows folder) and cannot be written: a tmpfs
    remounted read-only when root (root ignores file modes), else file modes."""
    base = tmp_path_factory.mktemp("ro")
    ws = base / "ws"
    if IS_ROOT:
        _mount_tmpfs(ws, "4m")
    from engine.workspace import Workspace

    opened = Workspace(ws)
    opened.store.close()
    opened.flows_dir.mkdir()
    if IS_ROOT:
        subprocess.run(["mount", "-o", "remount,ro", str(ws)], check=True)
    else:
        for p in [ws / "seer.db", ws / "flows", ws]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield ws
    if IS_ROOT:
        _umount(ws)
    else:
        ws.chmod(0o755)
        (ws / "flows").chmod(0o755)


def _assert_one_sentence(done: subprocess.CompletedProcess[str], ws: Path) -> None:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr and "\tat " not in done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: Seer cannot write to {ws}"), lines[0]
    assert "choose another workspace" in lines[0]


@pytest.mark.parametrize(
    "command",
    [["runs"], ["models", "list"], ["serve", "--port", "8697"], ["studio", "--no-browser"]],
    ids=lambda c: " ".join(c[:2]),
)
def test_a_read_only_workspace_is_one_sentence(read_only_workspace: Path, command: list) -> None:
    """The database is really read-only: SQLite itself refuses."""
    with pytest.raises(sqlite3.OperationalError):
        conn = sqlite3.connect(read_only_workspace / "seer.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE probe (x)")
    done = seer_cli(*command, "--workspace", str(read_only_workspace), timeout=120)
    _assert_one_sentence(done, read_only_workspace)


def test_running_a_flow_in_a_read_only_workspace_is_one_sentence(
    read_only_workspace: Path, tmp_path: Path
) -> None:
    flow = write_flow(
        tmp_path, [{"id": "gen", "op": "import.sample", "params": {"rows": 10}}], [], name="ro"
    )
    done = seer_cli("run", str(flow), "--workspace", str(read_only_workspace), timeout=120)
    _assert_one_sentence(done, read_only_workspace)


@pytest.mark.skipif(
    not IS_ROOT, reason="a real full disk needs a small tmpfs, which only root can mount"
)
def test_a_full_workspace_is_one_sentence(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _mount_tmpfs(ws, "2m")
    try:
        from engine.workspace import Workspace

        Workspace(ws).store.close()
        with pytest.raises(OSError), open(ws / "filler", "wb") as f:  # noqa: PT012
            while True:
                f.write(b"x" * 65536)
                f.flush()
        flow = write_flow(
            tmp_path,
            [{"id": "gen", "op": "import.sample", "params": {"rows": 10}}],
            [],
            name="full",
        )
        done = seer_cli("run", str(flow), "--workspace", str(ws), timeout=120)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stderr.splitlines()[-1] == (
            f"error: No space left on device while writing the workspace store under {ws}: "
            "free space or choose another workspace."
        )
    finally:
        _umount(ws)


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(
    not IS_ROOT, reason="a real full disk needs a small tmpfs, which only root can mount"
)
def test_a_disk_that_fills_during_a_run_fails_the_node_with_one_sentence(tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    # random doubles do not compress: ~8 MB of Parquet, for a 6 MB workspace
    rng = np.random.default_rng(1)
    pd.DataFrame(rng.random((200_000, 5)), columns=list("abcde")).to_csv(
        tmp_path / "numbers.csv", index=False
    )
    flow = write_flow(
        tmp_path,
        [{"id": "numbers", "op": "import.csv", "params": {"path": "numbers.csv"}}],
        [],
        name="full",
    )
    ws = tmp_path / "ws"
    _mount_tmpfs(ws, "6m")
    # the run's outputs, Spark's scratch space and spark.log fill the disk; the store is kept
    # elsewhere so that the failure can be recorded (a store on a full disk: the test above)
    store = tmp_path / "seer.db"
    try:
        done = seer_cli(
            "run",
            str(flow),
            "--workspace",
            str(ws),
            env={"SEER_STORE_URL": str(store)},
            timeout=300,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and "\tat " not in done.stderr
        assert "Exception" not in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) < 12, done.stderr
        sentence = (
            'No space left on device while writing the output of node "numbers" (import.csv) '
            f"under {ws}/runs/"
        )
        assert sentence in done.stderr
        assert "free space or choose another workspace." in done.stderr
        # the half-written files went, so the space is free again; the stack trace is kept
        leftovers = [p for p in (ws / "runs").rglob("*") if p.is_file()]
        assert leftovers == []
        with sqlite3.connect(store) as conn:
            (tb,) = conn.execute("SELECT traceback FROM node_runs").fetchone()
        assert "No space left on device" in tb
    finally:
        _umount(ws)
