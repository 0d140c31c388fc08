"""The core both front ends drive: ingest, alerting, investigations, decisions and remediation.

The CLI and the TUI call only this module, so neither contains logic the other lacks. One
`AirService` owns one SQLite connection; make one per thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any

from datetime import date, datetime, timedelta

from air_tui.domain.action import Decision, InvestigationTarget, PendingAction
from air_tui.domain.alert import Alert, AlertPolicy, Incident
from air_tui.domain.investigation import Investigation
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory, system_clock, ulid_factory
from air_tui.domain.message import EmailMessage, MessageLocation
from air_tui.domain.tenant import MailboxSettings
from air_tui.domain.vocab import (
    IN_MAILBOX_FOLDERS,
    ActionStatus,
    ActionType,
    AlertStatus,
    DecisionKind,
    Folder,
    IncidentStatus,
    InvestigationStatus,
    ManualTarget,
    ParseStatus,
    TargetResult,
)
from air_tui.domain.config import ConfigError
from air_tui.engine import detection, incidents, policies, removal, runner
from air_tui.engine.analyzers import MessageAnalyzer
from air_tui.engine.recommendations import unreachable_copies
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
from air_tui.remediation import blocklist
from air_tui.remediation.backends import open_mail_backend
from air_tui.remediation.center import Access, ActionCenter, ActionError, BulkPreview, DecisionConflict, DecisionOutcome, PermissionDenied, PreviewRow
from air_tui.remediation.mail import BackendError, DemoMailBackend, MessageRef, Move
from air_tui.store import Store, explorer, ledger, queries, windows
from air_tui.store import intel as intel_store
from air_tui.store.database import file_lock
from air_tui.store import messages as message_index
from air_tui.sync import SyncError, SyncReport, SyncStatus, TeamSync
from air_tui.tenant.demo import DemoTenant
from air_tui.tenant.workspace import Workspace, config_is_explicit, config_path

log = logging.getLogger(__name__)


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

    def sent_messages(self, mailbox: str, since: str, until: str) -> list[tuple[str, str]]:
        return message_index.sent_messages(self.store, mailbox, since, until)


class AirService:
    def __init__(
        self,
        workspace: Workspace,
        *,
        analyst: str,
        clock: Clock = system_clock,
        new_id: IdFactory = ulid_factory,
        config: Config | None = None,
        read_only: bool = False,
        insecure_sync: bool = False,
        sync_transport: Any = None,
    ) -> None:
        self.workspace = workspace
        self.config = config if config is not None else load_config(config_path(), required=config_is_explicit())
        unknown = policies.unknown_policy_ids(self.config.alerts.disabled)
        if unknown:
            raise ConfigError(
                f"[alerts] disabled names unknown alert policies: {', '.join(unknown)}. List the ids with: air-tui policies"
            )
        self.scoring = Scoring(self.config.analysis)
        self._online: OnlineLookup | None = None
        self.analyst = validate_analyst(analyst)
        self.clock = clock
        self.new_id = new_id
        try:
            self.access = Access.from_config(self.config.access, self.analyst, read_only=read_only)
        except ValueError as error:
            raise ConfigError(str(error)) from error
        self.tenant = DemoTenant(workspace.tenant_dir)
        self.store = Store(workspace.database)
        self._intel: IntelSnapshot | None = None
        self._exclusive_depth = 0
        self.team: TeamSync | None = None
        self.release_lease_on_close = False
        """Set by one-off commands, so the automation lease they took is free again when they end."""
        if self.config.sync.enabled:
            try:
                self.team = TeamSync(self.store, self.config.sync, analyst=self.analyst, clock=clock, insecure=insecure_sync, transport=sync_transport)
            except SyncError as error:
                self.store.close()
                raise ConfigError(str(error)) from error
        self.center = ActionCenter(
            self.store,
            self.tenant,
            access=self.access,
            settings=self.config.actions,
            clock=clock,
            new_id=new_id,
            mail=lambda: open_mail_backend(self.config.remediation, self.tenant, analyst=self.analyst),
            start_investigation=self._start_from_action,
            coordination=self.team.coordination if self.team is not None else None,
        )

    def close(self) -> None:
        if self._online is not None:
            self._online.close()
        self.center.close()
        if self.team is not None:
            if self.release_lease_on_close:
                self.team.coordination.release_automation()
            self.team.close()
        self.store.close()

    # Team sync ----------------------------------------------------------------------------

    def automation_allowed(self) -> bool:
        """Whether this console raises alerts, moves mail after delivery, runs investigations and expires actions.

        Alone, always. In team mode only the console holding the automation lease does, so two
        consoles never raise the same alert or expire the same action twice. The others receive
        what it did through sync.
        """
        return self.team is None or self.team.coordination.holds_automation()

    def sync_now(self) -> SyncReport:
        """Push this console's new events and pull everyone else's, once.

        Raises:
            ConfigError: Team sync is not configured.
        """
        return self.require_team().sync_now()

    def sync_status(self) -> SyncStatus:
        return self.require_team().status()

    def release_automation(self) -> None:
        """Hand the automation lease back on a clean exit, so another console takes it over at once."""
        if self.team is not None:
            self.team.coordination.release_automation()

    @contextmanager
    def _pull_when_taken(self) -> Iterator[None]:
        """When another console decided first, pull at once, so the screen shows their decision."""
        try:
            yield
        except DecisionConflict:
            if self.team is not None:
                self.team.sync_now()
            raise

    def require_team(self) -> TeamSync:
        if self.team is None:
            raise ConfigError("Team sync is off: set [sync] url (and database, username) in the configuration file. docs/sync.md shows how.")
        return self.team

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
        indexed = message_index.indexed_folders(self.store)
        known = {} if force else indexed
        summary = IngestSummary()
        parsed = list(self._parse_tenant(summary, known))
        if not parsed and not force:
            # New mail a read-only run left unchecked gets its block list check now.
            self._apply_block_list()
            return None
        message_index.index_messages(self.store, parsed)
        if indexed:
            # An empty index is a first read or a rebuild after an upgrade: none of it is new mail.
            fresh = [(message.id,) for message in parsed if message.id not in indexed]
            self._in_transaction("INSERT OR IGNORE INTO block_queue (message_id) VALUES (?)", fresh)
        self._apply_block_list()
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

    def _apply_block_list(self) -> int:
        """Junk and flag new messages that an active block list entry matches; return how many matched.

        Only mail new to the index is checked: an entry acts on mail that arrives after it, and
        email actions deal with what was there before. In read-only mode the new mail waits in
        the queue for the next run that may move mail.
        """
        message_ids = [row[0] for row in self.store.db.execute("SELECT message_id FROM block_queue")]
        if not message_ids:
            return 0
        if self.access.read_only:
            log.info("Read-only: %d new messages wait to be checked against the block list", len(message_ids))
            return 0
        if not self.automation_allowed():
            # The console doing the automation junks them; this one only indexes.
            return 0
        entries = queries.block_entries(self.store, active_at=self.clock().isoformat())
        matches = blocklist.matching_entries(self.store, entries, message_ids)
        if not matches:
            self._clear_block_queue(message_ids)
            return 0
        backend = DemoMailBackend(self.tenant)
        where = message_index.locations(self.store, list(matches))
        refs = {
            row["id"]: row
            for row in self.store.db.query(
                f"SELECT id, mailbox, folder, key, internet_message_id FROM messages WHERE id IN ({','.join('?' * len(matches))})", list(matches)
            )
        }
        events = []
        for message_id, entry in matches.items():
            row = refs[message_id]
            folder = where.get(message_id, ("", row["folder"]))[1]
            if folder in (Folder.JUNK.value, Folder.DELETED.value, Folder.QUARANTINE.value, Folder.RECOVERABLE.value, Folder.SENT.value):
                outcome_result, to_folder, error, new_path = TargetResult.ALREADY_IN_DESTINATION, folder, "", ""
            else:
                ref = MessageRef(message_id=message_id, mailbox=row["mailbox"], folder=folder, internet_message_id=row["internet_message_id"], key=row["key"])
                outcome = backend.apply([Move(ref, Folder.JUNK.value)])[0]
                outcome_result, to_folder, error, new_path = outcome.result, outcome.to_folder, outcome.error, outcome.detail.get("new_path", "")
            events.append(
                self._event(
                    EventType.MESSAGE_BLOCKED,
                    {
                        "message_id": message_id,
                        "entry_id": entry["id"],
                        "kind": entry["kind"],
                        "value": entry["value"],
                        "mailbox": row["mailbox"],
                        "from_folder": folder,
                        "to_folder": to_folder,
                        "result": outcome_result.value,
                        "error": error,
                        "new_path": new_path,
                    },
                    actor="Automation",
                )
            )
        self._append(events)
        self._clear_block_queue(message_ids)
        log.info("The block list junked %d new messages", len(events))
        return len(events)

    def _clear_block_queue(self, message_ids: list[str]) -> None:
        self._in_transaction("DELETE FROM block_queue WHERE message_id = ?", [(message_id,) for message_id in message_ids])

    def _in_transaction(self, statement: str, rows: list[tuple[str, ...]]) -> None:
        """Run one statement for many rows in a single transaction: one sync to disk, not one per row."""
        if not rows:
            return
        conn = self.store.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(statement, rows)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

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
            signins=self.tenant.signins(),
            audit=self.tenant.audit_records(),
            restrictions=self.tenant.restrictions(),
            now=self.tenant_now,
            settings=self.config.investigations,
            removals={row["message_id"]: row for row in queries.removals(self.store)},
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

    def tenant_now(self) -> datetime:
        """Return the tenant's present: its reference time when it has one (the demo), else the clock."""
        return self.tenant.organisation.reference_time or self.clock()

    @property
    def policies(self) -> dict[str, AlertPolicy]:
        return policies.policies_in_force(self.config.alerts.disabled)

    def _analyzer(self) -> MessageAnalyzer:
        return MessageAnalyzer(self.tenant.organisation, self.tenant.users, self.intel, self.scoring)

    # Removal after delivery ------------------------------------------------------------------

    def remove_after_delivery(self) -> list[dict[str, Any]]:
        """Move delivered mail that the intel in force shows to be malicious, and record each move.

        Only mail delivered within `[removal] window_hours` of the tenant's present is moved, and
        a message is moved at most once. Returns the removal records written, failures included.
        """
        if not self.config.removal.enabled:
            return []
        if self.access.read_only:
            # Read-only changes no mailbox, automation included; the alerts still show the threat.
            return []
        now = self.tenant_now()
        since = (now - timedelta(hours=self.config.removal.window_hours)).isoformat()
        rows = list(
            self.store.db.query(
                "SELECT id, mailbox, folder, subject, sender_domain FROM messages WHERE received_at >= ? AND received_at <= ? "
                "AND parse_status != 'failed' AND id NOT IN (SELECT message_id FROM removals)",
                [since, now.isoformat()],
            )
        )
        if not rows:
            return []
        ids = [row["id"] for row in rows]
        urls: dict[str, list[tuple[str, str]]] = {}
        hashes: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for message_id, url, host in self.store.db.execute(f"SELECT message_id, url, host FROM message_urls WHERE message_id IN ({marks})", chunk):
                urls.setdefault(message_id, []).append((url, host))
            for message_id, sha256 in self.store.db.execute(f"SELECT message_id, sha256 FROM message_attachments WHERE message_id IN ({marks})", chunk):
                hashes.setdefault(message_id, []).append(sha256)
        candidates = [
            removal.Candidate(
                message_id=row["id"],
                mailbox=row["mailbox"],
                folder=row["folder"],
                subject=row["subject"] or "",
                sender_domain=row["sender_domain"] or "",
                urls=tuple(urls.get(row["id"], [])),
                file_hashes=tuple(hashes.get(row["id"], [])),
            )
            for row in rows
        ]
        plans = removal.plan_removals(candidates, self._analyzer(), self.config.removal, self.tenant.users)
        records: list[dict[str, Any]] = []
        for plan in plans:
            record = self._remove(plan)
            self._append([self._event(EventType.MESSAGE_REMOVED, {"removal": record}, actor="system")])
            records.append(record)
        if records:
            log.info("Removal after delivery: %d messages handled", len(records))
        return records

    def _remove(self, plan: removal.PlannedRemoval) -> dict[str, Any]:
        record: dict[str, Any] = {
            "message_id": plan.message_id,
            "mailbox": plan.mailbox,
            "policy_id": plan.policy_id,
            "threat": plan.threat,
            "reason": plan.reason,
            "from_folder": plan.folder,
            "to_folder": plan.destination,
            "subject": plan.subject,
            "kind": plan.kind,
            "indicator": plan.indicator,
            "time": self.tenant_now().isoformat(),
            "error": "",
            "new_path": "",
        }
        if plan.blocked_reason:
            record.update(result=TargetResult.FAILED.value, error=plan.blocked_reason)
            return record
        row = self.store.db.execute("SELECT mailbox, key FROM messages WHERE id = ?", [plan.message_id]).fetchone()
        try:
            result, from_folder, path = self.tenant.move_message(row[0], row[1], Folder(plan.destination))
        except OSError as error:
            record.update(result=TargetResult.FAILED.value, error=f"{type(error).__name__}: {error}")
            return record
        record.update(result=result.value, from_folder=from_folder or plan.folder, new_path=str(path) if path else "")
        if result is TargetResult.NOT_FOUND:
            record["error"] = "The copy was no longer in the mailbox."
        return record

    # Alerts, incidents and investigations -------------------------------------------------------

    def _signals(self) -> list[policies.AlertSignal]:
        """Return every event in the tenant that matches a policy, raised before or not."""
        submissions = self.tenant.submissions()
        subjects: dict[str, str] = {}
        for submission in submissions:
            message_id = message_id_for(submission.mailbox, submission.key)
            row = self.store.db.execute("SELECT subject FROM messages WHERE id = ?", [message_id]).fetchone()
            if row is None:
                log.warning("Submission %s names a message that is not in the tenant: %s/%s", submission.id, submission.mailbox, submission.key)
                continue
            subjects[message_id] = row[0] or ""
        analyzer = self._analyzer()
        signals = detection.submission_signals(submissions, subjects)
        signals += detection.click_signals(self.tenant.url_clicks(), analyzer)
        signals += detection.restriction_signals(self.tenant.restrictions())
        signals += detection.admin_action_signals(self.tenant.admin_actions())
        signals += detection.audit_signals(self.tenant.audit_records(), self.tenant.organisation.domains)
        signals += self._sending_signals()
        signals += self._removal_signals()
        return signals

    def _sending_signals(self) -> list[policies.AlertSignal]:
        now = self.tenant_now()
        day_start = now - timedelta(hours=24)
        baseline_start = day_start - timedelta(days=detection.BASELINE_DAYS)
        last_day: dict[str, int] = {}
        daily: dict[str, dict[date, int]] = {}
        rows = self.store.db.execute(
            "SELECT mailbox, received_at FROM messages WHERE folder = ? AND received_at >= ? AND received_at <= ?",
            [Folder.SENT.value, baseline_start.isoformat(), now.isoformat()],
        )
        for mailbox, received in rows:
            try:
                when = datetime.fromisoformat(received)
            except (TypeError, ValueError):
                continue
            if when >= day_start:
                last_day[mailbox] = last_day.get(mailbox, 0) + 1
            else:
                days = daily.setdefault(mailbox, {})
                days[when.date()] = days.get(when.date(), 0) + 1
        return detection.sending_signals(daily, last_day, now)

    def _removal_signals(self) -> list[policies.AlertSignal]:
        signals = []
        for row in queries.removals(self.store):
            signals.append(
                policies.AlertSignal(
                    policy_id=row["policy_id"],
                    time=datetime.fromisoformat(row["time"]),
                    source_id=f"removal:{row['message_id']}",
                    user=row["mailbox"],
                    message_ids=[row["message_id"]],
                    details=(row["reason"] + (f" Not moved: {row['error']}" if row["result"] == TargetResult.FAILED.value else f" Moved to {row['to_folder']}.")),
                )
            )
        return signals

    def raise_alerts(self) -> int:
        """Raise alerts for tenant activity that has none yet, correlate them into incidents, and
        start or widen an investigation for each alert whose policy starts one."""
        if not self.automation_allowed():
            return 0
        self.remove_after_delivery()
        raised = queries.raised_source_ids(self.store)
        signals = [signal for signal in self._signals() if signal.source_id not in raised]
        return self._raise(signals)

    def _raise(self, signals: list[policies.AlertSignal]) -> int:
        if not signals:
            return 0
        # The queue shows the subject of the email an alert is about, whatever raised it.
        for signal in signals:
            if not signal.subject and signal.message_ids:
                row = self.store.db.execute("SELECT subject FROM messages WHERE id = ?", [signal.message_ids[0]]).fetchone()
                signal.subject = (row[0] or "") if row else ""
        in_force = self.policies
        folded = policies.fold_signals(
            signals,
            policies=in_force,
            window_seconds=self.config.alerts.aggregation_seconds,
            open_alerts=queries.alerts_open_for_folding(self.store, sorted({signal.policy_id for signal in signals})),
            clock=self.clock,
            new_id=self.new_id,
        )
        events: list[Event] = []
        for alert in folded.grown:
            events.append(
                self._event(
                    EventType.ALERT_FOLDED,
                    {
                        "alert_id": alert.id,
                        "hit_count": alert.hit_count,
                        "last_occurred": (alert.last_occurred or alert.occurred).isoformat(),
                        "source_ids": alert.source_ids,
                        "message_ids": alert.message_ids,
                        "urls": alert.urls,
                        "file_hashes": alert.file_hashes,
                        "users": alert.users,
                        "details": alert.details,
                        "subject": alert.subject,
                    },
                    actor="system",
                )
            )
        incident_list = queries.open_incidents(self.store)
        settings = self.config.investigations
        open_investigations = [item for item in queries.investigations(self.store) if not item.status.is_terminal]
        scope_alerts = {alert.id: alert for alert in queries.alerts_by_id(self.store, [a for item in open_investigations for a in item.scope_alert_ids()])}
        for alert in folded.new:
            placed = incidents.correlate(alert, incident_list, window_hours=settings.incident_window_hours, max_entities=settings.max_incident_entities, new_id=self.new_id)
            alert.incident_id = placed.incident.id
            members = [*queries.alerts_by_id(self.store, placed.incident.alert_ids), *(a for a in folded.new if a.id in placed.incident.alert_ids)]
            incidents.retitle(placed.incident, list({a.id: a for a in members}.values()))
            events.append(self._event(EventType.ALERT_RAISED, {"alert": alert.model_dump(mode="json")}, actor="system"))
            kind = EventType.INCIDENT_CREATED if placed.created else EventType.INCIDENT_CHANGED
            events.append(self._event(kind, {"incident": placed.incident.model_dump(mode="json")}, actor="system"))
            events.extend(self._event(EventType.INCIDENT_CHANGED, {"incident": other.model_dump(mode="json")}, actor="system") for other in placed.changed)
            policy = in_force[alert.policy_id]
            if not policy.starts_investigation:
                continue
            joined = self._related_investigation(alert, policy.playbook, open_investigations, scope_alerts)
            if joined is not None:
                events.append(self._event(EventType.INVESTIGATION_SCOPE_WIDENED, {"investigation_id": joined.id, "alert_id": alert.id}, actor="system"))
                joined.alert_ids = [*joined.scope_alert_ids(), alert.id]
                scope_alerts[alert.id] = alert
                if joined.status in (InvestigationStatus.PENDING_ACTION, InvestigationStatus.PARTIALLY_REMEDIATED, InvestigationStatus.RUNNING):
                    events.append(
                        runner.status_event(self, joined.id, InvestigationStatus.STARTING, f"The alert '{alert.title}' joined: the investigation widens to its entities and runs again.")
                    )
                    joined.status = InvestigationStatus.STARTING
                continue
            investigation, start = runner.start_event(self, alert, policy.playbook)
            events.append(start)
            open_investigations.append(investigation)
            scope_alerts[alert.id] = alert
        self._append(events)
        return len(folded.new)

    def _related_investigation(
        self, alert: Alert, playbook: str, investigations: list[Investigation], alerts: dict[str, Alert]
    ) -> Investigation | None:
        """Return an unfinished investigation of the same playbook that shares an entity with the alert."""
        keys = alert.entity_keys()
        for investigation in investigations:
            if investigation.playbook != playbook or investigation.status.is_terminal:
                continue
            for alert_id in investigation.scope_alert_ids():
                other = alerts.get(alert_id)
                if other is not None and keys & other.entity_keys():
                    return investigation
        return None

    def start_manual_investigation(self, message_id: str, target: ManualTarget | str, *, source_id: str = "") -> Alert:
        """Raise the admin-triggered alert for an email, its recipient or its sender, and run it.

        Args:
            source_id: Names what started it; a second start with the same id returns the first
                alert, so an approved Start investigation action that resumes starts nothing twice.

        Raises:
            ActionError: The message is unknown, or the sender is outside the organisation.
        """
        self.access.require_change("starting investigations")
        target = ManualTarget(target)
        if source_id:
            earlier = [row.alert for row in queries.alert_queue(self.store) if source_id in row.alert.source_ids]
            if earlier:
                return earlier[0]
        message = self.message(message_id)
        if message is None:
            raise ActionError(f"No message with id {message_id}. Find one with the explorer (x in the console) or: air-tui explore QUERY")
        now = self.clock()
        source = source_id or f"manual:{self.new_id()}"
        if target is ManualTarget.EMAIL:
            signal = policies.AlertSignal(
                policy_id=policies.MANUAL_EMAIL, time=now, source_id=source, user=message.location.mailbox,
                subject=message.subject, message_ids=[message.id], triggered_by=self.analyst,
                details=f"{self.analyst} started an investigation of the email '{message.subject or '(no subject)'}' in {message.location.mailbox}",
            )
        else:
            address = message.location.mailbox if target is ManualTarget.RECIPIENT else message.sender.address
            own = {domain.lower() for domain in self.tenant.organisation.domains}
            sender_domain = address.rsplit("@", 1)[-1].lower()
            if target is ManualTarget.SENDER and not any(sender_domain == domain or sender_domain.endswith("." + domain) for domain in own):
                raise ActionError(
                    f"Sender investigations are for senders inside the organisation, and {address or '(no sender)'} is not. "
                    "Investigate the email or its recipient instead."
                )
            signal = policies.AlertSignal(
                policy_id=policies.MANUAL_USER, time=now, source_id=source, user=address,
                subject=f"{target.value.capitalize()} {address}", triggered_by=self.analyst,
                details=f"{self.analyst} started a compromise investigation of the {target.value} {address}",
            )
        policy = self.policies[signal.policy_id]
        if not policy.enabled:
            raise ActionError(f"The alert policy '{policy.name}' is turned off in [alerts] disabled; turn it on to start manual investigations.")
        with self.exclusive():
            self._raise([signal])
            self.run_investigations()
        alert_rows = [row.alert for row in queries.alert_queue(self.store) if signal.source_id in row.alert.source_ids]
        return alert_rows[0]

    def _start_from_action(self, target: InvestigationTarget, source_id: str) -> str:
        return self.start_manual_investigation(target.message_id, target.on, source_id=source_id).id

    def run_investigations(self, on_finished: Callable[[str, InvestigationStatus], None] | None = None) -> int:
        """Run waiting investigations, oldest first, within the concurrency limit; return how many ran.

        Investigations beyond `[investigations] max_concurrent` wait as Queued by throttling, and
        end as Terminated by throttling after `queue_timeout_hours`. Investigations waiting for
        approval count against the limit, as in Microsoft's AIR. In team mode only the console
        doing the automation runs them.
        """
        if not self.automation_allowed():
            return 0
        self.maintain()
        # Built on the first run only: it reads the tenant's activity files, and most calls (the
        # console's timer, each decision) find nothing to run.
        context: PlaybookContext | None = None
        settings = self.config.investigations
        ran = 0
        queued: list[Event] = []
        for investigation in queries.investigations(self.store):
            if investigation.status not in (InvestigationStatus.STARTING, InvestigationStatus.RUNNING, InvestigationStatus.QUEUED_BY_THROTTLING):
                continue
            # A rerun after new alerts joined keeps the slot the investigation already had.
            rerun = investigation.runs > 0
            if not rerun and investigation.status is not InvestigationStatus.RUNNING and self._active_count() >= settings.max_concurrent:
                waited = self.clock() - (investigation.queued or investigation.created)
                if investigation.status is InvestigationStatus.QUEUED_BY_THROTTLING and waited > timedelta(hours=settings.queue_timeout_hours):
                    queued.append(
                        runner.status_event(self, investigation.id, InvestigationStatus.TERMINATED_BY_THROTTLING, f"Waited in the queue longer than {settings.queue_timeout_hours} hours.")
                    )
                elif investigation.status is InvestigationStatus.STARTING:
                    queued.append(
                        runner.status_event(
                            self, investigation.id, InvestigationStatus.QUEUED_BY_THROTTLING,
                            f"{self._active_count()} investigations are running or waiting for approval, the limit is {settings.max_concurrent}: this one runs when a slot frees.",
                        )
                    )
                continue
            if queued:
                self._append(queued)
                queued = []
            alerts = queries.alerts_by_id(self.store, investigation.scope_alert_ids())
            alerts.sort(key=lambda alert: investigation.scope_alert_ids().index(alert.id))
            if context is None:
                context = self.playbook_context()
            context.log_start = queries.next_log_position(self.store, investigation.id) - 1
            context.existing_actions = [row.action for row in queries.action_rows(self.store) if row.action.investigation_id == investigation.id]
            status = runner.run_investigation(context, investigation, alerts)
            ran += 1
            if on_finished is not None:
                on_finished(investigation.id, status)
        if queued:
            self._append(queued)
        self._sync_incidents()
        return ran

    def _active_count(self) -> int:
        row = self.store.db.execute(
            "SELECT COUNT(*) FROM investigations WHERE status IN (?, ?, ?)",
            [InvestigationStatus.RUNNING.value, InvestigationStatus.PENDING_ACTION.value, InvestigationStatus.PARTIALLY_REMEDIATED.value],
        ).fetchone()
        return int(row[0])

    def maintain(self) -> int:
        """Close pending actions that expired or have nothing left to do, and settle their investigations.

        Returns how many actions closed. Safe to call often: the TUI calls it on a timer.
        """
        settings = self.config.investigations
        now = self.clock()
        closed: list[Event] = []
        touched: set[str] = set()
        expired_in: dict[str, int] = {}
        current_settings = self.tenant.mailbox_settings()
        for row in queries.action_rows(self.store, status=ActionStatus.PENDING):
            action = row.action
            expired = now - action.created > timedelta(days=settings.pending_action_days)
            if expired:
                reason = f"No decision within {settings.pending_action_days} days: the action expired."
            elif action.action_type.on_messages:
                where = message_index.locations(self.store, [target.message_id for target in action.targets])
                # A target the index does not know (a console that has not read its mail yet) may
                # well still be in a mailbox: only known locations can show that nothing is left.
                if len(where) < len({target.message_id for target in action.targets}) or any(folder in IN_MAILBOX_FOLDERS for _, folder in where.values()):
                    continue
                reason = "Every target left the mailboxes before a decision (moved by its user, removal after delivery or another action): nothing is left to do."
            elif action.setting is not None and not _setting_present(current_settings, action):
                reason = "The setting was already removed before a decision: nothing is left to do."
            else:
                continue
            # Closing takes the action's one decision, so an analyst approving it on another
            # console at the same moment either wins or learns that it expired.
            event = self.center.close_pending(action.id, reason)
            if event is None:
                continue
            if expired:
                expired_in[action.investigation_id] = expired_in.get(action.investigation_id, 0) + 1
            closed.append(event)
            touched.add(action.investigation_id)
        for investigation_id in sorted(touched):
            if investigation_id in expired_in:
                detail = queries.investigation_detail(self.store, investigation_id)
                if detail is not None and not detail.investigation.status.is_terminal:
                    count_text = f"{expired_in[investigation_id]} pending {'action' if expired_in[investigation_id] == 1 else 'actions'}"
                    self._append(
                        [runner.status_event(self, investigation_id, InvestigationStatus.TERMINATED_BY_SYSTEM, f"{count_text} expired after {settings.pending_action_days} days without a decision.")]
                    )
                continue
            self._update_investigation(investigation_id, actor="Automation")
        if closed:
            self._sync_incidents()
        return len(closed)

    def _sync_incidents(self) -> None:
        """Resolve active incidents whose alerts are all resolved."""
        events = []
        for incident in queries.open_incidents(self.store):
            alerts = queries.alerts_by_id(self.store, incident.alert_ids)
            if alerts and all(alert.status is AlertStatus.RESOLVED for alert in alerts):
                incident.status = IncidentStatus.RESOLVED
                events.append(self._event(EventType.INCIDENT_CHANGED, {"incident": incident.model_dump(mode="json")}, actor="system"))
        if events:
            self._append(events)

    def _settle_after_decision(self) -> None:
        """Close actions another decision made pointless, and start queued investigations a freed slot lets run."""
        with self.exclusive():
            self.run_investigations()

    def resolve_alert(self, alert_id: str, comment: str) -> Alert:
        """Resolve an alert that has no unfinished investigation, such as a forwarding alert an analyst checked.

        Raises:
            ActionError: The alert is unknown, resolved already, or its investigation still runs.
        """
        self.access.require_change("resolving alerts")
        found = queries.alerts_by_id(self.store, [alert_id, alert_id.upper()])
        if not found:
            raise ActionError(f"No alert with id {alert_id}. List them with: air-tui investigate --json")
        alert = found[0]
        if alert.status is AlertStatus.RESOLVED:
            raise ActionError(f"Alert {alert.id} is resolved already.")
        if alert.investigation_id:
            detail = queries.investigation_detail(self.store, alert.investigation_id)
            if detail is not None and not detail.investigation.status.is_terminal:
                raise ActionError(
                    f"Alert {alert.id} belongs to investigation {alert.investigation_id}, which is {detail.investigation.status.value.lower()}: "
                    "it resolves when the investigation ends. Stop it with: air-tui investigations stop ID --comment WHY"
                )
        if not comment.strip():
            raise ActionError("Resolving an alert needs a comment saying what was checked. Give one with --comment.")
        self._append([self._event(EventType.ALERT_RESOLVED, {"alert_id": alert.id, "comment": comment.strip()})])
        self._sync_incidents()
        return alert

    def assign_incident(self, incident_id: str, analyst: str) -> Incident:
        self.access.require_change("assigning incidents")
        found = [item for item in queries.incidents(self.store) if item.id in (incident_id, incident_id.upper())]
        if not found:
            raise ActionError(f"No incident with id {incident_id}. List them with: air-tui incidents list")
        incident = found[0]
        if not analyst.strip():
            raise ActionError(f"The assignee is empty. Name the analyst: air-tui incidents assign {incident.id} NAME")
        incident.assigned_to = validate_analyst(analyst)
        self._append([self._event(EventType.INCIDENT_CHANGED, {"incident": incident.model_dump(mode="json")})])
        return incident

    def terminate_investigation(self, investigation_id: str, reason: str) -> None:
        """Stop an unfinished investigation: its pending actions close and it ends as Terminated by user."""
        self.access.require_change("stopping investigations")
        detail = queries.investigation_detail(self.store, investigation_id) or queries.investigation_detail(self.store, investigation_id.upper())
        if detail is None:
            raise ActionError(f"No investigation with id {investigation_id}. List them with: air-tui investigations list")
        if detail.investigation.status.is_terminal:
            raise ActionError(f"Investigation {investigation_id} has ended already ({detail.investigation.status.value}).")
        if not reason.strip():
            raise ActionError("Stopping an investigation needs a reason. Give one with --comment.")
        events = [
            self._event(EventType.ACTION_CLOSED, {"action_id": action.id, "status": ActionStatus.EXPIRED.value, "reason": f"The investigation was stopped: {reason.strip()}"})
            for action in detail.actions
            if action.status is ActionStatus.PENDING
        ]
        events.append(runner.status_event(self, detail.investigation.id, InvestigationStatus.TERMINATED_BY_USER, reason.strip(), actor=self.analyst))
        self._append(events)
        self._settle_after_decision()

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

        The second process waits, then finds the index filled and the alerts raised. The lock is
        re-entrant within one service: an approved Start investigation action resumed inside
        this block starts its investigation under the lock already held.
        """
        if self._exclusive_depth:
            self._exclusive_depth += 1
            try:
                yield
            finally:
                self._exclusive_depth -= 1
            return
        with file_lock(self.workspace.database.with_suffix(".lock")):
            self._exclusive_depth = 1
            try:
                yield
            finally:
                self._exclusive_depth = 0

    # Decisions -------------------------------------------------------------------------------
    # The action center records each decision durably and runs the action; the service then
    # settles the investigation the action belongs to and lets queued investigations start.

    def approve(
        self,
        action_id: str,
        *,
        comment: str = "",
        parameters: dict[str, str] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> DecisionOutcome:
        """Record the approval durably, then run the action and record each target's result."""
        with self._pull_when_taken():
            outcome = self.center.approve(action_id, comment=comment, parameters=parameters, on_progress=on_progress)
        self._after_decisions([outcome])
        return outcome

    def reject(self, action_id: str, *, reason: str) -> DecisionOutcome:
        with self._pull_when_taken():
            outcome = self.center.reject(action_id, reason=reason)
        self._after_decisions([outcome])
        return outcome

    def retry(self, action_id: str, *, comment: str = "", on_progress: Callable[[int, int], None] | None = None) -> DecisionOutcome:
        """Run the failed targets of an action again, as a new decision."""
        with self._pull_when_taken():
            outcome = self.center.retry(action_id, comment=comment, on_progress=on_progress)
        self._after_decisions([outcome])
        return outcome

    def undo(self, action_id: str, *, comment: str = "", on_progress: Callable[[int, int], None] | None = None) -> DecisionOutcome:
        """Reverse a finished action; the undo is itself a recorded decision."""
        with self._pull_when_taken():
            outcome = self.center.undo(action_id, comment=comment, on_progress=on_progress)
        self._after_decisions([outcome])
        return outcome

    def preview(self, action_ids: list[str], kind: DecisionKind | str = DecisionKind.APPROVED) -> BulkPreview:
        """Return what deciding the marked actions together would do, per mailbox, and what blocks it."""
        return self.center.preview(action_ids, DecisionKind(kind))

    def decide_many(self, action_ids: list[str], kind: DecisionKind | str, *, comment: str = "") -> list[DecisionOutcome]:
        """Approve or reject several actions of one incident or investigation in one recorded step."""
        with self._pull_when_taken():
            outcomes = self.center.decide_many(action_ids, DecisionKind(kind), comment=comment)
        self._after_decisions(outcomes)
        return outcomes

    def propose(self, action_type: ActionType | str, **target: Any) -> PendingAction:
        """Propose an action by hand; see `ActionCenter.propose` for the targets each type takes."""
        action = self.center.propose(action_type, **target)
        if action.investigation_id:
            self._reopen_for_proposal(action.investigation_id)
        return action

    def change_parameters(self, action_id: str, parameters: dict[str, str]) -> PendingAction:
        return self.center.change_parameters(action_id, parameters)

    def resume_approved(self) -> int:
        """Run approved actions that wait for a slot or were interrupted by a crash; return how many ran.

        Read-only mode runs none: they wait for a console that may change mail.
        """
        if self.access.read_only:
            return 0
        ran = self.center.resume()
        if not self.automation_allowed():
            # Settling after a crash is the automation's work; the deciding console settled
            # its own decisions already.
            return ran
        # A crash after an action finished but before its investigation was settled leaves the
        # investigation behind; settling every one with a decided action catches it up.
        # Only unfinished investigations with a decided action can be behind, so the console's
        # minute reads those rather than every action of every investigation.
        rows = self.store.db.execute(
            "SELECT DISTINCT actions.investigation_id, actions.decided_by FROM actions JOIN investigations ON investigations.id = actions.investigation_id "
            "WHERE actions.status != ? AND investigations.status IN (?, ?, ?) ORDER BY actions.investigation_id",
            [
                ActionStatus.PENDING.value,
                InvestigationStatus.RUNNING.value,
                InvestigationStatus.PENDING_ACTION.value,
                InvestigationStatus.PARTIALLY_REMEDIATED.value,
            ],
        )
        settled: set[str] = set()
        for investigation_id, decided_by in rows:
            if investigation_id not in settled:
                settled.add(investigation_id)
                self._update_investigation(investigation_id, actor=decided_by or "Automation")
        return ran

    def _after_decisions(self, outcomes: list[DecisionOutcome]) -> None:
        for investigation_id in sorted({outcome.action.investigation_id for outcome in outcomes if outcome.action.investigation_id}):
            self._update_investigation(investigation_id)
        self._settle_after_decision()

    def _reopen_for_proposal(self, investigation_id: str) -> None:
        """Put a finished investigation back to Pending action, with the reason, when an analyst proposes an action in it."""
        detail = queries.investigation_detail(self.store, investigation_id)
        if detail is None:
            return
        status = detail.investigation.status
        if status in (InvestigationStatus.REMEDIATED, InvestigationStatus.NO_THREATS_FOUND, InvestigationStatus.PARTIALLY_REMEDIATED):
            reason = f"{self.analyst} proposed an action by hand; it waits for approval."
            self._append([runner.status_event(self, investigation_id, InvestigationStatus.PENDING_ACTION, reason, actor=self.analyst)])

    def _update_investigation(self, investigation_id: str, *, actor: str | None = None) -> None:
        """Close the investigation as Remediated once every action in it is decided or closed."""
        actor = actor or self.analyst
        actions = [row.action for row in queries.action_rows(self.store, investigation_id=investigation_id)]
        undecided = [action for action in actions if action.status is ActionStatus.PENDING]
        detail = queries.investigation_detail(self.store, investigation_id)
        if detail is None or detail.investigation.status.is_terminal:
            return
        if not undecided:
            rejected = [action for action in actions if action.status is ActionStatus.REJECTED]
            closed = [action for action in actions if action.status is ActionStatus.EXPIRED]
            approved = len(actions) - len(rejected) - len(closed)
            reason = f"Every recommended action was decided: {approved} approved, {len(rejected)} rejected."
            if closed:
                reason += f" {len(closed)} closed with nothing left to do."
            if rejected:
                left = sum(len(action.targets) for action in rejected)
                reason += f" The rejected actions leave {left} {'message' if left == 1 else 'messages'} where they were."
            # A malicious copy in an on-premises mailbox outlives every decision here: no action reaches it.
            unreachable = unreachable_copies(self.playbook_context(), detail.clusters)
            if unreachable:
                reason += (
                    f" {len(unreachable)} malicious {'copy sits' if len(unreachable) == 1 else 'copies sit'} in on-premises mailboxes, "
                    "out of reach of any action here: remove them in Exchange on premises."
                )
                event = runner.status_event(self, investigation_id, InvestigationStatus.PARTIALLY_INVESTIGATED, reason, actor=actor)
            else:
                event = runner.status_event(self, investigation_id, InvestigationStatus.REMEDIATED, reason, actor=actor)
        elif any(action.status not in (ActionStatus.PENDING, ActionStatus.REJECTED, ActionStatus.EXPIRED) for action in actions):
            # Partially remediated means something ran; rejections alone leave it Pending action.
            if detail.investigation.status is InvestigationStatus.PARTIALLY_REMEDIATED:
                return
            waiting = f"{len(undecided)} of {len(actions)} {'action still waits' if len(undecided) == 1 else 'actions still wait'} for a decision."
            event = runner.status_event(self, investigation_id, InvestigationStatus.PARTIALLY_REMEDIATED, waiting, actor=actor)
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

    def queued_count(self) -> int:
        """Investigations waiting in the throttling queue."""
        row = self.store.db.execute("SELECT COUNT(*) FROM investigations WHERE status = ?", [InvestigationStatus.QUEUED_BY_THROTTLING.value]).fetchone()
        return int(row[0])

    def ledger_position(self) -> int:
        """Sequence number of the newest ledger event; it changes whenever any state changes."""
        return int(self.store.db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])

    def investigations(self) -> list[Investigation]:
        return queries.investigations(self.store)

    def incidents(self) -> list[Incident]:
        return queries.incidents(self.store)

    def removals(self) -> list[dict[str, Any]]:
        """Return every removal after delivery, oldest first, failures included."""
        return queries.removals(self.store)

    def verdict_counts(self) -> dict[str, int]:
        return queries.verdict_counts(self.store)

    def action_results(self, action_id: str, *, undo: bool = False) -> list[dict]:
        """Return each target's latest result of the action's change, or of its undo."""
        return queries.action_results(self.store, action_id, undo=undo)

    def action_row(self, action_id: str) -> queries.ActionRow | None:
        return queries.action_row(self.store, action_id) or queries.action_row(self.store, action_id.upper())

    def decisions(self, action_id: str) -> list[Decision]:
        """Return every decision on the action, oldest first: approvals, rejections, retries and undos."""
        return queries.decisions(self.store, action_id)

    def block_entries(self, *, active_only: bool = False) -> list[dict[str, Any]]:
        """Return the tenant block list, newest first. `active_only` leaves out removed and expired entries."""
        return queries.block_entries(self.store, active_at=self.clock().isoformat() if active_only else None)

    def parameter_changes(self, action_id: str) -> list[dict[str, Any]]:
        """Changes made to a pending action without deciding it: who, when and what, oldest first."""
        rows = self.store.db.execute(
            "SELECT actor, time, payload FROM events WHERE type = ? AND json_extract(payload, '$.action_id') = ? ORDER BY clock, id",
            [EventType.ACTION_PARAMETERS_CHANGED.value, action_id],
        )
        return [{"actor": actor, "time": time, "parameters": json.loads(payload).get("parameters", {})} for actor, time, payload in rows]

    def blocked_by(self, entry_id: str) -> list[dict[str, Any]]:
        """New messages a block list entry junked at ingest, oldest first."""
        return list(self.store.db.query("SELECT * FROM blocked_messages WHERE entry_id = ? ORDER BY time, message_id", [entry_id]))

    def blocked_message(self, message_id: str) -> dict[str, Any] | None:
        """Return how the block list junked this message at ingest, or None when it did not."""
        rows = list(self.store.db.query("SELECT * FROM blocked_messages WHERE message_id = ?", [message_id]))
        return rows[0] if rows else None

    def message(self, message_id: str) -> EmailMessage | None:
        return message_index.load_message(self.store, message_id)

    def message_count(self) -> int:
        return message_index.message_count(self.store)

    def raw_headers(self, message_id: str, limit: int = 256 * 1024) -> str:
        """Return the message's header block as stored, up to `limit` bytes, or a line saying why not.

        The text is attacker-controlled: front ends must show it without markup or control characters.
        """
        message = self.message(message_id.split("/", 1)[0])
        if message is None or not message.location.path:
            return f"(No stored file for message {message_id}.)"
        path = Path(message.location.path)
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as error:
            return f"(Cannot read {path}: {error.strerror or error}.)"
        end = min((index for index in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if index >= 0), default=-1)
        header = data[:end] if end >= 0 else data[:limit]
        text = header.decode("utf-8", errors="replace")
        if end < 0 and len(data) > limit:
            text += f"\n(Header block cut at {limit} bytes.)"
        return text

    # Windows over the explorer's results and the alert queue ------------------------------------

    def explore_count(self, query: str, cap: int = 10_000) -> explorer.MessageCount:
        """Count the messages an explorer query matches, up to `cap`; see `air_tui.store.explorer.count`."""
        return explorer.count(self.store, query, cap)

    def explore_window(self, query: str, offset: int, limit: int, *, total: int | None = None) -> list[explorer.ExplorerRow]:
        """Return one window of an explorer query's messages, newest first; see `air_tui.store.explorer.window`."""
        return explorer.window(self.store, query, offset, limit, total=total)

    def alert_count(self, filter_text: str = "") -> int:
        return windows.alert_count(self.store, filter_text)

    def alert_window(self, offset: int, limit: int, filter_text: str = "", *, total: int | None = None) -> list[queries.AlertRow]:
        return windows.alert_window(self.store, offset, limit, filter_text, total=total)

    def alert_position(self, alert_id: str, filter_text: str = "") -> int | None:
        return windows.alert_position(self.store, alert_id, filter_text)


def _setting_present(settings: dict[str, MailboxSettings], action: PendingAction) -> bool:
    """Return whether the mailbox setting an action would remove is still there."""
    assert action.setting is not None
    current = settings.get(action.setting.mailbox) or settings.get(action.setting.mailbox.lower())
    if current is None:
        return False
    if action.action_type is ActionType.REMOVE_FORWARDING and not action.setting.item_id:
        return current.forwarding is not None
    if action.action_type in (ActionType.REMOVE_INBOX_RULE, ActionType.REMOVE_FORWARDING):
        return any(rule.id == action.setting.item_id for rule in current.inbox_rules)
    if action.action_type is ActionType.REMOVE_DELEGATION:
        return any(delegate.address.lower() == action.setting.item_id.lower() for delegate in current.delegates)
    return True


__all__ = [
    "Access",
    "ActionError",
    "AirService",
    "AnalystError",
    "BackendError",
    "BulkPreview",
    "DecisionConflict",
    "DecisionOutcome",
    "IngestSummary",
    "PermissionDenied",
    "PreviewRow",
    "SyncReport",
    "SyncStatus",
    "validate_analyst",
]
