"""Online look-ups with recorded VirusTotal v3 and URLhaus API responses, cached in a real SQLite file.

The services cannot run here, so `httpx.MockTransport` returns response bodies written
from the services' documented shapes (tests/intel/recorded/).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from air_tui.domain.config import OnlineLookups
from air_tui.domain.ids import FrozenClock
from air_tui.intel.online import LookupStatus, OnlineLookup, TokenBucket
from air_tui.store import Store
from air_tui.store.intel import LookupCacheTable
from tests.conftest import FROZEN_START

RECORDED = Path(__file__).parent / "recorded"
VT_KEY = "vt-key-7f3a9c1e5b2d8f4a6c0e9b3d7f1a5c8e2b6d0f4a8c3e7b1d5f9a2c6e0b4d8f3a"
URLHAUS_KEY = "uh-key-0b1c2d3e4f5a6b7c8d9e"
ENV = {"AIR_TUI_VT_API_KEY": VT_KEY, "AIR_TUI_URLHAUS_KEY": URLHAUS_KEY}
PHISH_URL = "https://login.contoso-verify.example/owa/"
UNKNOWN_SHA = "4f8a1c7e2b9d3f6a0c5e8b1d4a7f2c9e6b3d0a5f8c1e4b7d2a9f6c3e0b5d8a1f"
QAKBOT_SHA = "ca14eb36578710df5f903bc19bd364de2eb27cb64e08cdad5e6b8758f17067cd"


def recorded(name: str) -> bytes:
    return (RECORDED / name).read_bytes()


class Recorder:
    """A MockTransport handler that builds each response with `answer` and keeps every request."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


class Seconds:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "lookups.db") as opened:
        yield opened


def make_lookup(store: Store, answer: Callable[[httpx.Request], httpx.Response], *, clock: FrozenClock | None = None, seconds: Seconds | None = None, **settings: object) -> tuple[OnlineLookup, Recorder]:
    recorder = Recorder(answer)
    lookup = OnlineLookup(
        OnlineLookups.model_validate(settings),
        LookupCacheTable(store),
        transport=httpx.MockTransport(recorder),
        clock=clock or FrozenClock(FROZEN_START),
        monotonic=seconds or Seconds(),
        environ=ENV,
    )
    return lookup, recorder


