"""Actions on mailbox settings: the tenant's removals and restores, and their execution through the ledger."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from air_tui.domain.action import ActionTarget, PendingAction, SettingTarget
from air_tui.domain.event import EventType
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionPhase, ActionStatus, ActionType, TargetResult
from air_tui.remediation import executor
from air_tui.remediation.mail import DemoMailBackend
from air_tui.store import Store, ledger, queries
from air_tui.tenant.demo import DemoTenant, TenantError
from tests.conftest import DEMO_TENANT

PRIYA = "priya.raman@larkspur.example"
MARGOT = "margot.visser@larkspur.example"
AISHA = "aisha.mensah@larkspur.example"
KENJI = "kenji.watanabe@larkspur.example"
DROP = "ap.larkspur@securemail-hub.example"

SETTINGS = {
    PRIYA: {
        "forwarding": {"smtp_address": DROP, "deliver_and_forward": True},
        "inbox_rules": [
            {"id": "rule-1", "name": "Supplier newsletters", "enabled": True, "conditions": {}, "actions": {"move_to_folder": "Newsletters"}},
            {"id": "rule-2", "name": "..", "created": "2026-11-25T08:58:04Z", "enabled": True, "conditions": {"subject_contains": ["invoice"]}, "actions": {"forward_to": [DROP], "mark_as_read": True}},
            {"id": "rule-3", "name": "Team copy", "enabled": True, "conditions": {}, "actions": {"forward_to": ["tomas.herrera@larkspur.example"]}},
        ],
        "delegates": [{"address": KENJI, "access": "FullAccess", "added": "2026-11-28T03:00:00Z"}],
    },
    MARGOT: {
        "forwarding": None,
        "inbox_rules": [{"id": "rule-1", "name": "Partner digest read", "enabled": True, "conditions": {}, "actions": {"mark_as_read": True}}],
        "delegates": [{"address": AISHA, "access": "FullAccess"}],
        # A field this version does not model is kept as it is.
        "retention_note": "legal hold review 2026",
    },
}


class PowerCut(BaseException):
    """Stands for the process dying: nothing in the executor catches it."""


class DyingTenant(DemoTenant):
    """Removes settings like the demo tenant, then dies before the executor can record the result."""

    def remove_inbox_rule(self, mailbox: str, rule_id: str) -> dict | None:
        super().remove_inbox_rule(mailbox, rule_id)
        raise PowerCut


@pytest.fixture
def tenant_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tenant"
    root.mkdir()
    for name in ("tenant.json", "directory.json"):
        shutil.copy(DEMO_TENANT / name, root / name)
    (root / "settings").mkdir()
    (root / "settings" / "mailboxes.json").write_text(json.dumps(SETTINGS, indent=2))
    return root


@pytest.fixture
def tenant(tenant_dir: Path) -> DemoTenant:
    return DemoTenant(tenant_dir)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "db" / "air-tui.db")
    yield opened
    opened.close()


def stored(tenant_dir: Path) -> dict:
    return json.loads((tenant_dir / "settings" / "mailboxes.json").read_text())


def setting_action(action_type: ActionType, mailbox: str, item_id: str = "", action_id: str = "action-1") -> PendingAction:
    return PendingAction(
        id=action_id,
        investigation_id="inv-1",
        action_type=action_type,
        status=ActionStatus.APPROVED,
        created=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        title=f"{mailbox}: test setting",
        setting=SettingTarget(mailbox=mailbox, item_id=item_id, description="test setting"),
    )


def run(store: Store, tenant: DemoTenant, action: PendingAction, prefix: str = "01RUN") -> ActionStatus:
    execution = executor.Execution(
        store=store,
        tenant=tenant,
        mail=DemoMailBackend(tenant),
        actor="analyst1",
        clock=FrozenClock(datetime(2026, 11, 30, 9, 30, tzinfo=UTC), step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix=prefix),
    )
    return executor.run(execution, action, ActionPhase.DO, 1)


def target_events(store: Store, action_id: str) -> list[dict]:
    return [event.payload for event in ledger.iter_events(store) if event.type is EventType.ACTION_TARGET_EXECUTED and event.payload["result"]["action_id"] == action_id]


def recorded_states(store: Store, action_id: str) -> list[object]:
    """The setting as read before each change, from the executor's intent events, oldest first."""
    return [
        json.loads(target["from_folder"])
        for event in ledger.iter_events(store)
        if event.type is EventType.ACTION_TARGETS_STARTED and event.payload["action_id"] == action_id
        for target in event.payload["targets"]
    ]


