"""Correlating alerts into incidents by the entities they share, and merging incidents.

An alert joins the active incident it shares an entity with (an email, URL, file or user)
within the correlation window. When it touches several, they merge into the oldest, except
where the result would exceed the entity limit, the incidents are assigned to different
analysts, or one is closed: those stay apart, as in Microsoft Defender.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from air_tui.domain.alert import Alert, Incident
from air_tui.domain.ids import IdFactory
from air_tui.domain.vocab import IncidentStatus, Severity

_SEVERITY_RANK = {Severity.INFORMATIONAL: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


@dataclass
class Correlation:
    """The incidents one alert created or changed, in the order their events go to the ledger."""

    incident: Incident
    created: bool = False
    changed: list[Incident] = field(default_factory=list)
    """Incidents changed besides `incident`: those merged into it, now redirected."""
    kept_apart: list[tuple[str, str]] = field(default_factory=list)
    """(incident id, reason) of related incidents that could not merge."""


def correlate(alert: Alert, incidents: list[Incident], *, window_hours: int, max_entities: int, new_id: IdFactory) -> Correlation:
    """Put the alert in an incident. `incidents` is updated in place, so later alerts of a batch find the changes."""
    keys = alert.entity_keys()
    window = timedelta(hours=window_hours)
    related = [
        incident
        for incident in incidents
        if incident.status is IncidentStatus.ACTIVE
        and keys & set(incident.entity_keys)
        and abs(alert.occurred - incident.updated) <= window
    ]
    related.sort(key=lambda incident: (incident.created, incident.id))
    home = next((incident for incident in related if len(set(incident.entity_keys) | keys) <= max_entities), None)
    if home is None:
        incident = Incident(
            id=new_id(),
            title=_title([alert]),
            severity=alert.severity,
            created=alert.occurred,
            updated=alert.occurred,
            alert_ids=[alert.id],
            entity_keys=sorted(keys)[:max_entities],
        )
        incidents.append(incident)
        result = Correlation(incident=incident, created=True)
        result.kept_apart = [(item.id, f"more than {max_entities} entities together") for item in related]
        return result
    _add(home, alert, keys)
    result = Correlation(incident=home)
    for other in related:
        if other is home:
            continue
        reason = _merge_blocker(home, other, max_entities)
        if reason:
            result.kept_apart.append((other.id, reason))
            continue
        _merge(home, other)
        result.changed.append(other)
    return result


def _merge_blocker(home: Incident, other: Incident, max_entities: int) -> str:
    if other.status is not IncidentStatus.ACTIVE:
        return "it is closed"
    if home.assigned_to and other.assigned_to and home.assigned_to != other.assigned_to:
        return f"assigned to {other.assigned_to}, not {home.assigned_to}"
    if len(set(home.entity_keys) | set(other.entity_keys)) > max_entities:
        return f"together they would hold more than {max_entities} entities"
    return ""


def _add(incident: Incident, alert: Alert, keys: set[str]) -> None:
    if alert.id not in incident.alert_ids:
        incident.alert_ids.append(alert.id)
    incident.entity_keys = sorted(set(incident.entity_keys) | keys)
    incident.updated = max(incident.updated, alert.last_occurred or alert.occurred)
    incident.created = min(incident.created, alert.occurred)
    if _SEVERITY_RANK[alert.severity] > _SEVERITY_RANK[incident.severity]:
        incident.severity = alert.severity


def _merge(home: Incident, other: Incident) -> None:
    home.alert_ids.extend(alert_id for alert_id in other.alert_ids if alert_id not in home.alert_ids)
    home.entity_keys = sorted(set(home.entity_keys) | set(other.entity_keys))
    home.updated = max(home.updated, other.updated)
    home.created = min(home.created, other.created)
    if _SEVERITY_RANK[other.severity] > _SEVERITY_RANK[home.severity]:
        home.severity = other.severity
    home.assigned_to = home.assigned_to or other.assigned_to
    other.status = IncidentStatus.REDIRECTED
    other.redirect_id = home.id


def retitle(incident: Incident, alerts: list[Alert]) -> None:
    incident.title = _title(alerts)


def _title(alerts: list[Alert]) -> str:
    """Name the incident after its alerts and the users they involve, as analysts scan for both."""
    users = sorted({user for alert in alerts for user in [alert.user, *alert.users] if user})
    policies = list(dict.fromkeys(alert.title for alert in alerts))
    who = ""
    if len(users) == 1:
        who = f" involving {users[0]}"
    elif users:
        who = f" involving {len(users)} users"
    if len(policies) == 1:
        return f"{policies[0]}{who}"
    return f"Multi-stage incident: {policies[0]} and {len(policies) - 1} more{who}"
