"""Hidden characters in one-line fields: kept or shown as markers, named, and found by field."""

from __future__ import annotations

import hashlib

from air_tui.domain.message import Address, Attachment, EmailMessage, Url
from air_tui.mail import parse_message
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.invisible import HiddenText, hidden_characters, scan_message

RLO = "\u202e"
ZWSP = "\u200b"


def _message(headers: str, body: bytes = b"body\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_clean_line_marks_controls_keeps_bidi() -> None:
    cleaned = clean_line(f"a\x1bb\tc{RLO}d{ZWSP}e\x9bf\r\ng")

    assert cleaned == f"a⟨U+001B⟩b\tc{RLO}d{ZWSP}e⟨U+009B⟩f g"


def test_hidden_characters_names_markers() -> None:
    names = hidden_characters(f"x⟨U+001B⟩y{RLO}z{ZWSP}⟨U+0041⟩")

    assert names == ["U+001B ESCAPE", "U+202E RIGHT-TO-LEFT OVERRIDE", "U+200B ZERO WIDTH SPACE"]


def test_quote_for_warning_reveals_everything() -> None:
    assert quote_for_warning(f"pay{RLO}me\x07") == "'pay⟨RLO⟩me⟨U+0007⟩'"


def test_subject_bidi_kept_and_warned() -> None:
    message = parse_message(_message(f"Subject: =?utf-8?q?Invoice_{'=E2=80=AE'}fdp.exe?=\nFrom: a@example.com\n"))

    assert message.subject == f"Invoice {RLO}fdp.exe"
    assert "Subject 'Invoice ⟨RLO⟩fdp.exe' contains U+202E RIGHT-TO-LEFT OVERRIDE" in message.parse_warnings


def test_attachment_name_kept_as_sent() -> None:
    raw = _message(
        "Subject: x\nContent-Type: multipart/mixed; boundary=xx\n",
        b"--xx\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\r\n\r\nMZ\r\n--xx--\r\n",
    )

    message = parse_message(raw)
    attachment = message.attachments[0]

    assert attachment.filename == f"invoice{RLO}fdp.exe"
    assert hashlib.sha256(attachment.filename.encode()).hexdigest() == hashlib.sha256(f"invoice{RLO}fdp.exe".encode()).hexdigest()
    assert attachment.hidden_characters == ["U+202E RIGHT-TO-LEFT OVERRIDE"]
    assert "attachment file name 'invoice⟨RLO⟩fdp.exe' contains U+202E RIGHT-TO-LEFT OVERRIDE" in message.parse_warnings


def test_clean_message_has_no_findings() -> None:
    message = parse_message(_message("Subject: Quarterly report\nFrom: Ann <ann@example.com>\nTo: bob@example.com\n"))

    assert scan_message(message) == []
    assert not any("contains U+" in warning for warning in message.parse_warnings)


def test_scan_message_covers_every_field() -> None:
    attached = EmailMessage(id="inner", subject=f"inner{ZWSP}subject")
    message = EmailMessage(
        id="outer",
        subject=f"Pay{RLO}now",
        sender=Address(display_name=f"IT{ZWSP} Desk", address="it@example.com"),
        reply_to=[Address(address=f"re{RLO}ply@example.net")],
        to=[Address(display_name="Bob⟨U+0007⟩", address="bob@example.com")],
        cc=[Address(display_name="Carol", address=f"carol{ZWSP}@example.com")],
        attachments=[Attachment(filename=f"a{RLO}fdp.exe", archive_members=[f"b{RLO}gpj.scr (exe)"])],
        urls=[Url(url=f"https://exa{ZWSP}mple.com/", unwrapped=f"https://evil{RLO}.example/")],
        attached_messages=[attached],
    )

    found = scan_message(message)

    assert found == [
        HiddenText("Subject", f"Pay{RLO}now", ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
        HiddenText("From display name", f"IT{ZWSP} Desk", ["U+200B ZERO WIDTH SPACE"]),
        HiddenText("Reply-To address", f"re{RLO}ply@example.net", ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
        HiddenText("To display name", "Bob⟨U+0007⟩", ["U+0007 BELL"]),
        HiddenText("Cc address", f"carol{ZWSP}@example.com", ["U+200B ZERO WIDTH SPACE"]),
        HiddenText("attachment file name", f"a{RLO}fdp.exe", ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
        HiddenText(f"member of archive a{RLO}fdp.exe", f"b{RLO}gpj.scr (exe)", ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
        HiddenText("URL", f"https://exa{ZWSP}mple.com/", ["U+200B ZERO WIDTH SPACE"]),
        HiddenText("unwrapped URL", f"https://evil{RLO}.example/", ["U+202E RIGHT-TO-LEFT OVERRIDE"]),
        HiddenText("attached message 1: Subject", f"inner{ZWSP}subject", ["U+200B ZERO WIDTH SPACE"]),
    ]


def test_url_with_zero_width_warned() -> None:
    raw = _message("Subject: x\nContent-Type: text/html; charset=utf-8\n", '<a href="https://pay\u200bpal.example/login">x</a>'.encode())

    message = parse_message(raw)

    assert [url.url for url in message.urls] == ["https://pay\u200bpal.example/login"]
    assert any(item.field == "URL" and item.names == ["U+200B ZERO WIDTH SPACE"] for item in scan_message(message))
