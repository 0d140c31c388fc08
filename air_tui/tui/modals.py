"""Dialogs: rejection reason, alert resolution, entity, message and action details, help."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Entity
from air_tui.domain.message import AuthResult, EmailMessage, Url
from air_tui.domain.vocab import ActionStatus, EntityKind, InvestigationStatus
from air_tui.engine.findings import ENTITY_NAMES
from air_tui.store.queries import ActionRow, InvestigationDetail
from air_tui.tui.action_text import ACTION_STATUS_MEANINGS, action_body, action_heading
from air_tui.tui.text import plain, safe, verdict_badge
from air_tui.tui.widgets.investigation_graph import evidence_text
from air_tui.tui.widgets.vim import VimScroll


class CommentInput(Input):
    """An input that hands focus back to its dialog on enter, so the dialog's keys work again."""

    def on_mount(self) -> None:
        if getattr(self.app, "reduce_motion", False):
            self.cursor_blink = False

    async def action_submit(self) -> None:
        await super().action_submit()
        self.screen.set_focus(None)


class RequiredText(ModalScreen[str | None]):
    """Base of dialogs that need a line of text before they close: enter submits, esc cancels."""

    MISSING = "Some text is required."
    """Message shown under the input when enter is pressed on an empty line."""

    def on_mount(self) -> None:
        reason = self.query_one("#reason", Input)
        if getattr(self.app, "reduce_motion", False):
            reason.cursor_blink = False
        reason.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.query_one("#reason-error", Static).update(Text(self.MISSING, style="bold red"))
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class RejectReason(RequiredText):
    """Asks for the reason a rejection needs, and rejects an empty reason with a message."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-reject", tooltip="Close without deciding")]
    MISSING = "A reason is required to reject an action."

    def __init__(self, action: PendingAction, *, investigation: str = "") -> None:
        super().__init__()
        self.action_to_reject = action
        self.investigation = investigation

    def compose(self) -> ComposeResult:
        action = self.action_to_reject
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text(f"Reject {action.action_type.value}?", style="bold"), id="dialog-title")
            yield Static(Text("enter reject · esc cancel", style="dim"), id="dialog-keys")
            count = len(action.targets)
            leaves = f"Rejecting leaves {count} {'message' if count == 1 else 'messages'} in {len(action.mailboxes)} {'mailbox' if len(action.mailboxes) == 1 else 'mailboxes'} where they are."
            yield Static(safe(leaves))
            yield Static(safe(action.title, limit=200))
            if self.investigation:
                yield Static(safe(f"Investigation: {self.investigation}", style="dim", limit=120))
            yield Input(placeholder="Reason (required), then enter", id="reason")
            yield Static("", id="reason-error")


class ResolveAlert(RequiredText):
    """Asks what an analyst checked before resolving an alert by hand. The comment is required."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel-resolve", tooltip="Close without resolving")]
    MISSING = "A comment is required to resolve an alert."

    def __init__(self, alert: Alert) -> None:
        super().__init__()
        self.alert = alert

    def compose(self) -> ComposeResult:
        alert = self.alert
        with Vertical(id="dialog", classes="dialog"):
            yield Label(Text("Resolve this alert?", style="bold"), id="dialog-title")
            yield Static(Text("enter resolve · esc cancel", style="dim"), id="dialog-keys")
            yield Static(safe(f"{alert.severity.value} · {alert.title}", limit=200))
            if alert.details:
                yield Static(safe(alert.details, limit=300))
            yield Input(placeholder="What was checked (required), then enter", id="reason")
            yield Static("", id="reason-error")


