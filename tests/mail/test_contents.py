"""Risky content inside HTML and PDF attachments: corpus pages and PDFs built here."""

from __future__ import annotations

import zlib
from pathlib import Path

from air_tui.mail import parse_message
from air_tui.mail.contents import scan_html, scan_pdf

PHISHING_POT = Path(__file__).resolve().parents[2] / "fixtures" / "corpus" / "phishing_pot"


def html_attachment(name: str):
    message = parse_message((PHISHING_POT / name).read_bytes())
    return next(a for a in message.attachments if a.detected_type == "html")


def test_credential_form_in_corpus_page() -> None:
    findings = html_attachment("sample-1258.eml").content_findings
    assert "contains an HTML form that asks for a password" in findings


def test_html_smuggling_in_corpus_page() -> None:
    findings = html_attachment("sample-402.eml").content_findings
    assert any("atob" in item for item in findings)
    assert any("Blob" in item for item in findings)


def test_plain_html_has_no_findings() -> None:
    assert scan_html(b"<html><body><p>Minutes of the meeting</p></body></html>") == []


def pdf_with(objects: bytes, *, compress: bool) -> bytes:
    body = zlib.compress(objects) if compress else objects
    return b"%PDF-1.7\n1 0 obj\n<< /Length 99 >>\nstream\n" + body + b"\nendstream\nendobj\n%%EOF\n"


def test_pdf_javascript_in_compressed_stream() -> None:
    findings, links = scan_pdf(pdf_with(b"<< /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>", compress=True))
    assert "contains JavaScript" in findings
    assert "contains an action that runs when the document opens" in findings
    assert links == []


def test_pdf_launch_and_links() -> None:
    pdf = pdf_with(b"<< /S /Launch /F (cmd.exe) >> << /S /URI /URI (https://evil.example/login) >>", compress=False)
    findings, links = scan_pdf(pdf)
    assert "contains a Launch action that starts a program" in findings
    assert links == ["https://evil.example/login"]


def test_pdf_enciphered_link_dropped() -> None:
    _, links = scan_pdf(pdf_with(b"<< /URI (\xe0z.c\xa5w3I) >>", compress=False))
    assert links == []


def test_pdf_inflate_budget_bounded() -> None:
    bomb = pdf_with(b"\x00" * 20_000_000, compress=True)
    findings, links = scan_pdf(bomb)
    assert findings == []
    assert links == []
