"""Feed files in URLhaus and OpenPhish formats, written here in the formats those services publish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from air_tui.intel import Indicator, IntelError, IntelMatch, IntelSnapshot
from air_tui.intel.feeds import parse_feed

URLHAUS = """################################################################
# abuse.ch URLhaus Database Dump (CSV)                         #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3412345","2026-11-21 10:11:12","http://203.0.113.7/bins/mozi.m","online","2026-11-22 00:00:00","malware_download","elf,Mozi","https://urlhaus.example/url/3412345/","lrz_urlhaus"
"3412346","2026-11-21 10:15:00","https://files.evil.example/invoice.zip","offline","","malware_download","zip","https://urlhaus.example/url/3412346/","anonymous"
"""


def test_urlhaus_export_loaded(tmp_path: Path) -> None:
    (tmp_path / "urlhaus-recent.csv").write_text(URLHAUS)
    snapshot = IntelSnapshot.load(tmp_path)
    match = snapshot.lookup_url("https://FILES.evil.example/invoice.zip")
    assert match is not None
    assert (match.source, match.threat, match.added) == ("URLhaus", "Malware", "2026-11-21")
    assert snapshot.lookup_url("http://203.0.113.7/bins/mozi.m") is not None


def test_openphish_feed_loaded(tmp_path: Path) -> None:
    (tmp_path / "openphish.txt").write_text("https://login.evil.example/office365/\n\n# note\nhttp://paypa1.example/signin\n")
    snapshot = IntelSnapshot.load(tmp_path)
    match = snapshot.lookup_url("https://login.evil.example/office365/")
    assert match is not None
    assert (match.source, match.threat) == ("OpenPhish", "Phish")
    assert len(match.added) == 10
    assert len(snapshot.urls) == 2


def test_short_urlhaus_row_names_file(tmp_path: Path) -> None:
    (tmp_path / "urlhaus.csv").write_text('"1","2026-11-21"\n')
    with pytest.raises(IntelError, match="urlhaus.csv: row 1 has 2 columns"):
        IntelSnapshot.load(tmp_path)


def test_snapshot_csv_missing_column(tmp_path: Path) -> None:
    (tmp_path / "urls.csv").write_text("link,threat\nhttp://x.example,Phish\n")
    with pytest.raises(IntelError, match="has no 'url' column"):
        IntelSnapshot.load(tmp_path)


def test_openphish_html_page_rejected() -> None:
    with pytest.raises(IntelError, match=r"feed x: line 2 is not an http or https URL: '<title>Login</title>'"):
        parse_feed(b"https://ok.example/a\n<title>Login</title>\n", "openphish", "feed x", added="")


def test_feed_not_utf8_rejected() -> None:
    with pytest.raises(IntelError, match="feed gz is not UTF-8 text"):
        parse_feed(b"\x1f\x8b\x08\x00\xff\xfe", "urlhaus", "feed gz", added="")


def test_csv_formats_parse_kinds() -> None:
    domains = parse_feed(b"domain,threat,source,added\nBad.Example.,Phish,team,2026-11-02\n", "domains", "feed d", added="")
    allow = parse_feed(b"domain\nnorthwind.example\n", "allow_domains", "feed a", added="")
    assert domains == [Indicator(kind="domain", value="bad.example", threat="Phish", source="team", added="2026-11-02")]
    assert allow[0].kind == "allow_domain"
    assert allow[0].source == "feed a"


def test_snapshot_rows_keep_earliest_listing() -> None:
    rows = [
        {"kind": "url", "indicator": "http://x.example/a", "threat": "Phish", "source": "OpenPhish", "added": "2026-11-29", "feed": "openphish", "fetched": "2026-11-30T06:00:00+00:00"},
        {"kind": "url", "indicator": "http://x.example/a", "threat": "Malware", "source": "URLhaus", "added": "2026-11-21", "feed": "urlhaus", "fetched": "2026-11-30T05:00:00+00:00"},
        {"kind": "allow_domain", "indicator": "northwind.example", "threat": "", "source": "", "added": "", "feed": "intel/allow_domains.csv", "fetched": ""},
    ]
    snapshot = IntelSnapshot.from_rows(rows)
    match = snapshot.lookup_url("HTTP://X.example/a")
    assert match is not None
    assert (match.source, match.feed, match.added) == ("URLhaus", "urlhaus", "2026-11-21")
    assert match.fetched == datetime(2026, 11, 30, 5, tzinfo=UTC)
    assert snapshot.allowed("mail.northwind.example") is not None
    assert snapshot.entry_count == 1


def test_describe_without_feed_details() -> None:
    match = IntelMatch(indicator="bad.example", threat="Phish", source="demo-snapshot", added="")
    assert match.describe("Domain") == "Domain bad.example is listed as Phish by demo-snapshot"


def test_describe_age_units() -> None:
    match = IntelMatch(indicator="bad.example", threat="Phish", source="URLhaus", added="2026-11-28", feed="URLhaus", fetched=datetime(2026, 11, 30, tzinfo=UTC))
    assert match.describe("Domain", now=datetime(2026, 11, 30, 0, 0, 30, tzinfo=UTC)).endswith("since 2026-11-28 (fetched just now)")
    assert match.describe("Domain", now=datetime(2026, 11, 30, 0, 1, tzinfo=UTC)).endswith("(fetched 1 minute ago)")
    assert match.describe("Domain", now=datetime(2026, 12, 2, tzinfo=UTC)).endswith("(fetched 2 days ago)")
