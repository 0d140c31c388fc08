"""Take action on an entity of an investigation: the actions that fit it, and the dialog to pick one.

A proposal made here waits for approval like any other pending action. Nothing changes in a
mailbox or on the block list until an analyst approves it in the action center.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from air_tui.domain.investigation import Entity
from air_tui.domain.vocab import EMAIL_ACTION_TYPES, ActionType, EntityKind, ManualTarget
from air_tui.engine.findings import ENTITY_NAMES
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.text import plain, safe


@dataclass(frozen=True)
class Proposal:
    """One action the analyst may propose for an entity, with the targets `AirService.propose` takes."""

    action_type: ActionType
    target: str
    """The action's target in words, for the list."""
    message_ids: tuple[str, ...] = ()
    value: str = ""
    """The address, domain, URL or SHA-256 a block action adds to the block list."""
    user: str = ""
    investigate_on: ManualTarget | None = None

    @property
    def label(self) -> str:
        if self.investigate_on is not None:
            return f"{self.action_type.value} ({self.investigate_on.value})"
        return self.action_type.value

    def arguments(self, investigation_id: str) -> dict[str, Any]:
        """Keyword arguments of `AirService.propose` besides the action type."""
        arguments: dict[str, Any] = {"investigation_id": investigation_id}
        if self.message_ids:
            arguments["message_ids"] = list(self.message_ids)
        if self.value:
            arguments["value"] = self.value
        if self.user:
            arguments["user"] = self.user
        if self.investigate_on is not None:
            arguments["investigate_on"] = self.investigate_on
        return arguments


def proposals_for(entity: Entity, detail: InvestigationDetail | None) -> list[Proposal]:
    """List the actions that fit an entity; kinds no action applies to (alerts, IPs, settings) get none."""
    kind = entity.kind
    if kind is EntityKind.SENDER:
        address = entity.key.strip().lower()
        proposals = [Proposal(ActionType.BLOCK_SENDER, address, value=address)]
        domain = address.rpartition("@")[2]
        if domain:
            proposals.append(Proposal(ActionType.BLOCK_DOMAIN, domain, value=domain))
        return proposals
    if kind is EntityKind.URL:
        return [Proposal(ActionType.BLOCK_URL, entity.key, value=entity.key)]
    if kind is EntityKind.FILE:
        sha256 = str(entity.attributes.get("sha256") or entity.key)
        return [Proposal(ActionType.BLOCK_FILE, f"{entity.label} ({sha256})", value=sha256)]
    if kind in (EntityKind.USER, EntityKind.MAILBOX):
        return [Proposal(ActionType.DISABLE_USER, entity.key, user=entity.key)]
    if kind is EntityKind.MESSAGE:
        email = f"1 email: {entity.label}"
        proposals = [Proposal(action_type, email, message_ids=(entity.key,)) for action_type in EMAIL_ACTION_TYPES]
        proposals += [
            Proposal(ActionType.START_INVESTIGATION, f"the {target.value} of this email", message_ids=(entity.key,), investigate_on=target)
            for target in ManualTarget
        ]
        return proposals
    if kind is EntityKind.CLUSTER and detail is not None:
        cluster = next((cluster for cluster in detail.clusters if cluster.id == entity.key), None)
        if cluster is None or not cluster.message_ids:
            return []
        count = len(cluster.message_ids)
        emails = f"{count} {'email' if count == 1 else 'emails'} of {entity.label}"
        return [Proposal(action_type, emails, message_ids=tuple(cluster.message_ids)) for action_type in EMAIL_ACTION_TYPES]
    return []


def _what_approval_does(proposal: Proposal) -> Text:
    text = Text()
    text.append_text(safe(f"{proposal.label} on {proposal.target}", style="bold", limit=200))
    if proposal.action_type.needs_admin:
        text.append("\nApproving it needs the admin role.", style="dim")
    return text


class ProposalList(OptionList):
    """The list of proposals, moving with j and k as well as the arrows."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="proposal-down", tooltip="Next action"),
        Binding("k", "cursor_up", "Up", show=False, id="proposal-up", tooltip="Previous action"),
    ]


class TakeAction(ModalScreen[Proposal | None]):
    """Pick an action for an entity. `enter` proposes it, `esc` cancels. Nothing runs until approved."""

    BINDINGS = [Binding("escape,q", "cancel", "Cancel", id="take-action-cancel", tooltip="Close without proposing anything")]

    def __init__(self, entity: Entity, proposals: list[Proposal]) -> None:
        super().__init__()
        self.entity = entity
        self.proposals = proposals

    def compose(self) -> ComposeResult:
        kind = ENTITY_NAMES.get(self.entity.kind, self.entity.kind.value)
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text.assemble((f"Take action on {kind} ", "bold"), safe(self.entity.label, style="bold", limit=60)), id="dialog-title")
            yield Static(Text("enter propose · j/k move · esc cancel", style="dim"), id="dialog-keys")
            yield Static(Text("The proposal waits in the action center (A) until an analyst approves it.", style="dim"))
            yield ProposalList(*(Option(plain(proposal.label), id=str(index)) for index, proposal in enumerate(self.proposals)), id="proposals")
            yield Static(id="proposal-impact")
            yield Static(id="proposal-reversible", classes="reversible-note")

    def on_mount(self) -> None:
        self.query_one(ProposalList).highlighted = 0
        self._describe(0)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._describe(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.proposals[event.option_index])

    def _describe(self, index: int) -> None:
        if not 0 <= index < len(self.proposals):
            return
        proposal = self.proposals[index]
        self.query_one("#proposal-impact", Static).update(_what_approval_does(proposal))
        reversible = self.query_one("#proposal-reversible", Static)
        reversible.update(Text(proposal.action_type.undo_note))
        reversible.set_class(not proposal.action_type.reversible, "irreversible")

    def action_cancel(self) -> None:
        self.dismiss(None)
