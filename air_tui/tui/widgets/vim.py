"""Vim-style movement layered over Textual's list widgets."""

from __future__ import annotations

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Tree

_MOVE_BINDINGS = [
    Binding("j", "cursor_down", "Down", show=False, id="cursor-down", tooltip="Move down one row"),
    Binding("k", "cursor_up", "Up", show=False, id="cursor-up", tooltip="Move up one row"),
    Binding("g", "cursor_first", "Top", show=False, id="cursor-first", tooltip="Go to the first row"),
    Binding("G", "cursor_last", "Bottom", show=False, id="cursor-last", tooltip="Go to the last row"),
]


class VimDataTable(DataTable):
    BINDINGS = _MOVE_BINDINGS

    def action_cursor_first(self) -> None:
        self.move_cursor(row=0)

    def action_cursor_last(self) -> None:
        self.move_cursor(row=max(self.row_count - 1, 0))


class VimTree(Tree):
    BINDINGS = _MOVE_BINDINGS

    def action_cursor_first(self) -> None:
        self.cursor_line = 0

    def action_cursor_last(self) -> None:
        self.cursor_line = max(self.last_line, 0)
        self.scroll_to_line(self.cursor_line)


class VimScroll(VerticalScroll):
    """A scrolling panel that also moves with j and k."""

    BINDINGS = [
        Binding("j", "scroll_down", "Down", show=False, id="scroll-down", tooltip="Scroll down one line"),
        Binding("k", "scroll_up", "Up", show=False, id="scroll-up", tooltip="Scroll up one line"),
        Binding("g", "scroll_home", "Top", show=False, id="scroll-top", tooltip="Go to the top"),
        Binding("G", "scroll_end", "Bottom", show=False, id="scroll-bottom", tooltip="Go to the bottom"),
    ]
