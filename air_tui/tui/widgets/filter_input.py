"""The base of every filter line: `esc` posts `Cleared`, and the cursor keeps still when motion is reduced."""

from __future__ import annotations

from typing import ClassVar

from textual.message import Message
from textual.widgets import Input


class FilterInput(Input):
    """An input that narrows a table as the analyst types.

    Subclasses add the `escape` binding with their own id and tooltip, and a `Cleared` subclass
    of their own, so handlers keep names such as `on_action_filter_cleared`.
    """

    clears_value: ClassVar[bool] = True
    """Whether `esc` empties the line itself; False leaves that to the handler of `Cleared`."""

    class Cleared(Message):
        pass

    def on_mount(self) -> None:
        if getattr(self.app, "reduce_motion", False):
            self.cursor_blink = False

    def action_clear(self) -> None:
        if self.clears_value:
            self.value = ""
        self.post_message(self.Cleared())