class EntityDetail(ModalScreen[None]):
    """One entity in full: verdict and evidence, every attribute, related entities, raw headers."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="close-entity", tooltip="Back to the console")]

    def __init__(self, entity: Entity, *, detail: InvestigationDetail | None = None, raw_headers: str | None = None) -> None:
        """Show one entity.

        Args:
            entity: The entity shown.
            detail: Its investigation, which names the parent, children and clusters. None leaves them out.
            raw_headers: The header block of an email as stored. None leaves the section out.
        """
        super().__init__()
        self.entity = entity
        self.detail = detail
        self.raw_headers = raw_headers

    def compose(self) -> ComposeResult:
        with VimScroll(id="dialog", classes="dialog wide"):
            yield Static(_block(evidence_text(self.entity, None)), id="entity-evidence")
            yield Static(entity_attributes_text(self.entity), id="entity-attributes")
            if self.detail is not None:
                yield Static(related_entities_text(self.entity, self.detail), id="entity-related")
            if self.raw_headers is not None:
                yield Static(raw_headers_text(self.raw_headers), id="raw-headers")
            yield Static(Text("\nesc close · j/k scroll", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


def _block(text: Text) -> Text:
    """Drop trailing blank lines, so each section of a dialog is followed by exactly the one blank
    line that starts the next."""
    text.rstrip()
    return text


def entity_attributes_text(entity: Entity) -> Text:
    """Build the attribute list of an entity in full: lists one item a line, long values wrapped by the view."""
    text = Text()
    text.append("\nAttributes\n", style="bold")
    text.append("id: ", style="bold")
    text.append_text(safe(entity.id))
    text.append("\nkey: ", style="bold")
    text.append_text(safe(entity.key))
    text.append("\n")
    for name, value in sorted(entity.attributes.items()):
        text.append(f"{name.replace('_', ' ')}: ", style="bold")
        if isinstance(value, list) and value:
            text.append(f"({len(value)})\n")
            for item in value:
                text.append("  • ")
                text.append_text(safe(item))
                text.append("\n")
            continue
        text.append_text(safe(_attribute_text(value)))
        text.append("\n")
    return _block(text)


def _attribute_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(plain(item) for item in value) or "none"
    return plain(value) or "none"


def related_entities_text(entity: Entity, detail: InvestigationDetail) -> Text:
    """List the entity's parent, its children and, for an email, the clusters that contain it."""
    by_id = {other.id: other for other in detail.entities}
    text = Text()
    text.append("\nRelated entities\n", style="bold")

    parent = by_id.get(entity.parent_id)
    text.append("Found in\n", style="bold")
    if parent is not None:
        text.append_text(_related_line(parent))
    else:
        text.append("  nothing: the investigation started here\n" if not entity.parent_id else f"  {plain(entity.parent_id)} (not in this investigation)\n", style="dim")

    children = [other for other in detail.entities if other.parent_id == entity.id]
    text.append(f"Contains ({len(children)})\n", style="bold")
    if not children:
        text.append("  nothing\n", style="dim")
    for child in children:
        text.append_text(_related_line(child))

    if entity.kind is EntityKind.MESSAGE:
        clusters = [cluster for cluster in detail.clusters if entity.key in cluster.message_ids]
        text.append(f"In clusters ({len(clusters)})\n", style="bold")
        if not clusters:
            text.append("  none\n", style="dim")
        for cluster in clusters:
            cluster_entity = by_id.get(f"cluster:{cluster.id}")
            if cluster_entity is not None:
                text.append_text(_related_line(cluster_entity))
                continue
            text.append("  ")
            text.append_text(verdict_badge(cluster.verdict))
            text.append(f" {ENTITY_NAMES[EntityKind.CLUSTER]} ", style="bold")
            text.append_text(safe(f"{cluster.cluster_by}: {cluster.value}", limit=160))
            text.append("\n")
    return _block(text)


def _related_line(entity: Entity) -> Text:
    line = Text("  ")
    line.append_text(verdict_badge(entity.verdict))
    line.append(f" {ENTITY_NAMES.get(entity.kind, entity.kind.value)} ", style="bold")
    line.append_text(safe(entity.label, limit=160))
    line.append("\n")
    return line


RAW_HEADERS_SHOWN = 16_000
"""Characters of raw header text shown. A longer block ends with a note saying how much is left out."""


def raw_headers_text(raw: str, limit: int = RAW_HEADERS_SHOWN) -> Text:
    """Build the "Raw headers" section, with every control or bidi character written as a marker.

    Lines are split on line feeds only, so a stray carriage return, form feed or line separator
    shows as a marker instead of breaking the line where the sender wanted.
    """
    text = Text()
    text.append("\nRaw headers\n", style="bold")
    if not raw:
        text.append("(empty)", style="dim")
        return text
    for line in raw[:limit].split("\n"):
        text.append_text(safe(line.removesuffix("\r")))
        text.append("\n")
    if len(raw) > limit:
        text.append(f"… {len(raw) - limit} more characters of headers not shown\n", style="dim")
    return _block(text)


