"""Console fixtures: a tenant investigated ahead of time, and an app with a frozen clock and fixed ids."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.pilot import Pilot

from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.tenant.workspace import Workspace
from air_tui.tui.app import AirApp
from tests.conftest import FROZEN_START, make_service


@pytest.fixture
def investigated_workspace(workspace: Workspace) -> Workspace:
    with make_service(workspace) as service:
        service.investigate()
    return workspace


def make_app(workspace: Workspace) -> AirApp:
    # The app's ids take another prefix, so they never collide with those of the run above.
    return AirApp(
        workspace=workspace,
        analyst="analyst1",
        clock=FrozenClock(FROZEN_START + timedelta(hours=1), step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix="01APP"),
        reduce_motion=True,
        bell_on_pending=False,
    )


async def settle(pilot: Pilot) -> None:
    """Wait until background workers are done and the screen has caught up."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()
