"""The URL click playbook on a small tenant built for each test: verdict time, clicks, clusters, status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from air_tui.domain.alert import Alert
from air_tui.domain.config import InvestigationConfig
from air_tui.domain.event import Event
from air_tui.domain.investigation import Entity, Investigation
from air_tui.domain.vocab import (
    ActionType,
    EntityKind,
    InvestigationStatus,
    Playbook,
    Severity,
    Verdict,
)
from air_tui.engine import url_click
from air_tui.engine.context import PlaybookContext
from air_tui.engine.findings import Outcome
from air_tui.service import AirService, StoreMessageIndex
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, make_service

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PHISH_URL = "https://login-check.test/verify"
CLEAN_URL = "https://intranet.larkspur.example/wiki/holidays"
MARGOT = "margot.visser@larkspur.example"
PRIYA = "priya.raman@larkspur.example"
TOMAS = "tomas.herrera@larkspur.example"
NOAH = "noah.bakker@larkspur.example"
LOTTE = "lotte.dewit@larkspur.example"


class TenantBuilder:
    """Writes a tenant directory: the demo's organisation and users, and mail and clicks given by the test."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.count = 0
        root.mkdir(parents=True)
        for name in ("tenant.json", "directory.json"):
            shutil.copy(DEMO_TENANT / name, root / name)
        (root / "intel").mkdir()
        (root / "intel" / "urls.csv").write_text(f"url,threat,source,added\n{PHISH_URL},Phish,test-feed,2026-11-29\n")
        (root / "activity").mkdir()
        self.clicks: list[dict] = []

    def deliver(self, mailbox: str, folder: str, when: datetime, subject: str, url: str) -> str:
        """Store one message carrying `url` and return its Maildir key."""
        self.count += 1
        key = f"{int(when.timestamp())}.M{self.count}P0.test"
        for subdir in ("cur", "new", "tmp"):
            (self.root / "mailboxes" / mailbox / folder / subdir).mkdir(parents=True, exist_ok=True)
        raw = (
            f"From: IT Service Desk <helpdesk@login-check.test>\r\nTo: {mailbox}\r\nSubject: {subject}\r\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000\r\nMessage-ID: <{self.count}.{when.timestamp()}@login-check.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Your mailbox password expires today. Keep it at {url} before the end of the day.\r\n"
        )
        (self.root / "mailboxes" / mailbox / folder / "cur" / f"{key}:2,S").write_bytes(raw.encode())
        return key

    def click(self, click_id: str, user: str, when: datetime, url: str, action: str = "allowed", key: str = "") -> None:
        self.clicks.append(
            {"id": click_id, "time": when.isoformat(), "user": user, "url": url, "action": action, "mailbox": user if key else "", "key": key}
        )

    def finish(self) -> None:
        lines = "".join(json.dumps(click) + "\n" for click in self.clicks)
        (self.root / "activity" / "url_clicks.jsonl").write_text(lines)


@pytest.fixture
def builder(tmp_path: Path) -> TenantBuilder:
    return TenantBuilder(tmp_path / "tenant")


@pytest.fixture
def opened(builder: TenantBuilder, tmp_path: Path) -> Iterator[Callable[[], AirService]]:
    services: list[AirService] = []

    def open_service() -> AirService:
        builder.finish()
        service = make_service(Workspace(tenant_dir=builder.root, database=tmp_path / "db" / "air-tui.db"))
        service.ingest()
        services.append(service)
        return service

    yield open_service
    for service in services:
        service.close()


def context_for(service: AirService, events: list[Event], **limits: int) -> PlaybookContext:
    return PlaybookContext(
        organisation=service.tenant.organisation,
        users=service.tenant.users,
        intel=service.intel,
        messages=StoreMessageIndex(service.store),
        submissions=[],
        clicks=service.tenant.url_clicks(),
        mailbox_settings=service.tenant.mailbox_settings(),
        clock=service.clock,
        new_id=service.new_id,
        now=lambda: NOW,
        settings=InvestigationConfig(**limits),
        emit=events.extend,
    )


def click_alert(url: str, user: str, when: datetime, click_id: str) -> Alert:
    return Alert(
        id="alert-1",
        policy_id="url-click",
        title="A potentially malicious URL click was detected",
        severity=Severity.HIGH,
        created=when,
        occurred=when,
        user=user,
        users=[user],
        urls=[url],
        source_ids=[click_id],
    )


