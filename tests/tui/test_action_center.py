"""The action center driven by the keyboard, checked against the service's records and the Maildirs.

Every test works on its own copy of one investigated demo tenant per module (`investigated_copy`).
"""

from __future__ import annotations

import io
from datetime import timedelta

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.config import Config
from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind
from air_tui.service import AirService, DecisionOutcome
from air_tui.tenant.workspace import Workspace
from air_tui.tui.app import AirApp
from air_tui.tui.decision_dialogs import ApproveAction, BulkDecision, ConfirmDecision, expiry_problem
from air_tui.tui.decisions import DecisionRequest, outcome_notice
from air_tui.tui.modals import RejectReason
from air_tui.tui.screens.action_center import ActionCenterScreen, ActionFilter
from air_tui.tui.screens.explorer import ExplorerResults
from air_tui.tui.widgets.action_table import ActionTable, columns_for, fit_columns
from air_tui.tui.widgets.pending_count import PendingCount
from tests.conftest import FROZEN_START, make_service
from tests.tui.conftest import make_app, settle
from tests.tui.test_decisions import maildir_files

SIZE = (100, 30)


def config(**sections: object) -> Config:
    return Config.model_validate(sections)


async def open_center(pilot: Pilot) -> ActionCenterScreen:
    await settle(pilot)
    await pilot.press("A")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ActionCenterScreen)
    return screen


async def filter_rows(pilot: Pilot, text: str) -> None:
    """Open the filter with `/`, put `text` in it and leave it with enter."""
    await pilot.press("slash")
    # Set in one step: each typed key redraws the table, and ids are long.
    pilot.app.screen.query_one(ActionFilter).value = text
    await pilot.press("enter")
    await pilot.pause()


def rendered(renderable: object) -> str:
    console = Console(width=100, file=io.StringIO(), record=True)
    console.print(renderable)
    return console.export_text()


def table(app: AirApp) -> ActionTable:
    return app.screen.query_one(ActionTable)


def shown_ids(app: AirApp) -> list[str]:
    return list(table(app).rows_by_key)


def notes(app: AirApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def record(workspace: Workspace, action_id: str):  # noqa: ANN201 - an ActionRow
    with make_service(workspace, id_prefix="01CHK") as service:
        row = service.action_row(action_id)
        assert row is not None
        return row


def key_of(service: AirService, message_id: str) -> str:
    message = service.message(message_id)
    assert message is not None
    return message.location.key


def actions_of_investigation(workspace: Workspace, count: int) -> list[str]:
    """Ids of the pending actions of the first investigation that has exactly `count` of them."""
    with make_service(workspace, id_prefix="01CHK") as service:
        by_investigation: dict[str, list[str]] = {}
        for row in service.actions(ActionStatus.PENDING):
            by_investigation.setdefault(row.action.investigation_id, []).append(row.action.id)
    return next(ids for ids in by_investigation.values() if len(ids) == count)


# Tabs, filters, sorting -------------------------------------------------------------------------


async def test_tabs_split_pending_and_history(investigated_copy: Workspace) -> None:
    with make_service(investigated_copy, id_prefix="01CLI") as service:
        pending = [row.action.id for row in service.actions(ActionStatus.PENDING)]
        rejected = pending[0]
        service.reject(rejected, reason="handled by the mail team")
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        assert sorted(shown_ids(app)) == sorted(pending[1:])
        await pilot.press("h")
        await pilot.pause()
        assert shown_ids(app) == [rejected]
        assert "Rejected" in str(table(app).get_row_at(0))
        body = app.screen.query_one("#detail-body").render()
        assert "rejected by analyst1: handled by the mail team" in str(body)
        await pilot.press("p")
        await pilot.pause()
        assert len(shown_ids(app)) == len(pending) - 1


async def test_filter_matches_type_and_mailbox(investigated_copy: Workspace) -> None:
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        rows = service.actions(ActionStatus.PENDING)
    settings = sorted(row.action.id for row in rows if row.action.action_type.on_settings)
    lotte = sorted(row.action.id for row in rows if "lotte.dewit@larkspur.example" in row.action.mailboxes)
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, "setting")
        assert sorted(shown_ids(app)) == settings
        assert app.focused is table(app), "enter hands focus back to the table"
        assert "3 of 18" in table(app).border_subtitle
        await pilot.press("slash", "escape")
        await pilot.pause()
        assert len(shown_ids(app)) == 18
        await filter_rows(pilot, "LOTTE.DEWIT forwarding")
        assert shown_ids(app) == [row.action.id for row in rows if row.action.action_type is ActionType.REMOVE_FORWARDING]
        await pilot.press("slash", "escape")
        await filter_rows(pilot, "lotte.dewit")
        assert sorted(shown_ids(app)) == lotte
        await pilot.press("slash", "escape")
        await filter_rows(pilot, "no action has this")
        assert shown_ids(app) == []
        assert "No action matches" in str(app.screen.query_one("#detail-heading").render())


