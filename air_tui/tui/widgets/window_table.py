"""A table that shows rows from a row source one window at a time, for lists of any length.

`WindowTable` keeps a few pages of rows in memory, never the whole list. When it paints, it
requests from its source the pages on screen plus a margin and keeps at most `max_pages` of them.
It renders each line itself through the Line API, so painting reads only the rows near the
screen, whatever the length of the list. The cursor row has a `▶` marker as well as the cursor
colour, so it reads the same in monochrome.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, Protocol, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from air_tui.tui.text import safe

RecordT = TypeVar("RecordT")
RecordT_co = TypeVar("RecordT_co", covariant=True)

CURSOR_MARKER = "▶ "
"""Drawn before the cursor row, so the cursor shows without colour."""
_NO_MARKER = "  "
_CELL_GAP = 1
_MIN_FLEXIBLE_WIDTH = 4


class RowSource(Protocol[RecordT]):
    """Source of a `WindowTable`'s rows. Positions start at 0."""

    def count(self) -> int:
        """Return how many rows there are now."""
        ...

    def rows(self, offset: int, limit: int) -> Sequence[RecordT]:
        """Return up to `limit` rows from position `offset`, in display order."""
        ...

    def key(self, record: RecordT) -> str:
        """Return a key that stays the same for the same record across reloads."""
        ...

    def position(self, key: str) -> int | None:
        """Return the position of the record with this key, or None when it is gone or unknown."""
        ...


@dataclass(frozen=True)
class Column:
    label: str
    width: int | None = None
    """Cells in the column; None makes the column flexible, sharing the width the others leave."""
    key: str = ""


class ListSource(Generic[RecordT]):
    """A row source over records already in memory, for short lists and tests."""

    def __init__(self, records: Sequence[RecordT], key: Callable[[RecordT], str]) -> None:
        self.records = list(records)
        self._key = key

    def count(self) -> int:
        return len(self.records)

    def rows(self, offset: int, limit: int) -> Sequence[RecordT]:
        return self.records[offset : offset + limit]

    def key(self, record: RecordT) -> str:
        return self._key(record)

    def position(self, key: str) -> int | None:
        return next((index for index, record in enumerate(self.records) if self._key(record) == key), None)


