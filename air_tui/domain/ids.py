"""Id and time sources, injectable so tests and snapshots get fixed values."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ulid import ULID

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]


def system_clock() -> datetime:
    return datetime.now(UTC)


def ulid_factory() -> str:
    return str(ULID())


class FrozenClock:
    """A clock that returns a fixed time, moved on by `step` after each reading."""

    def __init__(self, start: datetime, step: timedelta = timedelta(0)) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        current = self.now
        self.now = current + self.step
        return current


class SequentialIds:
    """Ids that are sortable and repeatable: `prefix` plus a zero-padded counter."""

    def __init__(self, prefix: str = "01TEST") -> None:
        self._counter = itertools.count(1)
        self._prefix = prefix

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._counter):020d}"
