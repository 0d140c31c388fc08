"""SQLite store: schema, the hash-chained event ledger, projections and read models."""

from air_tui.store.database import SCHEMA_VERSION, Store, StoreError

__all__ = ["SCHEMA_VERSION", "Store", "StoreError"]
