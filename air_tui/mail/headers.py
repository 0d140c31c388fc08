"""Header fields of one message, read from their raw source text.

The stdlib's structured header classes parse lazily and can raise on hostile
input, so fields are taken from `raw_items()` and decoded here with explicit
fallbacks.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime

from air_tui.mail.cleaning import clean_line, quote_for_warning, repair_surrogates
from air_tui.mail.diagnostics import WarningLog

HEADER_ERRORS = (
    HeaderParseError,
    ValueError,
    IndexError,
    TypeError,
    AttributeError,
    LookupError,
    UnicodeError,
)
"""Exceptions the stdlib header parsers are known to raise on malformed values.

IndexError, TypeError and AttributeError come from `email._header_value_parser`
running past the end of a token list on truncated input (CPython 3.11).
"""

MAX_SUBJECT_CHARS = 1_000

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>")
_CHARSET_PARAMETER = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)


class RawHeaders:
    """The header fields of one message part, unfolded and with 8-bit bytes decoded."""

    def __init__(self, message: Message, charset_hint: str | None = None) -> None:
        self._fields = [(str(name).strip().lower(), str(value)) for name, value in message.raw_items()]
        self._charset_hint = charset_hint

    def values(self, name: str) -> list[str]:
        """Return every value of the field `name` (lower case), top to bottom."""
        return [self._as_text(value) for field, value in self._fields if field == name]

    def first(self, name: str) -> str | None:
        """Return the topmost value of the field `name` (lower case), or None."""
        for field, value in self._fields:
            if field == name:
                return self._as_text(value)
        return None

    def __len__(self) -> int:
        return len(self._fields)

    def _as_text(self, value: str) -> str:
        unfolded = _FOLD.sub("", value).replace("\r", "").replace("\n", " ")
        return repair_surrogates(unfolded, self._charset_hint)


def charset_hint(raw: bytes) -> str | None:
    """Return the first charset declared anywhere in the message that Python supports.

    Raw 8-bit header bytes carry no charset of their own, so the body's charset
    is the best guess after UTF-8.
    """
    for match in _CHARSET_PARAMETER.finditer(raw[:200_000]):
        name = match.group(1).decode("ascii").lower()
        try:
            codecs.lookup(name)
        except LookupError:
            continue
        return name
    return None


def decode_header_text(value: str) -> str:
    """Decode RFC 2047 encoded-words in an unstructured header value.

    Falls back to `email.header.decode_header`, then to the value as it is.
    """
    try:
        return str(default_policy.header_factory("subject", value))
    except HEADER_ERRORS:
        pass
    try:
        return str(make_header(decode_header(value)))
    except HEADER_ERRORS:
        return value


def read_subject(headers: RawHeaders, warnings: WarningLog) -> str:
    """Return the decoded subject, cleaned and bounded to 1,000 characters."""
    value = headers.first("subject")
    if value is None:
        return ""
    subject = clean_line(decode_header_text(value), limit=MAX_SUBJECT_CHARS + 1).strip()
    if len(subject) > MAX_SUBJECT_CHARS:
        warnings.add(f"Subject is longer than {MAX_SUBJECT_CHARS:,} characters and was cut")
        subject = subject[:MAX_SUBJECT_CHARS]
    return subject


def read_date(headers: RawHeaders, warnings: WarningLog) -> datetime | None:
    """Return the Date header as an aware datetime, or None when missing or invalid.

    A date without a zone is read as UTC, as RFC 5322 says of `-0000`.
    """
    value = headers.first("date")
    if value is None or not value.strip():
        return None
    try:
        date = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        warnings.add(f"Date header {quote_for_warning(value)} is not a valid date; date left empty")
        return None
    if date.tzinfo is None:
        if "-0000" not in value:
            warnings.add(f"Date header {quote_for_warning(value)} has no time zone; read as UTC")
        date = date.replace(tzinfo=UTC)
    return date


def read_message_id(headers: RawHeaders) -> str:
    """Return the Message-ID header as written, without surrounding space."""
    value = headers.first("message-id")
    return clean_line(value.strip()) if value else ""


def read_return_path(headers: RawHeaders) -> str:
    """Return the topmost Return-Path address, lower-cased, without angle brackets."""
    value = headers.first("return-path")
    if value is None:
        return ""
    match = _ANGLE_ADDRESS.search(value)
    address = match.group(1) if match else value
    return clean_line(address.strip().lower())
