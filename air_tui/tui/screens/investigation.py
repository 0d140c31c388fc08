"""The investigation screen: one tab per view of an investigation, and every entity a key away."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.alert import Alert
from air_tui.domain.ids import Clock, system_clock
from air_tui.domain.investigation import Entity, LogStep
from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import IN_MAILBOX_FOLDERS, ActionStatus, EntityKind, Verdict
from air_tui.engine.findings import ENTITY_NAMES
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.action_text import short_impact
from air_tui.tui.modals import EntityDetail, MessageDetail
from air_tui.tui.take_action import Proposal, TakeAction, proposals_for
from air_tui.tui.text import plain, safe, severity_text, status_text, verdict_badge
from air_tui.tui.widgets.filter_input import FilterInput
from air_tui.tui.widgets.keyed_table import KeyedTable
from air_tui.tui.widgets.node_graph import NodeGraph
from air_tui.tui.widgets.pending_count import PendingCount
from air_tui.tui.widgets.sync_indicator import SyncIndicator
from air_tui.tui.widgets.vim import VimScroll

DetailLoader = Callable[[], InvestigationDetail | None]
MessageLoader = Callable[[str], EmailMessage | None]
HeadersLoader = Callable[[str], str]

TABS = [
    # (pane id, title, letter key, what the tab holds)
    ("summary", "Summary", "s", "Status and its meaning, timeline, times, playbook, incident"),
    ("graph", "Graph", "v", "Entities and how they connect"),
    ("alerts", "Alerts", "a", "Every alert in the investigation's scope"),
    ("mailboxes", "Mailboxes", "m", "Mailboxes and users with their verdicts and settings"),
    ("evidence", "Evidence", "e", "Every entity with its verdict and evidence, filterable"),
    ("entities", "Entities", "n", "Counts per entity type: verdicts and remediated"),
    ("log", "Log", "l", "Playbook steps with times and outcomes"),
    ("actions", "Actions", "p", "Pending actions and decided ones, with every decision"),
]
"""The tabs in order. Digit keys 1 to 8 open them too. Graph takes `v` because `g` already moves
to the top of a list or of a graph column."""

_DASH = "—"
_GRAPH_HINT = Text("Enter on an entity opens its details.", style="dim")
_MESSAGE_ACTION_RAN = frozenset({ActionStatus.COMPLETED})
_ANY_ACTION_RAN = frozenset({ActionStatus.COMPLETED, ActionStatus.PARTIALLY_FAILED})
_OWNER_KINDS = (EntityKind.MAILBOX, EntityKind.USER)


class EvidenceFilter(FilterInput):
    """The filter line of the Evidence tab. `esc` clears it and hands focus back to the table."""

    BINDINGS = [Binding("escape", "clear", "Clear filter", id="clear-evidence-filter", tooltip="Show every entity again")]

    class Cleared(FilterInput.Cleared):
        pass


class InvestigationCommands(Provider):
    """Palette entries for the investigation screen: one per tab, plus filter, reload and close."""

    def _commands(self) -> Iterator[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        if not isinstance(screen, InvestigationScreen):
            return
        for number, (pane, title, key, help_text) in enumerate(TABS, start=1):
            yield f"Investigation: {title} tab", f"{help_text} ({key} or {number})", _tab_opener(screen, pane)
        yield "Investigation: filter evidence", "Narrow the Evidence tab by text (/)", screen.action_filter_evidence
        if screen.can_propose:
            yield "Investigation: take action", "Propose an action on the highlighted entity: block, delete, disable (t)", screen.action_take_action
        yield "Investigation: reload", "Read the investigation from the store again", screen.reload
        yield "Investigation: close", "Back to the console (esc)", screen.action_close

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


def _tab_opener(screen: InvestigationScreen, pane: str) -> Callable[[], None]:
    return lambda: screen.action_show_tab(pane)


_TAB_KEYS = Binding.Group("Tabs")
"""Footer group of the letter keys. The footer shows only the letters, because each tab's label
starts with its own."""


def _tab_bindings() -> list[Binding]:
    bindings = []
    for number, (pane, title, key, help_text) in enumerate(TABS, start=1):
        bindings.append(Binding(key, f"show_tab('{pane}')", title, id=f"tab-{pane}", tooltip=f"{title}: {help_text}", group=_TAB_KEYS))
        bindings.append(Binding(str(number), f"show_tab('{pane}')", title, show=False, id=f"tab-{pane}-number", tooltip=help_text))
    return bindings


class InvestigationScreen(Screen[None]):
    """One investigation in full, a tab per view: summary, graph, alerts, mailboxes, evidence,
    entity counts, log and actions. Enter on an entity opens its details, and `esc` closes the screen."""

    FILTER_INPUT = "#evidence-filter"
    """The filter line `/` opens; the app sends it keys typed before it has focus."""

    COMMANDS = {InvestigationCommands}

    BINDINGS = [
        Binding("escape", "close", "Close", id="close-investigation", tooltip="Back to the console"),
        Binding("q", "close", "Close", show=False, id="close-investigation-q", tooltip="Back to the console"),
        *_tab_bindings(),
        Binding("slash", "filter_evidence", "Filter", id="filter-evidence", tooltip="Filter the Evidence tab by text"),
        Binding("t", "take_action", "Take action", id="take-action", tooltip="Propose an action on the highlighted entity; it waits for approval"),
    ]

    class ProposalRequested(Message):
        """The analyst picked an action for an entity; the app proposes it."""

        def __init__(self, investigation_screen: InvestigationScreen, investigation_id: str, proposal: Proposal) -> None:
            super().__init__()
            self.investigation_screen = investigation_screen
            self.investigation_id = investigation_id
            self.proposal = proposal

    DEFAULT_CSS = """
    InvestigationScreen {
        layout: vertical;
    }
    InvestigationScreen #investigation-bar {
        height: 1;
    }
    InvestigationScreen #investigation-title {
        width: 1fr;
        height: 1;
        padding: 0 1;
        background: $panel;
        color: $text;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    InvestigationScreen #investigation-tabs {
        height: 1fr;
    }
    /* One cell between tab labels instead of two, so all eight fit in 80 columns. */
    InvestigationScreen #investigation-tabs Tab {
        padding: 0 1 0 0;
    }
    InvestigationScreen TabPane {
        padding: 0;
        height: 1fr;
    }
    InvestigationScreen KeyedTable {
        height: 1fr;
    }
    InvestigationScreen KeyedTable:focus {
        background-tint: $foreground 3%;
    }
    InvestigationScreen #summary-scroll, InvestigationScreen #node-graph {
        height: 1fr;
        padding: 0 1;
    }
    InvestigationScreen .row-detail {
        height: auto;
        max-height: 6;
        padding: 0 1;
        border-top: solid $secondary;
    }
    InvestigationScreen .section-title {
        height: 1;
        padding: 0 1;
        text-style: bold;
    }
    InvestigationScreen #pending-table {
        height: auto;
        max-height: 8;
    }
    InvestigationScreen #evidence-bar {
        height: 1;
        padding: 0 1;
    }
    InvestigationScreen #evidence-filter {
        width: 1fr;
    }
    InvestigationScreen #evidence-count {
        width: auto;
        padding: 0 0 0 1;
    }
    InvestigationScreen #entities-note {
        height: auto;
        padding: 0 1;
        color: $text-muted;
    }
    InvestigationScreen #entities-table {
        height: auto;
        max-height: 70%;
    }
    """

    def __init__(
        self,
        detail_loader: DetailLoader,
        *,
        message_loader: MessageLoader | None = None,
        headers_loader: HeadersLoader | None = None,
        clock: Clock | None = None,
        can_propose: bool = False,
    ) -> None:
        """Show an investigation read through `detail_loader`.

        Args:
            detail_loader: Returns the investigation as it is now, or None when it is gone.
                It runs on mount and on every `reload()`.
            message_loader: Returns the parsed email for a message entity's key, so enter opens
                the full message. Without a loader or a message, enter opens the entity details.
            headers_loader: Returns an email's stored header block for the "Raw headers" section.
            clock: Current time for waiting and pending times; None uses the app's `clock`
                attribute when it has one, else the system clock.
            can_propose: Offer `t`, which proposes an action on the highlighted entity by posting
                `ProposalRequested`. Off for analysts who may not change anything.
        """
        super().__init__()
        self.detail_loader = detail_loader
        self.message_loader = message_loader
        self.headers_loader = headers_loader
        self.clock = clock
        self.can_propose = can_propose
        self.detail: InvestigationDetail | None = None
        self.evidence_filter = ""

    # Layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="investigation-bar"):
            yield Static(id="investigation-title")
            yield PendingCount(id="investigation-pending")
            yield SyncIndicator(id="investigation-sync")
        with TabbedContent(id="investigation-tabs", initial="summary"):
            for pane, title, key, _help in TABS:
                with TabPane(Content.assemble((key, "bold"), " ", title), id=pane):
                    yield from self._compose_pane(pane)
        yield Footer()

    def _compose_pane(self, pane: str) -> ComposeResult:
        if pane == "summary":
            with VimScroll(id="summary-scroll"):
                yield Static(id="summary-text")
        elif pane == "graph":
            yield NodeGraph(id="node-graph")
            yield Static(_GRAPH_HINT, id="graph-hint", classes="row-detail")
        elif pane == "alerts":
            yield KeyedTable(id="alerts-table")
            yield Static(id="alert-detail", classes="row-detail")
        elif pane == "mailboxes":
            yield KeyedTable(id="mailboxes-table")
        elif pane == "evidence":
            with Horizontal(id="evidence-bar"):
                yield EvidenceFilter(placeholder="/ filter: kind, verdict, text, threat or source", id="evidence-filter", compact=True)
                yield Static(id="evidence-count")
            yield KeyedTable(id="evidence-table")
        elif pane == "entities":
            yield KeyedTable(id="entities-table")
            yield Static(Text(_REMEDIATED_NOTE), id="entities-note")
        elif pane == "log":
            yield KeyedTable(id="log-table")
        elif pane == "actions":
            yield Static(id="pending-title", classes="section-title")
            yield KeyedTable(id="pending-table")
            yield Static(id="history-title", classes="section-title")
            yield KeyedTable(id="history-table")
            yield Static(id="decisions-detail", classes="row-detail")

    def on_mount(self) -> None:
        self._add_columns()
        self._load_and_show()
        self.query_one("#summary-scroll", VimScroll).focus()

    def _add_columns(self) -> None:
        columns = {
            "alerts-table": ["Severity", "Alert", "Time", "Hits", "Users", "Status", "Incident", "Details"],
            "mailboxes-table": ["Verdict", "Kind", "Mailbox or user", "Evidence", "VIP", "Department", "Settings found"],
            "evidence-table": ["Verdict", "Kind", "Entity", "Threats", "Evidence", "First source"],
            "entities-table": ["Type", "Total", "Malicious", "Suspicious", "No threats found", "Unknown", "Remediated"],
            "log-table": ["Step", "Started", "Duration", "Outcome", "Entities", "Summary"],
            "pending-table": ["Type", "Scope", "Waiting", "Impact"],
            "history-table": ["Type", "Status", "Decided by", "Decided at", "Waited", "Comment", "Decisions", "Scope"],
        }
        for table_id, labels in columns.items():
            table = self.query_one(f"#{table_id}", KeyedTable)
            for label in labels:
                table.add_column(label, key=label.lower())

    def _now(self) -> datetime:
        clock = self.clock or getattr(self.app, "clock", None) or system_clock
        return clock()

    # Data ------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the investigation again and redraw every tab, keeping the tab, cursors and filter."""
        # Before mount the tables have no columns yet, and on_mount does the first load anyway.
        if self.is_mounted:
            self._load_and_show()

    def _load_and_show(self) -> None:
        self.detail = self.detail_loader()
        detail = self.detail
        now = self._now()
        self.query_one("#investigation-title", Static).update(_title_line(detail))
        self.query_one("#summary-text", Static).update(investigation_summary(detail, now) if detail else Text("No investigation to show.", style="dim"))
        self.query_one(NodeGraph).show(detail)
        entities = detail.entities if detail else []
        actions = detail.actions if detail else []
        self._show_alerts(_alerts_in_scope(detail) if detail else [])
        self._show_mailboxes(entities)
        self._show_evidence()
        self._show_entity_counts(entity_counts(detail) if detail else [])
        self._show_log(detail.log if detail else [])
        self._show_actions(actions, detail.decisions if detail else {}, now)

    def _show_alerts(self, alerts: list[Alert]) -> None:
        table = self.query_one("#alerts-table", KeyedTable)
        table.replace_rows(
            (
                alert.id,
                alert,
                (
                    severity_text(alert.severity),
                    safe(alert.title, limit=60),
                    Text(_time(alert.occurred)),
                    Text(str(alert.hit_count)),
                    safe(", ".join(_alert_users(alert)) or _DASH, limit=60),
                    Text(alert.status.value),
                    safe(alert.incident_id or _DASH),
                    safe(alert.details or _DASH, limit=60),
                ),
            )
            for alert in alerts
        )
        self._show_alert_detail(table.selected)

    def _show_alert_detail(self, alert: Alert | None) -> None:
        text = alert_detail_text(alert) if alert else Text("No alert recorded for this investigation.", style="dim")
        self.query_one("#alert-detail", Static).update(text)

    def _show_mailboxes(self, entities: list[Entity]) -> None:
        owners = [entity for entity in entities if entity.kind in _OWNER_KINDS]
        table = self.query_one("#mailboxes-table", KeyedTable)
        rows = []
        for entity in owners:
            settings = settings_of(entity, entities)
            found = (f"{len(settings)}: " + "; ".join(plain(setting.label) for setting in settings)) if settings else "none"
            vip = _vip_text(entity.attributes.get("vip"))
            cells = (
                verdict_badge(entity.verdict),
                Text(ENTITY_NAMES.get(entity.kind, entity.kind.value)),
                safe(entity.label, limit=50),
                Text(str(len(entity.evidence))),
                Text(vip),
                safe(entity.attributes.get("department") or _DASH, limit=30),
                safe(found, limit=80),
            )
            rows.append((entity.id, entity, cells))
        table.replace_rows(rows)

    def _show_evidence(self) -> None:
        entities = self.detail.entities if self.detail else []
        needle = self.evidence_filter.casefold().strip()
        matching = [entity for entity in entities if not needle or needle in _search_text(entity)]
        table = self.query_one("#evidence-table", KeyedTable)
        table.replace_rows(
            (
                entity.id,
                entity,
                (
                    verdict_badge(entity.verdict),
                    Text(ENTITY_NAMES.get(entity.kind, entity.kind.value)),
                    safe(entity.label, limit=60),
                    Text(", ".join(threat.value for threat in entity.threats) or _DASH),
                    Text(str(len(entity.evidence))),
                    safe(entity.evidence[0].source if entity.evidence and entity.evidence[0].source else _DASH, limit=40),
                ),
            )
            for entity in matching
        )
        count = f"{len(matching)} of {len(entities)} entities" if needle else f"{len(entities)} entities"
        self.query_one("#evidence-count", Static).update(Text(count, style="dim"))

    def _show_entity_counts(self, rows: list[EntityCount]) -> None:
        table = self.query_one("#entities-table", KeyedTable)

        def cells(row: EntityCount) -> tuple[Text, ...]:
            numbers = (row.total, row.malicious, row.suspicious, row.no_threats_found, row.unknown, row.remediated)
            return (Text(row.name, style="bold" if row.kind is None else ""), *(Text(str(n)) for n in numbers))

        table.replace_rows((row.name, row.name, cells(row)) for row in rows)

    def _show_log(self, steps: list[LogStep]) -> None:
        table = self.query_one("#log-table", KeyedTable)
        table.replace_rows(
            (
                str(position),
                step,
                (
                    safe(step.name, limit=40),
                    Text(_time(step.started)),
                    Text(_milliseconds(step.duration_ms)),
                    _outcome_text(step.outcome),
                    Text(str(step.entities_touched)),
                    safe(step.summary or _DASH, limit=80),
                ),
            )
            for position, step in enumerate(steps)
        )

    def _show_actions(self, actions: list[PendingAction], decisions: dict[str, list[Decision]], now: datetime) -> None:
        pending = [action for action in actions if action.status is ActionStatus.PENDING]
        decided = [action for action in actions if action.status is not ActionStatus.PENDING]
        self.query_one("#pending-title", Static).update(Text(f"Pending approval ({len(pending)})"))
        self.query_one("#history-title", Static).update(Text(f"History ({len(decided)})"))
        self.query_one("#pending-table", KeyedTable).replace_rows(
            (
                action.id,
                action,
                (
                    Text(action.action_type.value),
                    safe(action.scope, limit=40),
                    Text(_duration((now - action.created).total_seconds())),
                    safe(short_impact(action), limit=80),
                ),
            )
            for action in pending
        )
        history = self.query_one("#history-table", KeyedTable)
        rows = []
        for action in decided:
            action_decisions = decisions.get(action.id, [])
            # The action shows its latest decision, as the store's projection does, but the wait
            # for approval ended at the first.
            first, last = (action_decisions[0], action_decisions[-1]) if action_decisions else (None, None)
            cells = (
                Text(action.action_type.value),
                status_text(action.status.value),
                safe(last.analyst if last else _DASH, limit=30),
                Text(_time(last.time) if last else _DASH),
                Text(_duration((first.time - action.created).total_seconds()) if first else _DASH),
                safe(last.comment if last and last.comment else _DASH, limit=50),
                Text(str(len(action_decisions))),
                safe(action.scope, limit=40),
            )
            rows.append((action.id, action, cells))
        history.replace_rows(rows)
        self._show_decisions(history.selected)

    def _show_decisions(self, action: PendingAction | None) -> None:
        decisions = self.detail.decisions if self.detail else {}
        self.query_one("#decisions-detail", Static).update(decisions_text(action, decisions.get(action.id, []) if action else []))

    # Events ----------------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "evidence-filter":
            event.stop()
            self.evidence_filter = event.value
            self._show_evidence()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "evidence-filter":
            event.stop()
            self.query_one("#evidence-table", KeyedTable).focus()

    def on_evidence_filter_cleared(self, event: EvidenceFilter.Cleared) -> None:
        self.evidence_filter = ""
        self._show_evidence()
        self.query_one("#evidence-table", KeyedTable).focus()

    def on_data_table_row_highlighted(self, event: KeyedTable.RowHighlighted) -> None:
        table = event.data_table
        if not isinstance(table, KeyedTable):
            return
        record = table.record_for(event)
        if table.id == "alerts-table" and isinstance(record, Alert):
            self._show_alert_detail(record)
        elif table.id == "history-table" and isinstance(record, PendingAction):
            self._show_decisions(record)

    def on_data_table_row_selected(self, event: KeyedTable.RowSelected) -> None:
        table = event.data_table
        if not isinstance(table, KeyedTable):
            return
        event.stop()
        record = table.record_for(event)
        entity: Entity | None = None
        if isinstance(record, Entity):
            entity = record
        elif isinstance(record, Alert):
            entity = self._entity_by_id(f"{EntityKind.ALERT.value}:{record.id}")
        elif isinstance(record, PendingAction):
            entity = self._entity_of_action(record)
        if entity is not None:
            self.open_entity(entity)
        elif isinstance(record, PendingAction):
            self.notify("This action's cluster or setting is not among the investigation's entities.", severity="warning")

    def on_node_graph_entity_highlighted(self, event: NodeGraph.EntityHighlighted) -> None:
        event.stop()
        hint = _GRAPH_HINT
        if event.entity is not None:
            entity = event.entity
            hint = Text.assemble(
                verdict_badge(entity.verdict),
                " ",
                (ENTITY_NAMES.get(entity.kind, entity.kind.value), "bold"),
                " ",
                safe(entity.label, limit=200),
                f" · {len(entity.evidence)} evidence",
            )
        self.query_one("#graph-hint", Static).update(hint)

    def on_node_graph_entity_opened(self, event: NodeGraph.EntityOpened) -> None:
        event.stop()
        self.open_entity(event.entity)

    def _entity_by_id(self, entity_id: str) -> Entity | None:
        entities = self.detail.entities if self.detail else []
        return next((entity for entity in entities if entity.id == entity_id), None)

    def _entity_of_action(self, action: PendingAction) -> Entity | None:
        if action.cluster_id:
            return self._entity_by_id(f"{EntityKind.CLUSTER.value}:{action.cluster_id}")
        if action.setting is not None and self.detail is not None:
            return next((entity for entity in self.detail.entities if _setting_matches(entity, action, self.detail.entities)), None)
        return None

    def open_entity(self, entity: Entity) -> None:
        """Push the entity's details: the full email for a message when the loader has it."""
        message = None
        headers = None
        if entity.kind is EntityKind.MESSAGE:
            message = self.message_loader(entity.key) if self.message_loader else None
            headers = self.headers_loader(entity.key) if self.headers_loader else None
        if message is not None:
            self.app.push_screen(MessageDetail(entity, message, detail=self.detail, raw_headers=headers))
        else:
            self.app.push_screen(EntityDetail(entity, detail=self.detail, raw_headers=headers))

    # Actions ---------------------------------------------------------------------------------

    def action_show_tab(self, pane: str) -> None:
        tabs = self.query_one("#investigation-tabs", TabbedContent)
        tabs.active = pane
        target = {
            "summary": "#summary-scroll",
            "graph": "#node-graph",
            "alerts": "#alerts-table",
            "mailboxes": "#mailboxes-table",
            "evidence": "#evidence-table",
            "entities": "#entities-table",
            "log": "#log-table",
            "actions": "#pending-table" if self.query_one("#pending-table", KeyedTable).row_count else "#history-table",
        }[pane]
        self.query_one(target).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "take_action":
            return self.can_propose
        return True

    def highlighted_entity(self) -> Entity | None:
        """Return the entity under the cursor of the open tab (Graph, Mailboxes or Evidence), or None on other tabs."""
        active = self.query_one("#investigation-tabs", TabbedContent).active
        if active == "graph":
            return self.query_one(NodeGraph).highlighted
        if active in ("mailboxes", "evidence"):
            record = self.query_one(f"#{active}-table", KeyedTable).selected
            return record if isinstance(record, Entity) else None
        return None

    def action_take_action(self) -> None:
        entity = self.highlighted_entity()
        if entity is None or self.detail is None:
            self.notify("Highlight an entity on the Graph, Mailboxes or Evidence tab first (v, m or e).", severity="warning")
            return
        proposals = proposals_for(entity, self.detail)
        if not proposals:
            kind = ENTITY_NAMES.get(entity.kind, entity.kind.value)
            self.notify(f"No action applies to this entity ({kind.lower()}): take action on a sender, URL, file, email, cluster, user or mailbox.", severity="warning")
            return
        investigation_id = self.detail.investigation.id

        def chosen(proposal: Proposal | None) -> None:
            if proposal is None:
                self.notify("Nothing proposed.")
                return
            self.post_message(self.ProposalRequested(self, investigation_id, proposal))

        self.app.push_screen(TakeAction(entity, proposals), chosen)

    def show_action(self, action_id: str) -> None:
        """Open the Actions tab with the cursor on one action, after a reload shows it."""
        self.reload()
        self.action_show_tab("actions")
        for table_id in ("pending-table", "history-table"):
            table = self.query_one(f"#{table_id}", KeyedTable)
            if action_id in table.rows_by_key:
                table.move_cursor(row=table.get_row_index(action_id))
                table.focus()
                return

    def action_filter_evidence(self) -> None:
        self.action_show_tab("evidence")
        self.query_one("#evidence-filter", EvidenceFilter).focus()

    def action_close(self) -> None:
        self.dismiss(None)


