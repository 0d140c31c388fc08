"""`air-tui actions` from a plain shell: the same rules, roles and records as the console."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from air_tui.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def tenant(tenant_copy: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(capsys, "investigate", "--tenant", str(tenant_copy))[0] == 0
    return tenant_copy


def listed(capsys: pytest.CaptureFixture[str], tenant: Path, *extra: str) -> list[dict]:
    code, out, err = run(capsys, "actions", "list", "--tenant", str(tenant), "--json", *extra)
    assert code == 0, err
    return json.loads(out)


def where(tenant: Path, message_id: str) -> str:
    """The folder holding a message's file on disk, found by the key the explorer gives."""
    for path in (tenant / "mailboxes").rglob("*"):
        if path.is_file() and path.name.split(":", 1)[0] == message_id:
            return path.parent.parent.name
    return ""


def test_show_names_impact_decisions_and_results(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = listed(capsys, tenant, "--type", "Soft delete")[0]
    assert run(capsys, "actions", "approve", action["id"], "--tenant", str(tenant), "--analyst", "dana", "--comment", "lure")[0] == 0
    code, out, _ = run(capsys, "actions", "show", action["id"], "--tenant", str(tenant))
    assert code == 0
    assert "Undo moves each message back" in out
    assert "dana approved: lure" in out
    assert out.count("Succeeded") == action["message_count"]
    code, out, _ = run(capsys, "actions", "show", action["id"], "--tenant", str(tenant), "--json")
    document = json.loads(out)
    assert [decision["analyst"] for decision in document["decisions"]] == ["dana"]
    assert len(document["results"]) == action["message_count"]


def test_approve_as_another_type_then_undo(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = listed(capsys, tenant, "--type", "Soft delete")[0]
    code, out, err = run(capsys, "actions", "approve", action["id"], "--as", "Move to Junk Email", "--tenant", str(tenant), "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "Completed"
    code, out, _ = run(capsys, "actions", "undo", action["id"], "--tenant", str(tenant), "--comment", "false positive")
    assert code == 0
    assert "Undo of Move to Junk Email: undone" in out
    after = listed(capsys, tenant, "--status", "Undone")
    assert [row["id"] for row in after] == [action["id"]]


def test_bulk_approve_prints_the_preview_and_decides_together(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    by_investigation: dict[str, list[dict]] = {}
    for action in listed(capsys, tenant):
        by_investigation.setdefault(action["investigation_id"], []).append(action)
    group = max(by_investigation.values(), key=len)
    ids = [action["id"] for action in group]
    # With no terminal to answer a prompt, a bulk decision needs --yes; the preview shows what it would do.
    code, out, err = run(capsys, "actions", "approve", *ids, "--tenant", str(tenant), "--comment", "takeover")
    assert code == 1
    assert f"Approving {len(ids)} actions in investigation {group[0]['investigation_id']}" in out
    assert "Nothing was decided" in err
    assert {row["status"] for row in listed(capsys, tenant, "--investigation", group[0]["investigation_id"])} == {"Pending"}
    code, out, err = run(capsys, "actions", "approve", *ids, "--tenant", str(tenant), "--comment", "takeover", "--yes")
    assert code == 0, err
    decided = listed(capsys, tenant, "--investigation", group[0]["investigation_id"], "--all")
    assert {row["status"] for row in decided} == {"Completed"}
    assert {row["comment"] for row in decided} == {"takeover"}


def test_bulk_across_incidents_is_refused_and_nothing_changes(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    actions = listed(capsys, tenant)
    first = actions[0]
    other = next(action for action in actions if action["investigation_id"] != first["investigation_id"] and action["incident_id"] != first["incident_id"])
    code, _, err = run(capsys, "actions", "reject", first["id"], other["id"], "--comment", "x", "--tenant", str(tenant), "--yes")
    assert code == 1
    assert "A bulk decision stays within one investigation or one incident" in err
    assert len(listed(capsys, tenant)) == len(actions)


def test_propose_then_a_reader_cannot_approve(tenant: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[access]\nanalysts = { dana = "admin", rui = "reader" }\n')
    monkeypatch.setenv("AIR_TUI_CONFIG", str(config))
    code, out, err = run(capsys, "actions", "propose", "Block sender", "--value", "Billing@Pay-Portal.example", "--expires", "never", "--analyst", "dana", "--tenant", str(tenant), "--json")
    assert code == 0, err
    proposed = json.loads(out)
    assert proposed["block"] == {"kind": "sender", "value": "billing@pay-portal.example", "expires": None}
    code, _, err = run(capsys, "actions", "approve", proposed["id"], "--analyst", "rui", "--tenant", str(tenant))
    assert code == 1
    assert "rui has the reader role" in err
    assert run(capsys, "actions", "approve", proposed["id"], "--analyst", "dana", "--tenant", str(tenant))[0] == 0


def test_read_only_flag_turns_decisions_off(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = listed(capsys, tenant)[0]
    code, _, err = run(capsys, "actions", "approve", action["id"], "--read-only", "--tenant", str(tenant))
    assert code == 1
    assert "read-only" in err
    assert listed(capsys, tenant)[0]["status"] == "Pending"


def test_types_say_what_can_be_undone(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "actions", "types", "--json")
    types = {row["type"]: row for row in json.loads(out)}
    assert code == 0
    assert types["Hard delete"]["reversible"] is False
    assert types["Hard delete"]["needs_admin"] is True
    assert types["Soft delete"]["reversible"] is True
    assert len(types) == 14


def test_list_filters_by_decider(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = listed(capsys, tenant)[:2]
    run(capsys, "actions", "reject", first["id"], "--comment", "benign", "--analyst", "dana", "--tenant", str(tenant))
    run(capsys, "actions", "reject", second["id"], "--comment", "benign", "--analyst", "eli", "--tenant", str(tenant))
    assert [row["id"] for row in listed(capsys, tenant, "--decided-by", "DANA")] == [first["id"]]


def test_unknown_type_is_named(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "actions", "propose", "Purge everything", "--tenant", str(tenant))
    assert code == 1
    assert "Unknown action type 'Purge everything'" in err
    assert "air-tui actions types" in err
    assert os.environ.get("AIR_TUI_CONFIG") is None


def test_irreversible_approval_needs_a_confirmation(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = listed(capsys, tenant, "--type", "soft delete")[0]
    code, _, err = run(capsys, "actions", "approve", action["id"], "--as", "Hard delete", "--tenant", str(tenant))
    assert code == 1
    assert "Hard delete of" in err
    assert "cannot be undone" in err
    assert "give --yes" in err
    assert listed(capsys, tenant, "--type", "Soft delete")[0]["status"] == "Pending"
    code, out, err = run(capsys, "actions", "approve", action["id"], "--as", "Hard delete", "--yes", "--tenant", str(tenant), "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "Completed"


def test_show_lists_the_messages_before_approval(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    action = listed(capsys, tenant, "--type", "Soft delete")[0]
    code, out, _ = run(capsys, "actions", "show", action["id"], "--tenant", str(tenant))
    assert code == 0
    assert "  Messages:" in out
    assert out.count("@larkspur.example") >= action["message_count"]


def test_export_since_reads_time_zones(tenant: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "export", "--tenant", str(tenant))
    times = sorted(json.loads(line)["time"] for line in out.splitlines())
    middle = times[len(times) // 2]
    from datetime import datetime, timedelta, timezone

    shifted = datetime.fromisoformat(middle).astimezone(timezone(timedelta(hours=2))).isoformat()
    code, out, _ = run(capsys, "audit", "export", "--tenant", str(tenant), "--since", shifted)
    assert code == 0
    assert len(out.splitlines()) == sum(1 for time in times if time >= middle)
    code, _, err = run(capsys, "audit", "export", "--tenant", str(tenant), "--since", "yesterday")
    assert code == 1
    assert "--since 'yesterday' is not an ISO date or time" in err


def test_console_with_a_missing_config_file_says_so_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIR_TUI_CONFIG", str(tmp_path / "missing.toml"))
    code, _, err = run(capsys, "console")
    assert code == 1
    assert err.strip() == f"air-tui: The configuration file {tmp_path / 'missing.toml'} does not exist. Check AIR_TUI_CONFIG, or unset it to use config.toml in the data directory."
