"""The organisation and its activity: users, submissions, clicks, sign-ins, mailbox settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import ReportType


class Organisation(BaseModel):
    name: str
    domains: list[str]
    authserv_id: str = ""
    """The authserv-id the tenant's own boundary writes in Authentication-Results."""
    brands: list[str] = Field(default_factory=list)
    """Frequently impersonated brands, checked for lookalike sender domains."""
    reference_time: datetime | None = None


class User(BaseModel):
    id: str
    display_name: str
    address: str
    department: str = ""
    title: str = ""
    vip: bool = False
    enabled: bool = True
    sessions_revoked_at: datetime | None = None
    """When a Disable user action revoked the account's sessions; sign-ins before it no longer count."""
    mailbox_location: str = "cloud"
    """`cloud`, or `on-premises` for a hybrid mailbox that removal after delivery cannot reach."""


class Submission(BaseModel):
    """A user's report of a message as phish, malware, junk or not junk."""

    id: str
    time: datetime
    reporter: str
    report_type: ReportType
    mailbox: str
    key: str
    """Store key of the reported copy in `mailbox`."""
    internet_message_id: str = ""


class UrlClick(BaseModel):
    id: str
    time: datetime
    user: str
    url: str
    action: str
    """`allowed`, `blocked` or `clicked_through` (past a warning page)."""
    mailbox: str = ""
    key: str = ""


class SignIn(BaseModel):
    time: datetime
    user: str
    ip: str
    country: str = ""
    app: str = ""
    result: str = "success"


class AuditRecord(BaseModel):
    """A mailbox audit record: a change someone made to a mailbox's settings."""

    id: str
    time: datetime
    user: str
    """The user who made the change."""
    mailbox: str
    operation: str
    """Exchange cmdlet name, e.g. `New-InboxRule`, `Set-InboxRule`, `Set-Mailbox`, `Add-MailboxPermission`."""
    parameters: dict[str, object] = Field(default_factory=dict)
    client_ip: str = ""


class Restriction(BaseModel):
    """A user blocked from sending mail, as the outbound spam filter records it."""

    id: str
    time: datetime
    user: str
    reason: str = ""


class AdminAction(BaseModel):
    """A manual investigation an analyst started outside this console, e.g. in the portal."""

    id: str
    time: datetime
    analyst: str
    target: str
    """`email`, `recipient` or `sender`."""
    mailbox: str = ""
    key: str = ""
    """Store key of the email in `mailbox`, for an email investigation."""
    address: str = ""
    """The recipient or sender investigated."""


class Forwarding(BaseModel):
    smtp_address: str
    deliver_and_forward: bool = True
    set_at: datetime | None = None


class InboxRule(BaseModel):
    id: str
    name: str
    created: datetime | None = None
    enabled: bool = True
    conditions: dict[str, list[str]] = Field(default_factory=dict)
    actions: dict[str, object] = Field(default_factory=dict)


class Delegate(BaseModel):
    address: str
    access: str = "FullAccess"
    added: datetime | None = None


class MailboxSettings(BaseModel):
    forwarding: Forwarding | None = None
    inbox_rules: list[InboxRule] = Field(default_factory=list)
    delegates: list[Delegate] = Field(default_factory=list)
