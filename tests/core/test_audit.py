"""`air-tui audit`: the hash-chained ledger names any event edited, removed or reordered, and exports whole."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest

from air_tui.cli import main
from air_tui.store import Store, ledger
from air_tui.tenant.workspace import Workspace, tenant_workspace
from tests.conftest import make_service
from tests.core.test_ledger import alert_event


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "store.db")
    ledger.append(opened, [alert_event(f"e{n}", f"a{n}") for n in range(6)])
    yield opened
    opened.close()


def test_swapped_events_are_named(store: Store) -> None:
    rows = {row["seq"]: row for row in store.db.query("SELECT * FROM events")}
    # Swap two events' content and hashes, as a tidy-minded forger moving them would.
    for seq, other in ((3, 4), (4, 3)):
        source = rows[other]
        store.db.execute(
            "UPDATE events SET id = ?, payload = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            [f"tmp{seq}", source["payload"], source["prev_hash"], source["hash"], seq],
        )
    problems = ledger.verify_chain(store)
    assert {problem.seq for problem in problems} >= {3}
    assert any("reordered" in problem.problem for problem in problems)


def test_removed_last_event_is_noticed(store: Store) -> None:
    store.db.execute("DELETE FROM events WHERE seq = (SELECT MAX(seq) FROM events)")
    problems = ledger.verify_chain(store)
    assert len(problems) == 1
    assert "events at the end were removed" in problems[0].problem
    assert problems[0].seq == 6


def test_removed_first_event_is_named(store: Store) -> None:
    store.db.execute("DELETE FROM events WHERE seq = 1")
    problems = ledger.verify_chain(store)
    assert [(problem.seq, problem.event_id) for problem in problems] == [(2, "e1")]
    assert "event 1 before it is missing" in problems[0].problem


def test_untouched_ledger_has_no_problems(store: Store) -> None:
    assert ledger.verify_chain(store) == []


def test_database_and_its_journal_are_owner_only(workspace: Workspace) -> None:
    with make_service(workspace) as service:
        service.investigate()
        wal = workspace.database.with_name(workspace.database.name + "-wal")
        assert wal.exists()
        for path in (workspace.database, wal):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# The command -----------------------------------------------------------------------------------


@pytest.fixture
def investigated_tenant(tenant_copy: Path) -> Path:
    assert main(["investigate", "--tenant", str(tenant_copy)]) == 0
    return tenant_copy


def test_verify_passes_then_names_an_edited_event(investigated_tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["audit", "verify", "--tenant", str(investigated_tenant)]) == 0
    assert "every table agrees with it" in capsys.readouterr().out
    database = tenant_workspace(investigated_tenant).database
    with sqlite3.connect(database) as connection:
        event_id = connection.execute("SELECT id FROM events WHERE type = 'alert.raised' ORDER BY seq LIMIT 1").fetchone()[0]
        connection.execute("UPDATE events SET actor = 'mallory' WHERE id = ?", [event_id])
    assert main(["audit", "verify", "--tenant", str(investigated_tenant)]) == 1
    captured = capsys.readouterr()
    assert event_id in captured.out
    assert "the event was edited" in captured.out
    assert "1 problem in" in captured.err


def test_verify_names_a_table_changed_outside_the_ledger(investigated_tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tenant_workspace(investigated_tenant).database
    with sqlite3.connect(database) as connection:
        action_id = connection.execute("SELECT id FROM actions LIMIT 1").fetchone()[0]
        connection.execute("UPDATE actions SET status = 'Completed', decided_by = 'mallory' WHERE id = ?", [action_id])
    capsys.readouterr()
    assert main(["audit", "verify", "--tenant", str(investigated_tenant)]) == 1
    out = capsys.readouterr().out
    assert f"table actions: 1 row the ledger does not explain and 1 row it records are missing, for example {action_id}" in out


def test_verify_notices_an_emptied_ledger(investigated_tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with sqlite3.connect(tenant_workspace(investigated_tenant).database) as connection:
        connection.execute("DELETE FROM events")
        connection.execute("DELETE FROM ledger_head")
    capsys.readouterr()
    assert main(["audit", "verify", "--tenant", str(investigated_tenant)]) == 1
    assert "the ledger does not explain" in capsys.readouterr().out


def test_export_as_json_lines_and_csv(investigated_tenant: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["audit", "export", "--tenant", str(investigated_tenant)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert all(set(line) == {"seq", "id", "type", "actor", "time", "payload", "prev_hash", "hash"} for line in lines)
    assert isinstance(lines[0]["payload"], dict)
    target = tmp_path / "ledger.csv"
    assert main(["audit", "export", "--tenant", str(investigated_tenant), "--format", "csv", "--output", str(target), "--type", "alert.raised"]) == 0
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert rows and {row["type"] for row in rows} == {"alert.raised"}
    assert len(rows) == sum(1 for line in lines if line["type"] == "alert.raised")
    assert f"Wrote {len(rows)} events to {target}" in capsys.readouterr().err


def test_csv_export_keeps_spreadsheets_from_running_formulas(tmp_path: Path) -> None:
    from air_tui.actions_cli import _cell

    assert _cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    assert _cell("plain") == "plain"
    assert _cell(12) == 12
