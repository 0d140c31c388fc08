"""Removal after delivery: which delivered messages an intel refresh shows to be malicious, and where they go.

Like Microsoft's zero-hour auto purge, only mail delivered within the configured window (48 hours
by default) is moved: to Quarantine for malware and high-confidence phish, to Junk Email
otherwise, as the `[removal]` section of the configuration sets. Planning is pure: the service
moves the files and records each move in the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from air_tui.domain.config import RemovalConfig
from air_tui.domain.tenant import User
from air_tui.engine import policies
from air_tui.engine.analyzers import MessageAnalyzer
from air_tui.intel import IntelMatch

CAMPAIGN_COPIES = 5
"""Copies of one listed indicator, across two or more mailboxes, that make the removal a campaign."""

SKIPPED_FOLDERS = frozenset({"Junk Email", "Deleted Items", "Sent Items", "Recoverable Items", "Quarantine"})
"""Folders removal never takes mail from: already out of the user's way, or sent by the user."""


@dataclass(frozen=True)
class Candidate:
    """A delivered message and the indicators it carries, as the message index stores them."""

    message_id: str
    mailbox: str
    folder: str
    subject: str
    sender_domain: str
    urls: tuple[tuple[str, str], ...]
    """(URL, host) pairs."""
    file_hashes: tuple[str, ...]


@dataclass(frozen=True)
class PlannedRemoval:
    message_id: str
    mailbox: str
    folder: str
    subject: str
    kind: str
    """`file`, `url` or `sender`: what made the message malicious, in that order of preference."""
    indicator: str
    threat: str
    reason: str
    destination: str
    policy_id: str
    blocked_reason: str = ""
    """Reason the message cannot be moved (an on-premises mailbox), or empty when it can."""


def plan_removals(candidates: list[Candidate], analyzer: MessageAnalyzer, config: RemovalConfig, users: list[User]) -> list[PlannedRemoval]:
    """Return a removal for each candidate that carries a listed file, URL or sender domain."""
    on_premises = {user.address.lower() for user in users if user.mailbox_location.lower() == "on-premises"}
    found: list[tuple[Candidate, str, str, IntelMatch, bool]] = []
    for candidate in candidates:
        if candidate.folder in SKIPPED_FOLDERS:
            continue
        hit = _listing(candidate, analyzer)
        if hit is not None:
            found.append((candidate, *hit))
    # One indicator in many copies across mailboxes is a campaign, whatever kind it is.
    copies: dict[str, set[str]] = defaultdict(set)
    mailboxes: dict[str, set[str]] = defaultdict(set)
    for candidate, _, indicator, _, _ in found:
        copies[indicator].add(candidate.message_id)
        mailboxes[indicator].add(candidate.mailbox.lower())
    plans: list[PlannedRemoval] = []
    for candidate, kind, indicator, match, exact in found:
        threat = match.threat or "Phish"
        campaign = len(copies[indicator]) >= CAMPAIGN_COPIES and len(mailboxes[indicator]) >= 2
        policy_id = {"file": policies.FILE_REMOVED, "url": policies.URL_REMOVED}.get(kind, policies.EMAIL_REMOVED)
        if campaign:
            policy_id = policies.CAMPAIGN_REMOVED
        blocked = ""
        if candidate.mailbox.lower() in on_premises:
            blocked = "the mailbox is on premises, out of reach of removal after delivery; remove the copy in Exchange on premises"
            policy_id = policies.REMOVAL_FAILED
        plans.append(
            PlannedRemoval(
                message_id=candidate.message_id,
                mailbox=candidate.mailbox,
                folder=candidate.folder,
                subject=candidate.subject,
                kind=kind,
                indicator=indicator,
                threat=threat,
                reason=_reason(kind, match, campaign, len(copies[indicator]), len(mailboxes[indicator])),
                destination=_destination(kind, threat, exact, config),
                policy_id=policy_id,
                blocked_reason=blocked,
            )
        )
    return plans


def _listing(candidate: Candidate, analyzer: MessageAnalyzer) -> tuple[str, str, IntelMatch, bool] | None:
    """Return (kind, indicator, listing, exact) for the strongest listed indicator of a message."""
    for sha256 in candidate.file_hashes:
        match = analyzer.intel.lookup_file(sha256)
        if match is not None:
            return "file", sha256, match, True
    for url, host in candidate.urls:
        match = analyzer.intel.lookup_url(url)
        if match is not None and analyzer.intel.allowed(host) is None:
            return "url", url, match, True
    for url, host in candidate.urls:
        match = analyzer.listed_domain(host)
        if match is not None:
            return "url", url, match, False
    match = analyzer.listed_domain(candidate.sender_domain)
    if match is not None:
        return "sender", candidate.sender_domain, match, False
    return None


def _destination(kind: str, threat: str, exact: bool, config: RemovalConfig) -> str:
    lowered = threat.lower()
    if "malware" in lowered:
        return config.malware
    if "spam" in lowered:
        return config.spam
    # An exact file or URL listed as phish is high confidence; a listed domain is ordinary phish.
    if exact and kind in ("file", "url"):
        return config.high_confidence_phish
    return config.phish


def _reason(kind: str, match: IntelMatch, campaign: bool, copies: int, mailboxes: int) -> str:
    what = {"file": "File", "url": "URL", "sender": "Sender domain"}[kind]
    text = match.describe(what) + "."
    if campaign:
        text += f" The same indicator is in {copies} delivered copies across {mailboxes} mailboxes: a campaign."
    return text
