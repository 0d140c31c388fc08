"""Parsing raw message bytes into the domain `EmailMessage`."""

from __future__ import annotations

import base64
import binascii
import email
import hashlib
import logging
import quopri
import re
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser

from air_tui.domain.message import Address, Attachment, EmailMessage, MessageLocation
from air_tui.domain.vocab import ParseStatus
from air_tui.mail.addresses import parse_address_list, pick_sender
from air_tui.mail.attachments import attached_message_bytes, file_attachment, message_attachment
from air_tui.mail.authresults import (
    parse_arc_authentication_results,
    parse_authentication_results,
    parse_received_spf,
)
from air_tui.mail.body import BodyBuilder
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.dkim import read_dkim_domains
from air_tui.mail.fingerprint import fingerprint
from air_tui.mail.headers import (
    RawHeaders,
    charset_hint,
    read_date,
    read_message_id,
    read_return_path,
    read_subject,
)
from air_tui.mail.invisible import hidden_text_warnings
from air_tui.mail.mime import (
    MAX_TEXT_PART_BYTES,
    PARSING_POLICY,
    PartInfo,
    decoded_bytes,
    encoded_size,
    iter_leaf_parts,
    read_text,
    structure_defects,
)
from air_tui.mail.received import originating_ip
from air_tui.mail.tnef import expand_tnef, is_tnef
from air_tui.mail.urls import UrlCollector

logger = logging.getLogger(__name__)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""First bytes of an OLE2 compound file, the container of Outlook .msg files."""

MAX_NESTING_DEPTH = 5
"""Levels of attached messages parsed below the top-level message."""

MAX_ATTACHED_MESSAGES = 20
"""Attached messages parsed per top-level message, all levels together."""

NESTED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
"""Content types of parts parsed as messages of their own."""

_BSMTP_START = re.compile(rb"(?:HELO|EHLO)[ \t]", re.IGNORECASE)
# The stdlib feedparser's test for a header line, which ends the header block
# at the first line that fails it.
_HEADER_OR_CONTINUATION = re.compile(rb"^(?:From |[\x21-\x39\x3b-\x7e]+:|[\t ])")
# A header line whose name contains a space, such as `quite Delivered-To: x`.
_BROKEN_HEADER_LINE = re.compile(rb"^[A-Za-z][^:\r\n]{0,76}:")
_MAX_HEADER_LINES = 2_000
_BSMTP_DATA_LINE = re.compile(rb"^DATA[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE)


def message_id_for(mailbox: str, key: str) -> str:
    """Return a short stable id for the message stored under `key` in `mailbox`.

    Args:
        mailbox: The mailbox the store belongs to.
        key: The store key (Maildir unique name, path or mbox index).

    Returns:
        16 lower-case hex digits from SHA-256 of the pair.
    """
    material = f"{mailbox}\x00{key}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()[:16]


def parse_message(
    raw: bytes,
    *,
    location: MessageLocation | None = None,
    received_at: datetime | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Parse the raw bytes of one message without raising on bad content.

    Problems are reported in `parse_warnings`, one plain sentence each. Any
    exception met while reading is logged and turned into a failed message. The
    status is `failed` only when nothing can be read: an empty file, an
    Outlook .msg file, binary data without header fields, or an unexpected
    error. The id, location, size and hash are filled even then.

    Args:
        raw: The message as stored.
        location: Where the message is stored.
        received_at: Delivery time recorded by the store, if any.
        message_id: The id to use. Without it the id comes from
            `message_id_for(location.mailbox, location.key)` when the location
            has a key, else it is the SHA-256 of `raw`.

    Returns:
        The parsed message.
    """
    location = location or MessageLocation()
    digest = hashlib.sha256(raw).hexdigest()
    if message_id is None:
        message_id = message_id_for(location.mailbox, location.key) if location.key else digest
    identity = message_identity(raw, message_id, location, received_at)
    return parse_guarded(raw, identity, NestedMessages(message_id, location))


def message_identity(
    raw: bytes, message_id: str, location: MessageLocation, received_at: datetime | None
) -> dict[str, object]:
    """Return the fields of `EmailMessage` that are known before parsing."""
    return {
        "id": message_id,
        "location": location,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "received_at": received_at,
    }


