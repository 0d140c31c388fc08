"""Intel entries, indicators parsed from feeds, and the error raised for unusable feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

INDICATOR_KINDS = ("url", "domain", "file_hash", "allow_domain")
"""Kinds of indicator a feed can list; `allow_domain` entries clear a domain instead of flagging it."""


class IntelError(Exception):
    """A feed is missing a required column, cannot be read, or contains something that is not an indicator."""


@dataclass(frozen=True)
class IntelMatch:
    indicator: str
    """The feed entry that matched, which may be a parent domain of the value looked up."""
    threat: str
    source: str
    """Organisation or list that lists the indicator, e.g. URLhaus, or the `source` column of an air-tui CSV file."""
    added: str
    """Date (YYYY-MM-DD) the source first listed the indicator; empty when the feed gives none."""
    feed: str = ""
    """Name of the feed that delivered the entry: a configured feed, or `intel/FILE` in the tenant."""
    fetched: datetime | None = None
    """When air-tui last fetched or imported that feed successfully (UTC)."""

    def describe(self, kind: str, now: datetime | None = None) -> str:
        """Describe the listing for evidence text, with the listing date, the feed and its age.

        Args:
            kind: What was looked up, as the sentence should name it, e.g. "URL".
            now: The current time. With it the feed's age is relative ("fetched 3 hours ago"),
                without it the fetch time is written out, so the text does not depend on when it is read.
        """
        text = f"{kind} {self.indicator} is listed as {self.threat} by {self.source}"
        if self.added:
            text += f" since {self.added}"
        details: list[str] = []
        if self.feed and self.feed != self.source:
            details.append(f"feed {self.feed}")
        if self.fetched is not None:
            if now is not None:
                details.append(f"fetched {describe_age(now - self.fetched)}")
            else:
                details.append(f"fetched {self.fetched:%Y-%m-%d %H:%M} UTC")
        if details:
            text += f" ({', '.join(details)})"
        return text


@dataclass(frozen=True)
class Indicator:
    """One entry of a feed, normalised so look-ups find it."""

    kind: str
    """One of INDICATOR_KINDS."""
    value: str
    threat: str
    source: str
    added: str


def describe_age(age: timedelta) -> str:
    """Write an age as "just now", "5 minutes ago", "3 hours ago" or "2 days ago"."""
    seconds = int(age.total_seconds())
    if seconds < 60:
        return "just now"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop the fragment and a bare trailing slash, so trivial variants match.

    NOTE: the message parser keeps its own URL normalisation for clustering, and the intel layer
    may not import it. The two must produce the same string for the same URL. Otherwise a listed
    URL found in mail does not match its feed entry, so change both together.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    path = parts.path if parts.path not in ("", "/") else ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def normalise_domain(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


def normalise_indicator(kind: str, value: str) -> str:
    """Return `value` in the form the snapshot and the store key it by, for an indicator of `kind`."""
    if kind == "url":
        return normalise_url(value)
    if kind in ("domain", "allow_domain"):
        return normalise_domain(value)
    if kind == "file_hash":
        return value.strip().lower()
    raise IntelError(f"Unknown indicator kind {kind!r}; use one of {', '.join(INDICATOR_KINDS)}.")
