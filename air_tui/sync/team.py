"""Team coordination through the sync server: one decision per action, one run per decision,
one console doing the automation.

All three rest on one CouchDB rule: creating a document whose id already exists fails with 409.
The decision document's id is derived from the action id. So when two analysts decide the same
action at once, the server accepts one (201) and rejects the other (409), and the rejected
console reads the winner from the document. A decision document also carries the decision's events, so a
console that crashed after the server took its decision still gets the decision back on its
next pull.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from air_tui.domain.coordination import BeforeCommit, CoordinationUnavailable, DecisionTaken, Holder
from air_tui.domain.event import Event
from air_tui.domain.ids import Clock
from air_tui.sync.couch import CouchClient, SyncError
from air_tui.store.database import Store
from air_tui.sync.replicator import LEASE_KIND, decision_body, decision_doc_id, run_body, run_doc_id, state_get, state_put

LEASE_ID = "automation-lease"


@dataclass(frozen=True)
class Lease:
    holder: str
    """Replica id of the console doing the automation."""
    host: str
    analyst: str
    until: datetime


class TeamCoordination:
    """Implements `Coordination` against the sync server."""

    def __init__(
        self, client: CouchClient, *, store: Store, replica: str, analyst: str, clock: Clock, lease_seconds: float, server_down: Callable[[], bool] = lambda: False
    ) -> None:
        self.server_down = server_down
        self.client = client
        self.store = store
        self.replica = replica
        self.analyst = analyst
        self.clock = clock
        self.host = socket.gethostname()
        self.lease_seconds = lease_seconds
        self._database_ready = False

    def _ready(self) -> None:
        # A console's first act on a new server may be a decision, before any sync made the database.
        if not self._database_ready:
            self.client.ensure_database()
            self._database_ready = True

    # The lease as last seen is kept in the store, so every service a console opens (one per
    # worker thread) shares it instead of asking the server each time.

    @property
    def _lease(self) -> Lease | None:
        raw = state_get(self.store, "lease")
        return _lease_of(json.loads(raw)) if raw else None

    @property
    def _lease_rev(self) -> str:
        return state_get(self.store, "lease_rev")

    def _remember(self, lease: Lease | None, rev: str) -> None:
        body = "" if lease is None else json.dumps({"replica": lease.holder, "host": lease.host, "analyst": lease.analyst, "until": lease.until.isoformat()})
        state_put(self.store, {"lease": body, "lease_rev": rev})

    # Decisions ---------------------------------------------------------------------------

    def decision_guard(self, action_id: str, key: str) -> BeforeCommit:
        def claim(events: list[tuple[Event, int]]) -> None:
            self._claim_decision(action_id, key, events)

        return claim

    def decision_guards(self, claims: list[tuple[str, str]]) -> BeforeCommit:
        """One hook for a bulk decision: every action's decision is claimed, or none stays claimed.

        When one claim loses, the claims already taken in this batch are deleted again (with
        their revisions), so the batch can be decided again once the analyst has seen the other
        decision.
        """

        def claim(events: list[tuple[Event, int]]) -> None:
            taken: list[tuple[str, str]] = []
            try:
                for action_id, key in claims:
                    own = [(event, clock) for event, clock in events if _decided_action(event) == action_id]
                    if own:
                        taken.append((decision_doc_id(action_id, key), self._claim_decision(action_id, key, own)))
            except BaseException:
                for doc_id, rev in taken:
                    try:
                        self.client.delete(doc_id, rev)
                    except SyncError:
                        pass
                raise

        return claim

    def _claim_decision(self, action_id: str, key: str, events: list[tuple[Event, int]]) -> str:
        """Create the decision document; return its revision, or raise DecisionTaken naming the console that has it."""
        body = decision_body(action_id, key, events, self.replica, self.host)
        try:
            self._ready()
            outcome, answer = self.client.create(decision_doc_id(action_id, key), body)
        except SyncError as error:
            raise CoordinationUnavailable(str(error)) from error
        if outcome == "conflict" and answer is not None:
            raise DecisionTaken(action_id, _holder(answer))
        return str((answer or {}).get("_rev", ""))

    # Runs --------------------------------------------------------------------------------

    def claim_run(self, action_id: str, key: str) -> Holder | None:
        body = run_body(action_id, key, self.replica, self.host, os.getpid(), self.analyst, self.clock().isoformat())
        try:
            self._ready()
            outcome, existing = self.client.create(run_doc_id(action_id, key), body)
        except SyncError as error:
            raise CoordinationUnavailable(str(error)) from error
        if outcome == "created" or existing is None or existing.get("replica") == self.replica:
            # Our own claim from before a crash: this console resumes the run it started.
            return None
        return Holder(who=str(existing.get("analyst", "?")), when=str(existing.get("time", "?")), what="run", where=str(existing.get("host", "")))

    # Automation lease --------------------------------------------------------------------

    def holds_automation(self) -> bool:
        """Whether this console raises alerts, runs investigations and expires actions now.

        Exactly one console does, so two consoles never raise the same alert twice. The one
        that holds the lease renews it; when it stops renewing (closed, crashed, offline), any
        other console takes it over once it has run out. Offline, a console keeps a lease it
        holds until it runs out, and never takes one.
        """
        now = self.clock()
        lease = self._lease
        ours = lease is not None and lease.holder == self.replica
        if ours and lease.until - now > timedelta(seconds=self.lease_seconds / 2):
            return True
        if self.server_down():
            # No request while the backoff waits: an unreachable server would stall every caller.
            return ours and lease.until > now
        try:
            return self._renew_or_take(now)
        except SyncError:
            lease = self._lease
            return lease is not None and lease.holder == self.replica and lease.until > now

    def lease(self) -> Lease | None:
        """Return the lease as this console last saw it, without asking the server."""
        return self._lease

    def current_lease(self) -> Lease | None:
        """Return the lease as the server has it now (None when free), or as last seen when the server cannot be reached."""
        try:
            self._ready()
            doc = self.client.get(LEASE_ID)
        except SyncError:
            return self._lease
        if doc is None or doc.get("released"):
            return None
        return _lease_of(doc)

    def release_automation(self) -> None:
        """Give the lease up on a clean exit, so another console takes over at once."""
        if self._lease is None or self._lease.holder != self.replica or not self._lease_rev:
            return
        try:
            self.client.update(LEASE_ID, {**self._lease_body(self.clock()), "released": True}, self._lease_rev)
        except SyncError:
            pass
        self._remember(None, "")

    def _renew_or_take(self, now: datetime) -> bool:
        until = now + timedelta(seconds=self.lease_seconds)
        self._ready()
        current = self.client.get(LEASE_ID)
        if current is None:
            outcome, created = self.client.create(LEASE_ID, self._lease_body(until))
            if outcome == "created" and created is not None:
                self._remember(Lease(self.replica, self.host, self.analyst, until), str(created["_rev"]))
                return True
            current = created
        if current is None:
            return False
        seen = _lease_of(current)
        if seen.holder != self.replica and seen.until > now:
            self._remember(seen, "")
            return False
        rev = self.client.update(LEASE_ID, self._lease_body(until), str(current.get("_rev", "")))
        if rev is None:
            # Another console renewed or took it between our read and write.
            self._remember(None, "")
            return False
        self._remember(Lease(self.replica, self.host, self.analyst, until), rev)
        return True

    def _lease_body(self, until: datetime) -> dict[str, Any]:
        return {"kind": LEASE_KIND, "replica": self.replica, "host": self.host, "analyst": self.analyst, "until": until.isoformat()}


def _lease_of(doc: dict[str, Any]) -> Lease:
    try:
        until = datetime.fromisoformat(str(doc.get("until", "")))
    except ValueError:
        until = datetime.min
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    if doc.get("released"):
        # Handed back on exit: free at once, whatever the clocks of the two machines read.
        until = datetime.min.replace(tzinfo=UTC)
    return Lease(holder=str(doc.get("replica", "")), host=str(doc.get("host", "")), analyst=str(doc.get("analyst", "")), until=until)


def _decided_action(event: Event) -> str:
    decision = event.payload.get("decision")
    if isinstance(decision, dict):
        return str(decision.get("action_id", ""))
    return str(event.payload.get("action_id", ""))


def _holder(doc: dict[str, Any]) -> Holder:
    return Holder(who=str(doc.get("decided_by", "?")), when=str(doc.get("time", "?")), what=str(doc.get("decision", "decided")), where=str(doc.get("host", "")))
