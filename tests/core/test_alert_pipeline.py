"""Alert policies, removal after delivery, incidents, throttling and statuses, on copies of the demo tenant."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import (
    AlertsConfig,
    Config,
    ConfigError,
    InvestigationConfig,
    RemovalConfig,
)
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, Folder, IncidentStatus, InvestigationStatus, Playbook
from air_tui.engine import policies
from air_tui.mail import message_id_for
from air_tui.service import ActionError, AirService
from air_tui.store import queries
from air_tui.tenant.workspace import Workspace
from tests.conftest import FROZEN_START

REFERENCE = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
KEYS: dict[str, str] = {}
"""Store key of each message `deliver` wrote, by message id."""
MAILBOXES = ("margot.visser@larkspur.example", "pieter.vandam@larkspur.example", "ruben.jansen@larkspur.example")


def open_service(workspace: Workspace, *, config: Config | None = None, at: datetime = FROZEN_START, prefix: str = "01TEST") -> AirService:
    return AirService(
        workspace,
        analyst="analyst1",
        clock=FrozenClock(at, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix=prefix),
        config=config or Config(),
    )


def deliver(tenant: Path, mailbox: str, when: datetime, *, url: str, subject: str, sender: str = "billing@paymentsdesk.test", folder: str = "Inbox") -> str:
    """Write one message into a Maildir folder; the key's epoch seconds give its delivery time."""
    stamp = int(when.timestamp())
    key = f"{stamp}.M{abs(hash((mailbox, subject, url))) % 100000}P1.testhost"
    raw = (
        f"From: Payments Desk <{sender}>\r\n"
        f"To: {mailbox}\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {when:%a, %d %b %Y %H:%M:%S +0000}\r\n"
        f"Message-ID: <{key}@paymentsdesk.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your invoice is overdue. Settle it today at {url} to avoid a suspension.\r\n"
    )
    target = tenant / "mailboxes" / mailbox / folder / "cur"
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{key}:2,").write_text(raw, encoding="utf-8")
    message_id = message_id_for(mailbox, key)
    KEYS[message_id] = key
    return message_id


def list_url(tenant: Path, url: str, threat: str = "Phish", added: str = "2026-11-29") -> None:
    with (tenant / "intel" / "urls.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{url},{threat},test-feed,{added}\n")


def list_domain(tenant: Path, domain: str, threat: str = "Phish", added: str = "2026-11-29") -> None:
    with (tenant / "intel" / "domains.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{domain},{threat},test-feed,{added}\n")


def folder_of(tenant: Path, mailbox: str, message_id: str, service: AirService | None = None) -> str:
    """Return the Maildir folder that contains the message's file now."""
    for path in (tenant / "mailboxes" / mailbox).glob("*/*/*"):
        if message_id_for(mailbox, path.name.split(":", 1)[0]) == message_id:
            return path.parent.parent.name
    return ""


def alerts_of(service: AirService, policy_id: str) -> list:
    return [row.alert for row in service.alert_queue() if row.alert.policy_id == policy_id]


# Removal after delivery ------------------------------------------------------------------------


def test_listed_url_moves_recent_message_to_quarantine(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/settle/8812"
    message_id = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=3), url=url, subject="Overdue invoice 8812")
    list_url(tenant_copy, url)
    with open_service(workspace) as service:
        service.investigate()
        removal = [row for row in queries.removals(service.store) if row["message_id"] == message_id]
        alerts = alerts_of(service, policies.URL_REMOVED)
        investigation = service.investigation_detail(alerts[0].investigation_id)
    assert removal[0]["result"] == "Succeeded"
    assert removal[0]["to_folder"] == "Quarantine"
    assert folder_of(tenant_copy, MAILBOXES[0], message_id) == "Quarantine"
    assert any(message_id in alert.message_ids for alert in alerts)
    assert investigation is not None
    assert investigation.investigation.playbook == Playbook.URL_REMOVED.value
    assert investigation.log[0].name == "Email indicators extraction"


