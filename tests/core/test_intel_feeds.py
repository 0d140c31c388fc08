"""Feed files in URLhaus and OpenPhish formats, written here in the formats those services publish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from air_tui.intel import Indicator, IntelError, IntelMatch, IntelSnapshot
from air_tui.intel.feeds import SKIPPED_EXAMPLES, parse_feed, read_local_feeds
from air_tui.intel.skipped import SkippedLine, skipped_columns, stored_skipped

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
    with pytest.raises(IntelError, match=r"urlhaus.csv contains no valid indicator, because its only line is invalid: line 1 '\"1\",\"2026-11-21\"' \(2 columns"):
        IntelSnapshot.load(tmp_path)


def test_snapshot_csv_missing_column(tmp_path: Path) -> None:
    (tmp_path / "urls.csv").write_text("link,threat\nhttp://x.example,Phish\n")
    with pytest.raises(IntelError, match="has no 'url' column"):
        IntelSnapshot.load(tmp_path)


def test_openphish_html_page_rejected() -> None:
    with pytest.raises(IntelError, match=r"feed x looks like an HTML page, not a feed in the openphish format: line 2 is '<title>Login</title>'"):
        parse_feed(b"https://ok.example/a\n<title>Login</title>\n", "openphish", "feed x", added="")


def test_feed_not_utf8_rejected() -> None:
    with pytest.raises(IntelError, match="feed gz is not UTF-8 text"):
        parse_feed(b"\x1f\x8b\x08\x00\xff\xfe", "urlhaus", "feed gz", added="")


def test_csv_formats_parse_kinds() -> None:
    domains = parse_feed(b"domain,threat,source,added\nBad.Example.,Phish,team,2026-11-02\n", "domains", "feed d", added="").indicators
    allow = parse_feed(b"domain\nnorthwind.example\n", "allow_domains", "feed a", added="").indicators
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


def openphish(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


GOOD_URLS = [f"https://phish{number}.example/login" for number in range(20)]


def test_openphish_bad_line_skipped() -> None:
    parsed = parse_feed(openphish(*GOOD_URLS[:5], "not a url", *GOOD_URLS[5:]), "openphish", "feed op", added="")

    assert len(parsed.indicators) == 20
    assert parsed.skipped == 1
    assert parsed.lines == 21
    assert parsed.examples == (SkippedLine(line=6, value="not a url", reason="not an http or https URL"),)
    assert parsed.describe_skipped() == "skipped 1 invalid line: line 6 'not a url' (not an http or https URL)"


def test_skipped_line_numbers_count_comments() -> None:
    parsed = parse_feed(openphish("# header", "", GOOD_URLS[0], "http://[broken", GOOD_URLS[1]), "openphish", "feed op", added="")

    assert [example.line for example in parsed.examples] == [4]
    assert parsed.examples[0].reason.startswith("invalid URL: ")


def test_skipped_value_shows_hidden_characters() -> None:
    parsed = parse_feed(openphish(*GOOD_URLS, "evil\u202etxt.exe\x1b[2J", "x" * 200), "openphish", "feed op", added="")

    assert parsed.examples[0].value == "evil⟨U+202E⟩txt.exe⟨U+001B⟩[2J"
    assert parsed.examples[1].value == "x" * 80 + "…"


def test_more_skipped_lines_counted_not_named() -> None:
    bad = [f"bad line {number}" for number in range(7)]
    parsed = parse_feed(openphish(*GOOD_URLS, *GOOD_URLS, *GOOD_URLS, *GOOD_URLS, *bad), "openphish", "feed op", added="")

    assert parsed.skipped == 7
    assert len(parsed.examples) == SKIPPED_EXAMPLES
    assert parsed.describe_skipped().endswith("; and 2 more")


def test_few_bad_lines_tolerated_in_short_file() -> None:
    parsed = parse_feed(openphish(GOOD_URLS[0], "typo one", "typo two"), "openphish", "feed op", added="")

    assert len(parsed.indicators) == 1
    assert parsed.skipped == 2


def test_share_of_bad_lines_over_limit_rejected() -> None:
    # 3 of 21 lines is 14%, more than 10% and more than the 2 lines always tolerated.
    content = openphish(*GOOD_URLS[:18], "bad one", "bad two", "bad three")
    with pytest.raises(IntelError, match=r"feed op does not look like the openphish format, because 3 of its 21 lines are invalid, more than 10%: line 19 'bad one'"):
        parse_feed(content, "openphish", "feed op", added="")


def test_share_at_limit_accepted() -> None:
    # 3 of 30 lines is exactly 10%, which is not more than the limit.
    content = openphish(*GOOD_URLS, *GOOD_URLS[:7], "bad one", "bad two", "bad three")
    assert parse_feed(content, "openphish", "feed op", added="").skipped == 3


def test_every_line_bad_rejected() -> None:
    with pytest.raises(IntelError, match=r"feed op contains no valid indicator, because all 2 of its lines are invalid: line 1 'a' \(not an http or https URL\); line 2 'b'"):
        parse_feed(openphish("a", "b"), "openphish", "feed op", added="")


@pytest.mark.parametrize(
    ("content", "feed_format"),
    [
        (b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n", "openphish"),
        (b"\n  <html lang=en>\n<body>Service unavailable</body>\n", "urlhaus"),
        (b"<html><body>Not found</body></html>\n", "file_hashes"),
    ],
)
def test_html_page_rejected(content: bytes, feed_format: str) -> None:
    with pytest.raises(IntelError, match=f"feed h looks like an HTML page, not a feed in the {feed_format} format"):
        parse_feed(content, feed_format, "feed h", added="")


def test_urlhaus_short_row_skipped() -> None:
    lines = URLHAUS.splitlines()
    content = "\n".join([*lines[:6], '"3412347","2026-11-21"', *lines[6:]]) + "\n"
    parsed = parse_feed(content.encode(), "urlhaus", "feed u", added="")

    assert len(parsed.indicators) == 2
    assert parsed.examples == (SkippedLine(line=7, value='"3412347","2026-11-21"', reason="2 columns, but a URLhaus export has 9"),)


def test_hash_csv_short_hash_skipped() -> None:
    rows = [f"{number:064x},Malware" for number in range(5)]
    content = "\n".join(["sha256,threat", *rows[:2], "abc123,Malware", *rows[2:]]) + "\n"
    parsed = parse_feed(content.encode(), "file_hashes", "file_hashes.csv", added="")

    assert [item.value for item in parsed.indicators] == [f"{number:064x}" for number in range(5)]
    assert parsed.examples == (SkippedLine(line=4, value="abc123", reason="not a SHA-256: 6 characters instead of 64 hexadecimal digits"),)


def test_domain_csv_bad_domain_skipped() -> None:
    content = b"domain,threat\nbad.example,Phish\nhttps://worse.example/x,Phish\nb\xc3\xbccher.example,Phish\nlocalhost,Phish\n"
    parsed = parse_feed(content, "domains", "feed d", added="")

    assert [item.value for item in parsed.indicators] == ["bad.example", "bücher.example"]
    assert [(example.line, example.reason) for example in parsed.examples] == [(3, "not a domain name"), (5, "not a domain name")]


def test_csv_error_skips_its_line() -> None:
    rows = [f"https://ok{number}.example/,Phish" for number in range(20)]
    content = "\n".join(["url,threat", *rows[:3], "https://huge.example/" + "a" * 200_000 + ",Phish", *rows[3:]]) + "\n"
    parsed = parse_feed(content.encode(), "urls", "feed c", added="")

    assert len(parsed.indicators) == 20
    assert parsed.examples[0].line == 5
    assert parsed.examples[0].reason.startswith("invalid CSV: field larger than field limit")


def test_tenant_file_skips_line_and_names_file(tmp_path: Path) -> None:
    (tmp_path / "urls.csv").write_text("url,threat\nhttps://a.example/x,Phish\nnot a url,Phish\n")
    feed = read_local_feeds(tmp_path)[0]

    assert (feed.name, len(feed.indicators), feed.skipped) == ("intel/urls.csv", 1, 1)
    assert feed.skipped_examples[0].describe() == "line 3 'not a url' (not an http or https URL)"


def test_tenant_file_of_other_format_names_file(tmp_path: Path) -> None:
    (tmp_path / "domains.csv").write_text("domain\n" + "".join(f"not a domain {number}\n" for number in range(3)) + "ok.example\n")
    with pytest.raises(IntelError, match=r"domains.csv does not look like the domains format, because 3 of its 4 lines are invalid"):
        read_local_feeds(tmp_path)


def test_stored_skipped_round_trip() -> None:
    examples = (SkippedLine(line=3, value="x", reason="not a domain name"),)
    assert stored_skipped(skipped_columns(4, examples)) == (4, examples)
    assert stored_skipped({"skipped": 2, "skipped_examples": "not json"}) == (2, ())
    assert stored_skipped({}) == (0, ())
