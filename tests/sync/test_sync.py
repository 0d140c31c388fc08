"""Team sync against a real pouchdb-server on 127.0.0.1: convergence, races, a killed server, offline catch-up."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest

from air_tui.domain.event import EventType
from air_tui.domain.vocab import ActionStatus, ActionType, TargetResult
from air_tui.service import ActionError, AirService, DecisionConflict
from air_tui.store import ledger
from air_tui.store.schema import PROJECTION_TABLES, table_columns
from tests.sync.conftest import DATABASE, Desk
from tests.sync.couchserver import CouchServer


def tables(service: AirService) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table, rows in a fixed order, JSON read as values."""
    state = {}
    for table in PROJECTION_TABLES:
        columns = ", ".join(f'"{column}"' for column in table_columns(table))
        rows = [ledger._comparable(row) for row in service.store.db.execute(f"SELECT {columns} FROM {table}")]
        state[table] = sorted(rows, key=repr)
    return state


def event_ids(service: AirService) -> list[str]:
    return [row[0] for row in service.store.db.execute("SELECT id FROM events ORDER BY id")]


def count_events(service: AirService, event_type: EventType, action_id: str) -> int:
    row = service.store.db.execute(
        "SELECT COUNT(*) FROM events WHERE type = ? AND (json_extract(payload, '$.action_id') = ? OR json_extract(payload, '$.decision.action_id') = ?)",
        [event_type.value, action_id, action_id],
    ).fetchone()
    return int(row[0])


def pending_soft_delete(service: AirService) -> str:
    for row in service.actions(ActionStatus.PENDING):
        if row.action.action_type is ActionType.SOFT_DELETE:
            return row.action.id
    raise AssertionError("the investigated demo has no pending soft delete")


def two_desks_and_a_pending_soft_delete(desks) -> tuple[Desk, Desk, str]:
    """ana, who investigated the demo, and ben, who synced from her and read his mail; both see the action pending."""
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        action_id = pending_soft_delete(first)
    with ben.open() as second:
        second.sync_now()
        second.ingest()
    return ana, ben, action_id


def assert_consistent(service: AirService) -> None:
    assert ledger.verify_chain(service.store) == []
    assert ledger.verify_projections(service.store) == []


# Convergence ------------------------------------------------------------------------------------


def test_a_second_console_receives_everything_the_first_recorded(desks) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert report.pushed == len(event_ids(first)) > 300
        assert first.sync_status().state == "synced"
        assert first.sync_status().waiting == 0
        expected_tables, expected_ids = tables(first), event_ids(first)
    with ben.open() as second:
        report = second.sync_now()
        assert report.error == ""
        assert report.pulled == len(expected_ids)
        assert event_ids(second) == expected_ids
        assert tables(second) == expected_tables
        assert second.pending_count() > 0
        assert_consistent(second)


def test_a_decision_on_one_console_runs_there_once_and_reaches_the_other(desks) -> None:
    ana, ben, action_id = two_desks_and_a_pending_soft_delete(desks)
    with ben.open() as second:
        outcome = second.approve(action_id, comment="confirmed phish")
        assert outcome.status is ActionStatus.COMPLETED
        assert outcome.results.get(TargetResult.SUCCEEDED.value, 0) > 0
        assert second.sync_now().error == ""
        expected = tables(second)
    with ana.open() as first:
        first.sync_now()
        row = first.action_row(action_id)
        assert row is not None
        assert row.action.status is ActionStatus.COMPLETED
        assert row.decided_by == "ben"
        assert count_events(first, EventType.ACTION_EXECUTION_STARTED, action_id) == 1
        assert tables(first) == expected
        assert_consistent(first)


def test_events_made_on_both_consoles_while_apart_converge(desks) -> None:
    """Both consoles record decisions before either syncs; the two orders of arrival give one state."""
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        pending = [row.action.id for row in first.actions(ActionStatus.PENDING)]
    with ben.open() as second:
        second.sync_now()
        second.ingest()
    assert len(pending) >= 4
    with ana.open() as first:
        first.reject(pending[0], reason="false positive, newsletter")
        first.propose(ActionType.BLOCK_SENDER, value="invoices@billing-notice.example")
    with ben.open() as second:
        second.reject(pending[1], reason="user reported it as expected")
        second.approve(pending[2])
    # ana sends first, so ben receives ana's events before his own in the server's order, while
    # ana receives ben's after hers.
    with ana.open() as first:
        assert first.sync_now().error == ""
    with ben.open() as second:
        assert second.sync_now().error == ""
        ben_tables, ben_ids = tables(second), event_ids(second)
        assert_consistent(second)
    with ana.open() as first:
        assert first.sync_now().error == ""
        assert event_ids(first) == ben_ids
        assert tables(first) == ben_tables
        assert_consistent(first)
        statuses = {action_id: first.action_row(action_id).action.status for action_id in pending[:3]}
    assert statuses == {pending[0]: ActionStatus.REJECTED, pending[1]: ActionStatus.REJECTED, pending[2]: ActionStatus.COMPLETED}


