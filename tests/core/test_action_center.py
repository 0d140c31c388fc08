"""The action center on copies of the investigated demo tenant: decisions, execution, undo, roles."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import AccessConfig, ActionsConfig, Config
from air_tui.domain.event import EventType
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind, Folder, TargetResult
from air_tui.remediation.mail import DemoMailBackend, Move, Outcome
from air_tui.service import ActionError, AirService, PermissionDenied
from air_tui.store import ledger, queries
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, FROZEN_START

LOTTE = "lotte.dewit@larkspur.example"
START = FROZEN_START + timedelta(minutes=10)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One investigated copy of the demo tenant; each test works on a copy of it."""
    root = tmp_path_factory.mktemp("action-center")
    shutil.copytree(DEMO_TENANT, root / "tenant", ignore=shutil.ignore_patterns(".keep"))
    workspace = Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db")
    with AirService(workspace, analyst="analyst1", clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)), new_id=SequentialIds("01TMPL"), config=Config()) as service:
        service.investigate()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Workspace:
    shutil.copytree(template, tmp_path / "case")
    return Workspace(tenant_dir=tmp_path / "case" / "tenant", database=tmp_path / "case" / "db" / "air-tui.db")


def open_service(workspace: Workspace, analyst: str = "ana", *, prefix: str = "01CTR", config: Config | None = None, read_only: bool = False, start=START) -> AirService:
    return AirService(
        workspace,
        analyst=analyst,
        clock=FrozenClock(start, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix),
        config=config or Config(),
        read_only=read_only,
    )


@pytest.fixture
def service(workspace: Workspace) -> Iterator[AirService]:
    with open_service(workspace) as opened:
        yield opened


def pending(service: AirService, action_type: ActionType = ActionType.SOFT_DELETE) -> list:
    return [row.action for row in service.actions(ActionStatus.PENDING) if row.action.action_type is action_type]


def file_folder(workspace: Workspace, mailbox: str, key: str) -> str | None:
    """The folder a message's Maildir file is in on disk, or None when it is gone."""
    for folder in (workspace.tenant_dir / "mailboxes" / mailbox).iterdir():
        for sub in ("cur", "new"):
            directory = folder / sub
            if directory.is_dir() and any(name.split(":", 1)[0] == key for name in os.listdir(directory)):
                return folder.name
    return None


def keys(service: AirService, action) -> dict[str, tuple[str, str]]:
    """Message id to (mailbox, Maildir key) for each target of the action."""
    return {target.message_id: (target.mailbox, service.message(target.message_id).location.key) for target in action.targets}


def event_types(service: AirService) -> list[str]:
    return [row[0] for row in service.store.db.execute("SELECT type FROM events ORDER BY seq")]


# Approve, reject, change parameters -------------------------------------------------------------


