"""Opening a database written by an older version brings it up to date without losing the ledger."""

from __future__ import annotations

import sqlite3

from air_tui.store import Store
from air_tui.store.schema import SCHEMA_VERSION
from air_tui.tenant.workspace import Workspace
from tests.conftest import make_service


def test_older_database_gains_tables_and_columns_and_reindexes(workspace: Workspace) -> None:
    with make_service(workspace) as service:
        service.investigate()
        events_before = service.store.db["events"].count
        messages_before = service.store.db["messages"].count
    # Turn the file back into the shape of the first version: no similarity table, no new columns.
    connection = sqlite3.connect(workspace.database)
    connection.execute("DROP TABLE message_subjects")
    connection.execute("ALTER TABLE messages DROP COLUMN body_fingerprint")
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()

    with Store(workspace.database) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert "message_subjects" in store.db.table_names()
        assert "body_fingerprint" in store.db["messages"].columns_dict
        # The ledger is kept; the message catalogue is emptied so the next ingest re-reads everything.
        assert store.db["events"].count == events_before
        assert store.db["messages"].count == 0
    with make_service(workspace, id_prefix="01AGAIN") as service:
        summary = service.ingest()
        assert summary is not None
        assert service.store.db["messages"].count == messages_before
        filled = service.store.db.execute("SELECT COUNT(*) FROM messages WHERE body_fingerprint != ''").fetchone()[0]
        assert filled > 0
        assert service.store.db["message_subjects"].count > 0
