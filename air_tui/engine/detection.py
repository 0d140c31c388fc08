"""Detection: tenant activity that matches an alert policy, as one `AlertSignal` per event."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from air_tui.domain.tenant import AdminAction, AuditRecord, Restriction, Submission, UrlClick
from air_tui.domain.vocab import ReportType
from air_tui.engine import policies
from air_tui.engine.analyzers import MessageAnalyzer
from air_tui.engine.policies import AlertSignal
from air_tui.intel import IntelMatch
from air_tui.mail import message_id_for

_REPORTED_AS_THREAT = frozenset({ReportType.PHISH, ReportType.MALWARE})

CLICK_LOOKBACK = timedelta(hours=48)
"""Clicks up to this long before a URL was listed still raise alerts: the URL was bad already."""

SENDING_MINIMUM = 20
"""Messages in 24 hours below which sending is never called suspicious, whatever the ratio."""
SENDING_RATIO = 5.0
"""Times the usual daily volume that makes a day's sending suspicious."""
BASELINE_DAYS = 10


def submission_signals(submissions: Iterable[Submission], subjects: dict[str, str]) -> list[AlertSignal]:
    """Return one signal per report of a message as phish or malware; `subjects` maps message ids to subjects."""
    signals = []
    for submission in submissions:
        if submission.report_type not in _REPORTED_AS_THREAT:
            continue
        message_id = message_id_for(submission.mailbox, submission.key)
        known = message_id in subjects
        signals.append(
            AlertSignal(
                policy_id=policies.USER_REPORTED,
                time=submission.time,
                source_id=submission.id,
                user=submission.reporter,
                subject=subjects.get(message_id, ""),
                message_ids=[message_id] if known else [],
                details=f"Reported as {submission.report_type.value} by {submission.reporter}",
            )
        )
    return signals


def click_signals(clicks: Iterable[UrlClick], analyzer: MessageAnalyzer) -> list[AlertSignal]:
    """Return one signal per click that reached a URL intel lists; blocked clicks reached nothing."""
    signals = []
    for click in clicks:
        if click.action == "blocked":
            continue
        match = url_listing(click.url, analyzer)
        if match is None or not _within_lookback(click.time, match):
            continue
        through = click.action == "clicked_through"
        message_ids = [message_id_for(click.mailbox, click.key)] if click.mailbox and click.key else []
        signals.append(
            AlertSignal(
                policy_id=policies.URL_CLICK_THROUGH if through else policies.URL_CLICK,
                time=click.time,
                source_id=click.id,
                user=click.user,
                urls=[click.url],
                message_ids=message_ids,
                subject=click.url,
                details=f"{click.user} {'clicked through a warning to' if through else 'opened'} {click.url}, listed as {match.threat} by {match.source}",
            )
        )
    return signals


def url_listing(url: str, analyzer: MessageAnalyzer) -> IntelMatch | None:
    """Return the listing that makes a URL malicious: the URL itself, or its host's domain."""
    match = analyzer.intel.lookup_url(url)
    if match is not None:
        return match
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    return analyzer.listed_domain(host)


def _within_lookback(time: datetime, match: IntelMatch) -> bool:
    if not match.added:
        return True
    try:
        listed = datetime.fromisoformat(match.added)
    except ValueError:
        return True
    if listed.tzinfo is None:
        listed = listed.replace(tzinfo=time.tzinfo)
    return time >= listed - CLICK_LOOKBACK


def sending_signals(daily_sent: dict[str, dict[date, int]], last_day: dict[str, int], now: datetime) -> list[AlertSignal]:
    """Signal each user whose mail sent in the 24 hours before `now` is far above their usual day.

    Args:
        daily_sent: For each user, messages in Sent Items per day over the baseline days before the last 24 hours.
        last_day: For each user, messages sent in the 24 hours before `now`.
    """
    signals = []
    for user, sent in sorted(last_day.items()):
        history = daily_sent.get(user, {})
        # Days without mail count as zero, but the average is over at least 7 days, so a new
        # account's first busy day is not compared with nothing.
        average = sum(history.values()) / max(7, min(BASELINE_DAYS, len(history) or 7))
        if sent < SENDING_MINIMUM or sent < SENDING_RATIO * max(average, 1.0):
            continue
        signals.append(
            AlertSignal(
                policy_id=policies.SUSPICIOUS_SENDING,
                time=now,
                source_id=f"sending:{user}:{now.date().isoformat()}",
                user=user,
                subject=f"{sent} messages sent in 24 hours",
                details=f"{user} sent {sent} messages in the 24 hours before {now:%Y-%m-%d %H:%M} UTC, against {average:.1f} a day over the {BASELINE_DAYS} days before",
            )
        )
    return signals


