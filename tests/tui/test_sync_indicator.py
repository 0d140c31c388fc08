"""The team sync indicator in the console's header, and the app's sync worker.

No sync server runs here. The states are driven by posting the worker's message with built
`SyncStatus` values, and one test points the console at a loopback port nothing listens on.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from rich.text import Text

from air_tui.domain.config import Config
from air_tui.service import AirService
from air_tui.sync import Lease, SyncStatus
from air_tui.tenant.workspace import Workspace
from air_tui.tui.app import AirApp, SyncChecked
from air_tui.tui.screens.action_center import ActionCenterScreen
from air_tui.tui.widgets.sync_indicator import SyncIndicator, SyncView
from tests.conftest import FROZEN_START
from tests.tui.conftest import make_app, settle

SIZE = (100, 30)
APP_START = FROZEN_START + timedelta(hours=1)
"""The first reading of the clock `make_app` gives the console: 2026-11-30 10:30 UTC."""
REPLICA = "01REPLICA"


@pytest.fixture
def local_zone() -> Iterator[None]:
    """Run the test at UTC+2 with no daylight saving time, so local clock times are known."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "EET-2"
    time.tzset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = previous
        time.tzset()


@pytest.fixture
def closed_port() -> int:
    """A loopback port that nothing listens on: bound once by the OS, then closed again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sync_config(port: int, interval_seconds: int = 15) -> Config:
    return Config.model_validate({"sync": {"url": f"http://127.0.0.1:{port}", "interval_seconds": interval_seconds}})


def status(**fields: Any) -> SyncStatus:
    """A sync status that has never synced, with `fields` changed."""
    values: dict[str, Any] = {
        "url": "http://127.0.0.1:5984",
        "database": "air-tui",
        "replica_id": REPLICA,
        "waiting": 0,
        "last_success": "",
        "last_error": "",
        "offline_since": "",
        "failures": 0,
        "next_try": "",
        "checkpoint": "0",
    }
    return SyncStatus(**(values | fields))


def view(sync_status: SyncStatus | None, lease: Lease | None = None, failure: str = "") -> SyncView:
    return SyncView(sync_status, lease, REPLICA, APP_START, failure=failure)


def main_indicator(app: AirApp) -> SyncIndicator:
    return app.query_one("#main-sync", SyncIndicator)


def shown(indicator: SyncIndicator) -> str:
    return str(indicator.render())


def status_bar(app: AirApp) -> str:
    return str(app.query_one("#status-bar").render())


def notes(app: AirApp) -> list[tuple[str, str, str]]:
    """Return (title, message, severity) of every notification shown."""
    return [(notification.title, notification.message, notification.severity) for notification in app._notifications]


async def show_view(app: AirApp, pilot: Any, sync_view: SyncView) -> None:
    app.post_message(SyncChecked(sync_view, None, requested=False))
    await pilot.pause()


# Sync off --------------------------------------------------------------------------------------


async def test_indicator_hidden_when_sync_off(investigated_copy: Workspace) -> None:
    app = make_app(investigated_copy, config=Config())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.sync_view is None
        assert main_indicator(app).display is False
        assert status_bar(app).startswith("air-tui · ")
        assert app.check_action("sync_now", ()) is False
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Sync now" not in titles
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ActionCenterScreen)
        assert app.screen.query_one(SyncIndicator).display is False


# States, driven by the worker's message ------------------------------------------------------------

STATES = [
    ("never synced", status(), "never synced"),
    ("synced", status(last_success="2026-11-30T10:29:00+00:00"), "synced"),
    ("one event waiting", status(last_success="2026-11-30T10:29:00+00:00", waiting=1), "1 event waiting"),
    ("events waiting", status(last_success="2026-11-30T10:29:00+00:00", waiting=3), "3 events waiting"),
    ("offline today", status(offline_since="2026-11-30T10:05:00+00:00", last_error="refused", failures=4), "offline since 12:05"),
    # 22:30 UTC on the 29th is 00:30 on the 30th at UTC+2: today, so no date.
    ("offline after local midnight", status(offline_since="2026-11-29T22:30:00+00:00", last_error="refused"), "offline since 00:30"),
    ("offline since yesterday", status(offline_since="2026-11-29T21:50:00+00:00", last_error="refused"), "offline since 2026-11-29 23:50"),
    ("server error", status(last_success="2026-11-30T10:00:00+00:00", last_error="HTTP 500", failures=1), "sync error"),
]


async def test_indicator_text_of_each_state(investigated_copy: Workspace, closed_port: int, local_zone: None) -> None:
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        indicator = main_indicator(app)
        for case, sync_status, expected in STATES:
            await show_view(app, pilot, view(sync_status))
            assert indicator.display is True, case
            assert shown(indicator) == expected, case


async def test_indicator_error_tooltip_is_plain(investigated_copy: Workspace, closed_port: int, local_zone: None) -> None:
    """A server's error text is shown as it came, so brackets in it are not read as Rich markup."""
    error = "HTTP 500 from server: [bold red]boom[/bold red]"
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        indicator = main_indicator(app)
        await show_view(app, pilot, view(status(last_error=error, failures=2, next_try="2026-11-30T10:31:00+00:00")))
        assert shown(indicator) == "sync error"
        tooltip = indicator.tooltip
        assert isinstance(tooltip, Text)
        assert f"Last error: {error}" in tooltip.plain
        assert "Failed attempts in a row: 2, next try at 12:31" in tooltip.plain
        assert "Last sync: never" in tooltip.plain


