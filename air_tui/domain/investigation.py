"""Investigations and what they find: entities with verdicts and evidence, clusters, the log."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import (
    IN_MAILBOX_FOLDERS,
    EntityKind,
    InvestigationStatus,
    ThreatType,
    Verdict,
)


class Investigation(BaseModel):
    id: str
    alert_id: str
    playbook: str
    title: str
    status: InvestigationStatus = InvestigationStatus.STARTING
    created: datetime
    started: datetime | None = None
    ended: datetime | None = None
    status_reason: str = ""
    alert_ids: list[str] = Field(default_factory=list)
    """Every alert in scope: the one that started it, then alerts that joined while it ran."""
    incident_id: str = ""
    queued: datetime | None = None
    """Time throttling put it in the queue, or None when it never waited."""
    pending_since: datetime | None = None
    """When it started waiting for approval; None when nothing waits."""
    pending_seconds: int = 0
    """Time spent waiting for approval in finished waits."""
    runs: int = 0
    """How many times the playbook ran; above 1 when alerts widened the scope."""

    def scope_alert_ids(self) -> list[str]:
        return self.alert_ids or [self.alert_id]


class StatusChange(BaseModel):
    """One entry of an investigation's status timeline."""

    time: datetime
    status: InvestigationStatus
    reason: str = ""
    actor: str = "system"


class Evidence(BaseModel):
    """One fact behind a verdict, in words an analyst can check."""

    text: str
    verdict: Verdict
    """Verdict this fact suggests on its own."""
    source: str = ""
    """The analyzer or data set that produced it."""
    rule: str = ""
    """Id of the named rule that fired, such as `sender.reply_to_differs`; empty for plain facts."""
    weight: int = 0
    """Points the rule added to the entity's score; negative weights count towards clean."""


class Entity(BaseModel):
    """Something the investigation examined, with its verdict and the evidence for it."""

    id: str
    """Unique within its investigation: `kind:key`."""
    kind: EntityKind
    key: str
    """Natural key: a message id, URL, sha256, address, IP or cluster id."""
    label: str
    """Short text to show; attacker-controlled for most kinds."""
    verdict: Verdict = Verdict.UNKNOWN
    threats: list[ThreatType] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    parent_id: str = ""
    """Entity this one was found in, for the investigation graph."""
    attributes: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)


class Cluster(BaseModel):
    """Messages across all mailboxes that share an indicator or sender and content."""

    id: str
    """Stable within an investigation: derived from `cluster_by` and `value`."""
    cluster_by: str
    """What members share: one of the `CLUSTER_BY_*` values in `air_tui.engine.clustering`."""
    value: str
    verdict: Verdict
    threats: list[ThreatType] = Field(default_factory=list)
    message_ids: list[str] = Field(default_factory=list)
    """Every member at investigation time, frozen."""
    counts_by_folder: dict[str, int] = Field(default_factory=dict)
    mailboxes: list[str] = Field(default_factory=list)

    @property
    def in_mailbox_count(self) -> int:
        """Members still in Inbox or Junk Email, where users can open them."""
        return sum(self.counts_by_folder.get(name, 0) for name in IN_MAILBOX_FOLDERS)


class LogStep(BaseModel):
    """One playbook step, as the investigation log shows it."""

    name: str
    started: datetime
    duration_ms: int
    outcome: str
    """`ok`, `failed: reason`, or `skipped: reason`."""
    summary: str = ""
    entities_touched: int = 0
