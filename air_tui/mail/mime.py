"""Walking the MIME tree of a message and reading the content of its parts.

Real mail breaks the stdlib's assumptions in known ways. A multipart whose
declared boundary never appears keeps a string payload, so `get_content()`
raises `KeyError`. An unknown charset makes it raise `LookupError`. Each case
is caught where it happens, read another way, and reported as a warning that
names the part.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import quopri
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import errors as email_errors
from email.message import Message
from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy, compat32

from air_tui.mail.cleaning import quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.headers import HEADER_ERRORS, decode_header_text, decode_with_fallback

MAX_PARTS = 1_000
"""MIME parts walked per message, containers included."""

MAX_TEXT_PART_BYTES = 20 * 1024 * 1024
"""Encoded size above which a body part is hashed but not read as text.

NOTE: html.parser needs about 7 s for a 19.5 MB HTML part just under this
limit (CPython 3.11, 2-core x86_64 machine, measured with parse_message).
"""

# Bounds of the parsed-header cache of `HeaderCachingPolicy`. A parse tree takes
# 15 to 600 bytes per character of the value (CPython 3.11, tracemalloc on four
# Content-Type values), so the cache takes an estimated 10 MB at most. Longer
# values are parsed on every read, as the default policy does.
_MAX_CACHED_HEADER_CHARS = 512
_MAX_CACHE_CHARS = 16_384

_KNOWN_TRANSFER_ENCODINGS = frozenset(
    {"7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue"}
)
_ASCII_CHARSETS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968"})
_CHARSET_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]*")
_DELIMITER_LINE = re.compile(r"^--([^\s\"\\]{1,70}?)(--)?[ \t]*$")
_HEADER_LINE = re.compile(r"^[A-Za-z0-9-]+:")
_LOOKS_LIKE_HTML = re.compile(r"<(?:html|body|div|p|table|a\s|br|font|span)\b", re.IGNORECASE)
# Sections of an RFC 2231 parameter split into continuations: `filename*0*=utf-8''Rechnung%20%E2%82`.
_RFC2231_SECTION = re.compile(r"""(?i)\b(filename|name)\*(\d{1,3})(\*?)\s*=\s*(?:"([^"]*)"|([^;\s]*))""")

# Charset labels registered with IANA (preferred MIME names and common
# aliases), lower case. Python accepts many more spellings, such as `utf8` or
# `iso8859-1`; those are read but reported, because mail clients may not accept them.
_REGISTERED_CHARSETS = frozenset(
    {
        "us-ascii", "ascii", "utf-8", "utf-16", "utf-16be", "utf-16le", "utf-32", "utf-32be", "utf-32le",
        "utf-7", "iso-8859-1", "iso-8859-2", "iso-8859-3", "iso-8859-4", "iso-8859-5", "iso-8859-6",
        "iso-8859-7", "iso-8859-8", "iso-8859-9", "iso-8859-10", "iso-8859-13", "iso-8859-14",
        "iso-8859-15", "iso-8859-16", "latin1", "iso_8859-1", "windows-874", "windows-1250", "windows-1251",
        "windows-1252", "windows-1253", "windows-1254", "windows-1255", "windows-1256", "windows-1257",
        "windows-1258", "koi8-r", "koi8-u", "shift_jis", "euc-jp", "iso-2022-jp", "iso-2022-jp-2",
        "csiso2022jp", "euc-kr", "iso-2022-kr", "ks_c_5601-1987", "gb2312", "gbk", "gb18030", "big5",
        "big5-hkscs", "hz-gb-2312", "tis-620", "ibm850", "cp850", "ibm866", "cp866", "macintosh",
    }
)  # fmt: skip

# Structural defects worth telling the analyst about. Boundary problems are
# reported by the recovery code instead, because that code reports how it read the part.
_DEFECT_WORDS: dict[type[email_errors.MessageDefect], str] = {
    email_errors.CloseBoundaryNotFoundDefect: "the closing boundary is missing, so the last part may be cut short",
    email_errors.MissingHeaderBodySeparatorDefect: (
        "no blank line ends the header fields, so the lines after the first malformed one were read as body"
    ),
    email_errors.FirstHeaderLineIsContinuationDefect: "the first header line starts with white space",
    email_errors.MisplacedEnvelopeHeaderDefect: "an mbox 'From ' line appears among the header fields",
}
_BASE64_DEFECTS = (
    email_errors.InvalidBase64PaddingDefect,
    email_errors.InvalidBase64CharactersDefect,
    email_errors.InvalidBase64LengthDefect,
)


