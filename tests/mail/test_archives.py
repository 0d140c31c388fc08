"""Archive listing on corpus malware zips and on archives built here to hit each limit."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from air_tui.mail import parse_message
from air_tui.mail import archives
from air_tui.mail.archives import list_zip

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_corpus_zip_with_executable() -> None:
    message = parse_message((CORPUS / "spamscope" / "mail_test_4.eml").read_bytes())
    archive = next(a for a in message.attachments if a.extension == "zip")
    assert archive.archive_members == ["IMG-PO-492384BA_outputB93880.exe (exe)"]
    assert archive.archive_encrypted is False


def test_corpus_nested_zip_listed() -> None:
    message = parse_message((CORPUS / "spamscope" / "mail_test_1.eml").read_bytes())
    archive = next(a for a in message.attachments if a.detected_type == "zip")
    assert len(archive.archive_members) == 2
    assert archive.archive_members[1].endswith("> doc_uvedoml.js (js)")


def test_corpus_password_protected_zip() -> None:
    message = parse_message((CORPUS / "spamassassin" / "olevb-zippwmacro.eml").read_bytes())
    archive = next(a for a in message.attachments if a.detected_type == "zip")
    assert archive.archive_encrypted is True
    assert archive.archive_members == ["macro.xlsm (xlsm, encrypted)"]


def test_bomb_member_is_not_read() -> None:
    data = zip_bytes({"big.txt": b"\x00" * 5_000_000})
    listing = list_zip(data)
    assert listing is not None
    assert any("zip bomb" in problem for problem in listing.problems)
    assert listing.members[0].detected_type == ""


def test_depth_limit_stops_nesting() -> None:
    data = zip_bytes({"payload.exe": b"MZ" + b"\x00" * 100})
    for level in range(archives.MAX_DEPTH + 1):
        data = zip_bytes({f"level{level}.zip": data}, compression=zipfile.ZIP_STORED)
    listing = list_zip(data)
    assert listing is not None
    assert any("nested more than" in problem for problem in listing.problems)
    assert not any(member.path.endswith("payload.exe") for member in listing.members)


def test_member_count_limit(monkeypatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    listing = list_zip(zip_bytes({f"f{n}.txt": b"x" for n in range(20)}))
    assert listing is not None
    assert len(listing.members) == 5
    assert any("more than 5 members" in problem for problem in listing.problems)


def test_not_a_zip_returns_none() -> None:
    assert list_zip(b"PK\x03\x04 but broken") is None
    assert list_zip(b"") is None
