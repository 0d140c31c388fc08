"""Playbook inputs from outside the engine, as narrow interfaces the service fills in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from air_tui.domain.event import Event
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.message import EmailMessage
from air_tui.domain.tenant import MailboxSettings, Organisation, Submission, UrlClick, User
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
    scoring: Scoring = field(default_factory=Scoring)
    """Rule weights and thresholds in force, from the configuration."""
    online: OnlineChecker | None = None
    """Set only when `[intel.online]` turns a service on; investigations then ask it about
    URLs and files the local lists do not name."""
    emit: Callable[[list[Event]], None] = field(default=lambda events: None)
    """Receives events as each step finishes, so the screen can follow a running investigation."""
