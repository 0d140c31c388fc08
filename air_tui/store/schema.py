"""Table definitions. Bump SCHEMA_VERSION whenever a table changes shape."""

from __future__ import annotations

import sqlite_utils

SCHEMA_VERSION = 6

_RESULT_COLUMNS: dict[str, type] = {
    "action_id": str,
    "message_id": str,
    "mailbox": str,
    "result": str,
    "from_folder": str,
    "to_folder": str,
    "error": str,
    "time": str,
    "note": str,
    "detail": str,
}
"""One target's latest result: `message_id` is the message, or a setting's, account's or entry's id."""

_TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "events": (
        {
            "seq": int,
            "id": str,
            "type": str,
            "actor": str,
            "time": str,
            "payload": str,
            "prev_hash": str,
            "hash": str,
            # Projections apply events in (clock, id) order on every console: a Lamport clock
            # that is higher than every event this console knew when it appended, so the order
            # respects cause and effect and is the same wherever the events arrive.
            "clock": int,
            # The console that created the event: empty for this one, its sync replica id otherwise.
            "origin": str,
        },
        "seq",
    ),
    "messages": (
        {
            "id": str,
            "mailbox": str,
            "folder": str,
            "key": str,
            "path": str,
            "internet_message_id": str,
            "sha256": str,
            "size": int,
            "subject": str,
            "sender_address": str,
            "sender_name": str,
            "sender_domain": str,
            "return_path": str,
            "reply_to": str,
            "recipients": str,
            "date": str,
            "received_at": str,
            "sender_ip": str,
            "auth_results": str,
            "dkim_domains": str,
            "body_fingerprint": str,
            "attached_messages": str,
            "urls": str,
            "attachments": str,
            "body_text": str,
            "parse_status": str,
            "parse_warnings": str,
            "parse_error": str,
        },
        "id",
    ),
    "message_urls": (
        {"message_id": str, "url": str, "host": str, "registrable_domain": str},
        ("message_id", "url"),
    ),
    "message_attachments": (
        {"message_id": str, "sha256": str, "filename": str, "extension": str},
        ("message_id", "sha256"),
    ),
    "alerts": (
        {
            "id": str,
            "policy_id": str,
            "title": str,
            "severity": str,
            "status": str,
            "created": str,
            "occurred": str,
            "subject": str,
            "user": str,
            "source_ids": str,
            "message_ids": str,
            "investigation_id": str,
            "hit_count": int,
            "last_occurred": str,
            "urls": str,
            "file_hashes": str,
            "users": str,
            "details": str,
            "triggered_by": str,
            "incident_id": str,
        },
        "id",
    ),
    "incidents": (
        {
            "id": str,
            "title": str,
            "severity": str,
            "status": str,
            "created": str,
            "updated": str,
            "assigned_to": str,
            "alert_ids": str,
            "entity_keys": str,
            "redirect_id": str,
        },
        "id",
    ),
    "investigations": (
        {
            "id": str,
            "alert_id": str,
            "playbook": str,
            "title": str,
            "status": str,
            "status_reason": str,
            "created": str,
            "started": str,
            "ended": str,
            "alert_ids": str,
            "incident_id": str,
            "queued": str,
            "pending_since": str,
            "pending_seconds": int,
            "runs": int,
        },
        "id",
    ),
    "investigation_status_history": (
        {
            "event_id": str,
            "investigation_id": str,
            "time": str,
            "status": str,
            "reason": str,
            "actor": str,
        },
        "event_id",
    ),
    "entities": (
        {
            "investigation_id": str,
            "id": str,
            "kind": str,
            "key": str,
            "label": str,
            "verdict": str,
            "threats": str,
            "evidence": str,
            "parent_id": str,
            "attributes": str,
            "position": int,
        },
        ("investigation_id", "id"),
    ),
    "clusters": (
        {
            "investigation_id": str,
            "id": str,
            "cluster_by": str,
            "value": str,
            "verdict": str,
            "threats": str,
            "message_ids": str,
            "counts_by_folder": str,
            "mailboxes": str,
        },
        ("investigation_id", "id"),
    ),
    "investigation_log": (
        {
            "investigation_id": str,
            "position": int,
            "name": str,
            "started": str,
            "duration_ms": int,
            "outcome": str,
            "summary": str,
            "entities_touched": int,
        },
        ("investigation_id", "position"),
    ),
    "actions": (
        {
            "id": str,
            "investigation_id": str,
            "action_type": str,
            "status": str,
            "created": str,
            "cluster_id": str,
            "title": str,
            "targets": str,
            "message_count": int,
            "mailbox_count": int,
            "overlap_count": int,
            "decided_by": str,
            "decided_at": str,
            "comment": str,
            "setting": str,
            "block": str,
            "user_address": str,
            "investigate": str,
            "source": str,
            "proposed_by": str,
            "phase": str,
            "attempt": int,
            "executor": str,
            "incident_id": str,
            "parameters": str,
        },
        "id",
    ),
    "decisions": (
        {
            "event_id": str,
            "action_id": str,
            "kind": str,
            "analyst": str,
            "time": str,
            "comment": str,
            "parameters": str,
            "batch_id": str,
        },
        "event_id",
    ),
    "action_results": (_RESULT_COLUMNS, ("action_id", "message_id")),
    # The same for undo runs: each target's result of moving back or restoring.
    "action_undo_results": (_RESULT_COLUMNS, ("action_id", "message_id")),
    # The executor's intent, recorded before each target is touched: where the target was and
    # where it goes, so a run interrupted after the change still has the folder it came from.
    "action_intents": (
        {
            "action_id": str,
            "target_id": str,
            "phase": str,
            "attempt": int,
            "mailbox": str,
            "from_folder": str,
            "destination": str,
            "time": str,
        },
        ("action_id", "target_id", "phase"),
    ),
    # The tenant block list: entries added by approved block actions, removed by their undo.
    "block_entries": (
        {
            "id": str,
            "kind": str,
            "value": str,
            "expires": str,
            "action_id": str,
            "added_by": str,
            "added_at": str,
            "removed_by": str,
            "removed_at": str,
        },
        "id",
    ),
    # New mail the block list junked at ingest.
    "blocked_messages": (
        {
            "message_id": str,
            "entry_id": str,
            "mailbox": str,
            "from_folder": str,
            "to_folder": str,
            "result": str,
            "error": str,
            "time": str,
        },
        "message_id",
    ),
    # New mail waiting to be checked against the block list: filled at ingest, emptied when checked.
    # A read-only run leaves it filled, so the next run that may move mail still checks it.
    "block_queue": (
        {"message_id": str},
        "message_id",
    ),
    # The newest event's position and hash, kept beside the ledger so a removed tail is noticed.
    "ledger_head": (
        {"id": int, "seq": int, "hash": str, "count": int},
        "id",
    ),
    # Team sync: this console's replica id, the push high-water mark, the pull checkpoint, the
    # last error. Not a projection: each console keeps its own.
    "sync_state": (
        {"key": str, "value": str},
        "key",
    ),
    # Documents pulled from the sync server that carry no valid event, kept with the reason.
    "sync_rejects": (
        {"doc_id": str, "reason": str, "seen": str},
        "doc_id",
    ),
    # Removal after delivery: one row per message moved (or not) after an intel refresh made it malicious.
    "removals": (
        {
            "message_id": str,
            "mailbox": str,
            "policy_id": str,
            "threat": str,
            "reason": str,
            "from_folder": str,
            "to_folder": str,
            "result": str,
            "error": str,
            "time": str,
        },
        "message_id",
    ),
    # The latest verdict on each message, from investigations and removals, for the explorer.
    "message_verdicts": (
        {"message_id": str, "verdict": str, "source": str, "investigation_id": str, "time": str},
        "message_id",
    ),
    # Threat intelligence --------------------------------------------------------------------
    # Feeds, their indicators and cached online look-ups. Rows are replaced per feed by
    # `air-tui intel refresh` and by the import of the tenant's intel files, not by events.
    "intel_feeds": (
        {
            "name": str,
            "origin": str,
            "location": str,
            "format": str,
            "last_success": str,
            "last_attempt": str,
            "last_error": str,
            "count": int,
            "sha256": str,
            "etag": str,
            "last_modified": str,
            # Invalid lines left out of the stored indicators, and the first of them as a JSON
            # list of {"line", "value", "reason"} objects.
            "skipped": int,
            "skipped_examples": str,
        },
        "name",
    ),
    "intel_indicators": (
        {
            "feed": str,
            "kind": str,
            "indicator": str,
            "threat": str,
            "source": str,
            "added": str,
            "fetched": str,
        },
        ("feed", "kind", "indicator"),
    ),
    "intel_lookup_cache": (
        {
            "service": str,
            "kind": str,
            "indicator": str,
            "checked": str,
            "result": str,
        },
        ("service", "kind", "indicator"),
    ),
    # Similarity index ---------------------------------------------------------------------
    # Keys for near-duplicate clusters, rebuilt with each message's row by `index_messages`.
    # Each message has one row per 16-bit band of its body fingerprint, so look-ups by band
    # find candidates without comparing every body.
    "message_body_bands": (
        {"message_id": str, "band_key": int, "fingerprint": str},
        ("message_id", "band_key"),
    ),
    "message_subjects": (
        {"message_id": str, "subject_key": str, "sender_domain": str, "sender_ip": str},
        "message_id",
    ),
}

