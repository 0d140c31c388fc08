"""The action center's dialogs: approve with changes, bulk preview, and undo or retry confirmation.

Each dialog only gathers what the analyst chose and dismisses with it. The screen that opened it
sends the decision to the app, which records it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from air_tui.domain.action import PendingAction
from air_tui.domain.vocab import EMAIL_ACTION_TYPES, ActionType, DecisionKind
from air_tui.service import Access, ActionError, BulkPreview, PreviewRow
from air_tui.tui.action_text import effect_text, per_mailbox_text, utc_time
from air_tui.store.queries import ActionRow
from air_tui.tui.decisions import DecisionRequest
from air_tui.tui.modals import CommentInput, RejectReason
from air_tui.tui.text import plain, safe
from air_tui.tui.widgets.vim import VimScroll

_KEYS_STYLE = "dim"
_LINE = 70
"""Characters of a dialog line: the dialog is 76 cells wide, less its border and padding."""


@dataclass(frozen=True)
class Approval:
    """The approver's choices: an optional comment and the parameters they changed."""

    comment: str
    parameters: dict[str, str] = field(default_factory=dict)


def expiry_problem(value: str) -> str:
    """Check the form of an expiry the approver typed, and return what is wrong or an empty string.

    The service checks the rest, such as a date in the past, and names the problem when it rejects the approval.
    """
    text = value.strip().lower()
    if not text or text == "never":
        return ""
    if text.isdigit():
        return "" if 1 <= int(text) <= 3650 else f"Expiry {value.strip()!r}: give between 1 and 3650 days, a date, or never."
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            parse(value.strip())
        except ValueError:
            continue
        return ""
    return f"Expiry {value.strip()!r} is not a number of days, an ISO date such as 2027-01-31, or never."


def _reversible_static(action_type: ActionType, widget_id: str) -> Static:
    static = Static(safe(action_type.undo_note), id=widget_id, classes="reversible-note")
    static.set_class(not action_type.reversible, "irreversible")
    return static


