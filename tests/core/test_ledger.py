"""The ledger: hash chain, idempotent appends, projections in the same transaction."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from air_tui.domain.event import Event, EventType
from air_tui.store import SCHEMA_VERSION, Store, StoreError, ledger

WHEN = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def alert_event(event_id: str, alert_id: str) -> Event:
    alert = {
        "id": alert_id,
        "policy_id": "user-reported-phish",
        "title": "Email reported by user as malware or phish",
        "severity": "Low",
        "created": WHEN.isoformat(),
        "occurred": WHEN.isoformat(),
        "subject": f"subject {alert_id}",
    }
    return Event(id=event_id, type=EventType.ALERT_RAISED, actor="system", time=WHEN, payload={"alert": alert})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "store.db")
    yield opened
    opened.close()


def test_database_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    Store(path).close()
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o600


def test_database_uses_wal_and_schema_version(store: Store) -> None:
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.schema_version == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with Store(path) as store:
        store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this"):
        Store(path)


def test_append_updates_projection(store: Store) -> None:
    ledger.append(store, [alert_event("e1", "a1")])
    rows = list(store.db.query("SELECT id, subject FROM alerts"))
    assert rows == [{"id": "a1", "subject": "subject a1"}]


def test_replayed_event_is_skipped(store: Store) -> None:
    first = ledger.append(store, [alert_event("e1", "a1")])
    second = ledger.append(store, [alert_event("e1", "a1"), alert_event("e2", "a2")])
    assert [event.id for event in first] == ["e1"]
    assert [event.id for event in second] == ["e2"]
    assert store.db["events"].count == 2


def test_chain_verifies_when_untouched(store: Store) -> None:
    ledger.append(store, [alert_event(f"e{n}", f"a{n}") for n in range(5)])
    assert ledger.verify_chain(store) == []


def test_chain_names_edited_event(store: Store) -> None:
    ledger.append(store, [alert_event(f"e{n}", f"a{n}") for n in range(5)])
    store.db.execute("UPDATE events SET actor = 'mallory' WHERE id = 'e2'")
    problems = ledger.verify_chain(store)
    assert [problem.event_id for problem in problems] == ["e2"]
    assert "edited" in problems[0].problem


def test_chain_names_event_after_removed_one(store: Store) -> None:
    ledger.append(store, [alert_event(f"e{n}", f"a{n}") for n in range(5)])
    store.db.execute("DELETE FROM events WHERE id = 'e2'")
    problems = ledger.verify_chain(store)
    assert [problem.event_id for problem in problems] == ["e3"]
    assert "removed" in problems[0].problem


def test_failed_append_leaves_neither(store: Store) -> None:
    broken = Event(id="bad", type=EventType.ALERT_RAISED, actor="system", time=WHEN, payload={"alert": {"id": "x"}})
    with pytest.raises(KeyError):
        ledger.append(store, [alert_event("e1", "a1"), broken])
    assert store.db["events"].count == 0
    assert store.db["alerts"].count == 0


def test_rebuild_projections_matches(store: Store) -> None:
    ledger.append(store, [alert_event(f"e{n}", f"a{n}") for n in range(3)])
    before = list(store.db.query("SELECT * FROM alerts ORDER BY id"))
    store.db.execute("DELETE FROM alerts")
    replayed = ledger.rebuild_projections(store)
    assert replayed == 3
    assert list(store.db.query("SELECT * FROM alerts ORDER BY id")) == before


def test_reused_id_with_other_content_raises(store: Store) -> None:
    ledger.append(store, [alert_event("e1", "a1")])
    with pytest.raises(StoreError, match="already in the ledger"):
        ledger.append(store, [alert_event("e1", "a2")])
    assert store.db["events"].count == 1
