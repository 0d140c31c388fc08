"""Outlook .msg files (OLE2 compound files) read into the same `EmailMessage` as .eml.

Reading needs the optional extract-msg package (`pip install 'air-tui[msg]'`).
It is GPL-licensed, so it is never a hard dependency: without it a .msg file
fails with a reason that says how to install it.

When the .msg keeps the transport headers it arrived with, they are parsed by
the same code as .eml headers, so authentication results, the Received chain
and Message-ID are read. Otherwise subject, sender, recipients and date come
from MAPI properties. ANSI (non-Unicode) .msg files store strings in a code
page that extract-msg cannot always tell, so it is chosen here from the
message's properties.
"""

from __future__ import annotations

import email
import logging
import mimetypes
from datetime import UTC, datetime
from email.policy import default as default_policy
from typing import Any

from air_tui.domain.message import Address, Attachment, EmailMessage
from air_tui.domain.vocab import ParseStatus
from air_tui.mail.addresses import parse_address_list, pick_sender
from air_tui.mail.attachments import file_attachment
from air_tui.mail.body import BodyBuilder
from air_tui.mail.fingerprint import fingerprint
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.headers import RawHeaders, decode_with_fallback, is_text_codec
from air_tui.mail.mime import PartInfo
from air_tui.mail.parse import NestedMessages, failed_message, read_header_fields
from air_tui.mail.rtfhtml import encapsulated_format, read_encapsulated_html
from air_tui.mail.urls import UrlCollector

logger = logging.getLogger(__name__)

MSG_EXTRA_MISSING = (
    "reading Outlook .msg files needs the optional extract-msg package: "
    "run pip install 'air-tui[msg]', or save the message as .eml from Outlook"
)

_MINIMAL_OLE2_SIZE = 1_536
"""Smallest possible OLE2 compound file: a 512-byte header and two 512-byte sectors."""

_PROPERTY_MESSAGE_CODEPAGE = "3FFD0003"
_PROPERTY_LOCALE_ID = "3FF10003"
_PROPERTY_INTERNET_CODEPAGE = "3FDE0003"
# PR_HTML as binary or as an 8-bit string: both hold bytes in the internet code page.
_HTML_BYTE_STREAMS = ("__substg1.0_10130102", "__substg1.0_1013001E")
_HTML_UNICODE_STREAM = "__substg1.0_1013001F"
_PLAIN_BODY_STREAM = "__substg1.0_1000"
_SENDER_ADDRESS_STREAMS = ("__substg1.0_5D01", "__substg1.0_0C1F", "__substg1.0_0065")

# Windows ANSI code page of each primary language id (the low 10 bits of an
# LCID), for the languages whose code page is not windows-1252.
_ANSI_CODEPAGE_BY_LANGUAGE = {
    0x01: 1256, 0x02: 1251, 0x04: 936, 0x05: 1250, 0x08: 1253, 0x0D: 1255, 0x0E: 1250, 0x11: 932,
    0x12: 949, 0x15: 1250, 0x18: 1250, 0x19: 1251, 0x1A: 1250, 0x1B: 1250, 0x1C: 1250, 0x1E: 874,
    0x1F: 1254, 0x20: 1256, 0x22: 1251, 0x23: 1251, 0x24: 1250, 0x25: 1257, 0x26: 1257, 0x27: 1257,
    0x29: 1256, 0x2A: 1258, 0x2F: 1251, 0x3F: 1251, 0x40: 1251, 0x43: 1251, 0x44: 1251,
}  # fmt: skip
# Chinese is the one language whose code page depends on the region: Taiwan, Hong Kong and Macao use Big5.
_BIG5_LCIDS = frozenset({0x0404, 0x0C04, 0x1404})
_CODEPAGE_CODECS = {
    1200: "utf-16-le", 1201: "utf-16-be", 20127: "ascii", 20866: "koi8-r", 21866: "koi8-u",
    50220: "iso2022_jp", 50221: "iso2022_jp", 50222: "iso2022_jp", 51932: "euc_jp", 51949: "euc_kr",
    52936: "hz", 54936: "gb18030", 65000: "utf-7", 65001: "utf-8",
}  # fmt: skip
_RECIPIENT_TO = 1
_RECIPIENT_CC = 2


