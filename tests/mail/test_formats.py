"""Message formats: attached messages, user reports, Outlook .msg files and TNEF containers."""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
from pathlib import Path

import pytest

from air_tui.domain.message import MessageLocation
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import iter_messages, parse_message
from air_tui.mail.parse import MAX_ATTACHED_MESSAGES, MAX_NESTING_DEPTH
from air_tui.mail.reports import reported_message
from tests.mail.conftest import CORPUS

INPUTS = Path(__file__).parent / "inputs" / "decoding"
POI_MSG = sorted((CORPUS / "poi_msg").glob("*.msg"))
OUTER_MSG = CORPUS / "eml_analyzer_msg" / "outer.msg"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _inner(subject: str, sender: str = "attacker@evil.test", body: str = "Log in at http://evil.test/login") -> bytes:
    return (
        f"From: {sender}\r\nTo: margot.visser@larkspur.example\r\nSubject: {subject}\r\n"
        f"Authentication-Results: mx.larkspur.example; spf=fail smtp.mailfrom=evil.test\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def _wrap(inner: bytes, *, subject: str, sender: str, note: str = "", extra_parts: bytes = b"", boundary: str = "w") -> bytes:
    head = (
        f"From: {sender}\r\nTo: phishing@larkspur.example\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
    ).encode()
    text = f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{note}\r\n".encode()
    attached = f"--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n".encode() + inner + b"\r\n"
    return head + text + attached + extra_parts + f"--{boundary}--\r\n".encode()


def _pdf_part(boundary: str, name: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Type: application/pdf; name="{name}"\r\n'
        f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    ).encode() + base64.b64encode(PDF) + b"\r\n"


# Attached messages


def test_attached_message_is_parsed_recursively() -> None:
    raw = _wrap(_inner("Your mailbox is full"), subject="Fwd: mailbox", sender="margot.visser@larkspur.example")
    location = MessageLocation(mailbox="phishing@larkspur.example", folder="Inbox", key="k1")

    message = parse_message(raw, location=location)

    assert message.parse_status is ParseStatus.PARSED
    assert len(message.attached_messages) == 1
    inner = message.attached_messages[0]
    assert inner.id == f"{message.id}/1"
    assert inner.location == location
    assert inner.subject == "Your mailbox is full"
    assert inner.sender.address == "attacker@evil.test"
    assert [(result.method, result.result) for result in inner.auth_results] == [("spf", "fail")]
    assert [url.url for url in inner.urls] == ["http://evil.test/login"]
    record = next(item for item in message.attachments if item.content_type == "message/rfc822")
    assert record.filename == "Your mailbox is full.eml"
    assert record.sha256 == inner.sha256


def test_message_global_is_parsed_too() -> None:
    raw = _wrap(_inner("Global"), subject="Fwd", sender="a@larkspur.example").replace(
        b"message/rfc822", b"message/global"
    )

    message = parse_message(raw)

    assert [inner.subject for inner in message.attached_messages] == ["Global"]


def test_nested_ids_follow_the_tree() -> None:
    level2 = _wrap(_inner("deepest"), subject="level 2", sender="b@larkspur.example", boundary="b2")
    level1 = _wrap(level2, subject="level 1", sender="c@larkspur.example", boundary="b1")

    message = parse_message(level1, message_id="root")

    child = message.attached_messages[0]
    grandchild = child.attached_messages[0]
    assert (child.id, child.subject) == ("root/1", "level 2")
    assert (grandchild.id, grandchild.subject) == ("root/1/1", "deepest")
    assert grandchild.sender.address == "attacker@evil.test"


def test_nesting_depth_is_bounded() -> None:
    raw = _inner("level 7")
    for level in range(6, -1, -1):
        raw = _wrap(raw, subject=f"level {level}", sender="a@larkspur.example", boundary=f"d{level}")

    message = parse_message(raw, message_id="root")

    chain = [message]
    while chain[-1].attached_messages:
        chain.append(chain[-1].attached_messages[0])
    assert len(chain) == MAX_NESTING_DEPTH + 1
    assert chain[-1].id == "root" + "/1" * MAX_NESTING_DEPTH
    deepest = chain[-1]
    assert any("nested more than 5 levels deep" in warning for warning in deepest.parse_warnings)
    assert any(item.content_type == "message/rfc822" for item in deepest.attachments), "still hashed"


def test_attached_message_count_is_bounded() -> None:
    parts = b"".join(
        b"--m\r\nContent-Type: message/rfc822\r\n\r\n" + _inner(f"copy {index}") + b"\r\n" for index in range(25)
    )
    raw = b"From: a@larkspur.example\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n" + parts + b"--m--\r\n"

    message = parse_message(raw)

    assert len(message.attached_messages) == MAX_ATTACHED_MESSAGES
    assert len([item for item in message.attachments if item.content_type == "message/rfc822"]) == 25
    assert any("more than 20 attached messages" in warning for warning in message.parse_warnings)


def test_unclosed_inner_boundary_keeps_outer_parts() -> None:
    message = parse_message((INPUTS / "unclosed_nested_boundary.eml").read_bytes())

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert [item.filename for item in message.attachments] == ["inner never closed.eml", "outer.pdf"]
    assert message.attachments[1].sha256 == hashlib.sha256(PDF + b"% outer\n").hexdigest()
    inner = message.attached_messages[0]
    assert inner.subject == "inner never closed"
    assert [item.filename for item in inner.attachments] == ["inner.pdf"]
    assert inner.attachments[0].sha256 == hashlib.sha256(PDF).hexdigest()
    assert [url.url for url in inner.urls] == ["http://evil.test/login"]
    assert inner.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert any("closing boundary is missing" in warning for warning in inner.parse_warnings)
    assert any("attached message is damaged" in warning for warning in message.parse_warnings)


# User reports


def test_report_add_in_returns_inner_message() -> None:
    raw = _wrap(_inner("Invoice overdue"), subject="Phishing | Invoice overdue", sender="margot.visser@larkspur.example")

    inner = reported_message(parse_message(raw), ["Larkspur.example"])

    assert inner is not None
    assert inner.subject == "Invoice overdue"
    assert inner.sender.address == "attacker@evil.test"


def test_forward_as_attachment_from_subdomain_counts() -> None:
    raw = _wrap(_inner("Reset"), subject="FW: Reset", sender="it@corp.larkspur.example", note="Looks fake to me.")

    inner = reported_message(parse_message(raw), ["larkspur.example"])

    assert inner is not None
    assert inner.subject == "Reset"


def test_internal_forward_with_other_files_is_not_report() -> None:
    raw = _wrap(
        _inner("Q3 numbers", sender="cfo@larkspur.example", body="Numbers attached."),
        subject="FW: Q3 numbers",
        sender="margot.visser@larkspur.example",
        extra_parts=_pdf_part("w", "q3.pdf"),
    )

    assert reported_message(parse_message(raw), ["larkspur.example"]) is None


def test_external_sender_is_not_report() -> None:
    raw = _wrap(_inner("Reset"), subject="Report phishing", sender="someone@partner.example")

    assert reported_message(parse_message(raw), ["larkspur.example"]) is None


def test_long_outer_body_is_not_report() -> None:
    raw = _wrap(_inner("Minutes"), subject="FW: Minutes", sender="a@larkspur.example", note="Long text. " * 300)

    assert reported_message(parse_message(raw), ["larkspur.example"]) is None


def test_several_attached_messages_need_report_subject() -> None:
    second = b"--w\r\nContent-Type: message/rfc822\r\n\r\n" + _inner("Second") + b"\r\n"

    plain = _wrap(_inner("First"), subject="FW: two mails", sender="a@larkspur.example", extra_parts=second)
    flagged = _wrap(_inner("First"), subject="Report: two spam mails", sender="a@larkspur.example", extra_parts=second)

    assert reported_message(parse_message(plain), ["larkspur.example"]) is None
    inner = reported_message(parse_message(flagged), ["larkspur.example"])
    assert inner is not None
    assert inner.subject == "First"


# Outlook .msg

_EXPECTED_MSG = {
    "ASCII_CP1251_LCID1049.msg": ("Subject автоматически Subject", "Body автоматически Body"),
    "ASCII_UTF-8_CP1252_LCID1031_HTML.msg": ("Subject öäü Subject", "HTML öäü"),
    "HTMLBodyBinary_CP1251.msg": ("Subject öäü Subject", "HTML автоматически"),
    "HTMLBodyBinary_UTF-8.msg": ("Subject öäü Subject", "HTML öäü"),
    "blank.msg": ("", ""),
    "no_recipient_address.msg": ("Welcome to Microsoft Office Outlook 2003", "Thank you for using Microsoft® Office Outlook® 2003"),
}


def test_every_poi_msg_file_is_listed() -> None:
    assert sorted(path.name for path in POI_MSG) == sorted(_EXPECTED_MSG)


@pytest.mark.parametrize("path", POI_MSG, ids=lambda path: path.name)
def test_msg_file_parses_with_code_page(path: Path) -> None:
    raw = path.read_bytes()
    subject, body_words = _EXPECTED_MSG[path.name]

    message = parse_message(raw)

    assert message.parse_status is not ParseStatus.FAILED, message.parse_error
    assert message.subject == subject
    assert body_words in message.body_text
    assert message.sha256 == hashlib.sha256(raw).hexdigest()


def test_msg_sender_recipients_date_and_attachments() -> None:
    message = parse_message((CORPUS / "poi_msg" / "no_recipient_address.msg").read_bytes())

    assert message.sender.address == "olteam@microsoft.com"
    assert message.sender.display_name == "Microsoft Outlook 2003 Team"
    assert [address.display_name for address in message.to] == ["New Outlook User"]
    assert message.date is not None
    assert message.date.isoformat().startswith("2010-03-28T22:27:38")
    assert len(message.attachments) == 11
    first = message.attachments[0]
    assert (first.filename, first.content_type, first.detected_type) == ("1.jpg", "image/jpeg", "jpg")
    assert len(first.sha256) == 64
    assert any(url.host == "r.office.microsoft.com" for url in message.urls)


def test_embedded_msg_becomes_attached_message() -> None:
    raw = OUTER_MSG.read_bytes()

    message = parse_message(raw, message_id="outer")

    assert message.subject == "outer subject"
    assert [address.address for address in message.to] == ["outer@foo.bar"]
    assert "Outer body" in message.body_text
    assert [item.filename for item in message.attachments] == ["test.msg"]
    assert len(message.attached_messages) == 1
    inner = message.attached_messages[0]
    assert (inner.id, inner.subject) == ("outer/1", "test")
    assert [address.address for address in inner.to] == ["test@foobar.com"]
    assert inner.body_text == "body"
    assert message.attachments[0].sha256 == inner.sha256


def test_msg_without_extra_fails_with_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "extract_msg", None)
    raw = OUTER_MSG.read_bytes()

    message = parse_message(raw)

    assert message.parse_status is ParseStatus.FAILED
    assert "pip install 'air-tui[msg]'" in message.parse_error
    assert message.sha256 == hashlib.sha256(raw).hexdigest()


