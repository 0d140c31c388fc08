"""The explorer: a small query language over every ingested message, read in windows.

A query is a list of terms such as `from:billing@example.com folder:"Junk Email" invoice`.
Terms of different kinds must all match. Repeated terms of one kind match when any of them
does, so `folder:Inbox folder:"Junk Email"` finds both folders. Free words must all appear
in the sender, subject or body, through the full-text index. Results are read newest first,
one window of rows at a time, so a front end never loads every match.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import Verdict
from air_tui.store.database import Store
from air_tui.store.messages import load_message

DEFAULT_CAP = 10_000
"""Matches counted before `count` stops and reports the result as capped."""

KEYS = ("from", "domain", "subject", "url", "hash", "after", "before", "folder", "mailbox", "verdict", "blocked")
"""Every term key, in the order help text lists them."""

VERDICTS = {
    "malicious": Verdict.MALICIOUS.value,
    "suspicious": Verdict.SUSPICIOUS.value,
    "clean": Verdict.NO_THREATS_FOUND.value,
    "unknown": Verdict.UNKNOWN.value,
    "none": "",
}
"""Values of `verdict:`, mapped to the verdict stored in `message_verdicts`; `none` means never judged."""

EXAMPLES = {
    "from": "from:billing@example.com",
    "domain": "domain:example.com",
    "subject": 'subject:invoice or subject:"overdue invoice"',
    "url": "url:example.com or url:https://example.com/login",
    "hash": "hash: followed by the 64 hex digits of the attachment's SHA-256",
    "after": "after:2026-11-01",
    "before": "before:2026-12-01",
    "folder": 'folder:Inbox or folder:"Junk Email"',
    "mailbox": "mailbox:user@example.com",
    "verdict": "verdict:malicious, suspicious, clean, unknown or none",
    "blocked": "blocked:yes (junked by the tenant block list at ingest) or blocked:no",
}

_KEYED = re.compile(r"([A-Za-z]+):")
_HASH = re.compile(r"[0-9a-f]{64}")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_WORD_CHARACTER = re.compile(r"\w")
# The upper bound of a prefix range: a code point above every character a stored URL holds.
_PREFIX_END = "\U0010ffff"


class QueryError(ValueError):
    """A query that cannot run. The message names the term and what to write instead."""

    def __init__(self, term: str, problem: str) -> None:
        super().__init__(f"{term}: {problem}")
        self.term = term
        """The term as the analyst typed it."""
        self.problem = problem
        """What is wrong with the term and how to write it instead."""


@dataclass(frozen=True)
class Term:
    key: str
    """One of `KEYS`, or an empty string for free text."""
    value: str
    """The value with quotes removed."""
    text: str
    """The term as typed, for error messages."""
    quoted: bool = False


@dataclass(frozen=True)
class ExplorerQuery:
    text: str
    terms: tuple[Term, ...] = ()

    def values(self, key: str) -> list[str]:
        return [term.value for term in self.terms if term.key == key]


@dataclass(frozen=True)
class ExplorerRow:
    """One message in a result window: only what the result table shows."""

    id: str
    received_at: str
    mailbox: str
    folder: str
    sender: str
    subject: str
    verdict: str
    """Latest verdict on the message, or an empty string when it was never judged."""


@dataclass(frozen=True)
class MessageCount:
    count: int
    """Matching messages, at most the cap when `capped`."""
    capped: bool = False
    """Whether counting stopped at the cap, so more messages match."""

    @property
    def label(self) -> str:
        """The count for a status line: `1 message`, `1,234 messages` or `10,000+ messages`."""
        if self.capped:
            return f"{self.count:,}+ messages"
        return f"{self.count:,} {'message' if self.count == 1 else 'messages'}"


@dataclass
class _Compiled:
    """A query turned into SQL: WHERE conditions on `m` (messages) and `v` (message_verdicts)."""

    conditions: list[str] = field(default_factory=list)
    parameters: list[Any] = field(default_factory=list)
    joins_verdicts: bool = False


# Parsing --------------------------------------------------------------------------------------


def parse_query(text: str) -> ExplorerQuery:
    """Split a query into terms and check every value.

    Raises:
        QueryError: An unknown key, an invalid value or an unbalanced quote. The error names
            the term as typed and what to write instead.
    """
    terms = tuple(_check(term) for term in _split(text))
    return ExplorerQuery(text=text, terms=terms)


def _split(text: str) -> list[Term]:
    terms: list[Term] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        start = position
        keyed = _KEYED.match(text, position)
        key = ""
        if keyed is not None:
            key = keyed.group(1).lower()
            position = keyed.end()
        if position < len(text) and text[position] == '"':
            closing = text.find('"', position + 1)
            if closing < 0:
                raise QueryError(text[start:].strip(), 'the quote is not closed. Add a closing " after the last word.')
            value, end = text[position + 1 : closing], closing + 1
            if end < len(text) and not text[end].isspace():
                raise QueryError(text[start:].split()[0], "put a space after the closing quote.")
            terms.append(_keyed_term(key, value, text[start:end], quoted=True))
            position = end
            continue
        end = position
        while end < len(text) and not text[end].isspace():
            end += 1
        typed = text[start:end]
        value = text[position:end]
        if '"' in value:
            raise QueryError(typed, 'a quote inside a word is not closed. Quote the whole value, as in subject:"two words".')
        terms.append(_keyed_term(key, value, typed, quoted=False))
        position = end
    return terms


def _keyed_term(key: str, value: str, typed: str, *, quoted: bool) -> Term:
    if not key:
        return Term(key="", value=value, text=typed, quoted=quoted)
    if key not in KEYS:
        raise QueryError(typed, _unknown_key_hint(key))
    return Term(key=key, value=value.strip(), text=typed, quoted=quoted)


def _unknown_key_hint(key: str) -> str:
    close = difflib.get_close_matches(key, KEYS, n=1)
    guess = f"Did you mean {close[0]}:? " if close else ""
    listed = ", ".join(f"{name}:" for name in KEYS)
    return f'unknown term {key}:. {guess}The terms are {listed}. To search for text with a colon, quote it: "{key}:…".'


def _check(term: Term) -> Term:
    """Return the term with its value normalised, or raise QueryError naming what to write."""
    value = term.value
    if term.key == "":
        if not _WORD_CHARACTER.search(value):
            raise QueryError(term.text, "has no letters or digits to search for. Remove it, or quote it with words.")
        return term
    if not value:
        raise QueryError(term.text, f"needs a value, for example {EXAMPLES[term.key]}.")
    if term.key in ("from", "mailbox"):
        if "@" not in value or any(character.isspace() for character in value):
            other = "; for a whole domain write domain:example.com" if term.key == "from" else ""
            raise QueryError(term.text, f"needs a full address, for example {EXAMPLES[term.key]}{other}.")
        return _replace(term, value.lower())
    if term.key == "domain":
        domain = value.lstrip("@").rstrip(".").lower()
        if "@" in domain:
            raise QueryError(term.text, f"needs a domain, not an address: write domain:{domain.rsplit('@', 1)[1]} or from:{domain}.")
        if not domain or any(character in domain for character in "/: ") or "." not in domain:
            raise QueryError(term.text, f"needs a domain name such as {EXAMPLES['domain']}; for a link write url:.")
        return _replace(term, domain)
    if term.key == "subject":
        if not _WORD_CHARACTER.search(value):
            raise QueryError(term.text, f"needs a word with letters or digits, for example {EXAMPLES['subject']}.")
        return term
    if term.key == "hash":
        digest = value.lower()
        if not _HASH.fullmatch(digest):
            raise QueryError(term.text, f"needs a SHA-256 of 64 hex digits; this value has {len(value)} characters.")
        return _replace(term, digest)
    if term.key in ("after", "before"):
        return _replace(term, _checked_day(term))
    if term.key == "blocked":
        answer = value.lower()
        if answer not in ("yes", "no"):
            raise QueryError(term.text, f"needs yes or no: {EXAMPLES['blocked']}.")
        return _replace(term, answer)
    if term.key == "verdict":
        verdict = value.lower()
        if verdict not in VERDICTS:
            raise QueryError(term.text, f"unknown verdict. Write {EXAMPLES['verdict']}.")
        return _replace(term, verdict)
    return term


def _checked_day(term: Term) -> str:
    problem = f"needs a date as YYYY-MM-DD, for example {EXAMPLES[term.key]}."
    if not _DAY.fullmatch(term.value):
        raise QueryError(term.text, problem)
    try:
        return date.fromisoformat(term.value).isoformat()
    except ValueError:
        raise QueryError(term.text, f"is not a real date. {problem[0].upper()}{problem[1:]}") from None


def _replace(term: Term, value: str) -> Term:
    return Term(key=term.key, value=value, text=term.text, quoted=term.quoted)


# Compiling to SQL ---------------------------------------------------------------------------


def _compile(store: Store, query: ExplorerQuery) -> _Compiled:
    compiled = _Compiled()
    for key, column in (("from", "sender_address"), ("domain", "sender_domain"), ("mailbox", "mailbox")):
        _any_equal(compiled, f"m.{column}", query.values(key))
    folders = query.values("folder")
    if folders:
        _any_equal(compiled, "m.folder", _stored_folders(store, folders))

    days = query.values("after")
    if days:
        # `after:` keeps the day it names, `before:` leaves it out, so
        # `after:2026-11-01 before:2026-12-01` is November.
        compiled.conditions.append("(" + " OR ".join("m.received_at >= ?" for _ in days) + ")")
        compiled.parameters.extend(days)
    days = query.values("before")
    if days:
        # Messages without a delivery time have an empty received_at, which sorts before any
        # date; they match no date term.
        compiled.conditions.append("(" + " OR ".join("(m.received_at < ? AND m.received_at != '')" for _ in days) + ")")
        compiled.parameters.extend(days)

    _add_urls(compiled, query.values("url"))
    hashes = query.values("hash")
    if hashes:
        marks = ", ".join("?" * len(hashes))
        compiled.conditions.append(f"m.id IN (SELECT message_id FROM message_attachments WHERE sha256 IN ({marks}))")
        compiled.parameters.extend(hashes)
    _add_verdicts(compiled, query.values("verdict"))
    blocked = set(query.values("blocked"))
    if len(blocked) == 1:
        # Both yes and no together match everything, so they add no condition.
        negation = "" if blocked == {"yes"} else "NOT "
        compiled.conditions.append(f"m.id {negation}IN (SELECT message_id FROM blocked_messages)")
    match = _fts_expression(query)
    if match:
        compiled.conditions.append("m.rowid IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)")
        compiled.parameters.append(match)
    return compiled


def _any_equal(compiled: _Compiled, column: str, values: list[str]) -> None:
    if not values:
        return
    unique = list(dict.fromkeys(values))
    marks = ", ".join("?" * len(unique))
    compiled.conditions.append(f"{column} IN ({marks})")
    compiled.parameters.extend(unique)


def _stored_folders(store: Store, typed: list[str]) -> list[str]:
    """Return the stored spellings of the folders named, ignoring case: `junk email` finds `Junk Email`.

    The folder names are read from the index on `folder` one distinct value at a time, so a
    million messages in ten folders cost ten index look-ups. A name no stored folder has is
    kept as typed, and matches nothing.
    """
    stored: list[str] = []
    previous = None
    while True:
        if previous is None:
            row = store.db.execute("SELECT MIN(folder) FROM messages").fetchone()
        else:
            row = store.db.execute("SELECT MIN(folder) FROM messages WHERE folder > ?", [previous]).fetchone()
        if row is None or row[0] is None:
            break
        previous = row[0]
        stored.append(previous)
    requested = {name.casefold() for name in typed}
    found = [name for name in stored if name.casefold() in requested]
    return found + [name for name in typed if name.casefold() not in {known.casefold() for known in found}]


def _add_urls(compiled: _Compiled, values: list[str]) -> None:
    """Add the condition for the `url:` values, any of which may match.

    A value with a scheme (`https://host/path`) matches the stored URLs that start with it. A
    value with a path but no scheme matches after `http://` or `https://`. A bare name matches
    the host (`login.example.com`) or the registrable domain (`example.com`) of each URL.
    """
    if not values:
        return
    parts: list[str] = []
    parameters: list[str] = []
    for value in values:
        if "://" in value:
            prefixes = [value]
        elif "/" in value:
            prefixes = [f"http://{value}", f"https://{value}"]
        else:
            host = value.lower().rstrip(".")
            parts.append("host = ? OR registrable_domain = ?")
            parameters.extend([host, host])
            continue
        for prefix in prefixes:
            parts.append("(url >= ? AND url < ?)")
            parameters.extend([prefix, prefix + _PREFIX_END])
    compiled.conditions.append(f"m.id IN (SELECT message_id FROM message_urls WHERE {' OR '.join(parts)})")
    compiled.parameters.extend(parameters)


def _add_verdicts(compiled: _Compiled, values: list[str]) -> None:
    if not values:
        return
    compiled.joins_verdicts = True
    parts: list[str] = []
    stored = [VERDICTS[value] for value in dict.fromkeys(values) if value != "none"]
    if stored:
        parts.append(f"v.verdict IN ({', '.join('?' * len(stored))})")
        compiled.parameters.extend(stored)
    if "none" in values:
        # NOTE: the walk to a window's offset reads the verdict of every message it passes,
        # so a window deep in a large result is slow: 1.4 s at offset 480,000 of 960,000
        # (benchmarks/bench_scale.py data on a 2-core machine).
        parts.append("v.message_id IS NULL")
    compiled.conditions.append("(" + " OR ".join(parts) + ")")


def _fts_expression(query: ExplorerQuery) -> str:
    """Return one FTS5 expression for the subject terms and free words, or an empty string.

    Every value is written as an FTS5 string, so analysts' text is never read as FTS syntax.
    A word ending in `*` matches as a prefix: `invoic*` finds `invoice` and `invoicing`.
    """
    subjects = [_fts_phrase(term, column="subject") for term in query.terms if term.key == "subject"]
    words = [_fts_phrase(term) for term in query.terms if term.key == ""]
    parts = words
    if subjects:
        parts = ["(" + " OR ".join(subjects) + ")" if len(subjects) > 1 else subjects[0], *words]
    return " AND ".join(parts)


def _fts_phrase(term: Term, column: str = "") -> str:
    text = term.value
    prefix = not term.quoted and text.endswith("*") and len(text) > 1
    if prefix:
        text = text.rstrip("*")
    phrase = '"' + text.replace('"', '""') + '"' + (" *" if prefix else "")
    return f"{column} : {phrase}" if column else phrase


def _from_clause(compiled: _Compiled) -> str:
    verdict_join = " LEFT JOIN message_verdicts AS v ON v.message_id = m.id" if compiled.joins_verdicts else ""
    where = f" WHERE {' AND '.join(compiled.conditions)}" if compiled.conditions else ""
    return f"FROM messages AS m{verdict_join}{where}"


def _window_sql(compiled: _Compiled, direction: str) -> str:
    """Return the window query in one direction, whose last two parameters are LIMIT and OFFSET.

    The inner query finds the window's rows by rowid. Without a `verdict:` term it reads no
    verdict, so SQLite steps over the offset inside an index alone. Only the window's rows
    are then read and joined to their verdicts.
    """
    order = f"m.received_at {direction}, m.rowid {direction}"
    page = f"SELECT m.rowid AS message_rowid {_from_clause(compiled)} ORDER BY {order} LIMIT ? OFFSET ?"
    return (
        "SELECT m.id, m.received_at, m.mailbox, m.folder, m.sender_address, m.subject, IFNULL(v.verdict, '') "
        f"FROM ({page}) AS page JOIN messages AS m ON m.rowid = page.message_rowid "
        f"LEFT JOIN message_verdicts AS v ON v.message_id = m.id ORDER BY {order}"
    )


def _as_query(query: str | ExplorerQuery) -> ExplorerQuery:
    return parse_query(query) if isinstance(query, str) else query


# Reading ------------------------------------------------------------------------------------


def count(store: Store, query: str | ExplorerQuery, cap: int = DEFAULT_CAP) -> MessageCount:
    """Count the messages that match, stopping once more than `cap` match.

    Raises:
        QueryError: The query text has an invalid term.
    """
    compiled = _compile(store, _as_query(query))
    sql = f"SELECT COUNT(*) FROM (SELECT 1 {_from_clause(compiled)} LIMIT ?)"
    found = int(store.db.execute(sql, [*compiled.parameters, cap + 1]).fetchone()[0])
    if found > cap:
        return MessageCount(count=cap, capped=True)
    return MessageCount(count=found)


def window(
    store: Store,
    query: str | ExplorerQuery,
    offset: int,
    limit: int,
    *,
    total: int | None = None,
) -> list[ExplorerRow]:
    """Return up to `limit` matching messages from position `offset`, newest first.

    Rows are ordered by delivery time, newest first, and ties by insertion order (rowid),
    newest first. Every explorer index ends in the delivery time and, like every SQLite
    index, carries the rowid, so SQLite reads this order from an index and steps through
    `offset` entries instead of sorting every match. Given the exact `total`, a window in the second half of the result is read from the
    oldest end, which keeps the `end` key as cheap as `home`.

    Raises:
        QueryError: The query text has an invalid term.
    """
    if limit <= 0 or offset < 0:
        return []
    compiled = _compile(store, _as_query(query))
    if total is not None and offset > total // 2:
        start = max(total - offset - limit, 0)
        size = min(limit, total - offset)
        if size <= 0:
            return []
        rows = store.db.execute(_window_sql(compiled, "ASC"), [*compiled.parameters, size, start]).fetchall()
        rows.reverse()
    else:
        rows = store.db.execute(_window_sql(compiled, "DESC"), [*compiled.parameters, limit, offset]).fetchall()
    return [ExplorerRow(*row) for row in rows]


def query_plan(store: Store, query: str | ExplorerQuery) -> list[str]:
    """Return SQLite's plan for reading a window of the query, one step per line, for tests and tuning."""
    compiled = _compile(store, _as_query(query))
    sql = f"EXPLAIN QUERY PLAN {_window_sql(compiled, 'DESC')}"
    return [row[3] for row in store.db.execute(sql, [*compiled.parameters, 50, 0]).fetchall()]


class StoreSource:
    """The explorer's data read straight from a store, for front ends without the service."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def explore_count(self, query: str, cap: int = DEFAULT_CAP) -> MessageCount:
        return count(self.store, query, cap)

    def explore_window(self, query: str, offset: int, limit: int, *, total: int | None = None) -> list[ExplorerRow]:
        return window(self.store, query, offset, limit, total=total)

    def message(self, message_id: str) -> EmailMessage | None:
        return load_message(self.store, message_id)