# Text builders ---------------------------------------------------------------------------------

_REMEDIATED_NOTE = (
    "Remediated: emails an action moved out of Inbox and Junk Email, clusters with no member left "
    "in a mailbox after an action ran, and settings whose removal completed."
)


def _title_line(detail: InvestigationDetail | None) -> Text:
    if detail is None:
        return Text("No investigation selected", style="dim")
    investigation = detail.investigation
    return Text.assemble(
        ("Investigation ", "bold"),
        safe(investigation.id, limit=32),
        " · ",
        status_text(investigation.status.value),
        " · ",
        safe(investigation.title, limit=160),
    )


def investigation_summary(detail: InvestigationDetail, now: datetime) -> Group:
    """Build the Summary tab: status and why, times, playbook, incident, and the status timeline.

    Facts and timeline entries sit in two-column grids, so a long value wraps under itself
    instead of under the names.
    """
    investigation = detail.investigation
    facts = _grid()
    facts.add_row("Status", status_text(investigation.status.value))
    facts.add_row("", Text(investigation.status.explanation, style="dim"))
    if investigation.status_reason:
        facts.add_row("Reason", safe(investigation.status_reason))
    facts.add_row("Investigation id", safe(investigation.id))
    facts.add_row("Playbook", safe(investigation.playbook or _DASH))
    facts.add_row("Runs", Text(str(investigation.runs)))
    facts.add_row("Alert severity", _severity_of(detail))
    facts.add_row("Created", Text(_time(investigation.created)))
    facts.add_row("Queued", Text(_queued(investigation.queued, investigation.started, now)))
    facts.add_row("Started", Text(_time(investigation.started) if investigation.started else "not yet"))
    if investigation.status.is_terminal:
        facts.add_row("Ended", Text(_time(investigation.ended) if investigation.ended else "not recorded"))
    facts.add_row("Duration", Text(_run_time(investigation.started, investigation.ended, now)))
    facts.add_row("Pending approval", Text(_pending_time(investigation.pending_seconds, investigation.pending_since, now)))
    facts.add_row("Incident", _incident_text(detail))
    facts.add_row("Alerts in scope", Text(str(len(_alerts_in_scope(detail)))))
    timeline = _grid()
    for change in detail.status_history:
        entry = Text.assemble(status_text(change.status.value), " · by ", safe(change.actor or "system"))
        if change.reason:
            entry.append("\n")
            entry.append_text(safe(change.reason, style="dim"))
        timeline.add_row(Text(_time(change.time)), entry)
    parts: list[RenderableType] = [
        safe(investigation.title, style="bold"),
        facts,
        Text("\nStatus timeline (times in UTC)", style="bold"),
        timeline if detail.status_history else Text("No status changes recorded.", style="dim"),
    ]
    return Group(*parts)


