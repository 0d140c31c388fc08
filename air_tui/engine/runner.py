"""Starting and running investigations; every change leaves as a ledger event through `emit`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from air_tui.domain.alert import Alert
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.investigation import Investigation
from air_tui.domain.vocab import InvestigationStatus, Playbook
from air_tui.engine import compromised_user, url_click, user_reported
from air_tui.engine.context import PlaybookContext
from air_tui.engine.findings import Outcome

log = logging.getLogger(__name__)

PlaybookRun = Callable[[PlaybookContext, Investigation, list[Alert]], Outcome]

PLAYBOOKS: dict[str, PlaybookRun] = {playbook.value: user_reported.run for playbook in user_reported.EMAIL_PLAYBOOKS}
PLAYBOOKS[Playbook.URL_CLICK.value] = url_click.run
PLAYBOOKS[Playbook.COMPROMISED_USER.value] = compromised_user.run


class EventStamps(Protocol):
    """A source of event times and ids: a playbook context, or the service itself when no playbook runs."""

    clock: Clock
    new_id: IdFactory


def start_event(context: EventStamps, alert: Alert, playbook: str) -> tuple[Investigation, Event]:
    investigation = Investigation(
        id=context.new_id(),
        alert_id=alert.id,
        alert_ids=[alert.id],
        incident_id=alert.incident_id,
        playbook=playbook,
        title=f"{playbook}: {alert.subject or alert.details or alert.user or alert.title}",
        created=context.clock(),
    )
    event = Event(
        id=context.new_id(),
        type=EventType.INVESTIGATION_STARTED,
        actor="system",
        time=investigation.created,
        payload={"investigation": investigation.model_dump(mode="json")},
    )
    return investigation, event


def status_event(
    context: EventStamps,
    investigation_id: str,
    status: InvestigationStatus,
    reason: str,
    *,
    started: bool = False,
    actor: str = "system",
) -> Event:
    now = context.clock()
    return Event(
        id=context.new_id(),
        type=EventType.INVESTIGATION_STATUS_CHANGED,
        actor=actor,
        time=now,
        payload={
            "investigation_id": investigation_id,
            "status": status.value,
            "reason": reason,
            "started": now.isoformat() if started else "",
            "ended": now.isoformat() if status.is_terminal else "",
        },
    )


def run_investigation(context: PlaybookContext, investigation: Investigation, alerts: list[Alert]) -> InvestigationStatus:
    """Run the playbook over every alert in scope; a step that raises ends the investigation as
    Failed, with the reason logged."""
    reason = "Playbook steps are running." if investigation.runs == 0 else f"The scope widened to {len(alerts)} alerts: every step runs again."
    context.emit([status_event(context, investigation.id, InvestigationStatus.RUNNING, reason, started=investigation.started is None)])
    playbook = PLAYBOOKS.get(investigation.playbook)
    if playbook is None:
        reason = f"No playbook named {investigation.playbook!r}."
        context.emit([status_event(context, investigation.id, InvestigationStatus.FAILED, reason)])
        return InvestigationStatus.FAILED
    try:
        outcome = playbook(context, investigation, alerts)
    except Exception as error:  # noqa: BLE001 - any analyzer bug must end as Failed, not hang as Running
        log.exception("Investigation %s failed", investigation.id)
        context.emit([status_event(context, investigation.id, InvestigationStatus.FAILED, f"{type(error).__name__}: {error}")])
        return InvestigationStatus.FAILED
    findings = outcome.findings
    events = [
        Event(
            id=context.new_id(),
            type=EventType.INVESTIGATION_FINDINGS_RECORDED,
            actor="system",
            time=context.clock(),
            payload={
                "investigation_id": investigation.id,
                "entities": [entity.model_dump(mode="json") for entity in findings.entities.values()],
                "clusters": [cluster.model_dump(mode="json") for cluster in findings.clusters],
            },
        )
    ]
    events.extend(
        Event(
            id=context.new_id(),
            type=EventType.ACTION_PROPOSED,
            actor="system",
            time=action.created,
            payload={"action": action.model_dump(mode="json")},
        )
        for action in findings.actions
    )
    events.append(status_event(context, investigation.id, outcome.status, outcome.reason))
    context.emit(events)
    return outcome.status
