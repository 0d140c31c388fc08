"""The alert queue read in windows, so the console reads only the alerts near the screen.

Rows come in the order of `queries.alert_queue`: newest activity first, then by severity, then
by id. The order is read from the `idx_alerts_queue_order` index that `create_schema` creates,
so a window costs an index walk to its offset, not a sort of every alert.

The queue filter matches every word, ignoring case and accents, against the alert's subject,
title, severity, investigation status, reporting user and time as the queue shows it
(`30 Nov 09:30`). `alert_matches` applies the same rule to rows already in memory.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from air_tui.domain.vocab import AlertStatus, InvestigationStatus, Severity
from air_tui.store.database import Store
from air_tui.store.queries import AlertRow, alert_from_row

# Same expression as `queries.alert_queue` and the `idx_alerts_queue_order` index.
_SEVERITY_RANK = "CASE severity WHEN 'High' THEN 0 WHEN 'Medium' THEN 1 WHEN 'Low' THEN 2 ELSE 3 END"
_ORDER = f"alerts.occurred DESC, {_SEVERITY_RANK}, alerts.id"
_FROM = "FROM alerts LEFT JOIN investigations ON investigations.id = alerts.investigation_id"
_STATUS = "COALESCE(investigations.status, alerts.status)"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_TEXT_FIELDS = ("alerts.subject", "alerts.title", 'alerts."user"')
# The alert and investigation models accept only these values, so a word is matched against
# the vocabulary in Python and the SQL compares whole values, which is cheaper than LIKE.
_SEVERITIES = tuple(severity.value for severity in Severity)
_STATUSES = tuple(dict.fromkeys([*(status.value for status in InvestigationStatus), *(status.value for status in AlertStatus)]))
_TIME_WORD = re.compile(r"[0-9:]+")
# Reading an alert through the queue's index took about 5 µs, and an alert of a table scan
# about 1 µs (benchmarks/bench_scale.py data, 100,000 alerts). So a walk that would read more
# than a fifth of the alerts is replaced by a scan.
_SCAN_FRACTION = 5


@runtime_checkable
class AlertSource(Protocol):
    """Source of the alert queue's windows: the service, a store, or a list in memory."""

    def alert_count(self, filter_text: str = "") -> int: ...

    def alert_window(self, offset: int, limit: int, filter_text: str = "", *, total: int | None = None) -> Sequence[AlertRow]:
        """Return a window of the filtered queue; `total`, the filtered count when known, helps pick a plan."""
        ...

    def alert_position(self, alert_id: str, filter_text: str = "") -> int | None: ...


class StoreAlertSource:
    """The queue read straight from a store, for front ends and benchmarks without the service."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def alert_count(self, filter_text: str = "") -> int:
        return alert_count(self.store, filter_text)

    def alert_window(self, offset: int, limit: int, filter_text: str = "", *, total: int | None = None) -> list[AlertRow]:
        return alert_window(self.store, offset, limit, filter_text, total=total)

    def alert_position(self, alert_id: str, filter_text: str = "") -> int | None:
        return alert_position(self.store, alert_id, filter_text)


class ListAlertSource:
    """The queue over rows already in memory, in the order given, filtered by `alert_matches`."""

    def __init__(self, rows: Sequence[AlertRow]) -> None:
        self.rows = list(rows)
        self._filtered: tuple[str, list[AlertRow]] = ("", self.rows)

    def _matching(self, filter_text: str) -> list[AlertRow]:
        if self._filtered[0] != filter_text:
            self._filtered = (filter_text, [row for row in self.rows if alert_matches(row, filter_text)])
        return self._filtered[1]

    def alert_count(self, filter_text: str = "") -> int:
        return len(self._matching(filter_text))

    def alert_window(self, offset: int, limit: int, filter_text: str = "", *, total: int | None = None) -> list[AlertRow]:
        return self._matching(filter_text)[max(offset, 0) : max(offset, 0) + max(limit, 0)]

    def alert_position(self, alert_id: str, filter_text: str = "") -> int | None:
        return next((index for index, row in enumerate(self._matching(filter_text)) if row.alert.id == alert_id), None)


def fold_text(text: str) -> str:
    """Return the text case-folded and without accents, so `alfandega` finds `Alfândega`."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def alert_matches(row: AlertRow, filter_text: str) -> bool:
    """Return whether every word of the filter is in the alert's visible fields, as the SQL filter decides."""
    words = fold_text(filter_text).split()
    if not words:
        return True
    alert = row.alert
    haystack = " ".join(
        (alert.subject, alert.title, alert.severity.value, row.investigation_status, alert.user, f"{alert.occurred:%d %b %H:%M}")
    )
    folded = fold_text(haystack)
    return all(word in folded for word in words)


