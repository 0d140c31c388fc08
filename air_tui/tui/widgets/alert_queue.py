"""The alert queue: one row per alert, with the status of the investigation it started."""

from __future__ import annotations

import unicodedata

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from air_tui.store.queries import AlertRow
from air_tui.tui.text import plain, safe, severity_text, status_text
from air_tui.tui.widgets.keyed_table import KeyedTable

# Short policy names for the queue column; the full name is on the alert in the graph.
POLICY_LABELS = {"user-reported-phish": "User reported"}


class AlertQueue(KeyedTable[AlertRow]):
    """Alerts, newest first. Highlighting a row shows its investigation in the graph."""

    class AlertHighlighted(Message):
        def __init__(self, row: AlertRow) -> None:
            super().__init__()
            self.row = row

    class AlertOpened(Message):
        def __init__(self, row: AlertRow) -> None:
            super().__init__()
            self.row = row

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="filter-alerts", tooltip="Show only alerts whose text contains a word"),
        Binding("escape", "clear_filter", "Clear filter", id="clear-alert-filter", tooltip="Show every alert again"),
    ]

    class FilterRequested(Message):
        """The analyst pressed `/` in the queue."""

    class FilterCleared(Message):
        """The analyst pressed `esc` in the queue while a filter was kept."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.all_rows: list[AlertRow] = []
        self.filter_text = ""

    def on_mount(self) -> None:
        self.border_title = "1 Alerts"
        self.add_column("Severity", key="severity", width=8)
        self.add_column("Policy", key="policy", width=13)
        self.add_column("Time", key="time", width=12)
        # "Partially investigated" needs 22 columns; small terminals give them to the subject.
        self.status_width = 22 if self.app.size.width >= 100 else 16
        self.add_column("Status", key="status", width=self.status_width)
        self.add_column("Subject", key="subject")

    def show(self, rows: list[AlertRow]) -> None:
        """Replace the rows, keeping the filter and the cursor on the same alert when it is still there."""
        self.all_rows = rows
        matching = [row for row in rows if _matches(row, self.filter_text)]
        self.replace_rows((row.alert.id, row, self._cells(row)) for row in matching)
        if self.filter_text:
            self.border_subtitle = f"{len(matching)} of {len(rows)} alerts matching '{plain(self.filter_text, 20)}'"
        else:
            self.border_subtitle = f"{len(rows)} alerts"

    def _cells(self, row: AlertRow) -> tuple[Text, ...]:
        alert = row.alert
        return (
            severity_text(alert.severity),
            safe(POLICY_LABELS.get(alert.policy_id, alert.title), limit=13),
            safe(f"{alert.occurred:%d %b %H:%M}"),
            status_text(row.investigation_status, limit=self.status_width),
            safe(alert.subject or "(no subject)", limit=200),
        )

    def apply_filter(self, text: str) -> None:
        self.filter_text = text.strip()
        self.show(self.all_rows)

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested())

    def action_clear_filter(self) -> None:
        self.post_message(self.FilterCleared())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.filter_text)
        return super().check_action(action, parameters)

    def on_data_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        event.stop()
        row = self.record_for(event)
        if row is not None:
            self.post_message(self.AlertHighlighted(row))

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        event.stop()
        row = self.record_for(event)
        if row is not None:
            self.post_message(self.AlertOpened(row))


def _matches(row: AlertRow, text: str) -> bool:
    """Case-insensitive match of every word against the alert's visible fields and its reporter."""
    if not text:
        return True
    alert = row.alert
    haystack = " ".join(
        (alert.subject, alert.title, alert.severity.value, row.investigation_status, alert.user, f"{alert.occurred:%d %b %H:%M}")
    )
    folded = _fold(haystack)
    return all(word in folded for word in _fold(text).split())


def _fold(text: str) -> str:
    """Lower-case and strip accents, so 'alfandega' finds 'Alfândega'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
