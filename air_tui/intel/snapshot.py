"""In-memory intel snapshot that the engine queries, built from feed files or from stored feed rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from air_tui.intel.entries import Indicator, IntelError, IntelMatch, normalise_domain, normalise_url
from air_tui.intel.feeds import read_local_feeds

__all__ = ["IntelSnapshot", "normalise_url"]


@dataclass
class IntelSnapshot:
    urls: dict[str, IntelMatch] = field(default_factory=dict)
    domains: dict[str, IntelMatch] = field(default_factory=dict)
    file_hashes: dict[str, IntelMatch] = field(default_factory=dict)
    allowed_domains: dict[str, IntelMatch] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> IntelSnapshot:
        """Read the feed files in a tenant's `intel/` folder directly, without the store.

        See `read_local_feeds` for the file names; a missing file is an empty list.

        Raises:
            IntelError: A file cannot be read or parsed.
        """
        snapshot = cls()
        for feed in read_local_feeds(folder):
            for item in feed.indicators:
                snapshot.add(item, feed=feed.name)
        return snapshot

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> IntelSnapshot:
        """Build a snapshot from stored indicator rows.

        Each row has `kind`, `indicator`, `threat`, `source`, `added`, `feed` and `fetched` (an
        ISO 8601 time or empty). When several feeds list one indicator, the listing with the
        earliest `added` date is kept, so evidence states how long the indicator has been known.

        Raises:
            IntelError: A row has an unknown kind or an unreadable `fetched` time.
        """
        snapshot = cls()
        for row in rows:
            item = Indicator(
                kind=row["kind"],
                value=row["indicator"],
                threat=row["threat"] or "Malicious",
                source=row["source"] or row["feed"],
                added=row["added"] or "",
            )
            snapshot.add(item, feed=row["feed"] or "", fetched=_parse_time(row.get("fetched") or ""))
        return snapshot

    def add(self, item: Indicator, *, feed: str = "", fetched: datetime | None = None) -> None:
        """Add one normalised indicator, keeping an existing listing that has an earlier date."""
        table = self._table(item.kind)
        match = IntelMatch(indicator=item.value, threat=item.threat, source=item.source, added=item.added, feed=feed, fetched=fetched)
        current = table.get(item.value)
        if current is None or (match.added and (not current.added or match.added < current.added)):
            table[item.value] = match

    def lookup_url(self, url: str) -> IntelMatch | None:
        return self.urls.get(normalise_url(url))

    def lookup_domain(self, host: str) -> IntelMatch | None:
        """Match the host or any parent domain of it against the domain list."""
        return _lookup_with_parents(self.domains, host)

    def lookup_file(self, sha256: str) -> IntelMatch | None:
        return self.file_hashes.get(sha256.lower())

    def allowed(self, host: str) -> IntelMatch | None:
        return _lookup_with_parents(self.allowed_domains, host)

    @property
    def entry_count(self) -> int:
        """Number of listed URLs, domains and file hashes; allow-list entries are not counted."""
        return len(self.urls) + len(self.domains) + len(self.file_hashes)

    def _table(self, kind: str) -> dict[str, IntelMatch]:
        tables = {"url": self.urls, "domain": self.domains, "file_hash": self.file_hashes, "allow_domain": self.allowed_domains}
        if kind not in tables:
            raise IntelError(f"Unknown indicator kind {kind!r}; use one of {', '.join(tables)}.")
        return tables[kind]


def _lookup_with_parents(table: dict[str, IntelMatch], host: str) -> IntelMatch | None:
    labels = normalise_domain(host).split(".")
    for start in range(len(labels) - 1):
        match = table.get(".".join(labels[start:]))
        if match is not None:
            return match
    return None


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise IntelError(f"Stored intel has an unreadable fetch time {value!r}; run `air-tui intel refresh` to rewrite it.") from error
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