def parse_guarded(raw: bytes, identity: dict[str, object], nesting: NestedMessages) -> EmailMessage:
    """Parse .eml or .msg bytes, turning any unexpected exception into a failed message."""
    if not raw.strip():
        return failed_message(identity, "the file is empty or contains only white space")
    try:
        if raw.startswith(OLE2_MAGIC):
            # Imported here because msg.py builds on this module.
            from air_tui.mail.msg import parse_msg

            return parse_msg(raw, identity, nesting)
        return _parse(raw, identity, nesting)
    except Exception as error:  # noqa: BLE001 - callers rely on parse_message never raising
        logger.exception("Parsing message %s failed unexpectedly", identity["id"])
        return failed_message(identity, f"unexpected error while parsing: {type(error).__name__}: {error}")


class NestedMessages:
    """Ids, depth and the shared budget for the attached messages of one message tree.

    Attached messages get the id `<parent id>/<n>`, n counting from 1 within
    the parent, and the parent's location. At most 5 levels below the
    top-level message and 20 attached messages in the whole tree are parsed.
    """

    def __init__(self, parent_id: str, location: MessageLocation, depth: int = 0, used: list[int] | None = None) -> None:
        self.parent_id = parent_id
        self.location = location
        self.depth = depth
        # One counter shared by the whole tree, so the total limit applies at every level.
        self._used = used if used is not None else [0]
        self._children = 0

    def parse(
        self, raw: bytes, label: str, warnings: WarningLog, known_problems: list[str] | None = None
    ) -> EmailMessage | None:
        """Parse one attached message, or warn and return None when a limit is reached.

        Args:
            raw: The attached message's bytes (.eml or .msg).
            label: How warnings name the part or attachment that contains it.
            warnings: The parent's warnings.
            known_problems: Defects found while the parent was parsed, which
                the bytes no longer show; they open the attached message's warnings.

        Returns:
            The parsed message, or None when it was not parsed.
        """
        if self.depth >= MAX_NESTING_DEPTH:
            warnings.add(
                f"{label}: the attached message is nested more than {MAX_NESTING_DEPTH} levels deep "
                f"(the limit is {MAX_NESTING_DEPTH}); it was hashed but not parsed"
            )
            return None
        if self._used[0] >= MAX_ATTACHED_MESSAGES:
            warnings.add(
                f"{label}: more than {MAX_ATTACHED_MESSAGES} attached messages in this message "
                f"(the limit is {MAX_ATTACHED_MESSAGES}); it was hashed but not parsed"
            )
            return None
        self._used[0] += 1
        self._children += 1
        child_id = f"{self.parent_id}/{self._children}"
        identity = message_identity(raw, child_id, self.location, None)
        attached = parse_guarded(raw, identity, NestedMessages(child_id, self.location, self.depth + 1, self._used))
        if known_problems and attached.parse_status is not ParseStatus.FAILED:
            attached.parse_warnings = [*known_problems, *attached.parse_warnings]
            attached.parse_status = ParseStatus.PARSED_WITH_WARNINGS
        return attached


def _parse(raw: bytes, identity: dict[str, object], nesting: NestedMessages) -> EmailMessage:
    warnings = WarningLog()
    data = _skip_bsmtp_envelope(raw, warnings)
    data = _drop_broken_header_lines(data, warnings)
    message, structure_is_readable = _read_structure(data, warnings)
    headers = RawHeaders(message, charset_hint(data))
    if len(headers) == 0:
        if b"\x00" in data[:4096]:
            return failed_message(
                identity, "no header fields were found and the content is binary; this is not an email message"
            )
        warnings.add("no header fields were found; the file may not be an email message")
    _report_nul_bytes(message, warnings)

    fields = read_header_fields(headers, warnings)

    urls = UrlCollector(warnings)
    body = BodyBuilder(urls, warnings)
    attachments: list[Attachment] = []
    attached_messages: list[EmailMessage] = []
    if structure_is_readable:
        _read_parts(message, data, body, attachments, warnings, attached_messages, nesting)
    for attachment in attachments:
        urls.add_qr_codes(attachment.qr_codes, attachment.filename or "an unnamed image")
    body_text = body.text()

    # The status is decided last, once every reader has added its warnings.
    message = EmailMessage(
        **identity,
        **fields,
        body_text=body_text,
        body_fingerprint=fingerprint(body_text),
        urls=urls.urls,
        attachments=attachments,
        attached_messages=attached_messages,
    )
    for warning in hidden_text_warnings(message):
        warnings.add(warning)
    message.parse_status = ParseStatus.PARSED_WITH_WARNINGS if warnings else ParseStatus.PARSED
    message.parse_warnings = warnings.as_list()
    return message


