"""The action center: every pending action to decide, and the history of decided ones.

The screen reads through the app's service on the UI thread and never decides anything itself:
after the analyst confirms in a dialog, it posts `DecisionRequested` and the app records the
decision in a worker thread. The app then reloads this screen and shows the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tab, Tabs

from air_tui.domain.ids import system_clock
from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind, TargetResult
from air_tui.service import ActionError, AirService
from air_tui.store.queries import ActionRow
from air_tui.tui.action_text import action_body, action_heading, result_line, undo_text
from air_tui.tui.decision_dialogs import BulkDecision, ConfirmDecision, ask_approval, ask_rejection
from air_tui.tui.decisions import DecisionRequest, DecisionRequested
from air_tui.tui.text import plain, safe
from air_tui.tui.widgets.action_table import HISTORY, PENDING, SORT_KEYS, ActionTable, columns_for, fit_columns, matches, sort_rows
from air_tui.tui.widgets.filter_input import FilterInput
from air_tui.tui.widgets.pending_count import PendingCount
from air_tui.tui.widgets.sync_indicator import SyncIndicator
from air_tui.tui.widgets.vim import VimScroll

_RETRYABLE = frozenset({ActionStatus.FAILED, ActionStatus.PARTIALLY_FAILED})
_PENDING_ONLY = frozenset({"approve", "reject", "toggle_mark", "mark_all"})
_HISTORY_ONLY = frozenset({"undo", "retry", "cycle_status_filter"})
_DECIDING = frozenset({"approve", "reject", "toggle_mark", "mark_all", "undo", "retry"})
_RETRY_TARGETS_SHOWN = 8

ChoiceT = TypeVar("ChoiceT")


AGE_REFRESH_SECONDS = 30
"""How often the table redraws its ages when nothing else changes it."""


class ActionFilter(FilterInput):
    """The filter line over the table. `esc` clears it and hands focus back to the table."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="center-clear-filter", tooltip="Show every action of the tab again")]

    class Cleared(FilterInput.Cleared):
        pass


