"""Snapshots of the console. Clock and ids are frozen and the cursor does not blink."""

from __future__ import annotations

from air_tui.tenant.workspace import Workspace
from tests.tui.conftest import make_app, settle


def test_main_screen_wide(snap_compare, investigated_workspace: Workspace) -> None:
    """The three panes at 120x36: alerts newest first, the first alert's graph with verdict words,
    the evidence panel with the log, pending soft deletes with counts, and the pending count on top.
    The compact footer ends with 'A Actions', which opens the action center."""
    assert snap_compare(make_app(investigated_workspace), terminal_size=(120, 36), run_before=settle)


def test_main_screen_small(snap_compare, investigated_workspace: Workspace) -> None:
    """At 80x24 the evidence panel is hidden and all three panes still show rows. The footer fits
    every key up to 'A Actions' before '^p palette'; q quits but is listed in help only."""
    assert snap_compare(make_app(investigated_workspace), terminal_size=(80, 24), run_before=settle)


def test_approval_dialog(snap_compare, investigated_workspace: Workspace) -> None:
    """The approval dialog names the action, 'N messages in M mailboxes move to Recoverable Items',
    then the undo note on its own line, 'Action type: Soft delete', the messages per mailbox, and
    the keys y, n/esc, c and t/T."""

    async def open_dialog(pilot) -> None:
        await settle(pilot)
        await pilot.press("3", "a")
        await pilot.pause()

    assert snap_compare(make_app(investigated_workspace), terminal_size=(120, 36), run_before=open_dialog)


def test_main_screen_ansi_dark(snap_compare, investigated_workspace: Workspace) -> None:
    """The 16-colour ansi-dark theme at 80x24: verdict words stay readable and the focused pane
    keeps its heavy border."""
    app = make_app(investigated_workspace)
    app.theme = "ansi-dark"
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_approval_dialog_small(snap_compare, investigated_workspace: Workspace) -> None:
    """At 80x24 the dialog lists at most two mailboxes and cuts the target to one line, so the keys
    line, the impact sentence, the undo note and the comment line all stay on screen."""

    async def open_dialog(pilot) -> None:
        await settle(pilot)
        await pilot.press("3", "G", "a")
        await pilot.pause()

    assert snap_compare(make_app(investigated_workspace), terminal_size=(80, 24), run_before=open_dialog)
