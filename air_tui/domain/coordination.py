"""Coordination between consoles that share a team store: who decides an action, who runs it.

A console alone needs none of it. In team mode the sync server arbitrates: the first console to
record a decision (or to claim a run) wins, and every other one learns who won and when.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from air_tui.domain.event import Event


@dataclass(frozen=True)
class Holder:
    """The analyst, time and console of the first decision or run on an action."""

    who: str
    when: str
    what: str
    """The decision (`approved`, `rejected`...) or `run`."""
    where: str = ""
    """The console (host name) it came from, when known."""


class DecisionTaken(Exception):
    """Another console decided the action first; nothing was recorded or run here."""

    def __init__(self, action_id: str, holder: Holder) -> None:
        self.action_id = action_id
        self.holder = holder
        where = f" on {holder.where}" if holder.where else ""
        super().__init__(f"Action {action_id} was already {holder.what} by {holder.who}{where} at {_readable(holder.when)}. Nothing was recorded or run here.")


def _readable(when: str) -> str:
    """Format an ISO time from another console as `2026-12-05 06:10:03 UTC`; return anything else unchanged."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return when
    if moment.tzinfo is None:
        return when
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


class CoordinationUnavailable(Exception):
    """The sync server cannot be reached, so a decision cannot be made safely now."""


BeforeCommit = Callable[[list[tuple[Event, int]]], None]
"""Called with each new event and its clock inside the ledger transaction, before it commits."""


class Coordination(Protocol):
    def decision_guard(self, action_id: str, key: str) -> BeforeCommit | None:
        """Return a hook that claims the decision `key` on the action before it is committed.

        The hook raises DecisionTaken when another console has the claim, and
        CoordinationUnavailable when no one can tell.
        """
        ...

    def decision_guards(self, claims: list[tuple[str, str]]) -> BeforeCommit | None:
        """Return the same hook for a bulk decision: (action id, key) pairs, all claimed or none."""
        ...

    def claim_run(self, action_id: str, key: str) -> Holder | None:
        """Claim the run `key` of an approved action; return None when this console may run it, else who runs it.

        Raises CoordinationUnavailable when no one can tell.
        """
        ...


class Solo:
    """A console on its own store: the store's lock file is all the coordination there is."""

    def decision_guard(self, action_id: str, key: str) -> BeforeCommit | None:
        return None

    def decision_guards(self, claims: list[tuple[str, str]]) -> BeforeCommit | None:
        return None

    def claim_run(self, action_id: str, key: str) -> Holder | None:
        return None