def parse_msg(raw: bytes, identity: dict[str, object], nesting: NestedMessages) -> EmailMessage:
    """Parse an Outlook .msg file without raising on bad content.

    Args:
        raw: The .msg file's bytes.
        identity: Id, location, hash, size and delivery time, as for .eml.
        nesting: Ids and limits for embedded messages.

    Returns:
        The parsed message; `failed` when extract-msg is missing or the file
        is not a readable Outlook message.
    """
    try:
        import extract_msg
    except ImportError:
        return failed_message(identity, MSG_EXTRA_MISSING)
    if len(raw) < _MINIMAL_OLE2_SIZE:
        return failed_message(
            identity, f"the file starts like an Outlook .msg (OLE2) file but is only {len(raw):,} bytes long"
        )
    warnings = WarningLog()
    try:
        msg = extract_msg.openMsg(raw)
        encoding = _ansi_string_encoding(msg)
        if encoding is not None:
            msg.close()
            msg = extract_msg.openMsg(raw, overrideEncoding=encoding)
    except Exception as error:  # noqa: BLE001 - extract-msg raises many exception types on damaged files
        return failed_message(identity, f"the Outlook .msg file could not be read: {type(error).__name__}: {error}")
    try:
        if not hasattr(msg, "subject") or not hasattr(msg, "attachments"):
            return failed_message(
                identity, f"the OLE2 file is not an Outlook message (extract-msg reads it as {type(msg).__name__})"
            )
        return _read(msg, identity, nesting, warnings)
    finally:
        msg.close()


def _read(msg: Any, identity: dict[str, object], nesting: NestedMessages, warnings: WarningLog) -> EmailMessage:
    header_text = _guarded(lambda: msg.headerText, warnings, "transport headers")
    if header_text and header_text.strip():
        headers = RawHeaders(email.message_from_string(header_text.strip() + "\n\n", policy=default_policy))
        fields = read_header_fields(headers, warnings)
    else:
        fields = _fields_from_properties(msg, warnings)

    urls = UrlCollector(warnings)
    body = BodyBuilder(urls, warnings)
    plain = _plain_body(msg, warnings)
    if isinstance(plain, str):
        body.add_plain(plain)
    html = _html_body(msg, bool(plain and plain.strip()), warnings)
    if html:
        body.add_html(html, "the HTML body")
    attachments: list[Attachment] = []
    attached_messages: list[EmailMessage] = []
    for number, item in enumerate(_guarded(lambda: list(msg.attachments), warnings, "attachments") or [], start=1):
        _read_attachment(item, number, attachments, attached_messages, nesting, warnings)
    for attachment in attachments:
        urls.add_qr_codes(attachment.qr_codes, attachment.filename or "an unnamed image")
    body_text = body.text()

    return EmailMessage(
        **identity,
        **fields,
        body_text=body_text,
        body_fingerprint=fingerprint(body_text),
        urls=urls.urls,
        attachments=attachments,
        attached_messages=attached_messages,
        parse_status=ParseStatus.PARSED_WITH_WARNINGS if warnings else ParseStatus.PARSED,
        parse_warnings=warnings.as_list(),
    )


def _fields_from_properties(msg: Any, warnings: WarningLog) -> dict[str, object]:
    """Read subject, sender, recipients and date from MAPI properties, for a .msg without transport headers."""
    subject = _guarded(lambda: msg.subject, warnings, "subject")
    sender_text = _guarded(lambda: msg.sender, warnings, "sender") or ""
    sender_address = ""
    for stream in _SENDER_ADDRESS_STREAMS:
        value = _guarded(lambda stream=stream: msg.getStringStream(stream), warnings, "sender address")
        if isinstance(value, str) and "@" in value:
            sender_address = value.strip()
            break
    sender = pick_sender(parse_address_list(str(sender_text), "From", warnings)) if sender_text else Address()
    if sender_address and not sender.address:
        sender = Address(display_name=sender.display_name, address=clean_line(sender_address.lower()))
    to: list[Address] = []
    cc: list[Address] = []
    for recipient in _guarded(lambda: list(msg.recipients), warnings, "recipients") or []:
        address = Address(
            display_name=clean_line(str(getattr(recipient, "name", "") or "").strip()),
            address=clean_line(str(getattr(recipient, "email", "") or "").strip().lower()),
        )
        kind = int(getattr(recipient, "type", _RECIPIENT_TO) or _RECIPIENT_TO)
        if kind == _RECIPIENT_CC:
            cc.append(address)
        elif kind == _RECIPIENT_TO:
            to.append(address)
    date = _guarded(lambda: msg.date, warnings, "date")
    if isinstance(date, datetime) and date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    message_id = _guarded(lambda: msg.messageId, warnings, "Message-ID")
    return {
        "internet_message_id": clean_line(str(message_id or "").strip()),
        "subject": clean_line(str(subject or "").replace("\x00", "")).strip(),
        "sender": sender,
        "to": to,
        "cc": cc,
        "date": date if isinstance(date, datetime) else None,
    }


