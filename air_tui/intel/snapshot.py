"""Local threat-intelligence snapshots read from CSV files, so verdicts never need the network."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from air_tui.intel.entries import IntelError, IntelMatch
from air_tui.intel.feeds import read_openphish, read_urlhaus


def normalise_url(url: str) -> str:
    """Lower-case scheme and host and drop a bare trailing slash, so trivial variants match."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    path = parts.path if parts.path not in ("", "/") else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


@dataclass
class IntelSnapshot:
    urls: dict[str, IntelMatch] = field(default_factory=dict)
    domains: dict[str, IntelMatch] = field(default_factory=dict)
    file_hashes: dict[str, IntelMatch] = field(default_factory=dict)
    allowed_domains: dict[str, IntelMatch] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path) -> IntelSnapshot:
        """Read `urls.csv`, `domains.csv`, `file_hashes.csv` and `allow_domains.csv`; a missing file is an empty list."""
        snapshot = cls()
        snapshot.urls = {normalise_url(k): v for k, v in _read(folder / "urls.csv", "url").items()}
        snapshot.domains = {k.lower().rstrip("."): v for k, v in _read(folder / "domains.csv", "domain").items()}
        snapshot.file_hashes = {k.lower(): v for k, v in _read(folder / "file_hashes.csv", "sha256").items()}
        snapshot.allowed_domains = {
            k.lower().rstrip("."): v for k, v in _read(folder / "allow_domains.csv", "domain").items()
        }
        # Feeds downloaded in their own formats sit beside the snapshot files.
        for path in sorted(folder.glob("urlhaus*.csv")):
            snapshot.urls.update({normalise_url(k): v for k, v in read_urlhaus(path).items()})
        for path in sorted(folder.glob("openphish*.txt")):
            snapshot.urls.update({normalise_url(k): v for k, v in read_openphish(path).items()})
        return snapshot

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
        return len(self.urls) + len(self.domains) + len(self.file_hashes)


def _lookup_with_parents(table: dict[str, IntelMatch], host: str) -> IntelMatch | None:
    labels = host.lower().rstrip(".").split(".")
    for start in range(len(labels) - 1):
        match = table.get(".".join(labels[start:]))
        if match is not None:
            return match
    return None


def _read(path: Path, key_column: str) -> dict[str, IntelMatch]:
    if not path.exists():
        return {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or key_column not in reader.fieldnames:
                raise IntelError(f"{path} has no '{key_column}' column. Its first line must name the columns, e.g. '{key_column},threat,source,added'.")
            entries: dict[str, IntelMatch] = {}
            for row in reader:
                value = (row.get(key_column) or "").strip()
                if not value or value.startswith("#"):
                    continue
                entries[value] = IntelMatch(
                    indicator=value,
                    threat=(row.get("threat") or "Malicious").strip(),
                    source=(row.get("source") or path.name).strip(),
                    added=(row.get("added") or "").strip(),
                )
            return entries
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise IntelError(f"Cannot read the intel file {path}: {error}.") from error
