"""Replicating the ledger through a CouchDB database: push new events, pull the others' events.

Each event is one document whose id is the event id, so a push that is sent twice (after a
timeout, a crash, a killed server) creates nothing twice: the second copy is a conflict, which
means "already there". Pulled events go through `ledger.merge`, which applies them in the same
(clock, id) order on every console. The pull checkpoint is stored in the same transaction as the
events it covers, and the push high-water mark only moves after the server confirmed the batch.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from air_tui.domain.event import Event
from air_tui.domain.ids import Clock, ulid_factory
from air_tui.store import ledger
from air_tui.store.database import Store
from air_tui.sync.couch import CouchClient, SyncError, SyncUnavailable

EVENT_KIND = "event"
DECISION_KIND = "decision"
RUN_KIND = "run"
LEASE_KIND = "automation"
DATABASE_KIND = "database"
DATABASE_MARKER = "air-tui-database"
"""A document made once per server database. A different one means the database was replaced or
restored from an old backup, so its contents can no longer be trusted to be complete."""

BACKOFF_START_SECONDS = 2.0

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    pushed: int = 0
    pulled: int = 0
    rebuilt: bool = False
    rejected: int = 0
    error: str = ""
    offline: bool = False
    resent: bool = False
    """The server's database was replaced or restored, so every event was sent again."""


@dataclass
class SyncStatus:
    url: str
    database: str
    replica_id: str
    waiting: int
    """Events of this console the server has not confirmed yet."""
    last_success: str
    last_error: str
    offline_since: str
    failures: int
    next_try: str
    checkpoint: str
    rejected: list[dict[str, str]] = field(default_factory=list)

    @property
    def state(self) -> str:
        if self.offline_since:
            return "offline"
        if self.last_error:
            return "error"
        if self.waiting:
            return "waiting"
        return "synced" if self.last_success else "never synced"


# Local sync state ------------------------------------------------------------------------------


def state_get(store: Store, key: str, default: str = "") -> str:
    row = store.db.execute("SELECT value FROM sync_state WHERE key = ?", [key]).fetchone()
    return str(row[0]) if row else default


def state_put(store: Store, values: dict[str, str]) -> None:
    """Write sync state; inside a running transaction when there is one, else in its own."""
    conn = store.db.conn
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany("INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)", list(values.items()))
        if own:
            conn.execute("COMMIT")
    except BaseException:
        if own:
            conn.execute("ROLLBACK")
        raise


def replica_id(store: Store) -> str:
    """This console's id on the sync server, made once per store."""
    current = state_get(store, "replica_id")
    if not current:
        current = ulid_factory()
        state_put(store, {"replica_id": current})
    return current


def waiting_count(store: Store) -> int:
    pushed = int(state_get(store, "pushed_seq", "0") or 0)
    row = store.db.execute("SELECT COUNT(*) FROM events WHERE origin = '' AND seq > ?", [pushed]).fetchone()
    return int(row[0])


# Documents ---------------------------------------------------------------------------------------


def event_body(event: Event, clock: int, origin: str) -> dict[str, Any]:
    return {
        "type": event.type.value,
        "actor": event.actor,
        "time": event.time.isoformat(),
        "payload": event.payload,
        "clock": clock,
        "origin": origin,
    }


def event_doc(row: dict[str, Any], origin: str) -> dict[str, Any]:
    return {
        "_id": row["id"],
        "kind": EVENT_KIND,
        "type": row["type"],
        "actor": row["actor"],
        "time": row["time"],
        "payload": json.loads(row["payload"]),
        "clock": int(row["clock"]),
        "origin": origin,
    }


def decision_doc_id(action_id: str, key: str) -> str:
    return f"decision:{action_id}:{key}"


def run_doc_id(action_id: str, key: str) -> str:
    return f"run:{action_id}:{key}"


def decision_body(action_id: str, key: str, events: list[tuple[Event, int]], replica: str, host: str) -> dict[str, Any]:
    """Build the decision document: who decided what and when, carrying the decision's events."""
    first = events[0][0]
    return {
        "kind": DECISION_KIND,
        "action_id": action_id,
        "key": key,
        "decision": decision_word(first),
        "decided_by": first.actor,
        "time": first.time.isoformat(),
        "replica": replica,
        "host": host,
        "events": [{"id": event.id, **event_body(event, clock, replica)} for event, clock in events],
    }


