"""Moving around the console: opening entities keeps the graph, the root opens the summary."""

from __future__ import annotations

from air_tui.domain.investigation import Entity
from air_tui.tenant.workspace import Workspace
from air_tui.tui.modals import (
    EntityDetail,
    HelpScreen,
    InvestigationSummary,
    MessageDetail,
)
from air_tui.tui.screens.explorer import ExplorerResults, ExplorerScreen
from air_tui.tui.screens.investigation import InvestigationScreen
from air_tui.tui.widgets.action_list import ActionList
from air_tui.tui.widgets.alert_queue import AlertQueue
from air_tui.tui.widgets.investigation_graph import InvestigationGraph
from tests.tui.conftest import make_app, settle


async def test_number_keys_focus_panes(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert isinstance(app.focused, InvestigationGraph)
        await pilot.press("3")
        assert isinstance(app.focused, ActionList)
        await pilot.press("1")
        assert isinstance(app.focused, AlertQueue)


async def test_alert_cursor_changes_graph(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        graph = app.query_one(InvestigationGraph)
        first = graph.detail.investigation.id
        await pilot.press("j")
        await pilot.pause()
        second = graph.detail.investigation.id
        assert second != first
        assert second == app.query_one(AlertQueue).selected.investigation_id


async def test_enter_opens_entity_keeps_branch(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        graph = app.query_one(InvestigationGraph)
        assert app.focused is graph
        lines_before = graph.last_line
        await pilot.press("j", "enter")
        await pilot.pause()
        assert isinstance(app.screen, EntityDetail)
        assert isinstance(app.screen.entity, Entity)
        await pilot.press("escape")
        await pilot.pause()
        assert graph.last_line == lines_before


async def test_enter_on_root_opens_summary(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("2", "g", "enter")
        await pilot.pause()
        assert isinstance(app.screen, InvestigationSummary)
        await pilot.press("escape")
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)


async def test_email_node_opens_message(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        graph = app.query_one(InvestigationGraph)
        await pilot.press("2")
        for _ in range(graph.last_line + 1):
            node = graph.cursor_node
            if isinstance(node.data, Entity) and node.data.kind.value == "message":
                break
            await pilot.press("j")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MessageDetail)
        shown = " ".join(str(static.render()) for static in app.screen.query("Static"))
        assert "From" in shown
        assert app.screen.message.subject in shown
        assert "Body (plain text)" in shown


async def test_slash_filters_alert_queue(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        queue = app.query_one(AlertQueue)
        total = queue.row_count
        await pilot.press("slash")
        await pilot.press(*"no threats")
        await pilot.pause()
        assert 0 < queue.row_count < total
        assert all(row.investigation_status == "No threats found" for row in queue.rows_by_key.values())
        await pilot.press("enter")
        assert app.focused is queue
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert queue.row_count == total
        assert app.focused is queue


async def test_quit_while_investigating(workspace: Workspace) -> None:
    """Quitting before the first investigations finish must not crash on messages still in flight."""
    app = make_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press("q")
    assert app.return_code in (0, None)
    await app.workers.wait_for_complete()


async def test_j_scrolls_an_entity_dialog(investigated_workspace: Workspace) -> None:
    from air_tui.domain.vocab import EntityKind
    from air_tui.tui.widgets.vim import VimScroll

    app = make_app(investigated_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        entity = Entity(id="file:x", kind=EntityKind.FILE, key="x", label="big.zip", attributes={"archive_members": [f"member-{n}.txt (txt)" for n in range(80)]})
        app.push_screen(EntityDetail(entity))
        await pilot.pause()
        dialog = app.screen.query_one("#dialog", VimScroll)
        dialog.focus()
        await pilot.press("j", "j", "j")
        await pilot.pause()
        assert dialog.scroll_y > 0


async def test_v_opens_investigation_screen(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        selected = app.query_one(AlertQueue).selected
        await pilot.press("v")
        await pilot.pause()
        assert isinstance(app.screen, InvestigationScreen)
        assert app.screen.detail is not None
        assert app.screen.detail.investigation.id == selected.investigation_id
        # Help stays reachable over a full screen.
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert isinstance(app.query_one(AlertQueue), AlertQueue)
        assert not isinstance(app.screen, InvestigationScreen)


async def test_explorer_starts_manual_investigation(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        before = {row.alert.id for row in app.service.alert_queue()}
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        await pilot.press(*"folder:inbox", "enter")
        await pilot.pause()
        chosen = app.screen.query_one(ExplorerResults).selected
        await pilot.press("i")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        added = [row.alert for row in app.service.alert_queue() if row.alert.id not in before]
    assert len(added) == 1
    assert added[0].policy_id == "manual-email"
    assert added[0].message_ids == [chosen.id]
    assert added[0].triggered_by == "analyst1"
    assert added[0].investigation_id


def test_every_policy_has_short_queue_label() -> None:
    from air_tui.engine.policies import POLICIES
    from air_tui.tui.widgets.alert_queue import POLICY_LABELS

    assert set(POLICY_LABELS) == set(POLICIES)
    assert all(len(label) <= 13 for label in POLICY_LABELS.values())


async def test_explorer_refuses_external_sender_before_confirming(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press(*"domain:ecovichay.com", "enter")
        await pilot.pause()
        before = len(app.service.alert_queue())
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        notices = [str(notice.message) for notice in app._notifications]
        await settle(pilot)
        after = len(app.service.alert_queue())
    assert any("senders inside the organisation" in notice for notice in notices)
    assert after == before


async def test_c_resolves_an_alert_without_investigation(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"forwarding", "enter")
        await pilot.pause()
        queue = app.query_one(AlertQueue)
        alert = queue.selected.alert
        assert queue.selected.investigation_id == ""
        assert "c resolves" in str(app.query_one(InvestigationGraph).root.label)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#reason-error").render().plain == "A comment is required to resolve an alert."
        await pilot.press(*"checked with the user", "enter")
        await settle(pilot)
        resolved = next(row.alert for row in app.service.alert_queue() if row.alert.id == alert.id)
    assert resolved.status.value == "Resolved"