class ApproveAction(ModalScreen[Approval | None]):
    """Approve one action, after saying what happens and whether it can be undone.

    An email action can become another email action first (`t` and `T`), and a block action
    can get another expiry (`e`). `y` approves, `n` or `esc` cancels.
    """

    # Nothing takes focus at first, so `y` and `n` reach the dialog instead of an input.
    AUTO_FOCUS = ""

    BINDINGS = [
        Binding("y", "confirm", "Yes, approve", id="approve-confirm", tooltip="Approve, recording the comment and changes"),
        Binding("n,escape", "cancel", "Cancel", id="approve-cancel", tooltip="Close without deciding"),
        Binding("c", "comment", "Comment", id="approve-comment", tooltip="Write an optional comment"),
        Binding("t", "cycle_type(1)", "Next type", id="approve-next-type", tooltip="Approve as the next email action type instead"),
        Binding("T", "cycle_type(-1)", "Previous type", id="approve-previous-type", tooltip="Approve as the previous email action type instead"),
        Binding("e", "expiry", "Expiry", id="approve-expiry", tooltip="Type another expiry for the block entry"),
    ]

    def __init__(self, action: PendingAction, *, investigation: str = "", access: Access | None = None) -> None:
        super().__init__()
        self.action_to_approve = action
        self.investigation = investigation
        self.chosen_type = action.action_type
        self.access = access
        """The analyst's rights. With them the dialog shows up front when approving the chosen type will be rejected."""

    @property
    def is_email_action(self) -> bool:
        return self.action_to_approve.action_type in EMAIL_ACTION_TYPES

    def compose(self) -> ComposeResult:
        action = self.action_to_approve
        short = self.app.size.height < 30
        keys = "y approve · n or esc cancel · c comment"
        if self.is_email_action:
            keys += " · t/T change type"
        if action.block is not None:
            keys += " · e expiry"
        with Vertical(id="dialog", classes="dialog"):
            yield Label(id="dialog-title")
            yield Static(Text(keys, style=_KEYS_STYLE), id="dialog-keys")
            yield Static(id="impact")
            yield _reversible_static(action.action_type, "reversible")
            # One line each, so the keys and the comment box stay on a 24-row screen.
            yield Static(safe(action.title, limit=_LINE if short else 200), id="action-target")
            if self.investigation:
                yield Static(safe(f"Investigation: {self.investigation}", style="dim", limit=_LINE), id="investigation")
            if action.overlap_count:
                others = action.overlap_count
                note = f"{others} more {'message' if others == 1 else 'messages'} of this cluster belong to another action of this investigation."
                yield Static(Text(note, style="dim"), id="overlap")
            if self.is_email_action:
                yield Static(id="action-type")
            if action.block is not None:
                until = f"{utc_time(action.block.expires, seconds=False)} UTC" if action.block.expires else "never"
                yield Static(Text(f"Expires: {until}. Press e to type days, a date such as 2027-01-31, or never.", style="dim"), id="expiry-now")
                yield CommentInput(placeholder="New expiry (empty keeps it), then enter", id="expiry", compact=True)
            if action.action_type.on_messages:
                mailboxes = per_mailbox_text(action, 2 if short else 8)
                mailboxes.rstrip()
                yield Static(mailboxes, id="per-mailbox")
            yield Static("", id="approve-access")
            yield Static("", id="approve-error")
            yield CommentInput(placeholder="Optional comment (c to write, enter to finish)", id="comment", compact=True)

    def on_mount(self) -> None:
        self._show_type()

    def _show_type(self) -> None:
        action = self.action_to_approve
        chosen = action.model_copy(update={"action_type": self.chosen_type})
        self.query_one("#dialog-title", Label).update(Text(f"Approve {self.chosen_type.value}?", style="bold"))
        self.query_one("#impact", Static).update(safe(effect_text(chosen), style="bold"))
        reversible = self.query_one("#reversible", Static)
        reversible.update(safe(self.chosen_type.undo_note))
        reversible.set_class(not self.chosen_type.reversible, "irreversible")
        if self.is_email_action:
            line = Text.assemble(("Action type: ", "bold"), self.chosen_type.value)
            if self.chosen_type is not action.action_type:
                line.append(f" (proposed as {action.action_type.value})", style="dim")
            self.query_one("#action-type", Static).update(line)
        refusal = self._refusal(chosen)
        notice = self.query_one("#approve-access", Static)
        notice.update(safe(refusal, style="bold"))
        # Hidden when empty, so the dialog keeps its height for analysts who may approve.
        notice.display = bool(refusal)

    def _refusal(self, chosen: PendingAction) -> str:
        """Return why approving the chosen type would be refused, or an empty string."""
        if self.access is None:
            return ""
        try:
            self.access.require_decision(chosen, self.chosen_type, "approving actions")
        except ActionError as error:
            if self.chosen_type in self.access.four_eyes and self.chosen_type is not self.action_to_approve.action_type:
                # Changing into a four-eyes type is allowed: it makes this analyst the proposer.
                return ""
            return str(error)
        return ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cycle_type":
            return self.is_email_action
        if action == "expiry":
            return self.action_to_approve.block is not None
        return True

    def action_cycle_type(self, step: int) -> None:
        position = EMAIL_ACTION_TYPES.index(self.chosen_type)
        self.chosen_type = EMAIL_ACTION_TYPES[(position + step) % len(EMAIL_ACTION_TYPES)]
        self._show_type()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Say what the expiry typed so far means, so the line above the input never shows a stale date."""
        if event.input.id != "expiry" or self.action_to_approve.block is None:
            return
        typed = event.value.strip()
        line = self.query_one("#expiry-now", Static)
        if not typed:
            until = f"{utc_time(self.action_to_approve.block.expires, seconds=False)} UTC" if self.action_to_approve.block.expires else "never"
            line.update(Text(f"Expires: {until}. Press e to type days, a date such as 2027-01-31, or never.", style="dim"))
        elif expiry_problem(typed):
            line.update(Text(expiry_problem(typed), style="dim"))
        elif typed.lower() == "never":
            line.update(Text("New expiry: never.", style="dim"))
        elif typed.isdigit():
            line.update(Text(f"New expiry: {int(typed)} {'day' if int(typed) == 1 else 'days'} from approval.", style="dim"))
        else:
            line.update(Text(f"New expiry: {typed}, a date alone lasting through that day (UTC).", style="dim"))

    def action_expiry(self) -> None:
        self.query_one("#expiry", CommentInput).focus()

    def action_comment(self) -> None:
        self.query_one("#comment", CommentInput).focus()

    def action_confirm(self) -> None:
        parameters: dict[str, str] = {}
        if self.chosen_type is not self.action_to_approve.action_type:
            parameters["action_type"] = self.chosen_type.value
        if self.action_to_approve.block is not None:
            expiry = self.query_one("#expiry", CommentInput).value.strip()
            problem = expiry_problem(expiry)
            if problem:
                error = self.query_one("#approve-error", Static)
                error.update(Text(problem, style="bold"))
                error.display = True
                return
            if expiry:
                parameters["expires"] = expiry
        self.dismiss(Approval(self.query_one("#comment", CommentInput).value.strip(), parameters))

    def action_cancel(self) -> None:
        self.dismiss(None)


class BulkDecision(ModalScreen[str | None]):
    """Preview of approving or rejecting the marked actions together, per mailbox.

    Dismisses with the comment (the required reason, for a rejection), or None on cancel. When
    the preview lists problems, nothing can be decided and the only way out is cancel.
    """

    AUTO_FOCUS = ""

    BINDINGS = [
        Binding("y", "confirm", "Yes, approve all", id="bulk-confirm", tooltip="Approve every marked action"),
        Binding("n,escape", "cancel", "Cancel", id="bulk-cancel", tooltip="Close without deciding"),
        Binding("c", "comment", "Comment", id="bulk-comment", tooltip="Write an optional comment"),
        Binding("j", "scroll_rows(1)", "Down", show=False, id="bulk-scroll-down", tooltip="Scroll the list of actions down"),
        Binding("k", "scroll_rows(-1)", "Up", show=False, id="bulk-scroll-up", tooltip="Scroll the list of actions up"),
        # The reason line of a rejection keeps the focus, so j and k type there; these keys scroll
        # the list whichever widget has the focus.
        Binding("pagedown,down", "scroll_rows(1)", "Down", show=False, priority=True, id="bulk-page-down", tooltip="Scroll the list of actions down"),
        Binding("pageup,up", "scroll_rows(-1)", "Up", show=False, priority=True, id="bulk-page-up", tooltip="Scroll the list of actions up"),
    ]

    def __init__(self, preview: BulkPreview, kind: DecisionKind) -> None:
        super().__init__()
        self.preview = preview
        self.kind = kind

    @property
    def blocked(self) -> bool:
        return bool(self.preview.problems)

    def compose(self) -> ComposeResult:
        preview = self.preview
        count = len(preview.action_ids)
        noun = "action" if count == 1 else "actions"
        verb = "Approve" if self.kind is DecisionKind.APPROVED else "Reject"
        if self.blocked:
            title, keys = f"The {count} marked {noun} cannot be decided together", "esc cancel · j/k scroll"
        elif self.kind is DecisionKind.APPROVED:
            title, keys = f"{verb} {count} {noun}?", "y approve all · n or esc cancel · c comment · j/k scroll"
        else:
            title, keys = f"{verb} {count} {noun}?", "enter reject all · esc cancel · up/down scroll"
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(title, style="bold"), id="dialog-title")
            yield Static(Text(keys, style=_KEYS_STYLE), id="dialog-keys")
            yield Static(safe(self._summary()), id="bulk-summary")
            with VimScroll(id="bulk-rows"):
                yield Static(preview_text(preview), id="bulk-table")
            if preview.irreversible:
                yield Static(self._irreversible(), id="bulk-irreversible", classes="irreversible")
            if self.blocked:
                problems = Text("Nothing can be decided until these are solved:\n", style="bold")
                for problem in preview.problems:
                    problems.append("• ")
                    problems.append_text(safe(problem))
                    problems.append("\n")
                problems.rstrip()
                yield Static(problems, id="bulk-problems")
            elif self.kind is DecisionKind.APPROVED:
                yield CommentInput(placeholder="Optional comment (c to write, enter to finish)", id="comment", compact=True)
            else:
                yield Input(placeholder="Reason for every marked action (required), then enter", id="reason", compact=True)
                yield Static("", id="reason-error")

    def _summary(self) -> str:
        preview = self.preview
        messages, mailboxes = preview.message_count, preview.mailbox_count
        where = f"{mailboxes} {'mailbox' if mailboxes == 1 else 'mailboxes'}"
        scope = "Proposed by hand, outside any investigation" if preview.scope.startswith("no investigation") else f"All in {preview.scope}"
        if not messages:
            return f"{scope}, in {where}."
        reach = f"{messages} {'message' if messages == 1 else 'messages'} in {where}"
        if self.kind is DecisionKind.REJECTED:
            return f"{scope}. Rejecting leaves {reach} where they are."
        return f"{scope}, reaching {reach}."

    def _irreversible(self) -> Text:
        types = {row.action_id: row.action_type for row in self.preview.rows}
        listed = ", ".join(f"{types.get(action_id, 'action')} {action_id}" for action_id in self.preview.irreversible)
        return safe(f"Cannot be undone: {listed}.")

    def on_mount(self) -> None:
        # Short terminals scroll the rows in fewer lines, so the keys and the input stay on screen.
        self.query_one("#bulk-rows", VimScroll).styles.max_height = 6 if self.app.size.height < 30 else 12
        if self.query("#reason"):
            reason = self.query_one("#reason", Input)
            if getattr(self.app, "reduce_motion", False):
                reason.cursor_blink = False
            reason.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("confirm", "comment"):
            return self.kind is DecisionKind.APPROVED and not self.blocked
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "reason":
            return
        event.stop()
        reason = event.value.strip()
        if not reason:
            self.query_one("#reason-error", Static).update(Text("A reason is required to reject actions.", style="bold red"))
            return
        self.dismiss(reason)

    def action_confirm(self) -> None:
        if not self.blocked:
            self.dismiss(self.query_one("#comment", CommentInput).value.strip())

    def action_comment(self) -> None:
        self.query_one("#comment", CommentInput).focus()

    def action_scroll_rows(self, lines: int) -> None:
        self.query_one("#bulk-rows", VimScroll).scroll_relative(y=lines, animate=False)

    def action_cancel(self) -> None:
        self.dismiss(None)


def preview_text(preview: BulkPreview) -> Text:
    """List each marked action with what it does per mailbox: messages listed, how many are still there, the effect."""
    text = Text()
    by_action: dict[str, list[PreviewRow]] = {}
    for row in preview.rows:
        by_action.setdefault(row.action_id, []).append(row)
    for action_id, rows in by_action.items():
        first = rows[0]
        text.append(plain(first.action_type), style="bold")
        text.append(f" {action_id}", style="dim")
        if first.messages:
            text.append(f" · {plain(first.effect)}")
        text.append("\n")
        for row in rows:
            text.append("  ")
            text.append_text(safe(row.mailbox))
            if row.messages:
                text.append(f": {row.messages} listed, {row.present} still in Inbox or Junk Email\n")
            else:
                text.append(": ")
                text.append_text(safe(row.effect))
                text.append("\n")
    text.rstrip()
    return text


class ConfirmDecision(ModalScreen[str | None]):
    """Confirm an undo or a retry after naming what it does. `y` goes ahead, `n` or `esc` cancels.

    Dismisses with the comment (possibly empty), or None on cancel.
    """

    AUTO_FOCUS = ""

    BINDINGS = [
        Binding("y", "confirm", "Yes", id="decision-confirm", tooltip="Go ahead"),
        Binding("n,escape", "cancel", "Cancel", id="decision-cancel", tooltip="Close without deciding"),
        Binding("c", "comment", "Comment", id="decision-comment", tooltip="Write an optional comment"),
    ]

    def __init__(self, title: str, body: Text, *, verb: str) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.verb = verb

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(self.title_text, style="bold"), id="dialog-title")
            yield Static(Text(f"y {self.verb} · n or esc cancel · c comment", style=_KEYS_STYLE), id="dialog-keys")
            yield Static(self.body, id="decision-body")
            yield CommentInput(placeholder="Optional comment (c to write, enter to finish)", id="comment", compact=True)

    def action_confirm(self) -> None:
        self.dismiss(self.query_one("#comment", CommentInput).value.strip())

    def action_comment(self) -> None:
        self.query_one("#comment", CommentInput).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)


def ask_approval(app: App[object], row: ActionRow, send: Callable[[DecisionRequest], None]) -> None:
    """Open the approval dialog for one action, and send the approval the analyst confirms."""
    action = row.action

    def approved(approval: Approval | None) -> None:
        if approval is None:
            app.notify("Approval cancelled; nothing changed.")
            return
        label = approval.parameters.get("action_type", action.action_type.value)
        send(DecisionRequest(DecisionKind.APPROVED, (action.id,), approval.comment, approval.parameters, label=label))

    service = getattr(app, "service", None)
    access = service.access if service is not None else None
    app.push_screen(ApproveAction(action, investigation=row.investigation_title, access=access), approved)


def ask_rejection(app: App[object], row: ActionRow, send: Callable[[DecisionRequest], None]) -> None:
    """Ask for the reason a rejection needs, and send the rejection once it is given."""
    action = row.action

    def reasoned(reason: str | None) -> None:
        if reason is None:
            app.notify("Rejection cancelled; nothing changed.")
            return
        send(DecisionRequest(DecisionKind.REJECTED, (action.id,), reason, label=action.action_type.value))

    app.push_screen(RejectReason(action, investigation=row.investigation_title), reasoned)