def alert_count(store: Store, filter_text: str = "") -> int:
    """Count the alerts in the queue that match the filter, or every alert without one."""
    words = _words(filter_text)
    if not words:
        return int(store.db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
    where, parameters = _filter(store, words)
    return int(store.db.execute(f"SELECT COUNT(*) {_FROM} WHERE {where}", parameters).fetchone()[0])


def alert_window(store: Store, offset: int, limit: int, filter_text: str = "", *, total: int | None = None) -> list[AlertRow]:
    """Return up to `limit` queue rows from position `offset`, in the queue's order.

    With a filter, SQLite either walks the queue's index, reading each alert to test it, or
    scans the table in storage order and sorts the matches. The walk is faster for the first
    windows of a common word. Given the filtered `total`, the scan reads any window past the
    first fifth of the matches, which includes every window of a rare word.
    """
    if limit <= 0 or offset < 0:
        return []
    words = _words(filter_text)
    scan = bool(words) and total is not None and (offset + limit) * _SCAN_FRACTION > total
    sql, parameters = _window_sql(store, words, scan=scan)
    return [_row(row) for row in store.db.query(sql, [*parameters, limit, offset])]


def alert_position(store: Store, alert_id: str, filter_text: str = "") -> int | None:
    """Return the alert's position in the filtered queue, or None when it is gone or filtered out."""
    found = store.db.execute(f"SELECT alerts.occurred, {_SEVERITY_RANK} FROM alerts WHERE alerts.id = ?", [alert_id]).fetchone()
    if found is None:
        return None
    words = _words(filter_text)
    before_unfiltered = _count_before(store, found, alert_id, [])
    if not words:
        return before_unfiltered
    where, parameters = _filter(store, words)
    if store.db.execute(f"SELECT 1 {_FROM} WHERE alerts.id = ? AND {where}", [alert_id, *parameters]).fetchone() is None:
        return None
    # Counting the matches before an alert deep in the queue reads every alert before it, so
    # past the first fifth of the queue a scan of the table in storage order is cheaper.
    scan = before_unfiltered * _SCAN_FRACTION > alert_count(store)
    return _count_before(store, found, alert_id, words, scan=scan)


def _count_before(store: Store, found: tuple[str, int], alert_id: str, words: list[str], *, scan: bool = False) -> int:
    """Count the queue rows that come before the alert with the given (occurred, rank) and id."""
    occurred, rank = found
    where, parameters = _filter(store, words)
    source = _FROM if words else "FROM alerts"
    column = "+alerts.occurred" if scan else "alerts.occurred"
    # Two counts instead of one with OR, so each reads one range of the queue's index.
    later = store.db.execute(f"SELECT COUNT(*) {source} WHERE {column} > ? AND {where}", [occurred, *parameters]).fetchone()
    tied = store.db.execute(
        f"SELECT COUNT(*) {source} WHERE alerts.occurred = ? AND ({_SEVERITY_RANK} < ? OR ({_SEVERITY_RANK} = ? AND alerts.id < ?)) AND {where}",
        [occurred, rank, rank, alert_id, *parameters],
    ).fetchone()
    return int(later[0]) + int(tied[0])


def queue_plan(store: Store, filter_text: str = "", *, scan: bool = False) -> list[str]:
    """Return SQLite's plan for one window of the queue, one step per line, for tests and tuning."""
    sql, parameters = _window_sql(store, _words(filter_text), scan=scan)
    return [row[3] for row in store.db.execute(f"EXPLAIN QUERY PLAN {sql}", [*parameters, 50, 0])]


def _window_sql(store: Store, words: list[str], *, scan: bool) -> tuple[str, list[Any]]:
    """Return the window query, whose last two parameters are LIMIT and OFFSET.

    The inner query finds the window's rows by rowid, so without a filter SQLite steps over
    the offset inside the queue's index alone. Only the window's rows are then read and
    joined to their investigations. With `scan`, a unary `+` keeps SQLite from reading the
    order from the index, so it scans the table and sorts the matches instead.
    """
    where, parameters = _filter(store, words)
    source = _FROM if words else "FROM alerts"
    order = f"+{_ORDER}" if scan else _ORDER
    page = f"SELECT alerts.rowid AS alert_rowid {source} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    sql = (
        f"SELECT alerts.*, {_STATUS} AS investigation_status FROM ({page}) AS page "
        "JOIN alerts ON alerts.rowid = page.alert_rowid "
        f"LEFT JOIN investigations ON investigations.id = alerts.investigation_id ORDER BY {_ORDER}"
    )
    return sql, parameters


