"""Readers for feed formats, so a downloaded URLhaus or OpenPhish file works as it is.

Every reader takes the feed's text and returns its normalised indicators with the lines it
skipped, or raises IntelError when the content is clearly not in the expected format. The same
readers serve files in the tenant's `intel/` folder and feeds downloaded by `air-tui intel refresh`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from air_tui.intel.entries import Indicator, IntelError, IntelMatch, normalise_indicator
from air_tui.intel.skipped import (
    SkippedLine,
    describe_skipped,
    list_skipped,
    show_value,
)

log = logging.getLogger(__name__)

URLHAUS_COLUMNS = ("id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter")
"""Columns of URLhaus' CSV export, which starts with `#` comment lines instead of a header."""

CSV_FORMATS: dict[str, tuple[str, str]] = {
    "urls": ("url", "url"),
    "domains": ("domain", "domain"),
    "file_hashes": ("file_hash", "sha256"),
    "allow_domains": ("allow_domain", "domain"),
}
"""air-tui CSV formats: feed format to (indicator kind, the column that contains the indicator)."""

MAX_SKIPPED_SHARE = 0.10
"""Largest share of a feed's lines that may be invalid. Above it the feed is rejected as a whole."""

SKIPPED_LINES_TOLERATED = 2
"""Invalid lines a feed may have whatever their share, so a short hand-written file with one
typo keeps its other entries. A feed with no valid indicator is rejected all the same."""

SKIPPED_EXAMPLES = 5
"""Skipped lines named in messages and stored with the feed. Further ones are only counted."""

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Labels of letters, digits, `_` or `-` (Unicode letters included, for internationalised names).
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")
# The start of an HTML document or element that no feed line begins with.
_HTML_START = re.compile(r"\s*<(?:!--|(?:!doctype\s+html|html|head|body|title|meta|script|style|div|p|br|table|h[1-6])\b)", re.IGNORECASE)


@dataclass(frozen=True)
class LocalFeed:
    """A feed file found in the tenant's `intel/` folder, read and parsed."""

    name: str
    """`intel/FILE`, so it never collides with the name of a configured feed."""
    path: Path
    format: str
    sha256: str
    """SHA-256 of the file's bytes, so an unchanged file is not imported again."""
    indicators: list[Indicator]
    skipped: int = 0
    """Lines of the file that are not valid indicators and were left out."""
    skipped_examples: tuple[SkippedLine, ...] = ()
    """The first SKIPPED_EXAMPLES of those lines."""


@dataclass(frozen=True)
class ParsedFeed:
    """The indicators read from a feed, and the lines left out because they are not valid."""

    indicators: list[Indicator]
    lines: int
    """Lines that should contain an indicator: all but blank, comment and header lines."""
    skipped: int
    examples: tuple[SkippedLine, ...]
    """The first SKIPPED_EXAMPLES skipped lines."""

    def describe_skipped(self) -> str:
        """Describe the skipped lines, e.g. "skipped 1 invalid line: line 3 'x' (reason)", or return "" when there are none."""
        return describe_skipped(self.skipped, self.examples)


@dataclass
class _FeedCollector:
    """Collects a feed's indicators and skipped lines, and rejects content clearly in another format."""

    origin: str
    feed_format: str
    indicators: list[Indicator] = field(default_factory=list)
    skipped: int = 0
    examples: list[SkippedLine] = field(default_factory=list)

    def add(self, indicator: Indicator) -> None:
        self.indicators.append(indicator)

    def skip(self, number: int, value: str, reason: str) -> None:
        """Count an invalid line, and name it when it is among the first SKIPPED_EXAMPLES.

        Raises:
            IntelError: The line starts like HTML, so the feed is a web page.
        """
        self.check_html(number, value)
        self.skipped += 1
        if len(self.examples) < SKIPPED_EXAMPLES:
            self.examples.append(SkippedLine(line=number, value=show_value(value), reason=reason))

    def check_html(self, number: int, line: str) -> None:
        if _HTML_START.match(line):
            raise IntelError(
                f"{self.origin} looks like an HTML page, not a feed in the {self.feed_format} format: line {number} is {show_value(line)!r}. "
                "Check that the URL or file contains the feed itself, not a login or error page."
            )

    def finish(self) -> ParsedFeed:
        """Return the parsed feed, unless it has lines but no valid indicator, or too many invalid lines.

        Raises:
            IntelError: Every line is invalid, or more than MAX_SKIPPED_SHARE of the lines and
                more than SKIPPED_LINES_TOLERATED lines are.
        """
        lines = len(self.indicators) + self.skipped
        listed = list_skipped(self.skipped, self.examples)
        if self.skipped and not self.indicators:
            extent = "its only line is invalid" if lines == 1 else f"all {lines} of its lines are invalid"
            raise IntelError(f"{self.origin} contains no valid indicator, because {extent}: {listed}. Check that it is in the {self.feed_format} format.")
        if self.skipped > SKIPPED_LINES_TOLERATED and self.skipped > MAX_SKIPPED_SHARE * lines:
            raise IntelError(
                f"{self.origin} does not look like the {self.feed_format} format, because {self.skipped} of its {lines} lines are invalid, "
                f"more than {MAX_SKIPPED_SHARE:.0%}: {listed}. Check that it is in the {self.feed_format} format."
            )
        return ParsedFeed(indicators=self.indicators, lines=lines, skipped=self.skipped, examples=tuple(self.examples))


