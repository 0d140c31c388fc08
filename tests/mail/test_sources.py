"""Reading messages from .eml files, folders, mbox files and Maildirs."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from air_tui.domain.vocab import ParseStatus
from air_tui.mail import FailedRead, RawMessage, SourceError, iter_messages, message_id_for, parse_message
from air_tui.mail.sources import maildir_key, received_at_from_key
from tests.mail.conftest import CORPUS

SPAM_015 = CORPUS / "spamassassin/spam-015.eml"
SAMPLE_129 = CORPUS / "phishing_pot/sample-129.eml"
OUTER_MSG = CORPUS / "eml_analyzer_msg/outer.msg"


def test_single_eml_file() -> None:
    records = list(iter_messages(SAMPLE_129, mailbox="alice@example.com"))

    assert len(records) == 1
    record = records[0]
    assert isinstance(record, RawMessage)
    assert record.raw == SAMPLE_129.read_bytes()
    assert record.location.mailbox == "alice@example.com"
    assert record.location.folder == ""
    assert record.location.key == str(SAMPLE_129.resolve())
    assert record.location.path == str(SAMPLE_129.resolve())
    assert record.received_at is None


def test_single_msg_file_is_yielded_and_parsed() -> None:
    records = list(iter_messages(OUTER_MSG))

    assert len(records) == 1
    message = parse_message(records[0].raw, location=records[0].location)
    assert message.parse_status is ParseStatus.PARSED
    assert message.subject == "outer subject"
    assert message.id == message_id_for("", str(OUTER_MSG.resolve()))


def test_rfc822_file_without_eml_suffix(tmp_path: Path) -> None:
    target = tmp_path / "message.txt"
    shutil.copyfile(SAMPLE_129, target)

    records = list(iter_messages(target))

    assert [record.raw for record in records] == [SAMPLE_129.read_bytes()]


def test_folder_is_walked_recursively(tmp_path: Path) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    shutil.copyfile(SAMPLE_129, tmp_path / "a.eml")
    shutil.copyfile(SPAM_015, tmp_path / "b" / "deeper" / "c.EML")
    shutil.copyfile(OUTER_MSG, tmp_path / "b" / "d.msg")
    (tmp_path / "notes.txt").write_text("not mail")
    (tmp_path / ".hidden").mkdir()
    shutil.copyfile(SAMPLE_129, tmp_path / ".hidden" / "skipped.eml")

    records = list(iter_messages(tmp_path, mailbox="box"))

    assert [record.location.key for record in records] == ["a.eml", "b/d.msg", "b/deeper/c.EML"]
    assert all(isinstance(record, RawMessage) for record in records)
    assert records[2].raw == SPAM_015.read_bytes()
    assert {record.location.mailbox for record in records} == {"box"}


def test_whole_corpus_folder_yields_every_message() -> None:
    records = list(iter_messages(CORPUS))

    assert len(records) == 169
    assert all(isinstance(record, RawMessage) for record in records)


def test_mbox_built_from_two_messages(tmp_path: Path) -> None:
    mbox = tmp_path / "archive"
    first = SAMPLE_129.read_bytes().replace(b"\r\n", b"\n")
    second = SPAM_015.read_bytes().split(b"\n", 1)[1]  # drop its own From_ line
    mbox.write_bytes(
        b"From sender@example.com Mon Jan  1 00:00:00 2024\n" + first.rstrip(b"\n") + b"\n\n"
        b"From other@example.com Tue Jan  2 00:00:00 2024\n" + second
    )

    records = list(iter_messages(mbox, mailbox="box"))

    assert [record.location.key for record in records] == ["0", "1"]
    assert [record.location.path for record in records] == [str(mbox.resolve())] * 2
    subjects = [parse_message(record.raw, location=record.location).subject for record in records]
    assert subjects == ["Scan your device to protect your assets", "no r-x req"]
    assert parse_message(records[1].raw, location=records[1].location).id == message_id_for("box", "1")


def test_maildir_with_subfolder(tmp_path: Path) -> None:
    maildir = tmp_path / "Inbox"
    for name in ("cur", "new", "tmp"):
        (maildir / name).mkdir(parents=True)
        (maildir / ".Junk" / name).mkdir(parents=True)
    shutil.copyfile(SAMPLE_129, maildir / "cur" / "1700000000.M1P2.host:2,S")
    shutil.copyfile(SPAM_015, maildir / "new" / "noepoch.host")
    shutil.copyfile(SPAM_015, maildir / ".Junk" / "cur" / "1700000100.M3P4.host:2,")
    shutil.copyfile(SPAM_015, maildir / "tmp" / "1700000200.M5P6.host")
    os.utime(maildir / "new" / "noepoch.host", (1_600_000_000, 1_600_000_000))

    records = list(iter_messages(maildir, mailbox="alice"))

    assert [(record.location.folder, record.location.key) for record in records] == [
        ("Inbox", "1700000000.M1P2.host"),
        ("Inbox", "noepoch.host"),
        ("Junk", "1700000100.M3P4.host"),
    ]
    assert records[0].received_at == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert records[1].received_at == datetime.fromtimestamp(1_600_000_000, tz=UTC)
    assert records[0].location.path == str((maildir / "cur" / "1700000000.M1P2.host:2,S").resolve())
    message = parse_message(records[0].raw, location=records[0].location, received_at=records[0].received_at)
    assert message.id == message_id_for("alice", "1700000000.M1P2.host")
    assert message.received_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_folder_of_maildirs(tmp_path: Path) -> None:
    for folder in ("Inbox", "Junk Email"):
        for name in ("cur", "new", "tmp"):
            (tmp_path / folder / name).mkdir(parents=True)
    shutil.copyfile(SAMPLE_129, tmp_path / "Inbox" / "new" / "1700000000.A.host")
    shutil.copyfile(SPAM_015, tmp_path / "Junk Email" / "cur" / "1700000001.B.host:2,S")

    records = list(iter_messages(tmp_path, mailbox="bob"))

    assert [(record.location.folder, record.location.key) for record in records] == [
        ("Inbox", "1700000000.A.host"),
        ("Junk Email", "1700000001.B.host"),
    ]


def test_missing_path_error_text(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.eml"

    with pytest.raises(SourceError) as raised:
        iter_messages(missing)

    assert str(raised.value) == f"No such file or directory: {missing}. Check the path."


def test_non_mail_file_error_text(tmp_path: Path) -> None:
    binary = tmp_path / "picture.png"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))

    with pytest.raises(SourceError) as raised:
        iter_messages(binary)

    assert str(raised.value) == f"{binary} is not an .eml file, a folder of them, an mbox file or a Maildir."


def test_folder_without_mail_raises(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")

    with pytest.raises(SourceError, match="is not an .eml file, a folder of them"):
        list(iter_messages(tmp_path))


def test_empty_maildir_yields_nothing(tmp_path: Path) -> None:
    for name in ("cur", "new", "tmp"):
        (tmp_path / name).mkdir()

    assert list(iter_messages(tmp_path)) == []


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root reads files whatever their mode, so chmod 000 cannot make one unreadable",
)
def test_unreadable_file_does_not_stop_walk(tmp_path: Path) -> None:
    shutil.copyfile(SAMPLE_129, tmp_path / "a.eml")
    shutil.copyfile(SPAM_015, tmp_path / "b.eml")
    shutil.copyfile(SAMPLE_129, tmp_path / "c.eml")
    locked = tmp_path / "b.eml"
    locked.chmod(0)
    try:
        records = list(iter_messages(tmp_path))
    finally:
        locked.chmod(0o644)

    assert [type(record) for record in records] == [RawMessage, FailedRead, RawMessage]
    assert records[1].path == locked
    assert records[1].reason == f"Cannot read {locked}: permission denied."
    assert records[2].location.key == "c.eml"


def test_dangling_link_does_not_stop_walk(tmp_path: Path) -> None:
    """A link to a removed file cannot be read even by root, unlike a chmod 000 file."""
    shutil.copyfile(SAMPLE_129, tmp_path / "a.eml")
    dangling = tmp_path / "b.eml"
    dangling.symlink_to(tmp_path / "removed.eml")
    shutil.copyfile(SPAM_015, tmp_path / "c.eml")

    records = list(iter_messages(tmp_path))

    assert [type(record) for record in records] == [RawMessage, FailedRead, RawMessage]
    assert records[1] == FailedRead(path=dangling, reason=f"Cannot read {dangling}: No such file or directory.")
    assert records[2].raw == SPAM_015.read_bytes()


def test_unreadable_subfolder_is_reported(tmp_path: Path) -> None:
    """An unreadable subfolder is one FailedRead; chmod has no effect for root, so this skips there."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        pytest.skip("root lists folders whatever their mode, so chmod 000 cannot make one unreadable")
    shutil.copyfile(SAMPLE_129, tmp_path / "a.eml")
    locked = tmp_path / "sub"
    locked.mkdir()
    shutil.copyfile(SPAM_015, locked / "b.eml")
    locked.chmod(0)
    try:
        records = list(iter_messages(tmp_path))
    finally:
        locked.chmod(0o755)

    assert isinstance(records[0], RawMessage)
    assert records[1] == FailedRead(path=locked, reason=f"Cannot read {locked}: permission denied.")


def test_maildir_key_strips_info() -> None:
    assert maildir_key("1700000000.M1P2.host:2,FS") == "1700000000.M1P2.host"
    assert maildir_key("1700000000.M1P2.host!2,S") == "1700000000.M1P2.host"
    assert maildir_key("1700000000.M1P2.host") == "1700000000.M1P2.host"


def test_received_at_from_key() -> None:
    assert received_at_from_key("1700000000.M1P2.host") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert received_at_from_key("1700000000_0.host") == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert received_at_from_key("noepoch.host") is None
    assert received_at_from_key("12.host") is None


def test_message_id_for_is_stable_and_distinct() -> None:
    first = message_id_for("alice@example.com", "1700000000.M1P2.host")

    assert first == message_id_for("alice@example.com", "1700000000.M1P2.host")
    assert len(first) == 16
    assert int(first, 16) >= 0
    assert first != message_id_for("bob@example.com", "1700000000.M1P2.host")
    assert message_id_for("a", "bc") != message_id_for("ab", "c")
