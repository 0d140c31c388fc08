"""The message index: one row per stored copy, with URL and attachment lookups and full-text search.

The index is a catalogue of the mail source, rebuilt by ingest. The ledger records that ingest
ran and every remediation that moved a message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from air_tui.domain.message import EmailMessage
from air_tui.store.database import Store


def _message_row(message: EmailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "mailbox": message.location.mailbox,
        "folder": message.location.folder,
        "key": message.location.key,
        "path": message.location.path,
        "internet_message_id": message.internet_message_id,
        "sha256": message.sha256,
        "size": message.size,
        "subject": message.subject,
        "sender_address": message.sender.address,
        "sender_name": message.sender.display_name,
        "sender_domain": message.sender.domain,
        "return_path": message.return_path,
        "reply_to": json.dumps([a.model_dump() for a in message.reply_to], ensure_ascii=False),
        "recipients": json.dumps([a.model_dump() for a in message.recipients], ensure_ascii=False),
        "date": message.date.isoformat() if message.date else "",
        "received_at": message.received_at.isoformat() if message.received_at else "",
        "sender_ip": message.sender_ip,
        "auth_results": json.dumps([a.model_dump() for a in message.auth_results], ensure_ascii=False),
        "dkim_domains": json.dumps(message.dkim_domains),
        "body_fingerprint": message.body_fingerprint,
        "attached_messages": json.dumps([m.model_dump(mode="json") for m in message.attached_messages], ensure_ascii=False),
        "urls": json.dumps([u.model_dump() for u in message.urls], ensure_ascii=False),
        "attachments": json.dumps([a.model_dump() for a in message.attachments], ensure_ascii=False),
        "body_text": message.body_text,
        "parse_status": message.parse_status.value,
        "parse_warnings": json.dumps(message.parse_warnings, ensure_ascii=False),
        "parse_error": message.parse_error,
    }


def index_messages(store: Store, messages: Iterable[EmailMessage]) -> int:
    """Insert or replace messages in the index in one transaction; return how many."""
    rows: list[dict[str, Any]] = []
    url_rows: list[dict[str, Any]] = []
    attachment_rows: list[dict[str, Any]] = []
    for message in messages:
        rows.append(_message_row(message))
        url_rows.extend(
            {"message_id": message.id, "url": url.url, "host": url.host, "registrable_domain": url.registrable_domain}
            for url in message.urls
        )
        # The destination inside a wrapped link is indexed too, so clusters find every message
        # that leads there, wrapped or not.
        url_rows.extend(
            {"message_id": message.id, "url": url.unwrapped, "host": url.unwrapped_host, "registrable_domain": url.unwrapped_domain}
            for url in message.urls
            if url.unwrapped
        )
        attachment_rows.extend(
            {"message_id": message.id, "sha256": a.sha256, "filename": a.filename, "extension": a.extension}
            for a in message.attachments
            if a.sha256
        )
    db = store.db
    with db.conn:
        ids = [row["id"] for row in rows]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM message_urls WHERE message_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM message_attachments WHERE message_id IN ({marks})", chunk)
        db["messages"].upsert_all(rows, pk="id")
        db["message_urls"].insert_all(url_rows, pk=("message_id", "url"), ignore=True)
        db["message_attachments"].insert_all(attachment_rows, pk=("message_id", "sha256"), ignore=True)
    return len(rows)


def load_message(store: Store, message_id: str) -> EmailMessage | None:
    rows = list(store.db.query("SELECT * FROM messages WHERE id = ?", [message_id]))
    return message_from_row(rows[0]) if rows else None


def message_from_row(row: dict[str, Any]) -> EmailMessage:
    recipients = json.loads(row["recipients"] or "[]")
    return EmailMessage.model_validate(
        {
            "id": row["id"],
            "location": {"mailbox": row["mailbox"], "folder": row["folder"], "key": row["key"], "path": row["path"]},
            "internet_message_id": row["internet_message_id"],
            "sha256": row["sha256"],
            "size": row["size"],
            "subject": row["subject"],
            "sender": {"display_name": row["sender_name"], "address": row["sender_address"]},
            "return_path": row["return_path"],
            "reply_to": json.loads(row["reply_to"] or "[]"),
            "to": recipients,
            "date": row["date"] or None,
            "received_at": row["received_at"] or None,
            "sender_ip": row["sender_ip"],
            "auth_results": json.loads(row["auth_results"] or "[]"),
            "dkim_domains": json.loads(row.get("dkim_domains") or "[]"),
            "body_fingerprint": row.get("body_fingerprint") or "",
            "attached_messages": json.loads(row.get("attached_messages") or "[]"),
            "body_text": row["body_text"],
            "urls": json.loads(row["urls"] or "[]"),
            "attachments": json.loads(row["attachments"] or "[]"),
            "parse_status": row["parse_status"],
            "parse_warnings": json.loads(row["parse_warnings"] or "[]"),
            "parse_error": row["parse_error"],
        }
    )


def message_ids_with_url(store: Store, url: str) -> list[str]:
    return [row[0] for row in store.db.execute("SELECT DISTINCT message_id FROM message_urls WHERE url = ? ORDER BY message_id", [url])]


def message_ids_with_attachment(store: Store, sha256: str) -> list[str]:
    return [
        row[0]
        for row in store.db.execute(
            "SELECT DISTINCT message_id FROM message_attachments WHERE sha256 = ? ORDER BY message_id", [sha256]
        )
    ]


def message_ids_with_sender_and_subject(store: Store, sender_domain: str, subject: str) -> list[str]:
    return [
        row[0]
        for row in store.db.execute(
            "SELECT id FROM messages WHERE sender_domain = ? AND subject = ? ORDER BY id", [sender_domain, subject]
        )
    ]


def count_earlier_from_sender(store: Store, sender_address: str, before: str) -> int:
    row = store.db.execute(
        "SELECT COUNT(*) FROM messages WHERE sender_address = ? AND received_at != '' AND received_at < ?",
        [sender_address, before],
    ).fetchone()
    return int(row[0])


def locations(store: Store, message_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Return the current (mailbox, folder) of each message id found."""
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in store.db.execute(f"SELECT id, mailbox, folder FROM messages WHERE id IN ({marks})", chunk):
            found[row[0]] = (row[1], row[2])
    return found


def search(store: Store, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Full-text search over sender, subject and body; the query is quoted, never FTS syntax."""
    quoted = " ".join('"' + term.replace('"', '""') + '"' for term in query.split())
    if not quoted:
        return []
    return list(
        store.db.query(
            "SELECT messages.id, messages.mailbox, messages.folder, messages.subject, messages.sender_address "
            "FROM messages JOIN messages_fts ON messages.rowid = messages_fts.rowid "
            "WHERE messages_fts MATCH ? ORDER BY messages_fts.rank LIMIT ?",
            [quoted, limit],
        )
    )


def message_count(store: Store) -> int:
    return store.db["messages"].count


def message_ids_with_url_domain(store: Store, registrable_domain: str) -> list[str]:
    return [
        row[0]
        for row in store.db.execute(
            "SELECT DISTINCT message_id FROM message_urls WHERE registrable_domain = ? ORDER BY message_id",
            [registrable_domain],
        )
    ]
