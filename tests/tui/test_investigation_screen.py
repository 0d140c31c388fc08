"""The investigation screen: every tab's content, its keys, entity details and hostile text."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text
from textual.app import App
from textual.widgets import DataTable, Static, TabbedContent

import air_tui.tui
from air_tui.domain.action import ActionTarget, Decision, PendingAction, SettingTarget
from air_tui.domain.alert import Alert, Incident
from air_tui.domain.ids import FrozenClock
from air_tui.domain.investigation import (
    Cluster,
    Entity,
    Evidence,
    Investigation,
    LogStep,
    StatusChange,
)
from air_tui.domain.message import Address, EmailMessage, MessageLocation
from air_tui.domain.vocab import (
    ActionStatus,
    ActionType,
    DecisionKind,
    EntityKind,
    IncidentStatus,
    InvestigationStatus,
    Severity,
    ThreatType,
    Verdict,
)
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.modals import RAW_HEADERS_SHOWN, EntityDetail, MessageDetail
from air_tui.tui.screens.investigation import (
    InvestigationScreen,
    entity_counts,
    is_remediated,
)
from air_tui.tui.widgets.node_graph import NodeGraph

START = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
NOW = START + timedelta(hours=2, minutes=30)

HOSTILE_LABEL = "[bold red]Pay now[/] \x1b[2J invoice\u202egpj.exe"
HOSTILE_DETAILS = "[link=http://x.example]click[/link]\x07 here"
HOSTILE_HEADERS = (
    "Received: from mx.evil.example (203.0.113.5)\r\n"
    "Subject: [bold]Invoice[/bold] \x1b[31mred\x1b[0m\r\n"
    "X-Direction: \u202eexe.pdf\r\n"
    "X-Lone-Return: a\rb\r\n"
)


def _entity(kind: EntityKind, key: str, label: str, verdict: Verdict, parent: str = "", **attributes: object) -> Entity:
    return Entity(
        id=f"{kind.value}:{key}",
        kind=kind,
        key=key,
        label=label,
        verdict=verdict,
        parent_id=parent,
        attributes=attributes,  # type: ignore[arg-type]
    )


def make_detail() -> InvestigationDetail:
    """Build an investigation with entities of every kind, two alerts, an incident, actions in
    every state the tabs show, decisions and a status timeline."""
    investigation = Investigation(
        id="01INV0000000000000000000001",
        alert_id="AL-1",
        playbook="User-reported message",
        title="Email reported by user as malware or phish: Invoice overdue",
        status=InvestigationStatus.PENDING_ACTION,
        created=START,
        started=START + timedelta(seconds=5),
        status_reason="1 remediation action waits for approval.",
        alert_ids=["AL-1", "AL-2"],
        incident_id="INC-7",
        queued=START,
        pending_since=START + timedelta(hours=2),
        pending_seconds=600,
        runs=2,
    )

    message = _entity(
        EntityKind.MESSAGE,
        "m-1",
        HOSTILE_LABEL,
        Verdict.MALICIOUS,
        "submission:S-1",
        mailbox="alice@larkspur.example",
        folder="Inbox",
        recipients=[f"user{number}@larkspur.example" for number in range(12)],
        received="2026-11-30T09:00:00+00:00",
        internet_message_id="<" + "x" * 150 + "@evil.example>",
        score=180,
    )
    message.threats = [ThreatType.PHISH, ThreatType.MALICIOUS_URL]
    message.evidence = [
        Evidence(text="Reply-To differs from From.", verdict=Verdict.SUSPICIOUS, source="Sender analysis", rule="sender.reply_to_differs", weight=40),
        Evidence(text="URL on a phishing feed.", verdict=Verdict.MALICIOUS, source="URL reputation", rule="url.feed_listed", weight=140),
    ]

    url = _entity(EntityKind.URL, "http://evil.example/login", "http://evil.example/login", Verdict.MALICIOUS, message.id, host="evil.example")
    url.evidence = [Evidence(text="Listed by a local feed.", verdict=Verdict.MALICIOUS, source="URL reputation")]

    cluster_gone = _entity(
        EntityKind.CLUSTER, "C-1", "Same URL: http://evil.example/login", Verdict.MALICIOUS, message.id, message_count=3, in_mailbox_now=0
    )
    cluster_left = _entity(EntityKind.CLUSTER, "C-2", "Same sender: evil@evil.example", Verdict.MALICIOUS, message.id, message_count=1, in_mailbox_now=1)

    alice = _entity(
        EntityKind.MAILBOX, "alice@larkspur.example", "Alice Ng <alice@larkspur.example>", Verdict.SUSPICIOUS, message.id, vip=True, department="Finance"
    )
    alice.evidence = [Evidence(text="Mail is forwarded outside.", verdict=Verdict.SUSPICIOUS, source="Mail forwarding rules investigation")]

    entities = [
        _entity(EntityKind.ALERT, "AL-1", "Email reported by user as malware or phish", Verdict.UNKNOWN),
        _entity(EntityKind.SUBMISSION, "S-1", "Reported as Phish by alice@larkspur.example", Verdict.UNKNOWN, "alert:AL-1"),
        message,
        _entity(EntityKind.SENDER, "evil@evil.example", "evil@evil.example", Verdict.SUSPICIOUS, message.id),
        url,
        _entity(EntityKind.FILE, "ab12", "invoice.pdf", Verdict.NO_THREATS_FOUND, message.id, sha256="ab12", size=2048),
        _entity(EntityKind.IP, "203.0.113.5", "203.0.113.5", Verdict.UNKNOWN, message.id),
        cluster_gone,
        cluster_left,
        _entity(EntityKind.MESSAGE, "m-2", "Invoice overdue", Verdict.MALICIOUS, cluster_gone.id),
        alice,
        _entity(EntityKind.MAILBOX, "bob@larkspur.example", "Bob Ray <bob@larkspur.example>", Verdict.NO_THREATS_FOUND, message.id, vip=False, department="Sales"),
        _entity(EntityKind.USER, "alice@larkspur.example", "Alice Ng", Verdict.NO_THREATS_FOUND, alice.id),
        _entity(
            EntityKind.MAILBOX_CONFIG,
            "alice@larkspur.example:forwarding",
            "Forwarding to drop@evil.example",
            Verdict.SUSPICIOUS,
            alice.id,
            mailbox="alice@larkspur.example",
            item_id="",
        ),
    ]

    clusters = [
        Cluster(id="C-1", cluster_by="url", value="http://evil.example/login", verdict=Verdict.MALICIOUS, message_ids=["m-1", "m-2", "m-3"]),
        Cluster(id="C-2", cluster_by="sender", value="evil@evil.example", verdict=Verdict.MALICIOUS, message_ids=["m-4"]),
    ]

    soft_delete = PendingAction(
        id="ACT-1",
        investigation_id=investigation.id,
        action_type=ActionType.SOFT_DELETE,
        status=ActionStatus.COMPLETED,
        created=START + timedelta(minutes=1),
        cluster_id="C-1",
        title="Same URL: http://evil.example/login",
        targets=[
            ActionTarget(message_id="m-1", mailbox="alice@larkspur.example", folder="Inbox"),
            ActionTarget(message_id="m-2", mailbox="bob@larkspur.example", folder="Inbox"),
        ],
    )
    to_junk = PendingAction(
        id="ACT-2",
        investigation_id=investigation.id,
        action_type=ActionType.MOVE_TO_JUNK,
        created=START + timedelta(hours=2),
        cluster_id="C-2",
        title="Same sender: evil@evil.example",
        targets=[ActionTarget(message_id="m-4", mailbox="bob@larkspur.example", folder="Inbox")],
    )
    forwarding = PendingAction(
        id="ACT-3",
        investigation_id=investigation.id,
        action_type=ActionType.REMOVE_FORWARDING,
        status=ActionStatus.COMPLETED,
        created=START + timedelta(minutes=2),
        title="Forwarding of alice@larkspur.example",
        setting=SettingTarget(mailbox="alice@larkspur.example", description="Forwarding to drop@evil.example"),
    )
    rejected = PendingAction(
        id="ACT-4",
        investigation_id=investigation.id,
        action_type=ActionType.HARD_DELETE,
        status=ActionStatus.REJECTED,
        created=START + timedelta(minutes=3),
        cluster_id="C-2",
        title="Same sender: evil@evil.example",
        targets=[ActionTarget(message_id="m-4", mailbox="bob@larkspur.example", folder="Inbox")],
    )

    alerts = [
        Alert(
            id="AL-1",
            policy_id="user-reported",
            title="Email reported by user as malware or phish",
            severity=Severity.HIGH,
            created=START,
            occurred=START - timedelta(minutes=5),
            user="alice@larkspur.example",
            users=["alice@larkspur.example", "carol@larkspur.example"],
            hit_count=3,
            details="Reported from Outlook as Phish.",
            incident_id="INC-7",
        ),
        Alert(
            id="AL-2",
            policy_id="url-click",
            title="A potentially malicious URL click was detected",
            severity=Severity.MEDIUM,
            created=START + timedelta(hours=1),
            occurred=START + timedelta(hours=1),
            user="bob@larkspur.example",
            details=HOSTILE_DETAILS,
            incident_id="INC-7",
        ),
    ]

    return InvestigationDetail(
        investigation=investigation,
        alert=alerts[0],
        entities=entities,
        clusters=clusters,
        log=[
            LogStep(name="Identify the reported email", started=START + timedelta(seconds=5), duration_ms=120, outcome="ok", summary="1 email", entities_touched=1),
            LogStep(name="Mail cluster identification", started=START + timedelta(seconds=6), duration_ms=2500, outcome="ok", summary="2 clusters", entities_touched=5),
            LogStep(name="Online URL look-up", started=START + timedelta(seconds=9), duration_ms=30, outcome="failed: timed out", entities_touched=0),
        ],
        actions=[soft_delete, to_junk, forwarding, rejected],
        alerts=alerts,
        incident=Incident(
            id="INC-7",
            title="Phish campaign against Finance",
            severity=Severity.HIGH,
            status=IncidentStatus.ACTIVE,
            created=START,
            updated=START + timedelta(hours=1),
        ),
        status_history=[
            StatusChange(time=START, status=InvestigationStatus.QUEUED_BY_THROTTLING, reason="3 investigations running."),
            StatusChange(time=START + timedelta(seconds=5), status=InvestigationStatus.RUNNING),
            StatusChange(time=START + timedelta(minutes=1), status=InvestigationStatus.PENDING_ACTION, reason="3 actions wait for approval."),
            StatusChange(time=START + timedelta(hours=2), status=InvestigationStatus.PENDING_ACTION, reason="A URL click widened the scope.", actor="analyst1"),
        ],
        decisions={
            "ACT-1": [Decision(action_id="ACT-1", kind=DecisionKind.APPROVED, analyst="analyst1", time=START + timedelta(minutes=20), comment="Confirmed phish")],
            "ACT-3": [Decision(action_id="ACT-3", kind=DecisionKind.APPROVED, analyst="analyst2", time=START + timedelta(minutes=30))],
            "ACT-4": [
                Decision(action_id="ACT-4", kind=DecisionKind.REJECTED, analyst="analyst2", time=START + timedelta(minutes=40), comment="[b]soft delete[/b] is enough"),
            ],
        },
    )


def make_message() -> EmailMessage:
    return EmailMessage(
        id="m-1",
        subject=HOSTILE_LABEL,
        sender=Address(display_name="Billing", address="evil@evil.example"),
        location=MessageLocation(mailbox="alice@larkspur.example", folder="Inbox"),
        body_text="Pay the invoice today.",
    )


class ScreenHost(App[None]):
    """A bare app with the console's stylesheet that opens the investigation screen over a
    frozen investigation and clock."""

    CSS_PATH = Path(air_tui.tui.__file__).parent / "app.tcss"

    def __init__(self, detail: InvestigationDetail | None, *, headers: str = HOSTILE_HEADERS) -> None:
        super().__init__()
        self.reduce_motion = True
        self.detail = detail
        self.headers = headers
        self.header_requests: list[str] = []
        self.investigation_screen = InvestigationScreen(
            lambda: self.detail,
            message_loader=self.load_message,
            headers_loader=self.load_headers,
            clock=FrozenClock(NOW),
        )

    def load_message(self, message_id: str) -> EmailMessage | None:
        return make_message() if message_id == "m-1" else None

    def load_headers(self, message_id: str) -> str:
        self.header_requests.append(message_id)
        return self.headers

    def on_mount(self) -> None:
        self.push_screen(self.investigation_screen)


def cells(app: App[None], table_id: str) -> list[list[str]]:
    table = app.screen.query_one(f"#{table_id}", DataTable)
    return [[_plain(cell) for cell in table.get_row_at(row)] for row in range(table.row_count)]


def _plain(value: object) -> str:
    if isinstance(value, Text):
        return value.plain
    if isinstance(value, str):
        return value
    # Grids and groups: lay them out wide enough that no line wraps.
    console = Console(width=200, color_system=None, file=io.StringIO())
    console.print(value)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in output.splitlines())


def static_text(app: App[None], static_id: str) -> str:
    return _plain(app.screen.query_one(f"#{static_id}", Static).content)


def screen_text(app: App[None]) -> str:
    return "\n".join(_plain(static.content) for static in app.screen.query(Static))


SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES)
async def test_summary_tab_facts(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        summary = static_text(app, "summary-text")
        assert "Pending action" in summary
        assert InvestigationStatus.PENDING_ACTION.explanation in summary
        assert "1 remediation action waits for approval." in summary
        assert "User-reported message" in summary
        assert "Runs              2" in summary
        assert "High" in summary
        assert "INC-7 · Phish campaign against Finance · Active" in summary
        assert "2026-11-30 09:30:05" in summary
        assert "2 h 29 min so far" in summary
        # 600 s of finished waits plus the 30 min since pending_since.
        assert "40 min 0 s, waiting since 2026-11-30 11:30:00" in summary
        assert "2026-11-30 09:30:00, 5 s in the queue" in summary
        assert "Ended" not in summary


async def test_summary_status_timeline() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        summary = static_text(app, "summary-text")
        timeline = summary.split("Status timeline (times in UTC)\n", 1)[1]
        lines = timeline.splitlines()
        assert lines[0] == "2026-11-30 09:30:00  Queued by throttling · by system"
        assert lines[1].strip() == "3 investigations running."
        assert lines[2] == "2026-11-30 09:30:05  Running · by system"
        assert "2026-11-30 11:30:00  Pending action · by analyst1" in lines
        assert "A URL click widened the scope." in timeline


async def test_summary_ended_terminal_only() -> None:
    detail = make_detail()
    detail.investigation.status = InvestigationStatus.REMEDIATED
    detail.investigation.ended = START + timedelta(hours=1)
    detail.investigation.pending_since = None
    app = ScreenHost(detail)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        summary = static_text(app, "summary-text")
        assert "Ended             2026-11-30 10:30:00" in summary
        assert "Duration          59 min 55 s" in summary
        assert "Pending approval  10 min 0 s" in summary


async def test_tab_keys_switch_tabs() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tabs = app.screen.query_one(TabbedContent)
        expected = {
            "v": ("graph", "node-graph"),
            "a": ("alerts", "alerts-table"),
            "m": ("mailboxes", "mailboxes-table"),
            "e": ("evidence", "evidence-table"),
            "n": ("entities", "entities-table"),
            "l": ("log", "log-table"),
            "p": ("actions", "pending-table"),
            "s": ("summary", "summary-scroll"),
        }
        for key, (pane, focused) in expected.items():
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == pane, key
            assert app.focused is not None
            assert app.focused.id == focused, key


async def test_number_keys_switch_tabs() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        tabs = app.screen.query_one(TabbedContent)
        for key, pane in zip("12345678", ["summary", "graph", "alerts", "mailboxes", "evidence", "entities", "log", "actions"], strict=True):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == pane, key


async def test_footer_shows_tab_keys() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        footer_keys = {binding.key for _node, binding, enabled, _tooltip in app.screen.active_bindings.values() if binding.show and enabled}
        assert {"escape", "s", "v", "a", "m", "e", "n", "l", "p"} <= footer_keys


async def test_escape_closes_screen() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, InvestigationScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, InvestigationScreen)


async def test_palette_lists_every_tab() -> None:
    from air_tui.tui.screens.investigation import InvestigationCommands

    app = ScreenHost(make_detail())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        provider = InvestigationCommands(app.screen)
        names = [hit.text async for hit in provider.discover()]
        for title in ["Summary", "Graph", "Alerts", "Mailboxes", "Evidence", "Entities", "Log", "Actions"]:
            assert f"Investigation: {title} tab" in names
        hits = [hit async for hit in provider.search("entities tab")]
        assert hits
        hits[0].command()
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "entities"


@pytest.mark.parametrize("size", SIZES)
async def test_alerts_tab_rows(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.press("a")
        await pilot.pause()
        rows = cells(app, "alerts-table")
        assert len(rows) == 2
        assert rows[0][:5] == ["High", "Email reported by user as malware or phish", "2026-11-30 09:25:00", "3", "alice@larkspur.example, carol@larkspur.example"]
        assert rows[0][5:7] == ["New", "INC-7"]
        assert rows[1][0] == "Medium"
        detail = static_text(app, "alert-detail")
        assert "Reported from Outlook as Phish." in detail
        await pilot.press("j")
        await pilot.pause()
        assert "[link=http://x.example]click[/link]⟨U+0007⟩ here" in static_text(app, "alert-detail")


async def test_alerts_fall_back_to_starting_alert() -> None:
    detail = make_detail()
    detail.alerts.clear()
    app = ScreenHost(detail)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("a")
        await pilot.pause()
        assert [row[1] for row in cells(app, "alerts-table")] == ["Email reported by user as malware or phish"]


async def test_mailboxes_tab_rows() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("m")
        await pilot.pause()
        rows = {row[2]: row for row in cells(app, "mailboxes-table")}
        assert set(rows) == {"Alice Ng <alice@larkspur.example>", "Bob Ray <bob@larkspur.example>", "Alice Ng"}
        alice = rows["Alice Ng <alice@larkspur.example>"]
        assert alice[:2] == ["SUSPICIOUS", "Mailbox"]
        assert alice[3:6] == ["1", "VIP", "Finance"]
        assert alice[6] == "1: Forwarding to drop@evil.example"
        assert rows["Bob Ray <bob@larkspur.example>"][4:7] == ["no", "Sales", "none"]
        assert rows["Alice Ng"][1] == "User"
        # The setting names alice's address, so the user entity of that address lists it too.
        assert rows["Alice Ng"][6] == "1: Forwarding to drop@evil.example"


@pytest.mark.parametrize("size", SIZES)
async def test_evidence_tab_rows(size: tuple[int, int]) -> None:
    detail = make_detail()
    app = ScreenHost(detail)
    async with app.run_test(size=size) as pilot:
        await pilot.press("e")
        await pilot.pause()
        rows = cells(app, "evidence-table")
        assert len(rows) == len(detail.entities)
        message = next(row for row in rows if row[1] == "Email" and row[0] == "MALICIOUS" and "Pay now" in row[2])
        assert message[3] == "Phish, MaliciousUrl"
        assert message[4:] == ["2", "Sender analysis"]
        assert "14 entities" in static_text(app, "evidence-count")


async def test_evidence_filter_and_clear() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"forwarding")
        await pilot.pause()
        labels = [row[2] for row in cells(app, "evidence-table")]
        assert labels == ["Alice Ng <alice@larkspur.example>", "Forwarding to drop@evil.example"]
        assert "2 of 14 entities" in static_text(app, "evidence-count")
        await pilot.press("escape")
        await pilot.pause()
        assert len(cells(app, "evidence-table")) == 14
        assert app.focused is not None
        assert app.focused.id == "evidence-table"
        assert isinstance(app.screen, InvestigationScreen)


async def test_evidence_filter_by_verdict_word() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"clean", "enter")
        await pilot.pause()
        assert {row[0] for row in cells(app, "evidence-table")} == {"CLEAN"}
        assert app.focused is not None
        assert app.focused.id == "evidence-table"


@pytest.mark.parametrize("size", SIZES)
async def test_entities_tab_counts(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.press("n")
        await pilot.pause()
        rows = {row[0]: row[1:] for row in cells(app, "entities-table")}
        # Total, Malicious, Suspicious, No threats found, Unknown, Remediated.
        assert rows["Email"] == ["2", "2", "0", "0", "0", "2"]
        assert rows["Cluster"] == ["2", "2", "0", "0", "0", "1"]
        assert rows["Setting"] == ["1", "0", "1", "0", "0", "1"]
        assert rows["Mailbox"] == ["2", "0", "1", "1", "0", "0"]
        assert rows["User"] == ["1", "0", "0", "1", "0", "0"]
        assert rows["Alert"] == ["1", "0", "0", "0", "1", "0"]
        assert rows["All"] == ["14", "5", "3", "3", "3", "4"]
        assert list(rows)[-1] == "All"
        assert "Remediated:" in static_text(app, "entities-note")


def test_remediated_message_needs_move_out() -> None:
    detail = make_detail()
    message = next(entity for entity in detail.entities if entity.key == "m-1")
    assert is_remediated(message, detail)
    detail.actions[0].action_type = ActionType.MOVE_TO_JUNK
    assert not is_remediated(message, detail)


def test_remediated_message_needs_completed_action() -> None:
    detail = make_detail()
    message = next(entity for entity in detail.entities if entity.key == "m-1")
    detail.actions[0].status = ActionStatus.PARTIALLY_FAILED
    assert not is_remediated(message, detail)


def test_remediated_cluster_needs_action() -> None:
    detail = make_detail()
    cluster = next(entity for entity in detail.entities if entity.key == "C-1")
    assert is_remediated(cluster, detail)
    detail.actions[0].status = ActionStatus.REJECTED
    assert not is_remediated(cluster, detail)


def test_remediated_setting_needs_completion() -> None:
    detail = make_detail()
    setting = next(entity for entity in detail.entities if entity.kind is EntityKind.MAILBOX_CONFIG)
    assert is_remediated(setting, detail)
    detail.actions[2].status = ActionStatus.FAILED
    assert not is_remediated(setting, detail)


def test_entity_counts_empty() -> None:
    detail = make_detail()
    detail.entities.clear()
    assert entity_counts(detail) == []


@pytest.mark.parametrize("size", SIZES)
async def test_log_tab_rows(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.press("l")
        await pilot.pause()
        rows = cells(app, "log-table")
        assert rows[0] == ["Identify the reported email", "2026-11-30 09:30:05", "120 ms", "✓ ok", "1", "1 email"]
        assert rows[1][2] == "2 s"
        assert rows[2][3] == "✗ failed: timed out"
        assert rows[2][5] == "—"


@pytest.mark.parametrize("size", SIZES)
async def test_actions_tab_pending_and_history(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.press("p")
        await pilot.pause()
        pending = cells(app, "pending-table")
        assert pending == [["Move to Junk Email", "1 message in 1 mailbox", "30 min 0 s", "1 message in 1 mailbox moves to Junk Email."]]
        assert static_text(app, "pending-title") == "Pending approval (1)"
        history = cells(app, "history-table")
        assert [row[0] for row in history] == ["Soft delete", "Remove forwarding", "Hard delete"]
        assert history[0][1:7] == ["Completed", "analyst1", "2026-11-30 09:50:00", "19 min 0 s", "Confirmed phish", "1"]
        assert history[1][5] == "—"
        assert history[2][1:3] == ["Rejected", "analyst2"]
        assert history[2][5] == "[b]soft delete[/b] is enough"
        assert "approved by analyst1: Confirmed phish" in static_text(app, "decisions-detail")


async def test_actions_decisions_follow_cursor() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        app.screen.query_one("#history-table").focus()
        await pilot.press("G")
        await pilot.pause()
        decisions = static_text(app, "decisions-detail")
        assert "Hard delete · Rejected" in decisions
        assert "rejected by analyst2: [b]soft delete[/b] is enough" in decisions


async def test_enter_on_evidence_opens_entity() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"invoice.pdf", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        dialog = screen_text(app)
        assert "CLEAN File" in dialog
        assert "sha256: ab12" in dialog
        assert "size: 2048" in dialog
        assert "Found in" in dialog
        assert "Raw headers" not in dialog
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InvestigationScreen)


async def test_enter_on_email_opens_message() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"pay now", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, MessageDetail)
        assert app.header_requests == ["m-1"]
        dialog = screen_text(app)
        # Evidence with rule id, weight and source.
        assert "+40 sender.reply_to_differs · Sender analysis" in dialog
        assert "+140 url.feed_listed · URL reputation" in dialog
        # Every recipient on its own line, and the long id whole.
        for number in range(12):
            assert f"• user{number}@larkspur.example" in dialog
        assert "<" + "x" * 150 + "@evil.example>" in dialog
        # Related: parent, children, clusters containing it.
        related = static_text(app, "entity-related")
        assert "UNKNOWN Report Reported as Phish by alice@larkspur.example" in related
        assert "MALICIOUS URL http://evil.example/login" in related
        assert "In clusters (1)" in related
        assert "MALICIOUS Cluster Same URL: http://evil.example/login" in related


async def test_raw_headers_render_literally() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"pay now", "enter", "enter")
        await pilot.pause()
        headers = static_text(app, "raw-headers")
        assert "Received: from mx.evil.example (203.0.113.5)" in headers
        assert "Subject: [bold]Invoice[/bold] ⟨U+001B⟩[31mred⟨U+001B⟩[0m" in headers
        assert "X-Direction: ⟨RLO⟩exe.pdf" in headers
        assert "X-Lone-Return: a⟨U+000D⟩b" in headers
        assert "\x1b" not in headers
        assert "\u202e" not in headers
        assert "\r" not in headers


async def test_raw_headers_capped_with_note() -> None:
    long_headers = "X-Filler: " + "y" * (RAW_HEADERS_SHOWN + 500)
    app = ScreenHost(make_detail(), headers=long_headers)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"pay now", "enter", "enter")
        await pilot.pause()
        headers = static_text(app, "raw-headers")
        assert f"… {len(long_headers) - RAW_HEADERS_SHOWN} more characters of headers not shown" in headers


async def test_email_without_stored_message() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"m-2", "enter", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        assert app.header_requests == ["m-2"]
        related = static_text(app, "entity-related")
        assert "MALICIOUS Cluster Same URL: http://evil.example/login" in related
        assert "In clusters (1)" in related


async def test_enter_on_mailbox_opens_entity() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        dialog = screen_text(app)
        assert "vip: yes" in dialog
        assert "department: Finance" in dialog
        assert "Contains (2)" in dialog
        assert "SUSPICIOUS Setting Forwarding to drop@evil.example" in dialog


async def test_enter_on_action_opens_cluster() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        assert app.screen.entity.id == "cluster:C-2"


async def test_graph_opened_entity_shows_detail() -> None:
    detail = make_detail()
    app = ScreenHost(detail)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("v")
        graph = app.screen.query_one(NodeGraph)
        url = next(entity for entity in detail.entities if entity.kind is EntityKind.URL)
        graph.post_message(NodeGraph.EntityHighlighted(url))
        await pilot.pause()
        assert "MALICIOUS URL http://evil.example/login · 1 evidence" in static_text(app, "graph-hint")
        graph.post_message(NodeGraph.EntityOpened(url))
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        assert app.screen.entity.id == url.id


@pytest.mark.parametrize("size", SIZES)
async def test_hostile_labels_render_literally(size: tuple[int, int]) -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=size) as pilot:
        await pilot.press("e")
        await pilot.pause()
        labels = [row[2] for row in cells(app, "evidence-table")]
        assert "[bold red]Pay now[/] ⟨U+001B⟩[2J invoice⟨RLO⟩gpj.exe" in labels
        for label in labels:
            assert "\x1b" not in label
            assert "\u202e" not in label


async def test_no_investigation_renders_empty() -> None:
    app = ScreenHost(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "No investigation to show." in static_text(app, "summary-text")
        for table_id in ["alerts-table", "mailboxes-table", "evidence-table", "entities-table", "log-table", "pending-table", "history-table"]:
            assert cells(app, table_id) == []
        await pilot.press("p")
        await pilot.pause()
        assert static_text(app, "decisions-detail") == "No decided actions."


async def test_empty_new_fields_render() -> None:
    detail = make_detail()
    sparse = InvestigationDetail(
        investigation=Investigation(id="INV-2", alert_id="AL-9", playbook="", title="Sparse", created=START),
        alert=None,
        entities=detail.entities[:3],
        clusters=[],
        log=[],
        actions=[],
    )
    app = ScreenHost(sparse)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        summary = static_text(app, "summary-text")
        assert "No status changes recorded." in summary
        assert "Incident          none" in summary
        assert "Pending approval  none" in summary
        assert "never queued" in summary
        await pilot.press("a")
        await pilot.pause()
        assert static_text(app, "alert-detail") == "No alert recorded for this investigation."


async def test_reload_keeps_tab_and_reads_again() -> None:
    detail = make_detail()
    app = ScreenHost(detail)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("l")
        await pilot.pause()
        detail.log.append(LogStep(name="Recheck", started=NOW, duration_ms=5, outcome="ok"))
        app.investigation_screen.reload()
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "log"
        assert cells(app, "log-table")[-1][0] == "Recheck"


async def test_ansi_theme_verdict_words() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        app.theme = "ansi-dark"
        await pilot.press("e")
        await pilot.pause()
        verdicts = {row[0] for row in cells(app, "evidence-table")}
        assert verdicts == {"MALICIOUS", "SUSPICIOUS", "CLEAN", "UNKNOWN"}


async def test_q_closes_screen() -> None:
    app = ScreenHost(make_detail())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, InvestigationScreen)
