"""The state of each feed as `air-tui intel status` reports it: count, skipped lines, age, last error, staleness."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from air_tui.intel.entries import describe_age
from air_tui.intel.skipped import SkippedLine, describe_skipped, stored_skipped


@dataclass(frozen=True)
class FeedStatus:
    name: str
    origin: str
    """`download` for a configured feed, `file` for a file in the tenant's `intel/` folder."""
    location: str
    """The feed's URL, or the file's path."""
    format: str
    enabled: bool
    count: int
    """Indicators stored from the last successful download or import."""
    last_success: str
    last_attempt: str
    last_error: str
    """Reason the last attempt failed; empty when it succeeded."""
    age_seconds: int | None
    """Seconds since the last success; None when the feed never succeeded."""
    stale: bool
    """True when the feed is enabled and never succeeded, or succeeded longer ago than `max_age_days`."""
    skipped: int = 0
    """Invalid lines left out of the stored indicators, in the download or import that stored them."""
    skipped_examples: tuple[SkippedLine, ...] = ()
    """The first of those lines, named for the user."""

    @property
    def age(self) -> str:
        """The age in words, e.g. "3 hours ago", or "never fetched"."""
        if self.age_seconds is None:
            return "never fetched"
        return describe_age(timedelta(seconds=self.age_seconds))

    def describe_skipped(self) -> str:
        """Describe the skipped lines, e.g. "skipped 1 invalid line: line 3 'x' (reason)", or return "" when there are none."""
        return describe_skipped(self.skipped, self.skipped_examples)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "age": self.age, "skipped_examples": [asdict(example) for example in self.skipped_examples]}


def feed_status(
    row: Mapping[str, Any] | None,
    *,
    name: str,
    origin: str,
    location: str,
    feed_format: str,
    enabled: bool,
    now: datetime,
    max_age_days: int,
) -> FeedStatus:
    """Combine a feed's stored row (None when it was never attempted) with its configuration.

    Files in the tenant's folder are never stale, because they change only when someone replaces them.
    """
    row = row or {}
    last_success = row.get("last_success") or ""
    age_seconds: int | None = None
    if last_success:
        age_seconds = max(0, int((now - datetime.fromisoformat(last_success)).total_seconds()))
    stale = False
    if origin == "download" and enabled:
        stale = age_seconds is None or age_seconds > max_age_days * 86400
    skipped, skipped_examples = stored_skipped(row)
    return FeedStatus(
        name=name,
        origin=origin,
        location=location,
        format=feed_format,
        enabled=enabled,
        count=int(row.get("count") or 0),
        last_success=last_success,
        last_attempt=row.get("last_attempt") or "",
        last_error=row.get("last_error") or "",
        age_seconds=age_seconds,
        stale=stale,
        skipped=skipped,
        skipped_examples=skipped_examples,
    )