def investigate(service: AirService, alert: Alert, events: list[Event], **limits: int) -> Outcome:
    investigation = Investigation(id="inv-1", alert_id=alert.id, alert_ids=[alert.id], playbook=Playbook.URL_CLICK.value, title="URL click", created=NOW)
    return url_click.run(context_for(service, events, **limits), investigation, [alert])


def step_names(events: list[Event]) -> list[str]:
    return [event.payload["step"]["name"] for event in events]


def entity(outcome: Outcome, kind: EntityKind, key: str) -> Entity:
    found = outcome.findings.entities.get(f"{kind.value}:{key}")
    assert found is not None, f"no {kind.value} entity {key}; have {sorted(outcome.findings.entities)}"
    return found


def texts(item: Entity) -> str:
    return "\n".join(evidence.text for evidence in item.evidence)


# Campaign: copies in three mailboxes, clicks before and after the verdict -------------------


@pytest.fixture
def campaign(builder: TenantBuilder, opened: Callable[[], AirService]) -> AirService:
    delivered = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    margot_key = builder.deliver(MARGOT, "Inbox", delivered, "Password expiry notice", PHISH_URL)
    priya_key = builder.deliver(PRIYA, "Inbox", delivered, "Password expiry notice", PHISH_URL)
    builder.deliver(TOMAS, "Junk Email", delivered, "Password expiry notice", PHISH_URL)
    builder.deliver(LOTTE, "Deleted Items", delivered, "Password expiry notice", PHISH_URL)
    # The alert's click: after the listing date, so it sets the verdict time (2026-11-29 10:00).
    builder.click("click-margot", MARGOT, datetime(2026, 11, 29, 10, 0, tzinfo=UTC), PHISH_URL, "allowed", margot_key)
    # Within the 48 hours before the verdict time, past a warning page.
    builder.click("click-priya", PRIYA, datetime(2026, 11, 28, 12, 0, tzinfo=UTC), PHISH_URL, "clicked_through", priya_key)
    builder.click("click-tomas", TOMAS, datetime(2026, 11, 29, 11, 0, tzinfo=UTC), PHISH_URL, "blocked")
    # The same URL inside a Safe Links wrapper.
    wrapped = f"https://eur01.safelinks.protection.outlook.com/?url={quote(PHISH_URL, safe='')}&data=05"
    builder.click("click-noah", NOAH, datetime(2026, 11, 29, 12, 30, tzinfo=UTC), wrapped, "allowed")
    # Before the window and after now: both left out.
    builder.click("click-old", LOTTE, datetime(2026, 11, 20, 9, 0, tzinfo=UTC), PHISH_URL, "allowed")
    builder.click("click-future", LOTTE, datetime(2026, 11, 30, 10, 0, tzinfo=UTC), PHISH_URL, "allowed")
    builder.click("click-other", LOTTE, datetime(2026, 11, 29, 10, 0, tzinfo=UTC), CLEAN_URL, "allowed")
    return opened()


def campaign_alert() -> Alert:
    return click_alert(PHISH_URL, MARGOT, datetime(2026, 11, 29, 10, 0, tzinfo=UTC), "click-margot")


def test_campaign_steps_in_order(campaign: AirService) -> None:
    events: list[Event] = []
    investigate(campaign, campaign_alert(), events)
    assert step_names(events) == [
        "URL reputation investigation",
        "URL clicks investigation",
        "Mail cluster identification",
        "Recommended remediation",
    ]


