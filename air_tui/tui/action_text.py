"""Pending actions in words: short cells for tables, and the full account of one action."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.vocab import ActionStatus, TargetResult
from air_tui.store.queries import ActionRow
from air_tui.tui.text import plain, safe

DASH = "—"

ACTION_STATUS_STYLES = {
    ActionStatus.PENDING: "bold yellow",
    ActionStatus.APPROVED: "cyan",
    ActionStatus.RUNNING: "cyan",
    ActionStatus.COMPLETED: "green",
    ActionStatus.PARTIALLY_FAILED: "yellow",
    ActionStatus.FAILED: "bold red",
    ActionStatus.REJECTED: "dim",
    ActionStatus.EXPIRED: "dim",
    ActionStatus.UNDONE: "",
}

ACTION_STATUS_MEANINGS = {
    ActionStatus.PENDING: "Waits for an analyst to approve or reject it.",
    ActionStatus.APPROVED: "Approved and recorded; it starts when an execution slot frees.",
    ActionStatus.RUNNING: "Approved and running now.",
    ActionStatus.COMPLETED: "Ran, and every target succeeded or needed nothing.",
    ActionStatus.PARTIALLY_FAILED: "Ran, and some targets failed: retry runs those again.",
    ActionStatus.FAILED: "Ran, and every target failed: retry runs them again.",
    ActionStatus.REJECTED: "An analyst rejected it, with a reason; nothing changed.",
    ActionStatus.EXPIRED: "Closed without a decision: it waited too long or nothing was left to do.",
    ActionStatus.UNDONE: "Ran, then an undo put things back.",
}
"""One sentence per action status, for the help screen."""

# Each result has a mark as well as a word, so a failure reads the same in monochrome.
_RESULT_MARKS = {
    TargetResult.SUCCEEDED.value: ("✓", ""),
    TargetResult.FAILED.value: ("✗", "bold red"),
    TargetResult.ALREADY_IN_DESTINATION.value: ("=", "dim"),
    TargetResult.NOT_FOUND.value: ("?", "yellow"),
    TargetResult.SUBMITTED.value: ("↗", "cyan"),
}

TARGETS_SHOWN = 200
"""Targets and results listed in the detail pane; the rest are counted in one line."""


def status_cell(status: ActionStatus) -> Text:
    return Text(status.value, style=ACTION_STATUS_STYLES.get(status, ""))


def targets_text(action: PendingAction) -> str:
    """Name what an action touches in a few characters: counts for messages, else the one target."""
    if action.action_type.on_messages:
        messages = len(action.targets)
        mailboxes = len(action.mailboxes)
        return f"{messages} msg · {mailboxes} mbx"
    if action.block is not None:
        return action.block.value
    if action.setting is not None:
        return action.setting.mailbox
    if action.user:
        return action.user
    if action.investigate is not None:
        return f"{action.investigate.on.value} of 1 email"
    return action.scope


def investigation_name(row: ActionRow) -> str:
    """Return the investigation's subject, without the playbook name that starts every title."""
    return row.investigation_title.split(": ", 1)[-1] if row.investigation_title else DASH


