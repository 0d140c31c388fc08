"""Decoding that never gives up: each damaged input parses, is reported, and loses nothing.

The inputs are small hand-made .eml files in inputs/decoding, one per kind of damage.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message
from air_tui.mail.addresses import MAX_ADDRESSES_PER_HEADER

INPUTS = Path(__file__).parent / "inputs" / "decoding"
PDF_SHA256 = hashlib.sha256(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n").hexdigest()


def _parse(name: str) -> EmailMessage:
    message = parse_message((INPUTS / name).read_bytes())
    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS, message.parse_error
    return message


def _warned(message: EmailMessage, *words: str) -> bool:
    return any(all(word in warning for word in words) for warning in message.parse_warnings)


def test_misspelt_unknown_and_empty_charsets() -> None:
    message = _parse("charset_labels.eml")

    for words in ("Grüße aus Zürich", "Café crème brûlée", "Straße nach Köln", "Preis 100 € netto", "Ångström zählt"):
        assert words in message.body_text
    assert _warned(message, "'utf8'", "not a registered name")
    assert _warned(message, "'iso8859-1'", "not a registered name")
    assert _warned(message, "unknown charset 'x-unknown'", "utf-8")
    assert _warned(message, "unknown charset 'windows-1252x'", "decoded as windows-1252")
    assert _warned(message, "part 6", "charset label is empty")
    assert [(item.filename, item.sha256) for item in message.attachments] == [("invoice.pdf", PDF_SHA256)]


def test_glued_and_split_encoded_words() -> None:
    message = _parse("encoded_words.eml")

    assert message.subject == "foobarbaz Rechnung € offen"
    assert message.sender.address == "juergen@vendor.example"
    assert "Jürgen" in message.sender.display_name
    assert "Müller" in message.sender.display_name
    assert _warned(message, "Subject", "'=?utf-8?q?bar?='", "glued")
    assert _warned(message, "Subject", "character is split between two encoded-words")


def test_rfc2231_sections_split_character() -> None:
    message = _parse("rfc2231_split.eml")

    assert [(item.filename, item.sha256) for item in message.attachments] == [("Rechnung € März.pdf", PDF_SHA256)]
    assert _warned(message, "part 3", "RFC 2231", "split a multibyte character")


def test_missing_content_type_at_top_level() -> None:
    message = _parse("missing_content_type_top.eml")

    assert message.body_text == "Gehaltsübersicht für März"
    assert _warned(message, "part 1 has no Content-Type header", "text/plain")


def test_missing_content_type_in_part() -> None:
    message = _parse("missing_content_type_part.eml")

    assert message.body_text == "Gehaltsübersicht für März"
    assert _warned(message, "part 2 has no Content-Type header", "text/plain")
    assert [(item.filename, item.sha256) for item in message.attachments] == [("payslip.pdf", PDF_SHA256)]


def test_nul_bytes_in_headers_and_parameters() -> None:
    message = _parse("nul_bytes.eml")

    nul = "\u27e8U+0000\u27e9"
    assert message.subject == f"Pass{nul}word expiry"
    assert (message.sender.display_name, message.sender.address) == (f"Help{nul}desk", "helpdesk@vendor.example")
    assert _warned(message, "the Subject header contains NUL bytes")
    assert _warned(message, "the From header contains NUL bytes")
    assert _warned(message, "part 3", "Content-Disposition header contains NUL bytes", f"'reset{nul}form.pdf'")
    assert [(item.filename, item.sha256) for item in message.attachments] == [(f"reset{nul}form.pdf", PDF_SHA256)]


def test_boundary_never_closed() -> None:
    message = _parse("unclosed_boundary.eml")

    assert message.body_text == "Outer text before the attachment."
    assert _warned(message, "part 1 (multipart/mixed)", "closing boundary is missing")
    assert [(item.filename, item.sha256) for item in message.attachments] == [("scan.pdf", PDF_SHA256)]


def test_boundary_never_closed_inside_attached_message() -> None:
    message = _parse("unclosed_nested_boundary.eml")

    assert _warned(message, "part 3 (message/rfc822)", "attached message is damaged", "closing boundary is missing")
    assert [item.filename for item in message.attachments] == ["inner never closed.eml", "outer.pdf"]
    inner = message.attached_messages[0]
    assert inner.sender.address == "attacker@evil.test"
    assert [(item.filename, item.sha256) for item in inner.attachments] == [("inner.pdf", PDF_SHA256)]


def test_boundary_right_after_headers() -> None:
    message = _parse("boundary_without_blank_line.eml")

    assert message.subject == "no blank line"
    assert message.body_text == "Text right after the headers."
    assert _warned(message, "no blank line ends the header fields")
    assert [(item.filename, item.sha256) for item in message.attachments] == [("notice.pdf", PDF_SHA256)]


def test_line_breaks_in_encoded_display_names() -> None:
    message = _parse("encoded_line_breaks.eml")

    assert (message.sender.display_name, message.sender.address) == ("Evil Injected", "a@b.example")
    assert message.subject == "Hello X-Injected: yes"
    assert [(item.display_name, item.address) for item in message.to] == [("Team Bcc: x@evil.test", "team@larkspur.example")]
    assert _warned(message, "From:", "line break (CR or LF)")
    assert _warned(message, "Subject:", "line break (CR or LF)")
    assert _warned(message, "To:", "line break (CR or LF)")


def test_display_name_is_address_of_other_domain() -> None:
    message = _parse("display_name_address.eml")

    assert (message.sender.display_name, message.sender.address) == ("ceo@larkspur.example", "x@evil.test")
    assert (message.reply_to[0].display_name, message.reply_to[0].address) == ("ceo@larkspur.example", "reply@evil.test")
    assert _warned(message, "From display name 'ceo@larkspur.example'", "another domain", "x@evil.test")
    assert _warned(message, "Reply-To display name", "reply@evil.test")


def test_five_thousand_recipients_are_capped() -> None:
    message = _parse("to_5000.eml")

    assert len(message.to) == MAX_ADDRESSES_PER_HEADER
    assert message.to[0].address == "user0000@larkspur.example"
    assert message.to[-1].address == f"user{MAX_ADDRESSES_PER_HEADER - 1:04d}@larkspur.example"
    assert _warned(message, "To header lists 5,000 addresses", f"kept the first {MAX_ADDRESSES_PER_HEADER:,}")


def test_subject_of_three_thousand_encoded_words() -> None:
    message = _parse("subject_3000_words.eml")

    assert message.subject.startswith("w0000éw0001é")
    assert len(message.subject) == 1_000
    assert _warned(message, "Subject is 71,999 characters long as written", "first 16,384 were decoded")


def _scaled_recipients(times: int) -> bytes:
    raw = (INPUTS / "to_5000.eml").read_bytes()
    head, _, rest = raw.partition(b"To: ")
    addresses, _, tail = rest.partition(b"\r\nSubject:")
    return head + b"To: " + b",\r\n ".join([addresses] * times) + b"\r\nSubject:" + tail


def _scaled_subject(times: int) -> bytes:
    raw = (INPUTS / "subject_3000_words.eml").read_bytes()
    head, _, rest = raw.partition(b"Subject: ")
    words, _, tail = rest.partition(b"\r\nMIME-Version:")
    return head + b"Subject: " + b"\r\n ".join([words] * times) + b"\r\nMIME-Version:" + tail


def _seconds(raw: bytes) -> float:
    """Return the best of three parse times, so one scheduler hiccup does not decide the ratio."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        parse_message(raw)
        best = min(best, time.perf_counter() - start)
    return best


def test_large_headers_cost_grows_at_most_linearly() -> None:
    # A quadratic parser takes 16 times as long on 4 times the input; linear
    # takes at most 4 times. The bound of 8 leaves room for noise on a busy machine.
    for build in (_scaled_recipients, _scaled_subject):
        single, quadruple = build(1), build(4)
        assert len(quadruple) > 3.9 * len(single)

        ratio = _seconds(quadruple) / _seconds(single)

        assert ratio < 8, (build.__name__, ratio)
    message = parse_message(_scaled_recipients(4))
    assert len(message.to) == MAX_ADDRESSES_PER_HEADER
    assert any("To header lists 20,000 addresses" in warning for warning in message.parse_warnings)