async def test_indicator_tooltip_names_lease_holder(investigated_copy: Workspace, closed_port: int, local_zone: None) -> None:
    until = APP_START + timedelta(minutes=1)
    other = Lease(holder="01OTHER", host="soc-desk-2", analyst="analyst2", until=until)
    mine = Lease(holder=REPLICA, host="here", analyst="analyst1", until=until)
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        indicator = main_indicator(app)
        await show_view(app, pilot, view(status(last_success="2026-11-30T10:29:00+00:00"), other))
        assert "Automation: analyst2 on soc-desk-2, lease until 12:31" in str(indicator.tooltip)
        await show_view(app, pilot, view(status(last_success="2026-11-30T10:29:00+00:00"), mine))
        assert "Automation: this console, lease until 12:31" in str(indicator.tooltip)


async def test_indicator_shows_worker_failure(investigated_copy: Workspace, closed_port: int) -> None:
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        indicator = main_indicator(app)
        await show_view(app, pilot, view(None, failure="OperationalError: database is locked"))
        assert shown(indicator) == "sync error"
        assert "The sync check failed: OperationalError: database is locked" in str(indicator.tooltip)


async def test_indicator_on_action_center(investigated_copy: Workspace, closed_port: int) -> None:
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await show_view(app, pilot, view(status(last_success="2026-11-30T10:29:00+00:00", waiting=2)))
        await pilot.press("A")
        await settle(pilot)
        assert isinstance(app.screen, ActionCenterScreen)
        indicator = app.screen.query_one(SyncIndicator)
        assert indicator.display is True
        assert shown(indicator) == "2 events waiting"
        await show_view(app, pilot, view(status(last_success="2026-11-30T10:30:00+00:00")))
        assert shown(indicator) == "synced"


async def test_header_fits_80_columns(investigated_copy: Workspace, closed_port: int, local_zone: None) -> None:
    """With the longest indicator text, the main screen's top line still shows the pending count."""
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await show_view(app, pilot, view(status(offline_since="2026-11-29T21:50:00+00:00", last_error="refused")))
        indicator = main_indicator(app)
        assert shown(indicator) == "offline since 2026-11-29 23:50"
        assert indicator.region.right <= 80
        bar = app.query_one("#status-bar")
        assert bar.region.right == indicator.region.x
        assert bar.region.height == 1
        count = f"{app.pending_count} pending action"
        # The bar's content width, less its padding of one column on each side.
        visible = status_bar(app)[: bar.region.width - 2]
        assert count in visible


# The worker against a port nothing listens on -------------------------------------------------------


async def test_worker_records_unreachable_server(investigated_copy: Workspace, closed_port: int, local_zone: None) -> None:
    app = make_app(investigated_copy, config=sync_config(closed_port))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        sync_view = app.sync_view
        assert sync_view is not None
        assert sync_view.status is not None
        assert sync_view.status.state == "offline"
        assert sync_view.status.failures == 1
        assert f"127.0.0.1:{closed_port}" in sync_view.status.last_error
        first_offline = sync_view.status.offline_since
        assert first_offline.startswith("2026-11-30T10:30")
        assert shown(main_indicator(app)) == "offline since 12:30"

        # "Sync now" tries again at once, whatever the backoff, and notifies the outcome.
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.sync_view is not None
        assert app.sync_view.status is not None
        assert app.sync_view.status.failures == 2
        assert app.sync_view.status.offline_since == first_offline
        unreachable = [(text, severity) for title, text, severity in notes(app) if title == "Sync server unreachable"]
        assert len(unreachable) == 1
        text, severity = unreachable[0]
        assert f"127.0.0.1:{closed_port}" in text
        assert text.endswith("The console tries again by itself.")
        assert ".." not in text
        assert severity == "warning"


async def test_sync_now_in_palette_when_on(investigated_copy: Workspace, closed_port: int) -> None:
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Sync now" in titles
        assert app.check_action("sync_now", ()) is True


# Exit ---------------------------------------------------------------------------------------------


async def test_exit_releases_automation_lease(investigated_copy: Workspace, closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    released: list[str] = []
    monkeypatch.setattr(AirService, "release_automation", lambda service: released.append(service.analyst))
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert released == []
    assert released == ["analyst1"]


async def test_exit_survives_failed_release(investigated_copy: Workspace, closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fail(service: AirService) -> None:
        calls.append(service.analyst)
        raise OSError("network is down")

    monkeypatch.setattr(AirService, "release_automation", fail)
    app = make_app(investigated_copy, config=sync_config(closed_port, interval_seconds=3600))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert calls == ["analyst1"]
    assert app.return_code in (None, 0)


async def test_exit_without_sync_releases_nothing(investigated_copy: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    released: list[str] = []
    monkeypatch.setattr(AirService, "release_automation", lambda service: released.append(service.analyst))
    app = make_app(investigated_copy, config=Config())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
    assert released == []
