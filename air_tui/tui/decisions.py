"""Decisions the analyst confirmed, as requests a worker thread runs, and the messages it posts back.

Screens never call the service's deciding methods themselves: they post `DecisionRequested`, and
the app runs the request in a thread with a service of its own. The toast comes from the
outcome the service returns, so the screen confirms only a decision that is already on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from textual.message import Message
from textual.notifications import SeverityLevel

from air_tui.domain.vocab import ActionStatus, DecisionKind
from air_tui.service import AirService, DecisionOutcome
from air_tui.tui.text import plain

ProgressCallback = Callable[[int, int], None]

_FAILED = frozenset({ActionStatus.FAILED, ActionStatus.PARTIALLY_FAILED})
_OUTCOMES_LISTED = 4

_TITLES = {
    DecisionKind.APPROVED: "Approved",
    DecisionKind.REJECTED: "Rejected",
    DecisionKind.RETRY: "Retried",
    DecisionKind.UNDO: "Undone",
}


@dataclass(frozen=True)
class DecisionRequest:
    """One decision on one action, or one bulk decision on several, ready to run."""

    kind: DecisionKind
    action_ids: tuple[str, ...]
    comment: str = ""
    """The comment, or for a rejection the required reason."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """An approver's changes, e.g. `{"action_type": "Soft delete"}` or `{"expires": "30"}`."""
    bulk: bool = False
    """Decide every action in `action_ids` in one recorded step, all or nothing."""
    label: str = ""
    """Name of what runs, for the status line, e.g. `Soft delete`."""

    def run(self, service: AirService, on_progress: ProgressCallback | None = None) -> list[DecisionOutcome]:
        """Record the decision through `service` and run what it approves.

        Raises:
            ActionError: The service rejected the decision; the message says why and what to do.
        """
        if self.bulk:
            return service.decide_many(list(self.action_ids), self.kind, comment=self.comment)
        action_id = self.action_ids[0]
        if self.kind is DecisionKind.APPROVED:
            parameters = dict(self.parameters) or None
            return [service.approve(action_id, comment=self.comment, parameters=parameters, on_progress=on_progress)]
        if self.kind is DecisionKind.REJECTED:
            return [service.reject(action_id, reason=self.comment)]
        if self.kind is DecisionKind.RETRY:
            return [service.retry(action_id, comment=self.comment, on_progress=on_progress)]
        return [service.undo(action_id, comment=self.comment, on_progress=on_progress)]


class DecisionRequested(Message):
    """Request from a screen to run a decision the analyst confirmed."""

    def __init__(self, request: DecisionRequest) -> None:
        super().__init__()
        self.request = request


class ActionsDecided(Message):
    """A worker recorded a decision and ran what it approved."""

    def __init__(self, request: DecisionRequest, outcomes: list[DecisionOutcome]) -> None:
        super().__init__()
        self.request = request
        self.outcomes = outcomes


class DecisionFailed(Message):
    """The service refused a decision, or running it raised."""

    def __init__(self, request: DecisionRequest, error: str, *, refused: bool) -> None:
        super().__init__()
        self.request = request
        self.error = error
        self.refused = refused
        """True when the service refused with its own message (`ActionError`), False for an unexpected error."""


class DecisionProgress(Message):
    """Targets done so far by the action a worker runs."""

    def __init__(self, label: str, done: int, total: int) -> None:
        super().__init__()
        self.label = label
        self.done = done
        self.total = total


@dataclass(frozen=True)
class Notice:
    """A toast: its text, title and severity."""

    text: str
    title: str
    severity: SeverityLevel


def outcome_notice(request: DecisionRequest, outcomes: list[DecisionOutcome], analyst: str) -> Notice:
    """Build the toast for what the service returned, from each outcome's own sentence."""
    failed = any(outcome.status in _FAILED for outcome in outcomes)
    severity: SeverityLevel = "warning" if failed else "information"
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if outcome.decision is None:
            return Notice(plain(outcome.message), "Action changed, not approved", "warning")
        title = f"{_TITLES[outcome.decision.kind]} by {plain(outcome.decision.analyst)}"
        return Notice(plain(outcome.message), title, severity)
    lines = [plain(outcome.message) for outcome in outcomes[:_OUTCOMES_LISTED]]
    if len(outcomes) > _OUTCOMES_LISTED:
        lines.append(f"… and {len(outcomes) - _OUTCOMES_LISTED} more.")
    title = f"{len(outcomes)} actions {_TITLES[request.kind].lower()} by {plain(analyst)}"
    return Notice("\n".join(lines), title, severity)