async def test_sort_cycles_and_reverses(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        rows = list(table(app).rows_by_key.values())
        assert [row.action.created for row in rows] == sorted(row.action.created for row in rows)
        assert "sort created ↑" in table(app).border_subtitle
        await pilot.press("s")
        await pilot.pause()
        types = [row.action.action_type.value for row in table(app).rows_by_key.values()]
        assert types == sorted(types)
        assert "sort type ↑" in table(app).border_subtitle
        await pilot.press("S")
        await pilot.pause()
        types = [row.action.action_type.value for row in table(app).rows_by_key.values()]
        assert types == sorted(types, reverse=True)
        assert "sort type ↓" in table(app).border_subtitle
        await pilot.press("s")
        await pilot.pause()
        counts = [row.action.target_count for row in table(app).rows_by_key.values()]
        assert counts == sorted(counts, reverse=True)
        assert "sort targets ↓" in table(app).border_subtitle


async def test_type_filter_steps_through_types(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await pilot.press("T")
        await pilot.pause()
        assert {row.action.action_type for row in table(app).rows_by_key.values()} == {ActionType.REMOVE_DELEGATION}
        assert "type Remove delegation" in table(app).border_subtitle
        for _ in range(3):
            await pilot.press("T")
        await pilot.pause()
        assert {row.action.action_type for row in table(app).rows_by_key.values()} == {ActionType.SOFT_DELETE}
        await pilot.press("T")
        await pilot.pause()
        assert len(shown_ids(app)) == 18


def test_columns_fit_80_columns() -> None:
    for tab in ("pending", "history"):
        columns = fit_columns(columns_for(tab, 80), 77, 1)
        assert sum(column.width or 0 for column in columns) + 2 * len(columns) <= 77
        assert min(column.width or 0 for column in columns if column.key != "mark") >= 7


def test_notice_for_waiting_approval() -> None:
    """An approval that waits for an execution slot is confirmed with the service's own sentence."""
    action = PendingAction(id="A1", investigation_id="", action_type=ActionType.SOFT_DELETE, created=FROZEN_START, title="x")
    decision = Decision(action_id="A1", kind=DecisionKind.APPROVED, analyst="ana", time=FROZEN_START)
    waiting = DecisionOutcome(action=action, decision=decision, status=ActionStatus.APPROVED, message="Approved and recorded. 4 of 4 execution slots are busy.")
    notice = outcome_notice(DecisionRequest(DecisionKind.APPROVED, ("A1",)), [waiting], "ana")
    assert notice.title == "Approved by ana"
    assert notice.text == "Approved and recorded. 4 of 4 execution slots are busy."
    assert notice.severity == "information"
    failed = DecisionOutcome(action=action, decision=decision, status=ActionStatus.PARTIALLY_FAILED, message="Soft delete: partially failed.")
    bulk = outcome_notice(DecisionRequest(DecisionKind.APPROVED, ("A1", "A2"), bulk=True), [waiting, failed], "ana")
    assert bulk.title == "2 actions approved by ana"
    assert bulk.text.splitlines() == [waiting.message, failed.message]
    assert bulk.severity == "warning"


def test_expiry_problem_forms() -> None:
    assert expiry_problem("") == ""
    assert expiry_problem("never") == ""
    assert expiry_problem("30") == ""
    assert expiry_problem("2027-01-31") == ""
    assert "between 1 and 3650" in expiry_problem("0")
    assert "not a number of days" in expiry_problem("next week")


# Single decisions -------------------------------------------------------------------------------


async def test_reject_needs_reason(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        action_id = table(app).selected_key
        await pilot.press("r")
        assert isinstance(app.screen, RejectReason)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, RejectReason), "an empty reason must not close the dialog"
        await pilot.press(*"known newsletter", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ActionCenterScreen)
        assert action_id not in shown_ids(app)
    row = record(investigated_copy, action_id)
    assert row.action.status is ActionStatus.REJECTED
    assert row.comment == "known newsletter"


async def test_change_type_before_approve(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        row = table(app).selected
        assert row is not None and row.action.action_type is ActionType.SOFT_DELETE
        await pilot.press("a")
        dialog = app.screen
        assert isinstance(dialog, ApproveAction)
        await pilot.press("t")
        await pilot.pause()
        assert "Cannot be undone" in str(dialog.query_one("#reversible").render())
        assert dialog.query_one("#reversible").has_class("irreversible")
        await pilot.press("t")
        await pilot.pause()
        assert "Approve Move to Junk Email?" in str(dialog.query_one("#dialog-title").render())
        assert not dialog.query_one("#reversible").has_class("irreversible")
        await pilot.press("y")
        await settle(pilot)
        assert any("Move to Junk Email: completed" in note for note in notes(app))
    action = row.action
    decided = record(investigated_copy, action.id)
    assert decided.action.action_type is ActionType.MOVE_TO_JUNK
    assert decided.action.status is ActionStatus.COMPLETED
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        assert service.decisions(action.id)[0].parameters == {"action_type": "Move to Junk Email"}
        for target in action.targets:
            assert key_of(service, target.message_id) in maildir_files(investigated_copy, target.mailbox, "Junk Email")
            assert key_of(service, target.message_id) not in maildir_files(investigated_copy, target.mailbox, "Recoverable Items")


async def test_undo_restores_message_folder(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        row = table(app).selected
        assert row is not None
        action = row.action
        await pilot.press("a", "y")
        await settle(pilot)
        with make_service(investigated_copy, id_prefix="01CHK") as service:
            keys = {target.message_id: key_of(service, target.message_id) for target in action.targets}
        for target in action.targets:
            assert keys[target.message_id] in maildir_files(investigated_copy, target.mailbox, "Recoverable Items")
        await pilot.press("h")
        await filter_rows(pilot, action.id)
        await pilot.press("u")
        dialog = app.screen
        assert isinstance(dialog, ConfirmDecision)
        body = str(dialog.query_one("#decision-body").render())
        assert "back to the folder" in body
        assert "from Recoverable Items to" in body
        await pilot.press("y")
        await settle(pilot)
        assert any("Undo of Soft delete" in note for note in notes(app))
    assert record(investigated_copy, action.id).action.status is ActionStatus.UNDONE
    for target in action.targets:
        assert keys[target.message_id] in maildir_files(investigated_copy, target.mailbox, target.folder)
        assert keys[target.message_id] not in maildir_files(investigated_copy, target.mailbox, "Recoverable Items")


async def test_undo_refuses_hard_delete(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        action_id = table(app).selected_key
        await pilot.press("a", "t", "y")
        await settle(pilot)
        await pilot.press("h")
        await filter_rows(pilot, action_id)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ActionCenterScreen), "no confirmation for an action that cannot be undone"
        assert any("Hard delete cannot be undone" in note for note in notes(app))
    assert record(investigated_copy, action_id).action.status is ActionStatus.COMPLETED


async def test_retry_runs_failed_targets(investigated_copy: Workspace) -> None:
    action_id = actions_of_investigation(investigated_copy, 1)[0]
    action = record(investigated_copy, action_id).action
    # A file where the destination folder should be makes every move into it fail.
    blocker = investigated_copy.tenant_dir / "mailboxes" / action.targets[0].mailbox / "Recoverable Items"
    moved_aside = blocker.with_name("Recoverable Items.saved")
    blocker.rename(moved_aside)
    blocker.write_text("not a folder")
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, action_id)
        await pilot.press("a", "y")
        await settle(pilot)
        assert record(investigated_copy, action_id).action.status in (ActionStatus.FAILED, ActionStatus.PARTIALLY_FAILED)
        await pilot.press("h")
        await filter_rows(pilot, action_id)
        assert "✗ Failed" in str(app.screen.query_one("#detail-body").render())
        blocker.unlink()
        moved_aside.rename(blocker)
        await pilot.press("R")
        assert isinstance(app.screen, ConfirmDecision)
        await pilot.press("y")
        await settle(pilot)
    decided = record(investigated_copy, action_id)
    assert decided.action.status is ActionStatus.COMPLETED
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        assert [decision.kind for decision in service.decisions(action_id)] == [DecisionKind.APPROVED, DecisionKind.RETRY]
        target = action.targets[0]
        assert key_of(service, target.message_id) in maildir_files(investigated_copy, target.mailbox, "Recoverable Items")


# Bulk decisions ---------------------------------------------------------------------------------


async def test_bulk_approve_after_preview(investigated_copy: Workspace) -> None:
    marked = actions_of_investigation(investigated_copy, 2)
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, record(investigated_copy, marked[0]).action.investigation_id)
        assert sorted(shown_ids(app)) == sorted(marked)
        await pilot.press("space", "space")
        assert table(app).marked == set(marked)
        assert "2 marked" in table(app).border_subtitle
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkDecision)
        assert dialog.preview.action_ids == marked
        mailboxes = {row.mailbox for row in dialog.preview.rows}
        table_text = rendered(dialog.query_one("#bulk-table", Static).content)
        for row in dialog.preview.rows:
            assert f"{row.mailbox}: {row.messages} listed, {row.present} still in Inbox or Junk Email" in table_text
        assert table_text.count("Soft delete") == 2
        assert f"in {len(mailboxes)} mailboxes" in str(dialog.query_one("#bulk-summary").render())
        await pilot.press("y")
        await settle(pilot)
        assert table(app).marked == set()
        assert any("2 actions approved by analyst1" == notification.title for notification in app._notifications)
    with make_service(investigated_copy, id_prefix="01CHK") as service:
        decisions = [service.decisions(action_id)[0] for action_id in marked]
        assert len({decision.batch_id for decision in decisions}) == 1 and decisions[0].batch_id
        for action_id in marked:
            row = service.action_row(action_id)
            assert row is not None and row.action.status is ActionStatus.COMPLETED
            for result in service.action_results(action_id):
                if result["result"] == "Succeeded":
                    key = key_of(service, result["message_id"])
                    assert key in maildir_files(investigated_copy, result["mailbox"], "Recoverable Items")


async def test_bulk_reject_needs_reason(investigated_copy: Workspace) -> None:
    marked = actions_of_investigation(investigated_copy, 3)
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, "setting")
        await pilot.press("ctrl+a")
        assert table(app).marked == set(marked)
        await pilot.press("r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkDecision)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog
        assert "reason is required" in str(dialog.query_one("#reason-error").render())
        await pilot.press(*"settings approved by the user", "enter")
        await settle(pilot)
    for action_id in marked:
        row = record(investigated_copy, action_id)
        assert row.action.status is ActionStatus.REJECTED
        assert row.comment == "settings approved by the user"


async def test_bulk_across_incidents_refused(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        first, second = shown_ids(app)[:2]
        await pilot.press("space", "space", "a")
        await pilot.pause()
        assert isinstance(app.screen, ActionCenterScreen)
        assert any("one investigation or one incident" in note for note in notes(app))
    assert record(investigated_copy, first).action.status is ActionStatus.PENDING
    assert record(investigated_copy, second).action.status is ActionStatus.PENDING


async def test_bulk_problems_offer_only_cancel(investigated_copy: Workspace) -> None:
    marked = actions_of_investigation(investigated_copy, 2)
    investigation_id = record(investigated_copy, marked[0]).action.investigation_id
    with make_service(investigated_copy, id_prefix="01CLI") as service:
        message_id = record(investigated_copy, marked[0]).action.targets[0].message_id
        hard = service.propose(ActionType.HARD_DELETE, investigation_id=investigation_id, message_ids=[message_id])
    app = make_app(investigated_copy, config=config(access={"analysts": {"analyst1": "operator"}}))
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, investigation_id)
        await pilot.press("ctrl+a", "a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkDecision)
        problems = str(dialog.query_one("#bulk-problems").render())
        assert "Hard delete needs the admin role" in problems
        assert "Cannot be undone: Hard delete" in str(dialog.query_one("#bulk-irreversible").render())
        assert not dialog.query("#comment")
        await pilot.press("y")
        await pilot.pause()
        assert app.screen is dialog, "y does nothing while problems block the decision"
        await pilot.press("escape")
        await settle(pilot)
    for action_id in [*marked, hard.id]:
        assert record(investigated_copy, action_id).action.status is ActionStatus.PENDING


# Who may decide ---------------------------------------------------------------------------------


async def test_four_eyes_refuses_own_proposal(investigated_copy: Workspace) -> None:
    with make_service(investigated_copy, id_prefix="01CLI") as service:
        block = service.propose(ActionType.BLOCK_SENDER, value="billing@evil.example")
    app = make_app(investigated_copy, config=config(access={"four_eyes": ["Block sender"]}))
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, "billing@evil.example")
        await pilot.press("a", "y")
        await settle(pilot)
        assert any("needs a second analyst" in note and block.id in note for note in notes(app))
        # The toast is plain text, so "[access]" is shown, not read as markup and dropped.
        refusal = next(notification for notification in app._notifications if "second analyst" in notification.message)
        assert "([access] four_eyes)" in refusal.message
        assert refusal.markup is False
        assert block.id in shown_ids(app)
    assert record(investigated_copy, block.id).action.status is ActionStatus.PENDING


async def test_reader_role_hides_deciding_keys(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, config=config(access={"analysts": {"analyst1": "reader"}}))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        action_id = table(app).selected_key
        assert "reader role" in str(screen.query_one("#center-access").render())
        assert screen.query_one("#center-access").display
        for key in ("a", "r", "space", "u"):
            assert key not in screen.active_bindings, f"{key} is a deciding key"
        assert "slash" in screen.active_bindings
        await pilot.press("a", "r", "space")
        await pilot.pause()
        assert app.screen is screen
        assert table(app).marked == set()
    assert record(investigated_copy, action_id).action.status is ActionStatus.PENDING


async def test_explorer_hides_investigation_keys_from_readers(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, config=config(access={"analysts": {"analyst1": "reader"}}))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        explorer = app.screen
        explorer.query_one(ExplorerResults).focus()
        await pilot.press("j")
        await settle(pilot)
        assert explorer.query_one(ExplorerResults).selected is not None
        for key in ("i", "R", "S"):
            assert key not in explorer.active_bindings, f"{key} starts an investigation"
        assert "slash" in explorer.active_bindings
        await pilot.press("i")
        await settle(pilot)
        assert app.screen is explorer, "no confirmation dialog opened"


async def test_read_only_hides_keys(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, read_only=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "a" not in app.screen.active_bindings, "the main screen's approve key is off too"
        screen = await open_center(pilot)
        assert "read-only" in str(screen.query_one("#center-access").render())
        for key in ("a", "r", "space"):
            assert key not in screen.active_bindings
        await pilot.press("h")
        await pilot.pause()
        assert "u" not in screen.active_bindings
        assert "R" not in screen.active_bindings


async def test_access_line_hidden_for_admin(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        assert not screen.query_one("#center-access").display
        assert "a" in screen.active_bindings
        await pilot.press("h")
        await pilot.pause()
        assert "a" not in screen.active_bindings, "approve is a Pending key"
        assert "u" in screen.active_bindings


# Header count and notifications -----------------------------------------------------------------


async def test_header_count_follows_decisions(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "18 pending actions" in str(app.query_one("#status-bar").render())
        screen = await open_center(pilot)
        count = screen.query_one(PendingCount)
        assert str(count.render()) == "18 pending actions"
        await pilot.press("r", *"duplicate", "enter")
        await settle(pilot)
        assert str(count.render()) == "17 pending actions"
        assert "Pending 17" in str(screen.query_one("#pending").render())
        await pilot.press("escape")
        await settle(pilot)
        assert "17 pending actions" in str(app.query_one("#status-bar").render())


async def test_header_count_on_investigation_screen(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("v")
        await pilot.pause()
        count = app.screen.query_one(PendingCount)
        assert str(count.render()) == "18 pending actions"
        with make_service(investigated_copy, "cli-analyst", id_prefix="01CLI") as other:
            other.propose(ActionType.BLOCK_DOMAIN, value="evil.example")
        app.refresh_if_changed()
        await pilot.pause()
        assert str(count.render()) == "19 pending actions"


async def propose_elsewhere(workspace: Workspace) -> None:
    with make_service(workspace, "cli-analyst", id_prefix="01CLI") as other:
        other.propose(ActionType.BLOCK_SENDER, value="new@evil.example")


async def test_new_pending_rings_bell_and_toasts(investigated_copy: Workspace, monkeypatch) -> None:
    app = make_app(investigated_copy, bell_on_pending=None, config=config(actions={"bell": True, "toast": True}))
    rings: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert rings == [], "actions already waiting at start are not new"
        await propose_elsewhere(investigated_copy)
        app.refresh_if_changed()
        await pilot.pause()
        assert rings == [True]
        assert any("1 new pending action waits" in note for note in notes(app))
        app.refresh_if_changed()
        await pilot.pause()
        assert rings == [True], "an action is announced once"


async def test_new_pending_quiet_when_configured(investigated_copy: Workspace, monkeypatch) -> None:
    app = make_app(investigated_copy, bell_on_pending=None, config=config(actions={"bell": False, "toast": False}))
    rings: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await propose_elsewhere(investigated_copy)
        app.refresh_if_changed()
        await pilot.pause()
        assert app.pending_count == 19
        assert rings == []
        assert not any("new pending" in note for note in notes(app))


async def test_bell_override_wins_over_config(investigated_copy: Workspace, monkeypatch) -> None:
    app = make_app(investigated_copy, bell_on_pending=False, config=config(actions={"bell": True}))
    rings: list[bool] = []
    monkeypatch.setattr(app, "bell", lambda: rings.append(True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await propose_elsewhere(investigated_copy)
        app.refresh_if_changed()
        await pilot.pause()
        assert rings == []
        assert any("1 new pending action waits" in note for note in notes(app))


async def test_filter_escape_keeps_screen(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        await pilot.press("slash", *"soft")
        assert isinstance(app.focused, ActionFilter)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen, "esc in the filter clears it and does not close the screen"
        assert len(shown_ids(app)) == 18
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is not screen



async def test_status_filter_on_history(investigated_copy: Workspace) -> None:
    with make_service(investigated_copy, id_prefix="01CLI") as service:
        first, second = [row.action.id for row in service.actions(ActionStatus.PENDING)][:2]
        service.approve(first)
        service.reject(second, reason="false positive")
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        assert "F" not in screen.active_bindings, "the status filter belongs to History"
        await pilot.press("h")
        await pilot.pause()
        assert sorted(shown_ids(app)) == sorted([first, second])
        await pilot.press("F")
        await pilot.pause()
        assert shown_ids(app) == [first]
        assert "status Completed" in table(app).border_subtitle
        await pilot.press("F")
        await pilot.pause()
        assert shown_ids(app) == [second]
        await pilot.press("F")
        await pilot.pause()
        assert len(shown_ids(app)) == 2


async def test_four_eyes_type_change_waits(investigated_copy: Workspace) -> None:
    """Changing an action into a four-eyes type records the change and leaves it for someone else."""
    app = make_app(investigated_copy, config=config(access={"four_eyes": ["Hard delete"]}))
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        action_id = table(app).selected_key
        await pilot.press("a", "t", "y")
        await settle(pilot)
        titles = [notification.title for notification in app._notifications]
        assert "Action changed, not approved" in titles
        assert any("needs a second analyst" in note for note in notes(app))
        assert action_id in shown_ids(app)
    row = record(investigated_copy, action_id)
    assert row.action.status is ActionStatus.PENDING
    assert row.action.action_type is ActionType.HARD_DELETE
    assert row.action.proposed_by == "analyst1"


async def test_palette_and_help_list_action_center(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert "Open action center" in commands
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = str(app.screen.query_one(Static).render())
        assert "Action center (A)" in help_text
        assert "Partially failed" in help_text
        assert "Approval dialog" in help_text


def burst(app: AirApp, text: str) -> None:
    """Queue keys all at once, as a paste or a laggy SSH link delivers them, without waiting between them."""
    from textual import events

    for character in text:
        key = "slash" if character == "/" else character
        app.post_message(events.Key(key, character))


async def test_keys_typed_right_after_slash_go_into_the_filter(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        pending_before = app.service.pending_count()
        burst(app, "/ay")
        await settle(pilot)
        assert app.screen is screen, "no approval dialog opened"
        assert screen.query_one(ActionFilter).value == "ay"
        assert app.service.pending_count() == pending_before


async def test_keys_typed_right_after_slash_on_the_main_screen_go_into_the_filter(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        main = app.screen
        burst(app, "/va")
        await settle(pilot)
        assert app.screen is main, "no investigation or dialog opened"
        assert app.query_one("#alert-filter").value == "va"


async def test_bulk_reject_preview_scrolls_while_the_reason_has_focus(investigated_copy: Workspace) -> None:
    actions_of_investigation(investigated_copy, 3)
    app = make_app(investigated_copy)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, "setting")
        await pilot.press("ctrl+a", "r")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, BulkDecision)
        rows = dialog.query_one("#bulk-rows")
        assert rows.max_scroll_y > 0, "at 80x24 the preview is longer than its box"
        await pilot.press("down", "down")
        await pilot.pause()
        assert rows.scroll_y == 2
        assert dialog.query_one("#reason").value == ""


async def test_ages_redraw_while_the_table_stands_still(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_center(pilot)
        before = [str(cell) for cell in table(app).get_row_at(0)]
        app.clock.now += timedelta(hours=5)
        screen._refresh_ages()
        await pilot.pause()
        after = [str(cell) for cell in table(app).get_row_at(0)]
        assert before != after
        assert any("h" in cell and cell not in before for cell in after), after


async def test_expiry_line_follows_what_is_typed(investigated_copy: Workspace) -> None:
    with make_service(investigated_copy, id_prefix="01EXP") as service:
        block = service.propose(ActionType.BLOCK_SENDER, value="billing@evil.example")
    app = make_app(investigated_copy)
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await filter_rows(pilot, "billing@evil.example")
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ApproveAction)
        assert "Expires: 20" in str(dialog.query_one("#expiry-now").render())
        await pilot.press("e", "7")
        await pilot.pause()
        assert "New expiry: 7 days from approval" in str(dialog.query_one("#expiry-now").render())
        await pilot.press("backspace", *"never")
        await pilot.pause()
        assert "New expiry: never" in str(dialog.query_one("#expiry-now").render())
    assert record(investigated_copy, block.id).action.status is ActionStatus.PENDING


async def test_operator_is_told_up_front_that_hard_delete_needs_an_admin(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, config=config(access={"analysts": {"analyst1": "operator"}}))
    async with app.run_test(size=SIZE) as pilot:
        await open_center(pilot)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ApproveAction)
        assert str(dialog.query_one("#approve-access").render()).strip() == ""
        while dialog.chosen_type is not ActionType.HARD_DELETE:
            await pilot.press("t")
            await pilot.pause()
        assert "Hard delete needs the admin role" in str(dialog.query_one("#approve-access").render())
