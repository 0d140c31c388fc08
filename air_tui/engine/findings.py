"""Findings of a running playbook: entities by id, clusters and recommended actions."""

from __future__ import annotations

from dataclasses import dataclass, field

from air_tui.domain.action import PendingAction
from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Cluster, Entity
from air_tui.domain.vocab import EntityKind, InvestigationStatus, Verdict

ENTITY_NAMES = {
    EntityKind.ALERT: "Alert",
    EntityKind.SUBMISSION: "Report",
    EntityKind.MESSAGE: "Email",
    EntityKind.SENDER: "Sender",
    EntityKind.URL: "URL",
    EntityKind.FILE: "File",
    EntityKind.IP: "IP",
    EntityKind.MAILBOX: "Mailbox",
    EntityKind.CLUSTER: "Cluster",
    EntityKind.USER: "User",
    EntityKind.MAILBOX_CONFIG: "Setting",
}


@dataclass
class Findings:
    entities: dict[str, Entity] = field(default_factory=dict)
    clusters: list[Cluster] = field(default_factory=list)
    actions: list[PendingAction] = field(default_factory=list)

    def add(self, entity: Entity) -> Entity:
        existing = self.entities.get(entity.id)
        if existing is None:
            self.entities[entity.id] = entity
            return entity
        return existing


def count(number: int, noun: str) -> str:
    """Return `number noun` with the noun in plural unless the number is 1."""
    plural = noun + ("es" if noun.endswith("x") else "s")
    return f"{number} {noun if number == 1 else plural}"


@dataclass
class Outcome:
    """Result of a playbook run: the status it leads to, the reason, and the findings."""

    status: InvestigationStatus
    reason: str
    findings: Findings


def alert_entity(alert: Alert) -> Entity:
    """Build the entity for an alert in scope, with what analysts look up first about it."""
    attributes: dict[str, str | int | bool | list[str]] = {
        "severity": alert.severity.value,
        "policy": alert.policy_id,
        "occurred": alert.occurred.isoformat(),
        "hit_count": alert.hit_count,
    }
    if alert.users:
        attributes["users"] = list(alert.users)
    if alert.details:
        attributes["details"] = alert.details
    if alert.triggered_by:
        attributes["triggered_by"] = alert.triggered_by
    return Entity(id=f"alert:{alert.id}", kind=EntityKind.ALERT, key=alert.id, label=alert.title, verdict=Verdict.UNKNOWN, attributes=attributes)