# The tenant's removals and restores --------------------------------------------------------


def test_remove_forwarding_returns_previous(tenant: DemoTenant, tenant_dir: Path) -> None:
    previous = tenant.remove_forwarding(PRIYA)
    assert previous == {"kind": "forwarding", "value": SETTINGS[PRIYA]["forwarding"]}
    assert stored(tenant_dir)[PRIYA]["forwarding"] is None
    assert tenant.mailbox_settings()[PRIYA].forwarding is None


def test_remove_forwarding_twice_is_harmless(tenant: DemoTenant, tenant_dir: Path) -> None:
    tenant.remove_forwarding(PRIYA)
    after_first = (tenant_dir / "settings" / "mailboxes.json").read_bytes()
    assert tenant.remove_forwarding(PRIYA) is None
    assert (tenant_dir / "settings" / "mailboxes.json").read_bytes() == after_first


def test_removal_keeps_other_mailboxes(tenant: DemoTenant, tenant_dir: Path) -> None:
    tenant.remove_inbox_rule(PRIYA, "rule-2")
    tenant.remove_delegation(PRIYA, KENJI)
    assert stored(tenant_dir)[MARGOT] == SETTINGS[MARGOT]


def test_removal_leaves_no_temporary_file(tenant: DemoTenant, tenant_dir: Path) -> None:
    tenant.remove_forwarding(PRIYA)
    names = sorted(path.name for path in (tenant_dir / "settings").iterdir() if not path.name.endswith(".lock"))
    assert names == ["mailboxes.json"]


def test_remove_inbox_rule_returns_position(tenant: DemoTenant, tenant_dir: Path) -> None:
    previous = tenant.remove_inbox_rule(PRIYA, "rule-2")
    assert previous == {"kind": "inbox_rule", "value": SETTINGS[PRIYA]["inbox_rules"][1], "position": 1}
    assert [rule["id"] for rule in stored(tenant_dir)[PRIYA]["inbox_rules"]] == ["rule-1", "rule-3"]


def test_unknown_rule_or_mailbox_changes_nothing(tenant: DemoTenant, tenant_dir: Path) -> None:
    before = (tenant_dir / "settings" / "mailboxes.json").read_bytes()
    assert tenant.remove_inbox_rule(PRIYA, "rule-9") is None
    assert tenant.remove_inbox_rule("nobody@larkspur.example", "rule-1") is None
    assert tenant.remove_delegation(MARGOT, KENJI) is None
    assert (tenant_dir / "settings" / "mailboxes.json").read_bytes() == before


def test_delegate_address_matches_without_case(tenant: DemoTenant, tenant_dir: Path) -> None:
    previous = tenant.remove_delegation(MARGOT.upper(), AISHA.upper())
    assert previous == {"kind": "delegation", "value": {"address": AISHA, "access": "FullAccess"}, "position": 0}
    assert stored(tenant_dir)[MARGOT]["delegates"] == []


def test_restore_rule_at_old_position(tenant: DemoTenant, tenant_dir: Path) -> None:
    previous = tenant.remove_inbox_rule(PRIYA, "rule-2")
    assert tenant.restore_setting(PRIYA, "inbox_rule", previous) is True
    assert stored(tenant_dir)[PRIYA] == SETTINGS[PRIYA]
    assert tenant.restore_setting(PRIYA, "inbox_rule", previous) is False


def test_restore_forwarding_and_delegation(tenant: DemoTenant, tenant_dir: Path) -> None:
    forwarding = tenant.remove_forwarding(PRIYA)
    delegation = tenant.remove_delegation(PRIYA, KENJI)
    assert tenant.restore_setting(PRIYA, "forwarding", forwarding) is True
    assert tenant.restore_setting(PRIYA, "delegation", delegation) is True
    assert stored(tenant_dir) == SETTINGS


def test_restore_keeps_newer_forwarding(tenant: DemoTenant, tenant_dir: Path) -> None:
    previous = tenant.remove_forwarding(PRIYA)
    data = stored(tenant_dir)
    data[PRIYA]["forwarding"] = {"smtp_address": "new@elsewhere.example", "deliver_and_forward": False}
    (tenant_dir / "settings" / "mailboxes.json").write_text(json.dumps(data))
    with pytest.raises(TenantError, match="new@elsewhere.example"):
        tenant.restore_setting(PRIYA, "forwarding", previous)