def short_age(seconds: float) -> str:
    """Write a span as its largest unit only, e.g. `45 s`, `12 min`, `3 h`, `2 d`."""
    whole = max(int(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min"
    if whole < 86_400:
        return f"{whole // 3600} h"
    return f"{whole // 86_400} d"


def parse_time(value: str) -> datetime | None:
    """Read an ISO time from the store, or None when it is empty or invalid."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def utc_time(moment: datetime | None, *, seconds: bool = True) -> str:
    if moment is None:
        return DASH
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}" if seconds else f"{moment:%Y-%m-%d %H:%M}"


def per_mailbox_text(action: PendingAction, limit: int) -> Text:
    """List each mailbox with its messages per folder at proposal, `limit` mailboxes at most."""
    mailboxes = action.mailboxes
    text = Text()
    for mailbox in mailboxes[:limit]:
        folders = Counter(target.folder for target in action.targets if target.mailbox == mailbox)
        where = ", ".join(f"{count} in {folder}" for folder, count in sorted(folders.items()))
        text.append(f"  {plain(mailbox)}")
        text.append(f": {plain(where)}\n" if where else "\n")
    if len(mailboxes) > limit:
        more = len(mailboxes) - limit
        text.append(f"  … and {more} more {'mailbox' if more == 1 else 'mailboxes'}\n", style="dim")
    return text


def effect_text(action: PendingAction) -> str:
    """Return what approving does, without the undo note that `PendingAction.impact` ends with."""
    return action.effect


def short_impact(action: PendingAction) -> str:
    """Return what approving does for a table cell: the effect, and a warning when it cannot be undone."""
    effect = effect_text(action)
    return effect if action.action_type.reversible else f"{effect} Cannot be undone."


# The full account of one action ------------------------------------------------------------


def action_heading(row: ActionRow) -> Text:
    """Build the first lines of an action's account: type, status, id, then what approving does."""
    action = row.action
    text = Text.assemble((action.action_type.value, "bold"), " · ", status_cell(action.status), " · ", (action.id, "dim"), "\n")
    text.append_text(safe(effect_text(action), style="bold"))
    return text


def action_body(
    row: ActionRow,
    decisions: Sequence[Decision],
    results: Sequence[Mapping[str, Any]],
    undo_results: Sequence[Mapping[str, Any]],
    *,
    limit: int = TARGETS_SHOWN,
) -> Text:
    """Build the rest of an action's account: what, where, who, each decision and each target's result."""
    action = row.action
    text = Text()
    _fact(text, "Target", safe(action.title, limit=300))
    _fact(text, "Scope", safe(action.scope))
    if action.investigation_id:
        _fact(text, "Investigation", safe(f"{row.investigation_title or action.investigation_id} ({action.investigation_id})"))
    if action.incident_id:
        _fact(text, "Incident", safe(action.incident_id))
    _fact(text, "Source", safe(f"{action.source.value}, proposed by {action.proposed_by} at {utc_time(action.created)} UTC"))
    if action.block is not None:
        expires = f"{utc_time(action.block.expires, seconds=False)} UTC" if action.block.expires else "never"
        _fact(text, "Expires", Text(expires))
    if row.attempt > 1:
        _fact(text, "Attempts", Text(str(row.attempt)))
    _targets_section(text, action, limit)
    _decisions_section(text, decisions)
    if results or action.status.is_finished or action.status is ActionStatus.UNDONE:
        _results_section(text, "Results", results, limit)
    if undo_results:
        _results_section(text, "Undo results", undo_results, limit)
    text.rstrip()
    return text


def _fact(text: Text, name: str, value: Text) -> None:
    text.append(f"{name:<14}", style="bold")
    text.append_text(value)
    text.append("\n")


def _targets_section(text: Text, action: PendingAction, limit: int) -> None:
    if action.action_type.on_messages:
        text.append(f"\nMailboxes ({len(action.mailboxes)}), messages per folder at proposal\n", style="bold")
        text.append_text(per_mailbox_text(action, limit))
    elif action.setting is not None:
        text.append("\nSetting\n", style="bold")
        text.append("  ")
        text.append_text(safe(action.setting.description))
        text.append("\n")


def _decisions_section(text: Text, decisions: Sequence[Decision]) -> None:
    text.append(f"\nDecisions ({len(decisions)})\n", style="bold")
    if not decisions:
        text.append("  none yet\n", style="dim")
    for decision in decisions:
        text.append(f"  {utc_time(decision.time)}  {decision.kind.value} by ")
        text.append_text(safe(decision.analyst))
        for name, value in sorted(decision.parameters.items()):
            text.append(f" · {name.replace('_', ' ')} ")
            text.append_text(safe(value or "never"))
        if decision.batch_id:
            text.append(" · batch ")
            text.append_text(safe(decision.batch_id))
        if decision.comment:
            text.append(": ")
            text.append_text(safe(decision.comment))
        text.append("\n")


def _results_section(text: Text, title: str, results: Sequence[Mapping[str, Any]], limit: int) -> None:
    counts = Counter(str(result.get("result", "")) for result in results)
    summary = ", ".join(f"{count} {name.lower()}" for name, count in sorted(counts.items()))
    text.append(f"\n{title} ({summary or 'none recorded'})\n", style="bold")
    for result in results[:limit]:
        text.append_text(result_line(result))
    if len(results) > limit:
        text.append(f"  … and {len(results) - limit} more targets\n", style="dim")


def result_line(result: Mapping[str, Any]) -> Text:
    """Build one target's result line: mark and word, mailbox, the move, and the error or note."""
    name = str(result.get("result", ""))
    mark, style = _RESULT_MARKS.get(name, ("·", ""))
    line = Text("  ")
    line.append(f"{mark} {name}", style=style)
    line.append("  ")
    line.append_text(safe(result.get("mailbox") or result.get("message_id") or DASH, limit=60))
    from_folder, to_folder = str(result.get("from_folder") or ""), str(result.get("to_folder") or "")
    if name == TargetResult.FAILED.value:
        # A failed target stayed where it was; an empty destination here does not mean a purge.
        if from_folder:
            line.append("  ")
            line.append_text(safe(f"still in {from_folder}"))
    elif from_folder or to_folder:
        line.append("  ")
        line.append_text(safe(f"{from_folder or '?'} → {to_folder or 'purged'}"))
    if result.get("error"):
        line.append(": ", style=style)
        line.append_text(safe(result["error"], style=style, limit=300))
    if result.get("note"):
        line.append(" · ")
        line.append_text(safe(result["note"], style="dim", limit=300))
    line.append("\n")
    return line


def undo_text(action: PendingAction, results: Sequence[Mapping[str, Any]], limit: int = 8) -> Text:
    """Say what an undo puts back: messages per mailbox and folder, the block entry, setting or account."""
    text = Text()
    if action.action_type.on_messages:
        moved = Counter(
            (str(row["mailbox"]), str(row.get("to_folder") or ""), str(row.get("from_folder") or ""))
            for row in results
            if row["result"] in (TargetResult.SUCCEEDED.value, TargetResult.SUBMITTED.value)
        )
        total = sum(moved.values())
        text.append(f"{total} {'message goes' if total == 1 else 'messages go'} back to the folder {'it' if total == 1 else 'each'} came from:\n", style="bold")
        for (mailbox, now_in, back_to), count in sorted(moved.items())[:limit]:
            text.append(f"  {plain(mailbox)}: {count} from {plain(now_in or '?')} to {plain(back_to or '?')}\n")
        if len(moved) > limit:
            more = len(moved) - limit
            text.append(f"  … and {more} more {'mailbox' if more == 1 else 'mailboxes'}\n", style="dim")
    elif action.block is not None:
        text.append_text(safe(f"The block list entry for {action.block.kind.value} {action.block.value} is removed.", style="bold"))
        text.append("\n")
    elif action.setting is not None:
        text.append_text(safe(f"{action.setting.description} is put back on {action.setting.mailbox}.", style="bold"))
        text.append("\n")
    elif action.user:
        text.append_text(safe(f"The account {action.user} is enabled again.", style="bold"))
        text.append("\n")
    if not action.action_type.on_messages:
        # The note names what stays changed, e.g. mail a block junked stays in Junk Email.
        text.append_text(safe(action.action_type.undo_note, style="dim"))
    text.rstrip()
    return text
