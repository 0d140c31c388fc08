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
    BLOCK_SENDER = "Block sender"
    BLOCK_DOMAIN = "Block sender domain"
    BLOCK_URL = "Block URL"
    BLOCK_FILE = "Block file"
    REMOVE_FORWARDING = "Remove forwarding"
    REMOVE_INBOX_RULE = "Remove inbox rule"
    REMOVE_DELEGATION = "Remove delegation"
    DISABLE_USER = "Disable user and revoke sessions"
    START_INVESTIGATION = "Start investigation"

    @property
    def destination(self) -> Folder | None:
        """Folder the messages move to, or None when they are purged or the action is not on messages."""
        return _ACTION_DESTINATIONS.get(self)

    @property
    def on_messages(self) -> bool:
        """Whether the action moves or deletes messages."""
        return self in _ACTION_DESTINATIONS

    @property
    def on_settings(self) -> bool:
        """Whether the action removes a mailbox setting: forwarding, an inbox rule or a delegation."""
        return self in (ActionType.REMOVE_FORWARDING, ActionType.REMOVE_INBOX_RULE, ActionType.REMOVE_DELEGATION)

    @property
    def block_kind(self) -> BlockKind | None:
        """The kind of block list entry the action adds, or None for other actions."""
        return _BLOCK_KINDS.get(self)

    @property
    def reversible(self) -> bool:
        """Whether an undo can put things back; a new investigation has nothing to undo."""
        return self not in (ActionType.HARD_DELETE, ActionType.START_INVESTIGATION)

    @property
    def needs_admin(self) -> bool:
        """Irreversible actions and changes to the tenant's block list need the admin role."""
        return self is ActionType.HARD_DELETE or self in _BLOCK_KINDS

    @property
    def undo_note(self) -> str:
        """What an undo does, or why there is none, in one sentence shown before approval."""
        return _UNDO_NOTES[self]


class BlockKind(StrEnum):
    """What a tenant block list entry matches."""

    SENDER = "sender"
    DOMAIN = "domain"
    URL = "url"
    FILE = "file"


_BLOCK_KINDS = {
    ActionType.BLOCK_SENDER: BlockKind.SENDER,
    ActionType.BLOCK_DOMAIN: BlockKind.DOMAIN,
    ActionType.BLOCK_URL: BlockKind.URL,
    ActionType.BLOCK_FILE: BlockKind.FILE,
}

EMAIL_ACTION_TYPES = (
    ActionType.SOFT_DELETE,
    ActionType.HARD_DELETE,
    ActionType.MOVE_TO_JUNK,
    ActionType.MOVE_TO_DELETED,
    ActionType.MOVE_TO_INBOX,
)
"""Actions on messages; an approver may swap one for another before approving."""

_ACTION_DESTINATIONS: dict[ActionType, Folder | None] = {
    ActionType.SOFT_DELETE: Folder.RECOVERABLE,
    ActionType.HARD_DELETE: None,
    ActionType.MOVE_TO_JUNK: Folder.JUNK,
    ActionType.MOVE_TO_DELETED: Folder.DELETED,
    ActionType.MOVE_TO_INBOX: Folder.INBOX,
}

_UNDO_NOTES = {
    ActionType.SOFT_DELETE: "Undo moves each message back to the folder it came from.",
    ActionType.HARD_DELETE: "Cannot be undone: the messages are purged from the mailboxes.",
    ActionType.MOVE_TO_JUNK: "Undo moves each message back to the folder it came from.",
    ActionType.MOVE_TO_DELETED: "Undo moves each message back to the folder it came from.",
    ActionType.MOVE_TO_INBOX: "Undo moves each message back to the folder it came from.",
    ActionType.BLOCK_SENDER: "Undo removes the block entry; mail it junked stays in Junk Email.",
    ActionType.BLOCK_DOMAIN: "Undo removes the block entry; mail it junked stays in Junk Email.",
    ActionType.BLOCK_URL: "Undo removes the block entry; mail it junked stays in Junk Email.",
    ActionType.BLOCK_FILE: "Undo removes the block entry; mail it junked stays in Junk Email.",
    ActionType.REMOVE_FORWARDING: "Undo puts the forwarding back as it was recorded before the change.",
    ActionType.REMOVE_INBOX_RULE: "Undo puts the rule back in its old place, as recorded before the change.",
    ActionType.REMOVE_DELEGATION: "Undo gives the delegate its recorded access back.",
    ActionType.DISABLE_USER: "Undo enables the account again; revoked sessions stay revoked, so the user signs in anew.",
    ActionType.START_INVESTIGATION: "Nothing to undo: stop the investigation instead.",
}


class ActionSource(StrEnum):
    """Who proposed an action."""

    AUTOMATED = "Automated investigation"
    MANUAL = "Analyst"


class ActionPhase(StrEnum):
    """Which way an approved action runs: the change itself, or its undo."""

    DO = "do"
    UNDO = "undo"


class ActionStatus(StrEnum):
    PENDING = "Pending"
    APPROVED = "Approved"
    """Decided and waiting to run, for instance for a free execution slot."""
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

    @property
    def is_finished(self) -> bool:
        """Whether the action ran to an end, so its results can be undone or retried."""
        return self in (ActionStatus.COMPLETED, ActionStatus.PARTIALLY_FAILED, ActionStatus.FAILED)


class DecisionKind(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    RETRY = "retry"
    """Run the targets that failed again."""
    UNDO = "undo"

    @property
    def verb(self) -> str:
        """The decision as a past-tense verb for logs: `ana approved ...`."""
        return {"approved": "approved", "rejected": "rejected", "retry": "retried", "undo": "undid"}[self.value]


class TargetResult(StrEnum):
    """Outcome of an action on one target."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    ALREADY_IN_DESTINATION = "Already in destination"
    NOT_FOUND = "Not found"
    SUBMITTED = "Submitted"
    """Accepted by a remote service that finishes the move itself, such as Microsoft Graph."""


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
