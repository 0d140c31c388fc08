"""Readers for public feed formats, so a downloaded URLhaus or OpenPhish file works as it is."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from air_tui.intel.entries import IntelError, IntelMatch

URLHAUS_COLUMNS = ("id", "dateadded", "url", "url_status", "last_online", "threat", "tags", "urlhaus_link", "reporter")
"""Columns of URLhaus' CSV export, which starts with `#` comment lines instead of a header."""


def read_urlhaus(path: Path) -> dict[str, IntelMatch]:
    """Read a URLhaus CSV export: URL, threat (e.g. malware_download) and the date it was added."""
    entries: dict[str, IntelMatch] = {}
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            lines = (line for line in handle if line.strip() and not line.startswith("#"))
            for number, row in enumerate(csv.reader(lines), start=1):
                if len(row) < 3:
                    raise IntelError(f"{path}: row {number} has {len(row)} columns; a URLhaus export has {len(URLHAUS_COLUMNS)}.")
                record = dict(zip(URLHAUS_COLUMNS, row, strict=False))
                url = record["url"].strip()
                if not url:
                    continue
                entries[url] = IntelMatch(
                    indicator=url,
                    threat="Malware" if "malware" in record.get("threat", "").lower() else "Phish",
                    source="URLhaus",
                    added=record.get("dateadded", "")[:10],
                )
    except (OSError, csv.Error) as error:
        raise IntelError(f"Cannot read the URLhaus file {path}: {error}.") from error
    return entries


def read_openphish(path: Path) -> dict[str, IntelMatch]:
    """Read an OpenPhish feed: one URL a line. The feed has no dates, so the file's modification time is used."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        added = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date().isoformat()
    except OSError as error:
        raise IntelError(f"Cannot read the OpenPhish file {path}: {error}.") from error
    entries: dict[str, IntelMatch] = {}
    for line in text.splitlines():
        url = line.strip()
        if url and not url.startswith("#"):
            entries[url] = IntelMatch(indicator=url, threat="Phish", source="OpenPhish", added=added)
    return entries
