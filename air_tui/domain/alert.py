"""Alert policies and the alerts they raise."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import AlertStatus, Severity


class AlertPolicy(BaseModel):
    """A rule that turns tenant activity into alerts."""

    id: str
    name: str
    severity: Severity
    category: str = "Threat management"
    starts_investigation: bool = True
    playbook: str = ""
    """Name of the playbook an alert of this policy starts, empty when none."""
    enabled: bool = True


class Alert(BaseModel):
    id: str
    policy_id: str
    title: str
    severity: Severity
    status: AlertStatus = AlertStatus.NEW
    created: datetime
    """When the alert was raised."""
    occurred: datetime
    """When the activity behind it happened, e.g. the time of the user's report."""
    subject: str = ""
    """Subject of the message the alert is about, for the queue."""
    source_ids: list[str] = Field(default_factory=list)
    """Ids of the activity records that raised it, e.g. submission ids."""
    user: str = ""
    message_ids: list[str] = Field(default_factory=list)
