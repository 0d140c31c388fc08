"""The alert queue in windows: same order as the full queue, filters, positions and plans."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from air_tui.service import AirService
from air_tui.store import Store, queries
from air_tui.store.explorer import count as explore_count
from air_tui.store.windows import (
    ListAlertSource,
    StoreAlertSource,
    alert_count,
    alert_matches,
    alert_position,
    alert_window,
    fold_text,
    queue_plan,
)
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, make_service

FILTERS = ["", "no threats", "PENDING", "low", "medium", "user reported", "nov", "30 nov", "zzz-no-alert", "larkspur.example"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirService]:
    """One investigated copy of the demo tenant for the module; its alerts are only read."""
    base = tmp_path_factory.mktemp("windows")
    tenant = base / "tenant"
    shutil.copytree(DEMO_TENANT, tenant, ignore=shutil.ignore_patterns(".keep"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIR_TUI_DATA_DIR", str(base / "data"))
        patch.setenv("AIR_TUI_DEMO_TENANT", str(DEMO_TENANT))
        patch.delenv("AIR_TUI_CONFIG", raising=False)
        with make_service(Workspace(tenant_dir=tenant, database=base / "db" / "air-tui.db")) as opened:
            opened.investigate()
            yield opened


@pytest.fixture
def store_copy(service: AirService, tmp_path: Path) -> Iterator[Store]:
    """A private copy of the module's store, for tests that change alerts."""
    target = tmp_path / "copy.db"
    service.store.db.execute("VACUUM INTO ?", [str(target)])
    with Store(target) as store:
        yield store


def queue_ids(rows: list[queries.AlertRow]) -> list[str]:
    return [row.alert.id for row in rows]


def test_window_order_matches_alert_queue(service: AirService) -> None:
    whole = queries.alert_queue(service.store)
    assert len(whole) > 5
    windowed = alert_window(service.store, 0, len(whole) + 10)
    assert queue_ids(windowed) == queue_ids(whole)
    assert [row.investigation_status for row in windowed] == [row.investigation_status for row in whole]
    assert [row.investigation_id for row in windowed] == [row.investigation_id for row in whole]


def test_windows_concatenate_to_queue(service: AirService) -> None:
    whole = queries.alert_queue(service.store)
    pieces: list[queries.AlertRow] = []
    for offset in range(0, len(whole), 4):
        pieces.extend(alert_window(service.store, offset, 4))
    assert queue_ids(pieces) == queue_ids(whole)


def test_window_bounds(service: AirService) -> None:
    assert alert_window(service.store, 0, 0) == []
    assert alert_window(service.store, -3, 5) == []
    assert alert_window(service.store, 10_000, 5) == []


def test_count_without_filter(service: AirService) -> None:
    assert alert_count(service.store) == len(queries.alert_queue(service.store))


@pytest.mark.parametrize("filter_text", FILTERS)
def test_sql_filter_matches_python_filter(service: AirService, filter_text: str) -> None:
    whole = queries.alert_queue(service.store)
    expected_ids = [row.alert.id for row in whole if alert_matches(row, filter_text)]
    assert queue_ids(alert_window(service.store, 0, 1000, filter_text)) == expected_ids
    assert alert_count(service.store, filter_text) == len(expected_ids)


@pytest.mark.parametrize("filter_text", ["pending", "low", "nov"])
def test_scan_plan_gives_same_rows(service: AirService, filter_text: str) -> None:
    total = alert_count(service.store, filter_text)
    walked = alert_window(service.store, 1, 1000, filter_text)
    scanned = alert_window(service.store, 1, 1000, filter_text, total=total)
    assert queue_ids(scanned) == queue_ids(walked)
    assert "idx_alerts_queue_order" not in window_steps(queue_plan(service.store, filter_text, scan=True))


def test_filter_finds_something(service: AirService) -> None:
    assert 0 < alert_count(service.store, "pending") < alert_count(service.store)


