"""The team sync state, shown beside the pending count at the top of every screen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from air_tui.sync import Lease, SyncStatus


@dataclass(frozen=True)
class SyncView:
    """The sync worker's last reading: the replicator's status and the automation lease.

    `failure` is set instead of `status` when the worker itself failed, for example on an
    unexpected database error.
    """

    status: SyncStatus | None
    lease: Lease | None
    replica_id: str
    """This console's replica id, to tell its own lease from another console's."""
    checked: datetime
    """The app clock's time when the status was read; it decides whether a date is today."""
    failure: str = ""


def _local(moment: str) -> datetime | None:
    """Parse a stored ISO time and convert it to the machine's local time zone."""
    if not moment:
        return None
    try:
        return datetime.fromisoformat(moment).astimezone()
    except ValueError:
        return None


def _clock_time(moment: str, now: datetime) -> str:
    """Write a stored ISO time as local `HH:MM`, with the date in front when it is not today."""
    local = _local(moment)
    if local is None:
        return moment or "unknown time"
    if local.date() == now.astimezone().date():
        return f"{local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def sync_text(view: SyncView) -> Text:
    """Write the sync state in a few words: synced, events waiting, offline, error or never synced."""
    status = view.status
    if status is None:
        return Text("sync error", style="bold")
    state = status.state
    if state == "offline":
        return Text(f"offline since {_clock_time(status.offline_since, view.checked)}", style="bold")
    if state == "error":
        return Text("sync error", style="bold")
    if state == "waiting":
        noun = "event" if status.waiting == 1 else "events"
        return Text(f"{status.waiting} {noun} waiting")
    return Text(state)


def sync_tooltip(view: SyncView) -> Text:
    """Write the details behind the short text: server, last success, error, backoff and lease.

    Every value is appended as plain text, because the server's error messages and the lease
    holder's analyst and host names come from other machines.
    """
    text = Text()
    status = view.status
    if status is None:
        text.append("The sync check failed: ")
        text.append(view.failure)
        return text
    text.append(f"Server: {status.url}, database {status.database}\n")
    text.append(f"Last sync: {_clock_time(status.last_success, view.checked) if status.last_success else 'never'}\n")
    text.append(f"Events waiting to be sent: {status.waiting}")
    if status.offline_since:
        text.append(f"\nOffline since: {_clock_time(status.offline_since, view.checked)}")
    if status.last_error:
        text.append("\nLast error: ")
        text.append(status.last_error)
    if status.failures:
        text.append(f"\nFailed attempts in a row: {status.failures}, next try at {_clock_time(status.next_try, view.checked)}")
    if status.rejected:
        text.append(f"\nServer documents skipped as invalid: {len(status.rejected)}")
    text.append("\nAutomation: ")
    text.append(_lease_text(view))
    return text


def _lease_text(view: SyncView) -> str:
    lease = view.lease
    if lease is None:
        return "no console holds the lease as last seen"
    until = _clock_time(lease.until.isoformat(), view.checked)
    if lease.holder == view.replica_id:
        return f"this console, lease until {until}"
    return f"{lease.analyst} on {lease.host}, lease until {until}"


class SyncIndicator(Static):
    """Header text that follows the app's `sync_view` attribute; hidden while it is None or absent.

    The app leaves `sync_view` at None when team sync is off, so a console without a sync
    server shows no indicator and its header is unchanged.
    """

    DEFAULT_CSS = """
    SyncIndicator {
        width: auto;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
        display: none;
    }
    """

    def on_mount(self) -> None:
        if hasattr(self.app, "sync_view"):
            self.watch(self.app, "sync_view", self._show)

    def _show(self, view: SyncView | None) -> None:
        self.display = view is not None
        if view is None:
            return
        self.update(sync_text(view))
        self.tooltip = sync_tooltip(view)