def read_header_fields(headers: RawHeaders, warnings: WarningLog) -> dict[str, object]:
    """Read the `EmailMessage` fields that come from header fields: addresses, subject, date, auth results.

    Args:
        headers: The message's header fields.
        warnings: Where problems are recorded.

    Returns:
        The fields by name, ready to pass to `EmailMessage`.
    """
    from_value = headers.first("from")
    sender = pick_sender(parse_address_list(from_value, "From", warnings)) if from_value else Address()
    return {
        "internet_message_id": read_message_id(headers),
        "subject": read_subject(headers, warnings),
        "sender": sender,
        "return_path": read_return_path(headers),
        "reply_to": _address_lists(headers, "reply-to", "Reply-To", warnings),
        "to": _address_lists(headers, "to", "To", warnings),
        "cc": _address_lists(headers, "cc", "Cc", warnings),
        "date": read_date(headers, warnings),
        "sender_ip": originating_ip(headers.values("received")),
        "auth_results": [
            *parse_authentication_results(headers.values("authentication-results")),
            *parse_arc_authentication_results(headers.values("arc-authentication-results")),
            *parse_received_spf(headers.values("received-spf")),
        ],
        "dkim_domains": read_dkim_domains(headers.values("dkim-signature"), warnings),
    }


def _read_structure(data: bytes, warnings: WarningLog) -> tuple[Message, bool]:
    """Parse the message; return it and whether its MIME structure could be read."""
    try:
        return email.message_from_bytes(data, policy=PARSING_POLICY), True
    except RecursionError:
        # The feedparser recurses once per nesting level; a few thousand levels exhaust the stack.
        warnings.add("the MIME structure is nested too deeply to read; only the header fields were read")
        return BytesHeaderParser(policy=PARSING_POLICY).parsebytes(data), False


def _read_parts(
    message: Message,
    data: bytes,
    body: BodyBuilder,
    attachments: list[Attachment],
    warnings: WarningLog,
    attached_messages: list[EmailMessage],
    nesting: NestedMessages,
) -> None:
    linesep = "\r\n" if b"\r\n" in data[:65_536] else "\n"
    for part, info in iter_leaf_parts(message, warnings):
        if info.maintype == "message":
            serialised = attached_message_bytes(part, info, linesep, warnings)
            attachments.append(message_attachment(part, info, linesep, warnings, serialised))
            if info.content_type in NESTED_MESSAGE_TYPES:
                payload = part.get_payload()
                defects = structure_defects(payload if isinstance(payload, list) else [])
                if defects:
                    warnings.add(f"{info.label}: the attached message is damaged: {defects[0]}")
                raw_attached = _undo_message_encoding(serialised, info)
                attached = nesting.parse(raw_attached, info.label, warnings, defects)
                if attached is not None:
                    attached_messages.append(attached)
            continue
        if not info.is_body_text:
            content = decoded_bytes(part, info, warnings)
            attachment = file_attachment(info, content, warnings)
            attachments.append(attachment)
            _expand_tnef(part, info, body, attachments, warnings)
            if _is_message_file(attachment.extension, content):
                # Mail clients often attach a saved message as application/octet-stream; it is
                # still a message, and a user's report of phish is often sent exactly so.
                attached = nesting.parse(content, info.label, warnings)
                if attached is not None:
                    attached_messages.append(attached)
            continue
        size = encoded_size(part)
        if size > MAX_TEXT_PART_BYTES:
            warnings.add(
                f"{info.label}: {size:,} bytes is over the {MAX_TEXT_PART_BYTES:,}-byte limit "
                "for text extraction; hashed as an attachment, not read"
            )
            attachments.append(file_attachment(info, decoded_bytes(part, info, warnings)))
            continue
        text = read_text(part, info, warnings)
        if info.effective_type == "text/html":
            body.add_html(text, info.label)
        else:
            body.add_plain(text)


