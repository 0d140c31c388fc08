"""Console fixtures: a tenant investigated ahead of time, and an app with a frozen clock and fixed ids."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from air_tui.domain.config import Config
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace
from air_tui.tui.app import AirApp
from tests.conftest import DEMO_TENANT, FROZEN_START, make_service


@pytest.fixture
def investigated_workspace(workspace: Workspace) -> Workspace:
    with make_service(workspace) as service:
        service.investigate()
    return workspace


@pytest.fixture(scope="module")
def investigated_template(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The demo tenant investigated once per test module, to be copied by `investigated_copy`.

    Tests never open it themselves. It gets the same ids and clock as `investigated_workspace`,
    and the default configuration passed in, so no configuration file of the host is read.
    """
    root = tmp_path_factory.mktemp("investigated")
    workspace = Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db")
    shutil.copytree(DEMO_TENANT, workspace.tenant_dir, ignore=shutil.ignore_patterns(".keep"))
    with AirService(
        workspace,
        analyst="analyst1",
        clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix="01TEST"),
        config=Config(),
    ) as service:
        service.investigate()
    return workspace


@pytest.fixture
def investigated_copy(investigated_template: Workspace, tmp_path: Path) -> Workspace:
    """A private copy of the module's investigated tenant and database, which the test may change."""
    workspace = Workspace(tenant_dir=tmp_path / "tenant", database=tmp_path / "db" / "air-tui.db")
    shutil.copytree(investigated_template.tenant_dir, workspace.tenant_dir)
    workspace.database.parent.mkdir(parents=True)
    # The database file and, when SQLite left them, its write-ahead log and shared memory files.
    for suffix in ("", "-wal", "-shm"):
        source = investigated_template.database.with_name(investigated_template.database.name + suffix)
        if source.exists():
            shutil.copy2(source, workspace.database.with_name(workspace.database.name + suffix))
    return workspace


def make_app(workspace: Workspace, **options: Any) -> AirApp:
    """Open the console with a frozen clock, fixed ids and no blinking; `options` override any argument."""
    # The app's ids take another prefix, so they never collide with those of the run above.
    arguments: dict[str, Any] = {
        "workspace": workspace,
        "analyst": "analyst1",
        "clock": FrozenClock(FROZEN_START + timedelta(hours=1), step=timedelta(milliseconds=1)),
        "new_id": SequentialIds(prefix="01APP"),
        "reduce_motion": True,
        "bell_on_pending": False,
    }
    return AirApp(**(arguments | options))


async def settle(pilot: Pilot) -> None:
    """Wait until background workers are done and the screen has caught up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
