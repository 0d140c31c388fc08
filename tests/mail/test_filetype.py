"""True file types from content: signatures, and the corpus attachments whose names lie."""

from __future__ import annotations

from pathlib import Path

import pytest

from air_tui.mail import parse_message
from air_tui.mail.filetype import detect_type, matches_extension

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"MZ\x90\x00" + b"\x00" * 60, "exe"),
        (b"%PDF-1.7\n", "pdf"),
        (b"PK\x03\x04rest", "zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 8, "ole"),
        (b"\x00" * 0x8001 + b"CD001", "iso"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html>", "html"),
        (b"plain words", ""),
        (b"", ""),
    ],
)
def test_detect_type(data: bytes, expected: str) -> None:
    assert detect_type(data) == expected


def test_compatible_extensions() -> None:
    assert matches_extension("zip", "xlsx")
    assert matches_extension("html", "htm")
    assert not matches_extension("zip", "pdf")
    assert not matches_extension("exe", "jpg")


def test_corpus_pdf_named_zip_detected() -> None:
    # The corpus manifest records that the .pdf-named attachment of mail_test_11 is really a zip.
    message = parse_message((CORPUS / "spamscope" / "mail_test_11.eml").read_bytes())
    pdf_named = [a for a in message.attachments if a.extension == "pdf"]
    assert pdf_named
    assert pdf_named[0].detected_type == "zip"


def test_corpus_hashes_all_present() -> None:
    message = parse_message((CORPUS / "phishing_pot" / "sample-591.eml").read_bytes())
    attachment = message.attachments[0]
    assert len(attachment.sha256) == 64
    assert len(attachment.sha1) == 40
    assert len(attachment.md5) == 32
