"""The compromised user playbook on a tenant built for each test: settings, sending, sign-ins, status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from air_tui.domain.action import PendingAction, SettingTarget
from air_tui.domain.alert import Alert
from air_tui.domain.event import Event
from air_tui.domain.investigation import Entity, Investigation
from air_tui.domain.vocab import (
    ActionStatus,
    ActionType,
    EntityKind,
    InvestigationStatus,
    Playbook,
    Severity,
    Verdict,
)
from air_tui.engine import compromised_user
from air_tui.engine.clustering import CLUSTER_BY_OUTBOUND
from air_tui.engine.context import PlaybookContext
from air_tui.engine.findings import Outcome
from air_tui.service import AirService, StoreMessageIndex
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, make_service

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PHISH_URL = "https://login-check.test/verify"
PRIYA = "priya.raman@larkspur.example"
TOMAS = "tomas.herrera@larkspur.example"
AISHA = "aisha.mensah@larkspur.example"
KENJI = "kenji.watanabe@larkspur.example"
DROP = "ap.larkspur@securemail-hub.example"

PRIYA_SETTINGS = {
    "forwarding": {"smtp_address": DROP, "deliver_and_forward": True, "set_at": "2026-11-26T07:10:00Z"},
    "inbox_rules": [
        {
            "id": "rule-1",
            "name": "..",
            "created": "2026-11-25T08:58:04Z",
            "enabled": True,
            "conditions": {"subject_contains": ["invoice", "payment"], "from_contains": []},
            "actions": {"forward_to": [DROP], "redirect_to": [], "move_to_folder": "Deleted Items", "delete": False, "mark_as_read": True},
        },
        {
            "id": "rule-2",
            "name": "Supplier newsletters",
            "created": "2026-03-01T09:00:00Z",
            "enabled": True,
            "conditions": {"from_contains": ["news.northwindpartners.example"]},
            "actions": {"move_to_folder": "Newsletters", "mark_as_read": True},
        },
        {
            # No creation time: the audit log dates it.
            "id": "rule-3",
            "name": "Cleanup",
            "enabled": True,
            "conditions": {"subject_contains": ["security alert"]},
            "actions": {"delete": True},
        },
        {
            "id": "rule-4",
            "name": "Copy to team",
            "created": "2026-11-27T10:00:00Z",
            "enabled": True,
            "conditions": {"subject_contains": ["purchase order"]},
            "actions": {"forward_to": [TOMAS]},
        },
        {
            "id": "rule-5",
            "name": "Old export",
            "created": "2026-11-27T10:00:00Z",
            "enabled": False,
            "conditions": {},
            "actions": {"redirect_to": ["archive@elsewhere.example"]},
        },
        {
            # A domain that ends like the organisation's is still outside it.
            "id": "rule-6",
            "name": "Audit copy",
            "created": "2026-10-01T10:00:00Z",
            "enabled": True,
            "conditions": {"subject_contains": ["audit"]},
            "actions": {"forward_to": ["auditor@notlarkspur.example"]},
        },
    ],
    "delegates": [
        {"address": AISHA, "access": "FullAccess", "added": "2026-06-01T09:00:00Z"},
        {"address": KENJI, "access": "FullAccess"},
    ],
}

AUDIT = [
    {"id": "audit-1", "time": "2026-11-27T02:30:00Z", "user": PRIYA, "mailbox": PRIYA, "operation": "New-InboxRule", "parameters": {"Name": "Cleanup"}, "client_ip": "192.0.2.77"},
    {"id": "audit-2", "time": "2026-11-28T03:00:00Z", "user": PRIYA, "mailbox": PRIYA, "operation": "Add-MailboxPermission", "parameters": {"User": KENJI, "AccessRights": "FullAccess"}, "client_ip": "192.0.2.77"},
    {"id": "audit-3", "time": "2026-11-26T07:10:00Z", "user": PRIYA, "mailbox": PRIYA, "operation": "Set-Mailbox", "parameters": {"ForwardingSmtpAddress": f"smtp:{DROP}"}, "client_ip": "192.0.2.77"},
]


class TenantBuilder:
    """Writes a tenant directory: the demo's organisation and users, and what each test adds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        root.mkdir(parents=True)
        for name in ("tenant.json", "directory.json"):
            shutil.copy(DEMO_TENANT / name, root / name)
        (root / "intel").mkdir()
        (root / "intel" / "urls.csv").write_text(f"url,threat,source,added\n{PHISH_URL},Phish,test-feed,2026-11-20\n")
        (root / "activity").mkdir()
        (root / "settings").mkdir()
        (root / "settings" / "mailboxes.json").write_text("{}")

    def sent(self, mailbox: str, when: datetime, body: str = "Please find the figures for this week below.") -> None:
        """Store one message in the mailbox's Sent Items, delivered at `when`."""
        self.count += 1
        key = f"{int(when.timestamp())}.M{self.count}P0.test"
        for subdir in ("cur", "new", "tmp"):
            (self.root / "mailboxes" / mailbox / "Sent Items" / subdir).mkdir(parents=True, exist_ok=True)
        raw = (
            f"From: {mailbox}\r\nTo: customer{self.count}@brightwater.example\r\nSubject: Weekly figures {self.count}\r\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000\r\nMessage-ID: <{self.count}@larkspur.example>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        (self.root / "mailboxes" / mailbox / "Sent Items" / "cur" / f"{key}:2,S").write_bytes(raw.encode())

    def settings(self, mailbox: str, value: dict) -> None:
        path = self.root / "settings" / "mailboxes.json"
        data = json.loads(path.read_text())
        data[mailbox] = value
        path.write_text(json.dumps(data))

    def activity(self, name: str, records: list[dict]) -> None:
        (self.root / "activity" / f"{name}.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))


@pytest.fixture
def builder(tmp_path: Path) -> TenantBuilder:
    return TenantBuilder(tmp_path / "tenant")


@pytest.fixture
def opened(builder: TenantBuilder, tmp_path: Path) -> Iterator[Callable[[], AirService]]:
    services: list[AirService] = []

    def open_service() -> AirService:
        service = make_service(Workspace(tenant_dir=builder.root, database=tmp_path / "db" / "air-tui.db"))
        service.ingest()
        services.append(service)
        return service

    yield open_service
    for service in services:
        service.close()


def context_for(service: AirService, events: list[Event], existing: list[PendingAction] | None = None) -> PlaybookContext:
    tenant = service.tenant
    return PlaybookContext(
        organisation=tenant.organisation,
        users=tenant.users,
        intel=service.intel,
        messages=StoreMessageIndex(service.store),
        submissions=[],
        clicks=[],
        mailbox_settings=tenant.mailbox_settings(),
        clock=service.clock,
        new_id=service.new_id,
        signins=tenant.signins(),
        audit=tenant.audit_records(),
        restrictions=tenant.restrictions(),
        now=lambda: NOW,
        emit=events.extend,
        existing_actions=existing or [],
    )


def user_alert(user: str) -> Alert:
    return Alert(
        id="alert-1",
        policy_id="suspicious-sending",
        title="Suspicious email sending patterns detected",
        severity=Severity.MEDIUM,
        created=NOW,
        occurred=NOW - timedelta(hours=1),
        user=user,
    )


def investigate(service: AirService, user: str, events: list[Event] | None = None, existing: list[PendingAction] | None = None) -> Outcome:
    investigation = Investigation(id="inv-1", alert_id="alert-1", playbook=Playbook.COMPROMISED_USER.value, title="Compromised user", created=NOW)
    return compromised_user.run(context_for(service, events if events is not None else [], existing), investigation, [user_alert(user)])


def entity(outcome: Outcome, kind: EntityKind, key: str) -> Entity:
    found = outcome.findings.entities.get(f"{kind.value}:{key}")
    assert found is not None, f"no {kind.value} entity {key}; have {sorted(outcome.findings.entities)}"
    return found


def rule_entity(outcome: Outcome, rule_id: str) -> Entity:
    return entity(outcome, EntityKind.MAILBOX_CONFIG, f"{PRIYA}:inbox_rule:{rule_id}")


def texts(item: Entity) -> str:
    return "\n".join(evidence.text for evidence in item.evidence)


def signin(when: str, ip: str, country: str, result: str = "success", user: str = PRIYA) -> dict:
    return {"time": when, "user": user, "ip": ip, "country": country, "app": "Outlook", "result": result}


# A compromised account: forwarding, hiding rules, a new delegate, a burst of phish --------


@pytest.fixture
def compromised(builder: TenantBuilder, opened: Callable[[], AirService]) -> AirService:
    builder.settings(PRIYA, PRIYA_SETTINGS)
    builder.settings(TOMAS, {"forwarding": None, "inbox_rules": [], "delegates": []})
    builder.activity("audit", AUDIT)
    # Baseline: 14 messages from 2026-11-19 12:00, one or two a day.
    start = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    for number in range(14):
        builder.sent(PRIYA, start + timedelta(hours=17 * number))
    # Burst: 30 messages in the last 24 hours, two of them carrying a listed phishing URL.
    for number in range(30):
        body = f"Your invoice is ready: {PHISH_URL}" if number < 2 else "Please find the figures for this week below."
        builder.sent(PRIYA, NOW - timedelta(hours=23) + timedelta(minutes=40 * number), body)
    history = [signin(f"2026-11-{day:02d}T07:30:00Z", "198.51.100.10", "NL") for day in range(5, 29)]
    builder.activity(
        "signins",
        [
            *history,
            signin("2026-11-29T01:50:00Z", "192.0.2.77", "NG", "failure"),
            signin("2026-11-29T01:55:00Z", "192.0.2.77", "NG", "failure"),
            signin("2026-11-29T02:00:00Z", "192.0.2.77", "NG", "failure"),
            signin("2026-11-29T03:00:00Z", "192.0.2.77", "NG"),
            signin("2026-11-29T03:20:00Z", "203.0.113.5", "NL"),
        ],
    )
    builder.activity("restrictions", [{"id": "restriction-1", "time": "2026-11-30T08:00:00Z", "user": PRIYA, "reason": "Outbound spam limit exceeded"}])
    return opened()


def test_steps_named_as_analyzers(compromised: AirService) -> None:
    events: list[Event] = []
    investigate(compromised, PRIYA, events)
    assert [event.payload["step"]["name"] for event in events] == [
        "Mail forwarding rules investigation",
        "Mail delegation investigation",
        "Inbox rules investigation",
        "Outbound mail anomaly investigation",
        "Outbound malware and spam anomaly investigation",
        "User activity investigation",
        "Recommended remediation",
    ]


def test_compromised_pending_action(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    assert outcome.status is InvestigationStatus.PENDING_ACTION
    assert outcome.reason == "5 remediation actions wait for approval."


def test_recommended_setting_removals(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    found = sorted((action.action_type.value, action.setting.item_id) for action in outcome.findings.actions if action.setting)
    assert found == [
        ("Remove delegation", KENJI),
        ("Remove forwarding", ""),
        ("Remove inbox rule", "rule-1"),
        ("Remove inbox rule", "rule-3"),
        ("Remove inbox rule", "rule-6"),
    ]
    for action in outcome.findings.actions:
        assert action.targets == []
        assert action.setting.mailbox == PRIYA
        assert action.investigation_id == "inv-1"


def test_forwarding_action_setting_target(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    action = next(action for action in outcome.findings.actions if action.action_type is ActionType.REMOVE_FORWARDING)
    assert action.setting == SettingTarget(mailbox=PRIYA, item_id="", description=f"Forwarding of all mail to {DROP}")
    assert action.impact.startswith(f"Forwarding of all mail to {DROP} is removed from {PRIYA}")


def test_forwarding_entity_evidence(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    forwarding = entity(outcome, EntityKind.MAILBOX_CONFIG, f"{PRIYA}:forwarding")
    assert forwarding.verdict is Verdict.SUSPICIOUS
    assert forwarding.attributes["setting"] == "forwarding"
    assert forwarding.attributes["target"] == DROP
    assert forwarding.attributes["set_at"] == "2026-11-26T07:10:00+00:00"
    assert f"All mail is forwarded outside the organisation to {DROP} (a copy stays in the mailbox), set at 2026-11-26 07:10 UTC." in texts(forwarding)
    assert "Audit log: priya.raman@larkspur.example ran Set-Mailbox at 2026-11-26 07:10 UTC from 192.0.2.77 (record audit-3)." in texts(forwarding)


def test_forwarding_rule_flagged(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    rule = rule_entity(outcome, "rule-1")
    assert rule.verdict is Verdict.SUSPICIOUS
    assert rule.attributes["rule_name"] == ".."
    assert rule.attributes["conditions"] == ["subject contains 'invoice' or 'payment'"]
    assert rule.attributes["actions"] == [f"forwards to {DROP}", "moves mail to Deleted Items", "marks mail read"]
    assert rule.attributes["created"] == "2026-11-25T08:58:04+00:00"
    assert f"Inbox rule '..' sends mail outside the organisation to {DROP}." in texts(rule)
    assert "created at 2026-11-25 08:58 UTC, within the last 7 days, and moves mail to Deleted Items and marks mail read" in texts(rule)


def test_lookalike_domain_counts_as_external(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    rule = rule_entity(outcome, "rule-6")
    assert rule.verdict is Verdict.SUSPICIOUS
    assert "outside the organisation to auditor@notlarkspur.example" in texts(rule)


def test_rule_dated_by_audit_log(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    rule = rule_entity(outcome, "rule-3")
    assert rule.verdict is Verdict.SUSPICIOUS
    assert rule.attributes["created"] == "2026-11-27T02:30:00+00:00"
    assert "The rule was created at 2026-11-27 02:30 UTC, within the last 7 days, and deletes mail" in texts(rule)
    assert "(record audit-1)" in texts(rule)


def test_benign_rules_not_flagged(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    old_move = rule_entity(outcome, "rule-2")
    assert old_move.verdict is Verdict.NO_THREATS_FOUND
    assert "The rule was created at 2026-03-01 09:00 UTC." in texts(old_move)
    internal = rule_entity(outcome, "rule-4")
    assert internal.verdict is Verdict.NO_THREATS_FOUND
    assert f"forwards inside the organisation only, to {TOMAS}" in texts(internal)
    disabled = rule_entity(outcome, "rule-5")
    assert disabled.verdict is Verdict.NO_THREATS_FOUND
    assert "but it is disabled" in texts(disabled)


def test_recent_delegate_flagged_by_audit(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    recent = entity(outcome, EntityKind.MAILBOX_CONFIG, f"{PRIYA}:delegation:{KENJI}")
    assert recent.verdict is Verdict.SUSPICIOUS
    assert recent.attributes["added"] == "2026-11-28T03:00:00+00:00"
    assert f"{KENJI} was given FullAccess access at 2026-11-28 03:00 UTC, within the last 7 days (per the audit log)." in texts(recent)
    old = entity(outcome, EntityKind.MAILBOX_CONFIG, f"{PRIYA}:delegation:{AISHA}")
    assert old.verdict is Verdict.NO_THREATS_FOUND
    assert f"{AISHA} has FullAccess access, given at 2026-06-01 09:00 UTC." in texts(old)


def test_sending_anomaly_numbers(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    user = entity(outcome, EntityKind.USER, PRIYA)
    assert user.verdict is Verdict.SUSPICIOUS
    assert (
        "Sent 30 messages in the 24 hours up to 2026-11-30 09:00 UTC, against a daily average of 1.4 over the previous "
        "10 days (14 messages): 21.4 times the average, above the threshold of 3 times."
    ) in texts(user)
    assert user.attributes["sent_last_24_hours"] == 30
    assert user.attributes["daily_average_sent"] == "1.4"


def test_outbound_cluster_informational(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    cluster = next(cluster for cluster in outcome.findings.clusters if cluster.cluster_by == CLUSTER_BY_OUTBOUND)
    assert len(cluster.message_ids) == 30
    assert cluster.counts_by_folder == {"Sent Items": 30}
    assert cluster.verdict is Verdict.MALICIOUS
    cluster_entity = entity(outcome, EntityKind.CLUSTER, cluster.id)
    assert "Of 30 analysed messages, 2 are malicious and 0 suspicious" in texts(cluster_entity)
    assert "no remediation action is proposed" in texts(cluster_entity)
    assert all(action.cluster_id != cluster.id for action in outcome.findings.actions)
    assert all(not action.action_type.on_messages for action in outcome.findings.actions)


def test_signin_anomalies(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    user_text = texts(entity(outcome, EntityKind.USER, PRIYA))
    assert "Signed in from 192.0.2.77 in NG with Outlook at 2026-11-29 03:00 UTC: no sign-in from NG in the previous 30 days (countries seen: NL)." in user_text
    assert "3 failed sign-ins from 192.0.2.77 in the 24 hours before a successful one at 2026-11-29 03:00 UTC" in user_text
    assert "Signed in from NG (192.0.2.77) at 2026-11-29 03:00 UTC and from NL (203.0.113.5) 20 minutes later" in user_text
    address = entity(outcome, EntityKind.IP, "192.0.2.77")
    assert address.verdict is Verdict.SUSPICIOUS
    assert address.attributes["country"] == "NG"


def test_new_ip_in_known_country_informational(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    user = entity(outcome, EntityKind.USER, PRIYA)
    line = next(item for item in user.evidence if "new IP address 203.0.113.5" in item.text)
    assert line.verdict is Verdict.UNKNOWN


def test_restriction_in_evidence(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    assert "Restricted from sending mail at 2026-11-30 08:00 UTC: Outbound spam limit exceeded." in texts(entity(outcome, EntityKind.USER, PRIYA))


def test_entities_linked_to_mailbox(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    mailbox = entity(outcome, EntityKind.MAILBOX, PRIYA)
    assert mailbox.verdict is Verdict.SUSPICIOUS
    assert mailbox.parent_id == f"user:{PRIYA}"
    configs = [item for item in outcome.findings.entities.values() if item.kind is EntityKind.MAILBOX_CONFIG]
    assert len(configs) == 1 + 6 + 2
    assert {item.parent_id for item in configs} == {f"mailbox:{PRIYA}"}


def test_rerun_proposes_nothing_twice(compromised: AirService) -> None:
    first = investigate(compromised, PRIYA)
    decided = first.findings.actions[0].model_copy(update={"status": ActionStatus.REJECTED})
    existing = [decided, *first.findings.actions[1:]]
    again = investigate(compromised, PRIYA, existing=existing)
    assert again.findings.actions == []
    assert again.status is InvestigationStatus.PENDING_ACTION
    assert again.reason == "4 remediation actions wait for approval."


# Other endings ------------------------------------------------------------------------------


def test_quiet_user_no_threats_found(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    builder.settings(TOMAS, {"forwarding": None, "inbox_rules": [], "delegates": [{"address": PRIYA, "access": "FullAccess", "added": "2026-01-10T09:00:00Z"}]})
    start = datetime(2026, 11, 19, 12, 0, tzinfo=UTC)
    for number in range(20):
        builder.sent(TOMAS, start + timedelta(hours=12 * number))
    builder.activity("signins", [signin(f"2026-11-{day:02d}T07:30:00Z", "198.51.100.10", "NL", user=TOMAS) for day in range(1, 30)])
    outcome = investigate(opened(), TOMAS)
    assert outcome.status is InvestigationStatus.NO_THREATS_FOUND
    assert outcome.findings.actions == []
    user = entity(outcome, EntityKind.USER, TOMAS)
    assert user.verdict is Verdict.NO_THREATS_FOUND
    assert "an anomaly needs at least 10 messages and more than 3 times the average" in texts(user)


def test_restricted_user_partially_investigated(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    builder.activity("restrictions", [{"id": "restriction-1", "time": "2026-11-30T08:00:00Z", "user": TOMAS, "reason": "Outbound spam limit exceeded"}])
    outcome = investigate(opened(), TOMAS)
    assert outcome.status is InvestigationStatus.PARTIALLY_INVESTIGATED
    assert outcome.reason == "Suspicious findings that no remediation action can clean up: restricted from sending."
    assert outcome.findings.actions == []
    assert "records no forwarding, inbox rules or delegates" in texts(entity(outcome, EntityKind.MAILBOX, TOMAS))


def test_burst_without_history_is_anomaly(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    for number in range(12):
        builder.sent(TOMAS, NOW - timedelta(hours=10) + timedelta(minutes=30 * number))
    outcome = investigate(opened(), TOMAS)
    assert outcome.status is InvestigationStatus.PARTIALLY_INVESTIGATED
    assert "unusual sending volume" in outcome.reason
    assert "Sent 12 messages in the 24 hours up to 2026-11-30 09:00 UTC, against a daily average of 0.0 over the previous 10 days (0 messages): with nothing sent before, above the threshold of 3 times." in texts(entity(outcome, EntityKind.USER, TOMAS))


def test_outbound_over_limit_terminates(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    for number in range(12):
        builder.sent(TOMAS, NOW - timedelta(hours=10) + timedelta(minutes=30 * number))
    service = opened()
    investigation = Investigation(id="inv-1", alert_id="alert-1", playbook=Playbook.COMPROMISED_USER.value, title="Compromised user", created=NOW)
    context = context_for(service, [])
    context.settings = context.settings.model_copy(update={"max_cluster_messages": 5})
    outcome = compromised_user.run(context, investigation, [user_alert(TOMAS)])
    assert outcome.status is InvestigationStatus.TERMINATED_BY_SYSTEM
    assert f"{TOMAS} sent 12 messages in the last 24 hours, more than the limit of 5 (investigations.max_cluster_messages)" in outcome.reason


def test_external_delegate_flagged(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    outsider = "helper@outsourcing.example"
    builder.settings(TOMAS, {"forwarding": None, "inbox_rules": [], "delegates": [{"address": outsider, "access": "SendAs", "added": "2026-01-10T09:00:00Z"}]})
    outcome = investigate(opened(), TOMAS)
    delegate = entity(outcome, EntityKind.MAILBOX_CONFIG, f"{TOMAS}:delegation:{outsider}")
    assert delegate.verdict is Verdict.SUSPICIOUS
    assert f"The delegate {outsider} is outside the organisation." in texts(delegate)
    assert [(action.action_type, action.setting.item_id) for action in outcome.findings.actions] == [(ActionType.REMOVE_DELEGATION, outsider)]


def test_entities_survive_storage(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    for item in outcome.findings.entities.values():
        assert Entity.model_validate_json(item.model_dump_json()) == item, item.id


def test_flagged_entities_carry_evidence(compromised: AirService) -> None:
    outcome = investigate(compromised, PRIYA)
    for item in outcome.findings.entities.values():
        if item.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS):
            assert any(evidence.verdict is item.verdict for evidence in item.evidence), item.id
