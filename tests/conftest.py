"""Fixtures shared by every test: an isolated data directory and copies of the demo tenant."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace

REPOSITORY = Path(__file__).resolve().parents[1]
DEMO_TENANT = REPOSITORY / "fixtures" / "demo-tenant"
CORPUS = REPOSITORY / "fixtures" / "corpus"
FROZEN_START = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every test away from the host's data directory and demo copy."""
    data = tmp_path / "data"
    monkeypatch.setenv("AIR_TUI_DATA_DIR", str(data))
    monkeypatch.setenv("AIR_TUI_DEMO_TENANT", str(DEMO_TENANT))
    monkeypatch.delenv("AIR_TUI_CONFIG", raising=False)
    return data


@pytest.fixture
def tenant_copy(tmp_path: Path) -> Path:
    """A private copy of the demo tenant that tests may change."""
    target = tmp_path / "tenant"
    shutil.copytree(DEMO_TENANT, target, ignore=shutil.ignore_patterns(".keep"))
    return target


@pytest.fixture
def workspace(tenant_copy: Path, tmp_path: Path) -> Workspace:
    return Workspace(tenant_dir=tenant_copy, database=tmp_path / "db" / "air-tui.db")


def make_service(workspace: Workspace, analyst: str = "analyst1", *, id_prefix: str = "01TEST") -> AirService:
    """Open a service with a frozen clock and sequential ids.

    Two services that write to one database need different `id_prefix` values, because each
    starts its counter at 1.
    """
    return AirService(
        workspace,
        analyst=analyst,
        clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix=id_prefix),
    )


@pytest.fixture
def service(workspace: Workspace) -> Iterator[AirService]:
    with make_service(workspace) as opened:
        yield opened


@pytest.fixture
def investigated(service: AirService) -> AirService:
    """A service whose tenant has been ingested and fully investigated."""
    service.investigate()
    return service
