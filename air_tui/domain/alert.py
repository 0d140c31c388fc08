"""Alert policies, the alerts they raise and the incidents that group them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import AlertStatus, IncidentStatus, Severity


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
    aggregate: bool = True
    """Whether events of this policy within the aggregation window fold into one alert."""
    description: str = ""
    """The activity that raises it, in one sentence."""


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
    hit_count: int = 1
    """Events folded into this alert within the aggregation window."""
    last_occurred: datetime | None = None
    """Time of the latest folded event."""
    urls: list[str] = Field(default_factory=list)
    file_hashes: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    """Every user the folded events name, `user` first."""
    details: str = ""
    """One line on the activity behind the alert, e.g. the rule that forwards outside."""
    triggered_by: str = ""
    """The analyst who started a manual investigation; empty for automatic alerts."""
    incident_id: str = ""
    investigation_id: str = ""

    def entity_keys(self) -> set[str]:
        """Keys incidents correlate on: `message:`, `url:`, `file:` and `user:` prefixed values."""
        keys = {f"message:{value}" for value in self.message_ids}
        keys |= {f"url:{value}" for value in self.urls}
        keys |= {f"file:{value}" for value in self.file_hashes}
        keys |= {f"user:{value.lower()}" for value in [self.user, *self.users] if value}
        return keys


class Incident(BaseModel):
    """Alerts that share entities, correlated so an analyst handles them as one case."""

    id: str
    title: str
    severity: Severity
    status: IncidentStatus = IncidentStatus.ACTIVE
    created: datetime
    updated: datetime
    assigned_to: str = ""
    alert_ids: list[str] = Field(default_factory=list)
    entity_keys: list[str] = Field(default_factory=list)
    redirect_id: str = ""
    """For a merged incident, the incident it now lives in."""
