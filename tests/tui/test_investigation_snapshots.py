"""Snapshots of the investigation screen at 80x24, over a frozen investigation and clock."""

from __future__ import annotations

from textual.pilot import Pilot

from tests.tui.test_investigation_screen import ScreenHost, make_detail


async def _settle(pilot: Pilot) -> None:
    await pilot.pause()
    await pilot.pause()


def test_summary_tab_small(snap_compare) -> None:
    """The Summary tab at 80x24. The title bar shows id, status and title, and each tab label
    starts with its key. 'Pending action' has its explanation wrapped under the value, then come
    the times, pending approval '40 min 0 s', incident INC-7 and the start of the timeline. The
    footer shows 'esc Close', the tab keys and '/ Filter' with nothing overlapping."""
    assert snap_compare(ScreenHost(make_detail()), terminal_size=(80, 24), run_before=_settle)


def test_entities_tab_small(snap_compare) -> None:
    """The Entities tab: one row per entity type with Total, Malicious, Suspicious, No threats
    found, Unknown and Remediated fitting in 80 columns, an 'All' row of 14 entities, and the
    note saying what counts as remediated."""

    async def open_tab(pilot: Pilot) -> None:
        await _settle(pilot)
        await pilot.press("n")
        await _settle(pilot)

    assert snap_compare(ScreenHost(make_detail()), terminal_size=(80, 24), run_before=open_tab)