def _plain_body(msg: Any, warnings: WarningLog) -> str | None:
    """Return the plain text body from PR_BODY, else what extract-msg takes out of the RTF body.

    extract-msg de-encapsulates a missing PR_BODY from the RTF body with RTFDE,
    which took 0.3 to 0.6 s for each RTF body of fixtures/corpus on a 2-core
    test machine. RTF made from HTML contains no plain text for it to find,
    so that call is skipped and the text comes from the HTML body instead.
    """
    plain = _guarded(lambda: msg.getStringStream(_PLAIN_BODY_STREAM), warnings, "plain text body")
    if isinstance(plain, str):
        return plain
    rtf = _guarded(lambda: msg.rtfBody, warnings, "RTF body")
    if isinstance(rtf, bytes) and encapsulated_format(rtf) == "html":
        return None
    body = _guarded(lambda: msg.body, warnings, "plain text body")
    return body if isinstance(body, str) else None


def _html_body(msg: Any, has_plain_body: bool, warnings: WarningLog) -> str:
    """Return the HTML body from PR_HTML, else the HTML that an RTF body encapsulates.

    PR_HTML bytes are in the internet code page, whatever code page the
    message's other strings use.
    """
    for stream in _HTML_BYTE_STREAMS:
        data = _guarded(lambda stream=stream: msg.getStream(stream), warnings, "HTML body")
        if isinstance(data, bytes) and data.strip(b"\x00"):
            codec = _codec_for(_property(msg, _PROPERTY_INTERNET_CODEPAGE)) or "utf-8"
            text, used = decode_with_fallback(data.rstrip(b"\x00"), codec)
            if used != codec:
                warnings.add(f"the HTML body could not be decoded as {codec}; decoded as {used}")
            return text
    data = _guarded(lambda: msg.getStream(_HTML_UNICODE_STREAM), warnings, "HTML body")
    if isinstance(data, bytes) and data:
        return data.decode("utf-16-le", errors="replace").rstrip("\x00")
    rtf = _guarded(lambda: msg.rtfBody, warnings, "RTF body")
    if not isinstance(rtf, bytes) or not rtf:
        return ""
    html = _html_from_rtf(rtf, warnings)
    if html is not None:
        return html
    if encapsulated_format(rtf) != "html" and has_plain_body:
        # The RTF was made from plain text or encapsulates nothing, so the plain body already contains the text.
        return ""
    return _extract_msg_html_body(msg, warnings)


def _html_from_rtf(rtf: bytes, warnings: WarningLog) -> str | None:
    """Return the HTML that an RTF body encapsulates, or None when it has none or it could not be read."""
    try:
        result = read_encapsulated_html(rtf)
    except Exception as error:  # noqa: BLE001 - a fault in the reader must leave the slower reader to try
        logger.warning("Reading the HTML encapsulated in an RTF body failed", exc_info=True)
        warnings.add(
            f"the HTML in the RTF body could not be read ({type(error).__name__}: {clean_line(str(error), 200)}); "
            "extract-msg's slower RTF reader was used instead"
        )
        return None
    for warning in result.warnings:
        warnings.add(warning)
    if result.problem:
        warnings.add(f"{result.problem}; extract-msg's slower RTF reader was used instead")
    return result.html


