"""Read models for the panes and the CLI, built from the projections."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from air_tui.domain.action import Decision, PendingAction
from air_tui.domain.alert import Alert, Incident
from air_tui.domain.investigation import Cluster, Entity, Investigation, LogStep, StatusChange
from air_tui.domain.vocab import IN_MAILBOX_FOLDERS, ActionStatus, EntityKind
from air_tui.store.database import Store
from air_tui.store.messages import locations

_SEVERITY_ORDER = "CASE severity WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END"


@dataclass(frozen=True)
class AlertRow:
    alert: Alert
    investigation_id: str
    investigation_status: str
    """Status of the investigation the alert started, or the alert's own status when none."""


@dataclass(frozen=True)
class ActionRow:
    action: PendingAction
    investigation_title: str
    decided_by: str
    decided_at: str
    comment: str
    attempt: int = 0
    executor: dict[str, Any] = field(default_factory=dict)
    """The process running the action, while it runs: host, pid and start time."""


@dataclass(frozen=True)
class InvestigationDetail:
    investigation: Investigation
    alert: Alert | None
    """The alert that started the investigation."""
    entities: list[Entity]
    clusters: list[Cluster]
    log: list[LogStep]
    actions: list[PendingAction]
    alerts: list[Alert] = field(default_factory=list)
    """Every alert in scope, the starting one first."""
    incident: Incident | None = None
    status_history: list[StatusChange] = field(default_factory=list)
    """Status timeline, oldest first."""
    decisions: dict[str, list[Decision]] = field(default_factory=dict)
    """Decisions by action id, oldest first."""


_ALERT_LISTS = ("source_ids", "message_ids", "urls", "file_hashes", "users")


def alert_from_row(row: dict[str, Any]) -> Alert:
    """Build an alert from its `alerts` row, whose lists are stored as JSON."""
    values = {key: value for key, value in row.items() if value is not None}
    values.update({key: json.loads(row.get(key) or "[]") for key in _ALERT_LISTS})
    values["last_occurred"] = row.get("last_occurred") or None
    values["hit_count"] = row.get("hit_count") or 1
    return Alert.model_validate(values)


def _action(row: dict[str, Any]) -> PendingAction:
    """Build an action from its `actions` row, whose nested parts are stored as JSON."""
    skip = ("user_address", "executor", "parameters", "attempt", "investigation_title", "investigation_incident_id")
    values = {key: value for key, value in row.items() if value is not None and key not in skip}
    for key in ("setting", "block", "investigate"):
        text = row.get(key) or ""
        values[key] = json.loads(text) if text else None
    values["targets"] = json.loads(row.get("targets") or "[]")
    values["user"] = row.get("user_address") or ""
    for key in ("source", "proposed_by", "phase"):
        if not values.get(key):
            values.pop(key, None)
    return PendingAction.model_validate(values)


def _investigation(row: dict[str, Any]) -> Investigation:
    values = {key: value for key, value in row.items() if value is not None}
    values.update(
        {
            "started": row["started"] or None,
            "ended": row["ended"] or None,
            "queued": row.get("queued") or None,
            "pending_since": row.get("pending_since") or None,
            "alert_ids": json.loads(row.get("alert_ids") or "[]"),
        }
    )
    return Investigation.model_validate(values)


def _incident(row: dict[str, Any]) -> Incident:
    return Incident.model_validate(
        {**row, "alert_ids": json.loads(row["alert_ids"] or "[]"), "entity_keys": json.loads(row["entity_keys"] or "[]")}
    )


def alert_queue(store: Store) -> list[AlertRow]:
    """Return every alert, newest activity first, then by severity."""
    rows = store.db.query(
        "SELECT alerts.*, COALESCE(investigations.status, alerts.status) AS investigation_status "
        "FROM alerts LEFT JOIN investigations ON investigations.id = alerts.investigation_id "
        f"ORDER BY alerts.occurred DESC, {_SEVERITY_ORDER}, alerts.id"
    )
    return [
        AlertRow(alert=alert_from_row(row), investigation_id=row["investigation_id"] or "", investigation_status=row["investigation_status"])
        for row in rows
    ]


def investigations(store: Store) -> list[Investigation]:
    return [_investigation(row) for row in store.db.query("SELECT * FROM investigations ORDER BY created, id")]


