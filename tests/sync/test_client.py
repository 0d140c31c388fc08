"""The sync client's guards and CouchDB semantics: URLs, passwords, revisions, bad documents, the commands."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from air_tui.cli import main
from air_tui.domain.config import ConfigError, SyncConfig, load_config
from air_tui.sync.couch import CouchClient
from tests.sync.conftest import DATABASE, team_config
from tests.sync.couchserver import CouchServer
from tests.sync.test_sync import event_ids


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read the keyring of the machine the tests run on."""
    import keyring

    monkeypatch.setattr(keyring, "get_password", lambda service, username: None)
    monkeypatch.delenv("AIR_TUI_SYNC_PASSWORD", raising=False)


def test_plain_http_to_another_host_needs_insecure(desks) -> None:
    desk = desks("ana")
    desk.url = "http://couch.soc.example:5984"
    with pytest.raises(ConfigError, match=r"plain HTTP to couch\.soc\.example.*pass --insecure"):
        desk.open()
    with desk.open(insecure_sync=True) as service:
        assert service.team is not None
        assert service.team.client.url == "http://couch.soc.example:5984"


def test_https_verifies_certificates_by_default() -> None:
    client = CouchClient(SyncConfig(url="https://couch.soc.example:6984"), password=None)
    try:
        assert client._http._transport._pool._ssl_context.verify_mode.name == "CERT_REQUIRED"
    finally:
        client.close()


def test_a_password_in_the_url_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[sync]\nurl = "https://soc:hunter2@couch.soc.example"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="must not contain a user name or password"):
        load_config(path)


def test_a_missing_password_names_where_to_put_it(desks) -> None:
    desk = desks("ana", username="soc")
    with pytest.raises(ConfigError, match=r"no password for soc: set the environment variable AIR_TUI_SYNC_PASSWORD, or store it with `keyring set air-tui-sync soc`"):
        desk.open()


class Recording(httpx.BaseTransport):
    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.headers: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.headers.append(request.headers.get("authorization", ""))
        return self.inner.handle_request(request)


def test_a_wrong_password_is_an_error_and_the_password_is_stored_nowhere(desks, monkeypatch: pytest.MonkeyPatch, isolated_data_dir: Path) -> None:
    password = "Pw-7f3c1d9e-never-stored"
    monkeypatch.setenv("AIR_TUI_SYNC_PASSWORD", password)
    desk = desks("ana", investigated=True, username="soc")
    recording = Recording()
    with desk.open(sync_transport=recording) as service:
        report = service.sync_now()
        assert not report.offline
        assert "rejected the login for database soc (HTTP 401" in report.error
        assert "Check [sync] username and the password" in report.error
        status = service.sync_status()
        assert status.state == "error"
        assert status.waiting == len(event_ids(service))
    assert recording.headers
    assert all(header.startswith("Basic ") for header in recording.headers)
    files = [path for path in desk.workspace.database.parent.iterdir() if path.is_file()]
    files += [path for path in isolated_data_dir.rglob("*") if path.is_file()]
    assert any(path.name.endswith("-wal") or path.suffix == ".db" for path in files)
    for path in files:
        assert password.encode() not in path.read_bytes(), path


def test_updates_and_deletes_need_the_current_revision(server: CouchServer) -> None:
    client = CouchClient(SyncConfig(url=server.url, database=DATABASE), password=None)
    try:
        client.ensure_database()
        client.ensure_database()  # a second console finding it made is fine
        outcome, created = client.create("lease-test", {"holder": "ana"})
        assert outcome == "created"
        assert created is not None
        first_rev = created["_rev"]
        again, holder = client.create("lease-test", {"holder": "ben"})
        assert again == "conflict"
        assert holder is not None
        assert holder["holder"] == "ana"
        second_rev = client.update("lease-test", {"holder": "ana", "renewed": True}, first_rev)
        assert second_rev
        assert second_rev != first_rev
        assert client.update("lease-test", {"holder": "ben"}, first_rev) is None
        assert client.delete("lease-test", first_rev) is False
        assert client.delete("lease-test", second_rev) is True
        assert client.get("lease-test") is None
    finally:
        client.close()


def test_a_long_poll_with_nothing_new_returns_by_our_own_timeout(server: CouchServer) -> None:
    client = CouchClient(SyncConfig(url=server.url, database=DATABASE, timeout_seconds=5), password=None)
    try:
        client.ensure_database()
        end = client.changes("0", limit=10).last_seq
        started = time.monotonic()
        page = client.changes(end, limit=10, wait=1.0)
        assert page.docs == []
        assert page.last_seq == end
        assert time.monotonic() - started < 10.0
    finally:
        client.close()


