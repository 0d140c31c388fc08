"""Readers for feed formats, so a downloaded URLhaus or OpenPhish file works as it is.

Every reader takes the feed's text and returns normalised indicators, or raises IntelError
naming the feed, the line and what was expected. The same readers serve files in the tenant's
`intel/` folder and feeds downloaded by `air-tui intel refresh`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from air_tui.intel.entries import Indicator, IntelError, IntelMatch, normalise_indicator

URLHAUS_COLUMNS = ("id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter")
"""Columns of URLhaus' CSV export, which starts with `#` comment lines instead of a header."""

CSV_FORMATS: dict[str, tuple[str, str]] = {
    "urls": ("url", "url"),
    "domains": ("domain", "domain"),
    "file_hashes": ("file_hash", "sha256"),
    "allow_domains": ("allow_domain", "domain"),
}
"""air-tui CSV formats: feed format to (indicator kind, the column that contains the indicator)."""

_SHA256 = re.compile(r"[0-9a-f]{64}")


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


def parse_feed(content: bytes, feed_format: str, origin: str, *, added: str) -> list[Indicator]:
    """Decode and parse the content of a feed in `feed_format`.

    Args:
        content: The feed's bytes, UTF-8 with or without a byte-order mark.
        feed_format: `urlhaus`, `openphish` or one of the CSV_FORMATS.
        origin: The feed's name or path, used in error messages.
        added: Date to record for entries when the format has no listing date (OpenPhish).

    Raises:
        IntelError: The content is not UTF-8 text, or a line is not valid in that format.
    """
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IntelError(f"{origin} is not UTF-8 text (byte {error.start} is invalid); check that the feed URL serves the plain {feed_format} format, not a compressed or HTML page.") from error
    if feed_format == "urlhaus":
        return parse_urlhaus(text, origin)
    if feed_format == "openphish":
        return parse_openphish(text, origin, added=added)
    if feed_format in CSV_FORMATS:
        return parse_indicator_csv(text, feed_format, origin)
    raise IntelError(f"{origin} has the unknown feed format {feed_format!r}; use urlhaus, openphish, {', '.join(CSV_FORMATS)}.")


def parse_urlhaus(text: str, origin: str) -> list[Indicator]:
    """Parse a URLhaus CSV export: URL, threat (e.g. malware_download) and the date it was added."""
    indicators: list[Indicator] = []
    lines = (line for line in io.StringIO(text) if line.strip() and not line.startswith("#"))
    try:
        for number, row in enumerate(csv.reader(lines), start=1):
            if len(row) < 3:
                raise IntelError(f"{origin}: row {number} has {len(row)} columns; a URLhaus export has {len(URLHAUS_COLUMNS)}.")
            record = dict(zip(URLHAUS_COLUMNS, row, strict=False))
            url = record["url"].strip()
            if not url:
                continue
            _check_url(url, origin, f"row {number}")
            indicators.append(
                Indicator(
                    kind="url",
                    value=normalise_indicator("url", url),
                    threat="Malware" if "malware" in record.get("threat", "").lower() else "Phish",
                    source="URLhaus",
                    added=record.get("dateadded", "")[:10],
                )
            )
    except csv.Error as error:
        raise IntelError(f"{origin} is not a valid URLhaus CSV export: {error}.") from error
    return indicators