def test_message_delivered_before_the_window_stays(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/settle/9001"
    message_id = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=72), url=url, subject="Overdue invoice 9001")
    list_url(tenant_copy, url)
    with open_service(workspace) as service:
        service.investigate()
        removed = {row["message_id"] for row in queries.removals(service.store)}
    assert message_id not in removed
    assert folder_of(tenant_copy, MAILBOXES[0], message_id) == "Inbox"


def test_listed_domain_goes_to_junk_unless_configured(workspace: Workspace, tenant_copy: Path) -> None:
    first = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=5), url="https://login.settle-desk.test/a", subject="Settle A")
    list_domain(tenant_copy, "settle-desk.test")
    with open_service(workspace) as service:
        service.investigate()
    assert folder_of(tenant_copy, MAILBOXES[0], first) == "Junk Email"


def test_phish_destination_follows_configuration(workspace: Workspace, tenant_copy: Path) -> None:
    message_id = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=5), url="https://login.settle-desk.test/b", subject="Settle B")
    list_domain(tenant_copy, "settle-desk.test")
    config = Config(removal=RemovalConfig(phish="Quarantine"))
    with open_service(workspace, config=config) as service:
        service.investigate()
    assert folder_of(tenant_copy, MAILBOXES[0], message_id) == "Quarantine"


def test_removal_turned_off_moves_nothing(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/settle/7"
    message_id = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=2), url=url, subject="Invoice 7")
    list_url(tenant_copy, url)
    with open_service(workspace, config=Config(removal=RemovalConfig(enabled=False))) as service:
        service.investigate()
        removed = queries.removals(service.store)
    assert removed == []
    assert folder_of(tenant_copy, MAILBOXES[0], message_id) == "Inbox"


def test_on_premises_mailbox_raises_removal_failed(workspace: Workspace, tenant_copy: Path) -> None:
    directory = json.loads((tenant_copy / "directory.json").read_text())
    for user in directory["users"]:
        if user["address"] == MAILBOXES[1]:
            user["mailbox_location"] = "on-premises"
    (tenant_copy / "directory.json").write_text(json.dumps(directory))
    url = "https://paymentsdesk-portal.test/settle/3141"
    message_id = deliver(tenant_copy, MAILBOXES[1], REFERENCE - timedelta(hours=4), url=url, subject="Invoice 3141")
    list_url(tenant_copy, url)
    with open_service(workspace) as service:
        service.investigate()
        failed = [alert for alert in alerts_of(service, policies.REMOVAL_FAILED) if message_id in alert.message_ids]
        removal = [row for row in queries.removals(service.store) if row["message_id"] == message_id][0]
        detail = service.investigation_detail(failed[0].investigation_id)
    assert removal["result"] == "Failed"
    assert "on premises" in removal["error"]
    assert folder_of(tenant_copy, MAILBOXES[1], message_id) == "Inbox"
    assert failed[0].severity.value == "Medium"
    assert detail is not None
    assert detail.investigation.status is InvestigationStatus.PARTIALLY_INVESTIGATED
    assert "on-premises" in detail.investigation.status_reason


