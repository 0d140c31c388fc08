"""A row-cursor table of records keyed by id, which keeps its cursor on the same record across refreshes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from rich.text import Text

from air_tui.tui.widgets.vim import VimDataTable

RowT = TypeVar("RowT")


class KeyedTable(VimDataTable, Generic[RowT]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.rows_by_key: dict[str, RowT] = {}

    def replace_rows(self, rows: Iterable[tuple[str, RowT, Sequence[Text]]]) -> None:
        """Show (key, record, cells) rows in order, keeping the cursor on the same key when it is still there."""
        selected = self.selected_key
        self.clear()
        self.rows_by_key = {}
        for key, record, cells in rows:
            self.rows_by_key[key] = record
            self.add_row(*cells, key=key)
        if selected in self.rows_by_key:
            self.move_cursor(row=self.get_row_index(selected))

    @property
    def selected_key(self) -> str:
        if not self.rows_by_key or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return ""
        return str(self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value)

    @property
    def selected(self) -> RowT | None:
        return self.rows_by_key.get(self.selected_key)

    def record_for(self, event: VimDataTable.RowHighlighted | VimDataTable.RowSelected) -> RowT | None:
        return self.rows_by_key.get(str(event.row_key.value))
