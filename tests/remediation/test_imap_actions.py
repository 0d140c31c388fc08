"""Decisions in the action center landing on a real Dovecot: approve, undo and purge, checked on the server."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import Config, ImapTargetConfig, RemediationConfig
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, ActionType
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, FROZEN_START
from tests.remediation.conftest import CorpusMessage
from tests.remediation.dovecot import DovecotServer


@pytest.fixture
def case(tmp_path: Path, dovecot: DovecotServer, corpus: list[CorpusMessage], monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, list[str]]:
    """A tenant whose two mailboxes hold the same real messages as two mailboxes on the server.

    Each mailbox gets three messages in its Inbox and one in Junk, both on disk (which air-tui
    ingests) and on the server (where actions land).
    """
    tenant = tmp_path / "tenant"
    tenant.mkdir()
    for name in ("tenant.json", "directory.json"):
        shutil.copy(DEMO_TENANT / name, tenant / name)
    mailboxes = [dovecot.new_mailbox()[0] for _ in range(2)]
    for number, mailbox in enumerate(mailboxes):
        for index, message in enumerate(corpus[:4]):
            folder = "Junk Email" if index == 3 else "Inbox"
            directory = tenant / "mailboxes" / mailbox / folder / "cur"
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"17960000{number}{index}.M{index}P1.case:2,S").write_bytes(message.raw)
            dovecot.append(mailbox, "Junk" if folder == "Junk Email" else "INBOX", message.raw)
    monkeypatch.setenv("AIR_TUI_IMAP_PASSWORD", dovecot.master_password)
    return Workspace(tenant_dir=tenant, database=tmp_path / "db" / "air-tui.db"), mailboxes


def imap_service(workspace: Workspace, dovecot: DovecotServer, prefix: str = "01IMAP") -> AirService:
    target = ImapTargetConfig(host=dovecot.host, port=dovecot.port, security="none", username=dovecot.master_login_template, timeout_seconds=10)
    return AirService(
        workspace,
        analyst="ana",
        clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix),
        config=Config(remediation=RemediationConfig(target="imap", imap=target)),
    )


def copies_of(service: AirService, message_id: str) -> list[str]:
    """air-tui's ids of every ingested copy of the message with this Message-ID."""
    return [row[0] for row in service.store.db.execute("SELECT id FROM messages WHERE internet_message_id = ?", [message_id])]


def server_state(dovecot: DovecotServer, mailboxes: list[str]) -> dict[tuple[str, str], list[str]]:
    state = {}
    for mailbox in mailboxes:
        for folder in dovecot.folders(mailbox):
            state[(mailbox, folder)] = sorted(dovecot.message_ids(mailbox, folder))
    return {key: value for key, value in state.items() if value}


def test_soft_delete_and_its_undo_on_the_server(case, dovecot: DovecotServer, corpus: list[CorpusMessage]) -> None:
    workspace, mailboxes = case
    before = server_state(dovecot, mailboxes)
    with imap_service(workspace, dovecot) as service:
        service.ingest()
        wanted = {corpus[0].message_id, corpus[3].message_id}
        ids = [row[0] for row in service.store.db.execute("SELECT id, internet_message_id FROM messages") if row[1] in wanted]
        assert len(ids) == 4
        action = service.propose(ActionType.SOFT_DELETE, message_ids=ids)
        outcome = service.approve(action.id, comment="phish confirmed")
        assert outcome.status is ActionStatus.COMPLETED, outcome.message
        assert outcome.results == {"Succeeded": 4}
        for mailbox in mailboxes:
            assert sorted(dovecot.message_ids(mailbox, "Recoverable Items")) == sorted(wanted)
            assert corpus[0].message_id not in dovecot.message_ids(mailbox, "INBOX")
            assert dovecot.message_ids(mailbox, "Junk") == []
        froms = {row["from_folder"] for row in service.action_results(action.id)}
        assert froms == {"Inbox", "Junk Email"}
        assert service.undo(action.id).status is ActionStatus.UNDONE
    assert server_state(dovecot, mailboxes) == before


def test_move_to_junk_then_inbox_on_the_server(case, dovecot: DovecotServer, corpus: list[CorpusMessage]) -> None:
    workspace, mailboxes = case
    with imap_service(workspace, dovecot) as service:
        service.ingest()
        ids = copies_of(service, corpus[1].message_id)
        junk = service.propose(ActionType.MOVE_TO_JUNK, message_ids=ids)
        service.approve(junk.id)
        assert all(corpus[1].message_id in dovecot.message_ids(mailbox, "Junk") for mailbox in mailboxes)
        back = service.propose(ActionType.MOVE_TO_INBOX, message_ids=ids)
        assert service.approve(back.id).results == {"Succeeded": 2}
    assert all(corpus[1].message_id in dovecot.message_ids(mailbox, "INBOX") for mailbox in mailboxes)


def test_hard_delete_expunges_on_the_server(case, dovecot: DovecotServer, corpus: list[CorpusMessage]) -> None:
    workspace, mailboxes = case
    with imap_service(workspace, dovecot) as service:
        service.ingest()
        ids = copies_of(service, corpus[2].message_id)
        action = service.propose(ActionType.HARD_DELETE, message_ids=ids)
        assert service.approve(action.id).results == {"Succeeded": 2}
        results = service.action_results(action.id)
    for mailbox in mailboxes:
        assert all(corpus[2].message_id not in dovecot.message_ids(mailbox, folder) for folder in dovecot.folders(mailbox))
    assert {row["from_folder"] for row in results} == {"Inbox"}


def test_missing_password_fails_the_targets_and_a_retry_finishes(
    case, dovecot: DovecotServer, monkeypatch: pytest.MonkeyPatch, corpus: list[CorpusMessage], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    workspace, mailboxes = case
    monkeypatch.delenv("AIR_TUI_IMAP_PASSWORD")
    with imap_service(workspace, dovecot) as service:
        service.ingest()
        ids = copies_of(service, corpus[0].message_id)
        action = service.propose(ActionType.MOVE_TO_JUNK, message_ids=ids)
        outcome = service.approve(action.id)
        assert outcome.status is ActionStatus.FAILED
        assert "set the environment variable AIR_TUI_IMAP_PASSWORD" in outcome.message
        assert "Retry the action" in outcome.message
        rows = service.action_results(action.id)
        assert {row["result"] for row in rows} == {"Failed"}
        assert dovecot.master_password not in json.dumps(rows)
        assert all(corpus[0].message_id in dovecot.message_ids(mailbox, "INBOX") for mailbox in mailboxes)
        monkeypatch.setenv("AIR_TUI_IMAP_PASSWORD", dovecot.master_password)
        retried = service.retry(action.id, comment="password set")
        assert retried.status is ActionStatus.COMPLETED
        assert retried.results == {"Succeeded": 2}
    assert all(corpus[0].message_id in dovecot.message_ids(mailbox, "Junk") for mailbox in mailboxes)
    # The password reached the server, and nowhere else: not the database, its journal or the log.
    secret = dovecot.master_password.encode()
    stored = [workspace.database, workspace.database.with_name(workspace.database.name + "-wal")]
    assert all(secret not in path.read_bytes() for path in stored if path.exists())
    assert caplog.records, "the failed run logged why"
    assert dovecot.master_password not in caplog.text
