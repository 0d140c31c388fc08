"""Projections: the tables the panes read, derived from ledger events.

Writes here use plain SQL on the open connection, because sqlite-utils' table helpers commit
on their own and would split the ledger transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlite_utils

from air_tui.domain.event import Event, EventType
from air_tui.domain.action import AUTOMATION
from air_tui.domain.vocab import ActionPhase, ActionSource, ActionStatus, AlertStatus, DecisionKind, TargetResult


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def upsert(db: sqlite_utils.Database, table: str, row: dict[str, Any]) -> None:
    columns = ", ".join(f'"{name}"' for name in row)
    placeholders = ", ".join(f":{name}" for name in row)
    db.conn.execute(f'INSERT OR REPLACE INTO "{table}" ({columns}) VALUES ({placeholders})', row)


def _alert_raised(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    alert = payload["alert"]
    upsert(
        db,
        "alerts",
        {
            "id": alert["id"],
            "policy_id": alert["policy_id"],
            "title": alert["title"],
            "severity": alert["severity"],
            "status": alert.get("status", AlertStatus.NEW.value),
            "created": alert["created"],
            "occurred": alert["occurred"],
            "subject": alert.get("subject", ""),
            "user": alert.get("user", ""),
            "source_ids": _json(alert.get("source_ids", [])),
            "message_ids": _json(alert.get("message_ids", [])),
            "investigation_id": alert.get("investigation_id", ""),
            "hit_count": alert.get("hit_count", 1),
            "last_occurred": alert.get("last_occurred") or alert["occurred"],
            "urls": _json(alert.get("urls", [])),
            "file_hashes": _json(alert.get("file_hashes", [])),
            "users": _json(alert.get("users", [])),
            "details": alert.get("details", ""),
            "triggered_by": alert.get("triggered_by", ""),
            "incident_id": alert.get("incident_id", ""),
        },
    )


def _alert_folded(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    db.conn.execute(
        "UPDATE alerts SET hit_count = :hit_count, last_occurred = :last_occurred, source_ids = :source_ids, "
        "message_ids = :message_ids, urls = :urls, file_hashes = :file_hashes, users = :users, details = :details, "
        "subject = CASE WHEN subject = '' THEN :subject ELSE subject END WHERE id = :id",
        {
            "id": payload["alert_id"],
            "hit_count": payload["hit_count"],
            "last_occurred": payload["last_occurred"],
            "source_ids": _json(payload.get("source_ids", [])),
            "message_ids": _json(payload.get("message_ids", [])),
            "urls": _json(payload.get("urls", [])),
            "file_hashes": _json(payload.get("file_hashes", [])),
            "users": _json(payload.get("users", [])),
            "details": payload.get("details", ""),
            "subject": payload.get("subject", ""),
        },
    )


def _alert_resolved(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    db.conn.execute("UPDATE alerts SET status = ? WHERE id = ?", [AlertStatus.RESOLVED.value, payload["alert_id"]])


def _incident_changed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    incident = payload["incident"]
    upsert(
        db,
        "incidents",
        {
            "id": incident["id"],
            "title": incident["title"],
            "severity": incident["severity"],
            "status": incident["status"],
            "created": incident["created"],
            "updated": incident["updated"],
            "assigned_to": incident.get("assigned_to", ""),
            "alert_ids": _json(incident.get("alert_ids", [])),
            "entity_keys": _json(incident.get("entity_keys", [])),
            "redirect_id": incident.get("redirect_id", ""),
        },
    )
    # A redirected incident keeps its alert list for the record; the alerts point at the survivor.
    if incident["status"] != "Redirected":
        alert_ids = incident.get("alert_ids", [])
        for start in range(0, len(alert_ids), 500):
            chunk = alert_ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            db.conn.execute(f"UPDATE alerts SET incident_id = ? WHERE id IN ({marks})", [incident["id"], *chunk])
            db.conn.execute(f"UPDATE investigations SET incident_id = ? WHERE alert_id IN ({marks})", [incident["id"], *chunk])


def _message_removed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    removal = payload["removal"]
    upsert(
        db,
        "removals",
        {
            "message_id": removal["message_id"],
            "mailbox": removal["mailbox"],
            "policy_id": removal["policy_id"],
            "threat": removal["threat"],
            "reason": removal["reason"],
            "from_folder": removal["from_folder"],
            "to_folder": removal["to_folder"],
            "result": removal["result"],
            "error": removal.get("error", ""),
            "time": removal["time"],
        },
    )
    if removal["result"] == "Succeeded":
        db.conn.execute(
            "UPDATE messages SET folder = ?, path = COALESCE(NULLIF(?, ''), path) WHERE id = ?",
            [removal["to_folder"], removal.get("new_path", ""), removal["message_id"]],
        )
    _record_verdict(db, removal["message_id"], "Malicious", "Removal after delivery", "", removal["time"])


_VERDICT_RANK_SQL = "CASE {column} WHEN 'Malicious' THEN 3 WHEN 'Suspicious' THEN 2 WHEN 'Unknown' THEN 1 ELSE 0 END"


def _record_verdict(db: sqlite_utils.Database, message_id: str, verdict: str, source: str, investigation_id: str, time: str, *, worst: bool = False) -> None:
    """Keep each message's verdict for the explorer: the latest judgement of the message itself,
    or with `worst` (cluster members) only a verdict more severe than the one it has."""
    condition = ""
    if worst:
        condition = f" WHERE {_VERDICT_RANK_SQL.format(column='excluded.verdict')} > {_VERDICT_RANK_SQL.format(column='message_verdicts.verdict')}"
    db.conn.execute(
        "INSERT INTO message_verdicts (message_id, verdict, source, investigation_id, time) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(message_id) DO UPDATE SET verdict = excluded.verdict, source = excluded.source, "
        f"investigation_id = excluded.investigation_id, time = excluded.time{condition}",
        [message_id, verdict, source, investigation_id, time],
    )


def _investigation_started(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    investigation = payload["investigation"]
    upsert(
        db,
        "investigations",
        {
            "id": investigation["id"],
            "alert_id": investigation["alert_id"],
            "playbook": investigation["playbook"],
            "title": investigation["title"],
            "status": investigation["status"],
            "status_reason": investigation.get("status_reason", ""),
            "created": investigation["created"],
            "started": investigation.get("started") or "",
            "ended": investigation.get("ended") or "",
            "alert_ids": _json(investigation.get("alert_ids") or [investigation["alert_id"]]),
            "incident_id": investigation.get("incident_id", ""),
            "queued": "",
            "pending_since": "",
            "pending_seconds": 0,
            "runs": 0,
        },
    )
    db.conn.execute(
        "UPDATE alerts SET investigation_id = ?, status = ? WHERE id = ?",
        [investigation["id"], AlertStatus.IN_PROGRESS.value, investigation["alert_id"]],
    )
    upsert(
        db,
        "investigation_status_history",
        {
            "event_id": f"{investigation['id']}:created",
            "investigation_id": investigation["id"],
            "time": investigation["created"],
            "status": investigation["status"],
            "reason": "The alert started the investigation.",
            "actor": "system",
        },
    )


def _scope_widened(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    row = db.conn.execute("SELECT alert_ids FROM investigations WHERE id = ?", [payload["investigation_id"]]).fetchone()
    if row is None:
        return
    alert_ids = json.loads(row[0] or "[]")
    if payload["alert_id"] not in alert_ids:
        alert_ids.append(payload["alert_id"])
    db.conn.execute("UPDATE investigations SET alert_ids = ? WHERE id = ?", [_json(alert_ids), payload["investigation_id"]])
    db.conn.execute(
        "UPDATE alerts SET investigation_id = ?, status = ? WHERE id = ?",
        [payload["investigation_id"], AlertStatus.IN_PROGRESS.value, payload["alert_id"]],
    )


_WAITING_FOR_APPROVAL = ("Pending action", "Partially remediated")


def _status_changed(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    investigation_id = payload["investigation_id"]
    status = payload["status"]
    row = db.conn.execute("SELECT status, pending_since, pending_seconds, runs FROM investigations WHERE id = ?", [investigation_id]).fetchone()
    if row is None:
        return
    previous, pending_since, pending_seconds, runs = row[0], row[1] or "", int(row[2] or 0), int(row[3] or 0)
    time = event.time.isoformat()
    # Time waiting for approval adds up over every wait, so a rerun that waits again counts both.
    if status in _WAITING_FOR_APPROVAL and not pending_since:
        pending_since = time
    elif status not in _WAITING_FOR_APPROVAL and pending_since:
        pending_seconds += max(0, int((event.time - datetime.fromisoformat(pending_since)).total_seconds()))
        pending_since = ""
    if status == "Running" and previous != "Running":
        runs += 1
    db.conn.execute(
        "UPDATE investigations SET pending_since = ?, pending_seconds = ?, runs = ?, "
        "queued = CASE WHEN ? = 'Queued by throttling' AND queued = '' THEN ? ELSE queued END WHERE id = ?",
        [pending_since, pending_seconds, runs, status, time, investigation_id],
    )
    upsert(
        db,
        "investigation_status_history",
        {"event_id": event.id, "investigation_id": investigation_id, "time": time, "status": status, "reason": payload.get("reason", ""), "actor": event.actor},
    )
    db.conn.execute(
        "UPDATE investigations SET status = :status, status_reason = :reason, "
        "started = CASE WHEN :started != '' THEN :started ELSE started END, "
        "ended = CASE WHEN :ended != '' THEN :ended ELSE ended END WHERE id = :id",
        {
            "id": payload["investigation_id"],
            "status": payload["status"],
            "reason": payload.get("reason", ""),
            "started": payload.get("started") or "",
            "ended": payload.get("ended") or "",
        },
    )
    if payload.get("ended"):
        db.conn.execute(
            "UPDATE alerts SET status = ? WHERE investigation_id = ?",
            [AlertStatus.RESOLVED.value, payload["investigation_id"]],
        )


def _step_logged(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    step = payload["step"]
    position = payload["position"]
    # Two consoles may each log a line (a decision, say) at the same next position before they
    # sync. The line that comes later in clock order goes to the end instead of replacing the
    # other, and every console applies them in that order, so all show the same log.
    taken = db.conn.execute(
        "SELECT 1 FROM investigation_log WHERE investigation_id = ? AND position = ?", [payload["investigation_id"], position]
    ).fetchone()
    if taken:
        row = db.conn.execute("SELECT MAX(position) FROM investigation_log WHERE investigation_id = ?", [payload["investigation_id"]]).fetchone()
        position = int(row[0]) + 1
    upsert(
        db,
        "investigation_log",
        {
            "investigation_id": payload["investigation_id"],
            "position": position,
            "name": step["name"],
            "started": step["started"],
            "duration_ms": step["duration_ms"],
            "outcome": step["outcome"],
            "summary": step.get("summary", ""),
            "entities_touched": step.get("entities_touched", 0),
        },
    )


def _findings_recorded(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    investigation_id = payload["investigation_id"]
    # A rerun after the scope widened records everything it found again: the new set replaces the old.
    db.conn.execute("DELETE FROM entities WHERE investigation_id = ?", [investigation_id])
    db.conn.execute("DELETE FROM clusters WHERE investigation_id = ?", [investigation_id])
    time = event.time.isoformat()
    for entity in payload.get("entities", []):
        if entity["kind"] == "message" and entity["verdict"] != "Unknown":
            _record_verdict(db, entity["key"], entity["verdict"], "Investigation", investigation_id, time)
    for cluster in payload.get("clusters", []):
        if cluster["verdict"] in ("Malicious", "Suspicious"):
            for message_id in cluster.get("message_ids", []):
                _record_verdict(db, message_id, cluster["verdict"], "Cluster", investigation_id, time, worst=True)
    for position, entity in enumerate(payload.get("entities", [])):
        upsert(
            db,
            "entities",
            {
                "investigation_id": investigation_id,
                "id": entity["id"],
                "kind": entity["kind"],
                "key": entity["key"],
                "label": entity["label"],
                "verdict": entity["verdict"],
                "threats": _json(entity.get("threats", [])),
                "evidence": _json(entity.get("evidence", [])),
                "parent_id": entity.get("parent_id", ""),
                "attributes": _json(entity.get("attributes", {})),
                "position": position,
            },
        )
    for cluster in payload.get("clusters", []):
        upsert(
            db,
            "clusters",
            {
                "investigation_id": investigation_id,
                "id": cluster["id"],
                "cluster_by": cluster["cluster_by"],
                "value": cluster["value"],
                "verdict": cluster["verdict"],
                "threats": _json(cluster.get("threats", [])),
                "message_ids": _json(cluster.get("message_ids", [])),
                "counts_by_folder": _json(cluster.get("counts_by_folder", {})),
                "mailboxes": _json(cluster.get("mailboxes", [])),
            },
        )


def _action_proposed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    action = payload["action"]
    targets = action.get("targets", [])
    upsert(
        db,
        "actions",
        {
            "id": action["id"],
            "investigation_id": action.get("investigation_id", ""),
            "action_type": action["action_type"],
            "status": action.get("status", ActionStatus.PENDING.value),
            "created": action["created"],
            "cluster_id": action.get("cluster_id", ""),
            "title": action["title"],
            "targets": _json(targets),
            "message_count": len(targets),
            "mailbox_count": len({target["mailbox"] for target in targets}),
            "overlap_count": action.get("overlap_count", 0),
            "decided_by": "",
            "decided_at": "",
            "comment": "",
            "setting": _json(action["setting"]) if action.get("setting") else "",
            "block": _json(action["block"]) if action.get("block") else "",
            "user_address": action.get("user", ""),
            "investigate": _json(action["investigate"]) if action.get("investigate") else "",
            "source": action.get("source", ActionSource.AUTOMATED.value),
            "proposed_by": action.get("proposed_by", AUTOMATION),
            "phase": ActionPhase.DO.value,
            "attempt": 0,
            "executor": "",
            "incident_id": action.get("incident_id", ""),
            "parameters": "",
        },
    )


def _apply_parameters(db: sqlite_utils.Database, action_id: str, parameters: dict[str, Any]) -> None:
    """Write an approver's changes into the action: its type, or its block entry's expiry."""
    if "action_type" in parameters:
        db.conn.execute("UPDATE actions SET action_type = ? WHERE id = ?", [parameters["action_type"], action_id])
    if "expires" in parameters:
        row = db.conn.execute("SELECT block FROM actions WHERE id = ?", [action_id]).fetchone()
        if row and row[0]:
            block = json.loads(row[0])
            block["expires"] = parameters["expires"] or None
            db.conn.execute("UPDATE actions SET block = ? WHERE id = ?", [_json(block), action_id])
    db.conn.execute("UPDATE actions SET parameters = ? WHERE id = ?", [_json(parameters), action_id])


def _parameters_changed(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    _apply_parameters(db, payload["action_id"], payload.get("parameters", {}))
    db.conn.execute("UPDATE actions SET proposed_by = ? WHERE id = ?", [event.actor, payload["action_id"]])


def _action_decided(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    decision = payload["decision"]
    action_id = decision["action_id"]
    upsert(
        db,
        "decisions",
        {
            "event_id": event.id,
            "action_id": action_id,
            "kind": decision["kind"],
            "analyst": decision["analyst"],
            "time": decision["time"],
            "comment": decision.get("comment", ""),
            "parameters": _json(decision.get("parameters") or {}),
            "batch_id": decision.get("batch_id", ""),
        },
    )
    kind = decision["kind"]
    if kind == DecisionKind.REJECTED.value:
        status, phase = ActionStatus.REJECTED, ActionPhase.DO
    elif kind == DecisionKind.UNDO.value:
        status, phase = ActionStatus.APPROVED, ActionPhase.UNDO
    else:
        status, phase = ActionStatus.APPROVED, None
    if kind == DecisionKind.RETRY.value:
        # A retry runs the failed targets of the phase that failed again; their old rows go, the
        # ledger keeps them.
        row = db.conn.execute("SELECT phase FROM actions WHERE id = ?", [action_id]).fetchone()
        table = "action_undo_results" if row and row[0] == ActionPhase.UNDO.value else "action_results"
        db.conn.execute(f"DELETE FROM {table} WHERE action_id = ? AND result = ?", [action_id, TargetResult.FAILED.value])
    if decision.get("parameters"):
        _apply_parameters(db, action_id, decision["parameters"])
    db.conn.execute(
        "UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, comment = ?, attempt = attempt + ?, "
        "phase = COALESCE(?, phase) WHERE id = ?",
        [
            status.value,
            decision["analyst"],
            decision["time"],
            decision.get("comment", ""),
            0 if kind == DecisionKind.REJECTED.value else 1,
            phase.value if phase else None,
            action_id,
        ],
    )


def _execution_started(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    db.conn.execute(
        "UPDATE actions SET status = ?, phase = ?, executor = ? WHERE id = ?",
        [ActionStatus.RUNNING.value, payload.get("phase", ActionPhase.DO.value), _json(payload.get("executor", {})), payload["action_id"]],
    )


def _targets_started(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    for target in payload.get("targets", []):
        upsert(
            db,
            "action_intents",
            {
                "action_id": payload["action_id"],
                "target_id": target["target_id"],
                "phase": payload.get("phase", ActionPhase.DO.value),
                "attempt": payload.get("attempt", 1),
                "mailbox": target.get("mailbox", ""),
                "from_folder": target.get("from_folder", ""),
                "destination": target.get("destination") or "",
                "time": event.time.isoformat(),
            },
        )


def _target_executed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    result = payload["result"]
    phase = result.get("phase", ActionPhase.DO.value)
    upsert(
        db,
        "action_undo_results" if phase == ActionPhase.UNDO.value else "action_results",
        {
            "action_id": result["action_id"],
            "message_id": result["message_id"],
            "mailbox": result["mailbox"],
            "result": result["result"],
            "from_folder": result.get("from_folder", ""),
            "to_folder": result.get("to_folder", ""),
            "error": result.get("error", ""),
            "time": result["time"],
            "note": result.get("note", ""),
            "detail": _json(payload.get("detail") or {}),
        },
    )
    db.conn.execute(
        "UPDATE actions SET status = ? WHERE id = ? AND status = ?",
        [ActionStatus.RUNNING.value, result["action_id"], ActionStatus.APPROVED.value],
    )
    if result["result"] == TargetResult.SUCCEEDED.value:
        # The message index follows the message, so clusters re-checked later see where it is now.
        # A purge leaves to_folder empty; the row stays, marked as in no folder.
        db.conn.execute(
            "UPDATE messages SET folder = ?, key = COALESCE(NULLIF(?, ''), key), path = COALESCE(NULLIF(?, ''), path) WHERE id = ?",
            [result.get("to_folder", ""), result.get("new_key", ""), result.get("new_path", ""), result["message_id"]],
        )


def _action_completed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    status = payload["status"]
    if payload.get("phase") == ActionPhase.UNDO.value and status == ActionStatus.COMPLETED.value:
        status = ActionStatus.UNDONE.value
    db.conn.execute("UPDATE actions SET status = ?, executor = '' WHERE id = ?", [status, payload["action_id"]])


def _action_closed(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    db.conn.execute(
        "UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ? AND status = ?",
        [payload["status"], event.actor, event.time.isoformat(), payload.get("reason", ""), payload["action_id"], ActionStatus.PENDING.value],
    )


def _block_entry_added(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    entry = payload["entry"]
    upsert(
        db,
        "block_entries",
        {
            "id": entry["id"],
            "kind": entry["kind"],
            "value": entry["value"],
            "expires": entry.get("expires") or "",
            "action_id": entry.get("action_id", ""),
            "added_by": event.actor,
            "added_at": event.time.isoformat(),
            "removed_by": "",
            "removed_at": "",
        },
    )


def _block_entry_removed(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    db.conn.execute(
        "UPDATE block_entries SET removed_by = ?, removed_at = ? WHERE id = ?",
        [event.actor, event.time.isoformat(), payload["entry_id"]],
    )


def _message_blocked(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    upsert(
        db,
        "blocked_messages",
        {
            "message_id": payload["message_id"],
            "entry_id": payload["entry_id"],
            "mailbox": payload.get("mailbox", ""),
            "from_folder": payload.get("from_folder", ""),
            "to_folder": payload.get("to_folder", ""),
            "result": payload["result"],
            "error": payload.get("error", ""),
            "time": event.time.isoformat(),
        },
    )
    if payload["result"] == TargetResult.SUCCEEDED.value:
        db.conn.execute(
            "UPDATE messages SET folder = ?, path = COALESCE(NULLIF(?, ''), path) WHERE id = ?",
            [payload.get("to_folder", ""), payload.get("new_path", ""), payload["message_id"]],
        )


_HANDLERS: dict[EventType, Callable[[sqlite_utils.Database, dict[str, Any]], None]] = {
    EventType.ALERT_RAISED: _alert_raised,
    EventType.ALERT_FOLDED: _alert_folded,
    EventType.ALERT_RESOLVED: _alert_resolved,
    EventType.INCIDENT_CREATED: _incident_changed,
    EventType.INCIDENT_CHANGED: _incident_changed,
    EventType.MESSAGE_REMOVED: _message_removed,
    EventType.INVESTIGATION_STARTED: _investigation_started,
    EventType.INVESTIGATION_SCOPE_WIDENED: _scope_widened,
    EventType.INVESTIGATION_STEP_LOGGED: _step_logged,
    EventType.ACTION_PROPOSED: _action_proposed,
    EventType.ACTION_EXECUTION_STARTED: _execution_started,
    EventType.ACTION_TARGET_EXECUTED: _target_executed,
    EventType.ACTION_COMPLETED: _action_completed,
}

# Handlers that also need the event's id, actor or time.
_EVENT_HANDLERS: dict[EventType, Callable[[sqlite_utils.Database, dict[str, Any], Event], None]] = {
    EventType.ACTION_DECIDED: _action_decided,
    EventType.ACTION_CLOSED: _action_closed,
    EventType.ACTION_PARAMETERS_CHANGED: _parameters_changed,
    EventType.ACTION_TARGETS_STARTED: _targets_started,
    EventType.BLOCK_ENTRY_ADDED: _block_entry_added,
    EventType.BLOCK_ENTRY_REMOVED: _block_entry_removed,
    EventType.MESSAGE_BLOCKED: _message_blocked,
    EventType.INVESTIGATION_STATUS_CHANGED: _status_changed,
    EventType.INVESTIGATION_FINDINGS_RECORDED: _findings_recorded,
}


def apply_event(db: sqlite_utils.Database, event: Event) -> None:
    """Update the projections for one event. Events without a projection change nothing."""
    with_event = _EVENT_HANDLERS.get(event.type)
    if with_event is not None:
        with_event(db, event.payload, event)
        return
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(db, event.payload)
