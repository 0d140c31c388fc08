"""Starting and running investigations; every change leaves as a ledger event through `emit`."""

from __future__ import annotations

import logging

from air_tui.domain.alert import Alert
from air_tui.domain.event import Event, EventType
from air_tui.domain.investigation import Investigation
from air_tui.domain.vocab import InvestigationStatus
from air_tui.engine import user_reported
from air_tui.engine.context import PlaybookContext

log = logging.getLogger(__name__)

PLAYBOOKS = {user_reported.PLAYBOOK_NAME: user_reported.run}


def start_event(context: PlaybookContext, alert: Alert, playbook: str) -> tuple[Investigation, Event]:
    investigation = Investigation(
        id=context.new_id(),
        alert_id=alert.id,
        playbook=playbook,
        title=f"{playbook}: {alert.subject or alert.title}",
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
    context: PlaybookContext,
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


def run_investigation(context: PlaybookContext, investigation: Investigation, alert: Alert) -> InvestigationStatus:
    """Run the playbook; a step that raises ends the investigation as Failed, with the reason logged."""
    context.emit([status_event(context, investigation.id, InvestigationStatus.RUNNING, "Playbook steps are running.", started=True)])
    playbook = PLAYBOOKS.get(investigation.playbook)
    if playbook is None:
        reason = f"No playbook named {investigation.playbook!r}."
        context.emit([status_event(context, investigation.id, InvestigationStatus.FAILED, reason)])
        return InvestigationStatus.FAILED
    try:
        outcome = playbook(context, investigation.id, alert)
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