def run_body(action_id: str, key: str, replica: str, host: str, pid: object, analyst: str, time: str) -> dict[str, Any]:
    return {"kind": RUN_KIND, "action_id": action_id, "key": key, "replica": replica, "host": host, "pid": pid, "analyst": analyst, "time": time}


def decision_word(event: Event) -> str:
    decision = event.payload.get("decision")
    if isinstance(decision, dict) and decision.get("kind"):
        return {"approved": "approved", "rejected": "rejected", "undo": "undone", "retry": "retried"}.get(str(decision["kind"]), str(decision["kind"]))
    if event.payload.get("status"):
        return f"closed as {str(event.payload['status']).lower()}"
    return "decided"


def remote_events(doc: dict[str, Any]) -> list[ledger.RemoteEvent]:
    """Return the events a document carries: one for an event, those of the decision for a decision, none otherwise.

    Raises:
        ValueError: The document claims to carry events but they are not valid; the message gives the reason.
    """
    kind = doc.get("kind")
    doc_id = str(doc.get("_id", ""))
    if kind == EVENT_KIND:
        return [_remote(doc_id, doc)]
    if kind == DECISION_KIND:
        carried = doc.get("events")
        if not isinstance(carried, list) or not carried:
            raise ValueError("a decision document without its events")
        return [_remote(str(item.get("id", "")) if isinstance(item, dict) else "", item) for item in carried]
    return []


def _remote(event_id: str, body: object) -> ledger.RemoteEvent:
    if not isinstance(body, dict):
        raise ValueError("an event that is not an object")
    clock = body.get("clock")
    if not isinstance(clock, int) or isinstance(clock, bool) or clock < 1:
        raise ValueError(f"event {event_id or '?'} has no valid clock ({clock!r})")
    try:
        event = Event.model_validate(
            {"id": event_id, "type": body.get("type"), "actor": body.get("actor"), "time": body.get("time"), "payload": body.get("payload", {})}
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"event {event_id or '?'} is not valid: {'.'.join(str(part) for part in first['loc'])}: {first['msg']}") from error
    if not event.id:
        raise ValueError("an event without an id")
    if event.time.tzinfo is None:
        raise ValueError(f"event {event.id} has a time without a time zone")
    return ledger.RemoteEvent(event=event, clock=clock, origin=str(body.get("origin", "")) or "unknown")


# Replication -------------------------------------------------------------------------------------


