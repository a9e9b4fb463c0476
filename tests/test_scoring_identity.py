"""The studio uses a scoring service only when it serves the studio's own workspace: another
workspace's `seer serve` on the port is reported and left alone (real `seer serve` processes)."""

from __future__ import annotations

import httpx

from engine.workspace import Workspace
from studio.services import ScoringService
from tests.test_serving import start_service


def test_another_workspaces_service_on_the_port_is_never_used(tmp_path) -> None:
    ours, theirs = Workspace(tmp_path / "ours"), Workspace(tmp_path / "theirs")
    assert ours.store.workspace_id() != theirs.store.workspace_id()
    assert ours.store.workspace_id() == Workspace(tmp_path / "ours").store.workspace_id()

    proc, url = start_service(theirs.root)
    scoring = ScoringService(ours, port=int(url.rsplit(":", 1)[1]))
    try:
        health = httpx.get(f"{url}/healthz").json()
        assert health["workspace"] == theirs.store.workspace_id() and health["status"] == "ok"
        taken = scoring.port
        assert not scoring.healthy()
        assert not scoring.status().startswith("running")

        assert scoring.ensure_started()
        assert scoring.port != taken
        assert httpx.get(f"{scoring.url}/healthz").json()["workspace"] == ours.store.workspace_id()
        status = scoring.status()
        assert status.startswith("running") and f"port {taken}" in status, status
        assert "another workspace" in status, status
        # the other workspace's service is untouched
        assert proc.poll() is None
        assert httpx.get(f"{url}/healthz").json()["workspace"] == theirs.store.workspace_id()
    finally:
        scoring.stop()
        proc.terminate()
        proc.wait(10)
