"""Header fields of one message, read from their raw source text.

The stdlib's structured header classes parse lazily and can raise on hostile
input, so fields are taken from `raw_items()` and decoded here with explicit
fallbacks.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.message import Message
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

MAX_DECODED_HEADER_CHARS = 16_384
"""Characters of one header value that are decoded; the rest is left out.

The subject is cut to 1,000 characters anyway, and decoding a value of hundreds
of kilobytes would cost time for text that is never kept.
"""

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ANGLE_ADDRESS = re.compile(r"<([^<>]*)>")
_CHARSET_PARAMETER = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
# RFC 2047 encoded-word. The encoded text may not contain `?`; spaces inside it
# are invalid but some senders write them, and mail clients decode them anyway.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([qQbB])\?([^?\r\n]*?)\?=")
# Characters that may touch an encoded-word in a structured header without
# white space: comment and quote delimiters, angle brackets and list commas.
_WORD_NEIGHBOURS = frozenset(' \t\r\n()"<>,;:')


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


@dataclass
class DecodedHeader:
    """A header value with its RFC 2047 encoded-words decoded."""

    text: str
    problems: list[str] = dataclasses.field(default_factory=list)
    """Irregularities found in the encoded-words, as plain phrases, each kind once."""
    truncated_from: int = 0
    """Length of the value as written when only its first part was decoded, else 0."""


def decode_header_value(value: str) -> DecodedHeader:
    """Decode the RFC 2047 encoded-words of an unstructured header value, tolerantly.

    Adjacent encoded-words in the same charset are joined before decoding, so a
    character split between two of them is read whole. Encoded-words glued to
    other text are decoded too, as mail clients do. An unknown charset is
    decoded as the nearest known one, else UTF-8, else windows-1252. Only the
    first 16,384 characters are decoded, cut at white space. Each irregularity
    is returned as a problem; nothing raises.

    Args:
        value: The unfolded header value.

    Returns:
        The decoded text and the problems met.
    """
    decoded = DecodedHeader(text="")
    if len(value) > MAX_DECODED_HEADER_CHARS:
        decoded.truncated_from = len(value)
        cut = value.rfind(" ", 0, MAX_DECODED_HEADER_CHARS)
        value = value[: cut if cut > MAX_DECODED_HEADER_CHARS // 2 else MAX_DECODED_HEADER_CHARS]
    pieces: list[str] = []
    run = _EncodedRun()
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[position : match.start()]
        joins_previous = run.charset is not None and position > 0 and not gap.strip()
        if not joins_previous:
            pieces.append(run.flush(decoded.problems))
            pieces.append(gap)
        _note_glued_word(value, match, decoded.problems)
        charset = match.group(1).partition("*")[0].lower()
        data = _encoded_word_bytes(match, decoded.problems)
        if joins_previous and charset != run.charset:
            pieces.append(run.flush(decoded.problems))
        run.add(charset, data)
        position = match.end()
    pieces.append(run.flush(decoded.problems))
    pieces.append(value[position:])
    decoded.text = "".join(pieces)
    return decoded


def decode_header_text(value: str) -> str:
    """Decode RFC 2047 encoded-words in an unstructured header value.

    Uses `decode_header_value` and drops its problems; only the first 16,384
    characters of the value are decoded.
    """
    return decode_header_value(value).text


class _EncodedRun:
    """Bytes of adjacent encoded-words in one charset, decoded together."""

    def __init__(self) -> None:
        self.charset: str | None = None
        self._chunks: list[bytes] = []

    def add(self, charset: str, data: bytes) -> None:
        self.charset = charset
        self._chunks.append(data)

    def flush(self, problems: list[str]) -> str:
        if self.charset is None:
            return ""
        charset, chunks = self.charset, self._chunks
        self.charset, self._chunks = None, []
        text, used = decode_with_fallback(b"".join(chunks), charset)
        if used != charset:
            _add_problem(problems, f"unknown charset {quote_for_warning(charset)} in an encoded-word, decoded as {used}")
        elif len(chunks) > 1 and any(_breaks_in(chunk, charset) for chunk in chunks):
            _add_problem(problems, "a character is split between two encoded-words; they were decoded together")
        if "\r" in text or "\n" in text:
            _add_problem(problems, "an encoded-word decodes to a line break (CR or LF), replaced with a space")
        if "\x00" in text:
            _add_problem(problems, "an encoded-word decodes to a NUL character")
        return text


def decode_with_fallback(data: bytes, charset: str) -> tuple[str, str]:
    """Decode bytes in `charset`, or in the nearest charset Python supports when it is unknown.

    The nearest charset is the longest leading part of the label that names a
    text codec (`windows-1252x` is read as `windows-1252`). Without one, UTF-8
    is tried, then windows-1252 with replacement characters.

    Args:
        data: The bytes.
        charset: The declared charset label, lower case.

    Returns:
        The text and the charset actually used.
    """
    for candidate in _charset_candidates(charset):
        try:
            return data.decode(candidate, errors="replace"), candidate
        except (LookupError, UnicodeError):
            continue
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252 with replacement"


def is_text_codec(name: str) -> bool:
    """Return whether Python has a text codec called `name`."""
    try:
        return codecs.lookup(name)._is_text_encoding  # noqa: SLF001 - the only public test for text codecs
    except LookupError:
        return False


def _charset_candidates(charset: str) -> list[str]:
    if not charset:
        return []
    if is_text_codec(charset):
        return [charset]
    for end in range(len(charset) - 1, 3, -1):
        prefix = charset[:end].rstrip("-_.:")
        if is_text_codec(prefix):
            return [prefix]
    return []


def _encoded_word_bytes(match: re.Match[str], problems: list[str]) -> bytes:
    encoding, text = match.group(2).lower(), match.group(3)
    raw = text.encode("utf-8", "surrogateescape")
    if encoding == "q":
        return binascii.a2b_qp(raw, header=True)
    try:
        return base64.b64decode(b"".join(raw.split()) + b"=" * (-len(raw) % 4))
    except binascii.Error:
        _add_problem(problems, f"the base64 encoded-word {quote_for_warning(match.group())} is damaged; kept as written")
        return match.group().encode("utf-8", "surrogateescape")


def _note_glued_word(value: str, match: re.Match[str], problems: list[str]) -> None:
    before = value[match.start() - 1] if match.start() > 0 else " "
    after = value[match.end()] if match.end() < len(value) else " "
    glued_before = before not in _WORD_NEIGHBOURS and not value.endswith("?=", 0, match.start())
    glued_after = after not in _WORD_NEIGHBOURS and not value.startswith("=?", match.end())
    if glued_before or glued_after:
        _add_problem(
            problems,
            f"encoded-word {quote_for_warning(match.group(), 40)} is glued to the text around it "
            "without white space; decoded anyway",
        )


def _breaks_in(chunk: bytes, charset: str) -> bool:
    try:
        chunk.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return True
    return False


def _add_problem(problems: list[str], problem: str) -> None:
    # Each kind is reported once, with its first example, so a header of
    # thousands of encoded-words cannot flood the warnings.
    kind = problem.split("'", 1)[0]
    if not any(existing.split("'", 1)[0] == kind for existing in problems):
        problems.append(problem)


def read_subject(headers: RawHeaders, warnings: WarningLog) -> str:
    """Return the decoded subject, cleaned and bounded to 1,000 characters.

    Irregular encoded-words and an over-long value are reported as warnings.
    """
    value = headers.first("subject")
    if value is None:
        return ""
    decoded = decode_header_value(value)
    for problem in decoded.problems:
        warnings.add(f"Subject: {problem}")
    if decoded.truncated_from:
        warnings.add(
            f"Subject is {decoded.truncated_from:,} characters long as written; "
            f"only the first {MAX_DECODED_HEADER_CHARS:,} were decoded"
        )
    subject = clean_line(decoded.text, limit=MAX_SUBJECT_CHARS + 1).strip()
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
