"""Investigations ask the online services about URLs the local lists do not name, when turned on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from air_tui.domain.config import Config, IntelConfig, OnlineLookups
from air_tui.domain.vocab import EntityKind
from air_tui.intel.online import OnlineLookup
from air_tui.store.intel import LookupCacheTable
from air_tui.tenant.workspace import Workspace
from tests.conftest import make_service

RECORDED = Path(__file__).parent / "recorded"


def test_investigation_cites_an_online_listing(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    listed = json.loads((RECORDED / "urlhaus_url_ok.json").read_text())
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        url = request.content.decode()
        asked.append(url)
        # Every URL is "listed", so any URL entity the playbook checked must cite the look-up.
        return httpx.Response(200, json=listed)

    config = Config(intel=IntelConfig(online=OnlineLookups(urlhaus=True, requests_per_minute=10_000)))
    with make_service(workspace) as service:
        service.config = config
        service._online = OnlineLookup(
            config.intel.online,
            LookupCacheTable(service.store),
            transport=httpx.MockTransport(answer),
            clock=service.clock,
            environ={"AIR_TUI_URLHAUS_KEY": "test-key"},
        )
        service.investigate()
        entities = [entity for investigation in service.investigations() for entity in service.investigation_detail(investigation.id).entities]
    assert asked, "no URL was sent to the online service"
    online = [item for entity in entities if entity.kind is EntityKind.URL for item in entity.evidence if "(online look-up)" in item.text]
    assert online
    assert all(item.rule == "url.listed" for item in online)


def test_investigation_sends_nothing_when_off(workspace: Workspace) -> None:
    with make_service(workspace) as service:
        assert service.playbook_context().online is None