class ActionCenterCommands(Provider):
    """Palette entries of the action center, one per key."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        if not isinstance(screen, ActionCenterScreen):
            return
        yield "Action center: Pending tab", "Actions waiting for a decision (p)", lambda: screen.action_show_tab(PENDING)
        yield "Action center: History tab", "Every decided, running or closed action (h)", lambda: screen.action_show_tab(HISTORY)
        yield "Action center: filter", "Match type, title, mailbox, investigation, analyst or status (/)", screen.action_filter
        yield "Action center: sort by next column", "Created, type, targets, status (s)", screen.action_cycle_sort
        yield "Action center: reverse sort", "Flip the sort direction (S)", screen.action_reverse_sort
        yield "Action center: filter by type", "Cycle through the action types listed (T)", screen.action_cycle_type_filter
        yield "Action center: filter by status", "Cycle through the statuses on History (F)", screen.action_cycle_status_filter
        if screen.service.access.can_change:
            yield "Action center: approve", "Approve the marked actions, or the highlighted one (a)", screen.action_approve
            yield "Action center: reject", "Reject the marked actions, or the highlighted one, with a reason (r)", screen.action_reject
            yield "Action center: mark", "Mark or unmark the highlighted action (space)", screen.action_toggle_mark
            yield "Action center: mark all shown", "Mark every action the filter shows, or unmark them (ctrl+a)", screen.action_mark_all
            yield "Action center: undo", "Undo the highlighted finished action (u)", screen.action_undo
            yield "Action center: retry", "Run the failed targets of the highlighted action again (R)", screen.action_retry
        yield "Action center: close", "Back to the console (esc)", screen.action_close

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


class ActionCenterScreen(Screen[None]):
    """Pending actions and their history, with filters, sorting, marks and a detail pane."""

    FILTER_INPUT = "#center-filter-line"
    """The filter line `/` opens; the app sends it keys typed before it has focus."""

    COMMANDS = {ActionCenterCommands}

    BINDINGS = [
        Binding("escape", "close", "Back", id="center-back", tooltip="Back to the console"),
        Binding("q", "close", "Back", show=False, id="center-back-q", tooltip="Back to the console"),
        Binding("p,1", "show_tab('pending')", "Pending", show=False, id="center-tab-pending", tooltip="Actions waiting for a decision"),
        Binding("h,2", "show_tab('history')", "History", show=False, id="center-tab-history", tooltip="Decided, running and closed actions"),
        Binding("a", "approve", "Approve", id="center-approve", tooltip="Approve the marked actions, or the highlighted one"),
        Binding("r", "reject", "Reject", id="center-reject", tooltip="Reject the marked actions, or the highlighted one, with a reason"),
        Binding("space", "toggle_mark", "Mark", id="center-mark", tooltip="Mark or unmark the highlighted action for a bulk decision"),
        Binding("ctrl+a", "mark_all", "Mark all", show=False, id="center-mark-all", tooltip="Mark every action shown, or unmark them"),
        Binding("u", "undo", "Undo", id="center-undo", tooltip="Undo the highlighted finished action"),
        Binding("R", "retry", "Retry", id="center-retry", tooltip="Run the failed targets of the highlighted action again"),
        Binding("slash", "filter", "Filter", key_display="/", id="center-filter", tooltip="Filter by type, title, mailbox, investigation, analyst or status"),
        Binding("s", "cycle_sort", "Sort", id="center-sort", tooltip="Sort by the next column: created, type, targets, status"),
        Binding("S", "reverse_sort", "Reverse", show=False, id="center-reverse-sort", tooltip="Reverse the sort direction"),
        Binding("T", "cycle_type_filter", "Type", show=False, id="center-type-filter", tooltip="Show one action type at a time"),
        Binding("F", "cycle_status_filter", "Status", show=False, id="center-status-filter", tooltip="Show one status at a time on History"),
    ]

    DEFAULT_CSS = """
    ActionCenterScreen {
        layout: vertical;
    }
    ActionCenterScreen #center-bar {
        height: 1;
        background: $panel;
    }
    ActionCenterScreen #center-title {
        width: 1fr;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ActionCenterScreen #center-tabs {
        height: 1;
    }
    ActionCenterScreen #center-tabs Tab {
        padding: 0 1;
    }
    ActionCenterScreen #center-tabs Tab.-active {
        text-style: bold reverse;
    }
    ActionCenterScreen #center-access {
        height: auto;
        padding: 0 1;
        color: $text-warning;
        display: none;
    }
    ActionCenterScreen #center-access.shown {
        display: block;
    }
    ActionCenterScreen #center-filter-bar {
        height: 1;
        padding: 0 1;
        display: none;
    }
    ActionCenterScreen #center-filter-bar.shown {
        display: block;
    }
    ActionCenterScreen #center-filter-label {
        width: auto;
    }
    ActionCenterScreen #center-filter-line {
        width: 1fr;
    }
    ActionCenterScreen ActionTable {
        height: 1fr;
        min-height: 5;
        border: round $secondary;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        scrollbar-size-horizontal: 0;
        scrollbar-size-vertical: 1;
    }
    ActionCenterScreen ActionTable:focus {
        border: heavy $accent;
        border-title-style: bold;
    }
    ActionCenterScreen #center-detail {
        height: 40%;
        min-height: 6;
        padding: 0 1;
        border: round $secondary;
        border-title-color: $text;
        scrollbar-size-vertical: 1;
    }
    ActionCenterScreen #center-detail:focus {
        border: heavy $accent;
    }
    """

    def __init__(self, service: AirService) -> None:
        """Show the actions `service` reads; the app's own service, used on the UI thread only."""
        super().__init__()
        self.service = service
        self.tab = PENDING
        self.rows: list[ActionRow] = []
        self.filter_text = ""
        self.type_filter: ActionType | None = None
        self.status_filter: ActionStatus | None = None
        self.sort = {PENDING: ("created", False), HISTORY: ("created", True)}
        """Sort column and whether it runs descending, per tab: oldest pending first, newest history first."""
        self.progress = ""
        self._detail_action_id = ""
        """The action the detail pane shows; a different one scrolls the pane back to its top."""

    # Layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="center-bar"):
            yield Static(id="center-title")
            yield PendingCount(id="center-pending")
            yield SyncIndicator(id="center-sync")
        yield Tabs(Tab("p Pending", id=PENDING), Tab("h History", id=HISTORY), id="center-tabs")
        yield Static(id="center-access")
        with Horizontal(id="center-filter-bar"):
            yield Static(Text("Filter ", style="bold"), id="center-filter-label")
            yield ActionFilter(placeholder="type, title, mailbox, investigation, analyst, status · esc clears", id="center-filter-line", compact=True)
        yield ActionTable(id="center-table")
        with VimScroll(id="center-detail"):
            yield Static(id="detail-heading")
            yield Static(id="detail-reversible", classes="reversible-note")
            yield Static(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Tabs).can_focus = False
        self.query_one("#center-detail", VimScroll).border_title = "Details"
        self._show_access()
        self._show_title()
        self._load()
        self.query_one(ActionTable).focus()
        # Waiting and Decided are ages: redraw them while nothing else changes the table.
        self.set_interval(AGE_REFRESH_SECONDS, self._refresh_ages)

    def _refresh_ages(self) -> None:
        if self.app.screen is self:
            self._show_rows()

    def _show_access(self) -> None:
        access = self.service.access
        line = self.query_one("#center-access", Static)
        if access.can_change:
            line.set_class(False, "shown")
            return
        if access.read_only:
            reason = "air-tui runs read-only ([access] read_only): approving, rejecting, undoing and retrying are turned off."
        else:
            reason = (
                f"{access.analyst} has the reader role, which only views: deciding needs the operator or admin role "
                "([access.analysts] in config.toml)."
            )
        line.update(safe(reason))
        line.set_class(True, "shown")

    def _show_title(self) -> None:
        access = self.service.access
        title = Text.assemble(("Action center", "bold"), f" · {plain(access.analyst)} ({access.role})")
        if self.progress:
            title.append(f" · {plain(self.progress)}", style="bold")
        self.query_one("#center-title", Static).update(title)

    def show_progress(self, progress: str) -> None:
        """Show what runs now in the title line; an empty string clears it."""
        self.progress = progress
        if self.is_mounted:
            self._show_title()

    # Data ------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read every action again and redraw, keeping the tab, filters, marks and cursor."""
        # Before mount the table has no columns yet, and on_mount does the first load anyway.
        if self.is_mounted:
            self._load()

    def _load(self) -> None:
        self.rows = self.service.actions()
        table = self.query_one(ActionTable)
        pending_ids = {row.action.id for row in self.rows if row.action.status is ActionStatus.PENDING}
        # A mark on an action that someone decided meanwhile would decide nothing: drop it.
        table.marked &= pending_ids
        tabs = self.query_one(Tabs)
        tabs.query_one(f"#{PENDING}", Tab).label = f"p Pending {len(pending_ids)}"
        tabs.query_one(f"#{HISTORY}", Tab).label = f"h History {len(self.rows) - len(pending_ids)}"
        self._show_rows()

    def _tab_rows(self) -> list[ActionRow]:
        pending = self.tab == PENDING
        return [row for row in self.rows if (row.action.status is ActionStatus.PENDING) == pending]

    def _visible_rows(self) -> list[ActionRow]:
        rows = self._tab_rows()
        if self.type_filter is not None:
            rows = [row for row in rows if row.action.action_type is self.type_filter]
        if self.status_filter is not None and self.tab == HISTORY:
            rows = [row for row in rows if row.action.status is self.status_filter]
        if self.filter_text.strip():
            rows = [row for row in rows if matches(row, self.filter_text)]
        key, descending = self.sort[self.tab]
        return sort_rows(rows, key, descending=descending)

    def _show_rows(self) -> None:
        table = self.query_one(ActionTable)
        rows = self._visible_rows()
        # The border takes two columns and the vertical scrollbar one.
        room = self.app.size.width - 3
        columns = fit_columns(columns_for(self.tab, self.app.size.width), room, table.cell_padding)
        table.show(rows, columns, now=self._now())
        table.border_title = "Pending actions" if self.tab == PENDING else "History"
        table.border_subtitle = self._subtitle(len(rows))
        self._show_detail(table.selected)
        self.refresh_bindings()

    def _subtitle(self, shown: int) -> str:
        total = len(self._tab_rows())
        parts = [f"{shown} of {total}" if shown != total else f"{total}"]
        if self.filter_text.strip():
            parts.append(f"filter “{plain(self.filter_text.strip(), 20)}”")
        if self.type_filter is not None:
            parts.append(f"type {self.type_filter.value}")
        if self.status_filter is not None and self.tab == HISTORY:
            parts.append(f"status {self.status_filter.value}")
        table = self.query_one(ActionTable)
        if table.marked and self.tab == PENDING:
            hidden = len(table.marked - set(table.rows_by_key))
            parts.append(f"{len(table.marked)} marked" + (f" ({hidden} not shown)" if hidden else ""))
        key, descending = self.sort[self.tab]
        parts.append(f"sort {key} {'↓' if descending else '↑'}")
        return " · ".join(parts)

    def _show_detail(self, row: ActionRow | None) -> None:
        shown = row.action.id if row is not None else ""
        if shown != self._detail_action_id:
            # Another action starts at its top, so its type, id and undo note are in view first.
            self.query_one("#center-detail", VimScroll).scroll_home(animate=False)
        self._detail_action_id = shown
        heading = self.query_one("#detail-heading", Static)
        reversible = self.query_one("#detail-reversible", Static)
        body = self.query_one("#detail-body", Static)
        if row is None:
            empty = "No pending actions." if self.tab == PENDING else "No decided actions yet."
            if self._tab_rows():
                empty = "No action matches the filters."
            heading.update(Text(empty, style="dim"))
            reversible.update("")
            body.update("")
            return
        action = row.action
        heading.update(action_heading(row))
        reversible.update(safe(action.action_type.undo_note))
        reversible.set_class(not action.action_type.reversible, "irreversible")
        body.update(
            action_body(
                row,
                self.service.decisions(action.id),
                self.service.action_results(action.id),
                self.service.action_results(action.id, undo=True),
            )
        )

    def _now(self) -> datetime:
        return (getattr(self.app, "clock", None) or system_clock)()

    # Events ----------------------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        if self.rows:
            self._show_rows()

    def on_data_table_row_highlighted(self, event: ActionTable.RowHighlighted) -> None:
        event.stop()
        table = self.query_one(ActionTable)
        self._show_detail(table.record_for(event))
        self.refresh_bindings()

    def on_data_table_row_selected(self, event: ActionTable.RowSelected) -> None:
        event.stop()
        self.query_one("#center-detail", VimScroll).focus()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        tab = event.tab.id or PENDING
        if tab == self.tab:
            return
        self.tab = tab
        self.type_filter = None
        self.status_filter = None
        self._show_rows()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "center-filter-line":
            event.stop()
            self.filter_text = event.value
            self._show_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "center-filter-line":
            event.stop()
            self._leave_filter()

    def on_action_filter_cleared(self, event: ActionFilter.Cleared) -> None:
        event.stop()
        self.filter_text = ""
        self._show_rows()
        self._leave_filter()

    def _leave_filter(self) -> None:
        line = self.query_one(ActionFilter)
        self.query_one("#center-filter-bar").set_class(bool(line.value.strip()), "shown")
        self.query_one(ActionTable).focus()

    # Keys ------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the deciding keys from analysts who may not decide, and keys that do not fit the tab."""
        if action in _DECIDING and not self.service.access.can_change:
            return False
        if action in _PENDING_ONLY and self.tab != PENDING:
            return False
        if action in _HISTORY_ONLY and self.tab != HISTORY:
            return False
        if action == "retry":
            row = self._selected()
            # Shown greyed out: the key exists on History, but this action has nothing to retry.
            return True if row is not None and row.action.status in _RETRYABLE else None
        return True

    def _selected(self) -> ActionRow | None:
        tables = self.query(ActionTable)
        return tables.first().selected if tables else None

    def action_show_tab(self, tab: str) -> None:
        self.query_one(Tabs).active = tab
        self.query_one(ActionTable).focus()

    def action_filter(self) -> None:
        self.query_one("#center-filter-bar").set_class(True, "shown")
        self.query_one(ActionFilter).focus()

    def action_cycle_sort(self) -> None:
        key, descending = self.sort[self.tab]
        self.sort[self.tab] = (SORT_KEYS[(SORT_KEYS.index(key) + 1) % len(SORT_KEYS)], descending)
        self._show_rows()

    def action_reverse_sort(self) -> None:
        key, descending = self.sort[self.tab]
        self.sort[self.tab] = (key, not descending)
        self._show_rows()

    def action_cycle_type_filter(self) -> None:
        present = sorted({row.action.action_type for row in self._tab_rows()}, key=lambda action_type: action_type.value)
        self.type_filter = _next_choice(self.type_filter, present)
        self._show_rows()
        self.notify(f"Type filter: {self.type_filter.value if self.type_filter else 'every type'}.", timeout=3)

    def action_cycle_status_filter(self) -> None:
        present = sorted({row.action.status for row in self._tab_rows()}, key=list(ActionStatus).index)
        self.status_filter = _next_choice(self.status_filter, present)
        self._show_rows()
        self.notify(f"Status filter: {self.status_filter.value if self.status_filter else 'every status'}.", timeout=3)

    def action_toggle_mark(self) -> None:
        table = self.query_one(ActionTable)
        row = table.selected
        if row is None:
            return
        table.toggle_mark(row.action.id)
        table.border_subtitle = self._subtitle(table.row_count)
        # Marking moves on, so space marks a run of rows one after another.
        table.action_cursor_down()

    def action_mark_all(self) -> None:
        table = self.query_one(ActionTable)
        shown_ids = list(table.rows_by_key)
        every_one_marked = bool(shown_ids) and all(action_id in table.marked for action_id in shown_ids)
        table.set_marks(shown_ids, not every_one_marked)
        table.border_subtitle = self._subtitle(table.row_count)

    def action_close(self) -> None:
        self.dismiss(None)

    # Decisions -------------------------------------------------------------------------------

    def _request(self, request: DecisionRequest, progress: str) -> None:
        self.show_progress(progress)
        self.post_message(DecisionRequested(request))

    def _marked_in_order(self) -> list[str]:
        order = {row.action.id: position for position, row in enumerate(self.rows)}
        return sorted(self.query_one(ActionTable).marked, key=lambda action_id: order.get(action_id, len(order)))

    def action_approve(self) -> None:
        if self.query_one(ActionTable).marked:
            self._decide_marked(DecisionKind.APPROVED)
            return
        row = self._selected()
        if row is None:
            self.notify("No pending action to approve.", severity="warning")
            return
        ask_approval(self.app, row, lambda request: self._request(request, f"Approving {request.label}…"))

    def action_reject(self) -> None:
        if self.query_one(ActionTable).marked:
            self._decide_marked(DecisionKind.REJECTED)
            return
        row = self._selected()
        if row is None:
            self.notify("No pending action to reject.", severity="warning")
            return
        ask_rejection(self.app, row, lambda request: self._request(request, f"Rejecting {request.label}…"))

    def _decide_marked(self, kind: DecisionKind) -> None:
        action_ids = self._marked_in_order()
        try:
            preview = self.service.preview(action_ids, kind)
        except ActionError as error:
            self.notify(plain(str(error)), title="Cannot decide the marked actions together", severity="warning", timeout=10)
            return
        count = len(action_ids)
        label = f"{count} {'action' if count == 1 else 'actions'}"

        def confirmed(comment: str | None) -> None:
            if comment is None:
                self.notify("Nothing decided; the actions stay marked.")
                return
            verb = "Approving" if kind is DecisionKind.APPROVED else "Rejecting"
            self._request(DecisionRequest(kind, tuple(action_ids), comment, bulk=True, label=label), f"{verb} {label}…")

        self.app.push_screen(BulkDecision(preview, kind), confirmed)

    def action_undo(self) -> None:
        row = self._selected()
        if row is None:
            self.notify("No action to undo.", severity="warning")
            return
        action = row.action
        if not action.action_type.reversible:
            self.notify(f"{action.action_type.value} cannot be undone. {action.action_type.undo_note}", severity="warning", timeout=8)
            return
        if action.status is ActionStatus.UNDONE or not action.status.is_finished:
            self.notify(f"This action is {action.status.value.lower()}: only an action that ran can be undone.", severity="warning", timeout=8)
            return
        results = self.service.action_results(action.id)

        def confirmed(comment: str | None) -> None:
            if comment is None:
                self.notify("Undo cancelled; nothing changed.")
                return
            request = DecisionRequest(DecisionKind.UNDO, (action.id,), comment, label=action.action_type.value)
            self._request(request, f"Undoing {action.action_type.value}…")

        body = undo_text(action, results)
        self.app.push_screen(ConfirmDecision(f"Undo {action.action_type.value}?", body, verb="undo"), confirmed)

    def action_retry(self) -> None:
        row = self._selected()
        if row is None or row.action.status not in _RETRYABLE:
            self.notify("Only a failed or partially failed action can be retried.", severity="warning")
            return
        action = row.action
        failed = [result for result in self.service.action_results(action.id) if result["result"] == TargetResult.FAILED.value]
        body = Text(f"{len(failed)} failed {'target runs' if len(failed) == 1 else 'targets run'} again:\n", style="bold")
        for result in failed[:_RETRY_TARGETS_SHOWN]:
            body.append_text(result_line(result))
        if len(failed) > _RETRY_TARGETS_SHOWN:
            body.append(f"  … and {len(failed) - _RETRY_TARGETS_SHOWN} more\n", style="dim")
        body.rstrip()

        def confirmed(comment: str | None) -> None:
            if comment is None:
                self.notify("Retry cancelled; nothing changed.")
                return
            request = DecisionRequest(DecisionKind.RETRY, (action.id,), comment, label=action.action_type.value)
            self._request(request, f"Retrying {action.action_type.value}…")

        self.app.push_screen(ConfirmDecision(f"Retry {action.action_type.value}?", body, verb="retry"), confirmed)


def _next_choice(current: ChoiceT | None, choices: list[ChoiceT]) -> ChoiceT | None:
    """Step from `current` to the next of `choices`, and from the last back to None (no filter)."""
    if not choices:
        return None
    if current not in choices:
        return choices[0] if current is None else None
    position = choices.index(current)
    return choices[position + 1] if position + 1 < len(choices) else None
