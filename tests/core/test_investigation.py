"""Investigations on a copy of the demo tenant: alerts, verdicts, clusters, actions, decisions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from air_tui.engine.user_reported import EMAIL_PLAYBOOKS
from air_tui.domain.vocab import Playbook
from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind, EntityKind, Folder, InvestigationStatus, Verdict
from air_tui.service import ActionError, AirService
from air_tui.store import ledger
from air_tui.tenant.workspace import Workspace
from tests.conftest import CORPUS as REPOSITORY_CORPUS
from tests.conftest import make_service


def submissions(tenant: Path) -> list[dict]:
    lines = (tenant / "activity" / "submissions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def investigation_for(service: AirService, submission_id: str):
    for row in service.alert_queue():
        if submission_id in row.alert.source_ids:
            return service.investigation_detail(row.investigation_id)
    raise AssertionError(f"no alert for {submission_id}")


def newsletter_report(tenant: Path) -> dict:
    allowed = (tenant / "intel" / "allow_domains.csv").read_text()
    for submission in submissions(tenant):
        if submission["report_type"] == "Phish" and "northwindpartners" in submission["internet_message_id"]:
            assert "northwindpartners.example" in allowed
            return submission
    raise AssertionError("the demo tenant has no newsletter reported as phish")


def test_one_alert_per_phish_or_malware_report(investigated: AirService, tenant_copy: Path) -> None:
    reported = [s["id"] for s in submissions(tenant_copy) if s["report_type"] in ("Phish", "Malware")]
    alerts = [row for row in investigated.alert_queue() if row.alert.policy_id == "user-reported-phish"]
    # Each report is in exactly one alert, alone or folded with reports from the same minute.
    assert sorted(source for row in alerts for source in row.alert.source_ids) == sorted(reported)
    assert {row.alert.title for row in alerts} == {"Email reported by user as malware or phish"}
    assert all(row.investigation_id for row in alerts)


def test_rerun_raises_no_duplicate_alerts(investigated: AirService) -> None:
    before = len(investigated.alert_queue())
    assert investigated.raise_alerts() == 0
    assert investigated.run_investigations() == 0
    assert len(investigated.alert_queue()) == before


def test_newsletter_false_alarm_no_threats(investigated: AirService, tenant_copy: Path) -> None:
    detail = investigation_for(investigated, newsletter_report(tenant_copy)["id"])
    assert detail.investigation.status is InvestigationStatus.NO_THREATS_FOUND
    assert detail.actions == []
    message = next(e for e in detail.entities if e.kind is EntityKind.MESSAGE)
    assert message.verdict is Verdict.NO_THREATS_FOUND


def test_campaign_report_finds_cluster_across_mailboxes(investigated: AirService, tenant_copy: Path) -> None:
    portuguese = next(s for s in submissions(tenant_copy) if s["id"] == "sub-010")
    detail = investigation_for(investigated, portuguese["id"])
    assert detail.investigation.status is InvestigationStatus.PENDING_ACTION
    url_clusters = [c for c in detail.clusters if c.cluster_by == "url" and c.value == "https://juliodejens.icu"]
    assert len(url_clusters) == 1
    cluster = url_clusters[0]
    assert cluster.verdict is Verdict.MALICIOUS
    assert len(cluster.mailboxes) >= 3
    assert portuguese["mailbox"] in cluster.mailboxes


def test_pending_soft_delete_targets_inbox_and_junk(investigated: AirService) -> None:
    pending = [row for row in investigated.actions(ActionStatus.PENDING) if row.action.action_type.on_messages]
    assert pending
    for row in pending:
        assert row.action.action_type is ActionType.SOFT_DELETE
        assert row.action.targets
        assert {t.folder for t in row.action.targets} <= {"Inbox", "Junk Email"}


def test_no_message_targeted_twice_in_investigation(investigated: AirService) -> None:
    by_investigation: dict[str, list[str]] = {}
    for row in investigated.actions():
        by_investigation.setdefault(row.action.investigation_id, []).extend(t.message_id for t in row.action.targets)
    for targets in by_investigation.values():
        assert len(targets) == len(set(targets))


def test_every_entity_has_verdict_and_evidence(investigated: AirService) -> None:
    for investigation in investigated.investigations():
        detail = investigated.investigation_detail(investigation.id)
        if investigation.playbook in EMAIL_PLAYBOOKS and detail.log:
            message = next(e for e in detail.entities if e.kind is EntityKind.MESSAGE)
            assert message.evidence, investigation.title
        for entity in detail.entities:
            if entity.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS):
                # Either one line carries the verdict, or the rules' points add up to its threshold.
                points = sum(item.weight for item in entity.evidence)
                threshold = 100 if entity.verdict is Verdict.MALICIOUS else 40
                assert any(item.verdict is entity.verdict for item in entity.evidence) or points >= threshold, entity.label


def test_log_has_each_step_timed(investigated: AirService) -> None:
    detail = investigated.investigation_detail(investigated.investigations()[0].id)
    names = [step.name for step in detail.log]
    assert names[0] == "User-reported emails indicators extraction"
    assert "Mail cluster identification" in names
    assert names[-1] == "Recommended remediation"
    assert all(step.outcome == "ok" for step in detail.log)
    assert all(step.duration_ms >= 0 for step in detail.log)


def test_malicious_click_is_correlated(investigated: AirService, tenant_copy: Path) -> None:
    clicks = [json.loads(line) for line in (tenant_copy / "activity" / "url_clicks.jsonl").read_text().splitlines()]
    clicked_through = [c for c in clicks if c["action"] == "clicked_through"]
    assert clicked_through
    user = clicked_through[0]["user"]
    flagged = [
        entity
        for investigation in investigated.investigations()
        for entity in investigated.investigation_detail(investigation.id).entities
        if entity.kind is EntityKind.MAILBOX and entity.key == user and entity.verdict is Verdict.SUSPICIOUS
    ]
    assert any("Opened the malicious URL" in item.text for entity in flagged for item in entity.evidence)


def test_approve_moves_files_and_records(investigated: AirService, workspace: Workspace) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    outcome = investigated.approve(action.id, comment="confirmed campaign")
    assert outcome.status is ActionStatus.COMPLETED
    assert outcome.results == {"Succeeded": len(action.targets)}
    for target in action.targets:
        message = investigated.message(target.message_id)
        assert message.location.folder == "Recoverable Items"
        assert Path(message.location.path).exists()
        assert "/Recoverable Items/cur/" in message.location.path
        source = workspace.tenant_dir / "mailboxes" / target.mailbox / target.folder
        assert not any(p.name.startswith(message.location.key) for p in source.rglob("*"))
    decided = [r for r in investigated.actions() if r.action.id == action.id][0]
    assert (decided.decided_by, decided.comment) == ("analyst1", "confirmed campaign")


def test_decision_survives_in_new_connection(investigated: AirService, workspace: Workspace) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    investigated.reject(action.id, reason="sender is a partner")
    with make_service(workspace, id_prefix="01OTHER") as other:
        row = [r for r in other.actions() if r.action.id == action.id][0]
        assert row.action.status is ActionStatus.REJECTED
        assert row.comment == "sender is a partner"


def test_reject_needs_reason(investigated: AirService) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    with pytest.raises(ActionError, match="needs a reason"):
        investigated.reject(action.id, reason="  ")
    assert investigated.actions(ActionStatus.PENDING)[0].action.id == action.id


def test_decided_action_cannot_be_decided_again(investigated: AirService) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    investigated.approve(action.id)
    with pytest.raises(ActionError, match="cannot be decided: only pending actions can. It was approved by analyst1 at "):
        investigated.approve(action.id)


def test_unknown_action_id_is_named(investigated: AirService) -> None:
    with pytest.raises(ActionError, match="No action with id NOPE"):
        investigated.approve("NOPE")


def investigation_with_actions(service: AirService, minimum: int) -> list:
    by_investigation: dict[str, list] = {}
    for row in service.actions(ActionStatus.PENDING):
        by_investigation.setdefault(row.action.investigation_id, []).append(row.action)
    return next(actions for actions in by_investigation.values() if len(actions) >= minimum)


def test_all_decided_investigation_remediated(investigated: AirService) -> None:
    mine = investigation_with_actions(investigated, 2)
    investigation_id = mine[0].investigation_id
    investigated.approve(mine[0].id)
    for action in mine[1:]:
        assert investigated.investigation_detail(investigation_id).investigation.status is InvestigationStatus.PARTIALLY_REMEDIATED
        investigated.reject(action.id, reason="kept for review")
    detail = investigated.investigation_detail(investigation_id)
    assert detail.investigation.status is InvestigationStatus.REMEDIATED
    assert "1 approved" in detail.investigation.status_reason


def test_rejection_alone_stays_pending(investigated: AirService) -> None:
    mine = investigation_with_actions(investigated, 2)
    investigated.reject(mine[0].id, reason="not this cluster")
    detail = investigated.investigation_detail(mine[0].investigation_id)
    assert detail.investigation.status is InvestigationStatus.PENDING_ACTION


def test_decision_appears_in_log(investigated: AirService) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    investigated.reject(action.id, reason="partner newsletter")
    log = investigated.investigation_detail(action.investigation_id).log
    last = log[-1]
    assert last.name == "Decision: rejected Soft delete"
    assert "analyst1" in last.summary
    assert "partner newsletter" in last.summary
    assert [step.name for step in log].count("Recommended remediation") == 1


def test_cluster_shows_current_mailbox_count(investigated: AirService) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    before = investigated.investigation_detail(action.investigation_id)
    cluster = next(e for e in before.entities if e.kind is EntityKind.CLUSTER and e.key == action.cluster_id)
    assert cluster.attributes["in_mailbox_now"] == cluster.attributes["in_mailbox"]
    investigated.approve(action.id)
    after = investigated.investigation_detail(action.investigation_id)
    cluster = next(e for e in after.entities if e.kind is EntityKind.CLUSTER and e.key == action.cluster_id)
    assert cluster.attributes["in_mailbox_now"] == cluster.attributes["in_mailbox"] - len(action.targets)


def test_interrupted_approval_resumes_once(investigated: AirService, workspace: Workspace) -> None:
    action = investigated.actions(ActionStatus.PENDING)[0].action
    # Record the approval only, as if the process died before the first move.
    center = investigated.center
    ledger.append(investigated.store, center._decision_events(action, center._decision(action, DecisionKind.APPROVED, "", {}), "decide"))
    first = action.targets[0]
    key = investigated.message(first.message_id).location.key
    investigated.tenant.move_message(first.mailbox, key, Folder.RECOVERABLE)
    with make_service(workspace, id_prefix="01RESUME") as restarted:
        assert restarted.resume_approved() == 1
        results = {row["message_id"]: row["result"] for row in restarted.action_results(action.id)}
    assert len(results) == len(action.targets)
    assert results[first.message_id] == "Already in destination"
    assert all(result == "Succeeded" for mid, result in results.items() if mid != first.message_id)


def test_ledger_chain_intact_after_decisions(investigated: AirService) -> None:
    for row in investigated.actions(ActionStatus.PENDING)[:2]:
        investigated.approve(row.action.id)
    assert ledger.verify_chain(investigated.store) == []
    types = [row[0] for row in investigated.store.db.execute("SELECT type FROM events")]
    assert types.count("action.decided") == 2
    assert "action.target_executed" in types


def test_failed_parse_is_stored_with_reason(workspace: Workspace) -> None:
    inbox = workspace.tenant_dir / "mailboxes" / "margot.visser@larkspur.example" / "Inbox" / "cur"
    (inbox / "1795000000.M999999P0.larkspur:2,S").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    with make_service(workspace) as service:
        summary = service.ingest()
        assert summary.failed == 1
        row = service.store.db.execute(
            "SELECT parse_status, parse_error FROM messages WHERE key = ?", ["1795000000.M999999P0.larkspur"]
        ).fetchone()
    assert row[0] == "failed"
    assert "only 520 bytes long" in row[1]


def test_full_text_search_finds_campaign(investigated: AirService) -> None:
    from air_tui.store import messages

    hits = messages.search(investigated.store, "Alfândega")
    assert len(hits) >= 3
    assert all("Alfândega" in hit["subject"] for hit in hits)
    assert messages.search(investigated.store, 'weird "quote') == []


def test_first_contact_sender_noted(investigated: AirService) -> None:
    notes = []
    for investigation in investigated.investigations():
        if investigation.playbook != Playbook.USER_REPORTED.value:
            continue
        detail = investigated.investigation_detail(investigation.id)
        sender = next(e for e in detail.entities if e.kind is EntityKind.SENDER)
        earlier = sender.attributes.get("earlier_messages")
        first_contact = any(item.rule == "sender.first_contact" and "first contact" in item.text for item in sender.evidence)
        assert first_contact == (earlier == 0), sender.label
        notes.append(earlier)
    assert 0 in notes, "campaign senders are new to the tenant"
    assert any(count and count > 0 for count in notes), "the partner newsletter has been seen before"


def test_report_sent_as_attachment_investigates_the_attached_email(workspace: Workspace) -> None:
    phish = (REPOSITORY_CORPUS / "spamassassin" / "phishing-openphish.eml").read_bytes()
    boundary = "report-boundary-1"
    wrapper = (
        "Authentication-Results: mx.larkspur.example; spf=pass smtp.mailfrom=larkspur.example; dkim=pass header.d=larkspur.example; dmarc=pass header.from=larkspur.example\r\n"
        "From: Noah Bakker <noah.bakker@larkspur.example>\r\n"
        "To: phish-reports@larkspur.example\r\n"
        "Subject: Phishing report: please check\r\n"
        "Date: Mon, 30 Nov 2026 08:55:00 +0100\r\n"
        "Message-ID: <report-1@larkspur.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis looks like phishing.\r\n"
        f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"suspect.eml\"\r\n\r\n"
    ).encode() + phish + f"\r\n--{boundary}--\r\n".encode()
    mailbox = workspace.tenant_dir / "mailboxes" / "noah.bakker@larkspur.example" / "Inbox" / "cur"
    key = "1795000100.M1P0.larkspur"
    (mailbox / f"{key}:2,S").write_bytes(wrapper)
    with (workspace.tenant_dir / "activity" / "submissions.jsonl").open("a") as handle:
        handle.write(
            json.dumps(
                {"id": "sub-wrap", "time": "2026-11-30T08:56:00Z", "reporter": "noah.bakker@larkspur.example", "report_type": "Phish",
                 "mailbox": "noah.bakker@larkspur.example", "key": key, "internet_message_id": "<report-1@larkspur.example>"}
            )
            + "\n"
        )
    with make_service(workspace) as service:
        service.investigate()
        detail = investigation_for(service, "sub-wrap")
        # Reports within a minute fold into one alert, so pick the email under this report.
        message = next(entity for entity in detail.entities if entity.kind is EntityKind.MESSAGE and entity.parent_id == "submission:sub-wrap")
        # The attached email opens in the message view like any indexed one.
        opened = service.message(message.key)
        assert opened is not None
        assert opened.subject == message.label
        assert service.message(message.key + "/9") is None
    sender = next(entity for entity in detail.entities if entity.kind is EntityKind.SENDER and entity.parent_id == message.id)
    # The attached email is the one investigated: its sender, not the reporter, is the sender entity.
    assert sender.key != "noah.bakker@larkspur.example"
    assert message.label != "Phishing report: please check"
    assert any(item.source == "Report unwrapping" and "noah.bakker@larkspur.example" in item.text for item in message.evidence)
    assert message.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS)


def test_mail_added_later_is_indexed_and_investigated(investigated: AirService, workspace: Workspace) -> None:
    before = investigated.store.db["messages"].count
    assert investigated.ingest() is None, "nothing new, nothing parsed"
    phish = (REPOSITORY_CORPUS / "spamassassin" / "phishing-openphish.eml").read_bytes()
    key = "1795000200.M1P0.larkspur"
    mailbox = workspace.tenant_dir / "mailboxes" / "emily.carter@larkspur.example" / "Inbox" / "cur"
    (mailbox / f"{key}:2,").write_bytes(phish)
    with (workspace.tenant_dir / "activity" / "submissions.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "sub-late", "time": "2026-11-30T09:10:00Z", "reporter": "emily.carter@larkspur.example",
                                 "report_type": "Phish", "mailbox": "emily.carter@larkspur.example", "key": key}) + "\n")
    summary = investigated.investigate()
    assert summary is not None
    assert summary.total == 1, "only the new message is parsed"
    assert investigated.store.db["messages"].count == before + 1
    detail = investigation_for(investigated, "sub-late")
    message = next(entity for entity in detail.entities if entity.kind is EntityKind.MESSAGE)
    assert message.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS)
    assert detail.investigation.status_reason != "The reported message is no longer in the tenant."


def test_other_shortener_click_not_blamed(investigated: AirService) -> None:
    opened = [
        item.text
        for investigation in investigated.investigations()
        for entity in investigated.investigation_detail(investigation.id).entities
        if entity.kind is EntityKind.MAILBOX
        for item in entity.evidence
        if item.text.startswith("Opened the malicious URL")
    ]
    # t.co/noqm4SZyTz is listed. Another t.co link is no evidence about its own destination.
    assert not [text for text in opened if "t.co/" in text and "noqm4SZyTz" not in text]
