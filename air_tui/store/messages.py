"""The message index: one row per stored copy, with URL and attachment lookups and full-text search.

The index is a catalogue of the mail source, rebuilt by ingest. The ledger records that ingest
ran and every remediation that moved a message.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from itertools import combinations
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
    band_rows: list[dict[str, Any]] = []
    subject_rows: list[dict[str, Any]] = []
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
        band_rows.extend(
            {"message_id": message.id, "band_key": key, "fingerprint": message.body_fingerprint}
            for key in body_band_keys(message.body_fingerprint)
        )
        subject_key = normalise_subject(message.subject)
        if subject_key:
            subject_rows.append(
                {
                    "message_id": message.id,
                    "subject_key": subject_key,
                    "sender_domain": message.sender.domain,
                    "sender_ip": message.sender_ip,
                }
            )
    db = store.db
    # The connection runs in autocommit mode, so the transaction is opened explicitly.
    with db.atomic():
        ids = [row["id"] for row in rows]
        for chunk_start in range(0, len(ids), 500):
            chunk = ids[chunk_start : chunk_start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(f"DELETE FROM message_urls WHERE message_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM message_attachments WHERE message_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM message_body_bands WHERE message_id IN ({marks})", chunk)
            db.execute(f"DELETE FROM message_subjects WHERE message_id IN ({marks})", chunk)
        db["messages"].upsert_all(rows, pk="id")
        db["message_urls"].insert_all(url_rows, pk=("message_id", "url"), ignore=True)
        db["message_attachments"].insert_all(attachment_rows, pk=("message_id", "sha256"), ignore=True)
        db["message_body_bands"].insert_all(band_rows, pk=("message_id", "band_key"), ignore=True)
        db["message_subjects"].insert_all(subject_rows, pk="message_id", replace=True)
    return len(rows)


def load_message(store: Store, message_id: str) -> EmailMessage | None:
    """Load an indexed message, or a message attached inside one (`<id>/1/2` is the second
    message attached to the first one attached to `<id>`)."""
    top, _, path = message_id.partition("/")
    rows = list(store.db.query("SELECT * FROM messages WHERE id = ?", [top]))
    if not rows:
        return None
    message = message_from_row(rows[0])
    for step in path.split("/") if path else []:
        inner = next((candidate for candidate in message.attached_messages if candidate.id.rsplit("/", 1)[-1] == step), None)
        if inner is None:
            return None
        message = inner
    return message


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


def count_earlier_from_sender(store: Store, sender_address: str, before: str) -> int:
    row = store.db.execute(
        "SELECT COUNT(*) FROM messages WHERE sender_address = ? AND received_at != '' AND received_at < ?",
        [sender_address, before],
    ).fetchone()
    return int(row[0])


def sent_messages(store: Store, mailbox: str, since: str, until: str) -> list[tuple[str, str]]:
    """Return (id, received_at) of the mailbox's Sent Items from `since` up to `until`, oldest first."""
    rows = store.db.execute(
        "SELECT id, received_at FROM messages WHERE mailbox = ? AND folder = ? AND received_at >= ? AND received_at < ? "
        "ORDER BY received_at, id",
        [mailbox, "Sent Items", since, until],
    )
    return [(row[0], row[1]) for row in rows]


