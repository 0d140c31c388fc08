"""The explorer: search every ingested message and start a manual investigation from a result.

The screen reads through a source object (the service in the console, or a store), one
window of results at a time, so it never loads every match of a large tenant. It
never starts an investigation itself: after the analyst confirms, it posts
`ExplorerScreen.InvestigationRequested` and the app decides what to run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, Static

from air_tui.domain.investigation import Entity
from air_tui.domain.message import Address, EmailMessage
from air_tui.domain.vocab import EntityKind, ManualTarget, Verdict
from air_tui.store.database import Store
from air_tui.store.explorer import DEFAULT_CAP, KEYS, ExplorerRow, MessageCount, QueryError, StoreSource, parse_query
from air_tui.tui.modals import MessageDetail
from air_tui.tui.text import plain, safe, verdict_badge
from air_tui.tui.widgets.pending_count import PendingCount
from air_tui.tui.widgets.sync_indicator import SyncIndicator
from air_tui.tui.widgets.window_table import Column, WindowTable

QUERY_HINT = "Terms: " + " ".join(f"{key}:" for key in KEYS) + ", and words to find in sender, subject or body"
_RECIPIENTS_SHOWN = 4


class ExplorerSource(Protocol):
    """Source of the explorer's data: `AirService` has these methods, and so does `StoreSource`."""

    def explore_count(self, query: str, cap: int = DEFAULT_CAP) -> MessageCount: ...

    def explore_window(self, query: str, offset: int, limit: int, *, total: int | None = None) -> Sequence[ExplorerRow]: ...

    def message(self, message_id: str) -> EmailMessage | None: ...


class ResultRows:
    """One query's results as a row source. The count stops at `cap`, which grows on demand."""

    def __init__(self, source: ExplorerSource, query: str, cap: int = DEFAULT_CAP) -> None:
        self.source = source
        self.query = query
        self.cap = cap
        self.counted = MessageCount(0)

    def count(self) -> int:
        self.counted = self.source.explore_count(self.query, self.cap)
        return self.counted.count

    def rows(self, offset: int, limit: int) -> Sequence[ExplorerRow]:
        # An exact total lets the store read the far end of the result from its oldest side.
        total = None if self.counted.capped else self.counted.count
        return self.source.explore_window(self.query, offset, limit, total=total)

    def key(self, record: ExplorerRow) -> str:
        return record.id

    def position(self, key: str) -> int | None:
        # Finding a message's place in a query's result costs a count of its own. The table
        # checks the cursor's old position instead, which is right when only the cap grew.
        return None


class ExplorerResults(WindowTable[ExplorerRow]):
    """The result table: newest first, one row per message copy."""

    def render_cells(self, record: ExplorerRow) -> Sequence[Text]:
        cells = [_received(record.received_at), _verdict(record.verdict)]
        if len(self.columns) > 4:
            cells += [safe(record.folder), safe(record.mailbox)]
        cells += [safe(record.sender or "(no sender)"), safe(record.subject or "(no subject)", limit=300)]
        return cells


