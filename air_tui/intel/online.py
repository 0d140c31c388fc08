"""Optional online look-ups of a URL, file hash or domain at VirusTotal and URLhaus.

Nothing here runs unless `[intel.online]` turns a service on and its API key is in the
environment. Each service has its own rate limit, responses are cached for `cache_hours`, and every
failure comes back as a result with a status and a reason instead of an exception, so a
third party that is down never stops an investigation. API keys are sent only in request
headers: they are never stored, logged or put into a result.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from air_tui import __version__
from air_tui.domain.config import OnlineLookups
from air_tui.intel.entries import IntelMatch, normalise_domain, normalise_url

log = logging.getLogger(__name__)

VT_KEY_ENV = "AIR_TUI_VT_API_KEY"
URLHAUS_KEY_ENV = "AIR_TUI_URLHAUS_KEY"
VT_API = "https://www.virustotal.com/api/v3"
URLHAUS_API = "https://urlhaus-api.abuse.ch/v1"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""Seconds; short, because a look-up runs while an investigation waits for it."""

VT_MALICIOUS_ENGINES = 2
"""Engines that must flag an object malicious before VirusTotal's response counts as a listing.
NOTE: a judgment call. One engine alone is a common false positive, and the detail text still
names the counts when fewer engines flag it."""

ONLINE_FEED = "online lookup"
"""The `feed` of a match that came from an online look-up."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
_DOMAIN = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)+")


class LookupStatus(StrEnum):
    """Outcome of one service's look-up, most telling first."""

    LISTED = "listed"
    """The service lists the indicator as malicious."""
    NOT_LISTED = "not listed"
    """The service has a record of the indicator and does not flag it, or has no listing for it."""
    UNKNOWN = "unknown"
    """The service has no record of the indicator at all."""
    QUOTA_EXCEEDED = "quota exceeded"
    """The service refused the request because the account's quota is used up."""
    RATE_LIMITED = "rate limited"
    """No request was sent, because `requests_per_minute` was reached."""
    ERROR = "error"
    NOT_CONFIGURED = "not configured"
    """The service is off in the configuration or its API key is not set."""


_PRIORITY = list(LookupStatus)
_CACHED_STATUSES = frozenset({LookupStatus.LISTED, LookupStatus.NOT_LISTED, LookupStatus.UNKNOWN})


@dataclass(frozen=True)
class ServiceResult:
    service: str
    """`VirusTotal` or `URLhaus`."""
    status: LookupStatus
    detail: str
    """The service's response in one sentence, e.g. "12 of 94 engines flag it as malicious"."""
    match: IntelMatch | None = None
    cached: bool = False
    """True when the result came from the cache and no request was sent."""


@dataclass(frozen=True)
class LookupResult:
    match: IntelMatch | None
    """The first listing among the services' results, or None."""
    status: LookupStatus
    """The most telling status among the services' results (the first in LookupStatus order)."""
    results: tuple[ServiceResult, ...]
    """One result per service turned on in the configuration."""


class LookupCache(Protocol):
    """Storage for look-up results, keyed by service, indicator kind and normalised indicator."""

    def get(self, service: str, kind: str, indicator: str) -> tuple[str, str] | None:
        """Return (checked time in ISO 8601, result JSON), or None when nothing is stored."""

    def put(self, service: str, kind: str, indicator: str, checked: str, result: str) -> None: ...