class _ClassCachingRegistry(HeaderRegistry):
    """A header registry that builds each header class once.

    The stdlib registry creates a new class with `type()` on every lookup,
    which takes about a fifth of the time of parsing a short Content-Type
    value such as `text/plain; charset="utf-8"` (timeit, CPython 3.11).
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        header_class = self._classes.get(key)
        if header_class is None:
            header_class = super().__getitem__(name)
            self._classes[key] = header_class
        return header_class


class HeaderCachingPolicy(EmailPolicy):
    """`policy.default` that reuses the header object of a name and value it parsed before.

    The default policy builds a new header object, parse tree included, every
    time a header is read. The feedparser and the readers here read
    Content-Type several times per part, and values such as
    `text/plain; charset="utf-8"` recur from message to message. Header
    objects are never changed after they are built, so they can be shared. The
    cache serves the whole process and is emptied when it reaches
    `_MAX_CACHE_CHARS`, so values seen once, such as multipart boundaries, do
    not pile up.
    """

    def header_fetch_parse(self, name: str, value: str) -> str:
        """Return the header object for `name` and `value`, parsing the value only when it is not cached."""
        if not isinstance(value, str) or hasattr(value, "name") or len(value) > _MAX_CACHED_HEADER_CHARS:
            return super().header_fetch_parse(name, value)
        key = (name, value)
        header = _parsed_headers.get(key)
        if header is None:
            header = super().header_fetch_parse(name, value)
            _cache_header(key, header)
        return header


# Keys are (field name as written, raw value). Dict reads and writes are atomic
# under the GIL, so threads that parse at the same time can share the cache. An
# entry lost to a concurrent clear is parsed again.
_parsed_headers: dict[tuple[str, str], str] = {}
_cached_chars = [0]


def _cache_header(key: tuple[str, str], header: str) -> None:
    size = len(key[0]) + len(key[1])
    if _cached_chars[0] + size > _MAX_CACHE_CHARS:
        _parsed_headers.clear()
        _cached_chars[0] = 0
    _parsed_headers[key] = header
    _cached_chars[0] += size


def clear_header_cache() -> None:
    """Forget every cached header object, as at start-up; benchmarks use it to measure cold runs."""
    _parsed_headers.clear()
    _cached_chars[0] = 0


PARSING_POLICY = HeaderCachingPolicy(header_factory=_ClassCachingRegistry())
"""The policy messages are parsed with: `policy.default` with header objects cached."""


@dataclass(frozen=True)
class PartInfo:
    """Declared MIME headers of one part."""

    number: int
    """Position in depth-first order, the message itself being part 1."""
    content_type: str
    charset: str | None = None
    filename: str = ""
    disposition: str = ""
    transfer_encoding: str = ""
    read_as: str = ""
    """Content type the part is read as when it differs from the declared one."""

    @property
    def label(self) -> str:
        """Return how warnings name this part, such as `part 2 (text/html)`."""
        return f"part {self.number} ({self.content_type})"

    @property
    def maintype(self) -> str:
        return self.content_type.partition("/")[0]

    @property
    def effective_type(self) -> str:
        """Return the content type used to read the part."""
        return self.read_as or self.content_type

    @property
    def is_body_text(self) -> bool:
        """Return whether the part is message body rather than an attachment."""
        return (
            self.effective_type in ("text/plain", "text/html")
            and not self.filename
            and self.disposition != "attachment"
        )


def iter_leaf_parts(message: Message, warnings: WarningLog) -> Iterator[tuple[Message, PartInfo]]:
    """Yield every leaf part with its headers, depth first.

    Multipart containers are entered; `message/*` parts are leaves, because an
    attached message is reported as one attachment. A multipart whose boundary
    never appears is rebuilt from the delimiter lines found in its body, or
    yielded as one text leaf when there are none. At most 1,000 parts are
    walked.

    Args:
        message: The parsed message.
        warnings: Where problems are recorded.

    Yields:
        Pairs of the part and what its headers declare.
    """
    stack: list[Message] = [message]
    number = 0
    while stack:
        part = stack.pop()
        number += 1
        if number > MAX_PARTS:
            warnings.add(f"the message has more than {MAX_PARTS:,} MIME parts; only the first {MAX_PARTS:,} were read")
            return
        info = read_part_info(part, number, warnings)
        _report_defects(part, info, warnings)
        if info.maintype != "multipart":
            yield part, info
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed(payload))
            continue
        text = payload if isinstance(payload, str) else ""
        children = _recover_children(part, info, text, warnings)
        if children is not None:
            stack.extend(reversed(children))
        else:
            yield part, replace(info, read_as=_guess_text_type(text))


def structure_defects(messages: list[Message]) -> list[str]:
    """Describe the structural defects inside attached messages, such as a boundary never closed.

    The stdlib records them on the attached message's parts, which are lost
    when the attached message is serialised again to be parsed on its own.
    At most 1,000 parts are looked at.

    Args:
        messages: The attached message or messages, as parsed with the outer one.

    Returns:
        One phrase per defect, naming the part as numbered inside the attached message.
    """
    found: list[str] = []
    stack = list(reversed(messages))
    number = 0
    while stack and number < MAX_PARTS:
        part = stack.pop()
        number += 1
        for defect in part.defects:
            words = _DEFECT_WORDS.get(type(defect))
            if words:
                found.append(f"part {number}: {words}")
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend(reversed(payload))
    return found


def read_part_info(part: Message, number: int, warnings: WarningLog) -> PartInfo:
    """Read a part's MIME headers, falling back to the compat32 policy when they raise.

    Args:
        part: The part.
        number: Its position in depth-first order.
        warnings: Where problems are recorded.

    Returns:
        The declared content type, charset, filename, disposition and transfer encoding.
    """
    try:
        info = _info_from(part, number)
    except HEADER_ERRORS as error:
        warnings.add(
            f"part {number}: its MIME headers could not be parsed ({type(error).__name__}); "
            "read them with the compat32 policy"
        )
        try:
            info = _info_from(_compat32_copy(part), number)
        except HEADER_ERRORS:
            warnings.add(f"part {number}: its MIME headers are unreadable; treated as application/octet-stream")
            return PartInfo(number=number, content_type="application/octet-stream")
    declared = _first_raw(part, "content-type")
    if declared is not None and declared.split(";")[0].strip().count("/") != 1:
        warnings.add(f"{info.label}: invalid Content-Type {quote_for_warning(declared)}; read as {info.content_type}")
    if declared is None and (number > 1 or _first_raw(part, "mime-version") is not None):
        # A part without the header is text/plain by RFC 2045. Warn, because the
        # sender may have meant something else.
        warnings.add(f"part {number} has no Content-Type header; read as {info.content_type}")
    _report_parameter_problems(part, info, warnings)
    return info


def _report_parameter_problems(part: Message, info: PartInfo, warnings: WarningLog) -> None:
    """Warn about NUL bytes in MIME headers and RFC 2231 sections that split a character."""
    for name in ("content-type", "content-disposition"):
        value = _first_raw(part, name)
        if value is None:
            continue
        if "\x00" in value:
            warnings.add(
                f"{info.label}: the {name.title()} header contains NUL bytes; "
                f"the file name reads {quote_for_warning(info.filename)}"
            )
        if _rfc2231_sections_split_character(value):
            warnings.add(
                f"{info.label}: the RFC 2231 sections of the file name split a multibyte character; "
                f"they were decoded together as {quote_for_warning(info.filename)}"
            )


def _rfc2231_sections_split_character(value: str) -> bool:
    """Return whether an encoded RFC 2231 parameter breaks a character at a section boundary.

    RFC 2231 requires joining the sections before decoding, but a
    scanner that decodes each section alone reads a different name.
    """
    sections: dict[str, list[tuple[int, str]]] = {}
    for match in _RFC2231_SECTION.finditer(value):
        if match.group(3):
            sections.setdefault(match.group(1).lower(), []).append((int(match.group(2)), match.group(4) or match.group(5) or ""))
    for parts in sections.values():
        parts.sort()
        if len(parts) < 2 or parts[0][1].count("'") < 2:
            continue
        charset, _, first = parts[0][1].split("'", 2)
        chunks = [first, *(text for _, text in parts[1:])]
        data = [urllib.parse.unquote_to_bytes(chunk) for chunk in chunks]
        try:
            b"".join(data).decode(charset or "us-ascii")
        except (LookupError, UnicodeError):
            continue
        for chunk in data:
            try:
                chunk.decode(charset or "us-ascii")
            except UnicodeError:
                return True
    return False


def encoded_size(part: Message) -> int:
    """Return the size of the part's payload as stored, before transfer decoding."""
    payload = part.get_payload()
    return len(payload) if isinstance(payload, str) else 0


