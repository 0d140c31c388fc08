"""Parsing raw message bytes into the domain `EmailMessage`."""

from __future__ import annotations

import email
import hashlib
import logging
import re
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from air_tui.domain.message import Address, Attachment, EmailMessage, MessageLocation
from air_tui.domain.vocab import ParseStatus
from air_tui.mail.addresses import parse_address_list, pick_sender
from air_tui.mail.attachments import file_attachment, message_attachment
from air_tui.mail.authresults import parse_authentication_results, parse_received_spf
from air_tui.mail.body import BodyBuilder
from air_tui.mail.cleaning import quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.headers import (
    RawHeaders,
    charset_hint,
    read_date,
    read_message_id,
    read_return_path,
    read_subject,
)
from air_tui.mail.mime import (
    MAX_TEXT_PART_BYTES,
    decoded_bytes,
    encoded_size,
    iter_leaf_parts,
    read_text,
)
from air_tui.mail.received import originating_ip
from air_tui.mail.urls import UrlCollector

logger = logging.getLogger(__name__)

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""First bytes of an OLE2 compound file, the container of Outlook .msg files."""

# TODO: read .msg through extract-msg as an optional extra; it is GPL, so it cannot be a hard dependency.
MSG_NOT_SUPPORTED = "Outlook .msg files cannot be read yet: save the message as .eml from Outlook and ingest that file"

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
    identity = {
        "id": message_id,
        "location": location,
        "sha256": digest,
        "size": len(raw),
        "received_at": received_at,
    }
    if not raw.strip():
        return _failed(identity, "the file is empty or contains only white space")
    if raw.startswith(OLE2_MAGIC):
        return _failed(identity, MSG_NOT_SUPPORTED)
    try:
        return _parse(raw, identity)
    except Exception as error:  # noqa: BLE001 - callers rely on parse_message never raising
        logger.exception("Parsing message %s failed unexpectedly", message_id)
        return _failed(identity, f"unexpected error while parsing: {type(error).__name__}: {error}")


def _parse(raw: bytes, identity: dict[str, object]) -> EmailMessage:
    warnings = WarningLog()
    data = _skip_bsmtp_envelope(raw, warnings)
    data = _drop_broken_header_lines(data, warnings)
    message, structure_is_readable = _read_structure(data, warnings)
    headers = RawHeaders(message, charset_hint(data))
    if len(headers) == 0:
        if b"\x00" in data[:4096]:
            return _failed(identity, "no header fields were found and the content is binary; this is not an email message")
        warnings.add("no header fields were found; the file may not be an email message")

    from_value = headers.first("from")
    sender = pick_sender(parse_address_list(from_value, "From", warnings)) if from_value else Address()
    fields = {
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
            *parse_received_spf(headers.values("received-spf")),
        ],
    }

    urls = UrlCollector(warnings)
    body = BodyBuilder(urls, warnings)
    attachments: list[Attachment] = []
    if structure_is_readable:
        _read_parts(message, data, body, attachments, warnings)
    body_text = body.text()

    # The status is decided last, once every reader has added its warnings.
    return EmailMessage(
        **identity,
        **fields,
        body_text=body_text,
        urls=urls.urls,
        attachments=attachments,
        parse_status=ParseStatus.PARSED_WITH_WARNINGS if warnings else ParseStatus.PARSED,
        parse_warnings=warnings.as_list(),
    )


def _read_structure(data: bytes, warnings: WarningLog) -> tuple[Message, bool]:
    """Parse the message; return it and whether its MIME structure could be read."""
    try:
        return email.message_from_bytes(data, policy=default_policy), True
    except RecursionError:
        # The feedparser recurses once per nesting level; a few thousand levels exhaust the stack.
        warnings.add("the MIME structure is nested too deeply to read; only the header fields were read")
        return BytesHeaderParser(policy=default_policy).parsebytes(data), False


def _read_parts(
    message: Message,
    data: bytes,
    body: BodyBuilder,
    attachments: list[Attachment],
    warnings: WarningLog,
) -> None:
    linesep = "\r\n" if b"\r\n" in data[:65_536] else "\n"
    for part, info in iter_leaf_parts(message, warnings):
        if info.maintype == "message":
            attachments.append(message_attachment(part, info, linesep, warnings))
            continue
        if not info.is_body_text:
            attachments.append(file_attachment(info, decoded_bytes(part, info, warnings)))
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


def _failed(identity: dict[str, object], reason: str) -> EmailMessage:
    return EmailMessage(**identity, parse_status=ParseStatus.FAILED, parse_error=reason)
