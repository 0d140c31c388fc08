"""The number of actions waiting for approval, shown at the top of every screen."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def pending_text(count: int) -> Text:
    """Write the count as `N pending actions`, bold while anything waits."""
    noun = "action" if count == 1 else "actions"
    return Text(f"{count} pending {noun}", style="bold" if count else "")


class PendingCount(Static):
    """Header text that follows the app's `pending_count` attribute, and hides in an app without one."""

    DEFAULT_CSS = """
    PendingCount {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    """

    def on_mount(self) -> None:
        if not hasattr(self.app, "pending_count"):
            self.display = False
            return
        self.watch(self.app, "pending_count", self._show)

    def _show(self, count: int) -> None:
        self.update(pending_text(count))
