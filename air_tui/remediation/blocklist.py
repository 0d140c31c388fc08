"""The tenant block list at ingest: new mail that an active entry matches is junked and flagged.

A sender entry matches the sender's address, and a domain entry the sender's domain and its
subdomains. A URL entry matches the same URL after normalisation. An entry that is a bare host
(path `/`, no query) matches every URL on that host and its subdomains. A file entry matches an
attachment's SHA-256.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from air_tui.domain.vocab import BlockKind
from air_tui.store import Store


def matching_entries(store: Store, entries: list[dict[str, Any]], message_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return, for each message an entry matches, the first matching entry (newest entries first)."""
    ids = list(message_ids)
    if not ids or not entries:
        return {}
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        senders = {row[0]: (row[1] or "").lower() for row in store.db.execute(f"SELECT id, sender_address FROM messages WHERE id IN ({marks})", chunk)}
        urls: dict[str, list[tuple[str, str]]] = {}
        for message_id, url, host in store.db.execute(f"SELECT message_id, url, host FROM message_urls WHERE message_id IN ({marks})", chunk):
            urls.setdefault(message_id, []).append((url, (host or "").lower()))
        files: dict[str, set[str]] = {}
        for message_id, sha256 in store.db.execute(f"SELECT message_id, sha256 FROM message_attachments WHERE message_id IN ({marks})", chunk):
            files.setdefault(message_id, set()).add(sha256)
        for message_id in chunk:
            for entry in entries:
                if _matches(entry, senders.get(message_id, ""), urls.get(message_id, []), files.get(message_id, set())):
                    found[message_id] = entry
                    break
    return found


def _matches(entry: dict[str, Any], sender: str, urls: list[tuple[str, str]], files: set[str]) -> bool:
    kind = BlockKind(entry["kind"])
    value = entry["value"]
    if kind is BlockKind.SENDER:
        return sender == value
    if kind is BlockKind.DOMAIN:
        domain = sender.rsplit("@", 1)[-1] if "@" in sender else ""
        return domain == value or domain.endswith("." + value)
    if kind is BlockKind.FILE:
        return value in files
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    if parts.path in ("", "/") and not parts.query:
        return any(url_host == host or url_host.endswith("." + host) for _, url_host in urls)
    return any(url == value for url, _ in urls)