def test_approval_is_committed_before_any_message_moves(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[0]
    seen_from_outside: list[int] = []

    def progress(done: int, total: int) -> None:
        # Another connection reads the decision while the action runs, so it was committed first.
        with sqlite3.connect(workspace.database) as other:
            seen_from_outside.append(other.execute("SELECT COUNT(*) FROM decisions WHERE action_id = ?", [action.id]).fetchone()[0])

    service.approve(action.id, comment="clear phish", on_progress=progress)
    assert seen_from_outside and all(count == 1 for count in seen_from_outside)
    types = event_types(service)
    assert types.index(EventType.ACTION_DECIDED.value) < types.index(EventType.ACTION_TARGETS_STARTED.value)


def test_approval_moves_every_target_and_records_where_from(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[1]
    before = {message_id: file_folder(workspace, *where) for message_id, where in keys(service, action).items()}
    outcome = service.approve(action.id, comment="clear phish")
    assert outcome.status is ActionStatus.COMPLETED
    assert outcome.results == {"Succeeded": len(action.targets)}
    for message_id, where in keys(service, action).items():
        assert file_folder(workspace, *where) == Folder.RECOVERABLE.value
    results = {row["message_id"]: row for row in service.action_results(action.id)}
    assert {message_id: row["from_folder"] for message_id, row in results.items()} == before
    decision = service.decisions(action.id)[-1]
    assert (decision.kind, decision.analyst, decision.comment) == (DecisionKind.APPROVED, "ana", "clear phish")


def test_reject_needs_a_reason_and_changes_nothing(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[0]
    with pytest.raises(ActionError, match="needs a reason"):
        service.reject(action.id, reason="  ")
    outcome = service.reject(action.id, reason="newsletter, not phish")
    assert outcome.status is ActionStatus.REJECTED
    for message_id, where in keys(service, action).items():
        assert file_folder(workspace, *where) == service.message(message_id).location.folder
    with pytest.raises(ActionError, match="is rejected, so it cannot be decided: only pending actions can. It was rejected by ana at "):
        service.approve(action.id)


def test_approver_changes_soft_delete_to_move_to_junk(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[0]
    outcome = service.approve(action.id, parameters={"action_type": "Move to Junk Email"})
    assert outcome.action.action_type is ActionType.MOVE_TO_JUNK
    assert all(file_folder(workspace, *where) == Folder.JUNK.value for where in keys(service, action).values())
    assert service.decisions(action.id)[-1].parameters == {"action_type": "Move to Junk Email"}


def test_parameter_change_to_an_unknown_type_names_the_choices(service: AirService) -> None:
    action = pending(service)[0]
    with pytest.raises(ActionError, match="Cannot change Soft delete to 'Block URL': choose one of Soft delete, Hard delete"):
        service.approve(action.id, parameters={"action_type": "Block URL"})
    assert service.action_row(action.id).action.status is ActionStatus.PENDING


def test_hard_delete_says_it_cannot_be_undone_and_purges(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[0]
    outcome = service.approve(action.id, parameters={"action_type": "Hard delete"})
    assert "Cannot be undone" in outcome.action.impact
    assert all(file_folder(workspace, *where) is None for where in keys(service, action).values())
    with pytest.raises(ActionError, match=r"\(Hard delete\) cannot be undone: the messages were purged"):
        service.undo(action.id)


# Undo ------------------------------------------------------------------------------------------------


def test_undo_returns_each_message_to_the_folder_it_came_from(service: AirService, workspace: Workspace) -> None:
    action = next(action for action in pending(service) if len({target.folder for target in action.targets}) > 1)
    before = {message_id: file_folder(workspace, *where) for message_id, where in keys(service, action).items()}
    assert len(set(before.values())) > 1
    service.approve(action.id)
    outcome = service.undo(action.id, comment="false positive")
    assert outcome.status is ActionStatus.UNDONE
    assert {message_id: file_folder(workspace, *where) for message_id, where in keys(service, action).items()} == before
    assert [decision.kind for decision in service.decisions(action.id)] == [DecisionKind.APPROVED, DecisionKind.UNDO]
    assert service.action_row(action.id).action.status is ActionStatus.UNDONE
    with pytest.raises(ActionError, match="undone already"):
        service.undo(action.id)


def test_undo_of_a_pending_action_is_refused(service: AirService) -> None:
    action = pending(service)[0]
    with pytest.raises(ActionError, match="only an action that ran can be undone"):
        service.undo(action.id)


def test_undo_leaves_a_message_that_was_already_in_place(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[1]
    first = action.targets[0]
    mailbox, key = keys(service, action)[first.message_id]
    service.tenant.move_message(mailbox, key, Folder.RECOVERABLE)
    service.approve(action.id)
    results = {row["message_id"]: row["result"] for row in service.action_results(action.id)}
    assert results[first.message_id] == TargetResult.ALREADY_IN_DESTINATION.value
    service.undo(action.id)
    undone = {row["message_id"] for row in service.action_results(action.id, undo=True)}
    assert first.message_id not in undone
    assert file_folder(workspace, mailbox, key) == Folder.RECOVERABLE.value


def test_undo_puts_removed_forwarding_back(service: AirService, workspace: Workspace) -> None:
    action = pending(service, ActionType.REMOVE_FORWARDING)[0]
    settings_path = workspace.tenant_dir / "settings" / "mailboxes.json"
    before = json.loads(settings_path.read_text())[LOTTE]["forwarding"]
    assert before
    service.approve(action.id)
    assert json.loads(settings_path.read_text())[LOTTE]["forwarding"] is None
    assert service.undo(action.id).status is ActionStatus.UNDONE
    assert json.loads(settings_path.read_text())[LOTTE]["forwarding"] == before


def test_undo_puts_removed_inbox_rule_back_in_place(service: AirService, workspace: Workspace) -> None:
    action = pending(service, ActionType.REMOVE_INBOX_RULE)[0]
    settings_path = workspace.tenant_dir / "settings" / "mailboxes.json"
    before = json.loads(settings_path.read_text())[LOTTE]["inbox_rules"]
    service.approve(action.id)
    assert len(json.loads(settings_path.read_text())[LOTTE]["inbox_rules"]) == len(before) - 1
    service.undo(action.id)
    assert json.loads(settings_path.read_text())[LOTTE]["inbox_rules"] == before


# Overlapping investigations -------------------------------------------------------------------------


def overlapping_pair(service: AirService) -> tuple:
    actions = pending(service)
    for first in actions:
        for second in actions:
            if first.investigation_id != second.investigation_id and {t.message_id for t in first.targets} & {t.message_id for t in second.targets}:
                return first, second
    raise AssertionError("The demo tenant has no overlapping actions")


def test_same_messages_approved_twice_within_the_hour_run_once(service: AirService, workspace: Workspace) -> None:
    first, second = overlapping_pair(service)
    shared = {t.message_id for t in first.targets} & {t.message_id for t in second.targets}
    service.approve(first.id)
    moved_before = [row for row in service.store.db.query("SELECT * FROM action_intents WHERE action_id = ?", [second.id])]
    assert moved_before == []
    service.approve(second.id)
    results = {row["message_id"]: row for row in service.action_results(second.id)}
    for message_id in shared:
        assert results[message_id]["result"] == TargetResult.ALREADY_IN_DESTINATION.value
        assert results[message_id]["note"].startswith(f"Handled by action {first.id}")
    intents = {row["target_id"] for row in service.store.db.query("SELECT target_id FROM action_intents WHERE action_id = ?", [second.id])}
    assert intents == {t.message_id for t in second.targets} - shared
    assert all(results[message_id]["result"] == TargetResult.SUCCEEDED.value for message_id in intents)


def test_after_the_window_the_same_messages_are_acted_on_again(workspace: Workspace) -> None:
    with open_service(workspace) as service:
        first, second = overlapping_pair(service)
        service.approve(first.id)
        service.undo(first.id)
    with open_service(workspace, prefix="01LATER", start=START + timedelta(hours=2)) as later:
        later.approve(second.id)
        results = {row["message_id"]: row for row in later.action_results(second.id)}
    shared = {t.message_id for t in first.targets} & {t.message_id for t in second.targets}
    assert all(results[message_id]["result"] == TargetResult.SUCCEEDED.value and not results[message_id]["note"] for message_id in shared)


# Block list -----------------------------------------------------------------------------------------


def write_new_mail(workspace: Workspace, mailbox: str, sender: str, name: str = "1796000000.M1P1.larkspur") -> str:
    inbox = workspace.tenant_dir / "mailboxes" / mailbox / "Inbox" / "new"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(
        f"From: Billing <{sender}>\r\nTo: {mailbox}\r\nSubject: Invoice overdue\r\n"
        "Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <blocked-1@example.test>\r\n\r\nPay now.\r\n".encode()
    )
    return name


def test_blocked_sender_domain_junks_and_flags_new_mail_at_ingest(service: AirService, workspace: Workspace) -> None:
    action = service.propose(ActionType.BLOCK_DOMAIN, value="Pay-Portal.Example.")
    assert action.block.value == "pay-portal.example"
    service.approve(action.id)
    [entry] = service.block_entries(active_only=True)
    assert (entry["kind"], entry["value"], entry["added_by"]) == ("domain", "pay-portal.example", "ana")
    mailbox = "margot.visser@larkspur.example"
    name = write_new_mail(workspace, mailbox, "billing@mail.pay-portal.example")
    service.ingest()
    row = service.store.db.execute("SELECT id, folder FROM messages WHERE key = ?", [name]).fetchone()
    assert row[1] == Folder.JUNK.value
    assert file_folder(workspace, mailbox, name) == Folder.JUNK.value
    flagged = service.blocked_message(row[0])
    assert (flagged["entry_id"], flagged["from_folder"], flagged["result"]) == (action.id, "Inbox", "Succeeded")
    assert [found.id for found in service.explore_window("blocked:yes", 0, 10)] == [row[0]]
    assert service.explore_count("blocked:no").count == service.message_count() - 1


def test_removed_block_entry_no_longer_matches(service: AirService, workspace: Workspace) -> None:
    action = service.propose(ActionType.BLOCK_SENDER, value="billing@pay-portal.example")
    service.approve(action.id)
    assert service.undo(action.id).status is ActionStatus.UNDONE
    assert service.block_entries(active_only=True) == []
    assert service.block_entries()[0]["removed_by"] == "ana"
    name = write_new_mail(workspace, "margot.visser@larkspur.example", "billing@pay-portal.example")
    service.ingest()
    assert file_folder(workspace, "margot.visser@larkspur.example", name) == "Inbox"


def test_expired_block_entry_no_longer_matches(workspace: Workspace) -> None:
    with open_service(workspace) as service:
        action = service.propose(ActionType.BLOCK_SENDER, value="billing@pay-portal.example", expires="1")
        service.approve(action.id)
    name = write_new_mail(workspace, "margot.visser@larkspur.example", "billing@pay-portal.example")
    with open_service(workspace, prefix="01LATE", start=START + timedelta(days=2)) as later:
        later.ingest()
        assert later.block_entries(active_only=True) == []
    assert file_folder(workspace, "margot.visser@larkspur.example", name) == "Inbox"


@pytest.mark.parametrize(
    ("action_type", "value", "message"),
    [
        (ActionType.BLOCK_SENDER, "not an address", "'not an address' is not an email address"),
        (ActionType.BLOCK_DOMAIN, "exa mple", "'exa mple' is not a domain name"),
        (ActionType.BLOCK_FILE, "abc123", "'abc123' is not a SHA-256"),
        (ActionType.BLOCK_FILE, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", "the SHA-256 of an empty file"),
        (ActionType.BLOCK_URL, "not a url", "'not a url' is not a web URL"),
        (ActionType.BLOCK_URL, "javascript:alert(1)", "is not a web URL"),
        (ActionType.BLOCK_DOMAIN, "mail.larkspur.example", "in the organisation's own domain"),
        (ActionType.BLOCK_SENDER, "ceo@larkspur.example", "in the organisation's own domain"),
        (ActionType.BLOCK_URL, "https://intranet.larkspur.example/login", "in the organisation's own domain"),
    ],
)
def test_block_values_are_checked(service: AirService, action_type: ActionType, value: str, message: str) -> None:
    with pytest.raises(ActionError, match=message):
        service.propose(action_type, value=value)


def test_block_url_host_matches_every_url_on_it(service: AirService, workspace: Workspace) -> None:
    action = service.propose(ActionType.BLOCK_URL, value="https://Lure.Example/")
    service.approve(action.id)
    inbox = workspace.tenant_dir / "mailboxes" / "margot.visser@larkspur.example" / "Inbox" / "new"
    (inbox / "1796000001.M2P2.larkspur").write_bytes(
        b"From: a@b.example\r\nTo: margot.visser@larkspur.example\r\nSubject: x\r\nMessage-ID: <u1@b.example>\r\n\r\n"
        b"See https://cdn.lure.example/path?q=1 now\r\n"
    )
    service.ingest()
    assert file_folder(workspace, "margot.visser@larkspur.example", "1796000001.M2P2.larkspur") == Folder.JUNK.value


# Accounts and investigations -------------------------------------------------------------------------


def test_disable_user_records_the_account_and_undo_enables_it(service: AirService, workspace: Workspace) -> None:
    directory = workspace.tenant_dir / "directory.json"

    def account() -> dict:
        return next(user for user in json.loads(directory.read_text())["users"] if user["address"] == LOTTE)

    action = service.propose(ActionType.DISABLE_USER, user=LOTTE.upper())
    assert action.user == LOTTE
    service.approve(action.id)
    assert account()["enabled"] is False
    revoked = account()["sessions_revoked_at"]
    assert revoked
    assert service.undo(action.id).status is ActionStatus.UNDONE
    assert account()["enabled"] is True
    assert account()["sessions_revoked_at"] == revoked


def test_disable_user_of_unknown_account_is_refused(service: AirService) -> None:
    with pytest.raises(ActionError, match="No user 'someone@elsewhere.example' in the tenant's directory"):
        service.propose(ActionType.DISABLE_USER, user="someone@elsewhere.example")


def test_start_investigation_action_starts_one_once(service: AirService) -> None:
    message_id = pending(service)[0].targets[0].message_id
    action = service.propose(ActionType.START_INVESTIGATION, message_ids=[message_id])
    alerts_before = len(service.alert_queue())
    outcome = service.approve(action.id)
    assert outcome.status is ActionStatus.COMPLETED
    assert len(service.alert_queue()) == alerts_before + 1
    # Starting from the same action again returns the same alert rather than a second one.
    target = service.action_row(action.id).action.investigate
    first_alert = json.loads(service.action_results(action.id)[0]["detail"])["alert_id"]
    assert service._start_from_action(target, f"action:{action.id}") == first_alert
    assert len(service.alert_queue()) == alerts_before + 1


# Roles, read-only and four eyes ----------------------------------------------------------------------


def roles(**analysts: str) -> Config:
    return Config(access=AccessConfig(analysts=analysts))


def test_reader_cannot_decide(workspace: Workspace) -> None:
    with open_service(workspace, "rui", config=roles(rui="reader", ana="admin")) as service:
        action = pending(service)[0]
        with pytest.raises(PermissionDenied, match="rui has the reader role, so may only view"):
            service.approve(action.id)
        assert service.decisions(action.id) == []


def test_unlisted_analyst_only_views(workspace: Workspace) -> None:
    with open_service(workspace, "mallory", config=roles(ana="admin")) as service:
        assert service.access.role == "reader"
        with pytest.raises(PermissionDenied, match=r"mallory is not listed under \[access.analysts\], so may only view"):
            service.reject(pending(service)[0].id, reason="no")


def test_operator_approves_soft_delete_but_not_hard_delete_or_blocks(workspace: Workspace) -> None:
    with open_service(workspace, "oli", config=roles(oli="operator")) as service:
        first, second = pending(service)[:2]
        assert service.approve(first.id).status is ActionStatus.COMPLETED
        with pytest.raises(PermissionDenied, match="Hard delete needs the admin role because it cannot be undone"):
            service.approve(second.id, parameters={"action_type": "Hard delete"})
        block = service.propose(ActionType.BLOCK_SENDER, value="x@pay-portal.example")
        with pytest.raises(PermissionDenied, match="changes the tenant's block list"):
            service.approve(block.id)


def test_read_only_turns_decisions_and_proposals_off(workspace: Workspace) -> None:
    with open_service(workspace, read_only=True) as service:
        action = pending(service)[0]
        for attempt in (
            lambda: service.approve(action.id),
            lambda: service.reject(action.id, reason="x"),
            lambda: service.propose(ActionType.BLOCK_SENDER, value="x@pay-portal.example"),
        ):
            with pytest.raises(PermissionDenied, match="read-only"):
                attempt()
        assert service.remove_after_delivery() == []


def test_four_eyes_keeps_the_proposer_from_approving(workspace: Workspace) -> None:
    config = Config(access=AccessConfig(analysts={"ana": "admin", "ben": "admin"}, four_eyes=["Block sender"]))
    with open_service(workspace, "ana", config=config) as ana:
        action = ana.propose(ActionType.BLOCK_SENDER, value="x@pay-portal.example")
        with pytest.raises(PermissionDenied, match="needs a second analyst"):
            ana.approve(action.id)
    with open_service(workspace, "ben", prefix="01BEN", config=config) as ben:
        assert ben.approve(action.id).status is ActionStatus.COMPLETED


def test_changing_into_a_four_eyes_type_makes_the_approver_the_proposer(workspace: Workspace) -> None:
    config = Config(access=AccessConfig(four_eyes=["Hard delete"]))
    with open_service(workspace, "ana", config=config) as ana:
        action = pending(ana)[0]
        outcome = ana.approve(action.id, parameters={"action_type": "Hard delete"})
        assert outcome.status is ActionStatus.PENDING
        assert "needs a second analyst" in outcome.message
        changed = ana.action_row(action.id).action
        assert (changed.action_type, changed.proposed_by) == (ActionType.HARD_DELETE, "ana")
        with pytest.raises(PermissionDenied):
            ana.approve(action.id)
    with open_service(workspace, "ben", prefix="01BEN", config=config) as ben:
        assert ben.approve(action.id).status is ActionStatus.COMPLETED


def test_unknown_four_eyes_type_is_a_config_error(workspace: Workspace) -> None:
    from air_tui.domain.config import ConfigError

    with pytest.raises(ConfigError, match="four_eyes names unknown action types: Purge"):
        open_service(workspace, config=Config(access=AccessConfig(four_eyes=["Purge"])))


# Bulk decisions -------------------------------------------------------------------------------------


def one_investigation(service: AirService) -> list:
    by_investigation: dict[str, list] = {}
    for row in service.actions(ActionStatus.PENDING):
        by_investigation.setdefault(row.action.investigation_id, []).append(row.action)
    return max(by_investigation.values(), key=len)


def test_preview_counts_messages_per_mailbox(service: AirService) -> None:
    actions = [action for action in pending(service) if len(action.targets) > 2][:1]
    preview = service.preview([action.id for action in actions])
    assert preview.problems == []
    assert sum(row.messages for row in preview.rows) == len(actions[0].targets)
    assert {row.mailbox for row in preview.rows} == {target.mailbox for target in actions[0].targets}
    assert all(row.present == row.messages for row in preview.rows)


def test_bulk_approval_across_types_in_one_investigation(service: AirService, workspace: Workspace) -> None:
    actions = one_investigation(service)
    assert len({action.action_type for action in actions}) == 3
    outcomes = service.decide_many([action.id for action in actions], "approved", comment="takeover confirmed")
    assert {outcome.status for outcome in outcomes} == {ActionStatus.COMPLETED}
    batch_ids = {service.decisions(action.id)[-1].batch_id for action in actions}
    assert len(batch_ids) == 1
    assert "" not in batch_ids
    settings = json.loads((workspace.tenant_dir / "settings" / "mailboxes.json").read_text())[LOTTE]
    assert settings["forwarding"] is None


def test_bulk_decision_refuses_actions_of_two_incidents(service: AirService) -> None:
    by_incident: dict[str, str] = {}
    for row in service.actions(ActionStatus.PENDING):
        incident = service.store.db.execute("SELECT incident_id FROM investigations WHERE id = ?", [row.action.investigation_id]).fetchone()[0]
        by_incident.setdefault(incident, row.action.id)
    ids = list(by_incident.values())[:2]
    with pytest.raises(ActionError, match="A bulk decision stays within one investigation or one incident"):
        service.decide_many(ids, "approved")
    assert all(service.decisions(action_id) == [] for action_id in ids)


def test_bulk_decision_is_all_or_nothing(workspace: Workspace) -> None:
    with open_service(workspace, "oli", config=roles(oli="operator", ana="admin")) as service:
        first = pending(service)[0]
        block = service.propose(ActionType.BLOCK_SENDER, value="x@pay-portal.example", investigation_id=first.investigation_id)
        with pytest.raises(ActionError, match="Nothing was decided: Block sender needs the admin role"):
            service.decide_many([first.id, block.id], "approved")
        assert service.decisions(first.id) == [] and service.decisions(block.id) == []


def test_bulk_rejection_needs_a_reason(service: AirService) -> None:
    actions = one_investigation(service)
    with pytest.raises(ActionError, match="Rejecting needs a reason"):
        service.decide_many([action.id for action in actions], "rejected")


# Limits ---------------------------------------------------------------------------------------------


def test_action_over_the_message_cap_is_refused(workspace: Workspace) -> None:
    with open_service(workspace, config=Config(actions=ActionsConfig(max_messages_per_action=2))) as service:
        action = next(action for action in pending(service) if len(action.targets) > 2)
        with pytest.raises(ActionError, match=rf"targets {len(action.targets)} messages, more than \[actions\] max_messages_per_action \(2\)"):
            service.approve(action.id)
        assert service.decisions(action.id) == []


def test_busy_slots_leave_the_action_approved_until_one_frees(workspace: Workspace) -> None:
    config = Config(actions=ActionsConfig(max_concurrent_executions=1))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with open_service(workspace, config=config) as service:
            busy, waiting = pending(service)[:2]
            # Another console's run, claimed by a process that is still alive.
            service.approve(busy.id)
            service.store.db.conn.execute(
                "UPDATE actions SET status = 'Running', executor = ? WHERE id = ?",
                [json.dumps({"host": os.uname().nodename, "pid": sleeper.pid}), busy.id],
            )
            outcome = service.approve(waiting.id)
            assert outcome.status is ActionStatus.APPROVED
            assert "1 of 1 execution slots are busy" in outcome.message
            assert service.action_results(waiting.id) == []
            sleeper.kill()
            sleeper.wait()
            assert service.resume_approved() >= 1
            assert service.action_row(waiting.id).action.status is ActionStatus.COMPLETED
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()


# Failures and retry ---------------------------------------------------------------------------------


class FlakyMail(DemoMailBackend):
    """Fails the first attempt on one message, as a mailbox that is briefly locked would."""

    def __init__(self, tenant, failing: str) -> None:
        super().__init__(tenant)
        self.failing = failing

    def apply(self, moves: list[Move]) -> list[Outcome]:
        if moves[0].ref.message_id == self.failing:
            self.failing = ""
            return [Outcome(TargetResult.FAILED, from_folder=moves[0].ref.folder, error="mailbox locked")]
        return super().apply(moves)


def test_failed_target_is_retried_by_a_new_decision(service: AirService, workspace: Workspace) -> None:
    action = pending(service)[1]
    failing = action.targets[0].message_id
    service.center._mail = FlakyMail(service.tenant, failing)
    outcome = service.approve(action.id)
    assert outcome.status is ActionStatus.PARTIALLY_FAILED
    row = next(row for row in service.action_results(action.id) if row["message_id"] == failing)
    assert (row["result"], row["error"]) == ("Failed", "mailbox locked")
    retried = service.retry(action.id, comment="mailbox unlocked")
    assert retried.status is ActionStatus.COMPLETED
    assert {row["result"] for row in service.action_results(action.id)} == {"Succeeded"}
    assert [decision.kind for decision in service.decisions(action.id)] == [DecisionKind.APPROVED, DecisionKind.RETRY]
    mailbox, key = keys(service, action)[failing]
    assert file_folder(workspace, mailbox, key) == Folder.RECOVERABLE.value


def test_retry_of_a_completed_action_is_refused(service: AirService) -> None:
    action = pending(service)[0]
    service.approve(action.id)
    with pytest.raises(ActionError, match="only an action with failed targets can be retried"):
        service.retry(action.id)


# The record -----------------------------------------------------------------------------------------


def test_every_step_of_a_decision_is_in_the_ledger_and_the_chain_holds(service: AirService) -> None:
    action = pending(service)[0]
    service.approve(action.id)
    service.undo(action.id)
    rows = list(service.store.db.query("SELECT type, payload FROM events WHERE payload LIKE ?", [f"%{action.id}%"]))
    types = [row["type"] for row in rows]
    assert types[:2] == [EventType.ACTION_PROPOSED.value, EventType.ACTION_DECIDED.value]
    assert types.count(EventType.ACTION_EXECUTION_STARTED.value) == 2
    assert types.count(EventType.ACTION_COMPLETED.value) == 2
    assert ledger.verify_chain(service.store) == []
    assert queries.action_intents(service.store, action.id, "undo")


# Settings proposed by hand ----------------------------------------------------------------------------


def test_remove_forwarding_of_a_forwarding_rule_and_its_undo(service: AirService, workspace: Workspace) -> None:
    settings_path = workspace.tenant_dir / "settings" / "mailboxes.json"
    settings = json.loads(settings_path.read_text())
    mailbox, rule = next(
        (address, rule)
        for address, entry in settings.items()
        for rule in entry.get("inbox_rules") or []
        if rule.get("actions", {}).get("forward_to") or rule.get("actions", {}).get("redirect_to")
    )
    action = service.propose(ActionType.REMOVE_FORWARDING, user=mailbox, value=rule["id"])
    assert action.setting.description.startswith(f"Inbox rule '{rule['name']}'")
    service.approve(action.id)
    assert rule["id"] not in [item["id"] for item in json.loads(settings_path.read_text())[mailbox]["inbox_rules"]]
    service.undo(action.id)
    assert json.loads(settings_path.read_text())[mailbox]["inbox_rules"] == settings[mailbox]["inbox_rules"]


def test_setting_that_is_not_there_cannot_be_proposed(service: AirService) -> None:
    with pytest.raises(ActionError, match="has no delegate 'nobody@larkspur.example' now"):
        service.propose(ActionType.REMOVE_DELEGATION, user=LOTTE, value="nobody@larkspur.example")


def test_start_investigation_resumed_under_the_workspace_lock_does_not_wait_for_itself(workspace: Workspace) -> None:
    with open_service(workspace) as service:
        message_id = pending(service)[0].targets[0].message_id
        action = service.propose(ActionType.START_INVESTIGATION, message_ids=[message_id], investigate_on="recipient")
        center = service.center
        ledger.append(service.store, center._decision_events(action, center._decision(action, DecisionKind.APPROVED, "", {}), "decide"))
    # A restart resumes it while holding the workspace lock, as start-up does.
    with open_service(workspace, prefix="01RESTART") as restarted, restarted.exclusive():
        assert restarted.resume_approved() == 1
        assert restarted.action_row(action.id).action.status is ActionStatus.COMPLETED


def test_second_disable_of_a_disabled_account_leaves_it_to_the_first(service: AirService, workspace: Workspace) -> None:
    directory = workspace.tenant_dir / "directory.json"
    first = service.propose(ActionType.DISABLE_USER, user=LOTTE)
    second = service.propose(ActionType.DISABLE_USER, user=LOTTE)
    service.approve(first.id)
    service.approve(second.id)
    assert service.action_results(second.id)[0]["result"] == TargetResult.ALREADY_IN_DESTINATION.value
    with pytest.raises(ActionError, match="changed nothing"):
        service.undo(second.id)
    service.undo(first.id)
    account = next(user for user in json.loads(directory.read_text())["users"] if user["address"] == LOTTE)
    assert account["enabled"] is True


def test_block_expiry_given_as_a_date_lasts_through_that_day(service: AirService) -> None:
    action = service.propose(ActionType.BLOCK_SENDER, value="x@pay-portal.example", expires="2027-01-31")
    assert action.block.expires.isoformat() == "2027-02-01T00:00:00+00:00"


def test_sender_investigation_of_an_outsider_is_refused_at_proposal(service: AirService) -> None:
    external = service.store.db.execute("SELECT id, sender_address FROM messages WHERE sender_domain NOT LIKE '%larkspur.example' LIMIT 1").fetchone()
    with pytest.raises(ActionError, match=f"{external[1]} is not"):
        service.propose(ActionType.START_INVESTIGATION, message_ids=[external[0]], investigate_on="sender")


def test_remove_forwarding_of_a_rule_that_forwards_nothing_is_refused(service: AirService, workspace: Workspace) -> None:
    settings = json.loads((workspace.tenant_dir / "settings" / "mailboxes.json").read_text())
    mailbox, rule = next(
        (address, rule)
        for address, entry in settings.items()
        for rule in entry.get("inbox_rules") or []
        if not any(rule.get("actions", {}).get(key) for key in ("forward_to", "redirect_to", "forward_as_attachment_to"))
    )
    with pytest.raises(ActionError, match="forwards nothing; remove it with Remove inbox rule instead"):
        service.propose(ActionType.REMOVE_FORWARDING, user=mailbox, value=rule["id"])
    assert service.propose(ActionType.REMOVE_INBOX_RULE, user=mailbox, value=rule["id"]).setting.item_id == rule["id"]


def test_setting_proposals_name_what_is_missing(service: AirService) -> None:
    with pytest.raises(ActionError, match="needs the rule's id: give it with --value"):
        service.propose(ActionType.REMOVE_INBOX_RULE, user=LOTTE)
    with pytest.raises(ActionError, match="No mailbox nobody@larkspur.example in the tenant's mailbox settings"):
        service.propose(ActionType.REMOVE_FORWARDING, user="nobody@larkspur.example")


def test_hand_proposed_actions_outside_investigations_are_decided_together(service: AirService) -> None:
    first = service.propose(ActionType.BLOCK_SENDER, value="a@pay-portal.example")
    second = service.propose(ActionType.BLOCK_DOMAIN, value="lure.example")
    assert service.preview([first.id, second.id]).scope == "no investigation (proposed by hand)"
    outcomes = service.decide_many([first.id, second.id], "approved")
    assert {outcome.status for outcome in outcomes} == {ActionStatus.COMPLETED}


def test_mail_ingested_read_only_is_checked_by_the_next_run(workspace: Workspace) -> None:
    with open_service(workspace) as service:
        action = service.propose(ActionType.BLOCK_SENDER, value="billing@pay-portal.example")
        service.approve(action.id)
    name = write_new_mail(workspace, "margot.visser@larkspur.example", "billing@pay-portal.example")
    with open_service(workspace, prefix="01RO", read_only=True) as viewer:
        viewer.ingest()
    assert file_folder(workspace, "margot.visser@larkspur.example", name) == "Inbox"
    with open_service(workspace, prefix="01RW") as later:
        assert later.ingest() is None
        assert len(later.blocked_by(action.id)) == 1
    assert file_folder(workspace, "margot.visser@larkspur.example", name) == Folder.JUNK.value