def vt_answer(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path.startswith("/api/v3/urls/"):
        return httpx.Response(200, content=recorded("vt_url_malicious.json"))
    if path.startswith("/api/v3/domains/"):
        return httpx.Response(200, content=recorded("vt_domain_harmless.json"))
    return httpx.Response(404, content=recorded("vt_file_not_found.json"))


def test_vt_malicious_url_listed(store: Store) -> None:
    lookup, recorder = make_lookup(store, vt_answer, virustotal=True)
    result = lookup.check_url(PHISH_URL)

    request = recorder.requests[0]
    padded = base64.urlsafe_b64encode(PHISH_URL.encode()).decode()
    assert padded.endswith("=")
    assert request.method == "GET"
    assert str(request.url) == f"https://www.virustotal.com/api/v3/urls/{padded.rstrip('=')}"
    assert request.headers["x-apikey"] == VT_KEY
    assert result.status is LookupStatus.LISTED
    assert result.match is not None
    assert (result.match.threat, result.match.source, result.match.added) == ("Phish", "VirusTotal", "2026-11-28")
    assert result.results[0].detail == "9 of 94 engines flag it as malicious and 1 as suspicious"
    assert "listed as Phish by VirusTotal since 2026-11-28" in result.match.describe("URL")


def test_vt_harmless_domain_not_listed(store: Store) -> None:
    lookup, recorder = make_lookup(store, vt_answer, virustotal=True)
    result = lookup.check_domain("NorthwindPartners.example.")
    assert str(recorder.requests[0].url) == "https://www.virustotal.com/api/v3/domains/northwindpartners.example"
    assert result.status is LookupStatus.NOT_LISTED
    assert result.match is None


def test_vt_unknown_file_cached(store: Store) -> None:
    lookup, recorder = make_lookup(store, vt_answer, virustotal=True)
    first = lookup.check_file(UNKNOWN_SHA.upper())
    second = lookup.check_file(UNKNOWN_SHA)

    assert str(recorder.requests[0].url).endswith(f"/api/v3/files/{UNKNOWN_SHA}")
    assert first.status is LookupStatus.UNKNOWN
    assert first.match is None
    assert len(recorder.requests) == 1
    assert second.status is LookupStatus.UNKNOWN
    assert second.results[0].cached


def test_cache_expires_after_cache_hours(store: Store) -> None:
    clock = FrozenClock(FROZEN_START)
    seconds = Seconds()
    lookup, recorder = make_lookup(store, vt_answer, clock=clock, seconds=seconds, virustotal=True, cache_hours=24)
    lookup.check_url(PHISH_URL)

    clock.now = FROZEN_START + timedelta(hours=23)
    seconds.now += 60
    cached = lookup.check_url(PHISH_URL)
    assert len(recorder.requests) == 1
    assert cached.match is not None
    assert cached.match.fetched == FROZEN_START
    assert cached.results[0].cached

    clock.now = FROZEN_START + timedelta(hours=25)
    fresh = lookup.check_url(PHISH_URL)
    assert len(recorder.requests) == 2
    assert not fresh.results[0].cached


def test_vt_quota_error_not_cached(store: Store) -> None:
    seconds = Seconds()
    lookup, recorder = make_lookup(
        store, lambda request: httpx.Response(429, content=recorded("vt_quota_exceeded.json")), seconds=seconds, virustotal=True
    )
    result = lookup.check_file(UNKNOWN_SHA)
    assert result.status is LookupStatus.QUOTA_EXCEEDED
    assert result.results[0].detail == "VirusTotal refused the request: QuotaExceededError: Quota exceeded"
    assert result.match is None

    seconds.now += 15
    lookup.check_file(UNKNOWN_SHA)
    assert len(recorder.requests) == 2


def test_rate_limit_sends_nothing(store: Store) -> None:
    seconds = Seconds()
    lookup, recorder = make_lookup(store, vt_answer, seconds=seconds, virustotal=True, requests_per_minute=4)
    lookup.check_url(PHISH_URL)
    limited = lookup.check_url("https://other.example/")
    assert limited.status is LookupStatus.RATE_LIMITED
    assert "4 requests a minute" in limited.results[0].detail
    assert len(recorder.requests) == 1

    seconds.now += 15
    allowed = lookup.check_url("https://other.example/")
    assert allowed.status is LookupStatus.LISTED
    assert len(recorder.requests) == 2


def test_token_bucket_spacing() -> None:
    seconds = Seconds()
    bucket = TokenBucket(6, seconds)
    assert bucket.try_take()
    assert not bucket.try_take()
    seconds.now += 9.9
    assert not bucket.try_take()
    seconds.now += 0.1
    assert bucket.try_take()
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, seconds)


def urlhaus_answer(request: httpx.Request) -> httpx.Response:
    form = parse_qs(request.content.decode())
    if request.url.path == "/v1/url/":
        name = "urlhaus_url_ok.json" if form["url"] == ["https://files.evil.example/invoice.zip"] else "urlhaus_url_no_results.json"
        return httpx.Response(200, content=recorded(name))
    if request.url.path == "/v1/payload/":
        name = "urlhaus_payload_ok.json" if form["sha256_hash"] == [QAKBOT_SHA] else "urlhaus_url_no_results.json"
        return httpx.Response(200, content=recorded(name))
    return httpx.Response(404)


def test_urlhaus_url_listed(store: Store) -> None:
    lookup, recorder = make_lookup(store, urlhaus_answer, urlhaus=True)
    result = lookup.check_url("https://files.evil.example/invoice.zip")

    request = recorder.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://urlhaus-api.abuse.ch/v1/url/"
    assert request.headers["Auth-Key"] == URLHAUS_KEY
    assert parse_qs(request.content.decode()) == {"url": ["https://files.evil.example/invoice.zip"]}
    assert result.status is LookupStatus.LISTED
    assert result.match is not None
    assert (result.match.threat, result.match.source, result.match.added) == ("Malware", "URLhaus", "2026-11-21")
    assert result.results[0].detail == "URLhaus lists it as malware_download, online"


def test_urlhaus_no_results(store: Store) -> None:
    lookup, _ = make_lookup(store, urlhaus_answer, urlhaus=True)
    result = lookup.check_url("https://clean.example/page")
    assert result.status is LookupStatus.NOT_LISTED
    assert result.match is None


