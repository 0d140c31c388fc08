"""Attachment records: name, type, size and hash of each non-body part.

Attachment bytes are hashed in memory and never written anywhere: corpus and
user files contain live malware.
"""

from __future__ import annotations

import hashlib
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32
from email.policy import default as default_policy
from io import BytesIO

from air_tui.domain.message import Attachment
from air_tui.mail.archives import list_archive
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.contents import scan_html, scan_pdf
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.filetype import detect_type, file_extension
from air_tui.mail.headers import HEADER_ERRORS, RawHeaders, decode_header_text
from air_tui.mail.invisible import hidden_characters
from air_tui.mail.macros import might_hold_macros, scan_office
from air_tui.mail.mime import PartInfo
from air_tui.mail.qr import looks_like_image, scan_image


def file_attachment(info: PartInfo, data: bytes, warnings: WarningLog | None = None) -> Attachment:
    """Describe a leaf part from its headers and decoded bytes.

    Args:
        info: The part's headers.
        data: The payload with its transfer encoding undone.
        warnings: Where problems decoding an image for QR codes are recorded.

    Returns:
        The attachment record.
    """
    filename = clean_line(info.filename.strip())
    attachment = Attachment(
        filename=filename,
        content_type=clean_line(info.content_type),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        sha1=hashlib.sha1(data).hexdigest(),  # noqa: S324 - an identifier that feeds share, not a security hash
        md5=hashlib.md5(data).hexdigest(),  # noqa: S324 - same
        extension=file_extension(filename),
        detected_type=detect_type(data),
        hidden_characters=hidden_characters(filename),
    )
    listing = list_archive(data, filename)
    if listing is not None:
        attachment.archive_type = listing.archive_type
        attachment.archive_members = [
            clean_line(f"{member.path} ({member.detected_type or member.extension or 'unknown'}{', encrypted' if member.encrypted else ''})")
            for member in listing.members
        ]
        attachment.archive_encrypted = listing.encrypted
        attachment.archive_problems = [clean_line(problem) for problem in listing.problems]
    if attachment.detected_type == "html" or attachment.extension in ("htm", "html", "shtml", "xhtml", "svg"):
        attachment.content_findings = [clean_line(item) for item in scan_html(data)]
    elif attachment.detected_type == "pdf":
        findings, links = scan_pdf(data)
        attachment.content_findings = [clean_line(item) for item in findings]
        attachment.links = [clean_line(link, limit=2000) for link in links]
    if might_hold_macros(attachment.detected_type, data):
        report = scan_office(filename, data)
        attachment.has_macros = report.has_macros
        attachment.macro_auto_exec = [clean_line(item) for item in report.auto_exec]
        attachment.macro_suspicious = [clean_line(item) for item in report.suspicious]
        attachment.office_encrypted = report.encrypted
    if looks_like_image(data, attachment.content_type, attachment.extension, attachment.detected_type):
        scan = scan_image(data)
        attachment.qr_codes = scan.texts
        if scan.problem and warnings is not None:
            warnings.add(f"image {quote_for_warning(filename or info.label)}: {scan.problem}")
    return attachment


def attached_message_bytes(part: Message, info: PartInfo, linesep: str, warnings: WarningLog) -> bytes:
    """Return the bytes of an attached message (`message/*`) as `message_attachment` hashes them.

    Args:
        part: The `message/*` part.
        info: Its headers.
        linesep: Line ending of the outer message.
        warnings: Where problems are recorded.

    Returns:
        The attached message serialised again, or the decoded payload when the
        stdlib did not parse it as a message.
    """
    payload = part.get_payload()
    inner = payload if isinstance(payload, list) else []
    if inner:
        return b"".join(_serialise(message, linesep, info, warnings) for message in inner)
    raw = part.get_payload(decode=True)
    return raw if isinstance(raw, bytes) else b""


def message_attachment(
    part: Message, info: PartInfo, linesep: str, warnings: WarningLog, data: bytes | None = None
) -> Attachment:
    """Describe an attached message (`message/*`) as one attachment.

    The attached message is serialised again by the stdlib generator, with
    source header lines kept unfolded, and that byte string is hashed. The
    result can differ from the bytes on the wire where the parser normalised
    them. Without a filename, the attachment is named after the attached
    message's subject with `.eml` appended.

    Args:
        part: The `message/*` part.
        info: Its headers.
        linesep: Line ending of the outer message, so the bytes match it.
        warnings: Where problems are recorded.
        data: The bytes from `attached_message_bytes`, when the caller has them already.

    Returns:
        The attachment record.
    """
    payload = part.get_payload()
    inner = payload if isinstance(payload, list) else []
    for message in inner:
        _report_unreadable_multipart(message, info, warnings)
    if data is None:
        data = attached_message_bytes(part, info, linesep, warnings)
    filename = clean_line(info.filename.strip())
    if not filename and info.content_type == "message/rfc822":
        subject = ""
        if inner:
            subject_value = RawHeaders(inner[0]).first("subject")
            subject = clean_line(decode_header_text(subject_value)).strip() if subject_value else ""
        filename = f"{subject or 'attached message'}.eml"
    return Attachment(
        filename=filename,
        content_type=clean_line(info.content_type),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        extension=file_extension(filename),
    )


def _report_unreadable_multipart(message: Message, info: PartInfo, warnings: WarningLog) -> None:
    """Warn when the attached message is a multipart whose boundary never appears.

    Its parts are not read here, but the analyst should know the attached
    message is broken or, for `message/rfc822-headers`, contains no body at all.
    """
    try:
        content_type = message.get_content_type()
        boundary = message.get_boundary()
    except HEADER_ERRORS:
        return
    if content_type.startswith("multipart/") and isinstance(message.get_payload(), str):
        warnings.add(
            f"{info.label}: the attached message is {content_type}, but its declared boundary "
            f"{quote_for_warning(boundary or '')} never appears, so it holds no readable parts"
        )


def _serialise(message: Message, linesep: str, info: PartInfo, warnings: WarningLog) -> bytes:
    policies = (default_policy.clone(refold_source="none", linesep=linesep), compat32.clone(linesep=linesep))
    for policy in policies:
        buffer = BytesIO()
        try:
            BytesGenerator(buffer, policy=policy).flatten(message)
        except HEADER_ERRORS:
            continue
        return buffer.getvalue()
    warnings.add(f"{info.label}: the attached message could not be serialised; its hash covers no bytes")
    return b""