# One decision per action ------------------------------------------------------------------------


def test_the_second_analyst_to_decide_is_told_who_decided_and_when(desks, server: CouchServer) -> None:
    ana, ben, action_id = two_desks_and_a_pending_soft_delete(desks)
    with ana.open() as first:
        first.reject(action_id, reason="sender is a partner")
    with ben.open() as second:
        with pytest.raises(DecisionConflict) as raised:
            second.approve(action_id)
        message = str(raised.value)
        assert f"Action {action_id} was already rejected by ana" in message
        assert raised.value.holder.who == "ana"
        assert raised.value.holder.what == "rejected"
        # The loser pulled at once: the screen shows ana's decision, and nothing ran here.
        row = second.action_row(action_id)
        assert row is not None
        assert row.action.status is ActionStatus.REJECTED
        assert row.decided_by == "ana"
        assert count_events(second, EventType.ACTION_EXECUTION_STARTED, action_id) == 0
        assert count_events(second, EventType.ACTION_DECIDED, action_id) == 1
    decisions = [doc for doc in server.docs(DATABASE) if doc.get("kind") == "decision" and doc.get("action_id") == action_id]
    assert [(doc["decision"], doc["decided_by"]) for doc in decisions] == [("rejected", "ana")]


def test_two_analysts_approving_at_the_same_moment_get_one_winner_and_one_run(desks, server: CouchServer) -> None:
    ana, ben, action_id = two_desks_and_a_pending_soft_delete(desks)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def decide(desk: Desk) -> None:
        with desk.open() as service:
            barrier.wait()
            try:
                outcomes[desk.analyst] = service.approve(action_id)
            except ActionError as error:
                outcomes[desk.analyst] = error

    threads = [threading.Thread(target=decide, args=(desk,)) for desk in (ana, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    winners = [name for name, outcome in outcomes.items() if not isinstance(outcome, Exception)]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, DecisionConflict)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1, outcomes
    assert losers[0].holder.who == winners[0]
    for desk in (ana, ben):
        with desk.open() as service:
            service.sync_now()
    for desk in (ana, ben):
        with desk.open() as service:
            service.sync_now()
            assert count_events(service, EventType.ACTION_DECIDED, action_id) == 1
            assert count_events(service, EventType.ACTION_EXECUTION_STARTED, action_id) == 1
            assert service.action_row(action_id).decided_by == winners[0]
    runs = [doc for doc in server.docs(DATABASE) if doc.get("kind") == "run" and doc.get("action_id") == action_id]
    assert [doc["analyst"] for doc in runs] == winners


class NoRunClaims(httpx.BaseTransport):
    """Forwards every request but the claims to run an action, which find no server."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/run%3A" in request.url.raw_path.decode():
            raise httpx.ConnectError("connection refused")
        return self.inner.handle_request(request)


def test_an_approved_action_nobody_could_claim_runs_on_one_console_only(desks) -> None:
    """Whichever console claims the run first runs it; the other finds the claim and leaves it."""
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open(sync_transport=NoRunClaims()) as first:
        first.sync_now()
        action_id = pending_soft_delete(first)
        outcome = first.approve(action_id)
        assert outcome.status is ActionStatus.APPROVED
        assert "did not answer the claim to run it" in outcome.message
        first.sync_now()
    with ben.open() as second:
        second.sync_now()
        second.ingest()
        assert second.resume_approved() == 1
        assert second.action_row(action_id).action.status is ActionStatus.COMPLETED
        second.sync_now()
    with ana.open() as first:
        assert first.resume_approved() == 0
        first.sync_now()
        assert first.action_row(action_id).action.status is ActionStatus.COMPLETED
        assert count_events(first, EventType.ACTION_EXECUTION_STARTED, action_id) == 1


# Faults ------------------------------------------------------------------------------------------


class KillAfter(httpx.BaseTransport):
    """Forwards requests, and kills the server while the n-th `_bulk_docs` is on its way."""

    def __init__(self, server: CouchServer, bulk_requests: int) -> None:
        self.server = server
        self.left = bulk_requests
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/_bulk_docs"):
            self.left -= 1
            if self.left == 0:
                response = self.inner.handle_request(request)
                # The server took the batch, then died before the answer was read.
                self.server.kill()
                response.close()
                raise httpx.ReadError("server killed while answering")
        return self.inner.handle_request(request)


def test_a_server_killed_in_the_middle_of_a_push_loses_nothing(desks, disk_server: CouchServer) -> None:
    ana, ben = desks("ana", investigated=True, couch=disk_server, batch_size=40), desks("ben", couch=disk_server)
    with ana.open(sync_transport=KillAfter(disk_server, 3)) as first:
        report = first.sync_now()
        assert report.offline
        assert "sync server" in report.error
        status = first.sync_status()
        assert status.state == "offline"
        assert status.waiting > 0
        all_ids = event_ids(first)
    # Two batches were confirmed; the third reached the server but its answer did not.
    assert status.waiting == len(all_ids) - 80
    disk_server.start()
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert first.sync_status().waiting == 0
    stored = Counter(doc["_id"] for doc in disk_server.docs(DATABASE) if doc.get("kind") == "event")
    assert sorted(stored) == all_ids
    assert set(stored.values()) == {1}
    with ben.open() as second:
        second.sync_now()
        assert event_ids(second) == all_ids
        assert_consistent(second)


def test_a_server_that_lost_its_data_gets_every_event_again(desks, server: CouchServer) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        all_ids = event_ids(first)
    server.kill()
    server.start()  # in memory: it comes back empty, as a server restored from nothing would
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert report.pushed == len(all_ids)
    with ben.open() as second:
        second.sync_now()
        assert event_ids(second) == all_ids


def test_a_console_offline_for_a_while_queues_backs_off_and_catches_up(desks, disk_server: CouchServer) -> None:
    ana, ben = desks("ana", investigated=True, couch=disk_server), desks("ben", couch=disk_server)
    with ana.open() as first:
        first.sync_now()
        pending = [row.action.id for row in first.actions(ActionStatus.PENDING)]
    with ben.open() as second:
        second.sync_now()
    disk_server.kill()
    with ana.open() as first:
        # Decisions need the server, so that no two analysts decide one action both.
        with pytest.raises(ActionError, match="Nothing was decided: Cannot reach the sync server"):
            first.reject(pending[0], reason="not malicious")
        assert first.action_row(pending[0]).action.status is ActionStatus.PENDING
        # Work that needs no arbitration goes on, and queues.
        first.propose(ActionType.BLOCK_URL, value="https://login.contoso-verify.example/")
        first.propose(ActionType.BLOCK_SENDER, value="alerts@secure-mailbox.example")
        delays = []
        for _ in range(5):
            report = first.sync_now()
            assert report.offline
            delays.append(first.sync_status())
        status = delays[-1]
        assert status.state == "offline"
        assert status.failures == 5
        assert status.waiting >= 2
        assert status.offline_since == delays[0].offline_since
        replicator = first.team.replicator
        assert not replicator.due()
        waits = [replicator.backoff(n) for n in range(1, 12)]
        # Each wait is the doubling step (2 s, 4 s, 8 s...) times a jitter between one half and one.
        assert all(2 ** (n - 1) <= wait <= 2**n for n, wait in enumerate(waits[:7], start=1))
        assert 150.0 <= waits[-1] <= 300.0
        queued = event_ids(first)
    disk_server.start()
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert first.sync_status().state == "synced"
    with ben.open() as second:
        report = second.sync_now()
        assert report.error == ""
        assert event_ids(second) == queued
        proposed = [row for row in second.actions(ActionStatus.PENDING) if row.action.action_type in (ActionType.BLOCK_URL, ActionType.BLOCK_SENDER)]
        assert len(proposed) == 2
        assert_consistent(second)


# Automation --------------------------------------------------------------------------------------


def test_only_the_console_holding_the_lease_raises_alerts(desks) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        assert first.automation_allowed()
        first.sync_now()
    with ben.open() as second:
        second.sync_now()
        assert not second.automation_allowed()
        second.ingest()
        assert second.raise_alerts() == 0
        assert second.run_investigations() == 0
    with ana.open() as first:
        first.release_automation()
    with ben.open() as second:
        assert second.automation_allowed()
    with ana.open() as first:
        assert not first.automation_allowed()


def test_log_lines_written_on_both_consoles_at_once_are_both_kept(desks) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        by_investigation: dict[str, list[str]] = {}
        for row in first.actions(ActionStatus.PENDING):
            by_investigation.setdefault(row.action.investigation_id, []).append(row.action.id)
        investigation_id, (one, two, *_) = next((key, ids) for key, ids in by_investigation.items() if key and len(ids) >= 2)
    with ben.open() as second:
        second.sync_now()
    with ana.open() as first:
        first.reject(one, reason="ana: benign")
    with ben.open() as second:
        second.reject(two, reason="ben: benign")
    for desk in (ana, ben, ana):
        with desk.open() as service:
            service.sync_now()
    logs = []
    for desk in (ana, ben):
        with desk.open() as service:
            detail = service.investigation_detail(investigation_id)
            logs.append([(step.name, step.summary) for step in detail.log])
    assert logs[0] == logs[1]
    summaries = " | ".join(summary for _, summary in logs[0])
    assert "ana: benign" in summaries
    assert "ben: benign" in summaries


def test_a_decision_the_server_took_before_a_crash_comes_back_with_the_next_sync(desks, monkeypatch: pytest.MonkeyPatch) -> None:
    ana = desks("ana", investigated=True)
    with ana.open() as first:
        first.sync_now()
        action_id = pending_soft_delete(first)
        coordination = first.team.coordination
        claim = coordination.decision_guard

        def claim_then_crash(action: str, key: str):
            taken = claim(action, key)

            def hook(events):
                taken(events)
                raise KeyboardInterrupt("the process died before its commit")

            return hook

        monkeypatch.setattr(coordination, "decision_guard", claim_then_crash)
        with pytest.raises(KeyboardInterrupt):
            first.approve(action_id, comment="contained")
        assert count_events(first, EventType.ACTION_DECIDED, action_id) == 0
    monkeypatch.undo()
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert report.pulled >= 1
        row = first.action_row(action_id)
        assert row is not None
        assert row.action.status is ActionStatus.APPROVED
        assert row.decided_by == "ana"
        assert first.decisions(action_id)[0].comment == "contained"
        assert first.resume_approved() == 1
        assert first.action_row(action_id).action.status is ActionStatus.COMPLETED
        assert_consistent(first)


def test_a_console_that_has_not_read_its_mail_closes_nothing(desks) -> None:
    ana, ben = desks("ana", investigated=True), desks("ben")
    with ana.open() as first:
        first.sync_now()
        pending = {row.action.id for row in first.actions(ActionStatus.PENDING)}
        first.release_automation()
    with ben.open() as second:
        second.sync_now()
        assert second.message_count() == 0
        assert second.automation_allowed()
        assert second.maintain() == 0
        assert {row.action.id for row in second.actions(ActionStatus.PENDING)} == pending


def test_a_restored_database_gets_the_decisions_back_before_anyone_decides_again(desks, server: CouchServer) -> None:
    ana, ben, action_id = two_desks_and_a_pending_soft_delete(desks)
    with ana.open() as first:
        first.approve(action_id)
        first.sync_now()
    server.kill()
    server.start()
    with ana.open() as first:
        report = first.sync_now()
        assert report.error == ""
        assert report.resent
    kinds = Counter((doc.get("kind"), doc.get("action_id")) for doc in server.docs(DATABASE))
    assert kinds[("decision", action_id)] == 1
    assert kinds[("run", action_id)] == 1
    with ben.open() as second:
        # ben never saw ana's approval: his copy still says pending, but the server knows better.
        with pytest.raises(DecisionConflict, match="was already approved by ana"):
            second.approve(action_id)
        assert count_events(second, EventType.ACTION_EXECUTION_STARTED, action_id) == 1


def test_pointing_a_console_at_another_database_starts_afresh(desks, server: CouchServer) -> None:
    ana = desks("ana", investigated=True)
    with ana.open() as first:
        first.sync_now()
        server.kill()
        assert first.sync_now().offline
        total = len(event_ids(first))
    server.start()
    ana.sync_options = {"database": "soc-night-shift"}
    with ana.open() as first:
        status = first.sync_status()
        assert status.database == "soc-night-shift"
        assert status.last_error == ""
        assert status.offline_since == ""
        assert status.waiting == total
        assert status.last_success == ""
        assert status.state == "waiting"
        assert first.sync_now().pushed == total