def test_truncated_ole2_file_fails_with_reason() -> None:
    message = parse_message(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)

    assert message.parse_status is ParseStatus.FAILED
    assert "only 520 bytes long" in message.parse_error


def test_msg_files_are_read_from_folders(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.msg").write_bytes(OUTER_MSG.read_bytes())

    records = list(iter_messages(tmp_path, mailbox="box"))

    assert [record.location.key for record in records] == ["sub/report.msg"]
    assert parse_message(records[0].raw, location=records[0].location).subject == "outer subject"


# TNEF


def _tnef_attribute(level: int, attribute: int, kind: int, data: bytes) -> bytes:
    """Encode one TNEF attribute: level, id, type, length, data and the 16-bit sum of the data bytes."""
    return struct.pack("<BHHI", level, attribute, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)


def _tnef(files: list[tuple[str, bytes]]) -> bytes:
    """Build a TNEF stream: signature, key, message attributes, then three attributes per file."""
    stream = struct.pack("<IH", 0x223E9F78, 0x5A17)
    stream += _tnef_attribute(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    stream += _tnef_attribute(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    stream += _tnef_attribute(1, 0x8008, 0x0007, b"IPM.Note\x00")  # attMessageClass
    for name, data in files:
        stream += _tnef_attribute(2, 0x9002, 0x0006, struct.pack("<HIIIH", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRendData
        stream += _tnef_attribute(2, 0x8010, 0x0001, name.encode() + b"\x00")  # attAttachTitle
        stream += _tnef_attribute(2, 0x800F, 0x0006, data)  # attAttachData
    return stream


def _with_winmail(container: bytes) -> bytes:
    return (
        b"From: partner@vendor.example\r\nTo: margot.visser@larkspur.example\r\nSubject: order\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=t\r\n\r\n"
        b"--t\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
        b'--t\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\n'
        b'Content-Disposition: attachment; filename="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(container)
        + b"--t--\r\n"
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 48 + b"This program cannot be run in DOS mode"


def test_tnef_files_become_attachments() -> None:
    container = _tnef([("invoice.exe", EXE), ("notes.txt", b"order 4711")])

    message = parse_message(_with_winmail(container))

    names = [(item.filename, item.container) for item in message.attachments]
    assert names == [("winmail.dat", ""), ("invoice.exe", "winmail.dat"), ("notes.txt", "winmail.dat")]
    winmail, exe, notes = message.attachments
    assert winmail.sha256 == hashlib.sha256(container).hexdigest()
    assert exe.sha256 == hashlib.sha256(EXE).hexdigest()
    assert (exe.extension, exe.detected_type) == ("exe", "exe")
    assert notes.sha256 == hashlib.sha256(b"order 4711").hexdigest()
    assert notes.content_type == "text/plain"


@pytest.mark.parametrize(
    ("container", "reason"),
    [
        (b"this is not TNEF at all", "does not start with the TNEF signature"),
        (_tnef([("a.txt", b"x" * 50)])[:6] + b"\xff" * 40, "no file or body could be read"),
    ],
    ids=["bad-signature", "damaged-attributes"],
)
def test_corrupt_tnef_is_kept_and_marked(container: bytes, reason: str) -> None:
    message = parse_message(_with_winmail(container))

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert [item.filename for item in message.attachments] == ["winmail.dat"]
    winmail = message.attachments[0]
    assert winmail.sha256 == hashlib.sha256(container).hexdigest()
    assert any(
        finding.startswith("is a TNEF (winmail.dat) container that could not be expanded: ") and reason in finding
        for finding in winmail.content_findings
    )
    assert any("'winmail.dat' could not be expanded" in warning and reason in warning for warning in message.parse_warnings)


def test_octet_stream_report_unwrapped() -> None:
    phish = (CORPUS / "spamassassin" / "phishing-openphish.eml").read_bytes()
    boundary = "octet-boundary"
    raw = (
        "From: Noah Bakker <noah.bakker@larkspur.example>\r\nTo: phish@larkspur.example\r\n"
        "Subject: Suspicious mail\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nPlease check.\r\n"
        f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="Your mailbox is full.eml"\r\n\r\n'
    ).encode() + phish + f"\r\n--{boundary}--\r\n".encode()
    message = parse_message(raw)
    assert len(message.attached_messages) == 1
    inner = reported_message(message, ["larkspur.example"])
    assert inner is not None
    assert inner.subject == parse_message(phish).subject


def test_text_named_eml_not_parsed() -> None:
    raw = (
        b"From: a@larkspur.example\r\nSubject: notes\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n'
        b'--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="list.eml"\r\n\r\n'
        b"just some words, no header here\r\n--b--\r\n"
    )
    assert parse_message(raw).attached_messages == []
