"""The action center's table: columns that fit the terminal, a mark column, filtering and sorting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text

from air_tui.domain.vocab import ActionStatus
from air_tui.store.queries import ActionRow
from air_tui.tui.action_text import DASH, investigation_name, parse_time, short_age, status_cell, targets_text, utc_time
from air_tui.tui.text import safe
from air_tui.tui.widgets.keyed_table import KeyedTable

PENDING = "pending"
HISTORY = "history"

SORT_KEYS = ("created", "type", "targets", "status")
"""Sort columns in the order the sort key cycles through them."""

WIDE = 110
"""Terminal width from which the table adds the action's title and full decision times."""
VERY_WIDE = 150
"""Terminal width from which History adds the investigation too."""

MARK = "✓"

_STATUS_ORDER = {status: position for position, status in enumerate(ActionStatus)}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None
    """Cells wide; None takes the room the other columns leave."""


def columns_for(tab: str, width: int) -> list[Column]:
    """Choose the columns of a tab for a terminal `width` columns wide, narrow layout first."""
    wide = width >= WIDE
    type_width = 19 if wide else 17
    by_width = 12 if wide else 10
    if tab == PENDING:
        columns = [Column("mark", "", 1), Column("type", "Type", type_width), Column("targets", "Targets", 16 if wide else 14)]
        if wide:
            columns += [Column("title", "Title", None), Column("investigation", "Investigation", 22)]
        else:
            columns.append(Column("investigation", "Investigation", None))
        return columns + [Column("by", "Proposer", by_width), Column("age", "Waiting", 7)]
    columns = [Column("type", "Type", type_width)]
    if wide:
        columns += [Column("targets", "Targets", 16), Column("title", "Title", None)]
        if width >= VERY_WIDE:
            columns.append(Column("investigation", "Investigation", 22))
    else:
        columns.append(Column("targets", "Targets", None))
    return columns + [
        Column("status", "Status", 16),
        Column("by", "Decided by", by_width),
        Column("decided", "Decided (UTC)" if wide else "Decided", 16 if wide else 7),
    ]


def fit_columns(columns: list[Column], room: int, padding: int) -> list[Column]:
    """Give the flexible column whatever `room` the fixed ones and their padding leave, at least 8 cells."""
    fixed = sum(column.width or 0 for column in columns) + 2 * padding * len(columns)
    flexible = max(room - fixed, 8)
    return [Column(column.key, column.label, column.width if column.width is not None else flexible) for column in columns]


# Filtering and sorting ------------------------------------------------------------------------


def search_text(row: ActionRow) -> str:
    """Join every field the filter matches: type, status, title, mailboxes, investigation, incident, analysts, ids."""
    action = row.action
    words = [
        action.id,
        action.action_type.value,
        action.status.value,
        action.title,
        action.scope,
        action.source.value,
        action.proposed_by,
        action.investigation_id,
        action.incident_id,
        row.investigation_title,
        row.decided_by,
        row.comment,
        *action.mailboxes,
    ]
    if action.block is not None:
        words.append(action.block.value)
    return "\n".join(words).casefold()


def matches(row: ActionRow, query: str) -> bool:
    """Return whether every word of `query` occurs in the row's fields, ignoring case."""
    text = search_text(row)
    return all(word in text for word in query.casefold().split())


def sort_rows(rows: Iterable[ActionRow], key: str, *, descending: bool) -> list[ActionRow]:
    def value(row: ActionRow) -> tuple[object, ...]:
        action = row.action
        if key == "type":
            return (action.action_type.value, action.created, action.id)
        if key == "targets":
            return (action.target_count, action.title.casefold(), action.id)
        if key == "status":
            return (_STATUS_ORDER[action.status], action.created, action.id)
        return (action.created, action.id)

    return sorted(rows, key=value, reverse=descending)


# Cells ----------------------------------------------------------------------------------------


def row_cells(row: ActionRow, columns: Sequence[Column], *, now: datetime, marked: bool) -> list[Text]:
    action = row.action
    decided = parse_time(row.decided_at)
    cells: list[Text] = []
    for column in columns:
        limit = column.width
        if column.key == "mark":
            cells.append(Text(MARK if marked else " ", style="bold"))
        elif column.key == "type":
            cells.append(safe(action.action_type.value, limit=limit))
        elif column.key == "targets":
            cells.append(safe(targets_text(action), limit=limit))
        elif column.key == "title":
            cells.append(safe(action.title, limit=limit))
        elif column.key == "investigation":
            cells.append(safe(investigation_name(row), limit=limit))
        elif column.key == "by":
            analyst = action.proposed_by if action.status is ActionStatus.PENDING else row.decided_by
            cells.append(safe(analyst or DASH, limit=limit))
        elif column.key == "age":
            cells.append(Text(short_age((now - action.created).total_seconds())))
        elif column.key == "status":
            cells.append(status_cell(action.status))
        elif column.key == "decided":
            if decided is None:
                cells.append(Text(DASH))
            elif limit is not None and limit >= 16:
                cells.append(Text(utc_time(decided, seconds=False)))
            else:
                cells.append(Text(short_age((now - decided).total_seconds())))
    return cells


class ActionTable(KeyedTable[ActionRow]):
    """Actions of one tab, with a mark column on Pending. The screen chooses rows and order."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.marked: set[str] = set()
        """Ids of marked actions; they stay marked while a filter hides them."""
        self.shown_columns: list[Column] = []

    def show(self, rows: Sequence[ActionRow], columns: list[Column], *, now: datetime) -> None:
        """Show `rows` in order under `columns`, keeping the cursor on the same action."""
        selected = self.selected_key
        if columns != self.shown_columns:
            self.clear(columns=True)
            for column in columns:
                self.add_column(column.label, key=column.key, width=column.width)
            self.shown_columns = columns
        self.replace_rows((row.action.id, row, row_cells(row, columns, now=now, marked=row.action.id in self.marked)) for row in rows)
        if selected in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(selected))

    def toggle_mark(self, action_id: str) -> None:
        if action_id in self.marked:
            self.marked.discard(action_id)
        else:
            self.marked.add(action_id)
        self._show_mark(action_id)

    def set_marks(self, action_ids: Iterable[str], marked: bool) -> None:
        for action_id in action_ids:
            if marked:
                self.marked.add(action_id)
            else:
                self.marked.discard(action_id)
            self._show_mark(action_id)

    def _show_mark(self, action_id: str) -> None:
        if action_id in self.rows_by_key and any(column.key == "mark" for column in self.shown_columns):
            self.update_cell(action_id, "mark", Text(MARK if action_id in self.marked else " ", style="bold"))