def investigation_detail(store: Store, investigation_id: str) -> InvestigationDetail | None:
    rows = list(store.db.query("SELECT * FROM investigations WHERE id = ?", [investigation_id]))
    if not rows:
        return None
    investigation = _investigation(rows[0])
    alert_rows = list(store.db.query("SELECT * FROM alerts WHERE id = ?", [investigation.alert_id]))
    entities = [
        Entity.model_validate(
            {
                **row,
                "threats": json.loads(row["threats"]),
                "evidence": json.loads(row["evidence"]),
                "attributes": json.loads(row["attributes"]),
            }
        )
        for row in store.db.query("SELECT * FROM entities WHERE investigation_id = ? ORDER BY position", [investigation_id])
    ]
    clusters = [
        Cluster.model_validate(
            {
                **row,
                "threats": json.loads(row["threats"]),
                "message_ids": json.loads(row["message_ids"]),
                "counts_by_folder": json.loads(row["counts_by_folder"]),
                "mailboxes": json.loads(row["mailboxes"]),
            }
        )
        for row in store.db.query("SELECT * FROM clusters WHERE investigation_id = ? ORDER BY id", [investigation_id])
    ]
    log = [
        LogStep.model_validate(row)
        for row in store.db.query("SELECT * FROM investigation_log WHERE investigation_id = ? ORDER BY position", [investigation_id])
    ]
    actions = [
        _action(row)
        for row in store.db.query("SELECT * FROM actions WHERE investigation_id = ? ORDER BY created, id", [investigation_id])
    ]
    _add_current_cluster_counts(store, entities, clusters)
    scope = investigation.scope_alert_ids()
    by_id = {alert.id: alert for alert in alerts_by_id(store, scope)}
    incident_rows = list(store.db.query("SELECT * FROM incidents WHERE id = ?", [investigation.incident_id])) if investigation.incident_id else []
    history = [
        StatusChange.model_validate(row)
        for row in store.db.query(
            "SELECT time, status, reason, actor FROM investigation_status_history WHERE investigation_id = ? ORDER BY time, rowid",
            [investigation_id],
        )
    ]
    decided: dict[str, list[Decision]] = {}
    for action_row in actions:
        found = decisions(store, action_row.id)
        if found:
            decided[action_row.id] = found
    return InvestigationDetail(
        investigation=investigation,
        alert=alert_from_row(alert_rows[0]) if alert_rows else None,
        entities=entities,
        clusters=clusters,
        log=log,
        actions=actions,
        alerts=[by_id[alert_id] for alert_id in scope if alert_id in by_id],
        incident=_incident(incident_rows[0]) if incident_rows else None,
        status_history=history,
        decisions=decided,
    )


def alerts_by_id(store: Store, alert_ids: list[str]) -> list[Alert]:
    found: list[Alert] = []
    for start in range(0, len(alert_ids), 500):
        chunk = alert_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.extend(alert_from_row(row) for row in store.db.query(f"SELECT * FROM alerts WHERE id IN ({marks})", chunk))
    return found


def incidents(store: Store) -> list[Incident]:
    """Return every incident, the most recently updated first."""
    return [_incident(row) for row in store.db.query("SELECT * FROM incidents ORDER BY updated DESC, id")]


def open_incidents(store: Store) -> list[Incident]:
    return [_incident(row) for row in store.db.query("SELECT * FROM incidents WHERE status = 'Active' ORDER BY created, id")]


def alerts_open_for_folding(store: Store, policy_ids: list[str]) -> list[Alert]:
    """Return the latest alert of each policy whose investigation has not started running, for aggregation."""
    found: list[Alert] = []
    for policy_id in policy_ids:
        rows = list(
            store.db.query(
                "SELECT alerts.* FROM alerts LEFT JOIN investigations ON investigations.id = alerts.investigation_id "
                "WHERE alerts.policy_id = ? AND COALESCE(investigations.status, '') IN ('', 'Starting', 'Queued by throttling') "
                "AND alerts.status != 'Resolved' ORDER BY alerts.occurred DESC LIMIT 1",
                [policy_id],
            )
        )
        found.extend(alert_from_row(row) for row in rows)
    return found


def removals(store: Store) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT * FROM removals ORDER BY time, message_id"))


def _add_current_cluster_counts(store: Store, entities: list[Entity], clusters: list[Cluster]) -> None:
    """Give each cluster entity `in_mailbox_now`: members still in Inbox or Junk Email today.

    Cluster counts are frozen when the investigation runs; the current number shows what
    remediation, or the users, changed since.
    """
    members = {cluster.id: cluster.message_ids for cluster in clusters}
    for entity in entities:
        message_ids = members.get(entity.key)
        if entity.kind is not EntityKind.CLUSTER or message_ids is None:
            continue
        current = locations(store, message_ids)
        entity.attributes["in_mailbox_now"] = sum(1 for _, folder in current.values() if folder in IN_MAILBOX_FOLDERS)


