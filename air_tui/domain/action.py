"""Pending actions, the decisions on them and their per-message results."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind, TargetResult


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

    @property
    def mailboxes(self) -> list[str]:
        if self.setting is not None:
            return [self.setting.mailbox]
        return sorted({target.mailbox for target in self.targets})

    @property
    def scope(self) -> str:
        """How many messages in how many mailboxes, e.g. `14 messages in 6 mailboxes`."""
        if self.setting is not None:
            return f"1 setting of {self.setting.mailbox}"
        count = len(self.targets)
        boxes = len(self.mailboxes)
        noun = "message" if count == 1 else "messages"
        box_noun = "mailbox" if boxes == 1 else "mailboxes"
        return f"{count} {noun} in {boxes} {box_noun}"

    @property
    def impact(self) -> str:
        """One sentence naming exactly what approving does."""
        if self.setting is not None:
            return f"{self.setting.description} is removed from {self.setting.mailbox}; the setting is recorded first, so it can be put back."
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


class ActionTargetResult(BaseModel):
    action_id: str
    message_id: str
    mailbox: str
    result: TargetResult
    from_folder: str = ""
    to_folder: str = ""
    error: str = ""
    time: datetime