def locations(store: Store, message_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Return the current (mailbox, folder) of each message id found."""
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in store.db.execute(f"SELECT id, mailbox, folder FROM messages WHERE id IN ({marks})", chunk):
            found[row[0]] = (row[1], row[2])
    return found


def body_texts(store: Store, message_ids: list[str]) -> dict[str, str]:
    """Return the body text of each message id found."""
    found: dict[str, str] = {}
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for message_id, text in store.db.execute(f"SELECT id, body_text FROM messages WHERE id IN ({marks})", chunk):
            found[message_id] = text or ""
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


def indexed_folders(store: Store) -> dict[str, str]:
    """Map each indexed message id to its folder in the index."""
    return {row[0]: row[1] for row in store.db.execute("SELECT id, folder FROM messages")}


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


# Similarity look-ups ------------------------------------------------------------------------
# Near-duplicate bodies are found through band keys instead of comparing every fingerprint.
# A 64-bit fingerprint is cut into 4 bands of 16 bits. If two fingerprints differ in at most
# d bits, one band differs in at most d // 4 bits (pigeonhole), so probing every band value
# within that many bits of the query's finds every match. Candidates are then checked on the
# whole fingerprint.

BODY_BANDS = 4
BODY_BAND_BITS = 16
MAX_PROBE_RADIUS = 2
"""Bits a probed band value may differ in: 137 probes per band at 2, 697 at 3."""
MAX_SIMILAR_BODY_DISTANCE = BODY_BANDS * (MAX_PROBE_RADIUS + 1) - 1
"""Largest Hamming distance the band index is guaranteed to find: 11 bits."""

_HEX_FINGERPRINT = re.compile(r"[0-9a-f]{16}")
_BAND_MASK = (1 << BODY_BAND_BITS) - 1

_SUBJECT_PREFIX = re.compile(
    # Reply and forward prefixes as mail clients write them: RE, FW, FWD, German AW and WG,
    # Nordic SV and VS, French TR and Spanish RV, with counters such as `RE[2]:`. Tags that a
    # gateway puts first, such as `[EXTERNAL]`, go too.
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|rv|antw|wtr)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]|\[[^\]]{0,40}\])\s*",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")


def normalise_subject(subject: str) -> str:
    """Return the subject as clusters compare it: no reply prefixes, case-folded, numbers masked.

    `RE: Invoice 4411 overdue` and `fw:  invoice 982 OVERDUE` both become `invoice # overdue`.
    """
    text = unicodedata.normalize("NFKC", subject)
    while True:
        stripped = _SUBJECT_PREFIX.sub("", text, count=1)
        if stripped == text:
            break
        text = stripped
    text = _DIGITS.sub("#", text.casefold())
    return " ".join(text.split())


def body_band_keys(fingerprint: str) -> list[int]:
    """Return the index keys of a fingerprint's bands: band number times 2**16 plus its value.

    An empty or malformed fingerprint has no keys, so its message joins no body cluster.
    """
    value = _fingerprint_value(fingerprint)
    if value is None:
        return []
    return [_band_key(band, value >> (band * BODY_BAND_BITS) & _BAND_MASK) for band in range(BODY_BANDS)]


def _band_key(band: int, band_value: int) -> int:
    return band << BODY_BAND_BITS | band_value


def _fingerprint_value(fingerprint: str) -> int | None:
    return int(fingerprint, 16) if _HEX_FINGERPRINT.fullmatch(fingerprint) else None


def _probe_keys(value: int, radius: int) -> list[int]:
    """Return the band keys within `radius` bits of each band of `value`."""
    keys: list[int] = []
    for band in range(BODY_BANDS):
        band_value = value >> (band * BODY_BAND_BITS) & _BAND_MASK
        for flipped in range(radius + 1):
            for bits in combinations(range(BODY_BAND_BITS), flipped):
                probe = band_value
                for bit in bits:
                    probe ^= 1 << bit
                keys.append(_band_key(band, probe))
    return keys


def _sender_condition(sender_domain: str | None, sender_ip: str | None) -> tuple[str, str]:
    if (sender_domain is None) == (sender_ip is None):
        raise ValueError("Give exactly one of sender_domain and sender_ip.")
    if sender_domain is not None:
        return "sender_domain", sender_domain
    return "sender_ip", str(sender_ip)


def message_ids_with_similar_body(
    store: Store,
    fingerprint: str,
    max_distance: int,
    *,
    sender_domain: str | None = None,
    sender_ip: str | None = None,
) -> list[str]:
    """Return the ids of messages whose body fingerprint is within `max_distance` bits.

    Only messages from the given sender domain, or the given sender IP, are returned. The
    fingerprint itself matches, so the message it came from is among the ids.

    Args:
        store: The store to search.
        fingerprint: 16 hex digits, as `EmailMessage.body_fingerprint` stores them.
        max_distance: Largest number of differing bits, at most `MAX_SIMILAR_BODY_DISTANCE`.
        sender_domain: Keep only messages from this From domain.
        sender_ip: Keep only messages from this originating IP. Give exactly one of the two.

    Returns:
        Sorted message ids; empty when the fingerprint or the sender value is empty.

    Raises:
        ValueError: `max_distance` is out of range, or not exactly one sender value is given.
    """
    column, sender = _sender_condition(sender_domain, sender_ip)
    if not 0 <= max_distance <= MAX_SIMILAR_BODY_DISTANCE:
        raise ValueError(f"max_distance {max_distance} is out of range: the band index finds 0 to {MAX_SIMILAR_BODY_DISTANCE} bits.")
    target = _fingerprint_value(fingerprint)
    if target is None or not sender:
        return []
    close: set[str] = set()
    keys = _probe_keys(target, max_distance // BODY_BANDS)
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.db.execute(f"SELECT message_id, fingerprint FROM message_body_bands WHERE band_key IN ({marks})", chunk)
        for message_id, candidate in rows:
            if message_id not in close and (int(candidate, 16) ^ target).bit_count() <= max_distance:
                close.add(message_id)
    return _ids_from_sender(store, sorted(close), column, sender)


def _ids_from_sender(store: Store, message_ids: list[str], column: str, sender: str) -> list[str]:
    # `column` comes from `_sender_condition`, never from input, so it is safe to format in.
    found: list[str] = []
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.db.execute(f"SELECT id FROM messages WHERE id IN ({marks}) AND {column} = ?", [*chunk, sender])
        found.extend(row[0] for row in rows)
    return sorted(found)


def message_ids_with_subject(store: Store, subject: str, *, sender_domain: str | None = None, sender_ip: str | None = None) -> list[str]:
    """Return the ids of messages whose normalised subject matches, from one sender domain or IP.

    Subjects are compared after `normalise_subject`. An empty subject or sender value matches nothing.

    Raises:
        ValueError: Not exactly one of `sender_domain` and `sender_ip` is given.
    """
    column, sender = _sender_condition(sender_domain, sender_ip)
    subject_key = normalise_subject(subject)
    if not subject_key or not sender:
        return []
    rows = store.db.execute(
        f"SELECT message_id FROM message_subjects WHERE subject_key = ? AND {column} = ? ORDER BY message_id",
        [subject_key, sender],
    )
    return [row[0] for row in rows]
