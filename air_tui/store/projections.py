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
from air_tui.domain.vocab import ActionStatus, AlertStatus


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
    upsert(
        db,
        "investigation_log",
        {
            "investigation_id": payload["investigation_id"],
            "position": payload["position"],
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
            "investigation_id": action["investigation_id"],
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
        },
    )


def _action_decided(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    decision = payload["decision"]
    upsert(
        db,
        "decisions",
        {
            "event_id": event.id,
            "action_id": decision["action_id"],
            "kind": decision["kind"],
            "analyst": decision["analyst"],
            "time": decision["time"],
            "comment": decision.get("comment", ""),
        },
    )
    status = ActionStatus.APPROVED if decision["kind"] == "approved" else ActionStatus.REJECTED
    db.conn.execute(
        "UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ?",
        [status.value, decision["analyst"], decision["time"], decision.get("comment", ""), decision["action_id"]],
    )


def _target_executed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    result = payload["result"]
    upsert(
        db,
        "action_results",
        {
            "action_id": result["action_id"],
            "message_id": result["message_id"],
            "mailbox": result["mailbox"],
            "result": result["result"],
            "from_folder": result.get("from_folder", ""),
            "to_folder": result.get("to_folder", ""),
            "error": result.get("error", ""),
            "time": result["time"],
        },
    )
    db.conn.execute(
        "UPDATE actions SET status = ? WHERE id = ? AND status = ?",
        [ActionStatus.RUNNING.value, result["action_id"], ActionStatus.APPROVED.value],
    )
    if result["result"] == "Succeeded":
        # The message index follows the message, so clusters re-checked later see where it is now.
        db.conn.execute(
            "UPDATE messages SET folder = ?, key = COALESCE(NULLIF(?, ''), key), path = COALESCE(NULLIF(?, ''), path) WHERE id = ?",
            [result.get("to_folder", ""), result.get("new_key", ""), result.get("new_path", ""), result["message_id"]],
        )


def _action_completed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    db.conn.execute("UPDATE actions SET status = ? WHERE id = ?", [payload["status"], payload["action_id"]])


def _action_closed(db: sqlite_utils.Database, payload: dict[str, Any], event: Event) -> None:
    db.conn.execute(
        "UPDATE actions SET status = ?, decided_by = ?, decided_at = ?, comment = ? WHERE id = ? AND status = ?",
        [payload["status"], event.actor, event.time.isoformat(), payload.get("reason", ""), payload["action_id"], ActionStatus.PENDING.value],
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
    EventType.ACTION_TARGET_EXECUTED: _target_executed,
    EventType.ACTION_COMPLETED: _action_completed,
}

# Handlers that also need the event's id, actor or time.
_EVENT_HANDLERS: dict[EventType, Callable[[sqlite_utils.Database, dict[str, Any], Event], None]] = {
    EventType.ACTION_DECIDED: _action_decided,
    EventType.ACTION_CLOSED: _action_closed,
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