def _grid() -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _severity_of(detail: InvestigationDetail) -> Text:
    alert = detail.alert or next(iter(detail.alerts), None)
    return severity_text(alert.severity) if alert else Text(_DASH)


def _incident_text(detail: InvestigationDetail) -> Text:
    incident = detail.incident
    if incident is None:
        incident_id = detail.investigation.incident_id
        return safe(f"{incident_id} (details not loaded)") if incident_id else Text("none")
    return Text.assemble(safe(incident.id), " · ", safe(incident.title, limit=120), " · ", incident.status.value)


def _alerts_in_scope(detail: InvestigationDetail) -> list[Alert]:
    if detail.alerts:
        return detail.alerts
    return [detail.alert] if detail.alert else []


def _alert_users(alert: Alert) -> list[str]:
    users = list(alert.users)
    if alert.user and alert.user not in users:
        users.insert(0, alert.user)
    return users


def alert_detail_text(alert: Alert) -> Text:
    """Build the full text of one alert under the Alerts table, where the cells are cut."""
    text = Text.assemble(severity_text(alert.severity), " ", safe(alert.title, style="bold"), "\n")
    text.append(f"{_time(alert.occurred)} · {alert.hit_count} {'hit' if alert.hit_count == 1 else 'hits'} · {alert.status.value}")
    if alert.incident_id:
        text.append(" · incident ")
        text.append_text(safe(alert.incident_id))
    if alert.triggered_by:
        text.append(" · started by ")
        text.append_text(safe(alert.triggered_by))
    text.append("\n")
    users = _alert_users(alert)
    if users:
        text.append("Users: ")
        text.append_text(safe(", ".join(users)))
        text.append("\n")
    if alert.details:
        text.append_text(safe(alert.details))
    return text


