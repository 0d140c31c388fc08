"""Intel entries and the error raised for unreadable feed files."""

from __future__ import annotations

from dataclasses import dataclass


class IntelError(Exception):
    """A feed file is missing a required column or cannot be read."""


@dataclass(frozen=True)
class IntelMatch:
    indicator: str
    """The feed entry that matched, which may be a parent domain of the value looked up."""
    threat: str
    source: str
    added: str

    def describe(self, kind: str) -> str:
        added = f", added {self.added}" if self.added else ""
        return f"{kind} {self.indicator} is listed as {self.threat} by {self.source}{added}"
