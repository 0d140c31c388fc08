"""Playbook inputs from outside the engine, as narrow interfaces the service fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from air_tui.domain.event import Event
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.message import EmailMessage
from air_tui.domain.action import PendingAction
from air_tui.domain.config import InvestigationConfig
from air_tui.domain.tenant import AuditRecord, MailboxSettings, Organisation, Restriction, SignIn, Submission, UrlClick, User
from air_tui.engine.rules import Scoring
from air_tui.intel import IntelSnapshot
from air_tui.intel.online import LookupResult


class OnlineChecker(Protocol):
    """Optional look-ups at third-party reputation services, turned on in configuration."""

    def check_url(self, url: str) -> LookupResult: ...

    def check_file(self, sha256: str) -> LookupResult: ...


class MessageIndex(Protocol):
    """Look-ups over every indexed message in the tenant."""

    def load(self, message_id: str) -> EmailMessage | None: ...

    def ids_with_url(self, url: str) -> list[str]: ...

    def ids_with_url_domain(self, registrable_domain: str) -> list[str]: ...

    def ids_with_attachment(self, sha256: str) -> list[str]: ...

    def ids_with_similar_body(
        self, fingerprint: str, max_distance: int, *, sender_domain: str | None = None, sender_ip: str | None = None
    ) -> list[str]:
        """Return ids of messages whose body fingerprint is within `max_distance` bits, from one
        sender domain or one sender IP (exactly one of the two is given)."""
        ...

    def ids_with_subject(self, subject: str, *, sender_domain: str | None = None, sender_ip: str | None = None) -> list[str]:
        """Return ids of messages with the same normalised subject, from one sender domain or IP."""
        ...

    def body_texts(self, message_ids: list[str]) -> dict[str, str]:
        """Map each message id found to its body text."""
        ...

    def earlier_from_sender(self, sender_address: str, before: str) -> int:
        """Count messages from this sender received before the ISO time `before`."""
        ...

    def locations(self, message_ids: list[str]) -> dict[str, tuple[str, str]]:
        """Map each message id to its current (mailbox, folder)."""
        ...

    def sent_messages(self, mailbox: str, since: str, until: str) -> list[tuple[str, str]]:
        """Return (message id, received_at) of messages in the mailbox's Sent Items, with ISO times
        from `since` up to but not including `until`, oldest first."""
        ...


@dataclass
class PlaybookContext:
    organisation: Organisation
    users: list[User]
    intel: IntelSnapshot
    messages: MessageIndex
    submissions: list[Submission]
    clicks: list[UrlClick]
    mailbox_settings: dict[str, MailboxSettings]
    clock: Clock
    new_id: IdFactory
    signins: list[SignIn] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    restrictions: list[Restriction] = field(default_factory=list)
    now: Callable[[], datetime] | None = None
    """The tenant's present for activity windows (clicks in the last 48 hours, sending in the last
    7 to 10 days). A tenant with a reference time, such as the demo, keeps its activity recent;
    None means the clock."""
    settings: InvestigationConfig = field(default_factory=InvestigationConfig)
    removals: dict[str, dict] = field(default_factory=dict)
    """Removals after delivery by message id: the reason, the folders and the result."""
    log_start: int = 0
    """Log lines the investigation has already, so a rerun appends to its log instead of overwriting it."""
    existing_actions: list[PendingAction] = field(default_factory=list)
    """Actions an earlier run of the same investigation proposed; a rerun does not propose them again."""
    scoring: Scoring = field(default_factory=Scoring)
    """Rule weights and thresholds in force, from the configuration."""
    online: OnlineChecker | None = None
    """Set only when `[intel.online]` turns a service on; investigations then ask it about
    URLs and files the local lists do not name."""
    emit: Callable[[list[Event]], None] = field(default=lambda events: None)
    """Receives events as each step finishes, so the screen can follow a running investigation."""

    def tenant_now(self) -> datetime:
        return self.now() if self.now is not None else self.clock()