class WindowTable(ScrollView, Generic[RecordT], can_focus=True):
    """A row-cursor table over a `RowSource`, holding only the pages near the screen.

    Subclasses give the cells of a record by overriding `render_cells`, or pass `cells=` to
    the constructor. Plain strings in cells pass through `safe()`, so text from mail never
    reaches the terminal as markup or control characters.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"window-table--header", "window-table--cursor"}

    DEFAULT_CSS = """
    WindowTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        overflow-x: hidden;
        overflow-y: auto;
        &:focus {
            background-tint: $foreground 5%;
            & > .window-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .window-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .window-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .window-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    BINDINGS = [
        Binding("up,k", "cursor_up", "Up", show=False, id="table-cursor-up", tooltip="Move up one row"),
        Binding("down,j", "cursor_down", "Down", show=False, id="table-cursor-down", tooltip="Move down one row"),
        Binding("pageup", "page_up", "Page up", show=False, id="table-page-up", tooltip="Move up one screen of rows"),
        Binding("pagedown", "page_down", "Page down", show=False, id="table-page-down", tooltip="Move down one screen of rows"),
        Binding("home,g", "cursor_first", "Top", show=False, id="table-cursor-first", tooltip="Go to the first row"),
        Binding("end,G", "cursor_last", "Bottom", show=False, id="table-cursor-last", tooltip="Go to the last row"),
        Binding("enter", "select_cursor", "Open", show=False, id="table-select", tooltip="Open the highlighted row"),
    ]

    class RowHighlighted(Message):
        """The cursor moved to a row, or a reload put another record under it."""

        def __init__(self, table: WindowTable, index: int, record: object) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.record = record

        @property
        def control(self) -> WindowTable:
            return self.table

    class RowSelected(Message):
        """The analyst pressed enter on a row, or clicked the highlighted row."""

        def __init__(self, table: WindowTable, index: int, record: object) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.record = record

        @property
        def control(self) -> WindowTable:
            return self.table

    def __init__(
        self,
        columns: Sequence[Column] = (),
        *,
        source: RowSource[RecordT] | None = None,
        cells: Callable[[RecordT], Sequence[Text | str]] | None = None,
        page_size: int = 100,
        max_pages: int = 4,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.columns: list[Column] = list(columns)
        self.source = source
        self._cells = cells
        self.page_size = max(page_size, 1)
        self.max_pages = max(max_pages, 2)
        self._pages: OrderedDict[int, Sequence[RecordT]] = OrderedDict()
        self._total = 0
        self._cursor = 0
        self._cursor_key = ""
        self._held_page_rows = 0
        self._lines: OrderedDict[tuple[int, bool, int], Strip] = OrderedDict()
        self.fetches = 0
        """Calls made to the source's `rows`, for tests and benchmarks."""

    # Data ---------------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in the source at the last reload."""
        return self._total

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cached_row_count(self) -> int:
        """Rows held in memory now: at most `max_pages` pages."""
        return sum(len(page) for page in self._pages.values())

    def cached_records(self) -> list[RecordT]:
        """Return the records in the pages held now, in display order."""
        return [record for _, page in sorted(self._pages.items()) for record in page]

    @property
    def selected(self) -> RecordT | None:
        """The record under the cursor, or None when the table is empty."""
        return self.record_at(self._cursor)

    @property
    def selected_key(self) -> str:
        record = self.selected
        return self.source.key(record) if record is not None and self.source is not None else ""

    def record_at(self, index: int) -> RecordT | None:
        """Return the record at a position, reading its page from the source when it is not held."""
        if self.source is None or not 0 <= index < self._total:
            return None
        page_number, slot = divmod(index, self._page_rows())
        page = self._page(page_number)
        return page[slot] if slot < len(page) else None

    def get_row_at(self, index: int) -> list[Text]:
        """Return the cells of the row at a position, as they are drawn."""
        record = self.record_at(index)
        if record is None:
            raise IndexError(f"Row {index} is out of range: the table has {self._total} rows.")
        return [self._cell_text(cell) for cell in self.render_cells(record)]

    def render_cells(self, record: RecordT) -> Sequence[Text | str]:
        """Return one cell per column for a record. Override, or pass `cells=` to the constructor."""
        if self._cells is None:
            raise NotImplementedError("Give WindowTable a cells function or override render_cells.")
        return self._cells(record)

    def set_source(self, source: RowSource[RecordT]) -> None:
        """Read rows from another source, starting at its first row."""
        self.source = source
        self._cursor = 0
        self._cursor_key = ""
        self.reload()

    def set_columns(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._lines.clear()
        self.refresh()

    def reload(self) -> None:
        """Count the rows again and drop every held page, keeping the cursor on the same record.

        When the record under the cursor is gone, the cursor stays at the same position, or
        on the last row when the list got shorter. A `RowHighlighted` message follows
        whenever a record is under the cursor, as after every cursor move.
        """
        self._pages.clear()
        self._lines.clear()
        if self.source is None:
            self._total = 0
            self._update_virtual_size()
            self.refresh()
            return
        self._total = max(self.source.count(), 0)
        position = self._find(self._cursor_key) if self._cursor_key else None
        self._cursor = self._clamp(self._cursor if position is None else position)
        self._update_virtual_size()
        self._scroll_to_cursor()
        self.refresh()
        self._highlight()

    def _find(self, key: str) -> int | None:
        assert self.source is not None
        position = self.source.position(key)
        if position is not None:
            return position
        # The source does not know the position, but the record may still be where it was.
        record = self.record_at(self._clamp(self._cursor))
        if record is not None and self.source.key(record) == key:
            return self._cursor
        return None

    def _page_rows(self) -> int:
        # A page is at least a screenful, so the rows on screen span at most two pages. Held
        # pages are numbered for one page size, so a new size drops them.
        size = max(self.page_size, self._body_height())
        if size != self._held_page_rows:
            self._pages.clear()
            self._held_page_rows = size
        return size

    def _page(self, page_number: int) -> Sequence[RecordT]:
        page = self._pages.get(page_number)
        if page is not None:
            self._pages.move_to_end(page_number)
            return page
        assert self.source is not None
        size = self._held_page_rows
        page = list(self.source.rows(page_number * size, size))
        self.fetches += 1
        self._pages[page_number] = page
        while len(self._pages) > self.max_pages:
            self._pages.popitem(last=False)
        return page

    def _prefetch(self, first: int, last: int) -> None:
        """Hold the pages with rows `first` to `last`, and those a screenful either side."""
        if self.source is None or self._total == 0:
            return
        size = self._page_rows()
        margin = self._body_height()
        last = min(last, self._total - 1)
        on_screen = range(max(first, 0) // size, last // size + 1)
        nearby = range(max(first - margin, 0) // size, min(last + margin, self._total - 1) // size + 1)
        for number in nearby:
            if number not in on_screen and number not in self._pages:
                self._page(number)
        # The pages on screen are touched last, so eviction drops a margin page first.
        for number in on_screen:
            self._page(number)

    # Cursor -------------------------------------------------------------------------------------

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Move the cursor to a row, clamped to the table, and post `RowHighlighted`."""
        target = self._clamp(row)
        if target == self._cursor and self._cursor_key:
            return
        previous = self._cursor
        self._cursor = target
        if scroll:
            self._scroll_to_cursor()
        self._refresh_row(previous)
        self._refresh_row(target)
        self._highlight()

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        height = max(self._body_height(), 1)
        self.scroll_to(y=max(self.scroll_offset.y - height, 0), animate=False, immediate=True)
        self.move_cursor(self._cursor - height)

    def action_page_down(self) -> None:
        height = max(self._body_height(), 1)
        self.scroll_to(y=self.scroll_offset.y + height, animate=False, immediate=True)
        self.move_cursor(self._cursor + height)

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(self._total - 1)

    def action_select_cursor(self) -> None:
        record = self.selected
        if record is not None:
            self.post_message(self.RowSelected(self, self._cursor, record))

    def _clamp(self, row: int) -> int:
        return min(max(row, 0), max(self._total - 1, 0))

    def _highlight(self) -> None:
        record = self.selected
        if record is None or self.source is None:
            self._cursor_key = ""
            return
        self._cursor_key = self.source.key(record)
        self.post_message(self.RowHighlighted(self, self._cursor, record))

    def _body_height(self) -> int:
        """Rows that fit under the header."""
        return max(self.scrollable_content_region.height - 1, 0)

    def _scroll_to_cursor(self) -> None:
        height = self._body_height()
        if height <= 0:
            return
        top = int(self.scroll_offset.y)
        if self._cursor < top:
            top = self._cursor
        elif self._cursor >= top + height:
            top = self._cursor - height + 1
        else:
            return
        self.scroll_to(y=top, animate=False, immediate=True)

    def _refresh_row(self, index: int) -> None:
        line = index - int(self.scroll_offset.y) + 1
        if 1 <= line < self.size.height:
            self.refresh(Region(0, line, self.size.width, 1))

    def _update_virtual_size(self) -> None:
        # One line more than the rows, for the header.
        self.virtual_size = Size(self.scrollable_content_region.width, self._total + 1)

    # Mouse --------------------------------------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        row = int(self.scroll_offset.y) + offset.y - 1
        if not 0 <= row < self._total:
            return
        event.stop()
        if row == self._cursor:
            self.action_select_cursor()
        else:
            self.move_cursor(row, scroll=False)

    # Rendering ----------------------------------------------------------------------------------

    def on_resize(self) -> None:
        self._lines.clear()
        self._update_virtual_size()

    def on_focus(self) -> None:
        self._lines.clear()
        self.refresh()

    def on_blur(self) -> None:
        self._lines.clear()
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        top = int(self.scroll_offset.y)
        self._prefetch(top, top + self._body_height() - 1)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base_style = self.rich_style
        if y == 0:
            return self._header_strip(width)
        index = int(self.scroll_offset.y) + y - 1
        if index >= self._total:
            return Strip.blank(width, base_style)
        cursor = index == self._cursor
        cache_key = (index, cursor, width)
        strip = self._lines.get(cache_key)
        if strip is not None:
            return strip
        record = self.record_at(index)
        if record is None:
            return Strip.blank(width, base_style)
        marker = CURSOR_MARKER if cursor else _NO_MARKER
        line = self._line(marker, [self._cell_text(cell) for cell in self.render_cells(record)])
        strip = self._strip(line, width, base_style, self.get_component_rich_style("window-table--cursor") if cursor else None)
        self._lines[cache_key] = strip
        if len(self._lines) > 4 * max(self.size.height, 1):
            self._lines.popitem(last=False)
        return strip

    def _header_strip(self, width: int) -> Strip:
        header_style = self.get_component_rich_style("window-table--header")
        line = self._line(_NO_MARKER, [Text(column.label) for column in self.columns])
        return self._strip(line, width, self.rich_style + header_style, None)

    def _strip(self, line: Text, width: int, base_style: Style, over: Style | None) -> Strip:
        segments = list(line.render(self.app.console))
        if over is not None:
            segments = list(Segment.apply_style(segments, post_style=over))
        return Strip(Segment.apply_style(segments, style=base_style)).adjust_cell_length(width, base_style + (over or Style())).simplify()

    def _line(self, marker: str, cells: Sequence[Text]) -> Text:
        line = Text(marker, no_wrap=True, end="")
        for column_width, cell in zip(self._column_widths(), cells, strict=False):
            piece = cell.copy()
            piece.no_wrap = True
            piece.truncate(column_width, overflow="ellipsis", pad=True)
            line.append_text(piece)
            line.append(" " * _CELL_GAP)
        return line

    def _column_widths(self) -> list[int]:
        available = self.scrollable_content_region.width - len(_NO_MARKER) - _CELL_GAP * len(self.columns)
        fixed = sum(column.width for column in self.columns if column.width is not None)
        flexible = [column for column in self.columns if column.width is None]
        share = max((available - fixed) // len(flexible), _MIN_FLEXIBLE_WIDTH) if flexible else 0
        return [column.width if column.width is not None else share for column in self.columns]

    @staticmethod
    def _cell_text(cell: Text | str) -> Text:
        return cell if isinstance(cell, Text) else safe(cell)
