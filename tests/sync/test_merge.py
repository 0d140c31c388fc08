"""Merging events from other consoles: the same tables whatever order and batches they arrive in."""

from __future__ import annotations

import random
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import Config
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, ActionType
from air_tui.service import AirService
from air_tui.store import Store, ledger
from air_tui.tenant.workspace import Workspace
from tests.sync.conftest import START
from tests.sync.test_sync import tables


@pytest.fixture(scope="module")
def source(investigated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An investigated store with decisions, an undo and a block entry: many kinds of events."""
    root = tmp_path_factory.mktemp("merge-source")
    shutil.copytree(investigated_template, root, dirs_exist_ok=True)
    workspace = Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db")
    with AirService(workspace, analyst="ana", clock=FrozenClock(START, step=timedelta(milliseconds=1)), new_id=SequentialIds("01SRC0"), config=Config()) as service:
        pending = [row.action for row in service.actions(ActionStatus.PENDING)]
        soft = next(action for action in pending if action.action_type is ActionType.SOFT_DELETE)
        service.approve(soft.id, comment="phish")
        service.undo(soft.id, comment="wrong mailbox")
        rejected = next(action for action in pending if action.id != soft.id)
        service.reject(rejected.id, reason="benign")
        block = service.propose(ActionType.BLOCK_SENDER, value="payroll@hr-portal-update.example")
        service.approve(block.id)
    return root / "db" / "air-tui.db"


def remote_events(database: Path) -> list[ledger.RemoteEvent]:
    with Store(database) as store:
        return [
            ledger.RemoteEvent(event=ledger._event_from_row(row), clock=int(row["clock"]), origin="01SOURCEREPLICA")
            for row in store.db.query("SELECT * FROM events ORDER BY seq")
        ]


def expected_tables(database: Path, tmp_path: Path) -> dict:
    copy = tmp_path / "expected.db"
    shutil.copy(database, copy)
    with Store(copy) as store:
        return tables(_Wrapped(store))


class _Wrapped:
    """What `tables` reads from a service: its store."""

    def __init__(self, store: Store) -> None:
        self.store = store


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_any_order_of_arrival_gives_the_tables_of_the_clock_order(source: Path, tmp_path: Path, seed: int | None) -> None:
    events = remote_events(source)
    assert len(events) > 300
    batches = [events[start : start + 37] for start in range(0, len(events), 37)]
    if seed is None:
        batches.reverse()
    else:
        random.Random(seed).shuffle(batches)
    rebuilt = False
    with Store(tmp_path / "merged.db") as store:
        for batch in batches:
            result = ledger.merge(store, batch)
            rebuilt = rebuilt or result.rebuilt
        # Replayed batches change nothing: the ids are there already.
        assert ledger.merge(store, events[:100]).appended == 0
        merged = tables(_Wrapped(store))
        assert ledger.verify_chain(store) == []
        assert ledger.verify_projections(store) == []
    assert rebuilt, "late batches touching applied records must replay the projections"
    assert merged == expected_tables(source, tmp_path)


def test_late_events_on_other_records_apply_without_a_replay(tmp_path: Path) -> None:
    def block(entry_id: str, value: str, clock: int) -> ledger.RemoteEvent:
        payload = {"entry": {"id": entry_id, "kind": "sender", "value": value, "expires": "", "action_id": "", "added_by": "ana", "added_at": START.isoformat()}}
        event = Event(id=f"01EVENT{clock:019d}", type=EventType.BLOCK_ENTRY_ADDED, actor="ana", time=START, payload=payload)
        return ledger.RemoteEvent(event=event, clock=clock, origin="01OTHER")

    with Store(tmp_path / "store.db") as store:
        assert not ledger.merge(store, [block("entry-b", "b@bad.example", 5)]).rebuilt
        late = ledger.merge(store, [block("entry-a", "a@bad.example", 2)])
        assert late.appended == 1
        assert not late.rebuilt
        # A late removal of an entry added later in clock order touches that entry: replay.
        removal = Event(id="01EVENT0000000000000000001", type=EventType.BLOCK_ENTRY_REMOVED, actor="ben", time=START, payload={"entry_id": "entry-b"})
        assert ledger.merge(store, [ledger.RemoteEvent(event=removal, clock=1, origin="01OTHER")]).rebuilt
        assert ledger.verify_projections(store) == []
        order = [row[0] for row in store.db.execute("SELECT id FROM events ORDER BY clock, id")]
    assert order == ["01EVENT0000000000000000001", "01EVENT0000000000000000002", "01EVENT0000000000000000005"]


def test_local_events_sort_after_every_event_received(tmp_path: Path) -> None:
    far_ahead = Event(id="01REMOTE", type=EventType.MESSAGES_INGESTED, actor="system", time=START, payload={"total": 0})
    local = Event(id="01LOCAL", type=EventType.MESSAGES_INGESTED, actor="system", time=START, payload={"total": 1})
    with Store(tmp_path / "store.db") as store:
        ledger.merge(store, [ledger.RemoteEvent(event=far_ahead, clock=9000, origin="01OTHER")])
        ledger.append(store, [local])
        clocks = dict(store.db.execute("SELECT id, clock FROM events").fetchall())
        origins = dict(store.db.execute("SELECT id, origin FROM events").fetchall())
    assert clocks == {"01REMOTE": 9000, "01LOCAL": 9001}
    assert origins == {"01REMOTE": "01OTHER", "01LOCAL": ""}