def test_campaign_folds_into_one_alert_with_hit_count(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/campaign"
    ids = [
        deliver(tenant_copy, MAILBOXES[index % 3], REFERENCE - timedelta(hours=6, minutes=index), url=url, subject=f"Statement {index}")
        for index in range(6)
    ]
    list_url(tenant_copy, url)
    with open_service(workspace) as service:
        service.investigate()
        campaign = [alert for alert in alerts_of(service, policies.CAMPAIGN_REMOVED) if set(ids) & set(alert.message_ids)]
    # Removals in one refresh happen at one moment, so the copies fold into one alert, together
    # with any other campaign removed in the same minute.
    assert len(campaign) == 1
    assert set(ids) <= set(campaign[0].message_ids)
    assert campaign[0].hit_count == len(campaign[0].message_ids)


def test_removal_playbook_finds_older_copies_still_in_mailboxes(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/settle/55"
    recent = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(hours=1), url=url, subject="Invoice 55")
    older = deliver(tenant_copy, MAILBOXES[2], REFERENCE - timedelta(days=4), url=url, subject="Invoice 55")
    list_url(tenant_copy, url)
    with open_service(workspace) as service:
        service.investigate()
        alert = [alert for alert in alerts_of(service, policies.URL_REMOVED) if recent in alert.message_ids][0]
        detail = service.investigation_detail(alert.investigation_id)
    assert detail is not None
    targets = {target.message_id for action in detail.actions for target in action.targets}
    assert older in targets
    assert recent not in targets
    assert detail.investigation.status is InvestigationStatus.PENDING_ACTION


# Policies and aggregation ---------------------------------------------------------------------


def test_disabled_policy_raises_nothing(workspace: Workspace) -> None:
    config = Config(alerts=AlertsConfig(disabled=[policies.USER_REPORTED]))
    with open_service(workspace, config=config) as service:
        service.investigate()
        raised = alerts_of(service, policies.USER_REPORTED)
    assert raised == []


def test_unknown_disabled_policy_is_named(workspace: Workspace) -> None:
    with pytest.raises(ConfigError, match="no-such-policy"):
        open_service(workspace, config=Config(alerts=AlertsConfig(disabled=["no-such-policy"])))


def test_reports_within_a_minute_fold(workspace: Workspace, tenant_copy: Path) -> None:
    first = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(days=5), url="https://a.example.test/1", subject="One")
    second = deliver(tenant_copy, MAILBOXES[1], REFERENCE - timedelta(days=5), url="https://b.example.test/2", subject="Two")
    base = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    lines = [
        {"id": "fold-1", "time": base.isoformat(), "reporter": MAILBOXES[0], "report_type": "Phish", "mailbox": MAILBOXES[0], "key": KEYS[first]},
        {"id": "fold-2", "time": (base + timedelta(seconds=40)).isoformat(), "reporter": MAILBOXES[1], "report_type": "Phish", "mailbox": MAILBOXES[1], "key": KEYS[second]},
    ]
    with (tenant_copy / "activity" / "submissions.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)
    with open_service(workspace) as service:
        service.investigate()
        folded = [alert for alert in alerts_of(service, policies.USER_REPORTED) if "fold-1" in alert.source_ids]
        detail = service.investigation_detail(folded[0].investigation_id)
    assert folded[0].hit_count == 2
    assert set(folded[0].source_ids) == {"fold-1", "fold-2"}
    assert detail is not None
    roots = {entity.key for entity in detail.entities if entity.kind.value == "message"}
    assert {first, second} <= roots


def test_url_click_alert_is_never_aggregated(workspace: Workspace, tenant_copy: Path) -> None:
    url = "https://paymentsdesk-portal.test/clicked"
    list_url(tenant_copy, url, added="2026-11-28")
    base = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    clicks = [
        {"id": f"click-t{index}", "time": (base + timedelta(seconds=10 * index)).isoformat(), "user": MAILBOXES[index], "url": url, "action": "allowed"}
        for index in range(3)
    ]
    with (tenant_copy / "activity" / "url_clicks.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in clicks)
    with open_service(workspace) as service:
        service.investigate()
        raised = [alert for alert in alerts_of(service, policies.URL_CLICK) if url in alert.urls]
    assert len(raised) == 3
    assert all(alert.hit_count == 1 for alert in raised)
    assert all(alert.severity.value == "High" for alert in raised)


# Incidents ------------------------------------------------------------------------------------


def test_alerts_on_one_message_share_an_incident(workspace: Workspace, tenant_copy: Path) -> None:
    message = deliver(tenant_copy, MAILBOXES[0], REFERENCE - timedelta(days=3), url="https://c.example.test/3", subject="Shared")
    key = KEYS[message]
    base = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    lines = [
        {"id": "inc-1", "time": base.isoformat(), "reporter": MAILBOXES[0], "report_type": "Phish", "mailbox": MAILBOXES[0], "key": key},
        {"id": "inc-2", "time": (base + timedelta(hours=3)).isoformat(), "reporter": MAILBOXES[0], "report_type": "Malware", "mailbox": MAILBOXES[0], "key": key},
    ]
    with (tenant_copy / "activity" / "submissions.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(line) + "\n" for line in lines)
    with open_service(workspace) as service:
        service.investigate()
        mine = [alert for alert in alerts_of(service, policies.USER_REPORTED) if {"inc-1", "inc-2"} & set(alert.source_ids)]
        incident = [item for item in service.incidents() if item.id == mine[0].incident_id][0]
    assert len(mine) == 2
    assert mine[0].incident_id == mine[1].incident_id
    assert {alert.id for alert in mine} <= set(incident.alert_ids)
    assert f"message:{message}" in incident.entity_keys


def test_assign_incident_records_the_analyst(investigated: AirService) -> None:
    incident = investigated.incidents()[0]
    investigated.assign_incident(incident.id, "lead analyst")
    assert [item for item in investigated.incidents() if item.id == incident.id][0].assigned_to == "lead analyst"
    with pytest.raises(ActionError, match="No incident"):
        investigated.assign_incident("nope", "x")


# Throttling and statuses ----------------------------------------------------------------------


def test_throttling_queues_then_runs_when_freed(workspace: Workspace) -> None:
    config = Config(investigations=InvestigationConfig(max_concurrent=1))
    with open_service(workspace, config=config) as service:
        service.investigate()
        statuses = [item.status for item in service.investigations()]
        queued = [item for item in service.investigations() if item.status is InvestigationStatus.QUEUED_BY_THROTTLING]
        assert queued, statuses
        assert "the limit is 1" in queued[0].status_reason
        # Deciding every pending action frees the slot; the next queued investigation then runs.
        for row in service.actions(ActionStatus.PENDING):
            service.reject(row.action.id, reason="freeing the slot in a test")
        busy = [item for item in service.investigations() if item.status in (InvestigationStatus.PENDING_ACTION, InvestigationStatus.PARTIALLY_REMEDIATED)]
        for item in busy:
            service.terminate_investigation(item.id, "freeing the slot in a test")
        service.run_investigations()
        first = service.investigation_detail(queued[0].id)
    assert first is not None
    assert first.investigation.status is not InvestigationStatus.QUEUED_BY_THROTTLING
    assert first.investigation.queued is not None
    assert [change.status for change in first.status_history][:2] == [InvestigationStatus.STARTING, InvestigationStatus.QUEUED_BY_THROTTLING]


def test_queue_timeout_terminates_by_throttling(workspace: Workspace) -> None:
    config = Config(investigations=InvestigationConfig(max_concurrent=1, queue_timeout_hours=2))
    with open_service(workspace, config=config) as service:
        service.investigate()
        queued = [item.id for item in service.investigations() if item.status is InvestigationStatus.QUEUED_BY_THROTTLING]
    assert queued
    with open_service(workspace, config=config, at=FROZEN_START + timedelta(hours=3), prefix="01LATER") as later:
        later.run_investigations()
        ended = {item.id: item for item in later.investigations()}
    assert all(ended[item].status is InvestigationStatus.TERMINATED_BY_THROTTLING for item in queued)


def test_pending_actions_expire_and_terminate_by_system(investigated: AirService, workspace: Workspace) -> None:
    pending = investigated.actions(ActionStatus.PENDING)
    investigation_id = pending[0].action.investigation_id
    with open_service(workspace, at=FROZEN_START + timedelta(days=8), prefix="01LATER") as later:
        closed = later.maintain()
        detail = later.investigation_detail(investigation_id)
        left = later.pending_count()
    assert closed == len(pending)
    assert left == 0
    assert detail is not None
    assert detail.investigation.status is InvestigationStatus.TERMINATED_BY_SYSTEM
    assert "expired after 7 days" in detail.investigation.status_reason
    assert all(action.status is ActionStatus.EXPIRED for action in detail.actions)


def test_pending_action_closes_when_its_messages_are_gone(investigated: AirService, workspace: Workspace, tenant_copy: Path) -> None:
    row = investigated.actions(ActionStatus.PENDING)[0]
    investigation_id = row.action.investigation_id
    detail = investigated.investigation_detail(investigation_id)
    assert detail is not None
    for action in detail.actions:
        for target in action.targets:
            key = investigated.message(target.message_id).location.key  # type: ignore[union-attr]
            investigated.tenant.move_message(target.mailbox, key, Folder.DELETED)
    investigated.ingest()
    investigated.maintain()
    after = investigated.investigation_detail(investigation_id)
    assert after is not None
    assert after.investigation.status is InvestigationStatus.REMEDIATED
    assert all(action.status is ActionStatus.EXPIRED for action in after.actions)
    assert all(decided.comment.startswith("Every target left") for decided in investigated.actions() if decided.action.investigation_id == investigation_id)


def test_time_pending_approval_adds_up(investigated: AirService, workspace: Workspace) -> None:
    investigation_id = investigated.actions(ActionStatus.PENDING)[0].action.investigation_id
    with open_service(workspace, at=FROZEN_START + timedelta(hours=2), prefix="01LATER") as later:
        for row in later.actions(ActionStatus.PENDING):
            if row.action.investigation_id == investigation_id:
                later.reject(row.action.id, reason="test")
        detail = later.investigation_detail(investigation_id)
    assert detail is not None
    assert detail.investigation.status is InvestigationStatus.REMEDIATED
    assert 7190 <= detail.investigation.pending_seconds <= 7210
    assert detail.investigation.pending_since is None


def test_new_report_widens_a_pending_investigation_and_reruns(investigated: AirService, workspace: Workspace, tenant_copy: Path) -> None:
    row = investigated.actions(ActionStatus.PENDING)[0]
    detail = investigated.investigation_detail(row.action.investigation_id)
    assert detail is not None and detail.alert is not None
    message_id = detail.alert.message_ids[0]
    message = investigated.message(message_id)
    assert message is not None
    steps_before = len(detail.log)
    report = {
        "id": "widen-1",
        "time": "2026-11-30T08:00:00+00:00",
        "reporter": "pieter.vandam@larkspur.example",
        "report_type": "Phish",
        "mailbox": message.location.mailbox,
        "key": message.location.key,
    }
    with (tenant_copy / "activity" / "submissions.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(report) + "\n")
    investigated.raise_alerts()
    investigated.run_investigations()
    after = investigated.investigation_detail(row.action.investigation_id)
    assert after is not None
    assert len(after.investigation.alert_ids) == 2
    assert after.investigation.runs == 2
    assert len(after.log) > steps_before
    assert [step.name for step in after.log[:steps_before]] == [step.name for step in detail.log]
    # The rerun proposes nothing the first run already proposed.
    assert len(after.actions) == len(detail.actions)
    assert any(change.reason.startswith("The alert") for change in after.status_history)


def test_status_history_records_the_path(investigated: AirService) -> None:
    investigation_id = investigated.actions(ActionStatus.PENDING)[0].action.investigation_id
    detail = investigated.investigation_detail(investigation_id)
    assert detail is not None
    assert [change.status for change in detail.status_history] == [
        InvestigationStatus.STARTING,
        InvestigationStatus.RUNNING,
        InvestigationStatus.PENDING_ACTION,
    ]


def test_stop_needs_a_reason_and_closes_pending_actions(investigated: AirService) -> None:
    investigation_id = investigated.actions(ActionStatus.PENDING)[0].action.investigation_id
    with pytest.raises(ActionError, match="reason"):
        investigated.terminate_investigation(investigation_id, "  ")
    investigated.terminate_investigation(investigation_id, "duplicate of another case")
    detail = investigated.investigation_detail(investigation_id)
    assert detail is not None
    assert detail.investigation.status is InvestigationStatus.TERMINATED_BY_USER
    assert all(action.status is ActionStatus.EXPIRED for action in detail.actions)
    with pytest.raises(ActionError, match="ended already"):
        investigated.terminate_investigation(investigation_id, "again")


# Manual starts --------------------------------------------------------------------------------


def test_manual_email_investigation_raises_admin_alert(investigated: AirService) -> None:
    message_id = investigated.store.db.execute("SELECT id FROM messages WHERE folder = 'Inbox' ORDER BY id LIMIT 1").fetchone()[0]
    alert = investigated.start_manual_investigation(message_id, "email")
    detail = investigated.investigation_detail(alert.investigation_id)
    assert alert.policy_id == policies.MANUAL_EMAIL
    assert alert.triggered_by == "analyst1"
    assert detail is not None
    assert detail.investigation.playbook == Playbook.MANUAL_EMAIL.value
    assert detail.investigation.status.is_terminal or detail.investigation.status is InvestigationStatus.PENDING_ACTION


def test_manual_sender_investigation_refuses_external_senders(investigated: AirService) -> None:
    row = investigated.store.db.execute(
        "SELECT id, sender_address FROM messages WHERE sender_domain != 'larkspur.example' AND sender_address != '' LIMIT 1"
    ).fetchone()
    with pytest.raises(ActionError, match=row[1].split("@")[0]):
        investigated.start_manual_investigation(row[0], "sender")
    with pytest.raises(ActionError, match="No message"):
        investigated.start_manual_investigation("missing/123", "email")


def test_incident_resolves_when_its_alerts_are_resolved(investigated: AirService) -> None:
    for row in investigated.actions(ActionStatus.PENDING):
        investigated.reject(row.action.id, reason="test")
    investigated.run_investigations()
    incidents = investigated.incidents()
    resolved = [incident for incident in incidents if incident.status is IncidentStatus.RESOLVED]
    assert resolved
    alerts = {row.alert.id: row.alert for row in investigated.alert_queue()}
    for incident in incidents:
        if incident.status is IncidentStatus.REDIRECTED:
            continue
        all_resolved = all(alerts[alert_id].status.value == "Resolved" for alert_id in incident.alert_ids)
        assert (incident.status is IncidentStatus.RESOLVED) == all_resolved, incident


def test_alert_without_playbook_resolves_with_comment(investigated: AirService) -> None:
    forwarding = alerts_of(investigated, policies.SUSPICIOUS_FORWARDING)[0]
    assert forwarding.investigation_id == ""
    with pytest.raises(ActionError, match="comment"):
        investigated.resolve_alert(forwarding.id, " ")
    investigated.resolve_alert(forwarding.id, "Checked with the user: forwarding set by the attacker, removed by hand.")
    resolved = next(alert for alert in alerts_of(investigated, policies.SUSPICIOUS_FORWARDING) if alert.id == forwarding.id)
    assert resolved.status.value == "Resolved"
    with pytest.raises(ActionError, match="resolved already"):
        investigated.resolve_alert(forwarding.id, "again")


def test_alert_with_running_investigation_cannot_be_resolved(investigated: AirService) -> None:
    pending = investigated.actions(ActionStatus.PENDING)[0].action
    detail = investigated.investigation_detail(pending.investigation_id)
    assert detail is not None and detail.alert is not None
    with pytest.raises(ActionError, match="resolves when the investigation ends"):
        investigated.resolve_alert(detail.alert.id, "trying early")


def test_copy_out_of_reach_keeps_investigation_partially_investigated(investigated: AirService) -> None:
    failed = alerts_of(investigated, policies.REMOVAL_FAILED)[0]
    detail = investigated.investigation_detail(failed.investigation_id)
    assert detail is not None
    for action in detail.actions:
        if action.status is ActionStatus.PENDING:
            investigated.reject(action.id, reason="the on-premises team handles it")
    after = investigated.investigation_detail(failed.investigation_id)
    assert after is not None
    assert after.investigation.status is InvestigationStatus.PARTIALLY_INVESTIGATED
    assert "on-premises" in after.investigation.status_reason