class Replicator:
    """Push and pull for one store and one server database. Not thread-safe: one per thread, like the store."""

    def __init__(
        self,
        store: Store,
        client: CouchClient,
        *,
        clock: Clock,
        batch_size: int = 1000,
        max_backoff: float = 300.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.client = client
        self.clock = clock
        self.batch_size = batch_size
        self.max_backoff = max_backoff
        self.jitter = jitter
        self.replica_id = replica_id(store)
        self._database_checked = False
        self.resent = False
        self._follow_server_change()

    def push(self) -> int:
        """Send every local event the server has not confirmed; return how many were sent."""
        self._ready()
        sent = 0
        while True:
            pushed = int(state_get(self.store, "pushed_seq", "0") or 0)
            everything = state_get(self.store, "push_all") == "1"
            rows = list(
                self.store.db.query(
                    "SELECT seq, id, type, actor, time, payload, clock, origin FROM events WHERE (origin = '' OR ?) AND seq > ? ORDER BY seq LIMIT ?",
                    [everything, pushed, self.batch_size],
                )
            )
            if not rows:
                if everything:
                    state_put(self.store, {"push_all": ""})
                return sent
            if everything:
                self.resent = True
                # The decision and run claims went with the old database: put them back, or a
                # console that is behind could decide or run those actions a second time.
                self._restore_claims(rows)
            docs = [event_doc(row, row["origin"] or self.replica_id) for row in rows]
            answers = self.client.bulk_docs(docs)
            for doc, answer in zip(docs, answers):
                # A conflict is the same event sent before (ids are unique), so it is there already.
                if answer.get("ok") or answer.get("error") == "conflict":
                    continue
                raise SyncError(
                    f"The sync server rejected event {doc['_id']} ({doc['type']}): {answer.get('error', '?')} {answer.get('reason', '')}".strip()
                    + ". It stays queued and is sent again with the next sync."
                )
            state_put(self.store, {"pushed_seq": str(rows[-1]["seq"])})
            sent += len(rows)

    def wait_for_changes(self, seconds: float) -> bool:
        """Wait up to `seconds` for a change after the checkpoint (a long poll); return whether one came.

        The changes are not read here: the next pull reads them. A server that cannot be reached
        counts as no change, and the next sync records the failure.
        """
        since = state_get(self.store, "checkpoint", "0") or "0"
        try:
            return self.client.changes(since, limit=1, wait=seconds).count > 0
        except SyncError:
            return False

    def _restore_claims(self, rows: list[dict[str, Any]]) -> None:
        docs = []
        for row in rows:
            payload = json.loads(row["payload"])
            claim = payload.get("claim")
            if not isinstance(claim, str) or not claim:
                continue
            origin = row["origin"] or self.replica_id
            event = ledger._event_from_row(row)
            if row["type"] == "action.execution_started":
                executor = payload.get("executor") or {}
                docs.append({"_id": run_doc_id(payload["action_id"], claim), **run_body(payload["action_id"], claim, origin, str(executor.get("host", "")), executor.get("pid", 0), row["actor"], row["time"])})
            else:
                action_id = payload.get("action_id") or (payload.get("decision") or {}).get("action_id")
                if action_id:
                    docs.append({"_id": decision_doc_id(action_id, claim), **decision_body(action_id, claim, [(event, int(row["clock"]))], origin, "")})
        if docs:
            self.client.bulk_docs(docs)

    def _follow_server_change(self) -> None:
        """Start afresh when the configured server or database is not the one the state describes."""
        where = f"{self.client.url}/{self.client.database}"
        known = state_get(self.store, "server")
        if known == where:
            return
        values = {"server": where, "last_success": "", "last_error": "", "offline_since": "", "failures": "0", "next_try": "", "checkpoint": "0", "database_marker": "", "lease": "", "lease_rev": ""}
        if known:
            # Another server has none of this console's events yet.
            values |= {"pushed_seq": "0", "push_all": "1"}
        state_put(self.store, values)

    def pull(self, *, wait: float | None = None) -> SyncReport:
        """Read every change after the checkpoint and merge the events into the ledger.

        With `wait`, the first read is a long poll of that many seconds.
        """
        self._ready()
        report = SyncReport()
        while True:
            since = state_get(self.store, "checkpoint", "0") or "0"
            page = self.client.changes(since, limit=self.batch_size, wait=wait)
            wait = None
            found: list[ledger.RemoteEvent] = []
            rejected: list[tuple[str, str]] = []
            for doc in page.docs:
                if doc.get("kind") == EVENT_KIND and doc.get("origin") == self.replica_id and self._stored(doc.get("_id")):
                    # This console's own event coming back, skipped before the costly checks. One
                    # it lacks (the store was restored from a backup) is read like any other.
                    continue
                try:
                    found.extend(remote_events(doc))
                except ValueError as error:
                    rejected.append((str(doc.get("_id", "?")), str(error)))
            now = self.clock().isoformat()

            def keep_checkpoint(seq: str = page.last_seq, rejected: list[tuple[str, str]] = rejected, now: str = now) -> None:
                state_put(self.store, {"checkpoint": seq})
                if rejected:
                    self.store.db.conn.executemany(
                        "INSERT OR REPLACE INTO sync_rejects (doc_id, reason, seen) VALUES (?, ?, ?)", [(doc_id, reason, now) for doc_id, reason in rejected]
                    )

            result = ledger.merge(self.store, found, within=keep_checkpoint)
            report.pulled += result.appended
            report.rebuilt = report.rebuilt or result.rebuilt
            report.rejected += len(rejected)
            if not page.count or page.last_seq == since or page.pending == 0:
                return report

    def _stored(self, event_id: object) -> bool:
        return self.store.db.execute("SELECT 1 FROM events WHERE id = ?", [str(event_id)]).fetchone() is not None

    def sync_once(self) -> SyncReport:
        """Push, then pull; record the outcome for `status` and the backoff. A server problem is recorded, not raised."""

        def work(report: SyncReport) -> None:
            report.pushed = self.push()
            pulled = self.pull()
            report.pulled, report.rebuilt, report.rejected = pulled.pulled, pulled.rebuilt, pulled.rejected
            # Pulled decisions may have come with events this console still has to send.
            report.pushed += self.push()

        return self._attempt(work)

    def push_waiting(self) -> SyncReport:
        """Send what waits, when the backoff allows, recording a failure as `sync_once` does."""
        if not waiting_count(self.store) or not self.due():
            return SyncReport()

        def work(report: SyncReport) -> None:
            report.pushed = self.push()

        return self._attempt(work)

    def _attempt(self, work: Callable[[SyncReport], None]) -> SyncReport:
        """Run one round of requests, turn a server problem into the report's error, and record the outcome."""
        report = SyncReport()
        self._database_checked = False
        self.resent = False
        try:
            work(report)
        except SyncUnavailable as error:
            report.error, report.offline = str(error), True
        except SyncError as error:
            report.error = str(error)
        report.resent = self.resent
        self.record(report)
        return report

    def offline(self) -> bool:
        """Return whether the last attempt failed and the backoff does not allow another yet."""
        return bool(state_get(self.store, "last_error")) and not self.due()

    def record(self, report: SyncReport) -> None:
        now = self.clock()
        if not report.error:
            state_put(self.store, {"last_success": now.isoformat(), "last_error": "", "offline_since": "", "failures": "0", "next_try": ""})
            return
        failures = int(state_get(self.store, "failures", "0") or 0) + 1
        values = {"last_error": report.error, "failures": str(failures), "next_try": (now + timedelta(seconds=self.backoff(failures))).isoformat()}
        if report.offline and not state_get(self.store, "offline_since"):
            values["offline_since"] = now.isoformat()
        if not report.offline:
            values["offline_since"] = ""
        state_put(self.store, values)

    def backoff(self, failures: int) -> float:
        """Seconds to wait after `failures` failed attempts in a row: doubling, capped, with jitter.

        The jitter spreads retries over the second half of each step, so consoles that lost the
        server together do not all come back at the same instant.
        """
        if failures <= 0:
            return 0.0
        step = min(self.max_backoff, BACKOFF_START_SECONDS * 2 ** min(failures - 1, 30))
        return step * (0.5 + 0.5 * self.jitter())

    def due(self) -> bool:
        """Return whether the backoff allows another attempt now."""
        next_try = state_get(self.store, "next_try")
        return not next_try or self.clock() >= datetime.fromisoformat(next_try)

    def status(self) -> SyncStatus:
        rejected = [
            {"doc_id": row["doc_id"], "reason": row["reason"], "seen": row["seen"]}
            for row in self.store.db.query("SELECT doc_id, reason, seen FROM sync_rejects ORDER BY seen, doc_id")
        ]
        return SyncStatus(
            url=self.client.url,
            database=self.client.database,
            replica_id=self.replica_id,
            waiting=waiting_count(self.store),
            last_success=state_get(self.store, "last_success"),
            last_error=state_get(self.store, "last_error"),
            offline_since=state_get(self.store, "offline_since"),
            failures=int(state_get(self.store, "failures", "0") or 0),
            next_try=state_get(self.store, "next_try"),
            checkpoint=state_get(self.store, "checkpoint", "0") or "0",
            rejected=rejected,
        )

    def _ready(self) -> None:
        if self._database_checked:
            return
        self.client.ensure_database()
        marker = self.client.get(DATABASE_MARKER)
        if marker is None:
            body = {"kind": DATABASE_KIND, "marker": ulid_factory(), "created": self.clock().isoformat()}
            outcome, answer = self.client.create(DATABASE_MARKER, body)
            # On a conflict another console made the marker first, and the answer is its document.
            marker = answer if outcome == "conflict" and answer is not None else body
        current = str(marker.get("marker", ""))
        known = state_get(self.store, "database_marker")
        if known and current != known:
            # Replaced or restored: send every event this console has (its own and those it
            # pulled, for consoles that may never come back) and read the database from the start.
            log.warning("The sync database %s was replaced or restored; sending every event again", self.client.database)
            state_put(self.store, {"pushed_seq": "0", "push_all": "1", "checkpoint": "0"})
        if current != known:
            state_put(self.store, {"database_marker": current})
        self._database_checked = True
