"""The core both front ends drive: ingest, alerting, investigations, decisions and remediation.

The CLI and the TUI call only this module, so neither contains logic the other lacks. One
`AirService` owns one SQLite connection; make one per thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.investigation import Investigation, LogStep
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory, system_clock, ulid_factory
from air_tui.domain.message import EmailMessage, MessageLocation
from air_tui.domain.vocab import ActionStatus, DecisionKind, InvestigationStatus, ParseStatus
from air_tui.engine import policies, runner
from air_tui.engine.context import PlaybookContext
from air_tui.domain.config import Config, load_config
from air_tui.engine.rules import Scoring
from air_tui.intel import IntelSnapshot
from air_tui.intel.download import DownloadStatus, FeedRefresh, download_feed, open_client
from air_tui.intel.feeds import LocalFeed, read_local_feeds
from air_tui.intel.online import OnlineLookup
from air_tui.intel.skipped import describe_skipped, skipped_columns, stored_skipped
from air_tui.intel.status import FeedStatus, feed_status
from air_tui.mail import FailedRead, iter_messages, message_id_for, parse_message
from air_tui.remediation import executor
from air_tui.store import Store, ledger, queries
from air_tui.store import intel as intel_store
from air_tui.store.database import file_lock
from air_tui.store import messages as message_index
from air_tui.tenant.demo import DemoTenant
from air_tui.tenant.workspace import Workspace, config_is_explicit, config_path

log = logging.getLogger(__name__)


class ActionError(Exception):
    """A decision that cannot be taken: unknown action, already decided, or missing reason."""


class AnalystError(ValueError):
    """An analyst name that cannot be recorded with a decision."""


def validate_analyst(name: str) -> str:
    """Return the analyst name stripped, or raise when it is empty or has control characters."""
    stripped = name.strip()
    if not stripped:
        raise AnalystError("The analyst name is empty. Give a name with --analyst NAME.")
    if not stripped.isprintable() or len(stripped) > 128:
        raise AnalystError(f"Invalid analyst name {stripped!r}: use at most 128 printable characters, without line breaks.")
    return stripped


@dataclass
class IngestSummary:
    total: int = 0
    parsed: int = 0
    with_warnings: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    """(path, reason) of every message that could not be parsed."""


@dataclass
class DecisionOutcome:
    action: PendingAction
    decision: Decision
    status: ActionStatus
    results: dict[str, int] = field(default_factory=dict)
    """Targets by result, for approvals that ran."""


class StoreMessageIndex:
    """The engine's message look-ups, served from the SQLite index."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, message_id: str) -> EmailMessage | None:
        return message_index.load_message(self.store, message_id)

    def ids_with_url(self, url: str) -> list[str]:
        return message_index.message_ids_with_url(self.store, url)

    def ids_with_url_domain(self, registrable_domain: str) -> list[str]:
        return message_index.message_ids_with_url_domain(self.store, registrable_domain)

    def ids_with_attachment(self, sha256: str) -> list[str]:
        return message_index.message_ids_with_attachment(self.store, sha256)


    def ids_with_similar_body(
        self, fingerprint: str, max_distance: int, *, sender_domain: str | None = None, sender_ip: str | None = None
    ) -> list[str]:
        return message_index.message_ids_with_similar_body(
            self.store, fingerprint, max_distance, sender_domain=sender_domain, sender_ip=sender_ip
        )

    def ids_with_subject(self, subject: str, *, sender_domain: str | None = None, sender_ip: str | None = None) -> list[str]:
        return message_index.message_ids_with_subject(self.store, subject, sender_domain=sender_domain, sender_ip=sender_ip)

    def body_texts(self, message_ids: list[str]) -> dict[str, str]:
        return message_index.body_texts(self.store, message_ids)

    def earlier_from_sender(self, sender_address: str, before: str) -> int:
        return message_index.count_earlier_from_sender(self.store, sender_address, before)

    def locations(self, message_ids: list[str]) -> dict[str, tuple[str, str]]:
        return message_index.locations(self.store, message_ids)


