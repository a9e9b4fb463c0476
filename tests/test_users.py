"""`seer users` and `seer audit` as a user runs them: real processes, a real workspace store."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest

from engine import audit
from engine.users import UserError, Users, role_allows
from engine.workspace import Workspace
from tests.conftest import seer_cli


def users_cli(ws: Path, *args: str, password: str | None = None) -> object:
    import os
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "seer"
    return subprocess.run(
        [str(exe), "users", *args, "--workspace", str(ws)],
        input=None if password is None else password + "\n",
        stdin=subprocess.DEVNULL if password is None else None,
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )


def test_users_add_list_passwd_remove_and_the_audit_log(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = users_cli(ws, "add", "ana", "--role", "admin", "--password-stdin", password="s3cret-pass")
    assert r.returncode == 0, r.stderr
    r = users_cli(ws, "add", "bo", "--role", "viewer", "--password-stdin", password="viewer-pass")
    assert r.returncode == 0, r.stderr
    r = users_cli(ws, "list", "--json")
    assert json.loads(r.stdout) == [
        {"name": "ana", "role": "admin"},
        {"name": "bo", "role": "viewer"},
    ]
    store = Workspace(ws).store
    # the store keeps an argon2 hash, never the password
    row = store.query("SELECT password_hash FROM users WHERE name = 'ana'")[0]
    assert row["password_hash"].startswith("$argon2id$") and "s3cret" not in row["password_hash"]
    assert Users(store).verify("ana", "s3cret-pass").role == "admin"
    assert Users(store).verify("ana", "wrong-pass") is None

    r = users_cli(ws, "passwd", "ana", "--password-stdin", password="new-pass-123")
    assert r.returncode == 0, r.stderr
    assert Users(store).verify("ana", "new-pass-123") is not None
    assert Users(store).verify("ana", "s3cret-pass") is None

    # the last admin stays while others exist
    r = users_cli(ws, "remove", "ana")
    assert r.returncode == 2 and "last admin" in r.stderr and "Traceback" not in r.stderr
    r = users_cli(ws, "remove", "bo")
    assert r.returncode == 0, r.stderr

    # CI has no terminal: a clear sentence, not a hang
    r = users_cli(ws, "add", "cy", "--role", "editor")
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    r = users_cli(ws, "add", "bad name!", "--role", "editor", "--password-stdin", password="x" * 9)
    assert r.returncode == 2 and "not a valid user name" in r.stderr
    r = users_cli(ws, "add", "cy", "--role", "editor", "--password-stdin", password="short")
    assert r.returncode == 2 and "at least 8 characters" in r.stderr

    r = seer_cli("audit", "--json", "--workspace", str(ws))
    entries = json.loads(r.stdout)
    me = f"cli:{getpass.getuser()}"
    seen = [(e["actor"], e["action"], e["outcome"]) for e in reversed(entries)]
    assert seen == [
        (me, "user.add", "ok"),
        (me, "user.add", "ok"),
        (me, "user.passwd", "ok"),
        (me, "user.remove", "failed"),
        (me, "user.remove", "ok"),
        (me, "user.add", "failed"),  # the invalid name
        (me, "user.add", "failed"),  # the short password
    ]
    text = seer_cli("audit", "--limit", "2", "--workspace", str(ws))
    assert text.returncode == 0 and text.stdout.count("user.add") == 2


def test_model_commands_are_audited_with_their_outcome(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = seer_cli("models", "promote", "churn", "3", "--workspace", str(ws))
    assert r.returncode == 2
    (entry,) = audit.entries(Workspace(ws).store)
    assert entry["action"] == "model.promote" and entry["outcome"] == "failed"
    assert entry["model"] == "churn" and entry["version"] == 3
    assert entry["actor"] == f"cli:{getpass.getuser()}" and entry["detail"]


def test_roles_include_the_ones_below() -> None:
    assert role_allows("viewer", "view") and not role_allows("viewer", "save")
    assert role_allows("editor", "run") and not role_allows("editor", "publish")
    assert role_allows("publisher", "rollback") and not role_allows("publisher", "users")
    assert role_allows("admin", "audit") and role_allows("admin", "upload")
    assert role_allows("admin", "no-such-action")  # unknown actions need admin
    assert not role_allows("publisher", "no-such-action")
    assert not role_allows(None, "view")


def test_a_removed_only_admin_leaves_no_users(tmp_path: Path) -> None:
    users = Users(Workspace(tmp_path / "ws").store)
    users.add("solo", "admin", "password-1")
    users.remove("solo")
    assert users.count() == 0
    with pytest.raises(UserError, match='no user named "solo"'):
        users.remove("solo")


def test_seer_run_is_audited(spark: object, tmp_path: Path) -> None:
    from seer_cli.main import main
    from tests.conftest import write_flow

    flow = write_flow(
        tmp_path,
        [{"id": "gen", "op": "import.sample", "params": {"dataset": "credit_risk", "rows": 50}}],
        [],
        name="audited",
    )
    assert main(["run", str(flow), "--workspace", str(tmp_path / "ws")]) == 0
    (entry,) = audit.entries(Workspace(tmp_path / "ws").store)
    assert (entry["actor"], entry["action"], entry["flow"]) == (
        f"cli:{getpass.getuser()}",
        "run.start",
        "audited",
    )
    assert entry["run_id"] and entry["outcome"] == "ok"


def test_at_a_terminal_the_password_is_asked_twice(tmp_path: Path) -> None:
    import os
    import select
    import subprocess
    import sys

    def at_terminal(name: str, answers: list[str]) -> tuple[int, str]:
        """Run `seer users add` with a terminal as stdin, answering each prompt when it shows."""
        master, slave = os.openpty()
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "seer"), "users", "add", name, "--role", "editor"]
            + ["--workspace", str(tmp_path / "ws")],
            stdin=slave,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        os.close(slave)
        assert proc.stderr is not None
        seen, pending = b"", list(answers)
        while proc.poll() is None or select.select([proc.stderr], [], [], 0)[0]:
            ready, _, _ = select.select([proc.stderr], [], [], 30)
            assert ready, f"no prompt within 30 s; so far: {seen!r}"
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            prompts = seen.count(b"Password for") + seen.count(b"Repeat it")
            if pending and prompts > len(answers) - len(pending):  # a new prompt is waiting
                os.write(master, f"{pending.pop(0)}\n".encode())
        proc.wait(30)
        os.close(master)
        return proc.returncode, seen.decode()

    code, err = at_terminal("zed", ["zed-pass-123", "zed-pass-124"])
    assert code == 2 and "The two passwords differ" in err
    code, err = at_terminal("zed", ["zed-pass-123", "zed-pass-123"])
    assert code == 0 and "Password for zed" in err and "Repeat it" in err
    assert Users(Workspace(tmp_path / "ws").store).verify("zed", "zed-pass-123")
