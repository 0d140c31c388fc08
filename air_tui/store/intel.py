"""Intel tables: feeds with their fetch state, their indicators, and cached online look-ups.

A feed's indicators are replaced in one transaction, and only with a complete new set, so a
failed download always leaves the previous rows in place. Rows are plain dicts: this layer does
not know the intel layer's types.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from air_tui.store.database import Store, file_lock
from air_tui.store.schema import create_schema

INTEL_TABLES = ("intel_feeds", "intel_indicators", "intel_lookup_cache")

FEED_COLUMNS = ("name", "origin", "location", "format", "last_success", "last_attempt", "last_error", "count", "sha256", "etag", "last_modified", "skipped", "skipped_examples")
INDICATOR_COLUMNS = ("feed", "kind", "indicator", "threat", "source", "added", "fetched")


def ensure_tables(store: Store) -> None:
    """Create the intel tables, or their newer columns, in a database made before they existed.

    The schema version was not raised for these tables or columns, so a database already at the
    current version has not run `create_schema` since. This runs it once, under the same lock file.
    """
    if set(INTEL_TABLES) <= set(store.db.table_names()) and set(FEED_COLUMNS) <= set(store.db["intel_feeds"].columns_dict):
        return
    with file_lock(store.path.with_name(store.path.name + ".schema-lock")), store.db.conn:
        create_schema(store.db)


@contextmanager
def _transaction(store: Store) -> Iterator[sqlite3.Connection]:
    conn = store.db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def feed_rows(store: Store) -> list[dict[str, Any]]:
    ensure_tables(store)
    return list(store.db.query("SELECT * FROM intel_feeds ORDER BY name"))


def feed_row(store: Store, name: str) -> dict[str, Any] | None:
    ensure_tables(store)
    rows = list(store.db.query("SELECT * FROM intel_feeds WHERE name = ?", [name]))
    return rows[0] if rows else None


def replace_feed(store: Store, feed: Mapping[str, Any], indicators: Iterable[Mapping[str, Any]], *, fetched: str) -> int:
    """Replace every indicator of one feed and record the success, in one transaction.

    Args:
        feed: `name`, `origin`, `location`, `format`, and optionally `sha256`, `etag`,
            `last_modified`, `skipped` (invalid lines left out) and `skipped_examples` (JSON text).
        indicators: Rows with `kind`, `indicator`, `threat`, `source` and `added`.
        fetched: ISO 8601 time of the download or import.

    An indicator without an `added` date keeps the date it had in this feed before, or gets the
    fetch date, so `added` always records since when the feed has listed it.

    Returns:
        The number of indicators stored; duplicates within the feed count once.
    """
    ensure_tables(store)
    name = feed["name"]
    with _transaction(store) as conn:
        known = {
            (row[0], row[1]): row[2]
            for row in conn.execute("SELECT kind, indicator, added FROM intel_indicators WHERE feed = ?", [name])
        }
        rows: dict[tuple[str, str], tuple[str, ...]] = {}
        for item in indicators:
            key = (item["kind"], item["indicator"])
            added = item.get("added") or known.get(key) or fetched[:10]
            rows[key] = (name, item["kind"], item["indicator"], item.get("threat") or "", item.get("source") or "", added, fetched)
        conn.execute("DELETE FROM intel_indicators WHERE feed = ?", [name])
        conn.executemany(f"INSERT INTO intel_indicators ({', '.join(INDICATOR_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)", list(rows.values()))
        _upsert_feed(
            conn,
            {
                **{column: feed.get(column, "") for column in ("name", "origin", "location", "format", "sha256", "etag", "last_modified")},
                "last_success": fetched,
                "last_attempt": fetched,
                "last_error": "",
                "count": len(rows),
                "skipped": int(feed.get("skipped") or 0),
                "skipped_examples": feed.get("skipped_examples") or "",
            },
        )
    return len(rows)


def mark_feed_current(store: Store, name: str, *, checked: str, etag: str, last_modified: str) -> None:
    """Record that the feed did not change since its last download: its rows count as fetched now."""
    ensure_tables(store)
    with _transaction(store) as conn:
        conn.execute(
            "UPDATE intel_feeds SET last_success = ?, last_attempt = ?, last_error = '', etag = ?, last_modified = ? WHERE name = ?",
            [checked, checked, etag, last_modified, name],
        )
        conn.execute("UPDATE intel_indicators SET fetched = ? WHERE feed = ?", [checked, name])


def record_feed_failure(store: Store, feed: Mapping[str, Any], *, attempted: str, error: str) -> None:
    """Record a failed download or import; the feed's indicators and last success stay as they were."""
    ensure_tables(store)
    with _transaction(store) as conn:
        exists = conn.execute("SELECT 1 FROM intel_feeds WHERE name = ?", [feed["name"]]).fetchone()
        if exists:
            conn.execute(
                "UPDATE intel_feeds SET last_attempt = ?, last_error = ?, origin = ?, location = ?, format = ? WHERE name = ?",
                [attempted, error, feed.get("origin", ""), feed.get("location", ""), feed.get("format", ""), feed["name"]],
            )
        else:
            _upsert_feed(
                conn,
                {
                    **{column: feed.get(column, "") for column in ("name", "origin", "location", "format")},
                    "last_success": "",
                    "last_attempt": attempted,
                    "last_error": error,
                    "count": 0,
                    "sha256": "",
                    "etag": "",
                    "last_modified": "",
                    "skipped": 0,
                    "skipped_examples": "",
                },
            )


