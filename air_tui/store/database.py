"""Opening the SQLite file: permissions, WAL, schema version."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from air_tui.store.schema import SCHEMA_VERSION, clear_message_index, create_schema


class StoreError(Exception):
    """The database cannot be opened or has a schema this version does not know."""


class Store:
    """One connection to the store. Make one per thread: sqlite3 connections are not shared."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _create_private_file(path)
        try:
            connection = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        except sqlite3.Error as error:
            raise StoreError(f"Cannot open the database {path}: {error}.") from error
        self.db = sqlite_utils.Database(connection)
        self.db.execute("PRAGMA busy_timeout = 10000")
        # Switching to WAL and creating tables take locks that SQLite does not wait for, so two
        # processes opening a new database at once take turns on a lock file instead.
        with file_lock(path.with_name(path.name + ".schema-lock")):
            self.db.enable_wal()
            self._migrate()
        # FULL makes each committed decision survive power loss, not only a crash.
        self.db.execute("PRAGMA synchronous = FULL")
        # SQLite's default page cache is 2 MB; a team ledger of 100,000 events is over 250 MB, and
        # the indexes its appends and merges walk no longer fit. The cache grows only as used.
        self.db.execute("PRAGMA cache_size = -32768")

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        version = self.schema_version
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.path} has schema version {version}, newer than this "
                f"air-tui understands ({SCHEMA_VERSION}). Upgrade air-tui or use another data directory."
            )
        with self.db.conn:
            create_schema(self.db)
            if version > 0:
                # The message index is a catalogue that ingest rebuilds; emptying it makes the next
                # ingest re-read every message, so facts added by this version are filled for all.
                clear_message_index(self.db)
            if version < 5:
                # Stores from before the head row start tracking it from their newest event.
                self.db.execute(
                    "INSERT OR REPLACE INTO ledger_head (id, seq, hash, count) "
                    "SELECT 1, COALESCE(MAX(seq), 0), COALESCE((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), ''), COUNT(*) FROM events"
                )
            if version < 6:
                # Events from before team sync keep their order: the clock starts as the position.
                self.db.execute("UPDATE events SET clock = seq, origin = '' WHERE clock IS NULL")
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created owner-only) for the block."""
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite creates it wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)