class ConfirmInvestigation(ModalScreen[bool]):
    """Names what a manual investigation will look at. `y` or `enter` starts it, `esc` or `n` cancels."""

    DEFAULT_CSS = """
    ConfirmInvestigation {
        align: center middle;
    }
    ConfirmInvestigation > #investigate-dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        padding: 1 2;
        border: thick $accent;
        background: $surface;
    }
    ConfirmInvestigation #investigate-keys {
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS = [
        Binding("y,enter", "confirm", "Start", id="confirm-investigation", tooltip="Start the manual investigation"),
        Binding("n,escape", "cancel", "Cancel", id="cancel-investigation", tooltip="Close without starting anything"),
    ]

    def __init__(self, title: str, description: Text) -> None:
        super().__init__()
        self.title_text = title
        self.description = description

    def compose(self) -> ComposeResult:
        with Vertical(id="investigate-dialog"):
            yield Label(Text(self.title_text, style="bold"), id="investigate-title")
            yield Static(self.description, id="investigate-target")
            yield Static("y or enter start · n or esc cancel", id="investigate-keys")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class ExplorerScreen(Screen[None]):
    """Search over all ingested mail: a query bar, a windowed result table and a preview."""

    FILTER_INPUT = "#explorer-query"
    """The filter line `/` opens; the app sends it keys typed before it has focus."""

    DEFAULT_CSS = """
    ExplorerScreen {
        layout: vertical;
    }
    ExplorerScreen #explorer-query {
        height: 3;
    }
    ExplorerScreen #explorer-message {
        height: auto;
        max-height: 3;
        padding: 0 1;
        color: $text-muted;
    }
    ExplorerScreen #explorer-message.error {
        color: $text-error;
        text-style: bold;
    }
    ExplorerScreen #explorer-count-bar {
        height: 1;
    }
    ExplorerScreen #explorer-count {
        width: 1fr;
        height: 1;
        padding: 0 1;
    }
    ExplorerScreen ExplorerResults {
        height: 1fr;
        min-height: 5;
        border: round $secondary;
        scrollbar-size-horizontal: 0;
    }
    ExplorerScreen ExplorerResults:focus {
        border: heavy $accent;
    }
    ExplorerScreen #explorer-preview {
        height: auto;
        max-height: 8;
        padding: 0 1;
        border: round $secondary;
        border-title-color: $text;
    }
    """

    BINDINGS = [
        Binding("escape", "leave", "Back", id="explorer-back", tooltip="Leave the explorer"),
        Binding("slash", "focus_query", "Query", key_display="/", id="explorer-query", tooltip="Edit the search query"),
        Binding("i", "investigate('email')", "Investigate email", id="explorer-investigate-email", tooltip="Start a manual investigation of the highlighted email"),
        Binding("R", "investigate('recipient')", "Investigate recipient", id="explorer-investigate-recipient", tooltip="Start a manual investigation of the mailbox that received it"),
        Binding("S", "investigate('sender')", "Investigate sender", id="explorer-investigate-sender", tooltip="Start a manual investigation of its sender"),
    ]

    class InvestigationRequested(Message):
        """The analyst confirmed a manual investigation from a result."""

        def __init__(self, message_id: str, target: str) -> None:
            super().__init__()
            self.message_id = message_id
            self.target = target
            """`email`, `recipient` (the mailbox owner) or `sender`."""

    def __init__(
        self,
        source: ExplorerSource | Store,
        *,
        query: str = "",
        cap: int = DEFAULT_CAP,
        internal_domains: tuple[str, ...] = (),
        can_investigate: bool = True,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.internal_domains = tuple(domain.lower() for domain in internal_domains)
        """The organisation's domains; with them, a sender investigation of an outsider is refused before the confirmation."""
        self.can_investigate = can_investigate
        """False for readers and in read-only mode: the keys that start investigations are hidden."""
        self.source: ExplorerSource = StoreSource(source) if isinstance(source, Store) else source
        self.initial_query = query
        self.cap = cap
        """Messages counted before the count line shows `N+`; it grows tenfold at the last row."""
        self.results: ResultRows | None = None
        self.error = ""
        """The last query error, or an empty string."""

    def compose(self) -> ComposeResult:
        yield Input(value=self.initial_query, placeholder="Search all mail, e.g. from:billing@example.com after:2026-11-01 invoice", id="explorer-query")
        yield Static(QUERY_HINT, id="explorer-message")
        with Horizontal(id="explorer-count-bar"):
            yield Static(id="explorer-count")
            yield PendingCount(id="explorer-pending")
            yield SyncIndicator(id="explorer-sync")
        yield ExplorerResults(id="explorer-results")
        yield Static(id="explorer-preview")
        yield Footer()

    def on_mount(self) -> None:
        wide = self.app.size.width >= 110
        columns = [Column("Received", 12), Column("Verdict", 10)]
        if wide:
            columns += [Column("Folder", 12), Column("Mailbox", 24)]
        columns += [Column("Sender", 24 if wide else 22), Column("Subject")]
        table = self.query_one(ExplorerResults)
        table.set_columns(columns)
        table.border_title = "Messages"
        self.query_one("#explorer-preview", Static).border_title = "Message"
        if getattr(self.app, "reduce_motion", False):
            self.query_one("#explorer-query", Input).cursor_blink = False
        self.run_query(self.initial_query)
        # Opened empty, the analyst's next keys are a query; opened with one, they move in the results.
        if self.initial_query:
            table.focus()
        else:
            self.query_one("#explorer-query", Input).focus()

    # Querying -----------------------------------------------------------------------------------

    def run_query(self, text: str) -> bool:
        """Run a query and show its first window; on an invalid term, show why and keep the old results.

        Returns:
            Whether the query ran.
        """
        try:
            parse_query(text)
        except QueryError as error:
            self._show_error(str(error))
            return False
        self._show_error("")
        self.results = ResultRows(self.source, text, self.cap)
        self.query_one(ExplorerResults).set_source(self.results)
        self._show_count()
        if self.query_one(ExplorerResults).row_count == 0:
            self._show_preview(None)
        return True

    def _show_error(self, error: str) -> None:
        self.error = error
        line = self.query_one("#explorer-message", Static)
        line.set_class(bool(error), "error")
        line.update(safe(f"Invalid query. {error}") if error else Text(QUERY_HINT))

    def _show_count(self) -> None:
        counted = self.results.counted if self.results is not None else MessageCount(0)
        label = counted.label
        if counted.capped:
            label += " (counting goes on when the cursor reaches the last row)"
        self.query_one("#explorer-count", Static).update(Text(label, style="bold"))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "explorer-query":
            return
        event.stop()
        if self.run_query(event.value) and self.query_one(ExplorerResults).row_count:
            self.query_one(ExplorerResults).focus()

    def on_window_table_row_highlighted(self, event: WindowTable.RowHighlighted) -> None:
        event.stop()
        record = event.record
        if not isinstance(record, ExplorerRow):
            return
        self._show_preview(record)
        table = self.query_one(ExplorerResults)
        if self.results is not None and self.results.counted.capped and event.index == table.row_count - 1:
            # The analyst reached the end of what was counted: count ten times further.
            self.results.cap *= 10
            table.reload()
            self._show_count()

    def on_window_table_row_selected(self, event: WindowTable.RowSelected) -> None:
        """Open the email in full: headers, authentication, links, attachments and body."""
        event.stop()
        record = event.record
        if not isinstance(record, ExplorerRow):
            return
        message = self.source.message(record.id)
        if message is None:
            self.notify("The message is no longer in the index.", severity="warning")
            return
        verdict = Verdict(record.verdict) if record.verdict in Verdict._value2member_map_ else Verdict.UNKNOWN
        entity = Entity(id=f"message:{record.id}", kind=EntityKind.MESSAGE, key=record.id, label=message.subject or "(no subject)", verdict=verdict)
        headers = getattr(self.source, "raw_headers", None)
        self.app.push_screen(MessageDetail(entity, message, raw_headers=headers(record.id) if callable(headers) else None))

    # Preview ------------------------------------------------------------------------------------

    def _show_preview(self, record: ExplorerRow | None) -> None:
        preview = self.query_one("#explorer-preview", Static)
        if record is None:
            preview.update(Text("No message matches the query.", style="dim"))
            return
        message = self.source.message(record.id)
        lines = Text()
        if message is None:
            _field(lines, "From", safe(record.sender))
            _field(lines, "To", Text("(the message is no longer in the index)", style="dim"))
        else:
            _field(lines, "From", _address(message.sender))
            _field(lines, "To", _recipients([*message.to, *message.cc]))
        _field(lines, "Subject", safe(record.subject or "(no subject)", limit=300))
        _field(lines, "Mailbox", safe(f"{record.mailbox} · {record.folder}"))
        _field(lines, "Received", safe(record.received_at or "unknown"))
        _field(lines, "Verdict", _verdict(record.verdict), last=True)
        preview.update(lines)

    # Investigations -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "investigate":
            if not self.can_investigate:
                return False
            tables = self.query(ExplorerResults)
            if not tables or tables.first().selected is None:
                # Shown greyed out: there is no result to investigate.
                return None
        return True

    def action_investigate(self, target: str) -> None:
        record = self.query_one(ExplorerResults).selected
        if record is None:
            return
        chosen = ManualTarget(target)
        if chosen is ManualTarget.SENDER and not record.sender:
            self.notify("This message has no sender address to investigate.", severity="warning")
            return
        if chosen is ManualTarget.SENDER and self.internal_domains and not _internal(record.sender, self.internal_domains):
            self.notify(
                f"Sender investigations are for senders inside the organisation, and {plain(record.sender)} is not. "
                "Investigate the email (i) or its recipient (R) instead.",
                severity="warning",
                timeout=8,
            )
            return
        title, description = _describe(record, chosen)

        def confirmed(start: bool | None) -> None:
            if start:
                self.post_message(self.InvestigationRequested(record.id, chosen.value))
            else:
                self.notify("No investigation started.")

        self.app.push_screen(ConfirmInvestigation(title, description), confirmed)

    def action_focus_query(self) -> None:
        self.query_one("#explorer-query", Input).focus()

    def action_leave(self) -> None:
        self.dismiss()


