"""Pending actions, the decisions on them and their per-message results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import (
    ActionPhase,
    ActionSource,
    ActionStatus,
    ActionType,
    BlockKind,
    DecisionKind,
    ManualTarget,
    TargetResult,
)

AUTOMATION = "Automation"
"""The actor name of decisions and proposals that no analyst made."""


class ActionTarget(BaseModel):
    """One message an action applies to, with the folder it was in when proposed."""

    message_id: str
    mailbox: str
    folder: str


class SettingTarget(BaseModel):
    """A mailbox setting an action removes: external forwarding, an inbox rule or a delegation."""

    mailbox: str
    item_id: str = ""
    """Inbox rule id, or the delegate's address; empty for mailbox forwarding."""
    description: str
    """The setting in words, e.g. `Inbox rule 'x' forwards to a@b.example`."""


class BlockTarget(BaseModel):
    """A tenant block list entry an action adds."""

    kind: BlockKind
    value: str
    """Address, domain, URL or SHA-256, normalised as the block list matches it."""
    expires: datetime | None = None
    """When the entry stops matching; None means never."""


class InvestigationTarget(BaseModel):
    """The target of a Start investigation action: an email, its recipient or its sender."""

    message_id: str
    on: ManualTarget = ManualTarget.EMAIL


class PendingAction(BaseModel):
    id: str
    investigation_id: str
    action_type: ActionType
    status: ActionStatus = ActionStatus.PENDING
    created: datetime
    cluster_id: str = ""
    title: str
    """Target of the action in words, e.g. the cluster's indicator."""
    targets: list[ActionTarget] = Field(default_factory=list)
    overlap_count: int = 0
    """Cluster members in a mailbox left out because an earlier action of the investigation targets them."""
    setting: SettingTarget | None = None
    """For actions on mailbox settings, the setting removed; message actions leave it None."""
    block: BlockTarget | None = None
    """For block actions, the entry added."""
    user: str = ""
    """For Disable user and revoke sessions, the account's address."""
    investigate: InvestigationTarget | None = None
    """For Start investigation, what to investigate."""
    source: ActionSource = ActionSource.AUTOMATED
    proposed_by: str = AUTOMATION
    """The analyst who proposed the action, or Automation; under four-eyes they cannot approve it."""
    phase: ActionPhase = ActionPhase.DO
    """Whether the latest run was the change itself or its undo."""
    incident_id: str = ""

    @property
    def mailboxes(self) -> list[str]:
        if self.setting is not None:
            return [self.setting.mailbox]
        if self.user:
            return [self.user]
        return sorted({target.mailbox for target in self.targets})

    @property
    def scope(self) -> str:
        """The action's reach in words, e.g. `14 messages in 6 mailboxes`."""
        if self.setting is not None:
            return f"1 setting of {self.setting.mailbox}"
        if self.block is not None:
            return f"the tenant block list: {self.block.kind.value} {self.block.value}"
        if self.user:
            return f"the account {self.user}"
        if self.investigate is not None:
            return f"a new investigation of the {self.investigate.on.value}"
        count = len(self.targets)
        boxes = len(self.mailboxes)
        noun = "message" if count == 1 else "messages"
        box_noun = "mailbox" if boxes == 1 else "mailboxes"
        return f"{count} {noun} in {boxes} {box_noun}"

    @property
    def target_count(self) -> int:
        """Targets the executor works through: messages, or one for any other action."""
        return len(self.targets) if self.action_type.on_messages else 1

    @property
    def impact(self) -> str:
        """The effect of approving, then whether it can be undone."""
        return f"{self.effect} {self.action_type.undo_note}"

    @property
    def effect(self) -> str:
        """The change approving makes, in one sentence, without the undo note."""
        if self.setting is not None:
            return f"{self.setting.description} is removed from {self.setting.mailbox}; the setting is recorded first."
        if self.block is not None:
            until = f"until {self.block.expires:%Y-%m-%d %H:%M} UTC" if self.block.expires else "with no expiry"
            return f"New mail matching {self.block.kind.value} {self.block.value} is junked and flagged at ingest, {until}."
        if self.action_type is ActionType.DISABLE_USER:
            return f"The account {self.user} is disabled and its sessions are revoked; the account state is recorded first."
        if self.investigate is not None:
            return f"A manual investigation of the {self.investigate.on.value} of message {self.investigate.message_id} starts."
        destination = self.action_type.destination
        if destination is None:
            verb = "is" if len(self.targets) == 1 else "are"
            return f"{self.scope} {verb} permanently deleted."
        verb = "moves" if len(self.targets) == 1 else "move"
        return f"{self.scope} {verb} to {destination.value}."


class Decision(BaseModel):
    action_id: str
    kind: DecisionKind
    analyst: str
    time: datetime
    comment: str = ""
    parameters: dict[str, str] = Field(default_factory=dict)
    """The approver's changes before approving, e.g. `{"action_type": "Soft delete"}`."""
    batch_id: str = ""
    """Shared by the decisions one bulk approval or rejection made."""


class ActionTargetResult(BaseModel):
    action_id: str
    message_id: str
    """The message's id, or for other actions the target's id, e.g. `block:sender:a@b.example`."""
    mailbox: str
    result: TargetResult
    from_folder: str = ""
    to_folder: str = ""
    error: str = ""
    time: datetime
    phase: ActionPhase = ActionPhase.DO
    note: str = ""
    """The reason nothing was done, e.g. another action handled the message within the hour."""