class MessageDetail(ModalScreen[None]):
    """One email as the analyst needs it: headers that matter, authentication, links, files, body."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="close-message", tooltip="Back to the console")]

    BODY_PREVIEW = 4000
    """Characters of body text shown; the full text stays in the store."""

    def __init__(
        self, entity: Entity, message: EmailMessage, *, detail: InvestigationDetail | None = None, raw_headers: str | None = None
    ) -> None:
        """Show one email.

        Args:
            entity: The message entity, with its verdict and evidence.
            message: The parsed email.
            detail: Its investigation, which names the parent, children and clusters. None leaves them out.
            raw_headers: The header block as stored. None leaves the section out.
        """
        super().__init__()
        self.entity = entity
        self.message = message
        self.detail = detail
        self.raw_headers = raw_headers

    def compose(self) -> ComposeResult:
        message = self.message
        with VimScroll(id="dialog", classes="dialog wide"):
            yield Static(_block(evidence_text(self.entity, None)), id="entity-evidence")
            yield Static(_block(Text("\n") + _message_facts(message)), id="message-facts")
            yield Static(entity_attributes_text(self.entity), id="entity-attributes")
            if self.detail is not None:
                yield Static(related_entities_text(self.entity, self.detail), id="entity-related")
            if self.raw_headers is not None:
                yield Static(raw_headers_text(self.raw_headers), id="raw-headers")
            body = Text()
            body.append("\nBody (plain text)\n", style="bold")
            body.append(plain_lines(message.body_text[: self.BODY_PREVIEW]) or "(empty)")
            if len(message.body_text) > self.BODY_PREVIEW:
                body.append(f"\n… {len(message.body_text) - self.BODY_PREVIEW} more characters", style="dim")
            yield Static(body)
            yield Static(Text("\nesc close · j/k scroll", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


URLS_SHOWN = 50


def _message_facts(message: EmailMessage) -> Text:
    text = Text()
    rows = [
        ("From", f"{message.sender.display_name} <{message.sender.address}>"),
        ("Reply-To", ", ".join(address.address for address in message.reply_to)),
        ("Return-Path", message.return_path),
        ("To", ", ".join(address.address for address in message.to)),
        ("Cc", ", ".join(address.address for address in message.cc)),
        ("Subject", message.subject),
        ("Date", message.date.isoformat() if message.date else ""),
        ("Received", message.received_at.isoformat() if message.received_at else ""),
        ("Mailbox", f"{message.location.mailbox} / {message.location.folder}"),
        ("Sender IP", message.sender_ip),
        ("Message-ID", message.internet_message_id),
        ("Authentication", " ".join(_auth_word(result) for result in message.auth_results) or "none recorded"),
        ("DKIM signed by", ", ".join(message.dkim_domains)),
        ("Fingerprint", message.body_fingerprint),
        ("Parse status", message.parse_status.value),
    ]
    for name, value in rows:
        if value:
            text.append(f"{name:<15}", style="bold")
            text.append_text(safe(value))
            text.append("\n")
    for warning in message.parse_warnings:
        text.append("Parse warning  ", style="bold yellow")
        text.append_text(safe(warning))
        text.append("\n")
    if message.urls:
        text.append(f"\nURLs ({len(message.urls)})\n", style="bold")
        for url in message.urls[:URLS_SHOWN]:
            shown = f"  [{plain(url.link_text, 40)}]" if url.link_text else ""
            text.append("  ")
            text.append_text(safe(url.url, limit=200))
            text.append(f"{shown}\n")
            if url.unwrapped:
                text.append(f"    → {plain(url.unwrapped, 200)} ({plain(', '.join(url.wrappers))})\n", style="dim")
            flags = _url_flags(url)
            if flags:
                text.append(f"    {plain(flags, 200)}\n", style="yellow")
        if len(message.urls) > URLS_SHOWN:
            text.append(f"  … and {len(message.urls) - URLS_SHOWN} more URLs not shown\n", style="dim")
    if message.attachments:
        text.append(f"\nAttachments ({len(message.attachments)})\n", style="bold")
        for attachment in message.attachments:
            text.append("  ")
            text.append_text(safe(attachment.filename or "(unnamed)"))
            text.append(f"  {plain(attachment.content_type)}  {attachment.size} bytes\n")
            text.append(f"    sha256 {attachment.sha256}\n", style="dim")
            if attachment.detected_type and attachment.detected_type != attachment.extension:
                text.append(f"    content type {plain(attachment.detected_type)}\n", style="dim")
            for member in attachment.archive_members[:10]:
                text.append("    contains ")
                text.append_text(safe(member, limit=120))
                text.append("\n")
            if len(attachment.archive_members) > 10:
                text.append(f"    … and {len(attachment.archive_members) - 10} more files\n", style="dim")
            for problem in attachment.archive_problems:
                text.append(f"    {plain(problem, 160)}\n", style="yellow")
            for item in attachment.content_findings:
                text.append(f"    {plain(item, 160)}\n", style="yellow")
            if attachment.has_macros:
                macros = ", ".join([*attachment.macro_auto_exec, *attachment.macro_suspicious]) or "no keywords"
                text.append(f"    VBA macros: {plain(macros, 160)}\n", style="yellow")
            for link in attachment.links[:10]:
                text.append(f"    links to {plain(link, 160)}\n")
            for code in attachment.qr_codes[:5]:
                text.append(f"    QR code: {plain(code, 160)}\n", style="yellow")
            if attachment.container:
                text.append(f"    expanded from {plain(attachment.container)}\n", style="dim")
    for number, inner in enumerate(message.attached_messages, start=1):
        text.append(f"\nAttached email {number}\n", style="bold")
        text.append_text(_message_facts(inner))
    return text


def _url_flags(url: Url) -> str:
    flags = [
        name
        for name, present in (
            ("bare IP address", url.ip_literal),
            ("URL shortener", url.shortener),
            ("data: URI", url.data_uri),
            ("destination hidden by the wrapper", url.destination_hidden),
        )
        if present
    ]
    if url.host_problem:
        flags.append(f"host problem: {url.host_problem}")
    if url.hidden_characters:
        flags.append("hidden characters: " + ", ".join(url.hidden_characters[:3]))
    if url.source not in ("text", "href"):
        flags.append(f"found in {url.source}" + (f" ({url.source_detail})" if url.source_detail else ""))
    return " · ".join(flags)


def _auth_word(result: AuthResult) -> str:
    where = ""
    if result.header == "Received-SPF":
        where = " (Received-SPF)"
    elif result.header == "ARC-Authentication-Results":
        where = f" (ARC i={result.instance})"
    by = f" by {result.authserv_id}" if result.authserv_id else ""
    return f"{result.method}={result.result}{where}{by}"


def plain_lines(text: str) -> str:
    """Keep line breaks and tabs of a body, and replace every other control character."""
    return "\n".join(plain(line.replace("\t", "    ")) for line in text.splitlines())


class InvestigationSummary(ModalScreen[None]):
    """The investigation's status, what it means, why, and its log."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="close-summary", tooltip="Back to the console")]

    def __init__(self, detail: InvestigationDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        with VimScroll(id="dialog", classes="dialog wide"):
            yield Label(safe(self.detail.investigation.title, style="bold"))
            yield Static(evidence_text(None, self.detail))
            yield Static(Text("esc close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


class ActionDetail(ModalScreen[None]):
    """One action in full: what it does, whether it can be undone, decisions and per-target results."""

    BINDINGS = [Binding("escape,q,enter", "close", "Close", id="close-action", tooltip="Back to the console")]

    def __init__(
        self,
        row: ActionRow,
        decisions: list[Decision],
        results: list[dict[str, Any]],
        undo_results: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__()
        self.row = row
        self.decisions = decisions
        self.results = results
        self.undo_results = undo_results or []

    def compose(self) -> ComposeResult:
        action = self.row.action
        with VimScroll(id="dialog", classes="dialog wide"):
            yield Static(action_heading(self.row), id="action-heading")
            reversible = Static(safe(action.action_type.undo_note), id="action-reversible", classes="reversible-note")
            reversible.set_class(not action.action_type.reversible, "irreversible")
            yield reversible
            yield Static(action_body(self.row, self.decisions, self.results, self.undo_results), id="action-body")
            yield Static(Text("\nesc close · j/k scroll", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


HELP_KEYS = [
    ("j / k, ↓ / ↑", "move in the focused pane"),
    ("g / G", "first / last row"),
    ("/", "filter the alert queue (esc clears)"),
    ("tab / shift+tab", "next / previous pane"),
    ("1 2 3", "alerts, investigation, pending actions"),
    ("A", "action center: pending actions and their history"),
    ("enter", "open the highlighted alert, entity or action"),
    ("v", "open the alert's investigation: summary, graph, alerts, mailboxes, evidence, entities, log, actions"),
    ("x", "explorer: search all mail, start manual investigations (i email, R recipient, S sender)"),
    ("c", "resolve the highlighted alert with a comment, when no investigation of it runs"),
    ("space", "fold or unfold a branch of the graph"),
    ("a", "approve the highlighted pending action (asks first)"),
    ("r", "reject the highlighted pending action (a reason is required)"),
    ("t", "investigation screen: take action on the highlighted entity (block, delete, disable)"),
    ("ctrl+p", "command palette: every action by name"),
    ("ctrl+s", "team sync: send and receive events now (when [sync] is set up)"),
    ("?", "this help"),
    ("q", "quit"),
]


ACTION_CENTER_KEYS = [
    ("p / h", "Pending tab / History tab (also 1 / 2)"),
    ("/", "filter by type, title, mailbox, investigation, analyst or status (esc clears)"),
    ("T / F", "show one action type / one status at a time (F on History); again steps on"),
    ("s / S", "sort by the next column (created, type, targets, status) / reverse it"),
    ("space", "mark or unmark the highlighted pending action; ctrl+a marks every one shown"),
    ("a", "approve the marked actions after a preview per mailbox, or the highlighted one"),
    ("r", "reject the marked actions or the highlighted one; a reason is required"),
    ("u", "History: undo the highlighted action, after naming what comes back"),
    ("R", "History: retry the failed targets of a failed or partially failed action"),
    ("enter / tab", "move to the detail pane: impact, decisions, per-target results"),
]
"""Keys of the action center, for the help screen."""

APPROVE_DIALOG_KEYS = [
    ("y / n, esc", "approve / cancel"),
    ("c", "write an optional comment"),
    ("t / T", "email actions: approve as another type, e.g. Soft delete instead of Hard delete"),
    ("e", "block actions: type another expiry in days, a date such as 2027-01-31, or never"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="close-help", tooltip="Back to the console")]

    def compose(self) -> ComposeResult:
        text = Text("Keys\n", style="bold")
        _key_lines(text, HELP_KEYS)
        text.append("\nAction center (A)\n", style="bold")
        _key_lines(text, ACTION_CENTER_KEYS)
        text.append("\nApproval dialog\n", style="bold")
        _key_lines(text, APPROVE_DIALOG_KEYS)
        text.append("\nAction statuses\n", style="bold")
        for action_status in ActionStatus:
            text.append(f"  {action_status.value:<25}", style="bold")
            text.append(f"{ACTION_STATUS_MEANINGS[action_status]}\n")
        text.append("\nInvestigation statuses\n", style="bold")
        for status in InvestigationStatus:
            text.append(f"  {status.value:<25}", style="bold")
            text.append(f"{status.explanation}\n")
        text.append("\nVerdicts are written as words: MALICIOUS, SUSPICIOUS, CLEAN (no threats found), UNKNOWN.\n")
        with VimScroll(id="dialog", classes="dialog wide"):
            yield Static(text)
            yield Static(Text("esc close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)


def _key_lines(text: Text, keys: list[tuple[str, str]]) -> None:
    for key, meaning in keys:
        text.append(f"  {key:<17}", style="bold")
        text.append(f"{meaning}\n")
