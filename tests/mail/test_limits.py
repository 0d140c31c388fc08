"""Bounds on work and output, and inputs with nothing or little to read."""

from __future__ import annotations

import hashlib

from air_tui.domain.message import MessageLocation
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import message_id_for, parse_message
from air_tui.mail.mime import MAX_PARTS, MAX_TEXT_PART_BYTES


def _message(headers: str, body: bytes = b"body\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_five_thousand_addresses_parse() -> None:
    recipients = ", ".join(f'"User {index}" <user{index}@example{index % 50}.com>' for index in range(5_000))
    raw = _message(f"From: sender@example.com\nTo: {recipients}\nSubject: many\n")

    message = parse_message(raw)

    assert len(message.to) == 1_000
    assert message.to[0].display_name == "User 0"
    assert message.to[999].address == "user999@example49.com"
    assert message.parse_warnings == ["To header lists 5,000 addresses; kept the first 1,000"]


def test_mime_parts_beyond_limit_are_not_walked() -> None:
    parts = b"".join(
        b"--xx\r\nContent-Type: application/octet-stream\r\n\r\npayload %d\r\n" % index for index in range(1_200)
    )
    raw = _message("Subject: many parts\nContent-Type: multipart/mixed; boundary=xx\n", parts + b"--xx--\r\n")

    message = parse_message(raw)

    # The container is part 1, so 999 leaves fit in the 1,000 parts walked.
    assert len(message.attachments) == MAX_PARTS - 1
    assert "the message has more than 1,000 MIME parts; only the first 1,000 were read" in message.parse_warnings


def test_oversized_text_part_is_hashed_not_read() -> None:
    big = b"A" * (MAX_TEXT_PART_BYTES + 1)
    body = (
        b"--xx\r\nContent-Type: text/plain\r\n\r\nsmall part\r\n"
        b"--xx\r\nContent-Type: text/html\r\n\r\n" + big + b"\r\n--xx--\r\n"
    )
    raw = _message("Subject: big\nContent-Type: multipart/mixed; boundary=xx\n", body)

    message = parse_message(raw)

    assert message.body_text == "small part"
    assert len(message.attachments) == 1
    assert message.attachments[0].content_type == "text/html"
    assert message.attachments[0].sha256 == hashlib.sha256(big).hexdigest()
    assert any("over the 20,971,520-byte limit" in warning for warning in message.parse_warnings)


def test_deep_nesting_keeps_headers() -> None:
    levels = b"".join(
        f"--b{index}\r\nContent-Type: multipart/mixed; boundary=b{index + 1}\r\n\r\n".encode() for index in range(3_000)
    )
    raw = _message("Subject: deep\nFrom: a@example.com\nContent-Type: multipart/mixed; boundary=b0\n", levels)

    message = parse_message(raw)

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert message.subject == "deep"
    assert message.sender.address == "a@example.com"
    assert "the MIME structure is nested too deeply to read; only the header fields were read" in message.parse_warnings


def test_body_text_is_bounded() -> None:
    raw = _message("Subject: long\nContent-Type: text/plain\n", b"word " * 60_000)

    message = parse_message(raw)

    assert len(message.body_text) == 200_000
    assert "the body text is longer than 200,000 characters and was cut" in message.parse_warnings


def test_subject_is_bounded() -> None:
    raw = _message(f"Subject: {'s' * 5_000}\n")

    message = parse_message(raw)

    assert message.subject == "s" * 1_000
    assert "Subject is longer than 1,000 characters and was cut" in message.parse_warnings


def test_urls_are_capped_at_500() -> None:
    links = "".join(f"https://host{index}.example.com/page\n" for index in range(600))
    raw = _message("Subject: links\nContent-Type: text/plain\n", links.encode())

    message = parse_message(raw)

    assert len(message.urls) == 500
    assert message.urls[-1].url == "https://host499.example.com/page"
    assert "the body has more than 500 URLs; only the first 500 were kept" in message.parse_warnings


def test_empty_file_fails_with_identity() -> None:
    location = MessageLocation(mailbox="box", folder="Inbox", key="1.host", path="/tmp/1.host")

    message = parse_message(b"", location=location)

    assert message.parse_status is ParseStatus.FAILED
    assert message.parse_error == "the file is empty or contains only white space"
    assert message.id == message_id_for("box", "1.host")
    assert message.location == location
    assert message.size == 0
    assert message.sha256 == hashlib.sha256(b"").hexdigest()


def test_binary_without_headers_fails() -> None:
    raw = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100)

    message = parse_message(raw)

    assert message.parse_status is ParseStatus.FAILED
    assert "no header fields were found" in message.parse_error
    assert message.size == len(raw)


def test_text_without_headers_is_read_with_warning() -> None:
    message = parse_message(b"just some words, see https://example.org/x\n")

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert "no header fields were found; the file may not be an email message" in message.parse_warnings
    assert message.body_text == "just some words, see https://example.org/x"
    assert [url.host for url in message.urls] == ["example.org"]


def test_id_sources_in_order() -> None:
    raw = _message("Subject: id\n")
    location = MessageLocation(mailbox="box", key="42")

    assert parse_message(raw, message_id="given").id == "given"
    assert parse_message(raw, location=location).id == message_id_for("box", "42")
    assert parse_message(raw).id == hashlib.sha256(raw).hexdigest()