def delete_feeds(store: Store, names: Iterable[str]) -> int:
    """Delete feeds and their indicators; return how many feeds there were."""
    ensure_tables(store)
    deleted = 0
    with _transaction(store) as conn:
        for name in names:
            conn.execute("DELETE FROM intel_indicators WHERE feed = ?", [name])
            deleted += conn.execute("DELETE FROM intel_feeds WHERE name = ?", [name]).rowcount
    return deleted


def indicator_rows(store: Store, feeds: Iterable[str]) -> list[dict[str, Any]]:
    """Return the indicators of the named feeds, oldest listing first."""
    ensure_tables(store)
    names = list(feeds)
    if not names:
        return []
    marks = ",".join("?" * len(names))
    return list(
        store.db.query(
            f"SELECT {', '.join(INDICATOR_COLUMNS)} FROM intel_indicators WHERE feed IN ({marks}) ORDER BY added, feed, kind, indicator",
            names,
        )
    )


def _upsert_feed(conn: sqlite3.Connection, row: Mapping[str, Any]) -> None:
    columns = ", ".join(FEED_COLUMNS)
    marks = ", ".join("?" * len(FEED_COLUMNS))
    updates = ", ".join(f"{column} = excluded.{column}" for column in FEED_COLUMNS if column != "name")
    conn.execute(
        f"INSERT INTO intel_feeds ({columns}) VALUES ({marks}) ON CONFLICT(name) DO UPDATE SET {updates}",
        [row[column] for column in FEED_COLUMNS],
    )


class LookupCacheTable:
    """Cached results of online look-ups, one row per service, kind and indicator.

    Stores what the intel layer hands over: a check time and a JSON result. Neither contains an
    API key, because keys are only ever sent in request headers.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store)

    def get(self, service: str, kind: str, indicator: str) -> tuple[str, str] | None:
        row = self.store.db.execute(
            "SELECT checked, result FROM intel_lookup_cache WHERE service = ? AND kind = ? AND indicator = ?",
            [service, kind, indicator],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def put(self, service: str, kind: str, indicator: str, checked: str, result: str) -> None:
        with _transaction(self.store) as conn:
            conn.execute(
                "INSERT INTO intel_lookup_cache (service, kind, indicator, checked, result) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(service, kind, indicator) DO UPDATE SET checked = excluded.checked, result = excluded.result",
                [service, kind, indicator, checked, result],
            )
