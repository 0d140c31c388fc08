"""The `/` filter line above the alert queue."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class AlertFilter(Input):
    """Narrows the alert queue as the analyst types. `esc` clears it and changes nothing else."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="clear-filter", tooltip="Show every alert again")]

    class Cleared(Message):
        pass

    def on_mount(self) -> None:
        if getattr(self.app, "reduce_motion", False):
            self.cursor_blink = False

    def action_clear(self) -> None:
        self.post_message(self.Cleared())