PROJECTION_TABLES = (
    "alerts",
    "incidents",
    "investigation_status_history",
    "removals",
    "message_verdicts",
    "investigations",
    "entities",
    "clusters",
    "investigation_log",
    "actions",
    "decisions",
    "action_results",
    "action_undo_results",
    "action_intents",
    "block_entries",
    "blocked_messages",
)


def table_columns(table: str) -> list[str]:
    """The columns a table has in this version, in the order a new database creates them."""
    return list(_TABLES[table][0])


def create_schema(db: sqlite_utils.Database) -> None:
    """Create every table, column and index that is missing.

    Tables only gain columns between versions, so an older database is brought up to date by
    adding what it lacks. The new columns start empty, and the next ingest fills them.
    """
    existing = set(db.table_names())
    for name, (columns, pk) in _TABLES.items():
        if name not in existing:
            db[name].create(columns, pk=pk, not_null={"id"} if "id" in columns and pk == "id" else None)
            continue
        present = db[name].columns_dict
        for column, column_type in columns.items():
            if column not in present:
                db[name].add_column(column, column_type)
    db["events"].create_index(["id"], unique=True, if_not_exists=True)
    db["events"].create_index(["clock", "id"], if_not_exists=True)
    db["messages"].create_index(["mailbox", "folder"], if_not_exists=True)
    db["messages"].create_index(["internet_message_id"], if_not_exists=True)
    db["messages"].create_index(["sender_domain"], if_not_exists=True)
    db["message_urls"].create_index(["url"], if_not_exists=True)
    db["message_urls"].create_index(["registrable_domain"], if_not_exists=True)
    db["message_attachments"].create_index(["sha256"], if_not_exists=True)
    db["alerts"].create_index(["created"], if_not_exists=True)
    db["alerts"].create_index(["occurred"], if_not_exists=True)
    db["alerts"].create_index(["policy_id", "occurred"], if_not_exists=True)
    db["investigation_status_history"].create_index(["investigation_id", "time"], if_not_exists=True)
    db["message_verdicts"].create_index(["verdict"], if_not_exists=True)
    db["actions"].create_index(["status"], if_not_exists=True)
    db["actions"].create_index(["investigation_id"], if_not_exists=True)
    db["decisions"].create_index(["action_id", "time"], if_not_exists=True)
    db["action_results"].create_index(["message_id", "time"], if_not_exists=True)
    db["block_entries"].create_index(["kind", "value"], if_not_exists=True)
    db["intel_indicators"].create_index(["kind", "indicator"], if_not_exists=True)
    # Covering index: a band look-up reads fingerprints without visiting the table.
    db["message_body_bands"].create_index(["band_key", "fingerprint", "message_id"], if_not_exists=True)
    db["message_subjects"].create_index(["subject_key", "sender_domain"], if_not_exists=True)
    db["message_subjects"].create_index(["subject_key", "sender_ip"], if_not_exists=True)
    # Explorer windows: each index gives one term's matches already newest first, so a window
    # is read with LIMIT and OFFSET over the index instead of sorting every match.
    db["messages"].create_index(["received_at"], if_not_exists=True)
    db["messages"].create_index(["sender_address", "received_at"], if_not_exists=True)
    db["messages"].create_index(["sender_domain", "received_at"], if_not_exists=True)
    db["messages"].create_index(["mailbox", "received_at"], if_not_exists=True)
    db["messages"].create_index(["folder", "received_at"], if_not_exists=True)
    db["message_urls"].create_index(["host"], if_not_exists=True)
    # The alert queue's order. The expression must stay identical to the ORDER BY in
    # `air_tui.store.windows`, or SQLite sorts every alert for each window.
    db.execute(
        "CREATE INDEX IF NOT EXISTS idx_alerts_queue_order ON alerts (occurred DESC, "
        "CASE severity WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END, id)"
    )
    if "messages_fts" not in db.table_names():
        db["messages"].enable_fts(
            ["sender_address", "sender_name", "subject", "body_text"],
            create_triggers=True,
            tokenize="unicode61",
        )


MESSAGE_INDEX_TABLES = ("message_urls", "message_attachments", "message_body_bands", "message_subjects", "messages")


def clear_message_index(db: sqlite_utils.Database) -> None:
    """Delete every indexed message and its look-up rows; the ledger and projections stay."""
    present = set(db.table_names())
    for table in MESSAGE_INDEX_TABLES:
        if table in present:
            db.execute(f"DELETE FROM {table}")