def decisions_text(action: PendingAction | None, decisions: list[Decision]) -> Text:
    """List every decision on one action, oldest first, with who, when and the comment."""
    if action is None:
        return Text("No decided actions.", style="dim")
    text = Text.assemble((f"{action.action_type.value} · {action.status.value}: ", "bold"), safe(action.title, limit=120), "\n")
    if not decisions:
        text.append("No decision recorded: the system changed its status.\n", style="dim")
    for decision in decisions:
        text.append(f"{_time(decision.time)}  {decision.kind.value} by ")
        text.append_text(safe(decision.analyst))
        if decision.comment:
            text.append(": ")
            text.append_text(safe(decision.comment))
        text.append("\n")
    return text


def _outcome_text(outcome: str) -> Text:
    # The mark keeps a failed step visible without colour.
    if outcome == "ok":
        mark, style = "✓", ""
    elif outcome.startswith("failed"):
        mark, style = "✗", "bold red"
    else:
        mark, style = "–", "dim"
    return Text.assemble((mark + " ", style), safe(outcome, limit=60, style=style))


def _vip_text(vip: object) -> str:
    if vip is True:
        return "VIP"
    if vip is False:
        return "no"
    return _DASH


def _search_text(entity: Entity) -> str:
    words = [
        entity.kind.value,
        ENTITY_NAMES.get(entity.kind, ""),
        entity.verdict.value,
        verdict_badge(entity.verdict).plain,
        entity.label,
        entity.key,
        *(threat.value for threat in entity.threats),
        *(item.source for item in entity.evidence),
    ]
    return " ".join(words).casefold()


