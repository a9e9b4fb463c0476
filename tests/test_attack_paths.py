"""A shared flow may only read and write inside the data roots: the workspace, the flow's
folder, --data-root folders and $SEER_DATA_ROOTS. Refused when the flow is validated, and again
when the node runs (a symbolic link inside a root that leads outside, a tampered run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.dataroots import DataRoots
from engine.flow import FlowError, load_flow, prepare_flow
from engine.runner import Runner, RunOptions

from .conftest import seer_cli, write_flow


def _problems(path: Path, **kw) -> str:
    with pytest.raises(FlowError) as err:
        prepare_flow(load_flow(path), **kw)
    return str(err.value)


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A secret file in a folder that is not a data root."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "secret.csv").write_text("token\nhunter2\n")
    return folder


@pytest.fixture()
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "op,params",
    [
        ("import.csv", {"path": "/etc/passwd"}),
        ("import.csv", {"path": "../private/secret.csv"}),
        ("import.csv", {"path": "../private/*.csv"}),
        ("import.csv", {"path": "file:///etc/passwd"}),
        ("import.csv", {"path": "~/.bashrc"}),
        ("import.parquet", {"path": "/etc"}),
        ("import.sql", {"url": "sqlite:////etc/passwd.db", "table": "t"}),
    ],
)
def test_reading_outside_the_data_roots_is_refused(
    flows: Path, outside: Path, workspace, op: str, params: dict
) -> None:
    path = write_flow(flows, [{"id": "n", "op": op, "params": params}], [])
    message = _problems(path, roots=DataRoots.for_flow(flows, workspace.root, env={}))
    assert "points outside the allowed data folders" in message
    assert "--data-root" in message and "SEER_DATA_ROOTS" in message
    assert f'{op} (node "n")' in message


def test_exports_and_model_names_cannot_leave_their_folders(flows: Path, workspace) -> None:
    nodes = [
        {"id": "g", "op": "import.sample", "params": {"rows": 10}},
        {"id": "e", "op": "export.csv", "params": {"path": "/tmp/../etc/cron.d/x.csv"}},
        {"id": "log", "op": "import.serving_log", "params": {"model": "../../../etc"}},
        {"id": "load", "op": "model.load", "params": {"name": "a/../../b"}},
    ]
    path = write_flow(flows, nodes, [("g.out", "e.in")])
    message = _problems(path, roots=DataRoots.for_flow(flows, workspace.root, env={}))
    assert (
        'export.csv (node "e") points outside the allowed data folders: /tmp/../etc/cron.d/x.csv'
        in message
    )
    assert (
        "The 'model' parameter of import.serving_log (node \"log\") must be a model name" in message
    )
    assert "The 'name' parameter of model.load (node \"load\") must be a model name" in message


def test_a_named_root_allows_a_folder(flows: Path, outside: Path, workspace) -> None:
    path = write_flow(
        flows, [{"id": "n", "op": "import.csv", "params": {"path": "../private/secret.csv"}}], []
    )
    prepare_flow(
        load_flow(path), roots=DataRoots.for_flow(flows, workspace.root, [outside], env={})
    )
    env = {"SEER_DATA_ROOTS": f"/nonexistent{os.pathsep}{outside}"}
    prepare_flow(load_flow(path), roots=DataRoots.for_flow(flows, workspace.root, env=env))


def test_the_cli_refuses_and_allows_with_data_root(
    flows: Path, outside: Path, tmp_path: Path
) -> None:
    path = write_flow(
        flows, [{"id": "n", "op": "import.csv", "params": {"path": "../private/secret.csv"}}], []
    )
    env = {"SEER_DATA_ROOTS": ""}
    res = seer_cli("validate", str(path), "--workspace", str(tmp_path / "ws"), env=env)
    assert res.returncode == 2
    assert "points outside the allowed data folders" in res.stderr and "Traceback" not in res.stderr
    res = seer_cli(
        "validate",
        str(path),
        "--workspace",
        str(tmp_path / "ws"),
        "--data-root",
        str(outside),
        env=env,
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.spark
def test_a_link_inside_a_root_that_leads_outside_is_refused_at_run_time(
    spark, flows: Path, outside: Path, workspace
) -> None:
    data = flows / "data"
    data.mkdir()
    (data / "ok.csv").write_text("token\nfine\n")
    os.symlink(outside / "secret.csv", data / "link.csv")
    path = write_flow(
        flows, [{"id": "n", "op": "import.csv", "params": {"path": "data/*.csv"}}], []
    )
    prepared = prepare_flow(
        load_flow(path), roots=DataRoots.for_flow(flows, workspace.root, env={})
    )
    result = Runner(workspace).run(prepared, RunOptions())
    node = result.nodes["n"]
    assert node.status == "failed"
    assert "points outside the allowed data folders" in node.error and "link.csv" in node.error
    # a tampered run (params changed after validation) meets the same check
    prepared.nodes["n"].params["path"] = "/etc/passwd"
    result = Runner(workspace).run(prepared, RunOptions())
    assert "points outside the allowed data folders: /etc/passwd" in result.nodes["n"].error
    assert "hunter2" not in str(result.to_json())


def test_roots_are_compared_as_folders_not_string_prefixes(tmp_path: Path) -> None:
    roots = DataRoots([tmp_path / "ws"])
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws-other").mkdir()
    assert roots.contains(tmp_path / "ws" / "a.csv")
    assert not roots.contains(tmp_path / "ws-other" / "a.csv")
    assert not roots.contains(tmp_path / "ws" / ".." / "ws-other")
    assert not roots.contains("s3a://bucket/x.csv")
    assert DataRoots(["s3a://bucket/data"]).contains("s3a://bucket/data/x.csv")
    assert not DataRoots(["s3a://bucket/data"]).contains("s3a://bucket/database/x.csv")