def test_position_of_every_alert(service: AirService) -> None:
    whole = queries.alert_queue(service.store)
    for index, row in enumerate(whole):
        assert alert_position(service.store, row.alert.id) == index


@pytest.mark.parametrize("filter_text", ["pending", "low", "nov"])
def test_position_within_filter(service: AirService, filter_text: str) -> None:
    matching = [row for row in queries.alert_queue(service.store) if alert_matches(row, filter_text)]
    for index, row in enumerate(matching):
        assert alert_position(service.store, row.alert.id, filter_text) == index


def test_position_none_when_gone_or_filtered(service: AirService) -> None:
    whole = queries.alert_queue(service.store)
    hidden = next(row for row in whole if not alert_matches(row, "pending"))
    assert alert_position(service.store, "no-such-alert") is None
    assert alert_position(service.store, hidden.alert.id, "pending") is None


def test_filter_folds_accents_and_case(store_copy: Store) -> None:
    first = queue_ids(alert_window(store_copy, 0, 1))[0]
    store_copy.db.execute("UPDATE alerts SET subject = ? WHERE id = ?", ["Prazo final na Zqxândega", first])
    for filter_text in ("zqxandega", "ZQXÂNDEGA", "Zqxândega prazo"):
        assert queue_ids(alert_window(store_copy, 0, 100, filter_text)) == [first]
        assert alert_count(store_copy, filter_text) == 1


def test_filter_wildcards_are_literal(store_copy: Store) -> None:
    first = queue_ids(alert_window(store_copy, 0, 1))[0]
    store_copy.db.execute("UPDATE alerts SET subject = ? WHERE id = ?", ["Offer 100%_off", first])
    rows = queries.alert_queue(store_copy)
    for filter_text in ("%", "_", "100%_", "[bold]"):
        expected_ids = [row.alert.id for row in rows if alert_matches(row, filter_text)]
        assert queue_ids(alert_window(store_copy, 0, 100, filter_text)) == expected_ids
    assert alert_count(store_copy, "100%_") == 1


def test_fold_text() -> None:
    assert fold_text("Alfândega ÉTÉ Straße") == "alfandega ete strasse"


def window_steps(plan: list[str]) -> str:
    """Return the steps that find a window's rows, before the page of rows is read and sorted."""
    return " | ".join(plan[: plan.index("SCAN page")])


@pytest.mark.parametrize("filter_text", ["", "pending"])
def test_queue_order_read_from_index(service: AirService, filter_text: str) -> None:
    steps = window_steps(queue_plan(service.store, filter_text))
    assert "idx_alerts_queue_order" in steps
    assert "TEMP B-TREE" not in steps


@pytest.mark.parametrize("filter_text", ["", "pending", "zzz"])
def test_list_source_agrees_with_store(service: AirService, filter_text: str) -> None:
    from_store = StoreAlertSource(service.store)
    from_list = ListAlertSource(queries.alert_queue(service.store))
    assert from_list.alert_count(filter_text) == from_store.alert_count(filter_text)
    assert queue_ids(from_list.alert_window(1, 3, filter_text)) == queue_ids(from_store.alert_window(1, 3, filter_text))
    for row in from_store.alert_window(0, 100, filter_text):
        assert from_list.alert_position(row.alert.id, filter_text) == from_store.alert_position(row.alert.id, filter_text)


def test_service_passes_windows_through(service: AirService) -> None:
    assert service.alert_count("pending") == alert_count(service.store, "pending")
    assert queue_ids(service.alert_window(0, 3)) == queue_ids(alert_window(service.store, 0, 3))
    first = service.alert_window(2, 1)[0]
    assert service.alert_position(first.alert.id) == 2
    assert service.explore_count("folder:inbox", cap=5).capped
    assert service.explore_count("folder:inbox") == explore_count(service.store, "folder:inbox")
    assert len(service.explore_window("folder:inbox", 0, 7)) == 7