class MemoryLookupCache:
    """A cache that lives as long as the process, for callers without a database."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, str], tuple[str, str]] = {}

    def get(self, service: str, kind: str, indicator: str) -> tuple[str, str] | None:
        return self._entries.get((service, kind, indicator))

    def put(self, service: str, kind: str, indicator: str, checked: str, result: str) -> None:
        self._entries[(service, kind, indicator)] = (checked, result)


class TokenBucket:
    """Allows `per_minute` requests a minute, spaced evenly, without ever sleeping.

    The bucket contains at most one token, so no 60-second window ever sees more than `per_minute`
    requests, whatever window the service counts in.
    """

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0:
            raise ValueError(f"requests_per_minute must be a positive number, not {per_minute}")
        self.interval = 60.0 / per_minute
        self.clock = clock
        self._tokens = 1.0
        self._updated = clock()

    def try_take(self) -> bool:
        """Take a token and return True, or return False when the bucket is empty."""
        now = self.clock()
        self._tokens = min(1.0, self._tokens + (now - self._updated) / self.interval)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class OnlineLookup:
    """Look-ups at VirusTotal v3 and the URLhaus API, as turned on in `[intel.online]`.

    Args:
        settings: The `[intel.online]` section.
        cache: Where results are kept for `settings.cache_hours`.
        transport: Replaces the network in tests.
        clock: Wall-clock time, for cache ages and the `fetched` time of matches.
        monotonic: Seconds from a monotonic clock, for the rate limit.
        environ: Where the API keys are read from.
    """

    def __init__(
        self,
        settings: OnlineLookups,
        cache: LookupCache | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.settings = settings
        self.cache: LookupCache = cache if cache is not None else MemoryLookupCache()
        self.clock = clock
        self._vt_key = environ.get(VT_KEY_ENV, "").strip()
        self._urlhaus_key = environ.get(URLHAUS_KEY_ENV, "").strip()
        self._buckets = {
            "VirusTotal": TokenBucket(settings.requests_per_minute, monotonic),
            "URLhaus": TokenBucket(settings.requests_per_minute, monotonic),
        }
        self._client = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": f"air-tui/{__version__}"}, transport=transport)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OnlineLookup:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def enabled(self) -> bool:
        return self.settings.virustotal or self.settings.urlhaus

    # Public look-ups ---------------------------------------------------------------------

    def check_url(self, url: str) -> LookupResult:
        """Look up a URL at every service turned on."""
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            return _invalid(f"{url[:80]!r} is not an http or https URL")
        url_id = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
        return self._check(
            "url",
            normalise_url(url),
            virustotal=lambda: self._virustotal(f"/urls/{url_id}", "url", url),
            urlhaus=lambda: self._urlhaus("/url/", {"url": url}, "url", url),
        )

    def check_file(self, sha256: str) -> LookupResult:
        """Look up a file by its SHA-256 at every service turned on."""
        sha256 = sha256.strip().lower()
        if not _SHA256.fullmatch(sha256):
            return _invalid(f"{sha256[:80]!r} is not a SHA-256; give 64 hexadecimal digits")
        return self._check(
            "file_hash",
            sha256,
            virustotal=lambda: self._virustotal(f"/files/{sha256}", "file_hash", sha256),
            urlhaus=lambda: self._urlhaus("/payload/", {"sha256_hash": sha256}, "file_hash", sha256),
        )

    def check_domain(self, domain: str) -> LookupResult:
        """Look up a domain at every service turned on; URLhaus lists a host when it has malware URLs on it."""
        domain = normalise_domain(domain)
        if not _DOMAIN.fullmatch(domain):
            return _invalid(f"{domain[:80]!r} is not a domain name")
        return self._check(
            "domain",
            domain,
            virustotal=lambda: self._virustotal(f"/domains/{domain}", "domain", domain),
            urlhaus=lambda: self._urlhaus("/host/", {"host": domain}, "domain", domain),
        )

    # Shared steps -------------------------------------------------------------------------

    def _check(self, kind: str, key: str, *, virustotal: Callable[[], ServiceResult], urlhaus: Callable[[], ServiceResult]) -> LookupResult:
        results: list[ServiceResult] = []
        if self.settings.virustotal:
            results.append(self._one("VirusTotal", self._vt_key, VT_KEY_ENV, kind, key, virustotal))
        if self.settings.urlhaus:
            results.append(self._one("URLhaus", self._urlhaus_key, URLHAUS_KEY_ENV, kind, key, urlhaus))
        if not results:
            return LookupResult(match=None, status=LookupStatus.NOT_CONFIGURED, results=())
        match = next((result.match for result in results if result.match is not None), None)
        status = min((result.status for result in results), key=_PRIORITY.index)
        return LookupResult(match=match, status=status, results=tuple(results))

    def _one(self, service: str, key: str, key_env: str, kind: str, indicator: str, request: Callable[[], ServiceResult]) -> ServiceResult:
        if not key:
            return ServiceResult(service, LookupStatus.NOT_CONFIGURED, f"{service} is turned on but {key_env} is not set; export the API key in that variable")
        cached = self._cached(service, kind, indicator)
        if cached is not None:
            return cached
        if not self._buckets[service].try_take():
            return ServiceResult(service, LookupStatus.RATE_LIMITED, f"not sent: the limit of {self.settings.requests_per_minute} requests a minute was reached; try again later")
        try:
            result = request()
        except httpx.TimeoutException as error:
            result = ServiceResult(service, LookupStatus.ERROR, f"{service} timed out ({type(error).__name__})")
        except httpx.HTTPError as error:
            result = ServiceResult(service, LookupStatus.ERROR, f"request to {service} failed: {type(error).__name__}: {error}")
        except (ValueError, TypeError, AttributeError) as error:
            # A response whose fields have unexpected types: report it instead of stopping the investigation.
            result = ServiceResult(service, LookupStatus.ERROR, f"{service} sent a response air-tui cannot read: {type(error).__name__}: {error}")
        result = ServiceResult(result.service, result.status, self._redact(result.detail), result.match)
        if result.status in _CACHED_STATUSES:
            self._store(kind, indicator, result)
        elif result.status is not LookupStatus.NOT_CONFIGURED:
            log.warning("Online %s look-up of a %s failed: %s: %s", service, kind, result.status.value, result.detail)
        return result

    def _cached(self, service: str, kind: str, indicator: str) -> ServiceResult | None:
        if self.settings.cache_hours <= 0:
            return None
        stored = self.cache.get(service, kind, indicator)
        if stored is None:
            return None
        checked_text, result_json = stored
        try:
            checked = datetime.fromisoformat(checked_text)
            record = json.loads(result_json)
            status = LookupStatus(record["status"])
        except (ValueError, KeyError, TypeError):
            return None
        if self.clock() - checked > timedelta(hours=self.settings.cache_hours):
            return None
        match = None
        if record.get("match"):
            match = IntelMatch(**record["match"], feed=ONLINE_FEED, fetched=checked)
        return ServiceResult(service, status, record.get("detail", ""), match, cached=True)

    def _store(self, kind: str, indicator: str, result: ServiceResult) -> None:
        match = None
        if result.match is not None:
            match = {key: getattr(result.match, key) for key in ("indicator", "threat", "source", "added")}
        record = {"status": result.status.value, "detail": result.detail, "match": match}
        self.cache.put(result.service, kind, indicator, self.clock().isoformat(), json.dumps(record, ensure_ascii=False))

    def _redact(self, text: str) -> str:
        for secret in (self._vt_key, self._urlhaus_key):
            if secret:
                text = text.replace(secret, "[API key]")
        return text

    def _match(self, indicator: str, threat: str, source: str, added: str) -> IntelMatch:
        return IntelMatch(indicator=indicator, threat=threat, source=source, added=added, feed=ONLINE_FEED, fetched=self.clock())

    # VirusTotal ---------------------------------------------------------------------------

    def _virustotal(self, path: str, kind: str, indicator: str) -> ServiceResult:
        response = self._client.get(VT_API + path, headers={"x-apikey": self._vt_key, "Accept": "application/json"})
        body = _json(response)
        if response.status_code != 200:
            error = body.get("error") if isinstance(body.get("error"), dict) else {}
            code = str(error.get("code", ""))
            message = str(error.get("message", "")) or response.reason_phrase
            if response.status_code == 404 or code == "NotFoundError":
                return ServiceResult("VirusTotal", LookupStatus.UNKNOWN, "VirusTotal has no record of it")
            if response.status_code == 429 or code in ("QuotaExceededError", "TooManyRequestsError"):
                return ServiceResult("VirusTotal", LookupStatus.QUOTA_EXCEEDED, f"VirusTotal refused the request: {code or 'HTTP 429'}: {message}")
            if code in ("WrongCredentialsError", "AuthenticationRequiredError", "UserNotActiveError"):
                return ServiceResult("VirusTotal", LookupStatus.ERROR, f"VirusTotal rejected the API key ({code}); check {VT_KEY_ENV}")
            return ServiceResult("VirusTotal", LookupStatus.ERROR, f"VirusTotal answered HTTP {response.status_code}: {code or 'no error code'}: {message}")
        attributes = body.get("data", {}).get("attributes", {}) if isinstance(body.get("data"), dict) else {}
        stats = attributes.get("last_analysis_stats") or {}
        if not isinstance(stats, dict) or not stats:
            return ServiceResult("VirusTotal", LookupStatus.ERROR, "VirusTotal's answer has no last_analysis_stats")
        malicious = int(stats.get("malicious", 0))
        suspicious = int(stats.get("suspicious", 0))
        total = sum(int(value) for value in stats.values() if isinstance(value, int))
        detail = f"{malicious} of {total} engines flag it as malicious and {suspicious} as suspicious"
        if malicious < VT_MALICIOUS_ENGINES:
            return ServiceResult("VirusTotal", LookupStatus.NOT_LISTED, detail)
        added = ""
        first = attributes.get("first_submission_date")
        if isinstance(first, int):
            added = datetime.fromtimestamp(first, tz=UTC).date().isoformat()
        threat = "Malware" if kind == "file_hash" else _vt_threat(attributes.get("last_analysis_results") or {})
        return ServiceResult("VirusTotal", LookupStatus.LISTED, detail, self._match(indicator, threat, "VirusTotal", added))

    # URLhaus ----------------------------------------------------------------------------------

    def _urlhaus(self, path: str, form: dict[str, str], kind: str, indicator: str) -> ServiceResult:
        response = self._client.post(URLHAUS_API + path, data=form, headers={"Auth-Key": self._urlhaus_key, "Accept": "application/json"})
        if response.status_code == 401:
            return ServiceResult("URLhaus", LookupStatus.ERROR, f"URLhaus rejected the Auth-Key (HTTP 401); check {URLHAUS_KEY_ENV}")
        if response.status_code == 429:
            return ServiceResult("URLhaus", LookupStatus.QUOTA_EXCEEDED, "URLhaus refused the request: HTTP 429 Too Many Requests")
        if response.status_code != 200:
            return ServiceResult("URLhaus", LookupStatus.ERROR, f"URLhaus answered HTTP {response.status_code} {response.reason_phrase}")
        body = _json(response)
        query_status = str(body.get("query_status", ""))
        if query_status == "no_results":
            return ServiceResult("URLhaus", LookupStatus.NOT_LISTED, "URLhaus has no listing for it")
        if query_status != "ok":
            return ServiceResult("URLhaus", LookupStatus.ERROR, f"URLhaus answered query_status {query_status or 'missing'!r}")
        if kind == "file_hash":
            signature = body.get("signature") or "no signature"
            detail = f"URLhaus has seen this payload ({signature}) on {body.get('url_count', '?')} URLs"
            added = str(body.get("firstseen") or "")[:10]
            return ServiceResult("URLhaus", LookupStatus.LISTED, detail, self._match(indicator, "Malware", "URLhaus", added))
        if kind == "domain":
            urls = int(body.get("url_count") or 0)
            if urls == 0:
                return ServiceResult("URLhaus", LookupStatus.NOT_LISTED, "URLhaus lists no malware URLs on this host")
            detail = f"URLhaus lists {urls} malware URLs on this host"
            added = str(body.get("firstseen") or "")[:10]
            return ServiceResult("URLhaus", LookupStatus.LISTED, detail, self._match(indicator, "Malware", "URLhaus", added))
        threat = str(body.get("threat") or "")
        detail = f"URLhaus lists it as {threat or 'malicious'}, {body.get('url_status', 'status unknown')}"
        added = str(body.get("date_added") or "")[:10]
        return ServiceResult("URLhaus", LookupStatus.LISTED, detail, self._match(indicator, "Malware" if "malware" in threat else "Malicious", "URLhaus", added))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _vt_threat(results: Any) -> str:
    """Name the threat most engines that flag a URL or domain report: Phish, Malware or Malicious."""
    verdicts = [str(item.get("result") or "").lower() for item in results.values() if isinstance(item, dict) and item.get("category") in ("malicious", "suspicious")] if isinstance(results, dict) else []
    phishing = sum("phish" in verdict for verdict in verdicts)
    malware = sum("malware" in verdict for verdict in verdicts)
    if phishing and phishing >= malware:
        return "Phish"
    if malware:
        return "Malware"
    return "Malicious"


def _invalid(reason: str) -> LookupResult:
    result = ServiceResult("air-tui", LookupStatus.ERROR, reason)
    return LookupResult(match=None, status=LookupStatus.ERROR, results=(result,))
