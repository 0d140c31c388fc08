"""Downloading configured feeds over HTTP, with conditional requests, timeouts and a size cap.

A download either returns every valid indicator of the feed with the lines it skipped, or
reports that the feed did not change, or fails with a reason. It fails when the content is clearly
not in the feed's format, so the caller replaces the stored rows only with a usable feed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from air_tui import __version__
from air_tui.domain.config import FeedConfig
from air_tui.intel.entries import Indicator, IntelError
from air_tui.intel.feeds import parse_feed
from air_tui.intel.skipped import SkippedLine, describe_skipped

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 64 * 1024 * 1024
"""Largest feed body accepted, in bytes; a larger download fails and nothing of it is stored."""

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
"""Seconds to connect, and to wait for each read, write or free connection."""


class DownloadStatus(StrEnum):
    UPDATED = "updated"
    NOT_MODIFIED = "not modified"
    FAILED = "failed"
    REMOVED = "removed"
    """The feed is no longer configured, so its indicators were deleted."""


@dataclass
class FeedDownload:
    """The outcome of downloading one feed."""

    name: str
    status: DownloadStatus
    indicators: list[Indicator] = field(default_factory=list)
    sha256: str = ""
    """SHA-256 of the downloaded bytes."""
    etag: str = ""
    last_modified: str = ""
    """The server's ETag and Last-Modified headers, sent back on the next download."""
    error: str = ""
    skipped: int = 0
    """Lines of the feed that are not valid indicators and were left out."""
    skipped_examples: tuple[SkippedLine, ...] = ()
    """The first of those lines, named for the user."""


@dataclass(frozen=True)
class FeedRefresh:
    """Outcome of `air-tui intel refresh` for one feed."""

    name: str
    url: str
    status: DownloadStatus
    count: int
    """Indicators stored for the feed after the refresh: the new ones, or the previous ones on failure."""
    error: str = ""
    skipped: int = 0
    """Invalid lines left out of the indicators stored for the feed after the refresh."""
    skipped_examples: tuple[SkippedLine, ...] = ()
    """The first of those lines, named for the user."""

    def describe_skipped(self) -> str:
        """Describe the skipped lines, e.g. "skipped 1 invalid line: line 3 'x' (reason)", or return "" when there are none."""
        return describe_skipped(self.skipped, self.skipped_examples)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value, "skipped_examples": [asdict(example) for example in self.skipped_examples]}


def open_client(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """Open the HTTP client used for feed downloads; `transport` replaces the network in tests."""
    return httpx.Client(
        timeout=TIMEOUT,
        follow_redirects=True,
        headers={"User-Agent": f"air-tui/{__version__}"},
        transport=transport,
    )


def download_feed(
    client: httpx.Client,
    feed: FeedConfig,
    *,
    etag: str = "",
    last_modified: str = "",
    previous_sha256: str = "",
    max_bytes: int = MAX_FEED_BYTES,
) -> FeedDownload:
    """Download and parse one feed. Errors are returned in the result, never raised.

    Args:
        client: From `open_client`.
        feed: The configured feed.
        etag: ETag of the last successful download, sent as If-None-Match.
        last_modified: Last-Modified of the last successful download, sent as If-Modified-Since.
        previous_sha256: SHA-256 of the last successful download; identical content counts as not modified.
        max_bytes: Size cap; a larger body fails the download.
    """
    scheme = urlsplit(feed.url).scheme.lower()
    if scheme not in ("http", "https"):
        return _failed(feed, f"the URL {feed.url!r} is not an http or https URL; fix `url` of this feed in config.toml")
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", feed.url, headers=headers) as response:
            if response.status_code == 304:
                return FeedDownload(name=feed.name, status=DownloadStatus.NOT_MODIFIED, sha256=previous_sha256, etag=etag, last_modified=last_modified)
            if response.status_code != 200:
                return _failed(feed, f"the server answered HTTP {response.status_code} {response.reason_phrase}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return _failed(feed, f"the feed is {int(declared)} bytes, more than the {max_bytes}-byte limit")
            content = bytearray()
            for chunk in response.iter_bytes():
                content.extend(chunk)
                if len(content) > max_bytes:
                    return _failed(feed, f"the feed is larger than the {max_bytes}-byte limit")
            new_etag = response.headers.get("ETag", "")
            new_last_modified = response.headers.get("Last-Modified", "")
    except httpx.TimeoutException as error:
        return _failed(feed, f"timed out ({type(error).__name__})")
    except httpx.HTTPError as error:
        return _failed(feed, f"{type(error).__name__}: {error}")
    sha256 = hashlib.sha256(content).hexdigest()
    if previous_sha256 and sha256 == previous_sha256:
        return FeedDownload(name=feed.name, status=DownloadStatus.NOT_MODIFIED, sha256=sha256, etag=new_etag, last_modified=new_last_modified)
    try:
        # Formats without listing dates get none here; the store then keeps the date each
        # indicator was first downloaded.
        parsed = parse_feed(bytes(content), feed.format, f"feed {feed.name}", added="")
    except IntelError as error:
        return _failed(feed, str(error).rstrip("."))
    if not parsed.indicators:
        # An empty body is far more often a broken mirror than a feed with nothing in it, and
        # replacing the stored rows with nothing would silently clear every verdict it backs.
        return _failed(feed, "the feed contains no indicators")
    if parsed.skipped:
        log.warning("Intel feed %s from %s: %s", feed.name, feed.url, parsed.describe_skipped())
    return FeedDownload(
        name=feed.name,
        status=DownloadStatus.UPDATED,
        indicators=parsed.indicators,
        sha256=sha256,
        etag=new_etag,
        last_modified=new_last_modified,
        skipped=parsed.skipped,
        skipped_examples=parsed.examples,
    )


def _failed(feed: FeedConfig, reason: str) -> FeedDownload:
    log.warning("Download of intel feed %s from %s failed: %s", feed.name, feed.url, reason)
    return FeedDownload(name=feed.name, status=DownloadStatus.FAILED, error=reason)