def parse_openphish(text: str, origin: str, *, added: str) -> list[Indicator]:
    """Parse an OpenPhish feed: one URL a line. The feed has no dates, so every entry gets `added`."""
    indicators: list[Indicator] = []
    for number, line in enumerate(text.splitlines(), start=1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        _check_url(url, origin, f"line {number}")
        indicators.append(Indicator(kind="url", value=normalise_indicator("url", url), threat="Phish", source="OpenPhish", added=added))
    return indicators


def parse_indicator_csv(text: str, feed_format: str, origin: str) -> list[Indicator]:
    """Parse an air-tui CSV file: a header line naming the indicator column, then `threat`, `source`, `added`."""
    kind, key_column = CSV_FORMATS[feed_format]
    indicators: list[Indicator] = []
    try:
        reader = csv.DictReader(io.StringIO(text))
        if reader.fieldnames is None or key_column not in reader.fieldnames:
            raise IntelError(f"{origin} has no '{key_column}' column. Its first line must name the columns, e.g. '{key_column},threat,source,added'.")
        for row in reader:
            value = (row.get(key_column) or "").strip()
            if not value or value.startswith("#"):
                continue
            value = normalise_indicator(kind, value)
            if kind == "file_hash" and not _SHA256.fullmatch(value):
                raise IntelError(f"{origin}: line {reader.line_num} has {value[:80]!r} in the sha256 column; give the file's SHA-256 as 64 hexadecimal digits.")
            indicators.append(
                Indicator(
                    kind=kind,
                    value=value,
                    threat=(row.get("threat") or "Malicious").strip(),
                    source=(row.get("source") or Path(origin).name).strip(),
                    added=(row.get("added") or "").strip(),
                )
            )
    except csv.Error as error:
        raise IntelError(f"{origin} is not a valid CSV file: {error}.") from error
    return indicators


def read_local_feeds(folder: Path) -> list[LocalFeed]:
    """Read every feed file in a tenant's `intel/` folder; a missing folder or file is no feed.

    The files are `urls.csv`, `domains.csv`, `file_hashes.csv` and `allow_domains.csv` in the
    air-tui CSV format, plus `urlhaus*.csv` and `openphish*.txt` as those services publish them.

    Raises:
        IntelError: A file cannot be read or parsed; the message names the file.
    """
    paths: list[tuple[Path, str]] = [(folder / f"{feed_format}.csv", feed_format) for feed_format in CSV_FORMATS]
    paths += [(path, "urlhaus") for path in sorted(folder.glob("urlhaus*.csv"))]
    paths += [(path, "openphish") for path in sorted(folder.glob("openphish*.txt"))]
    feeds: list[LocalFeed] = []
    for path, feed_format in paths:
        if not path.is_file():
            continue
        try:
            content = path.read_bytes()
            # OpenPhish lists carry no dates, so the day the file was saved is used as the listing date.
            saved = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
        except OSError as error:
            raise IntelError(f"Cannot read the intel file {path}: {error}.") from error
        indicators = parse_feed(content, feed_format, str(path), added=saved)
        feeds.append(
            LocalFeed(
                name=f"intel/{path.name}",
                path=path,
                format=feed_format,
                sha256=hashlib.sha256(content).hexdigest(),
                indicators=indicators,
            )
        )
    return feeds


def read_urlhaus(path: Path) -> dict[str, IntelMatch]:
    """Read a URLhaus CSV export file, keyed by normalised URL."""
    return _matches(_read_file(path, "urlhaus"), feed=f"intel/{path.name}")


def read_openphish(path: Path) -> dict[str, IntelMatch]:
    """Read an OpenPhish file, keyed by normalised URL. The file's modification date is used as the listing date."""
    return _matches(_read_file(path, "openphish"), feed=f"intel/{path.name}")


def _read_file(path: Path, feed_format: str) -> list[Indicator]:
    try:
        content = path.read_bytes()
        saved = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
    except OSError as error:
        raise IntelError(f"Cannot read the intel file {path}: {error}.") from error
    return parse_feed(content, feed_format, str(path), added=saved)


def _matches(indicators: list[Indicator], *, feed: str) -> dict[str, IntelMatch]:
    return {
        item.value: IntelMatch(indicator=item.value, threat=item.threat, source=item.source, added=item.added, feed=feed)
        for item in indicators
    }


def _check_url(url: str, origin: str, where: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise IntelError(f"{origin}: {where} has an invalid URL {url[:80]!r}: {error}.") from error
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise IntelError(f"{origin}: {where} is not an http or https URL: {url[:80]!r}. Check that the feed serves its plain list, not an HTML page.")
