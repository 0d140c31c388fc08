"""Feed files in URLhaus and OpenPhish formats, written here in the formats those services publish."""

from __future__ import annotations

from pathlib import Path

import pytest

from air_tui.intel import IntelError, IntelSnapshot

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
