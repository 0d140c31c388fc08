"""Take action from the investigation screen: the actions that fit each entity, and a proposal on disk."""

from __future__ import annotations

from air_tui.domain.config import Config
from air_tui.domain.investigation import Cluster, Entity
from air_tui.domain.vocab import ActionSource, ActionStatus, ActionType, EntityKind, ManualTarget, Verdict
from air_tui.tenant.workspace import Workspace
from air_tui.tui.screens.investigation import InvestigationScreen
from air_tui.tui.take_action import TakeAction, proposals_for
from air_tui.tui.widgets.keyed_table import KeyedTable
from tests.conftest import make_service
from tests.tui.conftest import make_app, settle
from tests.tui.test_investigation_screen import make_detail


def entity(kind: EntityKind, key: str, label: str = "", **attributes: object) -> Entity:
    return Entity(id=f"{kind.value}:{key}", kind=kind, key=key, label=label or key, verdict=Verdict.MALICIOUS, attributes=attributes)  # type: ignore[arg-type]


def test_sender_gets_both_blocks() -> None:
    proposals = proposals_for(entity(EntityKind.SENDER, "Billing@Evil.Example"), None)
    assert [(proposal.action_type, proposal.value) for proposal in proposals] == [
        (ActionType.BLOCK_SENDER, "billing@evil.example"),
        (ActionType.BLOCK_DOMAIN, "evil.example"),
    ]


def test_url_file_and_user_actions() -> None:
    url = proposals_for(entity(EntityKind.URL, "http://evil.example/login"), None)
    assert [(proposal.action_type, proposal.value) for proposal in url] == [(ActionType.BLOCK_URL, "http://evil.example/login")]
    sha256 = "a" * 64
    file = proposals_for(entity(EntityKind.FILE, sha256, "invoice.iso", sha256=sha256), None)
    assert [(proposal.action_type, proposal.value) for proposal in file] == [(ActionType.BLOCK_FILE, sha256)]
    for kind in (EntityKind.USER, EntityKind.MAILBOX):
        user = proposals_for(entity(kind, "alice@larkspur.example"), None)
        assert [(proposal.action_type, proposal.user) for proposal in user] == [(ActionType.DISABLE_USER, "alice@larkspur.example")]


def test_email_gets_email_actions_and_investigations() -> None:
    proposals = proposals_for(entity(EntityKind.MESSAGE, "m-1", "Invoice"), None)
    types = [proposal.action_type for proposal in proposals]
    assert types[:5] == [ActionType.SOFT_DELETE, ActionType.HARD_DELETE, ActionType.MOVE_TO_JUNK, ActionType.MOVE_TO_DELETED, ActionType.MOVE_TO_INBOX]
    assert all(proposal.message_ids == ("m-1",) for proposal in proposals)
    starts = [proposal.investigate_on for proposal in proposals if proposal.action_type is ActionType.START_INVESTIGATION]
    assert starts == [ManualTarget.EMAIL, ManualTarget.RECIPIENT, ManualTarget.SENDER]
    assert proposals[-1].arguments("INV-1") == {"investigation_id": "INV-1", "message_ids": ["m-1"], "investigate_on": ManualTarget.SENDER}


def test_cluster_acts_on_its_messages() -> None:
    detail = make_detail()
    detail.clusters.append(Cluster(id="C-9", cluster_by="url", value="x", verdict=Verdict.MALICIOUS, message_ids=["m-1", "m-2"]))
    proposals = proposals_for(entity(EntityKind.CLUSTER, "C-9", "Same URL: x"), detail)
    assert len(proposals) == 5
    assert all(proposal.message_ids == ("m-1", "m-2") for proposal in proposals)
    assert proposals_for(entity(EntityKind.CLUSTER, "unknown"), detail) == []


def test_no_action_for_ip_or_alert() -> None:
    assert proposals_for(entity(EntityKind.IP, "203.0.113.5"), None) == []
    assert proposals_for(entity(EntityKind.ALERT, "AL-1"), None) == []


async def test_take_action_proposes_block(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InvestigationScreen)
        investigation_id = screen.detail.investigation.id
        await pilot.press("e", "slash", *"sender", "enter")
        await pilot.pause()
        sender = screen.highlighted_entity()
        assert sender is not None and sender.kind is EntityKind.SENDER
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TakeAction)
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is screen
        pending = screen.query_one("#pending-table", KeyedTable)
        assert app.focused is pending, "the screen shows the new pending action"
        proposed = pending.selected
        assert proposed is not None and proposed.action_type is ActionType.BLOCK_SENDER
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        row = service.action_row(proposed.id)
        assert row is not None
        action = row.action
        assert action.status is ActionStatus.PENDING
        assert action.block is not None and action.block.value == sender.key.lower()
        assert action.investigation_id == investigation_id
        assert action.source is ActionSource.MANUAL
        assert action.proposed_by == "analyst1"


async def test_take_action_refusal_is_shown(investigated_copy: Workspace) -> None:
    """An external mailbox is not in the directory, so the service refuses to disable it."""
    app = make_app(investigated_copy)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, InvestigationScreen)
        screen.post_message(
            InvestigationScreen.ProposalRequested(screen, screen.detail.investigation.id, proposals_for(entity(EntityKind.USER, "nobody@outside.example"), None)[0])
        )
        await settle(pilot)
        assert any("No user 'nobody@outside.example'" in notification.message for notification in app._notifications)
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        assert service.pending_count() == 18


async def test_take_action_hidden_for_reader(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, config=Config.model_validate({"access": {"analysts": {"analyst1": "reader"}}}))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        assert "t" not in app.screen.active_bindings
        await pilot.press("e", "t")
        await pilot.pause()
        assert isinstance(app.screen, InvestigationScreen)