def test_campaign_pending_soft_delete(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    assert outcome.status is InvestigationStatus.PENDING_ACTION
    assert [action.action_type for action in outcome.findings.actions] == [ActionType.SOFT_DELETE]
    targets = outcome.findings.actions[0].targets
    assert sorted((target.mailbox, target.folder) for target in targets) == [
        (MARGOT, "Inbox"),
        (PRIYA, "Inbox"),
        (TOMAS, "Junk Email"),
    ]


def test_verdict_time_first_click(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    url = entity(outcome, EntityKind.URL, PHISH_URL)
    assert url.verdict is Verdict.MALICIOUS
    assert url.attributes["verdict_time"] == "2026-11-29T10:00:00+00:00"
    assert "Verdict time 2026-11-29 10:00 UTC (the first click, after the listing by test-feed on 2026-11-29)" in texts(url)


def test_clicks_in_window_only(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    users = {item.key for item in outcome.findings.entities.values() if item.kind is EntityKind.USER}
    assert users == {MARGOT, PRIYA, TOMAS, NOAH}
    url_text = texts(entity(outcome, EntityKind.URL, PHISH_URL))
    assert "2026-11-20" not in url_text
    assert "2026-11-30 10:00" not in url_text
    assert CLEAN_URL not in url_text


def test_clicking_users_flagged_with_evidence(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    margot = entity(outcome, EntityKind.USER, MARGOT)
    assert margot.verdict is Verdict.SUSPICIOUS
    assert margot.attributes["vip"] is True
    assert margot.attributes["department"] == "Executive"
    assert f"Opened the malicious URL {PHISH_URL} at 2026-11-29 10:00 UTC." in texts(margot)
    priya = entity(outcome, EntityKind.USER, PRIYA)
    assert priya.verdict is Verdict.SUSPICIOUS
    assert "past a warning page at 2026-11-28 12:00 UTC" in texts(priya)
    assert priya.attributes["clicked_through"] == 1
    noah = entity(outcome, EntityKind.USER, NOAH)
    assert noah.verdict is Verdict.SUSPICIOUS


def test_blocked_click_not_held_against_user(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    tomas = entity(outcome, EntityKind.USER, TOMAS)
    assert tomas.verdict is Verdict.NO_THREATS_FOUND
    assert tomas.attributes["blocked"] == 1
    assert "was blocked; the page did not open" in texts(tomas)
    assert "(blocked)" in texts(entity(outcome, EntityKind.URL, PHISH_URL))


def test_clickers_have_mailbox_entities(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    mailbox = entity(outcome, EntityKind.MAILBOX, MARGOT)
    assert mailbox.parent_id == f"user:{MARGOT}"
    assert "now in Inbox" in texts(mailbox)


def test_url_cluster_counts_folders(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    cluster = next(cluster for cluster in outcome.findings.clusters if cluster.cluster_by == "url" and cluster.value == PHISH_URL)
    assert cluster.verdict is Verdict.MALICIOUS
    assert cluster.counts_by_folder == {"Deleted Items": 1, "Inbox": 2, "Junk Email": 1}
    assert len(cluster.mailboxes) == 4
    assert "4 messages in 4 mailboxes (Deleted Items 1, Inbox 2, Junk Email 1)." in texts(entity(outcome, EntityKind.CLUSTER, cluster.id))


def test_no_action_for_the_click(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    assert all(action.action_type is ActionType.SOFT_DELETE for action in outcome.findings.actions)
    assert all(action.setting is None for action in outcome.findings.actions)


def test_too_many_clicks_terminates(campaign: AirService) -> None:
    events: list[Event] = []
    outcome = investigate(campaign, campaign_alert(), events, max_clicks=3)
    assert outcome.status is InvestigationStatus.TERMINATED_BY_SYSTEM
    assert "clicked 4 times" in outcome.reason
    assert "more than the limit of 3 (investigations.max_clicks)" in outcome.reason
    assert step_names(events) == ["URL reputation investigation", "URL clicks investigation"]
    assert outcome.findings.actions == []


def test_cluster_over_limit_terminates(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [], max_cluster_messages=3)
    assert outcome.status is InvestigationStatus.TERMINATED_BY_SYSTEM
    assert "4 messages carry" in outcome.reason
    assert "more than the limit of 3 (investigations.max_cluster_messages)" in outcome.reason


# Other endings ------------------------------------------------------------------------------


def test_click_no_copy_partially_investigated(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    key = builder.deliver(PRIYA, "Deleted Items", datetime(2026, 11, 29, 8, 0, tzinfo=UTC), "Password expiry notice", PHISH_URL)
    builder.click("click-1", PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), PHISH_URL, "allowed", key)
    outcome = investigate(opened(), click_alert(PHISH_URL, PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "click-1"), [])
    assert outcome.status is InvestigationStatus.PARTIALLY_INVESTIGATED
    assert f"1 user opened a malicious URL ({PRIYA})" in outcome.reason
    assert outcome.findings.actions == []


def test_blocked_click_no_copy_remediated(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    builder.deliver(PRIYA, "Deleted Items", datetime(2026, 11, 29, 8, 0, tzinfo=UTC), "Password expiry notice", PHISH_URL)
    builder.click("click-1", PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), PHISH_URL, "blocked")
    outcome = investigate(opened(), click_alert(PHISH_URL, PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "click-1"), [])
    assert outcome.status is InvestigationStatus.REMEDIATED
    assert outcome.reason == "The URL is malicious, but no copy of the mail carrying it is left in a mailbox."


def test_later_listing_sets_verdict_time(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    key = builder.deliver(PRIYA, "Inbox", datetime(2026, 11, 28, 6, 0, tzinfo=UTC), "Password expiry notice", PHISH_URL)
    # Clicked the day before the feed listed the URL: the verdict time is the listing, midnight 2026-11-29.
    builder.click("click-1", PRIYA, datetime(2026, 11, 28, 7, 0, tzinfo=UTC), PHISH_URL, "allowed", key)
    outcome = investigate(opened(), click_alert(PHISH_URL, PRIYA, datetime(2026, 11, 28, 7, 0, tzinfo=UTC), "click-1"), [])
    url = entity(outcome, EntityKind.URL, PHISH_URL)
    assert url.attributes["verdict_time"] == "2026-11-29T00:00:00+00:00"
    assert "listed by test-feed on 2026-11-29" in texts(url)
    assert entity(outcome, EntityKind.USER, PRIYA).verdict is Verdict.SUSPICIOUS


def test_clean_url_no_threats_found(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    key = builder.deliver(PRIYA, "Inbox", datetime(2026, 11, 29, 8, 0, tzinfo=UTC), "Holiday calendar", CLEAN_URL)
    builder.click("click-1", PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), CLEAN_URL, "allowed", key)
    events: list[Event] = []
    outcome = investigate(opened(), click_alert(CLEAN_URL, PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "click-1"), events)
    assert outcome.status is InvestigationStatus.NO_THREATS_FOUND
    assert outcome.findings.actions == []
    url = entity(outcome, EntityKind.URL, CLEAN_URL)
    assert url.verdict is not Verdict.MALICIOUS
    assert url.attributes["verdict_time"] == "2026-11-29T09:00:00+00:00"
    assert entity(outcome, EntityKind.USER, PRIYA).verdict is Verdict.NO_THREATS_FOUND
    cluster = outcome.findings.clusters[0]
    assert cluster.message_ids
    assert cluster.verdict is url.verdict


def test_alert_without_url_uses_its_clicks(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    builder.click("click-1", PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), PHISH_URL, "allowed")
    alert = click_alert(PHISH_URL, PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "click-1").model_copy(update={"urls": []})
    outcome = investigate(opened(), alert, [])
    assert entity(outcome, EntityKind.URL, PHISH_URL).verdict is Verdict.MALICIOUS
    assert outcome.status is InvestigationStatus.PARTIALLY_INVESTIGATED


def test_scope_is_union_of_alerts(builder: TenantBuilder, opened: Callable[[], AirService]) -> None:
    builder.click("click-1", PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), PHISH_URL, "allowed")
    builder.click("click-2", TOMAS, datetime(2026, 11, 29, 9, 30, tzinfo=UTC), CLEAN_URL, "allowed")
    first = click_alert(PHISH_URL, PRIYA, datetime(2026, 11, 29, 9, 0, tzinfo=UTC), "click-1")
    joined = click_alert(CLEAN_URL, TOMAS, datetime(2026, 11, 29, 9, 30, tzinfo=UTC), "click-2").model_copy(update={"id": "alert-2"})
    investigation = Investigation(id="inv-1", alert_id=first.id, alert_ids=[first.id, joined.id], playbook=Playbook.URL_CLICK.value, title="URL click", created=NOW)
    outcome = url_click.run(context_for(opened(), []), investigation, [first, joined])
    assert entity(outcome, EntityKind.URL, PHISH_URL).verdict is Verdict.MALICIOUS
    assert entity(outcome, EntityKind.URL, CLEAN_URL).verdict is not Verdict.MALICIOUS
    assert entity(outcome, EntityKind.USER, PRIYA).verdict is Verdict.SUSPICIOUS
    assert entity(outcome, EntityKind.USER, TOMAS).verdict is Verdict.NO_THREATS_FOUND
    assert {entity(outcome, EntityKind.ALERT, alert_id).verdict for alert_id in ("alert-1", "alert-2")} == {Verdict.MALICIOUS}


def test_entities_survive_storage(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    for item in outcome.findings.entities.values():
        assert Entity.model_validate_json(item.model_dump_json()) == item, item.id


def test_flagged_entities_carry_evidence(campaign: AirService) -> None:
    outcome = investigate(campaign, campaign_alert(), [])
    for item in outcome.findings.entities.values():
        if item.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS):
            points = sum(evidence.weight for evidence in item.evidence)
            assert any(evidence.verdict is item.verdict for evidence in item.evidence) or points >= 40, item.id