def _extract_msg_html_body(msg: Any, warnings: WarningLog) -> str:
    """Return extract-msg's HTML body, which de-encapsulates the RTF body with RTFDE, over 100 times slower."""
    html = _guarded(lambda: msg.htmlBody, warnings, "HTML body")
    if isinstance(html, bytes):
        return decode_with_fallback(html, "utf-8")[0]
    return html if isinstance(html, str) else ""


def _read_attachment(
    item: Any,
    number: int,
    attachments: list[Attachment],
    attached_messages: list[EmailMessage],
    nesting: NestedMessages,
    warnings: WarningLog,
) -> None:
    name = str(
        getattr(item, "longFilename", None) or getattr(item, "shortFilename", None) or getattr(item, "name", None) or ""
    ).strip("\x00")
    label = f"attachment {number} ({quote_for_warning(name or 'no name')})"
    data = _guarded(lambda: item.data, warnings, label)
    if data is not None and not isinstance(data, bytes) and hasattr(data, "exportBytes"):
        # An embedded Outlook item: keep its bytes as an attachment and parse it as a message.
        raw = _guarded(lambda: data.exportBytes(), warnings, label)
        if not isinstance(raw, bytes):
            return
        info = PartInfo(number=number, content_type="application/vnd.ms-outlook", filename=name or "embedded.msg")
        attachments.append(file_attachment(info, raw, warnings))
        attached = nesting.parse(raw, label, warnings)
        if attached is not None:
            attached_messages.append(attached)
        return
    if not isinstance(data, bytes):
        warnings.add(f"{label} holds no file data that can be read, such as a link or a signed item; it was skipped")
        return
    content_type = str(getattr(item, "mimetype", None) or "") or (
        mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
    )
    info = PartInfo(number=number, content_type=content_type.lower(), filename=name)
    attachments.append(file_attachment(info, data, warnings))


def _ansi_string_encoding(msg: Any) -> str | None:
    """Return the codec of the strings in an ANSI .msg, or None for a Unicode one.

    PR_MESSAGE_CODEPAGE wins when present. Otherwise the ANSI code page of the
    message locale is used, because Outlook writes ANSI strings in the code
    page of the user's locale, not in the internet code page the body was
    sent in.
    """
    if getattr(msg, "areStringsUnicode", True):
        return None
    codec = _codec_for(_property(msg, _PROPERTY_MESSAGE_CODEPAGE))
    if codec:
        return codec
    locale = _property(msg, _PROPERTY_LOCALE_ID)
    if isinstance(locale, int) and locale:
        if locale in _BIG5_LCIDS:
            return "cp950"
        return _codec_for(_ANSI_CODEPAGE_BY_LANGUAGE.get(locale & 0x3FF, 1252))
    internet = _codec_for(_property(msg, _PROPERTY_INTERNET_CODEPAGE))
    if internet and internet.startswith("cp"):
        return internet
    return "cp1252"


def _codec_for(codepage: object) -> str | None:
    """Return the Python codec for a Windows code page number, or None when there is none."""
    if not isinstance(codepage, int) or codepage <= 0:
        return None
    if codepage in _CODEPAGE_CODECS:
        return _CODEPAGE_CODECS[codepage]
    if 28591 <= codepage <= 28606:
        name = f"iso8859-{codepage - 28590}"
        return name if is_text_codec(name) else None
    name = f"cp{codepage}"
    return name if is_text_codec(name) else None


def _property(msg: Any, key: str) -> object:
    try:
        prop = msg.props.get(key)
    except Exception:  # noqa: BLE001 - a damaged property stream must not stop the parse
        return None
    return getattr(prop, "value", None) if prop is not None else None


def _guarded(read: Any, warnings: WarningLog, what: str) -> Any:
    """Run one extract-msg accessor; a failure becomes a warning naming `what`."""
    try:
        return read()
    except Exception as error:  # noqa: BLE001 - extract-msg raises many exception types on damaged files
        logger.debug("Reading the %s of a .msg failed", what, exc_info=True)
        warnings.add(f"the {what} of the .msg file could not be read ({type(error).__name__}: {clean_line(str(error), 200)})")
        return None
