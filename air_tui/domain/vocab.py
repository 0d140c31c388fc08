"""Vocabularies shared by every layer: statuses, verdicts, severities, action types."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Alert severity, as alert policies assign it."""

    INFORMATIONAL = "Informational"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class AlertStatus(StrEnum):
    NEW = "New"
    IN_PROGRESS = "In progress"
    RESOLVED = "Resolved"


class InvestigationStatus(StrEnum):
    """Investigation status values, with Microsoft's names."""

    STARTING = "Starting"
    RUNNING = "Running"
    QUEUED_BY_THROTTLING = "Queued by throttling"
    PENDING_ACTION = "Pending action"
    PARTIALLY_REMEDIATED = "Partially remediated"
    REMEDIATED = "Remediated"
    NO_THREATS_FOUND = "No threats found"
    PARTIALLY_INVESTIGATED = "Partially investigated"
    FAILED = "Failed"
    TERMINATED_BY_SYSTEM = "Terminated by system"
    TERMINATED_BY_THROTTLING = "Terminated by throttling"
    TERMINATED_BY_USER = "Terminated by user"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL_STATUSES

    @property
    def explanation(self) -> str:
        """One plain sentence for the help screen and the detail view."""
        return _STATUS_EXPLANATIONS[self]


_TERMINAL_STATUSES = frozenset(
    {
        InvestigationStatus.REMEDIATED,
        InvestigationStatus.NO_THREATS_FOUND,
        InvestigationStatus.PARTIALLY_INVESTIGATED,
        InvestigationStatus.FAILED,
        InvestigationStatus.TERMINATED_BY_SYSTEM,
        InvestigationStatus.TERMINATED_BY_THROTTLING,
        InvestigationStatus.TERMINATED_BY_USER,
    }
)

_STATUS_EXPLANATIONS = {
    InvestigationStatus.STARTING: "The alert started the investigation and it waits for a worker.",
    InvestigationStatus.RUNNING: "Playbook steps are running, or approved actions are executing.",
    InvestigationStatus.QUEUED_BY_THROTTLING: "Held in the queue until other investigations finish.",
    InvestigationStatus.PENDING_ACTION: "Threats were found and remediation actions wait for approval.",
    InvestigationStatus.PARTIALLY_REMEDIATED: "Some actions ran; others still wait for a decision.",
    InvestigationStatus.REMEDIATED: "Every recommended action was decided, or the threat is gone.",
    InvestigationStatus.NO_THREATS_FOUND: "Nothing malicious was found; no action is needed.",
    InvestigationStatus.PARTIALLY_INVESTIGATED: "Issues were found that no action can clean up.",
    InvestigationStatus.FAILED: "A playbook step could not finish; see the investigation log.",
    InvestigationStatus.TERMINATED_BY_SYSTEM: "Stopped: actions expired or there was too much to analyse.",
    InvestigationStatus.TERMINATED_BY_THROTTLING: "Stopped after waiting in the queue too long.",
    InvestigationStatus.TERMINATED_BY_USER: "An analyst cancelled the investigation.",
}


class Playbook(StrEnum):
    """The playbooks investigations run; the value is the investigation type shown to analysts."""

    USER_REPORTED = "User-reported message"
    FILE_REMOVED = "Malicious file removed after delivery"
    URL_REMOVED = "Malicious URL removed after delivery"
    REMOVED = "Email removed after delivery"
    REMOVAL_FAILED = "Malicious email not removed"
    URL_CLICK = "URL click"
    COMPROMISED_USER = "Compromised user"
    MANUAL_EMAIL = "Manual email investigation"


class ManualTarget(StrEnum):
    """Target of a manual investigation an analyst starts from the explorer."""

    EMAIL = "email"
    RECIPIENT = "recipient"
    SENDER = "sender"


class IncidentStatus(StrEnum):
    ACTIVE = "Active"
    RESOLVED = "Resolved"
    REDIRECTED = "Redirected"
    """Merged into another incident, whose id the incident names."""


