"""Snapshots of the action center and its dialogs. Clock and ids are frozen and the cursor does not blink."""

from __future__ import annotations

from textual.pilot import Pilot

from air_tui.tenant.workspace import Workspace
from air_tui.tui.screens.action_center import ActionFilter
from tests.tui.conftest import make_app, settle


async def _open_center(pilot: Pilot) -> None:
    await settle(pilot)
    await pilot.press("A")
    await settle(pilot)


async def _filter(pilot: Pilot, text: str) -> None:
    await pilot.press("slash")
    pilot.app.screen.query_one(ActionFilter).value = text
    await pilot.press("enter")
    await settle(pilot)


def test_action_center_small(snap_compare, investigated_copy: Workspace) -> None:
    """The Pending tab at 80x24, with '18 pending actions' at the top right and the tabs
    'p Pending 18' and 'h History 0'. The Type, Targets, Investigation, Proposer and Waiting
    columns fit without cutting a header, and '18 · sort created ↑' sits under the table. The
    details show the first action's type, status, id, what approving does and the undo note. The
    footer shows esc, a, r, space, / and s with nothing overlapping."""
    assert snap_compare(make_app(investigated_copy), terminal_size=(80, 24), run_before=_open_center)


def test_action_center_wide_marked(snap_compare, investigated_copy: Workspace) -> None:
    """At 120x40 the table adds a Title column. The filter 'setting' shows the three mailbox
    setting actions, all marked with ✓, and the subtitle reads '3 of 18 · filter “setting” ·
    3 marked · sort created ↑'. The details show the forwarding that approving removes."""

    async def mark(pilot: Pilot) -> None:
        await _open_center(pilot)
        await _filter(pilot, "setting")
        await pilot.press("ctrl+a")
        await settle(pilot)

    assert snap_compare(make_app(investigated_copy), terminal_size=(120, 40), run_before=mark)


def test_action_center_history_small(snap_compare, investigated_copy: Workspace) -> None:
    """History at 80x24 after the first action was approved: the row shows Completed, decided by
    analyst1, the toast 'Approved by analyst1' reads 'Soft delete: completed (2 succeeded).', and
    the footer offers u Undo with R Retry greyed out, and no approve or mark key."""

    async def approve_then_history(pilot: Pilot) -> None:
        await _open_center(pilot)
        await pilot.press("a", "y")
        await settle(pilot)
        await pilot.press("h")
        await settle(pilot)

    assert snap_compare(make_app(investigated_copy), terminal_size=(80, 24), run_before=approve_then_history)


def test_bulk_preview_small(snap_compare, investigated_copy: Workspace) -> None:
    """The bulk preview at 80x24 for the three setting actions. Inside the dialog come 'Approve 3
    actions?', the keys, 'All in investigation … in 1 mailbox.', each action with its id and what
    it removes from the mailbox, and the comment line at the bottom."""

    async def preview(pilot: Pilot) -> None:
        await _open_center(pilot)
        await _filter(pilot, "setting")
        await pilot.press("ctrl+a", "a")
        await settle(pilot)

    assert snap_compare(make_app(investigated_copy), terminal_size=(80, 24), run_before=preview)


def test_approve_hard_delete_small(snap_compare, investigated_copy: Workspace) -> None:
    """The approval dialog at 80x24 after t changed Soft delete into Hard delete. It shows the title
    'Approve Hard delete?', 'are permanently deleted', and 'Cannot be undone: …' in bold warning
    colour. Then come 'Action type: Hard delete (proposed as Soft delete)', two mailboxes and the
    comment line."""

    async def change_type(pilot: Pilot) -> None:
        await _open_center(pilot)
        await pilot.press("a", "t")
        await settle(pilot)

    assert snap_compare(make_app(investigated_copy), terminal_size=(80, 24), run_before=change_type)