def test_restore_rejects_wrong_kind(tenant: DemoTenant) -> None:
    previous = tenant.remove_forwarding(PRIYA)
    with pytest.raises(TenantError, match="not one a removal returned"):
        tenant.restore_setting(PRIYA, "inbox_rule", previous)
    with pytest.raises(TenantError, match="Unknown mailbox setting kind"):
        tenant.restore_setting(PRIYA, "transport_rule", previous)


def test_activity_readers(tenant: DemoTenant, tenant_dir: Path) -> None:
    activity = tenant_dir / "activity"
    activity.mkdir()
    (activity / "audit.jsonl").write_text(
        json.dumps({"id": "audit-1", "time": "2026-11-27T02:30:00Z", "user": PRIYA, "mailbox": PRIYA, "operation": "New-InboxRule", "parameters": {"Name": ".."}}) + "\n"
    )
    (activity / "restrictions.jsonl").write_text(json.dumps({"id": "restriction-1", "time": "2026-11-30T08:00:00Z", "user": PRIYA}) + "\n")
    (activity / "admin_actions.jsonl").write_text(
        json.dumps({"id": "admin-1", "time": "2026-11-30T08:30:00Z", "analyst": "soc1", "target": "recipient", "address": PRIYA}) + "\n"
    )
    assert [record.operation for record in tenant.audit_records()] == ["New-InboxRule"]
    assert [record.user for record in tenant.restrictions()] == [PRIYA]
    assert [record.address for record in tenant.admin_actions()] == [PRIYA]


# Execution through the ledger ----------------------------------------------------------------