class Verdict(StrEnum):
    """Verdict on an entity, ordered from least to most severe by `rank`."""

    UNKNOWN = "Unknown"
    NO_THREATS_FOUND = "No threats found"
    SUSPICIOUS = "Suspicious"
    MALICIOUS = "Malicious"

    @property
    def rank(self) -> int:
        return _VERDICT_RANK[self]

    @classmethod
    def worst(cls, verdicts: "list[Verdict] | tuple[Verdict, ...]") -> "Verdict":
        """Return the most severe verdict, or No threats found for an empty list."""
        return max(verdicts, key=lambda verdict: verdict.rank, default=cls.NO_THREATS_FOUND)


_VERDICT_RANK = {
    Verdict.NO_THREATS_FOUND: 0,
    Verdict.UNKNOWN: 1,
    Verdict.SUSPICIOUS: 2,
    Verdict.MALICIOUS: 3,
}


class ThreatType(StrEnum):
    """Cluster and message threat tags."""

    MALWARE = "Malware"
    MALICIOUS_URL = "MaliciousUrl"
    HIGH_CONFIDENCE_PHISH = "HighConfPhish"
    PHISH = "Phish"
    SPAM = "Spam"


class EntityKind(StrEnum):
    """Kinds of entity an investigation gathers."""

    ALERT = "alert"
    SUBMISSION = "submission"
    MESSAGE = "message"
    SENDER = "sender"
    URL = "url"
    FILE = "file"
    IP = "ip"
    MAILBOX = "mailbox"
    CLUSTER = "cluster"
    USER = "user"
    MAILBOX_CONFIG = "mailbox_config"
    """A forwarding setting, inbox rule or delegation of a mailbox."""


class Folder(StrEnum):
    """Well-known mailbox folders; the value is the folder's name on disk and on screen."""

    INBOX = "Inbox"
    JUNK = "Junk Email"
    DELETED = "Deleted Items"
    SENT = "Sent Items"
    RECOVERABLE = "Recoverable Items"
    QUARANTINE = "Quarantine"


IN_MAILBOX_FOLDERS = frozenset({Folder.INBOX.value, Folder.JUNK.value})
"""Folders where a message still reaches its user, so a malicious copy there needs remediation."""


class ActionType(StrEnum):
    SOFT_DELETE = "Soft delete"
    HARD_DELETE = "Hard delete"
    MOVE_TO_JUNK = "Move to Junk Email"
    MOVE_TO_DELETED = "Move to Deleted Items"
    MOVE_TO_INBOX = "Move to Inbox"
    REMOVE_FORWARDING = "Remove forwarding"
    REMOVE_INBOX_RULE = "Remove inbox rule"
    REMOVE_DELEGATION = "Remove delegation"

    @property
    def destination(self) -> Folder | None:
        """Folder the messages move to, or None when they are purged or the action is on settings."""
        return _ACTION_DESTINATIONS.get(self)

    @property
    def on_messages(self) -> bool:
        """Whether the action moves or deletes messages; the others change mailbox settings."""
        return self in _ACTION_DESTINATIONS

    @property
    def reversible(self) -> bool:
        return self is not ActionType.HARD_DELETE


_ACTION_DESTINATIONS: dict[ActionType, Folder | None] = {
    ActionType.SOFT_DELETE: Folder.RECOVERABLE,
    ActionType.HARD_DELETE: None,
    ActionType.MOVE_TO_JUNK: Folder.JUNK,
    ActionType.MOVE_TO_DELETED: Folder.DELETED,
    ActionType.MOVE_TO_INBOX: Folder.INBOX,
}


class ActionStatus(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    RUNNING = "Running"
    COMPLETED = "Completed"
    PARTIALLY_FAILED = "Partially failed"
    FAILED = "Failed"
    REJECTED = "Rejected"
    EXPIRED = "Expired"
    UNDONE = "Undone"

    @property
    def is_decided(self) -> bool:
        return self is not ActionStatus.PENDING


class DecisionKind(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class TargetResult(StrEnum):
    """Outcome of an action on one message."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ALREADY_IN_DESTINATION = "Already in destination"
    NOT_FOUND = "Not found"


class ReportType(StrEnum):
    """A user's classification of a reported message."""

    PHISH = "Phish"
    MALWARE = "Malware"
    JUNK = "Junk"
    NOT_JUNK = "NotJunk"


class ParseStatus(StrEnum):
    PARSED = "parsed"
    PARSED_WITH_WARNINGS = "parsed with warnings"
    FAILED = "failed"