def restriction_signals(restrictions: Iterable[Restriction]) -> list[AlertSignal]:
    return [
        AlertSignal(
            policy_id=policies.USER_RESTRICTED,
            time=item.time,
            source_id=item.id,
            user=item.user,
            subject=f"{item.user} restricted from sending",
            details=item.reason or "Blocked from sending by the outbound spam filter",
        )
        for item in restrictions
    ]


def admin_action_signals(actions: Iterable[AdminAction]) -> list[AlertSignal]:
    signals = []
    for action in actions:
        if action.target == "email":
            message_id = message_id_for(action.mailbox, action.key) if action.mailbox and action.key else ""
            signals.append(
                AlertSignal(
                    policy_id=policies.MANUAL_EMAIL,
                    time=action.time,
                    source_id=action.id,
                    user=action.mailbox,
                    message_ids=[message_id] if message_id else [],
                    details=f"{action.analyst} started an investigation of an email in {action.mailbox}",
                    triggered_by=action.analyst,
                )
            )
        else:
            signals.append(
                AlertSignal(
                    policy_id=policies.MANUAL_USER,
                    time=action.time,
                    source_id=action.id,
                    user=action.address,
                    subject=f"{action.target.capitalize()} {action.address}",
                    details=f"{action.analyst} started a compromise investigation of the {action.target} {action.address}",
                    triggered_by=action.analyst,
                )
            )
    return signals


_RULE_OPERATIONS = frozenset({"new-inboxrule", "set-inboxrule"})
_RULE_TARGETS = ("forwardto", "redirectto", "forwardasattachmentto")
_MAILBOX_TARGETS = ("forwardingsmtpaddress", "forwardingaddress")


def audit_signals(records: Iterable[AuditRecord], own_domains: list[str]) -> list[AlertSignal]:
    """Signal inbox rules and mailbox settings that send mail outside the organisation."""
    own = tuple(domain.lower() for domain in own_domains)
    signals = []
    for record in records:
        parameters = {key.lower(): value for key, value in record.parameters.items()}
        operation = record.operation.lower()
        if operation in _RULE_OPERATIONS:
            targets = _external(parameters, _RULE_TARGETS, own)
            if targets:
                name = str(parameters.get("name") or parameters.get("identity") or "(unnamed)")
                signals.append(
                    AlertSignal(
                        policy_id=policies.FORWARDING_RULE,
                        time=record.time,
                        source_id=record.id,
                        user=record.mailbox,
                        users=[record.user],
                        subject=f"Inbox rule '{name}' forwards to {', '.join(targets)}",
                        details=f"{record.user} ran {record.operation} on {record.mailbox}: rule '{name}' forwards to {', '.join(targets)}",
                    )
                )
        elif operation == "set-mailbox":
            targets = _external(parameters, _MAILBOX_TARGETS, own)
            if targets:
                signals.append(
                    AlertSignal(
                        policy_id=policies.SUSPICIOUS_FORWARDING,
                        time=record.time,
                        source_id=record.id,
                        user=record.mailbox,
                        users=[record.user],
                        subject=f"Mailbox forwards to {', '.join(targets)}",
                        details=f"{record.user} set {record.mailbox} to forward all mail to {', '.join(targets)}",
                    )
                )
    return signals


def _external(parameters: dict[str, object], keys: tuple[str, ...], own: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for key in keys:
        value = parameters.get(key)
        if isinstance(value, list):
            values = value
        else:
            values = [value] if value else []
        for item in values:
            address = str(item).strip()
            if address.lower().startswith("smtp:"):
                address = address[5:]
            domain = address.rsplit("@", 1)[-1].lower()
            if address and not (domain in own or domain.endswith(tuple("." + d for d in own))):
                found.append(address)
    return found