_MESSAGE_START = re.compile(rb"^(?:[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n)+", re.MULTILINE)


def _is_message_file(extension: str, content: bytes) -> bool:
    """Return whether an attachment named .eml or .msg contains a message: header lines, or OLE2."""
    if extension == "msg":
        return content.startswith(OLE2_MAGIC)
    if extension == "eml":
        start = content[:4096].lstrip()
        return _MESSAGE_START.match(start) is not None
    return False


def _expand_tnef(part: Message, info: PartInfo, body: BodyBuilder, attachments: list[Attachment], warnings: WarningLog) -> None:
    """Add the files inside a TNEF (winmail.dat) part as attachments, and its body to the body text."""
    if info.content_type not in ("application/ms-tnef", "application/vnd.ms-tnef") and info.filename.strip().lower() != "winmail.dat":
        return
    data = decoded_bytes(part, info, warnings)
    if not is_tnef(info, data):
        return
    container = attachments[-1]
    files, contents = expand_tnef(info, data, container, warnings)
    attachments.extend(files)
    if contents.body_html:
        body.add_html(contents.body_html, f"{info.label} TNEF body")
    elif contents.body_text:
        body.add_plain(contents.body_text)


def _undo_message_encoding(data: bytes, info: PartInfo) -> bytes:
    """Decode an attached message sent with base64 or quoted-printable, which RFC 2046 forbids but senders use."""
    if info.transfer_encoding == "base64":
        try:
            return base64.b64decode(b"".join(data.split()) + b"==")
        except binascii.Error:
            return data
    if info.transfer_encoding == "quoted-printable":
        return quopri.decodestring(data)
    return data


def _report_nul_bytes(message: Message, warnings: WarningLog) -> None:
    for name, value in message.raw_items():
        if "\x00" in str(value) or "\x00" in str(name):
            warnings.add(f"the {clean_line(str(name))} header contains NUL bytes, shown as \u27e8U+0000\u27e9")


def _address_lists(headers: RawHeaders, name: str, display: str, warnings: WarningLog) -> list[Address]:
    addresses: list[Address] = []
    for value in headers.values(name):
        addresses.extend(parse_address_list(value, display, warnings))
    return addresses


def _skip_bsmtp_envelope(raw: bytes, warnings: WarningLog) -> bytes:
    """Drop a batch SMTP envelope (HELO, MAIL FROM, RCPT TO, DATA) written before the message."""
    if not _BSMTP_START.match(raw):
        return raw
    data_line = _BSMTP_DATA_LINE.search(raw, 0, 8192)
    if data_line is None:
        return raw
    warnings.add("a batch SMTP envelope (HELO … DATA) comes before the message; it was skipped")
    return raw[data_line.end() :]


def _drop_broken_header_lines(data: bytes, warnings: WarningLog) -> bytes:
    """Remove header lines with an invalid field name when valid fields follow them.

    The stdlib ends the header block at such a line and reads every field
    after it as body, losing Subject, From and the rest.
    """
    lines = data[:262_144].splitlines(keepends=True)[:_MAX_HEADER_LINES]
    dropped: list[int] = []
    for index, line in enumerate(lines):
        if not line.strip():
            break
        if _HEADER_OR_CONTINUATION.match(line):
            continue
        following = lines[index + 1] if index + 1 < len(lines) else b""
        if not _BROKEN_HEADER_LINE.match(line) or not _HEADER_OR_CONTINUATION.match(following):
            break
        dropped.append(index)
        warnings.add(
            f"header line {quote_for_warning(line.decode('latin-1').rstrip())} is not a valid header field; it was skipped"
        )
    if not dropped:
        return data
    kept_prefix = b"".join(line for index, line in enumerate(lines) if index not in dropped)
    return kept_prefix + data[sum(len(line) for line in lines) :]


def failed_message(identity: dict[str, object], reason: str) -> EmailMessage:
    """Return a message with status `failed`, its identity and the reason."""
    return EmailMessage(**identity, parse_status=ParseStatus.FAILED, parse_error=reason)
