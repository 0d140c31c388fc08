"""`refresh_intel` and `intel_status` against a real feed server on 127.0.0.1 and a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from air_tui.domain.config import Config, FeedConfig, IntelConfig
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.intel import IntelError
from air_tui.intel.download import DownloadStatus, download_feed, open_client
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace
from tests.conftest import FROZEN_START
from tests.intel.conftest import OPENPHISH_TXT, URLHAUS_CSV, FeedServer, Route


def open_service(workspace: Workspace, feeds: list[FeedConfig], clock: FrozenClock, *, max_age_days: int = 7) -> AirService:
    config = Config(intel=IntelConfig(feeds=feeds, max_age_days=max_age_days))
    return AirService(workspace, analyst="analyst1", clock=clock, new_id=SequentialIds(prefix="01INTEL"), config=config)


def stored_indicators(service: AirService, feed: str) -> set[str]:
    rows = service.store.db.execute("SELECT indicator FROM intel_indicators WHERE feed = ?", [feed]).fetchall()
    return {row[0] for row in rows}


def feed_row(service: AirService, name: str) -> dict:
    return next(service.store.db.query("SELECT * FROM intel_feeds WHERE name = ?", [name]))


def test_good_feeds_update_bad_keep_rows(workspace: Workspace, feed_server: FeedServer, refused_url: str) -> None:
    for path in ("/urlhaus.csv", "/openphish.txt", "/flaky.txt", "/corrupt.txt"):
        feed_server.routes[path] = Route(body=OPENPHISH_TXT.encode() if path != "/urlhaus.csv" else URLHAUS_CSV.encode())
    feeds = [
        FeedConfig(name="urlhaus-recent", url=feed_server.url("/urlhaus.csv"), format="urlhaus"),
        FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish"),
        FeedConfig(name="flaky", url=feed_server.url("/flaky.txt"), format="openphish"),
        FeedConfig(name="corrupt", url=feed_server.url("/corrupt.txt"), format="openphish"),
    ]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        first = service.refresh_intel()
        assert [outcome.status for outcome in first] == [DownloadStatus.UPDATED] * 4
        first_success = feed_row(service, "flaky")["last_success"]

    # Next day: the good feeds change, one server fails, one feed is gone, one serves garbage.
    clock.now = FROZEN_START + timedelta(days=1)
    feed_server.routes["/urlhaus.csv"] = Route(body=(URLHAUS_CSV + '"3412399","2026-11-30 05:00:00","https://cdn.bad.example/a.exe","online","","malware_download","exe","https://urlhaus.abuse.ch/url/3412399/","anonymous"\n').encode())
    feed_server.routes["/openphish.txt"] = Route(body=b"https://new-phish.example/login\n")
    feed_server.routes["/flaky.txt"] = Route(status=500, body=b"internal error")
    feed_server.routes["/corrupt.txt"] = Route(body=b"<html><body>Service unavailable</body></html>\n")
    feeds.append(FeedConfig(name="gone", url=refused_url, format="urls"))
    with open_service(workspace, feeds, clock) as service:
        outcomes = {outcome.name: outcome for outcome in service.refresh_intel()}

        assert outcomes["urlhaus-recent"].status is DownloadStatus.UPDATED
        assert outcomes["urlhaus-recent"].count == 3
        assert "https://cdn.bad.example/a.exe" in stored_indicators(service, "urlhaus-recent")
        assert stored_indicators(service, "openphish") == {"https://new-phish.example/login"}

        assert outcomes["flaky"].status is DownloadStatus.FAILED
        assert "HTTP 500" in outcomes["flaky"].error
        assert outcomes["flaky"].count == 2
        assert stored_indicators(service, "flaky") == {"https://login.contoso-verify.example/owa/", "http://paypa1.example/signin"}
        assert feed_row(service, "flaky")["last_success"] == first_success
        assert "HTTP 500" in feed_row(service, "flaky")["last_error"]

        assert outcomes["corrupt"].status is DownloadStatus.FAILED
        assert "looks like an HTML page" in outcomes["corrupt"].error
        assert len(stored_indicators(service, "corrupt")) == 2

        assert outcomes["gone"].status is DownloadStatus.FAILED
        assert "ConnectError" in outcomes["gone"].error
        assert feed_row(service, "gone")["count"] == 0

        # The snapshot the engine uses has the good feeds' new rows and the bad feeds' old ones.
        assert service.intel.lookup_url("https://cdn.bad.example/a.exe") is not None
        assert service.intel.lookup_url("http://paypa1.example/signin") is not None
        assert service.intel.lookup_url("HTTPS://New-Phish.example/login") is not None


def test_conditional_request_not_modified(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/urlhaus.csv"] = Route(body=URLHAUS_CSV.encode(), headers={"ETag": '"v1"', "Last-Modified": "Sun, 29 Nov 2026 06:00:00 GMT"})
    feeds = [FeedConfig(name="urlhaus-recent", url=feed_server.url("/urlhaus.csv"), format="urlhaus")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(hours=5)
        outcome = service.refresh_intel()[0]

        assert outcome.status is DownloadStatus.NOT_MODIFIED
        assert outcome.count == 2
        second = feed_server.requests_to("/urlhaus.csv")[1]
        assert second["if-none-match"] == '"v1"'
        assert second["if-modified-since"] == "Sun, 29 Nov 2026 06:00:00 GMT"
        match = service.intel.lookup_url("http://203.0.113.7/bins/mozi.m")
        assert match is not None
        assert match.fetched == clock.now


def test_match_names_feed_and_age(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/urlhaus.csv"] = Route(body=URLHAUS_CSV.encode())
    feeds = [FeedConfig(name="urlhaus-recent", url=feed_server.url("/urlhaus.csv"), format="urlhaus")]
    with open_service(workspace, feeds, FrozenClock(FROZEN_START)) as service:
        service.refresh_intel()
        match = service.intel.lookup_url("https://FILES.evil.example/invoice.zip")

    assert match is not None
    assert (match.feed, match.source, match.added) == ("urlhaus-recent", "URLhaus", "2026-11-21")
    text = match.describe("URL", now=FROZEN_START + timedelta(hours=3))
    assert text == "URL https://files.evil.example/invoice.zip is listed as Malware by URLhaus since 2026-11-21 (feed urlhaus-recent, fetched 3 hours ago)"
    assert match.describe("URL").endswith("(feed urlhaus-recent, fetched 2026-11-30 09:30 UTC)")


def test_openphish_keeps_first_added_date(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=b"https://old-phish.example/a\n")
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(days=2)
        feed_server.routes["/openphish.txt"] = Route(body=b"https://old-phish.example/a\nhttps://new-phish.example/b\n")
        service.refresh_intel()

        old = service.intel.lookup_url("https://old-phish.example/a")
        new = service.intel.lookup_url("https://new-phish.example/b")
    assert old is not None and new is not None
    assert old.added == "2026-11-30"
    assert new.added == "2026-12-02"


def test_removed_feed_rows_deleted(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=OPENPHISH_TXT.encode())
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
    with open_service(workspace, [], clock) as service:
        assert service.intel.lookup_url("http://paypa1.example/signin") is None
        outcomes = service.refresh_intel()
        assert stored_indicators(service, "openphish") == set()
    # The refresh lists what it deleted, so a feed dropped from the file by mistake is noticed.
    assert [(outcome.name, outcome.status.value) for outcome in outcomes] == [("openphish", "removed")]
    assert outcomes[0].count > 0


def test_disabled_feed_not_used(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=OPENPHISH_TXT.encode())
    feed = FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, [feed], clock) as service:
        service.refresh_intel()
    disabled = feed.model_copy(update={"enabled": False})
    with open_service(workspace, [disabled], clock) as service:
        assert service.intel.lookup_url("http://paypa1.example/signin") is None
        assert service.refresh_intel() == []
        assert [status.enabled for status in service.intel_status() if status.origin == "download"] == [False]


def test_status_reports_stale_and_error(workspace: Workspace, feed_server: FeedServer, refused_url: str) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=OPENPHISH_TXT.encode())
    feeds = [
        FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish"),
        FeedConfig(name="offline", url=refused_url, format="urlhaus"),
    ]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock, max_age_days=7) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(days=8)
        statuses = {status.name: status for status in service.intel_status()}

    assert statuses["openphish"].count == 2
    assert statuses["openphish"].stale
    assert statuses["openphish"].age == "8 days ago"
    assert statuses["offline"].stale
    assert statuses["offline"].age_seconds is None
    assert "ConnectError" in statuses["offline"].last_error
    # The tenant's own intel files are listed too, and never stale.
    listed = len((workspace.tenant_dir / "intel" / "urls.csv").read_text().splitlines()) - 1
    assert statuses["intel/urls.csv"].count == listed
    assert not statuses["intel/urls.csv"].stale


def test_tenant_file_changes_reimported(workspace: Workspace) -> None:
    urls = workspace.tenant_dir / "intel" / "urls.csv"
    with open_service(workspace, [], FrozenClock(FROZEN_START)) as service:
        assert service.intel.lookup_url("https://juliodejens.icu") is not None
    urls.write_text("url,threat,source,added\nhttps://fresh.example/x,Phish,analyst,2026-11-30\n")
    (workspace.tenant_dir / "intel" / "domains.csv").unlink()
    with open_service(workspace, [], FrozenClock(FROZEN_START)) as service:
        assert service.intel.lookup_url("https://juliodejens.icu") is None
        assert service.intel.lookup_url("https://fresh.example/x") is not None
        assert service.intel.lookup_domain("spmcore.online") is None
        assert stored_indicators(service, "intel/domains.csv") == set()


def test_broken_tenant_file_names_file(workspace: Workspace) -> None:
    (workspace.tenant_dir / "intel" / "file_hashes.csv").write_text("sha256,threat\nnot-a-hash,Malware\n")
    with open_service(workspace, [], FrozenClock(FROZEN_START)) as service, pytest.raises(IntelError, match=r"file_hashes.csv contains no valid indicator, because its only line is invalid: line 2 'not-a-hash'"):
        service.intel  # noqa: B018 - the property reads the files


def test_download_over_size_cap_fails(feed_server: FeedServer) -> None:
    feed_server.routes["/big.txt"] = Route(body=b"https://a.example/x\n" * 100)
    feed = FeedConfig(name="big", url=feed_server.url("/big.txt"), format="openphish")
    with open_client() as client:
        result = download_feed(client, feed, max_bytes=1000)
    assert result.status is DownloadStatus.FAILED
    assert "more than the 1000-byte limit" in result.error
    assert result.indicators == []


def test_download_without_content_length_capped() -> None:
    def stream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"https://a.example/x\n"] * 100))

    feed = FeedConfig(name="chunked", url="http://feeds.test/chunked.txt", format="openphish")
    with open_client(httpx.MockTransport(stream)) as client:
        result = download_feed(client, feed, max_bytes=1000)
    assert result.status is DownloadStatus.FAILED
    assert "larger than the 1000-byte limit" in result.error


def test_empty_download_rejected(feed_server: FeedServer) -> None:
    feed_server.routes["/empty.csv"] = Route(body=b"# nothing today\n")
    feed = FeedConfig(name="empty", url=feed_server.url("/empty.csv"), format="urlhaus")
    with open_client() as client:
        result = download_feed(client, feed)
    assert result.status is DownloadStatus.FAILED
    assert result.error == "the feed contains no indicators"


def test_non_http_feed_url_rejected() -> None:
    feed = FeedConfig(name="local", url="file:///etc/hosts", format="openphish")
    with open_client() as client:
        result = download_feed(client, feed)
    assert result.status is DownloadStatus.FAILED
    assert "is not an http or https URL" in result.error



GOOD_PHISH = [f"https://phish{number}.example/login" for number in range(12)]


def url_list(*lines: str) -> bytes:
    return "".join(f"{line}\n" for line in lines).encode()


def test_bad_line_skipped_good_urls_kept(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=url_list(*GOOD_PHISH[:4], "not a url", *GOOD_PHISH[4:]))
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    with open_service(workspace, feeds, FrozenClock(FROZEN_START)) as service:
        outcome = service.refresh_intel()[0]
        status = next(status for status in service.intel_status() if status.name == "openphish")

        assert outcome.status is DownloadStatus.UPDATED
        assert outcome.count == 12
        assert outcome.skipped == 1
        assert outcome.describe_skipped() == "skipped 1 invalid line: line 5 'not a url' (not an http or https URL)"
        assert stored_indicators(service, "openphish") == set(GOOD_PHISH)
        assert feed_row(service, "openphish")["skipped"] == 1
        assert status.skipped == 1
        assert status.skipped_examples == outcome.skipped_examples
        assert service.intel.lookup_url(GOOD_PHISH[11]) is not None


def test_not_modified_keeps_skipped_count(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=url_list(*GOOD_PHISH, "not a url"), headers={"ETag": '"v1"'})
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(hours=1)
        outcome = service.refresh_intel()[0]

    assert outcome.status is DownloadStatus.NOT_MODIFIED
    assert outcome.skipped == 1
    assert outcome.skipped_examples[0].line == 13


def test_html_page_fails_keeps_old_rows(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=url_list(*GOOD_PHISH, "not a url"))
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(days=1)
        feed_server.routes["/openphish.txt"] = Route(body=b"<!DOCTYPE html>\n<html><head><title>Please sign in</title></head>\n<body>https://portal.example/</body></html>\n")
        outcome = service.refresh_intel()[0]

        assert outcome.status is DownloadStatus.FAILED
        assert outcome.error == "feed openphish looks like an HTML page, not a feed in the openphish format: line 1 is '<!DOCTYPE html>'. Check that the URL or file contains the feed itself, not a login or error page"
        assert outcome.count == 12
        assert stored_indicators(service, "openphish") == set(GOOD_PHISH)
        row = feed_row(service, "openphish")
        assert row["last_success"] == FROZEN_START.isoformat()
        assert "looks like an HTML page" in row["last_error"]
        # The stored rows are still those of the first download, with its one skipped line.
        assert row["skipped"] == 1
        assert outcome.skipped == 1


def test_mostly_bad_list_fails(workspace: Workspace, feed_server: FeedServer) -> None:
    feed_server.routes["/openphish.txt"] = Route(body=url_list(*GOOD_PHISH[:3]))
    feeds = [FeedConfig(name="openphish", url=feed_server.url("/openphish.txt"), format="openphish")]
    clock = FrozenClock(FROZEN_START)
    with open_service(workspace, feeds, clock) as service:
        service.refresh_intel()
        clock.now = FROZEN_START + timedelta(days=1)
        bad = [f"203.0.113.{number} phish kit" for number in range(8)]
        feed_server.routes["/openphish.txt"] = Route(body=url_list("https://new.example/a", *bad, "https://new.example/b"))
        outcome = service.refresh_intel()[0]

        assert outcome.status is DownloadStatus.FAILED
        assert "does not look like the openphish format, because 8 of its 10 lines are invalid, more than 10%" in outcome.error
        assert "line 2 '203.0.113.0 phish kit' (not an http or https URL)" in outcome.error
        assert "and 3 more" in outcome.error
        assert stored_indicators(service, "openphish") == set(GOOD_PHISH[:3])
        assert outcome.skipped == 0


def test_hash_csv_short_hash_keeps_rest(workspace: Workspace, feed_server: FeedServer) -> None:
    hashes = [f"{number:064x}" for number in range(1, 11)]
    rows = [f"{value},Malware,team,2026-11-20" for value in hashes]
    body = "\n".join(["sha256,threat,source,added", *rows[:6], "9f86d081884c7d65,Malware,team,2026-11-20", *rows[6:]]) + "\n"
    feed_server.routes["/hashes.csv"] = Route(body=body.encode())
    feeds = [FeedConfig(name="team-hashes", url=feed_server.url("/hashes.csv"), format="file_hashes")]
    with open_service(workspace, feeds, FrozenClock(FROZEN_START)) as service:
        outcome = service.refresh_intel()[0]

        assert outcome.status is DownloadStatus.UPDATED
        assert outcome.count == 10
        assert outcome.describe_skipped() == "skipped 1 invalid line: line 8 '9f86d081884c7d65' (not a SHA-256: 16 characters instead of 64 hexadecimal digits)"
        assert stored_indicators(service, "team-hashes") == set(hashes)
        assert service.intel.lookup_file(hashes[-1].upper()) is not None


def test_tenant_file_bad_line_skipped(workspace: Workspace, caplog: pytest.LogCaptureFixture) -> None:
    hashes = workspace.tenant_dir / "intel" / "file_hashes.csv"
    valid = len(hashes.read_text().splitlines()) - 1
    hashes.write_text(hashes.read_text() + "not-a-hash,Malware,analyst,2026-11-30\n")
    with caplog.at_level("WARNING", logger="air_tui"), open_service(workspace, [], FrozenClock(FROZEN_START)) as service:
        assert service.intel.lookup_file("2ee76a7ad592f843c3037164e09dd8138fa97e193e2c9fae0df5c61a87ffb9c1") is not None
        status = next(status for status in service.intel_status() if status.name == "intel/file_hashes.csv")

    assert status.count == valid
    line = valid + 2
    assert status.describe_skipped() == f"skipped 1 invalid line: line {line} 'not-a-hash' (not a SHA-256: 10 characters instead of 64 hexadecimal digits)"
    assert f"Intel file {hashes}: skipped 1 invalid line: line {line} 'not-a-hash'" in caplog.text
