"""Office macros and encrypted Office files in real corpus attachments, read in memory by olevba."""

from __future__ import annotations

from pathlib import Path

from air_tui.mail import parse_message
from air_tui.mail.macros import might_hold_macros, scan_office

SPAMASSASSIN = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "spamassassin"


def only_attachment(name: str):
    message = parse_message((SPAMASSASSIN / name).read_bytes())
    assert len(message.attachments) == 1
    return message.attachments[0]


def test_auto_run_macro_found() -> None:
    attachment = only_attachment("olevb-malicemacro.eml")
    assert attachment.has_macros is True
    assert "Workbook_Open" in attachment.macro_auto_exec


def test_macro_workbook_named_jpg() -> None:
    attachment = only_attachment("olevb-renamedmacro.eml")
    assert attachment.extension == "jpg"
    assert attachment.detected_type == "zip"
    assert attachment.has_macros is True


def test_workbook_without_macros() -> None:
    attachment = only_attachment("olevb-nomacro.eml")
    assert attachment.has_macros is False
    assert attachment.macro_auto_exec == []


def test_encrypted_office_document() -> None:
    attachment = only_attachment("olevb-encrypted-docx.eml")
    assert attachment.detected_type == "ole"
    assert attachment.office_encrypted is True


def test_plain_zip_not_scanned() -> None:
    assert might_hold_macros("zip", b"PK\x03\x04 photos only") is False
    assert might_hold_macros("ole", b"") is True
    assert might_hold_macros("pdf", b"vbaProject.bin") is False


def test_garbage_ole_reports_error() -> None:
    report = scan_office("broken.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert report.has_macros is False
    assert report.error
