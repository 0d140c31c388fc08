"""Fixtures for the team sync tests: a pouchdb-server per test, and consoles that sync through it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import Config
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, FROZEN_START
from tests.sync.couchserver import CouchServer, find_pouchdb_server

DATABASE = "soc"
START = FROZEN_START + timedelta(minutes=10)


@pytest.fixture(scope="session")
def investigated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tenant investigated once by a console on its own; tests copy it."""
    root = tmp_path_factory.mktemp("sync-template")
    shutil.copytree(DEMO_TENANT, root / "tenant", ignore=shutil.ignore_patterns(".keep"))
    workspace = Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db")
    clock = FrozenClock(FROZEN_START, step=timedelta(milliseconds=1))
    with AirService(workspace, analyst="ana", clock=clock, new_id=SequentialIds("01ANA0"), config=Config()) as service:
        service.investigate()
    return root


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CouchServer]:
    couch = CouchServer(tmp_path / "couch", binary=find_pouchdb_server()).start()
    try:
        yield couch
    finally:
        couch.stop()


@pytest.fixture
def disk_server(tmp_path: Path) -> Iterator[CouchServer]:
    """A server that keeps its data on disk, so it survives a kill as CouchDB does."""
    couch = CouchServer(tmp_path / "couch-disk", binary=find_pouchdb_server(), in_memory=False).start()
    try:
        yield couch
    finally:
        couch.stop()


def team_config(url: str, **sync: object) -> Config:
    return Config.model_validate({"sync": {"url": url, "database": DATABASE} | sync})


class Desk:
    """One analyst's console: its own tenant copy and SQLite file, syncing through the server."""

    def __init__(self, root: Path, analyst: str, prefix: str, url: str, *, template: Path | None, investigated: bool, **sync: object) -> None:
        self.analyst = analyst
        self.prefix = prefix
        self.url = url
        self.sync_options = sync
        self.workspace = Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db")
        assert template is not None
        shutil.copytree(template / "tenant", root / "tenant")
        if investigated:
            shutil.copytree(template / "db", root / "db")
        self.clock = FrozenClock(START, step=timedelta(milliseconds=1))
        self.ids = SequentialIds(prefix)

    def open(self, **options: object) -> AirService:
        """A service on this desk; ids and clock carry on from the previous one."""
        config = team_config(self.url, **self.sync_options)
        return AirService(self.workspace, analyst=self.analyst, clock=self.clock, new_id=self.ids, config=config, **options)


@pytest.fixture
def desks(tmp_path: Path, server: CouchServer, investigated_template: Path):
    """Make desks on the per-test server: `desks("ana", investigated=True)`."""

    def make(analyst: str, *, investigated: bool = False, couch: CouchServer | None = None, **sync: object) -> Desk:
        prefix = f"01{analyst.upper()[:3]:X<3}1"
        return Desk(tmp_path / analyst, analyst, prefix, (couch or server).url, template=investigated_template, investigated=investigated, **sync)

    return make
