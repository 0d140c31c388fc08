"""Alert policies: which activity raises an alert, at what severity, and which playbook it starts.

Detection turns tenant activity into `AlertSignal`s, one per event. `fold_signals` then folds the
signals of one policy within the aggregation window into one alert with a hit count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from air_tui.domain.alert import Alert, AlertPolicy
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.vocab import Playbook, Severity

USER_REPORTED = "user-reported-phish"
FILE_REMOVED = "malicious-file-removed"
URL_REMOVED = "malicious-url-removed"
CAMPAIGN_REMOVED = "campaign-removed"
EMAIL_REMOVED = "email-removed"
REMOVAL_FAILED = "removal-failed"
URL_CLICK = "url-click"
URL_CLICK_THROUGH = "url-click-through"
SUSPICIOUS_SENDING = "suspicious-sending"
USER_RESTRICTED = "user-restricted"
MANUAL_EMAIL = "manual-email"
MANUAL_USER = "manual-user-compromise"
FORWARDING_RULE = "forwarding-rule-created"
SUSPICIOUS_FORWARDING = "suspicious-forwarding"


def _policy(policy_id: str, name: str, severity: Severity, playbook: Playbook | None, description: str, *, aggregate: bool = True) -> AlertPolicy:
    return AlertPolicy(
        id=policy_id,
        name=name,
        severity=severity,
        starts_investigation=playbook is not None,
        playbook=playbook.value if playbook else "",
        aggregate=aggregate,
        description=description,
    )


BUILT_IN_POLICIES: tuple[AlertPolicy, ...] = (
    _policy(USER_REPORTED, "Email reported by user as malware or phish", Severity.LOW, Playbook.USER_REPORTED,
            "A user reported a message as phish or malware."),
    _policy(FILE_REMOVED, "Email messages containing malicious file removed after delivery", Severity.INFORMATIONAL, Playbook.FILE_REMOVED,
            "An intel refresh listed a delivered message's attachment, and the message was moved."),
    _policy(URL_REMOVED, "Email messages containing malicious URL removed after delivery", Severity.INFORMATIONAL, Playbook.URL_REMOVED,
            "An intel refresh listed a delivered message's URL, and the message was moved."),
    _policy(CAMPAIGN_REMOVED, "Email messages from a campaign removed after delivery", Severity.INFORMATIONAL, Playbook.REMOVED,
            "One listed indicator was in five or more delivered copies across mailboxes, and they were moved."),
    _policy(EMAIL_REMOVED, "Email messages removed after delivery", Severity.INFORMATIONAL, Playbook.REMOVED,
            "A delivered message turned malicious without a listed URL or file (its sender domain is listed), and it was moved."),
    _policy(REMOVAL_FAILED, "Messages containing malicious entity not removed after delivery", Severity.MEDIUM, Playbook.REMOVAL_FAILED,
            "A delivered message turned malicious, but moving it failed."),
    _policy(URL_CLICK, "A potentially malicious URL click was detected", Severity.HIGH, Playbook.URL_CLICK,
            "A user opened a URL that intel lists as malicious.", aggregate=False),
    _policy(URL_CLICK_THROUGH, "A user clicked through to a potentially malicious URL", Severity.HIGH, Playbook.URL_CLICK,
            "A user went past a warning page to a URL that intel lists as malicious.", aggregate=False),
    _policy(SUSPICIOUS_SENDING, "Suspicious email sending patterns detected", Severity.MEDIUM, Playbook.COMPROMISED_USER,
            "A user sent far more mail in a day than their usual daily volume."),
    _policy(USER_RESTRICTED, "User restricted from sending email", Severity.HIGH, Playbook.COMPROMISED_USER,
            "The outbound filter blocked a user from sending mail."),
    _policy(MANUAL_EMAIL, "Admin triggered manual investigation of email", Severity.INFORMATIONAL, Playbook.MANUAL_EMAIL,
            "An analyst started an investigation of an email.", aggregate=False),
    _policy(MANUAL_USER, "Admin triggered user compromise investigation", Severity.MEDIUM, Playbook.COMPROMISED_USER,
            "An analyst started a compromise investigation of a recipient or sender.", aggregate=False),
    _policy(FORWARDING_RULE, "Creation of forwarding/redirect rule", Severity.INFORMATIONAL, None,
            "Someone created or changed an inbox rule that forwards or redirects mail outside the organisation."),
    _policy(SUSPICIOUS_FORWARDING, "Suspicious email forwarding activity", Severity.HIGH, None,
            "Someone set a mailbox to forward all its mail outside the organisation."),
)

POLICIES: dict[str, AlertPolicy] = {policy.id: policy for policy in BUILT_IN_POLICIES}

# Kept for callers that name the first policy directly.
USER_REPORTED_POLICY = POLICIES[USER_REPORTED]


def policies_in_force(disabled: Iterable[str]) -> dict[str, AlertPolicy]:
    """Return every built-in policy, with those named in `disabled` turned off."""
    off = set(disabled)
    return {policy.id: policy.model_copy(update={"enabled": policy.id not in off}) for policy in BUILT_IN_POLICIES}


def unknown_policy_ids(ids: Iterable[str]) -> list[str]:
    return sorted(set(ids) - set(POLICIES))


@dataclass
class AlertSignal:
    """One event that matches a policy: a report, a click, a removal, a restriction, an audit record."""

    policy_id: str
    time: datetime
    source_id: str
    user: str = ""
    subject: str = ""
    message_ids: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    file_hashes: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    details: str = ""
    triggered_by: str = ""


@dataclass
class FoldResult:
    """New alerts, and existing alerts that gained hits, from one batch of signals."""

    new: list[Alert] = field(default_factory=list)
    grown: list[Alert] = field(default_factory=list)


def fold_signals(
    signals: Iterable[AlertSignal],
    *,
    policies: dict[str, AlertPolicy],
    window_seconds: int,
    open_alerts: Iterable[Alert] = (),
    clock: Clock,
    new_id: IdFactory,
) -> FoldResult:
    """Turn signals into alerts: one per signal, or folded per policy within the window.

    A signal folds into the alert of its policy whose first event is at most `window_seconds`
    earlier, whether that alert is new in this batch or one of `open_alerts` (stored alerts
    whose investigation has not finished). Signals of a policy that is turned off raise nothing.
    """
    window = timedelta(seconds=window_seconds)
    result = FoldResult()
    latest: dict[str, Alert] = {}
    for alert in sorted(open_alerts, key=lambda item: item.occurred):
        latest[alert.policy_id] = alert
    for signal in sorted(signals, key=lambda item: (item.time, item.source_id)):
        policy = policies.get(signal.policy_id)
        if policy is None or not policy.enabled:
            continue
        current = latest.get(policy.id)
        if policy.aggregate and window_seconds > 0 and current is not None and signal.time - current.occurred <= window and signal.time >= current.occurred:
            _fold(current, signal)
            if current not in result.new and current not in result.grown:
                result.grown.append(current)
            continue
        alert = Alert(
            id=new_id(),
            policy_id=policy.id,
            title=policy.name,
            severity=policy.severity,
            created=clock(),
            occurred=signal.time,
            last_occurred=signal.time,
            subject=signal.subject,
            source_ids=[signal.source_id],
            user=signal.user,
            users=_unique([signal.user, *signal.users]),
            message_ids=list(signal.message_ids),
            urls=list(signal.urls),
            file_hashes=list(signal.file_hashes),
            details=signal.details,
            triggered_by=signal.triggered_by,
        )
        result.new.append(alert)
        latest[policy.id] = alert
    return result


def _fold(alert: Alert, signal: AlertSignal) -> None:
    alert.hit_count += 1
    alert.source_ids = _unique([*alert.source_ids, signal.source_id])
    alert.message_ids = _unique([*alert.message_ids, *signal.message_ids])
    alert.urls = _unique([*alert.urls, *signal.urls])
    alert.file_hashes = _unique([*alert.file_hashes, *signal.file_hashes])
    alert.users = _unique([*alert.users, signal.user, *signal.users])
    alert.last_occurred = max(alert.last_occurred or alert.occurred, signal.time)
    if not alert.subject and signal.subject:
        alert.subject = signal.subject
    if signal.details and signal.details not in alert.details:
        alert.details = f"{alert.details}; {signal.details}" if alert.details else signal.details


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value:
            seen.setdefault(value, None)
    return list(seen)
