"""Alert policies: which activity raises an alert, at what severity, and which playbook it starts."""

from __future__ import annotations

from collections.abc import Iterable

from air_tui.domain.alert import Alert, AlertPolicy
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.tenant import Submission
from air_tui.domain.vocab import ReportType, Severity

USER_REPORTED_POLICY = AlertPolicy(
    id="user-reported-phish",
    name="Email reported by user as malware or phish",
    severity=Severity.LOW,
    starts_investigation=True,
    playbook="User-reported message",
)

POLICIES = {policy.id: policy for policy in (USER_REPORTED_POLICY,)}

_REPORTED_AS_THREAT = frozenset({ReportType.PHISH, ReportType.MALWARE})


def alerts_for_submissions(
    submissions: Iterable[Submission],
    *,
    already_raised: set[str],
    subjects: dict[str, str],
    message_ids: dict[str, str],
    clock: Clock,
    new_id: IdFactory,
) -> list[Alert]:
    """Raise one alert per submission reported as phish or malware that has no alert yet.

    `subjects` and `message_ids` map a submission id to the reported message's subject and id,
    where the message was found.
    """
    policy = USER_REPORTED_POLICY
    alerts: list[Alert] = []
    for submission in sorted(submissions, key=lambda s: (s.time, s.id)):
        if submission.report_type not in _REPORTED_AS_THREAT or submission.id in already_raised:
            continue
        message_id = message_ids.get(submission.id, "")
        alerts.append(
            Alert(
                id=new_id(),
                policy_id=policy.id,
                title=policy.name,
                severity=policy.severity,
                created=clock(),
                occurred=submission.time,
                subject=subjects.get(submission.id, ""),
                source_ids=[submission.id],
                user=submission.reporter,
                message_ids=[message_id] if message_id else [],
            )
        )
    return alerts
