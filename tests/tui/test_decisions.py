"""Approve and reject through the keyboard, checked against the store and the Maildirs."""

from __future__ import annotations

from air_tui.domain.vocab import ActionStatus, InvestigationStatus
from air_tui.tenant.workspace import Workspace
from air_tui.tui.decision_dialogs import ApproveAction
from air_tui.tui.modals import RejectReason
from air_tui.tui.widgets.action_list import ActionList
from air_tui.tui.widgets.alert_queue import AlertQueue
from tests.conftest import make_service
from tests.tui.conftest import make_app, settle


def maildir_files(workspace: Workspace, mailbox: str, folder: str) -> set[str]:
    root = workspace.tenant_dir / "mailboxes" / mailbox / folder
    return {path.name.split(":", 1)[0] for sub in ("cur", "new") for path in (root / sub).glob("*") if path.name != ".keep"}


async def test_approve_moves_messages(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        row = app.query_one(ActionList).selected
        assert row is not None
        action = row.action
        await pilot.press("a")
        assert isinstance(app.screen, ApproveAction)
        await pilot.press("y")
        await settle(pilot)
        assert not isinstance(app.screen, ApproveAction)
        assert action.id not in app.query_one(ActionList).rows_by_key

    with make_service(investigated_workspace) as service:
        decided = [r for r in service.actions() if r.action.id == action.id][0]
        assert decided.decided_by == "analyst1"
        assert decided.action.status is ActionStatus.COMPLETED
        results = service.action_results(action.id)
        assert len(results) == len(action.targets)
        assert {r["result"] for r in results} == {"Succeeded"}
        for target in action.targets:
            key = service.message(target.message_id).location.key
            assert key in maildir_files(investigated_workspace, target.mailbox, "Recoverable Items")
            assert key not in maildir_files(investigated_workspace, target.mailbox, target.folder)


async def test_approve_cancel_changes_nothing(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        before = set(app.query_one(ActionList).rows_by_key)
        await pilot.press("3", "a")
        assert isinstance(app.screen, ApproveAction)
        await pilot.press("escape")
        await settle(pilot)
        assert set(app.query_one(ActionList).rows_by_key) == before
    with make_service(investigated_workspace) as service:
        assert all(r.action.status is ActionStatus.PENDING for r in service.actions())


async def test_approve_records_comment(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        action_id = app.query_one(ActionList).selected_key
        await pilot.press("a", "c")
        await pilot.press(*"confirmed phish")
        await pilot.press("enter", "y")
        await settle(pilot)
    with make_service(investigated_workspace) as service:
        decided = [r for r in service.actions() if r.action.id == action_id][0]
        assert decided.comment == "confirmed phish"


async def test_reject_requires_reason(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        action_id = app.query_one(ActionList).selected_key
        await pilot.press("r")
        assert isinstance(app.screen, RejectReason)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RejectReason), "an empty reason must not close the dialog"
        error = str(app.screen.query_one("#reason-error").render())
        assert "reason is required" in error
        await pilot.press(*"newsletter from a partner")
        await pilot.press("enter")
        await settle(pilot)
        assert action_id not in app.query_one(ActionList).rows_by_key

    with make_service(investigated_workspace) as service:
        decided = [r for r in service.actions() if r.action.id == action_id][0]
        assert decided.action.status is ActionStatus.REJECTED
        assert decided.comment == "newsletter from a partner"
        assert decided.decided_by == "analyst1"
        assert service.action_results(action_id) == []


async def test_all_decided_remediates(investigated_workspace: Workspace) -> None:
    with make_service(investigated_workspace) as service:
        pending = service.actions(ActionStatus.PENDING)
        investigation_id = pending[0].action.investigation_id
        count = sum(1 for r in pending if r.action.investigation_id == investigation_id)
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3")
        for _ in range(count):
            app.query_one(ActionList).select_first_of(investigation_id)
            await pilot.press("a", "y")
            await settle(pilot)
    with make_service(investigated_workspace) as service:
        detail = service.investigation_detail(investigation_id)
        assert detail.investigation.status is InvestigationStatus.REMEDIATED


async def test_console_keys_off_in_dialog(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("3", "a")
        dialog = app.screen
        assert isinstance(dialog, ApproveAction)
        await pilot.press("a", "r", "q")
        await pilot.pause()
        assert app.screen is dialog
        assert len(app.screen_stack) == 2
        assert app.is_running


async def test_decision_elsewhere_refreshes_console(investigated_workspace: Workspace) -> None:
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        listed = app.query_one(ActionList)
        action_id = listed.selected_key
        with make_service(investigated_workspace, "cli-analyst", id_prefix="01CLI") as other:
            other.reject(action_id, reason="handled from the command line")
        app.refresh_if_changed()
        await pilot.pause()
        assert action_id not in listed.rows_by_key


async def test_approve_from_alert_needs_its_action(investigated_workspace: Workspace) -> None:
    """`a` pressed in the alert queue never offers another investigation's action."""
    app = make_app(investigated_workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        queue = app.query_one(AlertQueue)
        actions = app.query_one(ActionList)
        for index in range(queue.row_count):
            queue.move_cursor(row=index)
            await pilot.pause()
            alert = queue.selected
            mine = [r for r in actions.rows_by_key.values() if r.action.investigation_id == alert.investigation_id]
            queue.focus()
            await pilot.press("a")
            await pilot.pause()
            if len(mine) == 1:
                assert isinstance(app.screen, ApproveAction)
                assert app.screen.action_to_approve.investigation_id == alert.investigation_id
                await pilot.press("escape")
            else:
                assert not isinstance(app.screen, ApproveAction)
            if len(mine) > 1:
                assert app.focused is actions
                assert actions.selected.action.investigation_id == alert.investigation_id
            await pilot.pause()