def test_documents_that_carry_no_valid_event_are_kept_aside_with_the_reason(desks, server: CouchServer) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        expected = event_ids(first)
    for doc_id, body in {
        "01BROKENCLOCK000000000000A": {"kind": "event", "type": "alert.raised", "actor": "x", "time": "2026-11-30T09:00:00+00:00", "payload": {}},
        "01BROKENTYPE0000000000000B": {"kind": "event", "type": "alert.exploded", "actor": "x", "time": "2026-11-30T09:00:00+00:00", "payload": {}, "clock": 4},
        "decision:01NOPE:decide": {"kind": "decision", "action_id": "01NOPE"},
        "notes-from-an-admin": {"text": "not ours"},
    }.items():
        assert server.put(DATABASE, doc_id, body).status_code == 201
    with ben.open() as second:
        report = second.sync_now()
        assert report.error == ""
        assert report.rejected == 3
        assert event_ids(second) == expected
        reasons = {row["doc_id"]: row["reason"] for row in second.sync_status().rejected}
    assert set(reasons) == {"01BROKENCLOCK000000000000A", "01BROKENTYPE0000000000000B", "decision:01NOPE:decide"}
    assert reasons["01BROKENCLOCK000000000000A"] == "event 01BROKENCLOCK000000000000A has no valid clock (None)"
    assert reasons["01BROKENTYPE0000000000000B"].startswith("event 01BROKENTYPE0000000000000B is not valid: type: ")
    assert reasons["decision:01NOPE:decide"] == "a decision document without its events"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_sync_commands(desks, server: CouchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    desk = desks("ana", investigated=True)
    tenant = desk.workspace.tenant_dir
    config = tmp_path / "team.toml"
    config.write_text(f'[sync]\nurl = "{server.url}"\ndatabase = "{DATABASE}"\n', encoding="utf-8")
    monkeypatch.setenv("AIR_TUI_CONFIG", str(config))
    code, out, err = run_cli(capsys, "sync", "status", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 0
    assert "State:        never synced" in out
    code, out, err = run_cli(capsys, "sync", "now", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 0
    assert out.startswith("Synced: ")
    assert " events sent, 0 events received." in out
    code, out, err = run_cli(capsys, "sync", "status", "--json", "--tenant", str(tenant), "--analyst", "ana")
    status = json.loads(out)
    assert code == 0
    assert status["state"] == "synced"
    assert status["waiting"] == 0
    assert status["url"] == server.url
    # A one-off command takes the automation lease for its work and hands it back at its end.
    code, out, err = run_cli(capsys, "investigate", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 0
    lease = next(doc for doc in server.docs(DATABASE) if doc["_id"] == "automation-lease")
    assert lease["analyst"] == "ana"
    assert lease["released"] is True
    code, out, err = run_cli(capsys, "sync", "status", "--tenant", str(tenant), "--analyst", "ana")
    assert "Automation:   no console holds it now" in out
    server.kill()
    code, out, err = run_cli(capsys, "sync", "now", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 1
    assert "sync failed: Cannot reach the sync server" in err
    code, out, err = run_cli(capsys, "sync", "status", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 0
    assert "State:        offline since " in out
    assert "1 failed attempt" in out
    config.write_text("", encoding="utf-8")
    code, out, err = run_cli(capsys, "sync", "status", "--tenant", str(tenant), "--analyst", "ana")
    assert code == 1
    assert "Team sync is off: set [sync] url" in err


def test_team_config_defaults() -> None:
    config = team_config("https://couch.soc.example")
    assert config.sync.enabled
    assert config.sync.interval_seconds == 15
    assert config.sync.database == DATABASE
    with pytest.raises(ValueError, match="is not a CouchDB database name"):
        SyncConfig(url="https://couch.soc.example", database="SOC Team")


def test_sync_watch_does_the_automation_and_syncs_each_round(desks, server: CouchServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    desk = desks("ana")
    config = tmp_path / "team.toml"
    config.write_text(f'[sync]\nurl = "{server.url}"\ndatabase = "{DATABASE}"\n', encoding="utf-8")
    monkeypatch.setenv("AIR_TUI_CONFIG", str(config))
    started = time.monotonic()
    code, out, err = run_cli(capsys, "sync", "watch", "--rounds", "2", "--wait", "1", "--json", "--tenant", str(desk.workspace.tenant_dir), "--analyst", "ana")
    rounds = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rounds) == 2
    assert rounds[0]["automation"] is True
    assert rounds[0]["alerts_raised"] > 10
    assert rounds[1]["alerts_raised"] == 0
    assert rounds[1]["sync"]["error"] == ""
    # The wait between the rounds was a long poll of one second, ended by our own timeout at worst.
    assert time.monotonic() - started < 120
    events = [doc for doc in server.docs(DATABASE) if doc.get("kind") == "event"]
    assert sum(1 for doc in events if doc["type"] == "alert.raised") == rounds[0]["alerts_raised"]
    code, out, err = run_cli(capsys, "sync", "watch", "--rounds", "-1", "--tenant", str(desk.workspace.tenant_dir), "--analyst", "ana")
    assert code == 1
    assert "--rounds and --wait take a number of 0 or more" in err