def decoded_bytes(part: Message, info: PartInfo, warnings: WarningLog) -> bytes:
    """Return the part's payload with its Content-Transfer-Encoding undone.

    A misspelt encoding such as `quoted printable` is read as the encoding it
    names; an unknown one leaves the content as stored. Both add a warning.

    Args:
        part: A leaf part.
        info: Its headers.
        warnings: Where problems are recorded.

    Returns:
        The decoded bytes; empty when the part has no payload.
    """
    encoding = info.transfer_encoding
    if encoding and encoding not in _KNOWN_TRANSFER_ENCODINGS:
        normalized = re.sub(r"[\s_]+", "-", encoding)
        if normalized in _KNOWN_TRANSFER_ENCODINGS:
            warnings.add(f"{info.label}: Content-Transfer-Encoding {quote_for_warning(encoding)} read as {normalized}")
            return _undo_transfer_encoding(_stored_bytes(part), normalized, info, warnings)
        warnings.add(
            f"{info.label}: unknown Content-Transfer-Encoding {quote_for_warning(encoding)}; content used as stored"
        )
        return _stored_bytes(part)
    data = part.get_payload(decode=True)
    if any(isinstance(defect, _BASE64_DEFECTS) for defect in part.defects):
        warnings.add(f"{info.label}: the base64 content is damaged; decoded what could be read")
    return data if isinstance(data, bytes) else b""


