"""The append-only ledger: events hash-chained in order, projections updated in the same transaction."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from air_tui.domain.coordination import BeforeCommit
from air_tui.domain.event import Event
from air_tui.store.database import Store, StoreError
from air_tui.store.projections import apply_event
from air_tui.store.schema import PROJECTION_TABLES, create_schema, table_columns

GENESIS_HASH = "0" * 64


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, event_row: dict[str, str]) -> str:
    """Hash one stored event together with the hash before it, so edits break the chain."""
    body = canonical_json(
        {key: event_row[key] for key in ("id", "type", "actor", "time", "payload")}
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(store: Store, events: Iterable[Event], *, before_commit: BeforeCommit | None = None) -> list[Event]:
    """Append events and apply them to the projections, all in one transaction.

    Returns the events that were new; an event whose id is already in the ledger is skipped,
    so replaying the same events is harmless. Each new event gets the next clock, above every
    event this console holds, so it sorts after everything it could have seen.
    `before_commit` sees the new events with their clocks last and may refuse them by raising,
    which rolls everything back.
    """
    appended: list[Event] = []
    clocks: list[int] = []
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        prev_hash = _last_hash(store)
        clock = max_clock(store)
        for event in events:
            row = _row(event)
            if _already_stored(store, row):
                continue
            clock += 1
            prev_hash = _insert(store, row, prev_hash, clock, "")
            apply_event(store.db, event)
            appended.append(event)
            clocks.append(clock)
        _advance_head(store, prev_hash, len(appended))
        if before_commit is not None and appended:
            before_commit(list(zip(appended, clocks)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return appended


@dataclass(frozen=True)
class RemoteEvent:
    """An event another console created, with the clock and replica id it was created with."""

    event: Event
    clock: int
    origin: str


@dataclass(frozen=True)
class MergeResult:
    appended: int
    rebuilt: bool
    """The events landed before ones already applied and touched the same records, so every
    projection was replayed in clock order."""


def merge(store: Store, remote: Iterable[RemoteEvent], *, within: Callable[[], None] | None = None) -> MergeResult:
    """Add events from other consoles to the ledger and bring the projections to the state that
    applying every event in (clock, id) order gives, whatever order they arrived in.

    Events already in the ledger are skipped. New events that all sort after the last applied
    one are applied in order. Those that sort earlier are applied directly when no later event
    touches the same alerts, investigations, actions, messages or entries. Otherwise every
    projection is replayed in clock order. `within` runs inside the same transaction, so a sync
    checkpoint moves only together with the events it covers.
    """
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        prev_hash = _last_hash(store)
        frontier = _frontier(store)
        fresh: dict[str, tuple[RemoteEvent, dict[str, str]]] = {}
        for item in remote:
            row = _row(item.event)
            if item.event.id in fresh or _already_stored(store, row):
                continue
            fresh[item.event.id] = (item, row)
        ordered = sorted((pair[0] for pair in fresh.values()), key=lambda item: (item.clock, item.event.id))
        for item in ordered:
            prev_hash = _insert(store, fresh[item.event.id][1], prev_hash, item.clock, item.origin)
        rebuilt = False
        if ordered:
            first = (ordered[0].clock, ordered[0].event.id)
            if frontier is not None and first < frontier and _overlaps(store, first, fresh, ordered):
                _replay_all(store)
                rebuilt = True
            else:
                for item in ordered:
                    apply_event(store.db, item.event)
        _advance_head(store, prev_hash, len(ordered))
        if within is not None:
            within()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return MergeResult(appended=len(ordered), rebuilt=rebuilt)


def max_clock(store: Store) -> int:
    row = store.db.execute("SELECT MAX(clock) FROM events").fetchone()
    return int(row[0] or 0)


def _frontier(store: Store) -> tuple[int, str] | None:
    row = store.db.execute("SELECT clock, id FROM events ORDER BY clock DESC, id DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def _overlaps(store: Store, first: tuple[int, str], fresh: dict[str, object], ordered: list[RemoteEvent]) -> bool:
    """Return whether an event applied already, but sorting after `first`, touches a record the new events touch."""
    touched: set[str] = set()
    for item in ordered:
        touched |= touched_records(item.event.payload)
    later = store.db.execute(
        "SELECT id, payload FROM events WHERE clock > ? OR (clock = ? AND id > ?)", [first[0], first[0], first[1]]
    )
    for event_id, payload in later:
        if event_id in fresh:
            continue
        if touched & touched_records(json.loads(payload)):
            return True
    return False


def touched_records(payload: object) -> set[str]:
    """Return the ids of the records an event's projection writes: every `id`, `*_id` and `*_ids` value in its payload.

    Projections find their rows by these ids (an alert, investigation, action, message, block
    entry or incident), so two events with no id in common change different rows and give the
    same tables in either order.
    """
    found: set[str] = set()
    stack = [payload]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and (key == "id" or key.endswith("_id")) and isinstance(item, str) and item:
                    found.add(item)
                elif isinstance(key, str) and key.endswith("_ids") and isinstance(item, list):
                    found.update(entry for entry in item if isinstance(entry, str))
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(item for item in value if isinstance(item, (dict, list)))
    return found


def _row(event: Event) -> dict[str, str]:
    return {
        "id": event.id,
        "type": event.type.value,
        "actor": event.actor,
        "time": event.time.isoformat(),
        "payload": canonical_json(event.payload),
    }


def _insert(store: Store, row: dict[str, str], prev_hash: str, clock: int, origin: str) -> str:
    """Insert one event at the end of the local chain and return its hash."""
    chained = {**row, "prev_hash": prev_hash, "clock": clock, "origin": origin}
    chained["hash"] = event_hash(prev_hash, chained)
    store.db.conn.execute(
        "INSERT INTO events (id, type, actor, time, payload, prev_hash, hash, clock, origin) "
        "VALUES (:id, :type, :actor, :time, :payload, :prev_hash, :hash, :clock, :origin)",
        chained,
    )
    return chained["hash"]


def _advance_head(store: Store, last_hash: str, count: int) -> None:
    if count:
        store.db.conn.execute(
            "INSERT INTO ledger_head (id, seq, hash, count) VALUES (1, (SELECT MAX(seq) FROM events), ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, count = ledger_head.count + excluded.count",
            [last_hash, count],
        )


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    event_id: str
    problem: str


def verify_chain(store: Store) -> list[ChainProblem]:
    """Walk the ledger and name every event that was edited, removed, added or moved.

    Each event's hash covers its content and the hash before it, so an edit breaks its own hash
    and a removal, insertion or swap breaks the next event's link. Sequence numbers only grow, so
    a gap shows where an event was taken out. The head row, written with every append, shows a
    removed tail, which no link can.
    """
    problems: list[ChainProblem] = []
    prev_hash = GENESIS_HASH
    prev_seq = 0
    count = 0
    last: dict[str, object] | None = None
    for row in store.db.query("SELECT * FROM events ORDER BY seq"):
        count += 1
        gap = row["seq"] != prev_seq + 1
        if gap:
            missing = f"event {prev_seq + 1}" if row["seq"] == prev_seq + 2 else f"events {prev_seq + 1} to {row['seq'] - 1}"
            problems.append(ChainProblem(row["seq"], row["id"], f"{missing} before it {'is' if row['seq'] == prev_seq + 2 else 'are'} missing: removed"))
        elif row["prev_hash"] != prev_hash:
            problems.append(
                ChainProblem(row["seq"], row["id"], "link to the previous event does not match: an event before it was removed, added or reordered")
            )
        if event_hash(row["prev_hash"], row) != row["hash"]:
            problems.append(ChainProblem(row["seq"], row["id"], "content does not match its hash: the event was edited"))
        prev_hash = row["hash"]
        prev_seq = row["seq"]
        last = row
    head = store.db.execute("SELECT seq, hash, count FROM ledger_head WHERE id = 1").fetchone()
    if head is not None and head[2]:
        head_seq, head_hash, head_count = head
        if last is None or head_seq != last["seq"] or head_hash != last["hash"]:
            first_missing = int(last["seq"]) + 1 if last is not None else 1
            missing = f"event {head_seq}" if first_missing >= head_seq else f"events {first_missing} to {head_seq}"
            problems.append(
                ChainProblem(int(head_seq or 0), "", f"the ledger ends before {missing}, recorded as appended: events at the end were removed")
            )
        elif head_count != count and not problems:
            problems.append(ChainProblem(int(head_seq), str(last["id"]), f"the ledger holds {count} events where {head_count} were appended"))
    return problems


@dataclass(frozen=True)
class ProjectionProblem:
    table: str
    extra: int
    """Rows the table has that replaying the ledger does not produce: added or edited outside air-tui."""
    missing: int
    """Rows replaying the ledger produces that the table lacks: removed or edited outside air-tui."""
    sample: str
    """The key of one differing row, to start looking from."""


def verify_projections(store: Store) -> list[ProjectionProblem]:
    """Replay the whole ledger into a scratch database and compare every projection table with it.

    The chain proves the ledger was not changed; this proves the tables the screens read (actions,
    decisions, results, block list...) still say what the ledger says.
    """
    problems: list[ProjectionProblem] = []
    with tempfile.TemporaryDirectory(prefix="air-tui-verify-") as directory:
        scratch_path = Path(directory) / "replay.db"
        scratch = sqlite_utils.Database(sqlite3.connect(scratch_path, isolation_level=None))
        try:
            create_schema(scratch)
            scratch.conn.execute("BEGIN")
            for event in iter_events(store):
                apply_event(scratch, event)
            scratch.conn.execute("COMMIT")
        finally:
            scratch.conn.close()
        replay = sqlite3.connect(scratch_path)
        try:
            for table in PROJECTION_TABLES:
                columns = ", ".join(f'"{column}"' for column in table_columns(table))
                stored = Counter(_comparable(row) for row in store.db.execute(f"SELECT {columns} FROM {table}"))
                replayed = Counter(_comparable(row) for row in replay.execute(f"SELECT {columns} FROM {table}"))
                extra = stored - replayed
                missing = replayed - stored
                if extra or missing:
                    sample = next(iter(extra or missing))
                    problems.append(ProjectionProblem(table, sum(extra.values()), sum(missing.values()), str(sample[0])))
        finally:
            replay.close()
    return problems


def _comparable(row: tuple[object, ...]) -> tuple[object, ...]:
    """Read JSON text in a row as its value, so the same object written with its keys in another order compares equal."""
    values = []
    for value in row:
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = canonical_json(json.loads(value))
            except ValueError:
                pass
        values.append(value)
    return tuple(values)


def rebuild_projections(store: Store) -> int:
    """Empty every projection and replay the whole ledger into it; return the events replayed."""
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        count = _replay_all(store)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return count


def _replay_all(store: Store) -> int:
    for table in PROJECTION_TABLES:
        store.db.conn.execute(f"DELETE FROM {table}")
    count = 0
    for event in iter_events(store):
        apply_event(store.db, event)
        count += 1
    return count


def iter_events(store: Store) -> Iterable[Event]:
    """Every event in the order the projections apply them: (clock, id), the same on every console."""
    for row in store.db.query("SELECT * FROM events ORDER BY clock, id"):
        yield _event_from_row(row)


def _event_from_row(row: dict[str, object]) -> Event:
    return Event.model_validate({**row, "payload": json.loads(str(row["payload"]))})


def _last_hash(store: Store) -> str:
    row = store.db.execute("SELECT hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return row[0] if row else GENESIS_HASH


def _already_stored(store: Store, row: dict[str, str]) -> bool:
    """Return True for a replay of a stored event; raise when the id is taken by other content."""
    stored = store.db.execute("SELECT type, actor, time, payload FROM events WHERE id = ?", [row["id"]]).fetchone()
    if stored is None:
        return False
    if tuple(stored) != (row["type"], row["actor"], row["time"], row["payload"]):
        raise StoreError(
            f"Event id {row['id']} is already in the ledger with other content; "
            "ids must be unique, so the id source is broken."
        )
    return True
