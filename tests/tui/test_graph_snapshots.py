"""Snapshots of the node-link drawing, built from a hand-made investigation with fixed ids and no clock."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.test_node_graph import GraphApp, reported_phish


def test_graph_wide(snap_compare) -> None:
    """At 120x40 the cursor is on the reported email: its node in reverse video, its lines highlighted.
    Columns 1 to 3 are in view. Column 1 shows the alert with the report under it, column 2 the email
    with the attached email and the cluster under it. Column 3 lists sender, IP, malicious URLs first,
    `▸ +3 more URLs (0 malicious)` and the file, and a line crosses it towards the mailboxes."""

    async def move_to_email(pilot: Pilot) -> None:
        await pilot.pause()
        await pilot.press("down", "right")
        await pilot.pause()

    assert snap_compare(GraphApp(reported_phish()), terminal_size=(120, 40), run_before=move_to_email)


def test_graph_small_ansi(snap_compare) -> None:
    """At 80x24 in the 16-colour ansi-dark theme, the URL group is unfolded (`▾ 3 more URLs`) with the
    cursor on it. The view has scrolled right to keep columns 2 and 3 in view. Every node reads
    by its verdict word (MAL, SUSP, CLEAN, UNK) without colour."""

    async def unfold_urls(pilot: Pilot) -> None:
        await pilot.pause()
        await pilot.press("down", "right", "right", *["down"] * 6, "enter")
        await pilot.pause()

    app = GraphApp(reported_phish())
    app.theme = "ansi-dark"
    assert snap_compare(app, terminal_size=(80, 24), run_before=unfold_urls)
