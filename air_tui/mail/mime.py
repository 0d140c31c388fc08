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
import email
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email import errors as email_errors
from email.message import Message
from email.policy import compat32
from email.policy import default as default_policy

from air_tui.mail.cleaning import quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.headers import HEADER_ERRORS, decode_header_text

MAX_PARTS = 1_000
"""MIME parts walked per message, containers included."""

MAX_TEXT_PART_BYTES = 20 * 1024 * 1024
"""Encoded size above which a body part is hashed but not read as text.

NOTE: html.parser needs about 7 s for a 19.5 MB HTML part just under this
limit (CPython 3.11, 2-core x86_64 machine, measured with parse_message).
"""

_KNOWN_TRANSFER_ENCODINGS = frozenset(
    {"7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue"}
)
_ASCII_CHARSETS = frozenset({"us-ascii", "ascii", "ansi_x3.4-1968"})
_CHARSET_NAME = re.compile(r"[a-z0-9][a-z0-9_.:-]*")
_DELIMITER_LINE = re.compile(r"^--([^\s\"\\]{1,70}?)(--)?[ \t]*$")
_HEADER_LINE = re.compile(r"^[A-Za-z0-9-]+:")
_LOOKS_LIKE_HTML = re.compile(r"<(?:html|body|div|p|table|a\s|br|font|span)\b", re.IGNORECASE)

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
    return info


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
    if match is not None and match.group() != declared:
        try:
            return data.decode(match.group(), errors="replace"), match.group()
        except (LookupError, UnicodeError):
            pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "windows-1252 with replacement"


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
            policy=default_policy,
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