def parse_feed(content: bytes, feed_format: str, origin: str, *, added: str) -> ParsedFeed:
    """Decode and parse the content of a feed in `feed_format`, leaving out invalid lines.

    A line that is not a valid indicator is skipped and counted. The whole feed is rejected only
    when its content is clearly not in `feed_format` (see `_FeedCollector.finish`).

    Args:
        content: The feed's bytes, UTF-8 with or without a byte-order mark.
        feed_format: `urlhaus`, `openphish` or one of the CSV_FORMATS.
        origin: The feed's name or path, used in error messages.
        added: Date to record for entries when the format has no listing date (OpenPhish).

    Raises:
        IntelError: The content is not UTF-8 text, looks like an HTML page, has no valid
            indicator although it has lines, or has too many invalid lines.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IntelError(f"{origin} is not UTF-8 text (byte {error.start} is invalid); check that it is the plain {feed_format} export, not a compressed file or an HTML page.") from error
    if feed_format not in ("urlhaus", "openphish", *CSV_FORMATS):
        raise IntelError(f"{origin} has the unknown feed format {feed_format!r}; use urlhaus, openphish, {', '.join(CSV_FORMATS)}.")
    collector = _FeedCollector(origin, feed_format)
    # A login or error page served in place of a CSV feed has no header to read, so an HTML
    # start is recognised before any format-specific check.
    first = next(((number, line) for number, line in _numbered_lines(text) if line.strip()), None)
    if first is not None:
        collector.check_html(*first)
    if feed_format == "urlhaus":
        _parse_urlhaus(text, collector)
    elif feed_format == "openphish":
        _parse_openphish(text, collector, added=added)
    else:
        _parse_indicator_csv(text, feed_format, collector)
    return collector.finish()


def _parse_urlhaus(text: str, collector: _FeedCollector) -> None:
    """Parse a URLhaus CSV export: URL, threat (e.g. malware_download) and the date it was added.

    Each line is one record, so a broken line is skipped without affecting the next.
    """
    for number, line in _numbered_lines(text):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            row = next(csv.reader([line]))
        except csv.Error as error:
            collector.skip(number, line, f"invalid CSV: {error}")
            continue
        if len(row) < 3:
            collector.skip(number, line, f"{len(row)} {'column' if len(row) == 1 else 'columns'}, but a URLhaus export has {len(URLHAUS_COLUMNS)}")
            continue
        record = dict(zip(URLHAUS_COLUMNS, row, strict=False))
        url = record["url"].strip()
        problem = _url_problem(url)
        if problem:
            collector.skip(number, url or line, problem)
            continue
        collector.add(
            Indicator(
                kind="url",
                value=normalise_indicator("url", url),
                threat="Malware" if "malware" in record.get("threat", "").lower() else "Phish",
                source="URLhaus",
                added=record.get("dateadded", "")[:10],
            )
        )


def _parse_openphish(text: str, collector: _FeedCollector, *, added: str) -> None:
    """Parse an OpenPhish feed: one URL a line. The feed has no dates, so every entry gets `added`."""
    for number, line in _numbered_lines(text):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        problem = _url_problem(url)
        if problem:
            collector.skip(number, url, problem)
            continue
        collector.add(Indicator(kind="url", value=normalise_indicator("url", url), threat="Phish", source="OpenPhish", added=added))


def _parse_indicator_csv(text: str, feed_format: str, collector: _FeedCollector) -> None:
    """Parse an air-tui CSV file: a header line naming the indicator column, then `threat`, `source`, `added`."""
    kind, key_column = CSV_FORMATS[feed_format]
    origin = collector.origin
    # The csv module reports errors without the line, so the line last handed to it is kept here.
    current: list[Any] = [0, ""]

    def lines() -> Iterator[str]:
        for number, line in _numbered_lines(text):
            current[:] = [number, line]
            yield line

    reader = csv.DictReader(lines())
    try:
        fieldnames = reader.fieldnames
    except csv.Error as error:
        raise IntelError(f"{origin}: the header line cannot be read as CSV: {error}. Its first line must name the columns, e.g. '{key_column},threat,source,added'.") from error
    if fieldnames is None or key_column not in fieldnames:
        raise IntelError(f"{origin} has no '{key_column}' column. Its first line must name the columns, e.g. '{key_column},threat,source,added'.")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            collector.skip(current[0], current[1], f"invalid CSV: {error}")
            continue
        raw = (row.get(key_column) or "").strip()
        if not raw or raw.startswith("#"):
            continue
        value = normalise_indicator(kind, raw)
        problem = _indicator_problem(kind, value)
        if problem:
            collector.skip(current[0], raw, problem)
            continue
        collector.add(
            Indicator(
                kind=kind,
                value=value,
                threat=(row.get("threat") or "Malicious").strip(),
                source=(row.get("source") or Path(origin).name).strip(),
                added=(row.get("added") or "").strip(),
            )
        )


def read_local_feeds(folder: Path) -> list[LocalFeed]:
    """Read every feed file in a tenant's `intel/` folder; a missing folder or file is no feed.

    The files are `urls.csv`, `domains.csv`, `file_hashes.csv` and `allow_domains.csv` in the
    air-tui CSV format, plus `urlhaus*.csv` and `openphish*.txt` as those services publish them.

    A line that is not a valid indicator is left out and counted in the feed's `skipped`.

    Raises:
        IntelError: A file cannot be read, or its content is clearly not in its format; the
            message names the file.
    """
    paths: list[tuple[Path, str]] = [(folder / f"{feed_format}.csv", feed_format) for feed_format in CSV_FORMATS]
    paths += [(path, "urlhaus") for path in sorted(folder.glob("urlhaus*.csv"))]
    paths += [(path, "openphish") for path in sorted(folder.glob("openphish*.txt"))]
    feeds: list[LocalFeed] = []
    for path, feed_format in paths:
        if not path.is_file():
            continue
        content, parsed = _parse_file(path, feed_format)
        feeds.append(
            LocalFeed(
                name=f"intel/{path.name}",
                path=path,
                format=feed_format,
                sha256=hashlib.sha256(content).hexdigest(),
                indicators=parsed.indicators,
                skipped=parsed.skipped,
                skipped_examples=parsed.examples,
            )
        )
    return feeds


def read_urlhaus(path: Path) -> dict[str, IntelMatch]:
    """Read a URLhaus CSV export file, keyed by normalised URL."""
    return _matches(_read_file(path, "urlhaus"), feed=f"intel/{path.name}")


def read_openphish(path: Path) -> dict[str, IntelMatch]:
    """Read an OpenPhish file, keyed by normalised URL. The file's modification date is used as the listing date."""
    return _matches(_read_file(path, "openphish"), feed=f"intel/{path.name}")