def _words(filter_text: str) -> list[str]:
    return fold_text(filter_text).split()


def _filter(store: Store, words: list[str]) -> tuple[str, list[Any]]:
    if not words:
        return "1", []
    _register_fold(store.db.conn)
    conditions: list[str] = []
    parameters: list[Any] = []
    for word in words:
        condition, values = _word_condition(word)
        conditions.append(condition)
        parameters.extend(values)
    return " AND ".join(conditions), parameters


def _word_condition(word: str) -> tuple[str, list[Any]]:
    """Return SQL that is true when a folded word is in one of the queue's shown fields.

    A word has no spaces, so it is in the joined fields only when it is inside one of them,
    and each field is tested alone. LIKE ignores the case of ASCII letters only, so a field
    with any other character (its UTF-8 is longer than its text) is also tested through
    `fold_text`, which SQLite calls as `air_fold`. The shown time, `30 Nov 09:30`, is tested
    on the parts of the stored ISO time that a word could match.
    """
    pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    parts = [f"{field} LIKE ? ESCAPE '\\'" for field in _TEXT_FIELDS]
    values: list[Any] = [pattern] * len(parts)
    for field in _TEXT_FIELDS:
        parts.append(f"(length(CAST({field} AS BLOB)) > length({field}) AND instr(air_fold({field}), ?) > 0)")
        values.append(word)
    for field, vocabulary in (("alerts.severity", _SEVERITIES), (_STATUS, _STATUSES)):
        matching = [value for value in vocabulary if word in fold_text(value)]
        if matching:
            parts.append(f"{field} IN ({', '.join('?' * len(matching))})")
            values.extend(matching)
    if _TIME_WORD.fullmatch(word):
        parts.append("substr(alerts.occurred, 9, 2) LIKE ? ESCAPE '\\' OR substr(alerts.occurred, 12, 5) LIKE ? ESCAPE '\\'")
        values.extend([pattern, pattern])
    months = [f"{number:02d}" for number, name in enumerate(_MONTHS, start=1) if word in name]
    if months:
        parts.append(f"substr(alerts.occurred, 6, 2) IN ({', '.join('?' * len(months))})")
        values.extend(months)
    return "(" + " OR ".join(parts) + ")", values


def _register_fold(connection: sqlite3.Connection) -> None:
    # Registering again replaces the function, so each call is safe and costs microseconds.
    connection.create_function("air_fold", 1, _fold_or_empty, deterministic=True)


def _fold_or_empty(text: object) -> str:
    return fold_text(text) if isinstance(text, str) else ""


def _row(row: dict[str, Any]) -> AlertRow:
    return AlertRow(alert=alert_from_row(row), investigation_id=row["investigation_id"] or "", investigation_status=row["investigation_status"])
