"""TNEF containers (`winmail.dat`, `application/ms-tnef`) expanded into attachments.

Outlook wraps a message's attachments and rich body in one TNEF file when it
sends to a recipient it believes runs Outlook too. Other clients show only
`winmail.dat`, so the files inside are what the sender really sent: each is
analysed like any attachment. Decoding is done by tnefparse.
"""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass, field

from air_tui.domain.message import Attachment
from air_tui.mail.attachments import file_attachment
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.mime import PartInfo

logger = logging.getLogger(__name__)

TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
"""First four bytes of a TNEF stream: 0x223E9F78, little-endian."""

TNEF_CONTENT_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})

MAX_TNEF_FILES = 100
"""Files taken out of one TNEF container; a hostile one could declare thousands."""


@dataclass
class TnefContents:
    """Files and body text read from one TNEF container."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    """Each file as (name, bytes), in container order."""
    body_text: str = ""
    body_html: str = ""
    problems: list[str] = field(default_factory=list)
    """Irregularities that did not stop the expansion, in plain words."""
    failure: str = ""
    """Reason the container could not be expanded; empty when it was."""


def is_tnef(info: PartInfo, data: bytes) -> bool:
    """Return whether the part is a TNEF container, by content type, file name or signature."""
    return (
        info.content_type in TNEF_CONTENT_TYPES
        or info.filename.strip().lower() == "winmail.dat"
        or data.startswith(TNEF_SIGNATURE)
    )


def read_tnef(data: bytes) -> TnefContents:
    """Decode a TNEF container without raising.

    Args:
        data: The container's bytes.

    Returns:
        Its files and body; `failure` gives the reason when nothing could be read.
    """
    contents = TnefContents()
    if not data.startswith(TNEF_SIGNATURE):
        contents.failure = "it does not start with the TNEF signature 0x223E9F78"
        return contents
    try:
        from tnefparse import TNEF
    except ImportError:
        contents.failure = "the tnefparse package is not installed; reinstall air-tui"
        return contents
    try:
        container = TNEF(data, do_checksum=True)
    except Exception as error:  # noqa: BLE001 - tnefparse raises struct, index and value errors on damaged input
        contents.failure = f"{type(error).__name__}: {error}"
        return contents
    if any(not getattr(item, "good_checksum", True) for item in container.objects):
        contents.problems.append("some attribute checksums do not match, so the content may be damaged")
    for index, attachment in enumerate(container.attachments):
        if index >= MAX_TNEF_FILES:
            contents.problems.append(
                f"it holds {len(container.attachments):,} files; only the first {MAX_TNEF_FILES} were read"
            )
            break
        payload = attachment.data if isinstance(attachment.data, bytes) else b""
        contents.files.append((_file_name(attachment, index), payload))
    contents.body_text = _as_text(container.body)
    contents.body_html = _as_text(container.htmlbody)
    if not contents.body_html and container.has_body() and container.rtfbody:
        # NOTE: an RTF-only body is not converted to text; its links are not collected.
        contents.problems.append("its body is RTF only, which is not read")
    if not contents.files and not container.has_body():
        damaged = " and its attribute checksums do not match" if contents.problems else ""
        contents.failure = f"no file or body could be read from it{damaged}"
    return contents


def expand_tnef(info: PartInfo, data: bytes, container: Attachment, warnings: WarningLog) -> tuple[list[Attachment], TnefContents]:
    """Turn the files inside a TNEF container into attachment records.

    Each file is analysed by `file_attachment` and gets `container` set to the
    container's file name. When the container cannot be expanded, a warning
    gives the reason and the container's record gets a content finding.

    Args:
        info: The container part's headers.
        data: The container's bytes.
        container: The container's own attachment record, kept as it is.
        warnings: Where problems are recorded.

    Returns:
        The attachment records of the files inside, and the decoded contents.
    """
    contents = read_tnef(data)
    name = container.filename or "winmail.dat"
    if contents.failure:
        reason = clean_line(contents.failure)
        warnings.add(f"{info.label}: the TNEF (winmail.dat) container {quote_for_warning(name)} could not be expanded: {reason}")
        container.content_findings.append(f"is a TNEF (winmail.dat) container that could not be expanded: {reason}")
        return [], contents
    for problem in contents.problems:
        warnings.add(f"{info.label}: the TNEF container {quote_for_warning(name)}: {problem}")
    records: list[Attachment] = []
    for file_name, payload in contents.files:
        guessed = mimetypes.guess_type(file_name, strict=False)[0] or "application/octet-stream"
        record = file_attachment(PartInfo(number=info.number, content_type=guessed, filename=file_name), payload, warnings)
        record.container = clean_line(name)
        records.append(record)
    return records, contents


def _file_name(attachment: object, index: int) -> str:
    """Return the long file name when there is one, else the 8.3 title, else a placeholder."""
    for reader in ("long_filename", "name"):
        try:
            value = getattr(attachment, reader)
            value = value() if callable(value) else value
        except (UnicodeDecodeError, AttributeError, ValueError):
            continue
        text = _as_text(value).strip("\x00").strip()
        if text:
            return text
    raw = getattr(attachment, "_name", b"")
    if isinstance(raw, bytes) and raw.strip(b"\x00"):
        # tnefparse decodes titles as UTF-8 and raises on other bytes; Outlook writes the ANSI code page.
        return raw.strip(b"\x00").decode("cp1252", errors="replace")
    return f"tnef-file-{index + 1}"


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value.decode("cp1252", errors="replace")
    return ""
