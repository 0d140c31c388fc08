"""The air-tui command as a user runs it: a real process on a copy of the demo tenant."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CORPUS, DEMO_TENANT


def air_tui(*args: str, data_dir: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIR_TUI_DATA_DIR": str(data_dir)}
    if config is not None:
        env["AIR_TUI_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "air_tui", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def maildir_keys(folder: Path) -> set[str]:
    return {path.name.split(":", 1)[0] for sub in ("cur", "new") for path in (folder / sub).glob("*") if path.name != ".keep"}


def test_investigate_json_summary(tenant_copy: Path, isolated_data_dir: Path) -> None:
    result = air_tui("investigate", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert len(summary["alerts"]) >= 6
    assert summary["messages"] >= 300
    assert summary["investigations_by_status"].get("No threats found", 0) >= 1
    assert summary["investigations_by_status"].get("Pending action", 0) >= 1
    assert summary["verdicts"].get("Malicious", 0) >= 1
    first = summary["investigations"][0]
    assert first["log"][0]["name"] == "User-reported emails indicators extraction"
    fired = [item for entity in first["entities"] for item in entity["evidence"] if item["rule"]]
    assert fired and all(isinstance(item["weight"], int) for item in fired), "rule ids and points are in the JSON"
    flagged = [e for e in first["entities"] if e["verdict"] in ("Malicious", "Suspicious")]
    assert all(e["evidence"] for e in flagged)
    soft_deletes = [a for a in summary["pending_actions"] if a["type"] == "Soft delete"]
    assert soft_deletes
    assert all(a["id"] and a["message_count"] >= 1 for a in soft_deletes)


def test_approve_through_cli_moves_files(tenant_copy: Path, isolated_data_dir: Path) -> None:
    assert air_tui("investigate", "--tenant", str(tenant_copy), data_dir=isolated_data_dir).returncode == 0
    listed = air_tui("actions", "list", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir)
    actions = json.loads(listed.stdout)
    action = max(actions, key=lambda a: a["message_count"])
    before = {mailbox: maildir_keys(tenant_copy / "mailboxes" / mailbox / "Recoverable Items") for mailbox in action["mailboxes"]}

    approved = air_tui(
        "actions", "approve", action["id"], "--comment", "campaign confirmed", "--analyst", "dana",
        "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir,
    )
    assert approved.returncode == 0, approved.stderr
    outcome = json.loads(approved.stdout)
    assert outcome["status"] == "Completed"
    assert outcome["analyst"] == "dana"
    assert outcome["results"] == {"Succeeded": action["message_count"]}
    moved = sum(
        len(maildir_keys(tenant_copy / "mailboxes" / mailbox / "Recoverable Items") - before[mailbox])
        for mailbox in action["mailboxes"]
    )
    assert moved == action["message_count"]

    after = json.loads(air_tui("actions", "list", "--all", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)
    decided = next(a for a in after if a["id"] == action["id"])
    assert (decided["status"], decided["decided_by"], decided["comment"]) == ("Completed", "dana", "campaign confirmed")


def test_reject_without_comment_fails(tenant_copy: Path, isolated_data_dir: Path) -> None:
    air_tui("investigate", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    action_id = json.loads(air_tui("actions", "list", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)[0]["id"]
    result = air_tui("actions", "reject", action_id, "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert result.returncode == 1
    assert "needs a reason" in result.stderr
    assert action_id in result.stderr


def test_unknown_action_id_exit_code(tenant_copy: Path, isolated_data_dir: Path) -> None:
    result = air_tui("actions", "approve", "01NOSUCHACTION", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert result.returncode == 1
    assert "No action with id 01NOSUCHACTION" in result.stderr


def test_missing_paths_are_named(tmp_path: Path, isolated_data_dir: Path) -> None:
    missing = tmp_path / "nowhere.eml"
    ingest = air_tui("ingest", str(missing), data_dir=isolated_data_dir)
    assert ingest.returncode == 1
    assert str(missing) in ingest.stderr
    investigate = air_tui("investigate", "--tenant", str(tmp_path / "no-tenant"), data_dir=isolated_data_dir)
    assert investigate.returncode == 1
    assert "no-tenant" in investigate.stderr


def test_folder_without_tenant_json(tmp_path: Path, isolated_data_dir: Path) -> None:
    result = air_tui("investigate", "--tenant", str(tmp_path), data_dir=isolated_data_dir)
    assert result.returncode == 1
    assert "tenant.json is missing" in result.stderr


def test_ingest_whole_corpus_never_crashes(isolated_data_dir: Path) -> None:
    result = air_tui("ingest", str(CORPUS), "--json", data_dir=isolated_data_dir)
    assert result.returncode == 0, "every .eml and .msg file parses, so nothing failed"
    assert "Traceback" not in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    corpus_files = [p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".msg")]
    assert len(records) == len(corpus_files)
    assert [r for r in records if r["status"] == "failed"] == []


def test_ingest_text_output_is_plain(tmp_path: Path, isolated_data_dir: Path) -> None:
    hostile = tmp_path / "hostile.eml"
    hostile.write_bytes(b"From: a@b.example\r\nSubject: =?utf-8?q?pay_now=1B[31m_[bold]x[/bold]?=\r\n\r\nbody\r\n")
    result = air_tui("ingest", str(hostile), data_dir=isolated_data_dir)
    assert result.returncode == 0
    assert "\x1b" not in result.stdout
    assert "[bold]x[/bold]" in result.stdout


def fixture_listing() -> list[str]:
    return sorted(str(path.relative_to(DEMO_TENANT)) for path in DEMO_TENANT.rglob("*"))


def test_reset_demo_restores_pristine(isolated_data_dir: Path) -> None:
    pristine = fixture_listing()
    first = air_tui("investigate", "--json", data_dir=isolated_data_dir)
    assert first.returncode == 0, first.stderr
    action = json.loads(first.stdout)["pending_actions"][0]
    assert air_tui("actions", "approve", action["id"], data_dir=isolated_data_dir).returncode == 0
    reset = air_tui("investigate", "--reset-demo", "--json", data_dir=isolated_data_dir)
    pending = json.loads(reset.stdout)["pending_actions"]
    assert len(pending) == len(json.loads(first.stdout)["pending_actions"])
    assert (isolated_data_dir / "demo" / "tenant" / "tenant.json").exists()
    assert fixture_listing() == pristine, "the repository's demo tenant must never change"


def test_pristine_demo_is_refused(isolated_data_dir: Path) -> None:
    result = air_tui("investigate", "--tenant", str(DEMO_TENANT), data_dir=isolated_data_dir)
    assert result.returncode == 1
    assert "never changes" in result.stderr
    assert "Leave out --tenant" in result.stderr


def test_concurrent_investigations_raise_once(tenant_copy: Path, isolated_data_dir: Path) -> None:
    env = {**os.environ, "AIR_TUI_DATA_DIR": str(isolated_data_dir)}
    command = [sys.executable, "-m", "air_tui", "investigate", "--tenant", str(tenant_copy), "--json"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    assert first.returncode == 0, outputs[0][1]
    assert second.returncode == 0, outputs[1][1]
    summaries = [json.loads(stdout) for stdout, _ in outputs]
    reported = [line for line in (tenant_copy / "activity" / "submissions.jsonl").read_text().splitlines() if '"Phish"' in line or '"Malware"' in line]
    user_reported = [alert for alert in summaries[0]["alerts"] if alert["policy"] == "Email reported by user as malware or phish"]
    assert 0 < len(user_reported) <= len(reported)
    # The second process waited for the first and raised nothing again.
    assert [alert["id"] for alert in summaries[1]["alerts"]] == [alert["id"] for alert in summaries[0]["alerts"]]
    assert sorted(summary["alerts_raised_now"] for summary in summaries) == [0, len(summaries[0]["alerts"])]


def test_ingest_json_carries_every_fact(isolated_data_dir: Path) -> None:
    result = air_tui("ingest", str(CORPUS / "spamassassin" / "mime9-fwd-chain.eml"), "--json", data_dir=isolated_data_dir)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)["facts"]
    # Nested messages appear with their own facts, and every URL with its normalised form and flags.
    assert facts["attached_messages"], "the forwarded messages are parsed as messages of their own"
    inner = facts["attached_messages"][0]
    assert {"subject", "sender", "auth_results", "urls", "attachments", "body_chars", "parse_warnings"} <= set(inner)
    assert "body_text" not in facts
    redirect = air_tui("ingest", str(CORPUS / "spamassassin" / "redirector.eml"), "--json", data_dir=isolated_data_dir)
    urls = json.loads(redirect.stdout)["facts"]["urls"]
    assert urls and all({"normalised", "ip_literal", "shortener", "data_uri", "host_problem", "unwrapped"} <= set(url) for url in urls)
    assert any(url["unwrapped"] for url in urls)


def test_rules_lists_weights_with_configured_changes(tmp_path: Path, isolated_data_dir: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[analysis.rule_weights]\n"url.shortener" = 0\n')
    env_result = subprocess.run(
        [sys.executable, "-m", "air_tui", "rules", "--json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AIR_TUI_DATA_DIR": str(isolated_data_dir), "AIR_TUI_CONFIG": str(config)},
    )
    assert env_result.returncode == 0, env_result.stderr
    listing = json.loads(env_result.stdout)
    by_id = {row["id"]: row for row in listing["rules"]}
    assert by_id["url.shortener"]["weight"] == 0
    assert by_id["url.shortener"]["default"] == 10
    assert by_id["sender.reply_to_differs"]["weight"] == by_id["sender.reply_to_differs"]["default"]
    config.write_text('[analysis.rule_weights]\n"url.shortnr" = 0\n')
    bad = subprocess.run(
        [sys.executable, "-m", "air_tui", "rules"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AIR_TUI_DATA_DIR": str(isolated_data_dir), "AIR_TUI_CONFIG": str(config)},
    )
    assert bad.returncode == 1
    assert "url.shortnr" in bad.stderr


def test_ingest_takes_several_paths_and_shows_hidden_characters(tmp_path: Path, isolated_data_dir: Path) -> None:
    first = tmp_path / "one.eml"
    first.write_bytes("From: a@b.example\r\nSubject: Pay\u200bment due \u202eexe.pdf\r\n\r\nbody\r\n".encode())
    second = tmp_path / "two.eml"
    second.write_bytes(b"From: c@d.example\r\nSubject: second\r\n\r\nbody\r\n")
    result = air_tui("ingest", str(first), str(second), data_dir=isolated_data_dir)
    assert result.returncode == 0, result.stderr
    assert "2 messages" in result.stdout
    assert "Pay⟨ZWSP⟩ment due ⟨RLO⟩exe.pdf" in result.stdout
    assert "\u202e" not in result.stdout


def test_reset_demo_with_a_tenant_is_refused(tenant_copy: Path, isolated_data_dir: Path) -> None:
    result = air_tui("investigate", "--tenant", str(tenant_copy), "--reset-demo", data_dir=isolated_data_dir)
    assert result.returncode == 1
    assert "--reset-demo" in result.stderr
    assert "--tenant" in result.stderr


def test_missing_env_config_fails(tmp_path: Path, isolated_data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "air_tui", "rules"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "AIR_TUI_DATA_DIR": str(isolated_data_dir), "AIR_TUI_CONFIG": str(tmp_path / "nope.toml")},
    )
    assert result.returncode == 1
    assert "nope.toml does not exist" in result.stderr


def test_policies_lists_every_policy_and_disabled_ones(tenant_copy: Path, isolated_data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[alerts]\ndisabled = ["forwarding-rule-created"]\n')
    listed = air_tui("policies", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config)
    assert listed.returncode == 0, listed.stderr
    policies = {policy["id"]: policy for policy in json.loads(listed.stdout)}
    assert len(policies) == 14
    assert policies["forwarding-rule-created"]["enabled"] is False
    assert policies["url-click"]["aggregate"] is False
    assert policies["user-restricted"]["severity"] == "High"
    config.write_text('[alerts]\ndisabled = ["no-such-policy"]\n')
    rejected = air_tui("policies", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert rejected.returncode == 1
    assert "no-such-policy" in rejected.stderr
    assert "air-tui policies" in rejected.stderr


def test_incidents_and_investigations_commands(tenant_copy: Path, isolated_data_dir: Path) -> None:
    investigate = air_tui("investigate", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir)
    assert investigate.returncode == 0, investigate.stderr
    summary = json.loads(investigate.stdout)
    assert summary["removals"], "the demo removes mail after delivery"
    incidents = json.loads(air_tui("incidents", "list", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)
    alert_ids = {alert["id"] for alert in summary["alerts"]}
    assert alert_ids == {alert_id for incident in incidents if incident["status"] != "Redirected" for alert_id in incident["alert_ids"]}
    assigned = air_tui("incidents", "assign", incidents[0]["id"], "Lead Analyst", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert assigned.returncode == 0, assigned.stderr
    assert "Lead Analyst" in assigned.stdout
    listing = json.loads(air_tui("investigations", "list", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)
    playbooks = {item["playbook"] for item in listing}
    assert {"User-reported message", "URL click", "Compromised user", "Manual email investigation"} <= playbooks
    pending = next(item for item in listing if item["status"] == "Pending action")
    missing = air_tui("investigations", "stop", pending["id"], "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert missing.returncode == 1
    assert "reason" in missing.stderr
    stopped = air_tui("investigations", "stop", pending["id"], "--comment", "handled by hand", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert stopped.returncode == 0, stopped.stderr
    after = {item["id"]: item for item in json.loads(air_tui("investigations", "list", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)}
    assert after[pending["id"]]["status"] == "Terminated by user"


def test_manual_investigation_from_the_command_line(tenant_copy: Path, isolated_data_dir: Path) -> None:
    assert air_tui("investigate", "--tenant", str(tenant_copy), data_dir=isolated_data_dir).returncode == 0
    summary = json.loads(air_tui("investigate", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir).stdout)
    reported = next(alert for alert in summary["alerts"] if alert["policy_id"] == "user-reported-phish")
    detail = next(item for item in summary["investigations"] if item["id"] == reported["investigation_id"])
    message_id = next(entity["key"] for entity in detail["entities"] if entity["kind"] == "message")
    started = air_tui("investigations", "start", message_id, "--on", "recipient", "--json", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert started.returncode == 0, started.stderr
    outcome = json.loads(started.stdout)
    assert outcome["alert"]["policy_id"] == "manual-user-compromise"
    assert outcome["investigation_id"]
    unknown = air_tui("investigations", "start", "0000000000000000", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert unknown.returncode == 1
    assert "No message with id 0000000000000000" in unknown.stderr


def test_explore_lists_matching_mail_and_names_bad_terms(tenant_copy: Path, isolated_data_dir: Path) -> None:
    assert air_tui("investigate", "--tenant", str(tenant_copy), data_dir=isolated_data_dir).returncode == 0
    found = air_tui("explore", "folder:Quarantine", "verdict:malicious", "--json", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert result["count"] == len(result["rows"]) > 0
    assert {row["folder"] for row in result["rows"]} == {"Quarantine"}
    assert {row["verdict"] for row in result["rows"]} == {"Malicious"}
    bad = air_tui("explore", "after:30-11-2026", "--tenant", str(tenant_copy), data_dir=isolated_data_dir)
    assert bad.returncode == 2
    assert "30-11-2026" in bad.stderr
