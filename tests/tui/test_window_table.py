"""The window table: rows read in pages from a source, cursor keys, messages and reloads."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import App, ComposeResult

from air_tui.tui.widgets.window_table import CURSOR_MARKER, Column, ListSource, WindowTable

ROWS = 10_000


class CountingSource(ListSource[tuple[int, str]]):
    """A list source that records every window asked for."""

    def __init__(self, records: Sequence[tuple[int, str]]) -> None:
        super().__init__(records, key=lambda record: str(record[0]))
        self.requests: list[tuple[int, int]] = []

    def rows(self, offset: int, limit: int) -> Sequence[tuple[int, str]]:
        self.requests.append((offset, limit))
        return super().rows(offset, limit)


def numbered(count: int) -> list[tuple[int, str]]:
    return [(number, f"subject {number}") for number in range(count)]


class TableApp(App[None]):
    def __init__(self, source: CountingSource) -> None:
        super().__init__()
        self.source = source
        self.highlighted: list[int] = []
        self.selected: list[tuple[int, str]] = []

    def compose(self) -> ComposeResult:
        yield WindowTable(
            [Column("Number", 8), Column("Subject")],
            source=self.source,
            cells=lambda record: (Text(str(record[0])), record[1]),
            page_size=50,
        )

    def on_mount(self) -> None:
        table = self.query_one(WindowTable)
        table.reload()
        table.focus()

    def on_window_table_row_highlighted(self, message: WindowTable.RowHighlighted) -> None:
        self.highlighted.append(message.index)

    def on_window_table_row_selected(self, message: WindowTable.RowSelected) -> None:
        self.selected.append(message.record)


def screen_lines(table: WindowTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.size.height)]


async def test_shows_header_and_first_rows() -> None:
    app = TableApp(CountingSource(numbered(ROWS)))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        lines = screen_lines(table)
        assert lines[0].split() == ["Number", "Subject"]
        assert lines[1].startswith(CURSOR_MARKER + "0 ")
        assert "subject 0" in lines[1]
        assert lines[2].startswith("  1 ")
        assert table.row_count == ROWS


async def test_holds_only_a_few_pages() -> None:
    source = CountingSource(numbered(ROWS))
    app = TableApp(source)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        for key in ("pagedown", "G", "pageup", "g", "pagedown", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
            assert table.cached_row_count <= table.max_pages * 50
        assert all(limit == 50 for _, limit in source.requests)
        assert len(source.requests) < 20


async def test_cursor_keys_move() -> None:
    app = TableApp(CountingSource(numbered(ROWS)))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        body = table.size.height - 1
        await pilot.press("j", "down", "down")
        assert table.cursor_row == 3
        await pilot.press("k", "up")
        assert table.cursor_row == 1
        await pilot.press("pagedown")
        assert table.cursor_row == 1 + body
        await pilot.press("pageup")
        assert table.cursor_row == 1
        await pilot.press("G")
        assert table.cursor_row == ROWS - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("end")
        assert table.cursor_row == ROWS - 1
        await pilot.press("home")
        assert table.cursor_row == 0
        await pilot.press("k")
        assert table.cursor_row == 0


async def test_last_row_drawn_after_end() -> None:
    app = TableApp(CountingSource(numbered(ROWS)))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        await pilot.press("G")
        await pilot.pause()
        table = app.query_one(WindowTable)
        lines = screen_lines(table)
        assert lines[-1].startswith(CURSOR_MARKER + f"{ROWS - 1} ")
        assert f"subject {ROWS - 2}" in lines[-2]


async def test_highlight_and_select_messages() -> None:
    app = TableApp(CountingSource(numbered(ROWS)))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        await pilot.press("j", "j", "enter")
        await pilot.pause()
        assert app.highlighted == [0, 1, 2]
        assert app.selected == [(2, "subject 2")]
        await pilot.press("k", "k", "k")
        await pilot.pause()
        assert app.highlighted == [0, 1, 2, 1, 0]


async def test_click_moves_then_selects() -> None:
    app = TableApp(CountingSource(numbered(ROWS)))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        await pilot.click(WindowTable, offset=(5, 3))
        await pilot.pause()
        assert table.cursor_row == 2
        await pilot.click(WindowTable, offset=(5, 3))
        await pilot.pause()
        assert app.selected == [(2, "subject 2")]


async def test_reload_keeps_cursor_on_record() -> None:
    source = CountingSource(numbered(ROWS))
    app = TableApp(source)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        await pilot.press(*"jjjjj")
        assert table.selected == (5, "subject 5")
        source.records[0:0] = [(-1, "new first"), (-2, "new second")]
        table.reload()
        await pilot.pause()
        assert table.row_count == ROWS + 2
        assert table.cursor_row == 7
        assert table.selected == (5, "subject 5")
        assert app.highlighted[-1] == 7


async def test_reload_when_record_gone_keeps_position() -> None:
    source = CountingSource(numbered(20))
    app = TableApp(source)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        await pilot.press("G")
        del source.records[15:]
        table.reload()
        await pilot.pause()
        assert table.cursor_row == 14
        assert table.selected == (14, "subject 14")


async def test_empty_source() -> None:
    app = TableApp(CountingSource([]))
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        await pilot.press("j", "G", "enter")
        assert table.selected is None
        assert app.highlighted == []
        assert app.selected == []
        lines = screen_lines(table)
        assert len(lines) == 1
        assert lines[0].split() == ["Number", "Subject"]


async def test_hostile_text_shown_literally() -> None:
    hostile = "[bold red]URGENT[/] \x1b[2J\u202egnp.exe"
    app = TableApp(CountingSource([(0, hostile)]))
    async with app.run_test(size=(80, 6)) as pilot:
        await pilot.pause()
        table = app.query_one(WindowTable)
        line = screen_lines(table)[1]
        assert "[bold red]URGENT[/]" in line
        assert "\x1b" not in line
        assert "\u202e" not in line
        assert "⟨U+001B⟩[2J" in line
        assert "⟨RLO⟩" in line
        assert table.get_row_at(0)[1].plain.startswith("[bold red]URGENT[/]")


async def test_long_cells_cut_with_ellipsis() -> None:
    app = TableApp(CountingSource([(123_456_789_012, "x" * 500)]))
    async with app.run_test(size=(40, 6)) as pilot:
        await pilot.pause()
        line = screen_lines(app.query_one(WindowTable))[1]
        assert len(line) == 40
        assert "1234567…" in line
        assert line.rstrip().endswith("…")
