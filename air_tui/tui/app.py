"""The console app: three panes over one investigation store, driven by the keyboard."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Static

from air_tui.domain.config import Config
from air_tui.domain.ids import Clock, IdFactory, system_clock, ulid_factory
from air_tui.domain.vocab import ActionStatus, EntityKind, InvestigationStatus
from air_tui.service import ActionError, AirService
from air_tui.store.queries import ActionRow
from air_tui.sync import SyncReport
from air_tui.tenant.workspace import Workspace
from air_tui.tui.decision_dialogs import ask_approval, ask_rejection
from air_tui.tui.decisions import (
    ActionsDecided,
    DecisionFailed,
    DecisionProgress,
    DecisionRequest,
    DecisionRequested,
    outcome_notice,
)
from air_tui.tui.modals import (
    ActionDetail,
    EntityDetail,
    HelpScreen,
    InvestigationSummary,
    MessageDetail,
    ResolveAlert,
)
from air_tui.tui.screens.action_center import ActionCenterScreen
from air_tui.tui.screens.explorer import ExplorerScreen
from air_tui.tui.screens.investigation import InvestigationScreen
from air_tui.tui.text import plain
from air_tui.tui.widgets.action_list import ActionList
from air_tui.tui.widgets.alert_filter import AlertFilter
from air_tui.tui.widgets.alert_queue import AlertQueue
from air_tui.tui.widgets.investigation_graph import InvestigationGraph, alert_text, evidence_text
from air_tui.tui.widgets.sync_indicator import SyncIndicator, SyncView
from air_tui.tui.widgets.vim import VimScroll

log = logging.getLogger(__name__)

NARROW_WIDTH = 100
_MAIN_SCREEN_ACTIONS = frozenset(
    {"approve", "reject", "focus_pane", "quit", "help", "open_investigation", "open_explorer", "open_action_center", "resolve_alert"}
)
_CHANGING_ACTIONS = frozenset({"approve", "reject", "resolve_alert"})
"""Main-screen keys that change the record; they are off for readers and in read-only mode."""
_PROGRESS_STEPS = 20
"""A running action reports its progress this many times at most, so a large one does not flood the screen."""
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


class SyncChecked(Message):
    """The sync worker finished one round: what it read, and the report when it pushed and pulled."""

    def __init__(self, view: SyncView, report: SyncReport | None, requested: bool) -> None:
        super().__init__()
        self.view = view
        self.report = report
        """None when the backoff skipped the round, or the worker failed before it could sync."""
        self.requested = requested
        """True for "Sync now", whose outcome is notified; the periodic rounds only update the header."""


class AirApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "air-tui"

    BINDINGS = [
        # Shown in help, not the footer, to leave room for the keys that act on alerts and actions.
        Binding("q", "quit", "Quit", show=False, id="quit", tooltip="Leave the console"),
        Binding("question_mark,f1", "help", "Help", key_display="?", id="help", tooltip="Keys and status meanings"),
        Binding("1", "focus_pane('alerts')", "Alerts", show=False, id="focus-alerts", tooltip="Focus the alert queue"),
        Binding("2", "focus_pane('graph')", "Graph", show=False, id="focus-graph", tooltip="Focus the investigation graph"),
        Binding("3", "focus_pane('actions')", "Actions", show=False, id="focus-actions", tooltip="Focus the pending actions"),
        Binding("a", "approve", "Approve", id="approve", tooltip="Approve the highlighted pending action"),
        Binding("r", "reject", "Reject", id="reject", tooltip="Reject the highlighted pending action, with a reason"),
        Binding("v", "open_investigation", "View", id="open-investigation", tooltip="Open the highlighted alert's investigation with every view"),
        Binding("x", "open_explorer", "Explorer", id="open-explorer", tooltip="Search all ingested mail and start manual investigations"),
        Binding("A", "open_action_center", "Actions", id="open-action-center", tooltip="Every pending and decided action: filter, mark, approve, reject, undo"),
        Binding("c", "resolve_alert", "Resolve", show=False, id="resolve-alert", tooltip="Resolve the highlighted alert when it has no investigation running, with a comment"),
        Binding("ctrl+s", "sync_now", "Sync now", show=False, id="sync-now", tooltip="Push this console's events to the sync server and pull the others' now"),
    ]

    def __init__(
        self,
        *,
        workspace: Workspace,
        analyst: str,
        clock: Clock = system_clock,
        new_id: IdFactory = ulid_factory,
        reduce_motion: bool = False,
        bell_on_pending: bool | None = None,
        config: Config | None = None,
        read_only: bool = False,
        insecure_sync: bool = False,
    ) -> None:
        """Open the console on a workspace.

        Args:
            bell_on_pending: Ring the bell when new actions wait; None follows `[actions] bell`.
            config: The configuration every service of the console uses; None reads config.toml.
            read_only: Turn every change off, as `[access] read_only` does.
            insecure_sync: Allow team sync over plain HTTP to a server that is not this machine (`--insecure`).
        """
        super().__init__()
        self.workspace = workspace
        self.analyst = analyst
        self.clock = clock
        self.new_id = new_id
        self.reduce_motion = reduce_motion
        self.bell_on_pending = bell_on_pending
        self.config = config
        self.read_only = read_only
        self.insecure_sync = insecure_sync
        self.service: AirService | None = None
        self.progress = "Loading…"
        self.pending_seen: set[str] = set()
        """Ids of the pending actions already announced to the analyst; an id not in it is new."""
        self.preparing = True
        """While the first investigations run, new pending actions raise one notice at the end, not one each."""
        self.ledger_position = 0
        """Ledger position the console last read; a newer one means something changed."""
        self.panes_position = -1
        """Ledger position the main screen's panes show; they fall behind while another screen is on top."""
        self._typing_into: Input | None = None
        """The filter line `/` is opening, which takes the keys typed before it has focus."""
        self.sync_enabled = False
        """Whether `[sync] url` is set; read from the service's configuration on mount."""
        self._sync_url = ""
        self._sync_lock = threading.Lock()
        """Held by the sync worker that is pushing and pulling, so two rounds never overlap."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Show a notification as plain text, whatever a caller asks.

        Notifications carry mail subjects and the service's messages, such as "([access]
        four_eyes)", which Rich markup would drop or, from a crafted subject, style.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # Keys typed right after `/` ----------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded and self._type_ahead(event):
            return
        await super().on_event(event)

    def _type_ahead(self, event: events.Key) -> bool:
        """Send keys typed right after `/` into the filter line it opens; return True for a key taken.

        `/` shows a filter line and focuses it, but focus moves only after the keys already queued
        are handled. Keys that arrive in one burst (a paste, a laggy SSH link) would otherwise reach
        the table's bindings, so `/ay` could approve an action.
        """
        target = self._typing_into
        if target is not None:
            if self.focused is target or not target.is_attached:
                self._typing_into = None
                return False
            if event.is_printable and event.character:
                target.insert_text_at_cursor(event.character)
                return True
            self._typing_into = None
            return False
        if event.key == "slash" and not isinstance(self.focused, Input) and "slash" in self.screen.active_bindings:
            selector = getattr(self.screen, "FILTER_INPUT", "#alert-filter")
            found = self.screen.query(selector)
            self._typing_into = found.first(Input) if found else None
        return False

    # Layout ----------------------------------------------------------------------------------

    pending_count: var[int] = var(0)
    """Actions waiting for approval; every screen's header follows it."""

    sync_view: var[SyncView | None] = var(None)
    """The team sync state every screen's header shows; None while team sync is off."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="main-bar"):
            yield Static(id="status-bar")
            yield SyncIndicator(id="main-sync")
        yield AlertFilter(placeholder="Filter alerts: words to match, enter to keep, esc to clear", id="alert-filter")
        yield AlertQueue(id="alerts")
        with Horizontal(id="middle"):
            yield InvestigationGraph(id="graph")
            with VimScroll(id="evidence"):
                yield Static(id="evidence-text")
        yield ActionList(id="actions")
        # Compact, so every main-screen key fits in 80 columns.
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#evidence", VimScroll).border_title = "Evidence"
        self.service = self.open_service()
        self.pending_seen = {row.action.id for row in self.service.actions(ActionStatus.PENDING)}
        self.refresh_views()
        self.query_one(AlertQueue).focus()
        self.prepare_tenant()
        # Decisions taken elsewhere (the CLI, another console) show up without a key press.
        self.set_interval(2.0, self.refresh_if_changed)
        self.set_interval(MAINTENANCE_SECONDS, self.maintain)
        self._start_sync()

    def on_unmount(self) -> None:
        # Messages still queued at exit find no service and do nothing, instead of using a closed database.
        service, self.service = self.service, None
        if service is not None:
            service.close()
        if self.sync_enabled:
            self._release_automation()

    def on_resize(self, event: Resize) -> None:
        self.screen.set_class(event.size.width < NARROW_WIDTH, "narrow")
        self.screen.set_class(event.size.height < SHORT_HEIGHT, "short")
        self._update_status()

    # Background work; workers post messages and never touch widgets ---------------------------

    def open_service(self) -> AirService:
        """Open a service on the console's workspace, analyst and configuration; one per thread."""
        return AirService(
            self.workspace,
            analyst=self.analyst,
            clock=self.clock,
            new_id=self.new_id,
            config=self.config,
            read_only=self.read_only,
            insecure_sync=self.insecure_sync,
        )

    @work(thread=True, exclusive=True, group="investigate")
    def prepare_tenant(self) -> None:
        try:
            with self.open_service() as service, service.exclusive():
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
            with self.open_service() as service:
                with service.exclusive():
                    service.run_investigations()
                # Approved actions that waited for an execution slot, or that a crashed console
                # left running, start here once a slot is free.
                service.resume_approved()
        except Exception as error:  # noqa: BLE001 - shown to the analyst instead of killing the app
            log.exception("Maintenance of investigations failed")
            self.post_message(WorkFailed("Checking pending actions", f"{type(error).__name__}: {error}"))

    @work(thread=True, group="manual")
    def start_manual(self, message_id: str, target: str) -> None:
        try:
            with self.open_service() as service:
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
    def decide(self, request: DecisionRequest) -> None:
        """Record a confirmed decision and run what it approves, with a service of this thread."""
        reported = -1

        def progress(done: int, total: int) -> None:
            nonlocal reported
            step = max(total // _PROGRESS_STEPS, 1)
            if done == total or done - reported >= step:
                reported = done
                self.post_message(DecisionProgress(request.label, done, total))

        ids = ", ".join(request.action_ids)
        try:
            with self.open_service() as service:
                outcomes = request.run(service, progress)
            self.post_message(ActionsDecided(request, outcomes))
        except ActionError as error:
            log.warning("The service rejected the %s decision on %s: %s", request.kind.value, ids, error)
            self.post_message(DecisionFailed(request, str(error), refused=True))
        except Exception as error:  # noqa: BLE001 - shown to the analyst instead of killing the app
            log.exception("The %s decision on %s failed", request.kind.value, ids)
            self.post_message(DecisionFailed(request, f"{type(error).__name__}: {error}", refused=False))

    def on_tenant_prepared(self, message: TenantPrepared) -> None:
        self.progress = f"{message.messages} messages indexed, investigating…"
        self.refresh_views()

    def on_investigation_finished(self, message: InvestigationFinished) -> None:
        finished = message.done >= message.total
        self.progress = "Ready" if finished else f"Investigated {message.done} of {message.total}"
        if finished:
            self.preparing = False
        self.refresh_views()

    def on_decision_requested(self, message: DecisionRequested) -> None:
        self.decide(message.request)

    def on_decision_progress(self, message: DecisionProgress) -> None:
        self._show_progress(f"Running {message.label}: {message.done} of {message.total}…")

    def on_actions_decided(self, message: ActionsDecided) -> None:
        notice = outcome_notice(message.request, message.outcomes, self.analyst)
        self.notify(notice.text, title=notice.title, severity=notice.severity, timeout=8)
        self._show_progress("")
        self.refresh_all()

    def on_decision_failed(self, message: DecisionFailed) -> None:
        if message.refused:
            # The service's own sentence names the cause and what to do, so it is shown unchanged.
            self.notify(plain(message.error), title="Nothing decided", severity="error", timeout=12)
        else:
            self.notify(f"The decision failed: {plain(message.error)}", title="Decision failed", severity="error", timeout=12)
        self._show_progress("")
        self.refresh_all()

    def _show_progress(self, progress: str) -> None:
        """Show what a decision worker is doing, on the main status bar and in every action center."""
        self.progress = progress or "Ready"
        for screen in self.screen_stack:
            if isinstance(screen, ActionCenterScreen):
                screen.show_progress(progress)
        self._update_status()

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

    # Team sync; the worker posts what it read and the header follows `sync_view` -------------

    def _start_sync(self) -> None:
        """Show the sync state stored by earlier runs, then sync on mount and every `[sync] interval_seconds`."""
        if self.service is None or self.service.team is None:
            return
        self.sync_enabled = True
        self._sync_url = self.service.config.sync.url
        self.sync_view = _read_sync_view(self.service, self.clock)
        self.set_interval(float(self.service.config.sync.interval_seconds), self.sync_team)
        self.sync_team()

    @work(thread=True, exclusive=True, group="sync")
    def sync_team(self, requested: bool = False) -> None:
        """Push and pull once when the backoff allows it, or at once when `requested`, then post the state.

        A periodic round skips while another round runs. A requested one waits for it, and
        ignores the backoff, because the analyst asked for an attempt now.
        """
        if not self._sync_lock.acquire(blocking=requested):
            return
        try:
            with self.open_service() as service:
                team = service.team
                if team is None:
                    return
                report = service.sync_now() if requested or team.replicator.due() else None
                view = _read_sync_view(service, self.clock)
            self.post_message(SyncChecked(view, report, requested))
        except Exception as error:  # noqa: BLE001 - shown in the header instead of killing the app
            log.exception("Team sync round with %s failed", self._sync_url)
            failure = f"{type(error).__name__}: {error}"
            self.post_message(SyncChecked(SyncView(None, None, "", self.clock(), failure=failure), None, requested))
        finally:
            self._sync_lock.release()

    def watch_sync_view(self, old: SyncView | None, new: SyncView | None) -> None:
        if (old is None) != (new is None):
            # The indicator appeared or went away, which changes the room left for the status bar.
            self._update_status()

    def on_sync_checked(self, message: SyncChecked) -> None:
        self.sync_view = message.view
        report = message.report
        if report is not None and report.pulled:
            # Events pulled from other consoles show up now rather than at the next 2 s check.
            self.refresh_if_changed()
        if message.requested:
            self._notify_sync(message.view, report)

    def _notify_sync(self, view: SyncView, report: SyncReport | None) -> None:
        if report is None:
            self.notify(f"Sync failed: {view.failure}", title="Team sync failed", severity="error", timeout=12)
        elif report.offline:
            # The error names the server and the cause, e.g. "Cannot reach the sync server URL: Connection refused."
            self.notify(f"{report.error.rstrip('.')}. The console tries again by itself.", title="Sync server unreachable", severity="warning", timeout=12)
        elif report.error:
            self.notify(f"Sync failed: {report.error}", title="Team sync failed", severity="error", timeout=12)
        else:
            skipped = f" {report.rejected} invalid server documents skipped." if report.rejected else ""
            self.notify(f"Synced: {report.pushed} events sent, {report.pulled} received.{skipped}", title="Team sync")

    def action_sync_now(self) -> None:
        self.notify("Syncing with the team server…", title="Team sync", timeout=3)
        self.sync_team(requested=True)

    def _release_automation(self) -> None:
        """Hand the automation lease back so another console takes it over at once; exit goes on whatever fails.

        The release sends a request only when this console holds the lease. A server that does not
        answer then delays exit by up to the client's timeouts: connect at most 10 s, then
        `[sync] timeout_seconds` for the response.
        """
        try:
            with self.open_service() as service:
                service.release_automation()
        except Exception:  # noqa: BLE001 - the lease runs out by itself; exit must not fail
            log.exception("Releasing the automation lease at exit failed")

    # Views --------------------------------------------------------------------------------------

    def refresh_if_changed(self) -> None:
        """Re-read the store when its ledger moved (a decision here, in the CLI or another console)."""
        if self.service is None:
            return
        if self.service.ledger_position() != self.ledger_position:
            self.refresh_all()
        elif self.panes_position != self.ledger_position and self._panes_ready():
            # Back on the main screen after changes made while another screen was on top.
            self.refresh_views()

    def refresh_all(self) -> None:
        """Refresh the pending count, the main panes when they are on screen, and every open screen that shows actions."""
        self.refresh_views()
        for screen in self.screen_stack:
            if isinstance(screen, (InvestigationScreen, ActionCenterScreen)):
                screen.reload()

    def _panes_ready(self) -> bool:
        """Return whether the service and the panes exist; both are gone while the app shuts down."""
        return self.service is not None and all(bool(self.query(pane)) for pane in (AlertQueue, InvestigationGraph, ActionList))

    def refresh_views(self) -> None:
        if self.service is None:
            return
        self.ledger_position = self.service.ledger_position()
        pending = self.service.actions(ActionStatus.PENDING)
        self._update_pending({row.action.id for row in pending})
        # A worker's message can arrive after quit removed the panes, and another screen may be
        # on top. The panes catch up when they are back on screen.
        if not self._panes_ready():
            return
        self.panes_position = self.ledger_position
        alerts = self.query_one(AlertQueue)
        alerts.load(self.service)
        self.query_one(ActionList).show(pending)
        self._show_investigation(alerts.selected.investigation_id if alerts.selected else "")
        self._update_status()

    def _update_pending(self, pending_ids: set[str]) -> None:
        """Set the pending count, and announce actions that are new since the last announcement."""
        self.pending_count = len(pending_ids)
        if self.preparing:
            return
        new = len(pending_ids - self.pending_seen)
        self.pending_seen = pending_ids
        if not new or self.service is None:
            return
        settings = self.service.config.actions
        if settings.toast:
            where = "" if isinstance(self.screen, ActionCenterScreen) else " (A on the main screen opens the action center)"
            self.notify(f"{new} new pending {'action waits' if new == 1 else 'actions wait'} for a decision{where}.", title="Pending actions")
        if self.bell_on_pending if self.bell_on_pending is not None else settings.bell:
            self.bell()

    def _update_status(self) -> None:
        if self.service is None or not self.query("#status-bar"):
            return
        pending = self.pending_count
        organisation = self.service.tenant.organisation.name
        queued = self.service.queued_count()
        # In team mode the sync indicator shares this line. Below NARROW_WIDTH columns the product
        # and organisation names give way to it, so the pending count stays visible at 80 columns.
        crowded = self.sync_view is not None and self.size.width < NARROW_WIDTH
        identity = Text() if crowded else Text.assemble(("air-tui", "bold"), f" · {plain(organisation)} · ")
        bar = Text.assemble(
            identity,
            f"analyst {plain(self.analyst)} · ",
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
        action_id = message.row.action.id
        service = self.service
        self.push_screen(
            ActionDetail(message.row, service.decisions(action_id), service.action_results(action_id), service.action_results(action_id, undo=True))
        )

    # Actions --------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Keep the console's keys off while a dialog is open, so `a` or `q` there does nothing."""
        # Help stays on over full screens (investigation, explorer), but not over a dialog.
        if action == "help":
            return not isinstance(self.screen, ModalScreen)
        if action in _MAIN_SCREEN_ACTIONS and len(self.screen_stack) > 1:
            return False
        if action in _CHANGING_ACTIONS and self.service is not None and not self.service.access.can_change:
            return False
        if action == "sync_now":
            return self.sync_enabled
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
                can_propose=service.access.can_change,
            ),
            self._screen_closed,
        )

    def action_open_action_center(self) -> None:
        if self.service is not None:
            self.push_screen(ActionCenterScreen(self.service), self._screen_closed)

    def _screen_closed(self, _result: object = None) -> None:
        self.refresh_if_changed()

    def on_investigation_screen_proposal_requested(self, message: InvestigationScreen.ProposalRequested) -> None:
        """Propose the action the analyst picked for an entity; it waits in the action center."""
        if self.service is None:
            return
        proposal = message.proposal
        try:
            action = self.service.propose(proposal.action_type, **proposal.arguments(message.investigation_id))
        except ActionError as error:
            log.warning("Proposal of %s in investigation %s rejected: %s", proposal.action_type.value, message.investigation_id, error)
            self.notify(plain(str(error)), title="Nothing proposed", severity="error", timeout=12)
            return
        log.info("%s proposed %s as action %s", self.analyst, action.action_type.value, action.id)
        self.notify(f"{plain(action.action_type.value)} on {plain(action.scope)} waits for approval in the action center (A on the main screen).", title="Action proposed")
        self.refresh_all()
        message.investigation_screen.show_action(action.id)

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
            explorer = ExplorerScreen(
                self.service,
                internal_domains=tuple(self.service.tenant.organisation.domains),
                can_investigate=self.service.access.can_change,
            )
            self.push_screen(explorer, self._screen_closed)

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
        if row is not None:
            ask_approval(self, row, self._send_approval)

    def _send_approval(self, request: DecisionRequest) -> None:
        self._show_progress(f"Running {request.label}…")
        self.decide(request)

    def action_reject(self) -> None:
        row = self._action_to_decide("reject")
        if row is not None:
            ask_rejection(self, row, self.decide)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        # The pane commands act on the main screen's panes, which other screens cover.
        on_main_screen = bool(self.screen_stack) and screen is self.screen_stack[0]
        can_change = self.service is not None and self.service.access.can_change
        if on_main_screen and can_change:
            yield SystemCommand("Approve pending action", "Approve the highlighted pending action, after a confirmation", self.action_approve)
            yield SystemCommand("Reject pending action", "Reject the highlighted pending action, with a reason", self.action_reject)
            yield SystemCommand("Resolve alert", "Resolve the highlighted alert, with a comment, when no investigation of it runs", self.action_resolve_alert)
        if on_main_screen:
            yield SystemCommand("Focus alerts", "Move to the alert queue", lambda: self.action_focus_pane("alerts"))
            yield SystemCommand("Focus investigation", "Move to the investigation graph", lambda: self.action_focus_pane("graph"))
            yield SystemCommand("Focus pending actions", "Move to the pending actions", lambda: self.action_focus_pane("actions"))
            yield SystemCommand("Open investigation", "Every view of the highlighted alert's investigation: summary, graph, alerts, evidence, log, actions", self.action_open_investigation)
            yield SystemCommand("Open explorer", "Search all ingested mail and start manual investigations", self.action_open_explorer)
            yield SystemCommand("Open action center", "Every pending and decided action: filter, mark, approve, reject, undo, retry", self.action_open_action_center)
        if self.sync_enabled:
            yield SystemCommand("Sync now", "Push this console's events to the team sync server and pull the others' (ctrl+s)", self.action_sync_now)
        yield SystemCommand("Help", "Keys and status meanings", self.action_help)
        yield SystemCommand("Refresh", "Read the store again and redraw", self.refresh_all)


def _read_sync_view(service: AirService, clock: Clock) -> SyncView:
    """Read the sync status and the automation lease as last seen; both come from the local store."""
    assert service.team is not None
    status = service.sync_status()
    return SyncView(status, service.team.coordination.lease(), status.replica_id, clock())