# Times ----------------------------------------------------------------------------------------


def _time(moment: datetime | None) -> str:
    if moment is None:
        return _DASH
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def _duration(seconds: float) -> str:
    """Write a span as its two largest units, e.g. `2 d 4 h`, `3 min 5 s`."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


def _milliseconds(duration_ms: int) -> str:
    return f"{duration_ms} ms" if duration_ms < 1000 else _duration(duration_ms / 1000)


def _run_time(started: datetime | None, ended: datetime | None, now: datetime) -> str:
    if started is None:
        return "not started"
    if ended is None:
        return f"{_duration((now - started).total_seconds())} so far"
    return _duration((ended - started).total_seconds())


def _pending_time(finished_seconds: int, pending_since: datetime | None, now: datetime) -> str:
    """Add the waits that ended to the one still running, which `pending_seconds` leaves out."""
    current = (now - pending_since).total_seconds() if pending_since else 0.0
    total = finished_seconds + max(current, 0.0)
    if total <= 0:
        return "none"
    waiting = f", waiting since {_time(pending_since)}" if pending_since else ""
    return f"{_duration(total)}{waiting}"


def _queued(queued: datetime | None, started: datetime | None, now: datetime) -> str:
    if queued is None:
        return "never queued"
    until = started or now
    still = "" if started else " so far"
    return f"{_time(queued)}, {_duration((until - queued).total_seconds())} in the queue{still}"


# Entity counts ---------------------------------------------------------------------------------


class EntityCount:
    """One row of the Entities tab. `kind` is None on the row that adds up every kind."""

    def __init__(self, name: str, kind: EntityKind | None) -> None:
        self.name = name
        self.kind = kind
        self.total = 0
        self.malicious = 0
        self.suspicious = 0
        self.no_threats_found = 0
        self.unknown = 0
        self.remediated = 0

    def add(self, verdict: Verdict, remediated: bool) -> None:
        self.total += 1
        self.malicious += verdict is Verdict.MALICIOUS
        self.suspicious += verdict is Verdict.SUSPICIOUS
        self.no_threats_found += verdict is Verdict.NO_THREATS_FOUND
        self.unknown += verdict is Verdict.UNKNOWN
        self.remediated += remediated


def entity_counts(detail: InvestigationDetail) -> list[EntityCount]:
    """Count entities per kind by verdict and remediation, kinds in vocabulary order, then a total row."""
    rows = {kind: EntityCount(ENTITY_NAMES.get(kind, kind.value), kind) for kind in EntityKind}
    total = EntityCount("All", None)
    for entity in detail.entities:
        remediated = is_remediated(entity, detail)
        rows[entity.kind].add(entity.verdict, remediated)
        total.add(entity.verdict, remediated)
    present = [row for row in rows.values() if row.total]
    return [*present, total] if present else []


def is_remediated(entity: Entity, detail: InvestigationDetail) -> bool:
    """Decide whether an action took this entity out of users' reach.

    - An email counts when a completed action targeted it and moved it out of Inbox and Junk
      Email, or purged it. A partially failed action does not count, because the read model
      has no per-message results; moving to Junk Email leaves the email with its user.
    - A cluster counts when no member is left in Inbox or Junk Email now (`in_mailbox_now`, which
      the read model adds) and an action on the cluster ran. Mail that users deleted themselves
      while no action ran does not count.
    - A mailbox setting counts when a completed action removed it.
    Other kinds are never remediated themselves.
    """
    if entity.kind is EntityKind.MESSAGE:
        return any(
            action.status in _MESSAGE_ACTION_RAN
            and (action.action_type.destination is None or action.action_type.destination.value not in IN_MAILBOX_FOLDERS)
            and action.action_type.on_messages
            and any(target.message_id == entity.key for target in action.targets)
            for action in detail.actions
        )
    if entity.kind is EntityKind.CLUSTER:
        ran = any(action.cluster_id == entity.key and action.status in _ANY_ACTION_RAN for action in detail.actions)
        return ran and entity.attributes.get("in_mailbox_now") == 0
    if entity.kind is EntityKind.MAILBOX_CONFIG:
        return any(
            action.status is ActionStatus.COMPLETED and _setting_matches(entity, action, detail.entities) for action in detail.actions
        )
    return False


def _setting_matches(entity: Entity, action: PendingAction, entities: list[Entity]) -> bool:
    """Tell whether a mailbox-setting action is about this setting entity.

    The setting matches on its description, or on its mailbox plus its item id (an inbox rule's
    id, a delegate's address, or empty for mailbox forwarding).
    """
    # NOTE: assumes setting entities carry `mailbox` and `item_id` attributes or sit under their
    # mailbox entity. A setting recorded another way only matches on its description.
    setting = action.setting
    if setting is None or entity.kind is not EntityKind.MAILBOX_CONFIG:
        return False
    if setting.description and setting.description == entity.label:
        return True
    mailbox = str(entity.attributes.get("mailbox") or _owner_key(entity, entities)).lower()
    item_id = str(entity.attributes.get("item_id", ""))
    return mailbox == setting.mailbox.lower() and item_id == setting.item_id


def _owner_key(entity: Entity, entities: list[Entity]) -> str:
    parent = next((other for other in entities if other.id == entity.parent_id), None)
    return parent.key if parent is not None and parent.kind in _OWNER_KINDS else ""


def settings_of(owner: Entity, entities: list[Entity]) -> list[Entity]:
    """Return the mailbox settings found on a mailbox or user: children, or settings naming its address."""
    address = owner.key.lower()
    return [
        entity
        for entity in entities
        if entity.kind is EntityKind.MAILBOX_CONFIG
        and (entity.parent_id == owner.id or str(entity.attributes.get("mailbox", "")).lower() == address)
    ]
