"""`air-tui intel refresh` and `air-tui intel status` as a user runs them, against a feed server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from air_tui.domain.config import ConfigError, load_config
from tests.intel.conftest import OPENPHISH_TXT, URLHAUS_CSV, FeedServer, Route


def air_tui(*args: str, data_dir: Path, config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AIR_TUI_DATA_DIR": str(data_dir), "AIR_TUI_CONFIG": str(config)}
    return subprocess.run([sys.executable, "-m", "air_tui", *args], capture_output=True, text=True, timeout=300, env=env)


def write_config(path: Path, feeds: list[tuple[str, str, str]], *, max_age_days: int = 7) -> Path:
    lines = ["[intel]", f"max_age_days = {max_age_days}", ""]
    for name, url, feed_format in feeds:
        lines += ["[[intel.feeds]]", f'name = "{name}"', f'url = "{url}"', f'format = "{feed_format}"', ""]
    path.write_text("\n".join(lines))
    return path


def test_refresh_then_status_json(tenant_copy: Path, isolated_data_dir: Path, feed_server: FeedServer, refused_url: str, tmp_path: Path) -> None:
    feed_server.routes["/urlhaus.csv"] = Route(body=URLHAUS_CSV.encode())
    feed_server.routes["/openphish.txt"] = Route(body=OPENPHISH_TXT.encode())
    config = write_config(
        tmp_path / "config.toml",
        [
            ("urlhaus-recent", feed_server.url("/urlhaus.csv"), "urlhaus"),
            ("openphish", feed_server.url("/openphish.txt"), "openphish"),
            ("offline", refused_url, "urls"),
        ],
    )
    refreshed = air_tui("intel", "refresh", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config)

    assert refreshed.returncode == 0, refreshed.stderr
    outcomes = {item["name"]: item for item in json.loads(refreshed.stdout)}
    assert outcomes["urlhaus-recent"]["status"] == "updated"
    assert outcomes["urlhaus-recent"]["count"] == 2
    assert outcomes["openphish"]["count"] == 2
    assert outcomes["offline"]["status"] == "failed"
    assert "intel feed offline" in refreshed.stderr
    assert "Connection refused" in refreshed.stderr

    status = air_tui("intel", "status", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config)
    assert status.returncode == 0, status.stderr
    feeds = {item["name"]: item for item in json.loads(status.stdout)}
    assert feeds["urlhaus-recent"]["count"] == 2
    assert feeds["urlhaus-recent"]["last_error"] == ""
    assert not feeds["urlhaus-recent"]["stale"]
    assert feeds["offline"]["stale"]
    assert "Connection refused" in feeds["offline"]["last_error"]
    assert feeds["intel/urls.csv"]["origin"] == "file"
    assert "intel feed offline has never been fetched" in status.stderr


def test_refresh_every_feed_failed_exit_1(tenant_copy: Path, isolated_data_dir: Path, feed_server: FeedServer, refused_url: str, tmp_path: Path) -> None:
    feed_server.routes["/broken.csv"] = Route(status=503, body=b"maintenance")
    config = write_config(
        tmp_path / "config.toml",
        [("mirror", feed_server.url("/broken.csv"), "urlhaus"), ("offline", refused_url, "openphish")],
    )
    result = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)

    assert result.returncode == 1
    assert "FAILED        mirror: the server answered HTTP 503 Service Unavailable. No previous indicators to keep." in result.stdout
    assert "intel feed mirror" in result.stderr
    assert "intel feed offline" in result.stderr


def test_status_on_demo_workspace(isolated_data_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", [])
    result = air_tui("intel", "status", data_dir=isolated_data_dir, config=config)

    assert result.returncode == 0, result.stderr
    assert "intel/urls.csv" in result.stdout
    assert (isolated_data_dir / "demo" / "air-tui.db").exists()


def test_refresh_without_feeds_explains(tenant_copy: Path, isolated_data_dir: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", [])
    result = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert result.returncode == 0
    assert "No enabled feeds. Add [[intel.feeds]]" in result.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[intel.feeds]]\nname = "a"\nurl = "http://x.example/a"\nformat = "urls"\n[[intel.feeds]]\nname = "a"\nurl = "http://x.example/b"\nformat = "urls"\n', "a appears more than once"),
        ('[[intel.feeds]]\nname = "intel/urls.csv"\nurl = "http://x.example/a"\nformat = "urls"\n', "starts with 'intel/'"),
        ("[intel.online]\nrequests_per_minute = 0\n", "positive number of requests a minute"),
        ("[intel.online]\ncache_hours = -1\n", "0 or a positive number of hours"),
        ("[intel]\nmax_age_days = 0\n", "positive number of days"),
    ],
)
def test_bad_intel_config_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_refresh_reports_skipped_line(tenant_copy: Path, isolated_data_dir: Path, feed_server: FeedServer, tmp_path: Path) -> None:
    good = [f"https://phish{number}.example/login" for number in range(12)]
    feed_server.routes["/openphish.txt"] = Route(body="\n".join([*good[:2], "not a\u202eurl", *good[2:]]).encode())
    config = write_config(tmp_path / "config.toml", [("openphish", feed_server.url("/openphish.txt"), "openphish")])

    refreshed = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "updated       openphish: 12 indicators, skipped 1 invalid line: line 3 'not a⟨U+202E⟩url' (not an http or https URL)" in refreshed.stdout
    assert "air-tui: warning: intel feed openphish" in refreshed.stderr
    assert "\u202e" not in refreshed.stdout + refreshed.stderr

    as_json = air_tui("intel", "refresh", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config)
    assert as_json.returncode == 0, as_json.stderr
    outcome = json.loads(as_json.stdout)[0]
    assert outcome["status"] == "not modified"
    assert outcome["count"] == 12
    assert outcome["skipped"] == 1
    assert outcome["skipped_examples"] == [{"line": 3, "value": "not a⟨U+202E⟩url", "reason": "not an http or https URL"}]

    status = air_tui("intel", "status", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert status.returncode == 0, status.stderr
    assert "skipped 1 invalid line: line 3 'not a⟨U+202E⟩url'" in status.stdout

    status_json = air_tui("intel", "status", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config)
    feeds = {item["name"]: item for item in json.loads(status_json.stdout)}
    assert feeds["openphish"]["skipped"] == 1
    assert feeds["openphish"]["skipped_examples"][0]["line"] == 3
    assert feeds["intel/urls.csv"]["skipped"] == 0


def test_refresh_html_page_failed(tenant_copy: Path, isolated_data_dir: Path, feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.routes["/urlhaus.csv"] = Route(body=URLHAUS_CSV.encode())
    config = write_config(tmp_path / "config.toml", [("urlhaus-recent", feed_server.url("/urlhaus.csv"), "urlhaus")])
    first = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert first.returncode == 0, first.stderr

    feed_server.routes["/urlhaus.csv"] = Route(body=b"<html><body>Rate limit exceeded</body></html>\n")
    result = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)

    assert result.returncode == 1
    assert "FAILED        urlhaus-recent: feed urlhaus-recent looks like an HTML page" in result.stdout
    assert "not a login or error page. Keeping the previous 2 indicators." in result.stdout
    assert "intel feed urlhaus-recent" in result.stderr


def test_refresh_removes_delivered_mail_it_makes_malicious(tenant_copy: Path, isolated_data_dir: Path, feed_server: FeedServer, tmp_path: Path) -> None:
    url = "https://invoice-settlement.test/pay/4471"
    mailbox = "margot.visser@larkspur.example"
    # Delivered four hours before the demo tenant's present, so inside the 48-hour window.
    key = "1796014800.M9001P1.testhost"
    raw = (
        f"From: Billing <billing@invoice-settlement.test>\r\nTo: {mailbox}\r\nSubject: Invoice 4471 overdue\r\n"
        "Date: Mon, 30 Nov 2026 07:00:00 +0000\r\nMessage-ID: <4471@invoice-settlement.test>\r\n\r\n"
        f"Pay today at {url}\r\n"
    )
    inbox = tenant_copy / "mailboxes" / mailbox / "Inbox" / "cur"
    (inbox / f"{key}:2,").write_text(raw)
    config = write_config(tmp_path / "config.toml", [("team-urls", feed_server.url("/urls.txt"), "openphish")])
    first = air_tui("investigate", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert first.returncode == 0, first.stderr
    assert (inbox / f"{key}:2,").exists(), "nothing lists the URL yet"

    feed_server.routes["/urls.txt"] = Route(body=f"{url}\n".encode())
    refreshed = air_tui("intel", "refresh", "--tenant", str(tenant_copy), data_dir=isolated_data_dir, config=config)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "Removal after delivery: 1 moved" in refreshed.stdout
    assert not (inbox / f"{key}:2,").exists()
    moved = list((tenant_copy / "mailboxes" / mailbox).glob(f"*/cur/{key}*"))
    # An exact URL on a phishing list is high-confidence phish, which goes to quarantine.
    assert [path.parent.parent.name for path in moved] == ["Quarantine"]
    summary = json.loads(air_tui("investigate", "--tenant", str(tenant_copy), "--json", data_dir=isolated_data_dir, config=config).stdout)
    alert = next(item for item in summary["alerts"] if item["policy_id"] == "malicious-url-removed" and "Invoice 4471" in item["subject"])
    assert alert["investigation_id"]