def read_text(part: Message, info: PartInfo, warnings: WarningLog) -> str:
    """Return the text of a body part.

    `get_content()` is used first. It raises `KeyError` for a multipart that
    kept a string payload, `LookupError` for an unknown charset and
    `UnicodeError` for codecs such as `idna` that reject the bytes. Each falls
    back to decoding the payload bytes by hand. Content declared as US-ASCII
    that contains 8-bit bytes is decoded by hand too, because `get_content()`
    would replace every such byte.

    Args:
        part: A leaf part whose effective type is text.
        info: Its headers.
        warnings: Where problems are recorded.

    Returns:
        The decoded text, not yet cleaned.
    """
    data = decoded_bytes(part, info, warnings)
    _report_charset_label(part, info, warnings)
    transfer_is_known = not info.transfer_encoding or info.transfer_encoding in _KNOWN_TRANSFER_ENCODINGS
    declared = (info.charset or "us-ascii").lower()
    ascii_with_8bit = declared in _ASCII_CHARSETS and not data.isascii()
    if transfer_is_known and not ascii_with_8bit:
        try:
            content = part.get_content()
        except (KeyError, LookupError, UnicodeError):
            pass
        else:
            if isinstance(content, str):
                return content
    return _decode_by_hand(data, info, warnings)


def _report_charset_label(part: Message, info: PartInfo, warnings: WarningLog) -> None:
    """Warn about an empty charset label or one Python reads but IANA does not register."""
    try:
        raw_label = part.get_param("charset")
    except HEADER_ERRORS:
        return
    if isinstance(raw_label, tuple):
        raw_label = raw_label[2]
    if raw_label is None:
        return
    label = str(raw_label).strip().lower()
    if not label:
        warnings.add(f"{info.label}: the charset label is empty; the content was decoded as if none were declared")
        return
    if label in _REGISTERED_CHARSETS:
        return
    try:
        used = codecs.lookup(label).name
    except LookupError:
        # Unknown labels are reported by the decoder, which names the charset it used instead.
        return
    warnings.add(f"{info.label}: charset {quote_for_warning(label)} is not a registered name; read as {used}")


def _decode_by_hand(data: bytes, info: PartInfo, warnings: WarningLog) -> str:
    declared = (info.charset or "").strip().lower()
    if declared and declared not in _ASCII_CHARSETS:
        try:
            return data.decode(declared, errors="replace")
        except (LookupError, UnicodeError):
            # LookupError also covers bytes-to-bytes codecs such as `base64`.
            text, used = _decode_unknown_charset(data, declared)
            warnings.add(f"{info.label}: unknown charset {quote_for_warning(declared)}, decoded as {used}")
            return text
    if data.isascii():
        return data.decode("ascii")
    try:
        text = data.decode("utf-8")
        used = "utf-8"
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        used = "windows-1252 with replacement"
    stated = f"declared {declared}" if declared else "no charset declared"
    warnings.add(f"{info.label}: {stated} but the content has 8-bit bytes; decoded as {used}")
    return text