def _internal(address: str, domains: tuple[str, ...]) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == own or domain.endswith("." + own) for own in domains)


def _describe(record: ExplorerRow, target: ManualTarget) -> tuple[str, Text]:
    subject = plain(record.subject or "(no subject)", limit=80)
    if target is ManualTarget.EMAIL:
        return "Investigate this email?", safe(
            f"A manual investigation of the email '{subject}' from {record.sender or '(no sender)'}, "
            f"in the mailbox {record.mailbox} ({record.folder}), and the messages like it."
        )
    if target is ManualTarget.RECIPIENT:
        return "Investigate the recipient?", safe(
            f"A manual investigation of the mailbox {record.mailbox}, which received '{subject}': "
            "its settings, recent activity and the mail it received."
        )
    return "Investigate the sender?", safe(
        f"A manual investigation of the sender {record.sender}, and every message it sent to the tenant."
    )


def _field(lines: Text, name: str, value: Text, *, last: bool = False) -> None:
    lines.append(f"{name:<9}", style="bold")
    lines.append_text(value)
    if not last:
        lines.append("\n")


def _address(address: Address) -> Text:
    if address.display_name:
        return safe(f"{address.display_name} <{address.address}>", limit=200)
    return safe(address.address or "(no sender)")


def _recipients(addresses: list[Address]) -> Text:
    if not addresses:
        return Text("(none)", style="dim")
    listed = ", ".join(entry.address for entry in addresses[:_RECIPIENTS_SHOWN])
    more = len(addresses) - _RECIPIENTS_SHOWN
    return safe(listed + (f" and {more} more" if more > 0 else ""), limit=300)


def _received(value: str) -> Text:
    try:
        return Text(f"{datetime.fromisoformat(value):%d %b %H:%M}")
    except ValueError:
        return Text("unknown", style="dim")


def _verdict(value: str) -> Text:
    try:
        return verdict_badge(Verdict(value))
    except ValueError:
        return Text("none" if not value else plain(value, limit=10), style="dim")