def test_urlhaus_payload_listed(store: Store) -> None:
    lookup, recorder = make_lookup(store, urlhaus_answer, urlhaus=True)
    result = lookup.check_file(QAKBOT_SHA)
    assert parse_qs(recorder.requests[0].content.decode()) == {"sha256_hash": [QAKBOT_SHA]}
    assert result.match is not None
    assert (result.match.threat, result.match.added) == ("Malware", "2026-11-21")
    assert "QakBot" in result.results[0].detail


def test_both_services_combined(store: Store) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return vt_answer(request) if request.url.host == "www.virustotal.com" else urlhaus_answer(request)

    lookup, recorder = make_lookup(store, answer, virustotal=True, urlhaus=True)
    result = lookup.check_file(QAKBOT_SHA)
    statuses = {item.service: item.status for item in result.results}
    assert statuses == {"VirusTotal": LookupStatus.UNKNOWN, "URLhaus": LookupStatus.LISTED}
    assert result.status is LookupStatus.LISTED
    assert result.match is not None
    assert result.match.source == "URLhaus"
    assert len(recorder.requests) == 2


def test_off_by_default_sends_nothing(store: Store) -> None:
    lookup, recorder = make_lookup(store, vt_answer)
    result = lookup.check_url(PHISH_URL)
    assert result.status is LookupStatus.NOT_CONFIGURED
    assert result.results == ()
    assert recorder.requests == []


def test_missing_key_names_variable(store: Store) -> None:
    recorder = Recorder(vt_answer)
    lookup = OnlineLookup(OnlineLookups(virustotal=True), LookupCacheTable(store), transport=httpx.MockTransport(recorder), environ={})
    result = lookup.check_url(PHISH_URL)
    assert result.status is LookupStatus.NOT_CONFIGURED
    assert "AIR_TUI_VT_API_KEY is not set" in result.results[0].detail
    assert recorder.requests == []


def test_invalid_inputs_are_results(store: Store) -> None:
    lookup, recorder = make_lookup(store, vt_answer, virustotal=True)
    assert lookup.check_file("abc").status is LookupStatus.ERROR
    assert "is not a SHA-256" in lookup.check_file("abc").results[0].detail
    assert lookup.check_url("javascript:alert(1)").status is LookupStatus.ERROR
    assert lookup.check_domain("bad domain/x").status is LookupStatus.ERROR
    assert recorder.requests == []


def test_network_error_is_result(store: Store) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused while sending x-apikey {VT_KEY}", request=request)

    lookup, _ = make_lookup(store, refuse, virustotal=True)
    result = lookup.check_url(PHISH_URL)
    assert result.status is LookupStatus.ERROR
    assert "ConnectError" in result.results[0].detail
    assert VT_KEY not in result.results[0].detail
    assert "[API key]" in result.results[0].detail


def test_keys_never_stored_or_logged(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "www.virustotal.com":
            return httpx.Response(401, json={"error": {"code": "WrongCredentialsError", "message": "Wrong API key"}})
        return urlhaus_answer(request)

    caplog.set_level(logging.DEBUG)
    seconds = Seconds()
    lookup, _ = make_lookup(store, answer, seconds=seconds, virustotal=True, urlhaus=True)
    rejected = lookup.check_url("https://files.evil.example/invoice.zip")
    seconds.now += 60
    lookup.check_file(QAKBOT_SHA)
    lookup.close()

    assert "rejected the API key (WrongCredentialsError); check AIR_TUI_VT_API_KEY" in rejected.results[0].detail
    rows = store.db.execute("SELECT service, kind, indicator, checked, result FROM intel_lookup_cache").fetchall()
    assert len(rows) == 2
    dumped = json.dumps(rows)
    database_bytes = b"".join(path.read_bytes() for path in store.path.parent.glob(store.path.name + "*") if path.is_file())
    for key in (VT_KEY, URLHAUS_KEY):
        assert key not in dumped
        assert key.encode() not in database_bytes
        assert key not in caplog.text


def test_malformed_response_is_result(store: Store) -> None:
    body = {"data": {"attributes": {"last_analysis_stats": {"malicious": "many", "harmless": 3}}}}
    lookup, _ = make_lookup(store, lambda request: httpx.Response(200, json=body), virustotal=True)
    result = lookup.check_url(PHISH_URL)
    assert result.status is LookupStatus.ERROR
    assert "VirusTotal sent a response air-tui cannot read" in result.results[0].detail
