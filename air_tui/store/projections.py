"""Projections: the tables the panes read, derived from ledger events.

Writes here use plain SQL on the open connection, because sqlite-utils' table helpers commit
on their own and would split the ledger transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
            "investigation_id": "",
        },
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
        },
    )
    db.conn.execute(
        "UPDATE alerts SET investigation_id = ?, status = ? WHERE id = ?",
        [investigation["id"], AlertStatus.IN_PROGRESS.value, investigation["alert_id"]],
    )


def _status_changed(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
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


def _findings_recorded(db: sqlite_utils.Database, payload: dict[str, Any]) -> None:
    investigation_id = payload["investigation_id"]
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


_HANDLERS: dict[EventType, Callable[[sqlite_utils.Database, dict[str, Any]], None]] = {
    EventType.ALERT_RAISED: _alert_raised,
    EventType.INVESTIGATION_STARTED: _investigation_started,
    EventType.INVESTIGATION_STATUS_CHANGED: _status_changed,
    EventType.INVESTIGATION_STEP_LOGGED: _step_logged,
    EventType.INVESTIGATION_FINDINGS_RECORDED: _findings_recorded,
    EventType.ACTION_PROPOSED: _action_proposed,
    EventType.ACTION_TARGET_EXECUTED: _target_executed,
    EventType.ACTION_COMPLETED: _action_completed,
}


def apply_event(db: sqlite_utils.Database, event: Event) -> None:
    """Update the projections for one event. Events without a projection change nothing."""
    if event.type is EventType.ACTION_DECIDED:
        _action_decided(db, event.payload, event)
        return
    handler = _HANDLERS.get(event.type)
    if handler is not None:
        handler(db, event.payload)