class AirService:
    def __init__(
        self,
        workspace: Workspace,
        *,
        analyst: str,
        clock: Clock = system_clock,
        new_id: IdFactory = ulid_factory,
        config: Config | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = config if config is not None else load_config(config_path(), required=config_is_explicit())
        self.scoring = Scoring(self.config.analysis)
        self._online: OnlineLookup | None = None
        self.analyst = validate_analyst(analyst)
        self.clock = clock
        self.new_id = new_id
        self.tenant = DemoTenant(workspace.tenant_dir)
        self.store = Store(workspace.database)
        self._intel: IntelSnapshot | None = None

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
        self.store.close()

    def __enter__(self) -> AirService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Intel ------------------------------------------------------------------------------------

    @property
    def intel(self) -> IntelSnapshot:
        """The intel snapshot: the tenant's intel files and every enabled downloaded feed, from SQLite."""
        if self._intel is None:
            local = self._import_tenant_intel()
            names = [feed.name for feed in local] + [feed.name for feed in self.config.intel.feeds if feed.enabled]
            self._intel = IntelSnapshot.from_rows(intel_store.indicator_rows(self.store, names))
        return self._intel

    def _import_tenant_intel(self) -> list[LocalFeed]:
        """Store the feed files of the tenant's `intel/` folder that changed, and forget deleted ones.

        Invalid lines of a file are left out and counted with its row, so `intel status` names them.

        Raises:
            IntelError: A file cannot be read or is clearly not in its format; the rows it had stay as they were.
        """
        local = read_local_feeds(self.tenant.intel_dir)
        stored = {row["name"]: row for row in intel_store.feed_rows(self.store) if row["origin"] == "file"}
        changed = [feed for feed in local if stored.get(feed.name, {}).get("sha256") != feed.sha256]
        imported = self.clock().isoformat() if changed else ""
        for feed in changed:
            record = {"name": feed.name, "origin": "file", "location": str(feed.path), "format": feed.format, "sha256": feed.sha256}
            record |= skipped_columns(feed.skipped, feed.skipped_examples)
            rows = [{"kind": item.kind, "indicator": item.value, "threat": item.threat, "source": item.source, "added": item.added} for item in feed.indicators]
            count = intel_store.replace_feed(self.store, record, rows, fetched=imported)
            log.info("Imported %d indicators from the intel file %s", count, feed.path)
            if feed.skipped:
                log.warning("Intel file %s: %s", feed.path, describe_skipped(feed.skipped, feed.skipped_examples))
        removed = set(stored) - {feed.name for feed in local}
        if removed:
            intel_store.delete_feeds(self.store, sorted(removed))
        return local

    def refresh_intel(self, *, transport: Any = None) -> list[FeedRefresh]:
        """Download every enabled `[[intel.feeds]]` and store each feed that downloaded and parsed.

        A feed that fails keeps its previous indicators, and the failure is recorded with it.
        Feeds removed from the configuration are deleted with their indicators.

        Args:
            transport: An `httpx` transport that replaces the network, for tests.
        """
        outcomes: list[FeedRefresh] = []
        with open_client(transport) as client:
            for feed in self.config.intel.feeds:
                if not feed.enabled:
                    continue
                previous = intel_store.feed_row(self.store, feed.name) or {}
                now = self.clock()
                download = download_feed(
                    client,
                    feed,
                    etag=previous.get("etag") or "",
                    last_modified=previous.get("last_modified") or "",
                    previous_sha256=previous.get("sha256") or "",
                )
                record = {"name": feed.name, "origin": "download", "location": feed.url, "format": feed.format}
                count = int(previous.get("count") or 0)
                # Skipped lines describe the stored rows, so a feed that failed or did not change keeps its count.
                skipped, skipped_examples = stored_skipped(previous)
                if download.status is DownloadStatus.UPDATED:
                    record |= {"sha256": download.sha256, "etag": download.etag, "last_modified": download.last_modified}
                    record |= skipped_columns(download.skipped, download.skipped_examples)
                    skipped, skipped_examples = download.skipped, download.skipped_examples
                    rows = [{"kind": item.kind, "indicator": item.value, "threat": item.threat, "source": item.source, "added": item.added} for item in download.indicators]
                    count = intel_store.replace_feed(self.store, record, rows, fetched=now.isoformat())
                elif download.status is DownloadStatus.NOT_MODIFIED:
                    intel_store.mark_feed_current(self.store, feed.name, checked=now.isoformat(), etag=download.etag, last_modified=download.last_modified)
                else:
                    intel_store.record_feed_failure(self.store, record, attempted=now.isoformat(), error=download.error)
                log.info("Intel feed %s: %s, %d indicators", feed.name, download.status.value, count)
                outcomes.append(
                    FeedRefresh(name=feed.name, url=feed.url, status=download.status, count=count, error=download.error, skipped=skipped, skipped_examples=skipped_examples)
                )
        configured = {feed.name for feed in self.config.intel.feeds}
        dropped = [row for row in intel_store.feed_rows(self.store) if row["origin"] == "download" and row["name"] not in configured]
        if dropped:
            intel_store.delete_feeds(self.store, [row["name"] for row in dropped])
            # Say so: a feed left out of the configuration by mistake loses its indicators here.
            outcomes.extend(
                FeedRefresh(name=row["name"], url=str(row.get("location") or ""), status=DownloadStatus.REMOVED, count=int(row.get("count") or 0))
                for row in dropped
            )
        self._intel = None
        return outcomes

    def intel_status(self) -> list[FeedStatus]:
        """Return the state of each configured feed, then of each intel file of the tenant: count, age, last error."""
        self._import_tenant_intel()
        rows = {row["name"]: row for row in intel_store.feed_rows(self.store)}
        now = self.clock()
        max_age = self.config.intel.max_age_days
        statuses = [
            feed_status(rows.get(feed.name), name=feed.name, origin="download", location=feed.url, feed_format=feed.format, enabled=feed.enabled, now=now, max_age_days=max_age)
            for feed in self.config.intel.feeds
        ]
        statuses += [
            feed_status(row, name=name, origin="file", location=row["location"], feed_format=row["format"], enabled=True, now=now, max_age_days=max_age)
            for name, row in rows.items()
            if row["origin"] == "file"
        ]
        return statuses

    def online_lookup(self, *, transport: Any = None) -> OnlineLookup:
        """Open the optional online look-ups of `[intel.online]`, cached in this workspace's database.

        Close the result when done. Its `check_url`, `check_file` and `check_domain` send nothing
        unless a service is turned on in the configuration and its API key is set.
        """
        return OnlineLookup(self.config.intel.online, intel_store.LookupCacheTable(self.store), transport=transport, clock=self.clock)

    # Ingest -----------------------------------------------------------------------------

    def ingest(self, *, force: bool = False) -> IngestSummary | None:
        """Parse and index the tenant's messages that the index does not hold yet.

        A message already indexed in the same folder is not parsed again, so a later run only
        reads mail added (or moved outside air-tui) since. `force` re-reads everything.

        Returns:
            What was read, or None when nothing was new.
        """
        known = {} if force else message_index.indexed_folders(self.store)
        summary = IngestSummary()
        parsed = list(self._parse_tenant(summary, known))
        if not parsed and not force:
            return None
        message_index.index_messages(self.store, parsed)
        self._append(
            [
                self._event(
                    EventType.MESSAGES_INGESTED,
                    {"source": str(self.tenant.root), "total": summary.total, "failed": summary.failed, "with_warnings": summary.with_warnings},
                    actor="system",
                )
            ]
        )
        log.info("Ingested %d messages (%d failed) from %s", summary.total, summary.failed, self.tenant.root)
        return summary

    def _parse_tenant(self, summary: IngestSummary, known: dict[str, str]) -> Iterator[EmailMessage]:
        for mailbox, folder, path in self.tenant.folder_paths():
            for item in iter_messages(path, mailbox=mailbox):
                key = item.path.name.split(":", 1)[0] if isinstance(item, FailedRead) else item.location.key
                if known.get(message_id_for(mailbox, key)) == folder:
                    continue
                summary.total += 1
                if isinstance(item, FailedRead):
                    message = EmailMessage(
                        id=message_id_for(mailbox, key),
                        location=MessageLocation(mailbox=mailbox, folder=folder, key=key, path=str(item.path)),
                        parse_status=ParseStatus.FAILED,
                        parse_error=item.reason,
                    )
                else:
                    message = parse_message(
                        item.raw,
                        location=item.location.model_copy(update={"folder": folder}),
                        received_at=item.received_at,
                        message_id=message_id_for(mailbox, item.location.key),
                    )
                if message.parse_status is ParseStatus.FAILED:
                    summary.failed += 1
                    summary.failures.append((message.location.path, message.parse_error))
                elif message.parse_status is ParseStatus.PARSED_WITH_WARNINGS:
                    summary.with_warnings += 1
                else:
                    summary.parsed += 1
                yield message

    # Alerts and investigations -----------------------------------------------------------

    def playbook_context(self, emit: Callable[[list[Event]], None] | None = None) -> PlaybookContext:
        return PlaybookContext(
            organisation=self.tenant.organisation,
            users=self.tenant.users,
            intel=self.intel,
            messages=StoreMessageIndex(self.store),
            submissions=self.tenant.submissions(),
            clicks=self.tenant.url_clicks(),
            mailbox_settings=self.tenant.mailbox_settings(),
            clock=self.clock,
            new_id=self.new_id,
            emit=emit or self._append,
            scoring=self.scoring,
            online=self._online_for_investigations(),
        )

    def _online_for_investigations(self) -> OnlineLookup | None:
        online = self.config.intel.online
        if not (online.virustotal or online.urlhaus):
            return None
        if self._online is None:
            self._online = self.online_lookup()
        return self._online

    def raise_alerts(self) -> int:
        """Raise alerts for submissions that have none yet, and start an investigation for each."""
        submissions = self.tenant.submissions()
        subjects: dict[str, str] = {}
        message_ids: dict[str, str] = {}
        for submission in submissions:
            message_id = message_id_for(submission.mailbox, submission.key)
            message = message_index.load_message(self.store, message_id)
            if message is not None:
                subjects[submission.id] = message.subject
                message_ids[submission.id] = message_id
            else:
                log.warning("Submission %s names a message that is not in the tenant: %s/%s", submission.id, submission.mailbox, submission.key)
        alerts = policies.alerts_for_submissions(
            submissions,
            already_raised=queries.raised_source_ids(self.store),
            subjects=subjects,
            message_ids=message_ids,
            clock=self.clock,
            new_id=self.new_id,
        )
        context = self.playbook_context()
        events: list[Event] = []
        for alert in alerts:
            events.append(self._event(EventType.ALERT_RAISED, {"alert": alert.model_dump(mode="json")}, actor="system"))
            policy = policies.POLICIES[alert.policy_id]
            if policy.starts_investigation:
                _, start = runner.start_event(context, alert, policy.playbook)
                events.append(start)
        self._append(events)
        return len(alerts)

    def run_investigations(self, on_finished: Callable[[str, InvestigationStatus], None] | None = None) -> int:
        """Run every investigation that has not finished, oldest first; return how many ran."""
        context = self.playbook_context()
        waiting = [
            investigation
            for investigation in queries.investigations(self.store)
            if investigation.status in (InvestigationStatus.STARTING, InvestigationStatus.RUNNING)
        ]
        alerts = {row.alert.id: row.alert for row in queries.alert_queue(self.store)}
        for investigation in waiting:
            status = runner.run_investigation(context, investigation, alerts[investigation.alert_id])
            if on_finished is not None:
                on_finished(investigation.id, status)
        return len(waiting)

    def investigate(self) -> IngestSummary | None:
        """Ingest if needed, raise alerts and run every open investigation."""
        with self.exclusive():
            summary = self.ingest()
            self.raise_alerts()
            self.run_investigations()
        return summary

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the workspace's lock file, so two consoles never ingest or raise alerts at once.

        The second process waits, then finds the index filled and the alerts raised.
        """
        with file_lock(self.workspace.database.with_suffix(".lock")):
            yield

    # Decisions -------------------------------------------------------------------------------

    def approve(
        self,
        action_id: str,
        *,
        comment: str = "",
        on_progress: Callable[[int, int], None] | None = None,
    ) -> DecisionOutcome:
        """Record the approval durably, then run the action and record each target's result."""
        action = self._pending(action_id)
        decision = self._decide(action, DecisionKind.APPROVED, comment)
        status = executor.execute(
            self.store,
            self.tenant,
            action,
            actor=self.analyst,
            clock=self.clock,
            new_id=self.new_id,
            on_progress=on_progress,
        )
        self._update_investigation(action.investigation_id)
        results: dict[str, int] = {}
        for row in queries.action_results(self.store, action.id):
            results[row["result"]] = results.get(row["result"], 0) + 1
        return DecisionOutcome(action=action, decision=decision, status=status, results=results)

    def reject(self, action_id: str, *, reason: str) -> DecisionOutcome:
        if not reason.strip():
            raise ActionError(f"A rejection needs a reason. Give one with --comment for action {action_id}.")
        action = self._pending(action_id)
        decision = self._decide(action, DecisionKind.REJECTED, reason.strip())
        self._update_investigation(action.investigation_id)
        return DecisionOutcome(action=action, decision=decision, status=ActionStatus.REJECTED)

    def resume_approved(self) -> int:
        """Finish approved actions whose execution was interrupted; return how many resumed."""
        resumed = 0
        for status in (ActionStatus.APPROVED, ActionStatus.RUNNING):
            for row in queries.action_rows(self.store, status=status):
                executor.execute(self.store, self.tenant, row.action, actor=row.decided_by or "system", clock=self.clock, new_id=self.new_id)
                self._update_investigation(row.action.investigation_id)
                resumed += 1
        return resumed

    def _pending(self, action_id: str) -> PendingAction:
        # ULIDs are case-insensitive, so an id typed in lower case still finds its action.
        action = queries.action(self.store, action_id) or queries.action(self.store, action_id.upper())
        if action is None:
            raise ActionError(f"No action with id {action_id}. List the ids with: air-tui actions list")
        if action.status is not ActionStatus.PENDING:
            decided = queries.decisions(self.store, action_id)
            decided_by = f" by {decided[-1].analyst} at {decided[-1].time:%Y-%m-%d %H:%M} UTC" if decided else ""
            raise ActionError(f"Action {action_id} is {action.status.value.lower()} already{decided_by}; only pending actions can be decided.")
        return action

    def _decide(self, action: PendingAction, kind: DecisionKind, comment: str) -> Decision:
        """Record the decision and its line in the investigation log, in one transaction."""
        decision = Decision(action_id=action.id, kind=kind, analyst=self.analyst, time=self.clock(), comment=comment)
        position = queries.next_log_position(self.store, action.investigation_id)
        remark = f": {comment}" if comment else ""
        step = LogStep(
            name=f"Decision: {kind.value} {action.action_type.value}",
            started=decision.time,
            duration_ms=0,
            outcome="ok",
            summary=f"{self.analyst} {kind.value} '{action.title}' ({len(action.targets)} messages){remark}",
        )
        self._append(
            [
                self._event(EventType.ACTION_DECIDED, {"decision": decision.model_dump(mode="json")}),
                self._event(
                    EventType.INVESTIGATION_STEP_LOGGED,
                    {"investigation_id": action.investigation_id, "position": position, "step": step.model_dump(mode="json")},
                ),
            ]
        )
        return decision

    def _update_investigation(self, investigation_id: str) -> None:
        """Close the investigation as Remediated once every action in it is decided."""
        actions = [row.action for row in queries.action_rows(self.store) if row.action.investigation_id == investigation_id]
        undecided = [action for action in actions if action.status is ActionStatus.PENDING]
        detail = queries.investigation_detail(self.store, investigation_id)
        if detail is None or detail.investigation.status.is_terminal:
            return
        context = self.playbook_context()
        if not undecided:
            rejected = [action for action in actions if action.status is ActionStatus.REJECTED]
            reason = f"Every recommended action was decided: {len(actions) - len(rejected)} approved, {len(rejected)} rejected."
            if rejected:
                left = sum(len(action.targets) for action in rejected)
                reason += f" The rejected actions leave {left} {'message' if left == 1 else 'messages'} where they were."
            event = runner.status_event(context, investigation_id, InvestigationStatus.REMEDIATED, reason, actor=self.analyst)
        elif any(action.status not in (ActionStatus.PENDING, ActionStatus.REJECTED) for action in actions):
            # Partially remediated means something ran; rejections alone leave it Pending action.
            if detail.investigation.status is InvestigationStatus.PARTIALLY_REMEDIATED:
                return
            waiting = f"{len(undecided)} of {len(actions)} {'action still waits' if len(undecided) == 1 else 'actions still wait'} for a decision."
            event = runner.status_event(context, investigation_id, InvestigationStatus.PARTIALLY_REMEDIATED, waiting, actor=self.analyst)
        else:
            return
        self._append([event])

    # Plumbing ----------------------------------------------------------------------------------

    def _event(self, event_type: EventType, payload: dict, *, actor: str | None = None) -> Event:
        return Event(id=self.new_id(), type=event_type, actor=actor or self.analyst, time=self.clock(), payload=payload)

    def _append(self, events: list[Event]) -> None:
        ledger.append(self.store, events)

    # Read models, passed through so front ends need not import the store --------------------

    def alert_queue(self) -> list[queries.AlertRow]:
        return queries.alert_queue(self.store)

    def investigation_detail(self, investigation_id: str) -> queries.InvestigationDetail | None:
        return queries.investigation_detail(self.store, investigation_id)

    def actions(self, status: ActionStatus | None = None) -> list[queries.ActionRow]:
        return queries.action_rows(self.store, status=status)

    def pending_count(self) -> int:
        return queries.pending_count(self.store)

    def ledger_position(self) -> int:
        """Sequence number of the newest ledger event; it changes whenever any state changes."""
        return int(self.store.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def investigations(self) -> list[Investigation]:
        return queries.investigations(self.store)

    def verdict_counts(self) -> dict[str, int]:
        return queries.verdict_counts(self.store)

    def action_results(self, action_id: str) -> list[dict]:
        return queries.action_results(self.store, action_id)

    def message(self, message_id: str) -> EmailMessage | None:
        return message_index.load_message(self.store, message_id)

    def message_count(self) -> int:
        return message_index.message_count(self.store)


__all__ = ["ActionError", "AirService", "AnalystError", "DecisionOutcome", "IngestSummary", "validate_analyst"]