def _decode_unknown_charset(data: bytes, declared: str) -> tuple[str, str]:
    """Decode with the nearest charset Python supports and return the text and the charset used."""
    match = _CHARSET_NAME.search(declared)
    return decode_with_fallback(data, match.group() if match is not None else "")


def _recover_children(part: Message, info: PartInfo, payload: str, warnings: WarningLog) -> list[Message] | None:
    """Rebuild the children of a multipart whose declared boundary never appears.

    Returns:
        The children found, an empty list when the part is empty, or None when
        the body contains no usable delimiter and should be read as text.
    """
    try:
        boundary = part.get_boundary()
    except HEADER_ERRORS:
        boundary = None
    problem = (
        f"declared boundary {quote_for_warning(boundary)} never appears"
        if boundary
        else "no boundary parameter is declared"
    )
    if not payload.strip():
        warnings.add(f"{info.label}: {problem} and the part is empty")
        return []
    candidate = _find_delimiter(payload)
    if candidate is not None:
        rebuilt = email.message_from_bytes(
            f'Content-Type: {info.content_type}; boundary="{candidate}"\r\n\r\n'.encode()
            + payload.encode("utf-8", "surrogateescape"),
            policy=PARSING_POLICY,
        )
        children = rebuilt.get_payload()
        if isinstance(children, list) and children:
            count = f"{len(children)} part" if len(children) == 1 else f"{len(children)} parts"
            warnings.add(
                f"{info.label}: {problem}; recovered {count} using the boundary "
                f"{quote_for_warning(candidate)} found in the body"
            )
            return children
    warnings.add(f"{info.label}: {problem}; the body was read as {_guess_text_type(payload)}")
    return None


def _find_delimiter(payload: str) -> str | None:
    """Return the first `--boundary` line that is followed by a header line."""
    lines = payload.splitlines()
    for index, line in enumerate(lines):
        match = _DELIMITER_LINE.match(line)
        if match is None or match.group(2):
            continue
        following = next((later for later in lines[index + 1 : index + 4] if later.strip()), "")
        if _HEADER_LINE.match(following):
            return match.group(1)
    return None


def _guess_text_type(payload: str) -> str:
    return "text/html" if _LOOKS_LIKE_HTML.search(payload[:8192]) else "text/plain"


def _info_from(part: Message, number: int) -> PartInfo:
    filename = part.get_filename() or ""
    if "=?" in filename:
        # Some senders put RFC 2047 encoded-words in an RFC 2231 parameter.
        filename = decode_header_text(filename)
    charset = part.get_content_charset()
    encoding = part.get("content-transfer-encoding")
    return PartInfo(
        number=number,
        content_type=part.get_content_type().lower(),
        charset=charset.lower() if charset else None,
        filename=filename,
        disposition=(part.get_content_disposition() or "").lower(),
        transfer_encoding=str(encoding).strip().lower() if encoding is not None else "",
    )


def _compat32_copy(part: Message) -> Message:
    """Copy the part's raw header fields into a compat32 message, whose accessors never parse structure."""
    copy = Message(policy=compat32)
    for name, value in part.raw_items():
        copy[name] = value
    copy.set_payload(part.get_payload())
    return copy


def _first_raw(part: Message, name: str) -> str | None:
    for field, value in part.raw_items():
        if str(field).strip().lower() == name:
            return str(value)
    return None


def _report_defects(part: Message, info: PartInfo, warnings: WarningLog) -> None:
    for defect in part.defects:
        words = _DEFECT_WORDS.get(type(defect))
        if words:
            warnings.add(f"{info.label}: {words}")


def _stored_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, str):
        return payload.encode("utf-8", "surrogateescape")
    return b""


def _undo_transfer_encoding(data: bytes, encoding: str, info: PartInfo, warnings: WarningLog) -> bytes:
    if encoding == "quoted-printable":
        return quopri.decodestring(data)
    if encoding == "base64":
        try:
            return base64.b64decode(b"".join(data.split()) + b"==", validate=False)
        except binascii.Error:
            warnings.add(f"{info.label}: the base64 content is damaged; content used as stored")
            return data
    if encoding in ("x-uuencode", "uuencode", "uue", "x-uue"):
        # The stdlib's uudecode is only reachable through get_payload(decode=True).
        copy = Message(policy=compat32)
        copy["Content-Transfer-Encoding"] = encoding
        copy.set_payload(data.decode("latin-1"))
        decoded = copy.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else data
    return data