def _parse_file(path: Path, feed_format: str) -> tuple[bytes, ParsedFeed]:
    """Read and parse one local feed file; return its bytes too, for the content hash."""
    try:
        content = path.read_bytes()
        # OpenPhish lists carry no dates, so the day the file was saved is used as the listing date.
        saved = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
    except OSError as error:
        raise IntelError(f"Cannot read the intel file {path}: {error}.") from error
    return content, parse_feed(content, feed_format, str(path), added=saved)


def _read_file(path: Path, feed_format: str) -> list[Indicator]:
    _, parsed = _parse_file(path, feed_format)
    if parsed.skipped:
        log.warning("Intel file %s: %s", path, parsed.describe_skipped())
    return parsed.indicators


def _matches(indicators: list[Indicator], *, feed: str) -> dict[str, IntelMatch]:
    return {
        item.value: IntelMatch(indicator=item.value, threat=item.threat, source=item.source, added=item.added, feed=feed)
        for item in indicators
    }


def _numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield each line with its number from 1, split at \\n, \\r\\n or \\r as CSV files are."""
    return enumerate(io.StringIO(text, newline=""), start=1)


def _url_problem(url: str) -> str:
    """Return why `url` is not a usable http or https URL, or an empty string when it is."""
    if not url:
        return "the URL is empty"
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return f"invalid URL: {error}"
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return "not an http or https URL"
    return ""


def _indicator_problem(kind: str, value: str) -> str:
    """Return why a normalised indicator of `kind` is invalid, or an empty string when it is valid."""
    if kind == "url":
        return _url_problem(value)
    if kind in ("domain", "allow_domain") and not _DOMAIN.fullmatch(value):
        return "not a domain name"
    if kind == "file_hash" and not _SHA256.fullmatch(value):
        if len(value) == 64:
            return "not a SHA-256: it contains characters other than hexadecimal digits"
        return f"not a SHA-256: {len(value)} characters instead of 64 hexadecimal digits"
    return ""
