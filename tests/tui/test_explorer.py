"""The explorer screen over a store indexed from the demo tenant: results, errors, investigations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.app import App

from air_tui.domain.message import EmailMessage
from air_tui.store import Store
from air_tui.store.explorer import count, window
from air_tui.tui.screens.explorer import ConfirmInvestigation, ExplorerResults, ExplorerScreen
from tests.core.test_explorer import build_message_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[EmailMessage]]:
    path = tmp_path_factory.mktemp("explorer-screen") / "air-tui.db"
    store, messages, _ = build_message_store(path)
    store.close()
    return path, messages


@pytest.fixture
def store(store_path: tuple[Path, list[EmailMessage]]) -> Iterator[Store]:
    with Store(store_path[0]) as opened:
        yield opened


class ExplorerApp(App[None]):
    """Opens the explorer on a store and records the investigations it requests."""

    def __init__(self, store: Store, *, cap: int | None = None) -> None:
        super().__init__()
        self.store = store
        self.cap = cap
        self.requested: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        screen = ExplorerScreen(self.store) if self.cap is None else ExplorerScreen(self.store, cap=self.cap)
        self.push_screen(screen)

    def on_explorer_screen_investigation_requested(self, message: ExplorerScreen.InvestigationRequested) -> None:
        self.requested.append((message.message_id, message.target))


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector).render())


async def focus_results(pilot) -> None:
    pilot.app.screen.query_one(ExplorerResults).focus()
    await pilot.pause()


async def run_query(pilot, text: str) -> None:
    await pilot.press("slash")
    query = pilot.app.screen.query_one("#explorer-query")
    query.value = ""
    await pilot.press(*text, "enter")
    await pilot.pause()


async def test_opens_with_newest_mail(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(ExplorerResults)
        total = count(store, "").count
        newest = window(store, "", 0, 2)
        assert table.row_count == total
        assert text_of(app, "#explorer-count") == f"{total:,} messages"
        assert table.selected == newest[0]
        assert newest[0].subject[:20] in table.render_line(1).text
        assert newest[0].subject[:20] in text_of(app, "#explorer-preview")
        # Opened without a query, the explorer waits for one.
        assert app.focused is app.screen.query_one("#explorer-query")


async def test_cursor_moves_preview(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        table = app.screen.query_one(ExplorerResults)
        second = window(store, "", 1, 1)[0]
        await pilot.press("j")
        await pilot.pause()
        assert table.cursor_row == 1
        assert table.selected == second
        preview = text_of(app, "#explorer-preview")
        assert second.mailbox in preview
        assert second.folder in preview
        await pilot.press("G")
        await pilot.pause()
        assert table.cursor_row == table.row_count - 1


async def test_query_filters_results(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await run_query(pilot, 'folder:"junk email" verdict:none')
        table = app.screen.query_one(ExplorerResults)
        expected = count(store, 'folder:"junk email" verdict:none').count
        assert 0 < table.row_count == expected
        assert text_of(app, "#explorer-count") == f"{expected:,} {'message' if expected == 1 else 'messages'}"
        assert all(row.folder == "Junk Email" for row in table.cached_records())
        assert app.focused is table


async def test_bad_term_shown_under_query(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        table = app.screen.query_one(ExplorerResults)
        before = table.row_count
        await run_query(pilot, "invoice after:2026-13-01")
        line = text_of(app, "#explorer-message")
        assert line.startswith("Invalid query. after:2026-13-01:")
        assert "YYYY-MM-DD" in line
        assert app.screen.query_one("#explorer-message").has_class("error")
        assert table.row_count == before
        await run_query(pilot, "frm:someone@example.com")
        assert "Did you mean from:?" in text_of(app, "#explorer-message")
        await run_query(pilot, "invoice")
        assert not app.screen.query_one("#explorer-message").has_class("error")


async def test_no_results_says_so(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await run_query(pilot, "from:nobody@nowhere.example")
        assert text_of(app, "#explorer-count") == "0 messages"
        assert "No message matches" in text_of(app, "#explorer-preview")
        await pilot.press("escape")
        await pilot.pause()


async def test_investigate_email_after_confirmation(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await pilot.press("j", "i")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmInvestigation)
        second = window(store, "", 1, 1)[0]
        assert second.mailbox in str(app.screen.query_one("#investigate-target").render())
        await pilot.press("y")
        await pilot.pause()
        assert app.requested == [(second.id, "email")]
        assert isinstance(app.screen, ExplorerScreen)


async def test_investigate_recipient_and_sender(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        first = window(store, "", 0, 1)[0]
        await pilot.press("R")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmInvestigation)
        assert f"mailbox {first.mailbox}" in str(app.screen.query_one("#investigate-target").render())
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("S")
        await pilot.pause()
        assert f"sender {first.sender}" in str(app.screen.query_one("#investigate-target").render())
        await pilot.press("enter")
        await pilot.pause()
        assert app.requested == [(first.id, "recipient"), (first.id, "sender")]


async def test_escape_cancels_confirmation(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await pilot.press("S")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        assert app.requested == []


async def test_investigate_needs_a_result(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await run_query(pilot, "from:nobody@nowhere.example")
        app.screen.query_one(ExplorerResults).focus()
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        assert app.requested == []


async def test_escape_leaves_screen(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ExplorerScreen)


async def test_count_grows_at_last_row(store: Store) -> None:
    app = ExplorerApp(store, cap=5)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        table = app.screen.query_one(ExplorerResults)
        assert text_of(app, "#explorer-count").startswith("5+ messages")
        assert table.row_count == 5
        await pilot.press("G")
        await pilot.pause()
        assert text_of(app, "#explorer-count").startswith("50+ messages")
        assert table.row_count == 50
        assert table.cursor_row == 4
        assert table.selected == window(store, "", 4, 1)[0]


async def test_small_terminal_drops_columns(store: Store) -> None:
    app = ExplorerApp(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        header = app.screen.query_one(ExplorerResults).render_line(0).text.split()
        assert header == ["Received", "Verdict", "Sender", "Subject"]


async def test_enter_opens_the_message(store: Store) -> None:
    from air_tui.tui.modals import MessageDetail

    app = ExplorerApp(store)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await focus_results(pilot)
        chosen = app.screen.query_one(ExplorerResults).selected
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MessageDetail)
        assert app.screen.message.id == chosen.id