def test_execute_removes_rule_records_previous(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    action = setting_action(ActionType.REMOVE_INBOX_RULE, PRIYA, "rule-2")
    assert run(store, tenant, action) is ActionStatus.COMPLETED
    assert [rule["id"] for rule in stored(tenant_dir)[PRIYA]["inbox_rules"]] == ["rule-1", "rule-3"]
    events = target_events(store, action.id)
    assert len(events) == 1
    assert recorded_states(store, action.id) == [{"kind": "inbox_rule", "value": SETTINGS[PRIYA]["inbox_rules"][1], "position": 1}]
    result = events[-1]["result"]
    assert result["message_id"] == f"setting:{PRIYA}:inbox_rule:rule-2"
    assert result["mailbox"] == PRIYA
    assert result["result"] == TargetResult.SUCCEEDED.value
    assert result["previous"] == {"kind": "inbox_rule", "value": SETTINGS[PRIYA]["inbox_rules"][1], "position": 1}


def test_previous_recorded_before_change(store: Store, tenant: DemoTenant) -> None:
    action = setting_action(ActionType.REMOVE_FORWARDING, PRIYA)
    run(store, tenant, action)
    events = list(ledger.iter_events(store))
    intent = next(index for index, event in enumerate(events) if event.type is EventType.ACTION_TARGETS_STARTED)
    result = next(index for index, event in enumerate(events) if event.type is EventType.ACTION_TARGET_EXECUTED)
    assert intent < result
    assert recorded_states(store, action.id) == [{"kind": "forwarding", "value": SETTINGS[PRIYA]["forwarding"]}]
    assert events[intent].payload["targets"][0]["target_id"] == f"setting:{PRIYA}:forwarding"


def test_result_row_in_projection(store: Store, tenant: DemoTenant) -> None:
    action = setting_action(ActionType.REMOVE_DELEGATION, PRIYA, KENJI)
    run(store, tenant, action)
    rows = queries.action_results(store, action.id)
    assert [(row["message_id"], row["result"]) for row in rows] == [(f"setting:{PRIYA}:delegation:{KENJI}", "Succeeded")]


def test_resume_after_completion_changes_nothing(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    action = setting_action(ActionType.REMOVE_FORWARDING, PRIYA)
    run(store, tenant, action)
    settings_file = tenant_dir / "settings" / "mailboxes.json"
    after_first = settings_file.read_bytes()
    modified = settings_file.stat().st_mtime_ns
    assert run(store, tenant, action, prefix="01AGAIN") is ActionStatus.COMPLETED
    assert settings_file.read_bytes() == after_first
    assert settings_file.stat().st_mtime_ns == modified
    assert len(target_events(store, action.id)) == 1


def test_resume_after_crash_keeps_previous(store: Store, tenant_dir: Path) -> None:
    action = setting_action(ActionType.REMOVE_INBOX_RULE, PRIYA, "rule-2")
    with pytest.raises(PowerCut):
        run(store, DyingTenant(tenant_dir), action)
    # The rule is gone, and the ledger holds only the intent recorded before the change.
    assert [rule["id"] for rule in stored(tenant_dir)[PRIYA]["inbox_rules"]] == ["rule-1", "rule-3"]
    assert target_events(store, action.id) == []
    assert recorded_states(store, action.id)[0]["value"] == SETTINGS[PRIYA]["inbox_rules"][1]
    assert run(store, DemoTenant(tenant_dir), action, prefix="01RESUME") is ActionStatus.COMPLETED
    assert [rule["id"] for rule in stored(tenant_dir)[PRIYA]["inbox_rules"]] == ["rule-1", "rule-3"]
    assert len(recorded_states(store, action.id)) == 1
    final = target_events(store, action.id)[-1]
    assert final["result"]["result"] == TargetResult.SUCCEEDED.value
    assert final["result"]["previous"]["value"] == SETTINGS[PRIYA]["inbox_rules"][1]


def test_previous_state_restores_setting(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    action = setting_action(ActionType.REMOVE_INBOX_RULE, PRIYA, "rule-2")
    run(store, tenant, action)
    previous = target_events(store, action.id)[-1]["result"]["previous"]
    assert tenant.restore_setting(PRIYA, "inbox_rule", previous) is True
    assert stored(tenant_dir)[PRIYA] == SETTINGS[PRIYA]


def test_missing_setting_not_found(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    before = stored(tenant_dir)
    action = setting_action(ActionType.REMOVE_FORWARDING, MARGOT)
    assert run(store, tenant, action) is ActionStatus.COMPLETED
    result = target_events(store, action.id)[-1]["result"]
    assert result["result"] == TargetResult.NOT_FOUND.value
    assert result["previous"] is None
    assert stored(tenant_dir) == before


def test_unreadable_settings_fail(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    (tenant_dir / "settings" / "mailboxes.json").write_text("{not json")
    action = setting_action(ActionType.REMOVE_DELEGATION, PRIYA, KENJI)
    assert run(store, tenant, action) is ActionStatus.FAILED
    result = target_events(store, action.id)[-1]["result"]
    assert result["result"] == TargetResult.FAILED.value
    assert "TenantError" in result["error"]
    assert (tenant_dir / "settings" / "mailboxes.json").read_text() == "{not json"


def test_action_without_setting_rejected(store: Store, tenant: DemoTenant) -> None:
    action = setting_action(ActionType.REMOVE_FORWARDING, PRIYA).model_copy(update={"setting": None})
    with pytest.raises(ValueError, match="names no mailbox setting"):
        run(store, tenant, action)


def test_two_actions_change_one_file(store: Store, tenant: DemoTenant, tenant_dir: Path) -> None:
    run(store, tenant, setting_action(ActionType.REMOVE_FORWARDING, PRIYA, action_id="action-1"))
    run(store, tenant, setting_action(ActionType.REMOVE_DELEGATION, MARGOT, AISHA, action_id="action-2"), prefix="01SECOND")
    expected = copy.deepcopy(SETTINGS)
    expected[PRIYA]["forwarding"] = None
    expected[MARGOT]["delegates"] = []
    assert stored(tenant_dir) == expected


def test_message_action_unchanged(store: Store, tenant: DemoTenant) -> None:
    # A message action whose message is not in the index ends as Not found, with no setting field.
    action = PendingAction(
        id="action-9",
        investigation_id="inv-1",
        action_type=ActionType.SOFT_DELETE,
        status=ActionStatus.APPROVED,
        created=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        title="Same URL: https://login-check.test/verify",
        targets=[ActionTarget(message_id="0123456789abcdef", mailbox=PRIYA, folder="Inbox")],
    )
    assert run(store, tenant, action) is ActionStatus.COMPLETED
    events = target_events(store, action.id)
    assert len(events) == 1
    assert events[0]["result"]["result"] == TargetResult.NOT_FOUND.value
    assert "previous" not in events[0]["result"]
