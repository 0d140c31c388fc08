"""The console app: three panes over one investigation store, driven by the keyboard."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from air_tui.domain.ids import Clock, IdFactory, system_clock, ulid_factory
from air_tui.domain.vocab import ActionStatus, EntityKind, InvestigationStatus
from air_tui.service import ActionError, AirService, DecisionOutcome
from air_tui.store.queries import ActionRow
from air_tui.tenant.workspace import Workspace
from air_tui.tui.modals import (
    ActionDetail,
    ConfirmApproval,
    EntityDetail,
    HelpScreen,
    InvestigationSummary,
    MessageDetail,
    RejectReason,
    ResolveAlert,
)
from air_tui.tui.screens.explorer import ExplorerScreen
from air_tui.tui.screens.investigation import InvestigationScreen
from air_tui.tui.text import plain
from air_tui.tui.widgets.action_list import ActionList
from air_tui.tui.widgets.alert_filter import AlertFilter
from air_tui.tui.widgets.alert_queue import AlertQueue
from air_tui.tui.widgets.investigation_graph import InvestigationGraph, alert_text, evidence_text
from air_tui.tui.widgets.vim import VimScroll

log = logging.getLogger(__name__)

NARROW_WIDTH = 100
_MAIN_SCREEN_ACTIONS = frozenset({"approve", "reject", "focus_pane", "quit", "help", "open_investigation", "open_explorer", "resolve_alert"})
MAINTENANCE_SECONDS = 60.0
"""How often expired or settled pending actions are closed and queued investigations started."""
SHORT_HEIGHT = 30


class TenantPrepared(Message):
    """The worker finished ingesting and raising alerts."""

    def __init__(self, messages: int, alerts: int) -> None:
        super().__init__()
        self.messages = messages
        self.alerts = alerts


class InvestigationFinished(Message):
    def __init__(self, investigation_id: str, status: InvestigationStatus, done: int, total: int) -> None:
        super().__init__()
        self.investigation_id = investigation_id
        self.status = status
        self.done = done
        self.total = total


class ActionDecided(Message):
    def __init__(self, outcome: DecisionOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class ManualInvestigationStarted(Message):
    def __init__(self, title: str, status: str) -> None:
        super().__init__()
        self.title = title
        self.status = status


class WorkFailed(Message):
    def __init__(self, operation: str, error: str) -> None:
        super().__init__()
        self.operation = operation
        self.error = error


class AirApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "air-tui"

    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave the console"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help", tooltip="Keys and status meanings"),
        Binding("1", "focus_pane('alerts')", "Alerts", show=False, id="focus-alerts", tooltip="Focus the alert queue"),
        Binding("2", "focus_pane('graph')", "Graph", show=False, id="focus-graph", tooltip="Focus the investigation graph"),
        Binding("3", "focus_pane('actions')", "Actions", show=False, id="focus-actions", tooltip="Focus the pending actions"),
        Binding("a", "approve", "Approve", id="approve", tooltip="Approve the highlighted pending action"),
        Binding("r", "reject", "Reject", id="reject", tooltip="Reject the highlighted pending action, with a reason"),
        Binding("v", "open_investigation", "View", id="open-investigation", tooltip="Open the highlighted alert's investigation with every view"),
        Binding("x", "open_explorer", "Explorer", id="open-explorer", tooltip="Search all ingested mail and start manual investigations"),
        Binding("c", "resolve_alert", "Resolve", show=False, id="resolve-alert", tooltip="Resolve the highlighted alert when it has no investigation running, with a comment"),
    ]

    def __init__(
        self,
        *,
        workspace: Workspace,
        analyst: str,
        clock: Clock = system_clock,
        new_id: IdFactory = ulid_factory,
        reduce_motion: bool = False,
        bell_on_pending: bool = True,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.analyst = analyst
        self.clock = clock
        self.new_id = new_id
        self.reduce_motion = reduce_motion
        self.bell_on_pending = bell_on_pending
        self.service: AirService | None = None
        self.progress = "Loading…"
        self.pending_seen = 0
        self.preparing = True
        """While the first investigations run, new pending actions raise one notice at the end, not one each."""
        self.ledger_position = 0

    # Layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="status-bar")
        yield AlertFilter(placeholder="Filter alerts: words to match, enter to keep, esc to clear", id="alert-filter")
        yield AlertQueue(id="alerts")
        with Horizontal(id="middle"):
            yield InvestigationGraph(id="graph")
            with VimScroll(id="evidence"):
                yield Static(id="evidence-text")
        yield ActionList(id="actions")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#evidence", VimScroll).border_title = "Evidence"
        self.service = AirService(self.workspace, analyst=self.analyst, clock=self.clock, new_id=self.new_id)
        self.pending_seen = self.service.pending_count()
        self.refresh_views()
        self.query_one(AlertQueue).focus()
        self.prepare_tenant()
        # Decisions taken elsewhere (the CLI, another console) show up without a key press.
        self.set_interval(2.0, self.refresh_if_changed)
        self.set_interval(MAINTENANCE_SECONDS, self.maintain)

    def on_unmount(self) -> None:
        # Messages still queued at exit find no service and do nothing, instead of using a closed database.
        service, self.service = self.service, None
        if service is not None:
            service.close()

    def on_resize(self, event: Resize) -> None:
        self.screen.set_class(event.size.width < NARROW_WIDTH, "narrow")
        self.screen.set_class(event.size.height < SHORT_HEIGHT, "short")

    # Background work; workers post messages and never touch widgets ---------------------------

    def _worker_service(self) -> AirService:
        return AirService(self.workspace, analyst=self.analyst, clock=self.clock, new_id=self.new_id)

    @work(thread=True, exclusive=True, group="investigate")
    def prepare_tenant(self) -> None:
        try:
            with self._worker_service() as service, service.exclusive():
                service.ingest()
                raised = service.raise_alerts()
                self.post_message(TenantPrepared(service.message_count(), raised))
                service.resume_approved()
                waiting = [i for i in service.investigations() if i.status in (InvestigationStatus.STARTING, InvestigationStatus.RUNNING)]
                total = len(waiting)
                done = 0

                def finished(investigation_id: str, status: InvestigationStatus) -> None:
                    nonlocal done
                    done += 1
                    self.post_message(InvestigationFinished(investigation_id, status, done, total))

                service.run_investigations(on_finished=finished)
                if total == 0:
                    self.post_message(InvestigationFinished("", InvestigationStatus.NO_THREATS_FOUND, 0, 0))
        except Exception as error:  # noqa: BLE001 - shown to the analyst instead of killing the app
            log.exception("Preparing the tenant failed")
            self.post_message(WorkFailed("Investigating the tenant", f"{type(error).__name__}: {error}"))

    @work(thread=True, exclusive=True, group="maintain")
    def maintain(self) -> None:
        """Close expired or settled pending actions and run queued investigations that have a slot."""
        if self.preparing:
            return
        try:
            with self._worker_service() as service, service.exclusive():
                service.run_investigations()
        except Exception as error:  # noqa: BLE001 - shown to the analyst instead of killing the app
            log.exception("Maintenance of investigations failed")
            self.post_message(WorkFailed("Checking pending actions", f"{type(error).__name__}: {error}"))

    @work(thread=True, group="manual")
    def start_manual(self, message_id: str, target: str) -> None:
        try:
            with self._worker_service() as service:
                alert = service.start_manual_investigation(message_id, target)
                detail = service.investigation_detail(alert.investigation_id) if alert.investigation_id else None
            status = detail.investigation.status.value if detail else "not started"
            self.post_message(ManualInvestigationStarted(alert.details or alert.title, status))
        except ActionError as error:
            log.warning("Manual investigation of %s (%s) rejected: %s", message_id, target, error)
            self.post_message(WorkFailed("The manual investigation", str(error)))
        except Exception as error:  # noqa: BLE001
            log.exception("Manual investigation of %s (%s) failed", message_id, target)
            self.post_message(WorkFailed("The manual investigation", f"{type(error).__name__}: {error}"))

    @work(thread=True, group="decide")
    def decide(self, action_id: str, approve: bool, comment: str) -> None:
        try:
            with self._worker_service() as service:
                outcome = service.approve(action_id, comment=comment) if approve else service.reject(action_id, reason=comment)
            self.post_message(ActionDecided(outcome))
        except ActionError as error:
            log.warning("Decision on action %s rejected by the service: %s", action_id, error)
            self.post_message(WorkFailed("The decision", str(error)))
        except Exception as error:  # noqa: BLE001
            log.exception("Decision on action %s failed", action_id)
            self.post_message(WorkFailed("The decision", f"{type(error).__name__}: {error}"))

    def on_tenant_prepared(self, message: TenantPrepared) -> None:
        self.progress = f"{message.messages} messages indexed, investigating…"
        self.refresh_views()

    def on_investigation_finished(self, message: InvestigationFinished) -> None:
        finished = message.done >= message.total
        self.progress = "Ready" if finished else f"Investigated {message.done} of {message.total}"
        if finished:
            self.preparing = False
        self.refresh_views()

    def on_action_decided(self, message: ActionDecided) -> None:
        outcome = message.outcome
        action = outcome.action
        if outcome.decision.kind.value == "approved":
            results = ", ".join(f"{count} {name.lower()}" for name, count in sorted(outcome.results.items()))
            failed = outcome.status is not ActionStatus.COMPLETED
            self.notify(
                f"Approved by {plain(outcome.decision.analyst)}: {action.action_type.value} {outcome.status.value.lower()} ({results}).",
                title="Action approved",
                severity="warning" if failed else "information",
            )
        else:
            self.notify(f"Rejected by {plain(outcome.decision.analyst)}: {plain(outcome.decision.comment)}", title="Action rejected")
        self.progress = "Ready"
        self.refresh_views()

    def on_manual_investigation_started(self, message: ManualInvestigationStarted) -> None:
        self.notify(f"{plain(message.title)}: {message.status}.", title="Manual investigation")
        self.refresh_views()

    def on_explorer_screen_investigation_requested(self, message: ExplorerScreen.InvestigationRequested) -> None:
        article = "an" if message.target[:1] in "aeiou" else "a"
        self.notify(f"Starting {article} {message.target} investigation…", title="Manual investigation")
        self.start_manual(message.message_id, message.target)

    def on_work_failed(self, message: WorkFailed) -> None:
        self.notify(f"{message.operation} failed: {plain(message.error)}", severity="error", timeout=10)
        self.progress = "Ready"
        self.preparing = False
        self.refresh_views()

    # Views --------------------------------------------------------------------------------------

    def refresh_if_changed(self) -> None:
        if self.service is not None and self.service.ledger_position() != self.ledger_position:
            self.refresh_views()
            if isinstance(self.screen, InvestigationScreen):
                self.screen.reload()

    def _panes_ready(self) -> bool:
        """Return whether the service and the panes exist; both are gone while the app shuts down."""
        return self.service is not None and all(bool(self.query(pane)) for pane in (AlertQueue, InvestigationGraph, ActionList))

    def refresh_views(self) -> None:
        # A worker's message can arrive after quit removed the panes: there is nothing to refresh then.
        if not self._panes_ready():
            return
        assert self.service is not None
        self.ledger_position = self.service.ledger_position()
        alerts = self.query_one(AlertQueue)
        alerts.load(self.service)
        self.query_one(ActionList).show(self.service.actions(ActionStatus.PENDING))
        self._show_investigation(alerts.selected.investigation_id if alerts.selected else "")
        pending = self.service.pending_count()
        if pending > self.pending_seen and not self.preparing:
            new = pending - self.pending_seen
            self.notify(f"{new} new pending {'action' if new == 1 else 'actions'} to decide.", title="Pending actions")
            if self.bell_on_pending:
                self.bell()
        if not self.preparing:
            self.pending_seen = pending
        self._update_status(pending)

    def _update_status(self, pending: int) -> None:
        if self.service is None or not self.query("#status-bar"):
            return
        organisation = self.service.tenant.organisation.name
        queued = self.service.queued_count()
        bar = Text.assemble(
            ("air-tui", "bold"),
            f" · {plain(organisation)} · analyst {plain(self.analyst)} · ",
            (f"{pending} pending {'action' if pending == 1 else 'actions'}", "bold" if pending else ""),
            # The throttling queue is shown only when something waits in it.
            (f" · {queued} queued" if queued else "", "bold"),
            f" · {self.progress}",
        )
        self.query_one("#status-bar", Static).update(bar)

    def _show_investigation(self, investigation_id: str) -> None:
        if not self._panes_ready():
            return
        assert self.service is not None
        detail = self.service.investigation_detail(investigation_id) if investigation_id else None
        graph = self.query_one(InvestigationGraph)
        graph.show(detail)
        selected = self.query_one(AlertQueue).selected
        if detail is None and selected is not None and not selected.investigation_id:
            # Alerts whose policy starts no playbook still need their facts on screen; on a narrow
            # terminal the evidence pane is hidden, so the graph's top line tells the analyst what to do.
            self.query_one("#evidence-text", Static).update(alert_text(selected.alert))
            graph.root.set_label(Text(f"No investigation (c resolves the alert) · {plain(selected.alert.details or selected.alert.title, 120)}", style="dim"))
            return
        self.query_one("#evidence-text", Static).update(evidence_text(None, detail))

    def on_alert_queue_alert_highlighted(self, message: AlertQueue.AlertHighlighted) -> None:
        if not self._panes_ready():
            return
        # Typing a filter highlights rows that a later key filters out again; only the row still
        # under the cursor may fill the other panes.
        selected = self.query_one(AlertQueue).selected
        if selected is None or selected.alert.id != message.row.alert.id:
            return
        self._show_investigation(message.row.investigation_id)
        self.query_one(ActionList).select_first_of(message.row.investigation_id)

    def on_alert_queue_filter_requested(self, message: AlertQueue.FilterRequested) -> None:
        search = self.query_one(AlertFilter)
        search.display = True
        search.focus()

    def on_input_changed(self, message: Input.Changed) -> None:
        if message.input.id == "alert-filter":
            queue = self.query_one(AlertQueue)
            queue.apply_filter(message.value)
            self._show_investigation(queue.selected.investigation_id if queue.selected else "")

    def on_input_submitted(self, message: Input.Submitted) -> None:
        if message.input.id == "alert-filter":
            self.query_one(AlertQueue).focus()

    def on_alert_queue_filter_cleared(self, message: AlertQueue.FilterCleared) -> None:
        self.on_alert_filter_cleared(AlertFilter.Cleared())

    def on_alert_filter_cleared(self, message: AlertFilter.Cleared) -> None:
        search = self.query_one(AlertFilter)
        search.value = ""
        search.display = False
        queue = self.query_one(AlertQueue)
        queue.apply_filter("")
        queue.focus()

    def on_alert_queue_alert_opened(self, message: AlertQueue.AlertOpened) -> None:
        self._show_investigation(message.row.investigation_id)
        self.query_one(InvestigationGraph).focus()

    def on_investigation_graph_entity_highlighted(self, message: InvestigationGraph.EntityHighlighted) -> None:
        if not self._panes_ready():
            return
        self.query_one("#evidence-text", Static).update(evidence_text(message.entity, message.detail))

    def on_investigation_graph_entity_opened(self, message: InvestigationGraph.EntityOpened) -> None:
        entity = message.entity
        email = self.service.message(entity.key) if self.service and entity.kind is EntityKind.MESSAGE else None
        self.push_screen(MessageDetail(entity, email) if email is not None else EntityDetail(entity))

    def on_investigation_graph_summary_opened(self, message: InvestigationGraph.SummaryOpened) -> None:
        self.push_screen(InvestigationSummary(message.detail))

    def on_action_list_action_opened(self, message: ActionList.ActionOpened) -> None:
        if self.service is None:
            return
        self.push_screen(ActionDetail(message.row.action, self.service.action_results(message.row.action.id)))

    # Actions --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keep the console's keys off while a dialog is open, so `a` or `q` there does nothing."""
        # Help stays on over full screens (investigation, explorer), but not over a dialog.
        if action == "help":
            return not isinstance(self.screen, ModalScreen)
        if action in _MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        return True

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(f"#{pane}").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_open_investigation(self) -> None:
        queue = self.query_one(AlertQueue)
        row = queue.selected
        if self.service is None or row is None or not row.investigation_id:
            self.notify("The highlighted alert has no investigation: its policy starts none." if row else "Select an alert first.")
            return
        service, investigation_id = self.service, row.investigation_id
        self.push_screen(
            InvestigationScreen(
                lambda: service.investigation_detail(investigation_id),
                message_loader=service.message,
                headers_loader=service.raw_headers,
            )
        )

    def action_resolve_alert(self) -> None:
        row = self.query_one(AlertQueue).selected
        if self.service is None or row is None:
            self.notify("Select an alert first.")
            return
        alert = row.alert

        def resolved(comment: str | None) -> None:
            if comment is None:
                self.notify("Nothing resolved.")
                return
            try:
                assert self.service is not None
                self.service.resolve_alert(alert.id, comment)
            except ActionError as error:
                self.notify(plain(str(error)), severity="warning", timeout=10)
                return
            self.notify(f"Resolved: {plain(alert.title)}.", title="Alert resolved")
            self.refresh_views()

        self.push_screen(ResolveAlert(alert), resolved)

    def action_open_explorer(self) -> None:
        if self.service is not None:
            self.push_screen(ExplorerScreen(self.service, internal_domains=tuple(self.service.tenant.organisation.domains)))

    def _action_to_decide(self, verb: str) -> ActionRow | None:
        """Return the action `a` or `r` applies to, or notify the analyst why there is none.

        In the actions pane it is the highlighted row. Elsewhere it must belong to the highlighted
        alert's investigation, so a key pressed while reading one alert never decides another's.
        """
        actions = self.query_one(ActionList)
        if self.focused is actions:
            row = actions.selected
            if row is None:
                self.notify(f"No pending action to {verb}.", severity="warning")
            return row
        alert = self.query_one(AlertQueue).selected
        investigation_id = alert.investigation_id if alert else ""
        mine = [row for row in actions.rows_by_key.values() if row.action.investigation_id == investigation_id]
        if not mine:
            self.notify(f"The highlighted alert's investigation has no pending action to {verb}.", severity="warning")
            return None
        if len(mine) > 1:
            actions.select_first_of(investigation_id)
            actions.focus()
            self.notify(f"This investigation has {len(mine)} pending actions: pick one here and press {verb[0]} again.")
            return None
        return mine[0]

    def action_approve(self) -> None:
        row = self._action_to_decide("approve")
        if row is None:
            return
        action = row.action

        def confirmed(comment: str | None) -> None:
            if comment is None:
                self.notify("Approval cancelled; nothing changed.")
                return
            self.progress = f"Running {action.action_type.value}…"
            self._update_status(self.service.pending_count() if self.service else 0)
            self.decide(action.id, True, comment)

        self.push_screen(ConfirmApproval(action, investigation=row.investigation_title), confirmed)

    def action_reject(self) -> None:
        row = self._action_to_decide("reject")
        if row is None:
            return
        action = row.action

        def reasoned(reason: str | None) -> None:
            if reason is None:
                self.notify("Rejection cancelled; nothing changed.")
                return
            self.decide(action.id, False, reason)

        self.push_screen(RejectReason(action, investigation=row.investigation_title), reasoned)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Approve pending action", "Approve the highlighted pending action, after a confirmation", self.action_approve)
        yield SystemCommand("Reject pending action", "Reject the highlighted pending action, with a reason", self.action_reject)
        yield SystemCommand("Focus alerts", "Move to the alert queue", lambda: self.action_focus_pane("alerts"))
        yield SystemCommand("Focus investigation", "Move to the investigation graph", lambda: self.action_focus_pane("graph"))
        yield SystemCommand("Focus pending actions", "Move to the pending actions", lambda: self.action_focus_pane("actions"))
        yield SystemCommand("Open investigation", "Every view of the highlighted alert's investigation: summary, graph, alerts, evidence, log, actions", self.action_open_investigation)
        yield SystemCommand("Resolve alert", "Resolve the highlighted alert, with a comment, when no investigation of it runs", self.action_resolve_alert)
        yield SystemCommand("Open explorer", "Search all ingested mail and start manual investigations", self.action_open_explorer)
        yield SystemCommand("Help", "Keys and status meanings", self.action_help)
        yield SystemCommand("Refresh", "Reload the panes from the store", self.refresh_views)
