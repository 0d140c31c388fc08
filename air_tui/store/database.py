"""Opening the SQLite file: permissions, WAL, schema version."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from air_tui.store.schema import SCHEMA_VERSION, create_schema


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
        self.db.enable_wal()
        # FULL makes each committed decision survive power loss, not only a crash.
        self.db.execute("PRAGMA synchronous = FULL")
        self._migrate()

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
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.path} has schema version {version}, newer than this "
                f"air-tui understands ({SCHEMA_VERSION}). Upgrade air-tui or use another data directory."
            )
        with self.db.conn:
            create_schema(self.db)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _create_private_file(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite creates it wider."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return
    descriptor = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(descriptor)
