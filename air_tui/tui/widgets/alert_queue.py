"""The alert queue: one row per alert, with the status of the investigation it started.

The queue reads its rows in windows from an `AlertSource`, the service in the console, so it
never loads every alert of a large tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.message import Message

from air_tui.store.queries import AlertRow
from air_tui.store.windows import AlertSource, ListAlertSource
from air_tui.tui.text import plain, safe, severity_text, status_text
from air_tui.tui.widgets.window_table import Column, WindowTable

# Short policy names for the queue column; the full name is on the alert in the graph.
POLICY_LABELS = {
    "user-reported-phish": "User reported",
    "malicious-file-removed": "File removed",
    "malicious-url-removed": "URL removed",
    "campaign-removed": "Campaign",
    "email-removed": "Email removed",
    "removal-failed": "Not removed",
    "url-click": "URL click",
    "url-click-through": "Click-through",
    "suspicious-sending": "Odd sending",
    "user-restricted": "Restricted",
    "manual-email": "Manual email",
    "manual-user-compromise": "Manual user",
    "forwarding-rule-created": "Forward rule",
    "suspicious-forwarding": "Forwarding",
}


class _QueueRows:
    """The queue's row source: one alert source seen through the current filter."""

    def __init__(self, alerts: AlertSource, filter_text: str) -> None:
        self.alerts = alerts
        self.filter_text = filter_text
        self.counted = 0

    def count(self) -> int:
        self.counted = self.alerts.alert_count(self.filter_text)
        return self.counted

    def rows(self, offset: int, limit: int) -> Sequence[AlertRow]:
        return self.alerts.alert_window(offset, limit, self.filter_text, total=self.counted)

    def key(self, record: AlertRow) -> str:
        return record.alert.id

    def position(self, key: str) -> int | None:
        return self.alerts.alert_position(key, self.filter_text)


class AlertQueue(WindowTable[AlertRow]):
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
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.filter_text = ""
        self.alerts: AlertSource | None = None
        self._fetch: Callable[[], Sequence[AlertRow]] | None = None
        # "Partially investigated" needs 22 columns; small terminals give them to the subject.
        self.status_width = 22

    def on_mount(self) -> None:
        self.border_title = "1 Alerts"
        self.status_width = 22 if self.app.size.width >= 100 else 16
        self.set_columns(
            [
                Column("Severity", 8, key="severity"),
                Column("Policy", 13, key="policy"),
                Column("Time", 12, key="time"),
                Column("Status", self.status_width, key="status"),
                Column("Subject", key="subject"),
            ]
        )

    @property
    def rows_by_key(self) -> dict[str, AlertRow]:
        """The alerts in the pages held now, by id: the rows near the screen, not every alert."""
        return {row.alert.id: row for row in self.cached_records()}

    def load(self, alerts: AlertSource | Callable[[], Sequence[AlertRow]]) -> None:
        """Read the queue from an alert source, or from a function returning every row, and reload.

        The filter and the cursor's alert are kept. A function is called again on each reload,
        so it suits short lists; a source is read one window at a time.
        """
        if isinstance(alerts, AlertSource):
            self._fetch = None
            self.alerts = alerts
        else:
            self._fetch = alerts
        self.reload()

    def apply_filter(self, text: str) -> None:
        """Show only the alerts that contain every word of `text`, keeping the cursor's alert if it matches."""
        self.filter_text = text.strip()
        self.reload()

    def reload(self) -> None:
        if self._fetch is not None:
            self.alerts = ListAlertSource(self._fetch())
        if self.alerts is None:
            super().reload()
            return
        self.source = _QueueRows(self.alerts, self.filter_text)
        super().reload()
        if self.filter_text:
            total = self.alerts.alert_count("")
            self.border_subtitle = f"{self.row_count:,} of {total:,} alerts matching '{plain(self.filter_text, 20)}'"
        else:
            self.border_subtitle = f"{self.row_count:,} alerts"

    def render_cells(self, record: AlertRow) -> Sequence[Text]:
        alert = record.alert
        return (
            severity_text(alert.severity),
            safe(POLICY_LABELS.get(alert.policy_id, alert.title), limit=13),
            safe(f"{alert.occurred:%d %b %H:%M}"),
            status_text(record.investigation_status, limit=self.status_width),
            safe(alert.subject or "(no subject)", limit=200),
        )

    def action_filter(self) -> None:
        self.post_message(self.FilterRequested())

    def action_clear_filter(self) -> None:
        self.post_message(self.FilterCleared())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return bool(self.filter_text)
        return super().check_action(action, parameters)

    def on_window_table_row_highlighted(self, event: WindowTable.RowHighlighted) -> None:
        event.stop()
        if isinstance(event.record, AlertRow):
            self.post_message(self.AlertHighlighted(event.record))

    def on_window_table_row_selected(self, event: WindowTable.RowSelected) -> None:
        event.stop()
        if isinstance(event.record, AlertRow):
            self.post_message(self.AlertOpened(event.record))