def action_rows(store: Store, *, status: ActionStatus | None = None, investigation_id: str | None = None) -> list[ActionRow]:
    conditions, params = [], []
    if status is not None:
        conditions.append("actions.status = ?")
        params.append(status.value)
    if investigation_id is not None:
        conditions.append("actions.investigation_id = ?")
        params.append(investigation_id)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = store.db.query(
        "SELECT actions.*, COALESCE(investigations.title, '') AS investigation_title, COALESCE(investigations.incident_id, '') AS investigation_incident_id FROM actions "
        f"LEFT JOIN investigations ON investigations.id = actions.investigation_id {where} "
        "ORDER BY actions.created, actions.id",
        params,
    )
    return [_action_row(row) for row in rows]


def _action_row(row: dict[str, Any]) -> ActionRow:
    # Actions a playbook proposed carry no incident of their own: they belong to their investigation's.
    row = {**row, "incident_id": row.get("incident_id") or row.get("investigation_incident_id") or ""}
    return ActionRow(
        action=_action(row),
        investigation_title=row.get("investigation_title") or "",
        decided_by=row["decided_by"] or "",
        decided_at=row["decided_at"] or "",
        comment=row["comment"] or "",
        attempt=int(row.get("attempt") or 0),
        executor=json.loads(row["executor"]) if row.get("executor") else {},
    )


def action_row(store: Store, action_id: str) -> ActionRow | None:
    rows = list(
        store.db.query(
            "SELECT actions.*, COALESCE(investigations.title, '') AS investigation_title, COALESCE(investigations.incident_id, '') AS investigation_incident_id FROM actions "
            "LEFT JOIN investigations ON investigations.id = actions.investigation_id WHERE actions.id = ?",
            [action_id],
        )
    )
    return _action_row(rows[0]) if rows else None


def action(store: Store, action_id: str) -> PendingAction | None:
    rows = list(store.db.query("SELECT * FROM actions WHERE id = ?", [action_id]))
    return _action(rows[0]) if rows else None


def decisions(store: Store, action_id: str) -> list[Decision]:
    return [
        Decision.model_validate({**row, "parameters": json.loads(row.get("parameters") or "{}"), "batch_id": row.get("batch_id") or ""})
        # Ledger order, not time text: times written with and without fractions do not sort as text.
        for row in store.db.query(
            "SELECT decisions.* FROM decisions JOIN events ON events.id = decisions.event_id WHERE action_id = ? ORDER BY events.clock, events.id",
            [action_id],
        )
    ]


def action_results(store: Store, action_id: str, *, undo: bool = False) -> list[dict[str, Any]]:
    """Return each target's latest result of the action's change, or of its undo."""
    table = "action_undo_results" if undo else "action_results"
    return list(store.db.query(f"SELECT * FROM {table} WHERE action_id = ? ORDER BY mailbox, message_id", [action_id]))


def action_intents(store: Store, action_id: str, phase: str) -> dict[str, dict[str, Any]]:
    """Return the executor's recorded intent per target id, for one phase of the action."""
    return {row["target_id"]: row for row in store.db.query("SELECT * FROM action_intents WHERE action_id = ? AND phase = ?", [action_id, phase])}


def block_entries(store: Store, *, active_at: str | None = None) -> list[dict[str, Any]]:
    """Block list entries, newest first; with `active_at`, only those not removed or expired then."""
    if active_at is None:
        return list(store.db.query("SELECT * FROM block_entries ORDER BY added_at DESC, id"))
    return list(
        store.db.query(
            "SELECT * FROM block_entries WHERE removed_at = '' AND (expires = '' OR expires > ?) ORDER BY added_at DESC, id",
            [active_at],
        )
    )


def next_log_position(store: Store, investigation_id: str) -> int:
    row = store.db.execute("SELECT COALESCE(MAX(position), 0) FROM investigation_log WHERE investigation_id = ?", [investigation_id]).fetchone()
    return int(row[0]) + 1


def pending_count(store: Store) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM actions WHERE status = ?", [ActionStatus.PENDING.value]).fetchone()[0])


def verdict_counts(store: Store) -> dict[str, int]:
    """Entities by verdict across every investigation."""
    return {row[0]: row[1] for row in store.db.execute("SELECT verdict, COUNT(*) FROM entities GROUP BY verdict ORDER BY verdict")}


def raised_source_ids(store: Store) -> set[str]:
    found: set[str] = set()
    for (value,) in store.db.execute("SELECT source_ids FROM alerts"):
        found.update(json.loads(value or "[]"))
    return found
