"""Ledger events: every state change, in order, hash-chained."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class EventType(StrEnum):
    MESSAGES_INGESTED = "messages.ingested"
    ALERT_RAISED = "alert.raised"
    ALERT_FOLDED = "alert.folded"
    """More events of the alert's policy arrived within the aggregation window."""
    ALERT_RESOLVED = "alert.resolved"
    """An analyst resolved an alert by hand, with a comment."""
    INCIDENT_CREATED = "incident.created"
    INCIDENT_CHANGED = "incident.changed"
    """The incident's alerts, entities, assignee or status changed; the payload contains all of it."""
    MESSAGE_REMOVED = "message.removed_after_delivery"
    INVESTIGATION_SCOPE_WIDENED = "investigation.scope_widened"
    INVESTIGATION_STARTED = "investigation.started"
    INVESTIGATION_STEP_LOGGED = "investigation.step_logged"
    INVESTIGATION_FINDINGS_RECORDED = "investigation.findings_recorded"
    INVESTIGATION_STATUS_CHANGED = "investigation.status_changed"
    ACTION_PROPOSED = "action.proposed"
    ACTION_PARAMETERS_CHANGED = "action.parameters_changed"
    """An analyst changed a pending action, which makes them its proposer."""
    ACTION_DECIDED = "action.decided"
    ACTION_EXECUTION_STARTED = "action.execution_started"
    """A console claimed an approved action and started running it; names the process."""
    ACTION_TARGETS_STARTED = "action.targets_started"
    """The executor's intent for a batch of targets, recorded before it touches them."""
    ACTION_TARGET_EXECUTED = "action.target_executed"
    ACTION_COMPLETED = "action.completed"
    ACTION_CLOSED = "action.closed"
    """Closed without a decision: expired, or nothing left to remediate."""
    BLOCK_ENTRY_ADDED = "blocklist.entry_added"
    BLOCK_ENTRY_REMOVED = "blocklist.entry_removed"
    MESSAGE_BLOCKED = "message.blocked"
    """Ingest junked a new message that a block list entry matches."""


class Event(BaseModel):
    id: str
    type: EventType
    actor: str
    """Analyst name, or `system` for automation."""
    time: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
