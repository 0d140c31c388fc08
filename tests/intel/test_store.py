"""The intel tables in a real SQLite file: replacing a feed, failures, and databases made before the tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from air_tui.store import Store
from air_tui.store import intel as intel_store

FEED = {"name": "openphish", "origin": "download", "location": "http://127.0.0.1/openphish.txt", "format": "openphish", "sha256": "a" * 64}


def row(indicator: str, added: str = "") -> dict[str, str]:
    return {"kind": "url", "indicator": indicator, "threat": "Phish", "source": "OpenPhish", "added": added}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "intel.db") as opened:
        yield opened


def test_replace_feed_swaps_rows(store: Store) -> None:
    intel_store.replace_feed(store, FEED, [row("http://a.example/1"), row("http://a.example/2")], fetched="2026-11-30T09:30:00+00:00")
    count = intel_store.replace_feed(store, FEED, [row("http://a.example/2"), row("http://a.example/3"), row("http://a.example/3")], fetched="2026-12-01T09:30:00+00:00")

    rows = {item["indicator"]: item for item in intel_store.indicator_rows(store, ["openphish"])}
    assert count == 2
    assert set(rows) == {"http://a.example/2", "http://a.example/3"}
    assert rows["http://a.example/2"]["added"] == "2026-11-30"
    assert rows["http://a.example/3"]["added"] == "2026-12-01"
    assert rows["http://a.example/3"]["fetched"] == "2026-12-01T09:30:00+00:00"
    feed = intel_store.feed_row(store, "openphish")
    assert feed is not None
    assert (feed["count"], feed["last_success"], feed["sha256"]) == (2, "2026-12-01T09:30:00+00:00", "a" * 64)


def test_replace_feed_rolls_back_on_error(store: Store) -> None:
    intel_store.replace_feed(store, FEED, [row("http://a.example/1")], fetched="2026-11-30T09:30:00+00:00")
    broken = [row("http://a.example/2"), {"kind": "url"}]
    with pytest.raises(KeyError):
        intel_store.replace_feed(store, FEED, broken, fetched="2026-12-01T09:30:00+00:00")

    assert [item["indicator"] for item in intel_store.indicator_rows(store, ["openphish"])] == ["http://a.example/1"]
    feed = intel_store.feed_row(store, "openphish")
    assert feed is not None
    assert feed["last_success"] == "2026-11-30T09:30:00+00:00"


def test_failure_keeps_rows_and_success(store: Store) -> None:
    intel_store.replace_feed(store, FEED, [row("http://a.example/1")], fetched="2026-11-30T09:30:00+00:00")
    intel_store.record_feed_failure(store, FEED, attempted="2026-12-01T09:30:00+00:00", error="the server answered HTTP 500")

    feed = intel_store.feed_row(store, "openphish")
    assert feed is not None
    assert (feed["count"], feed["last_success"], feed["last_attempt"]) == (1, "2026-11-30T09:30:00+00:00", "2026-12-01T09:30:00+00:00")
    assert feed["last_error"] == "the server answered HTTP 500"
    assert len(intel_store.indicator_rows(store, ["openphish"])) == 1


def test_tables_added_to_older_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:
        for table in intel_store.INTEL_TABLES:
            store.db.execute(f"DROP TABLE {table}")
    with Store(path) as store:
        assert intel_store.feed_rows(store) == []
        assert set(intel_store.INTEL_TABLES) <= set(store.db.table_names())


def test_skipped_columns_added_to_older_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with Store(path) as store:
        intel_store.ensure_tables(store)
        for column in ("skipped", "skipped_examples"):
            store.db.execute(f"ALTER TABLE intel_feeds DROP COLUMN {column}")
    with Store(path) as store:
        intel_store.replace_feed(store, {**FEED, "skipped": 3, "skipped_examples": "[]"}, [row("http://a.example/1")], fetched="2026-11-30T09:30:00+00:00")
        feed = intel_store.feed_row(store, "openphish")
    assert feed is not None
    assert (feed["skipped"], feed["skipped_examples"]) == (3, "[]")


def test_failure_keeps_skipped_count(store: Store) -> None:
    intel_store.replace_feed(store, {**FEED, "skipped": 2, "skipped_examples": '[{"line": 4, "value": "x", "reason": "r"}]'}, [row("http://a.example/1")], fetched="2026-11-30T09:30:00+00:00")
    intel_store.record_feed_failure(store, FEED, attempted="2026-12-01T09:30:00+00:00", error="the server answered HTTP 500")

    feed = intel_store.feed_row(store, "openphish")
    assert feed is not None
    assert feed["skipped"] == 2
