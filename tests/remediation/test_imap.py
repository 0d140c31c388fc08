"""The IMAP backend against a real Dovecot, with real phishing messages loaded by APPEND.

Every test checks the server's folders through a separate connection, not only the outcomes.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from imapclient import IMAPClient

from air_tui.domain.config import ImapTargetConfig
from air_tui.domain.vocab import TargetResult
from air_tui.remediation.imap import ImapMailBackend, ServerFolder, map_folders
from air_tui.remediation.mail import BackendError, MessageRef, Move
from tests.remediation.conftest import CorpusMessage, MemoryKeyring
from tests.remediation import dovecot as harness
from tests.remediation.dovecot import DovecotServer, free_port

DELETED = b"\\Deleted"


def all_message_ids(dovecot: DovecotServer, mailbox: str) -> dict[str, list[str]]:
    """Return the Message-IDs in every folder of the mailbox, keyed by server folder name."""
    return {folder: dovecot.message_ids(mailbox, folder) for folder in dovecot.folders(mailbox)}


def wait_for_connections(dovecot: DovecotServer, mailbox: str, expected: int) -> int:
    """Poll `doveadm who` for up to 2 s, because Dovecot may update its count a moment after a connection closes."""
    deadline = time.monotonic() + 2
    count = dovecot.connections(mailbox)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        count = dovecot.connections(mailbox)
    return count


# ----------------------------------------------------------------- moves and their undo


@pytest.mark.parametrize(
    ("destination", "server_folder"),
    [
        ("Junk Email", "Junk"),
        ("Deleted Items", "Trash"),
        ("Sent Items", "Sent"),
    ],
)
def test_move_to_special_folder_and_back(
    backend: ImapMailBackend,
    dovecot: DovecotServer,
    mailbox: str,
    corpus: list[CorpusMessage],
    destination: str,
    server_folder: str,
) -> None:
    message = corpus[0]
    dovecot.append(mailbox, "INBOX", message.raw)

    [outcome] = backend.apply([Move(message.ref(mailbox), destination)])

    assert outcome.result is TargetResult.SUCCEEDED
    assert outcome.from_folder == "Inbox"
    assert outcome.to_folder == destination
    assert dovecot.message_ids(mailbox, server_folder) == [message.message_id]
    assert dovecot.messages(mailbox, "INBOX") == []

    [undo] = backend.apply([Move(message.ref(mailbox, destination), outcome.from_folder)])

    assert undo.result is TargetResult.SUCCEEDED
    assert undo.from_folder == destination
    assert undo.to_folder == "Inbox"
    assert dovecot.message_ids(mailbox, "INBOX") == [message.message_id]
    assert dovecot.messages(mailbox, server_folder) == []


@pytest.mark.parametrize(
    ("destination", "config_key", "server_folder"),
    [
        ("Recoverable Items", "recoverable_folder", "Recoverable Items"),
        ("Quarantine", "quarantine_folder", "Quarantine"),
        ("Quarantine", "quarantine_folder", "Security/Held mail"),
    ],
)
def test_move_creates_configured_folder(
    dovecot: DovecotServer,
    imap_config: ImapTargetConfig,
    mailbox: str,
    corpus: list[CorpusMessage],
    destination: str,
    config_key: str,
    server_folder: str,
) -> None:
    config = imap_config.model_copy(update={config_key: server_folder})
    message = corpus[1]
    dovecot.append(mailbox, "INBOX", message.raw)
    assert server_folder not in dovecot.folders(mailbox)
    backend = ImapMailBackend(config, password=dovecot.master_password)

    try:
        [outcome] = backend.apply([Move(message.ref(mailbox), destination)])
        assert outcome.result is TargetResult.SUCCEEDED
        assert outcome.to_folder == destination
        assert dovecot.message_ids(mailbox, server_folder) == [message.message_id]
        assert dovecot.messages(mailbox, "INBOX") == []
        assert server_folder in dovecot.folders(mailbox)
        assert server_folder not in dovecot.subscriptions(mailbox)
        assert backend.locate(message.ref(mailbox)) == destination

        [undo] = backend.apply([Move(message.ref(mailbox, destination), outcome.from_folder)])
        assert undo.result is TargetResult.SUCCEEDED
        assert undo.from_folder == destination
        assert dovecot.message_ids(mailbox, "INBOX") == [message.message_id]
        assert dovecot.messages(mailbox, server_folder) == []
    finally:
        backend.close()


def test_move_from_archive_and_undo(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[2]
    dovecot.append(mailbox, "Archive", message.raw)

    [outcome] = backend.apply([Move(message.ref(mailbox, "Archive"), "Junk Email")])

    assert outcome.result is TargetResult.SUCCEEDED
    assert outcome.from_folder == "Archive"
    assert dovecot.message_ids(mailbox, "Junk") == [message.message_id]
    assert dovecot.messages(mailbox, "Archive") == []

    [undo] = backend.apply([Move(message.ref(mailbox, "Junk Email"), outcome.from_folder)])

    assert undo.result is TargetResult.SUCCEEDED
    assert undo.to_folder == "Archive"
    assert dovecot.message_ids(mailbox, "Archive") == [message.message_id]
    assert dovecot.messages(mailbox, "Junk") == []


def test_move_from_junk_to_inbox(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[3]
    dovecot.append(mailbox, "Junk", message.raw)

    [outcome] = backend.apply([Move(message.ref(mailbox, "Junk Email"), "Inbox")])

    assert outcome.result is TargetResult.SUCCEEDED
    assert outcome.from_folder == "Junk Email"
    assert outcome.to_folder == "Inbox"
    assert dovecot.message_ids(mailbox, "INBOX") == [message.message_id]
    assert dovecot.messages(mailbox, "Junk") == []


def test_move_keeps_other_messages(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    target, bystander = corpus[0], corpus[1]
    dovecot.append(mailbox, "INBOX", target.raw)
    dovecot.append(mailbox, "INBOX", bystander.raw)

    backend.apply([Move(target.ref(mailbox), "Junk Email")])

    assert dovecot.message_ids(mailbox, "INBOX") == [bystander.message_id]
    assert dovecot.message_ids(mailbox, "Junk") == [target.message_id]


# ----------------------------------------------------------------- hard delete


def test_hard_delete_expunges_only_target(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    target, bystander, flagged = corpus[0], corpus[1], corpus[2]
    dovecot.append(mailbox, "INBOX", target.raw)
    dovecot.append(mailbox, "INBOX", bystander.raw)
    dovecot.append(mailbox, "INBOX", flagged.raw, flags=(DELETED,))

    [outcome] = backend.apply([Move(target.ref(mailbox), None)])

    assert outcome.result is TargetResult.SUCCEEDED
    assert outcome.from_folder == "Inbox"
    assert outcome.to_folder == ""
    contents = all_message_ids(dovecot, mailbox)
    assert all(target.message_id not in ids for ids in contents.values()), contents
    assert contents["INBOX"] == [bystander.message_id, flagged.message_id]
    assert DELETED in dict(dovecot.messages(mailbox, "INBOX"))[flagged.message_id]


def test_hard_delete_repeated_is_not_found(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[4]
    dovecot.append(mailbox, "Trash", message.raw)

    first = backend.apply([Move(message.ref(mailbox, "Deleted Items"), None)])
    second = backend.apply([Move(message.ref(mailbox, "Deleted Items"), None)])

    assert first[0].result is TargetResult.SUCCEEDED
    assert first[0].from_folder == "Deleted Items"
    assert second[0].result is TargetResult.NOT_FOUND
    assert dovecot.messages(mailbox, "Trash") == []


# ----------------------------------------------------------------- repeats, duplicates and misses


def test_already_in_destination(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[0]
    dovecot.append(mailbox, "Junk", message.raw)

    [outcome] = backend.apply([Move(message.ref(mailbox, "Junk Email"), "Junk Email")])

    assert outcome.result is TargetResult.ALREADY_IN_DESTINATION
    assert outcome.from_folder == "Junk Email"
    assert outcome.to_folder == "Junk Email"
    [(message_id, flags)] = dovecot.messages(mailbox, "Junk")
    assert message_id == message.message_id
    assert DELETED not in flags


def test_repeated_move_is_harmless(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[1]
    dovecot.append(mailbox, "INBOX", message.raw)
    move = Move(message.ref(mailbox), "Junk Email")

    first = backend.apply([move])
    second = backend.apply([move])

    assert first[0].result is TargetResult.SUCCEEDED
    assert second[0].result is TargetResult.ALREADY_IN_DESTINATION
    assert dovecot.message_ids(mailbox, "Junk") == [message.message_id]
    assert dovecot.messages(mailbox, "INBOX") == []


def test_not_found(backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]) -> None:
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    missing = MessageRef("test-missing", mailbox, "Inbox", internet_message_id="<no-such-message@example.test>")

    [outcome] = backend.apply([Move(missing, "Junk Email")])

    assert backend.locate(missing) is None
    assert outcome.result is TargetResult.NOT_FOUND
    assert outcome.from_folder == ""
    assert outcome.to_folder == ""
    assert dovecot.message_ids(mailbox, "INBOX") == [corpus[0].message_id]


def test_message_id_must_match_exactly(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    """SEARCH HEADER ignores case, so a purge checks the fetched Message-ID before it acts."""
    message = corpus[0]
    other_case = message.message_id.upper()
    assert other_case != message.message_id
    dovecot.append(mailbox, "INBOX", message.raw)
    ref = MessageRef("test-case", mailbox, "Inbox", internet_message_id=other_case)

    [outcome] = backend.apply([Move(ref, None)])

    assert outcome.result is TargetResult.NOT_FOUND
    assert dovecot.message_ids(mailbox, "INBOX") == [message.message_id]


def test_all_copies_move(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    message = corpus[5]
    dovecot.append(mailbox, "INBOX", message.raw)
    dovecot.append(mailbox, "INBOX", message.raw)
    dovecot.append(mailbox, "Archive", message.raw)

    [outcome] = backend.apply([Move(message.ref(mailbox), "Junk Email")])

    assert outcome.result is TargetResult.SUCCEEDED
    assert outcome.from_folder == "Inbox"
    assert outcome.detail["copies"] == "3"
    assert dovecot.message_ids(mailbox, "Junk") == [message.message_id] * 3
    assert dovecot.messages(mailbox, "INBOX") == []
    assert dovecot.messages(mailbox, "Archive") == []


def test_locate_returns_logical_names(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    in_junk, in_archive, in_trash = corpus[0], corpus[1], corpus[2]
    dovecot.append(mailbox, "Junk", in_junk.raw)
    dovecot.append(mailbox, "Archive", in_archive.raw)
    dovecot.append(mailbox, "Trash", in_trash.raw)

    assert backend.locate(in_junk.ref(mailbox)) == "Junk Email"
    assert backend.locate(in_archive.ref(mailbox)) == "Archive"
    assert backend.locate(in_trash.ref(mailbox)) == "Deleted Items"


def test_failed_move_does_not_stop_batch(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    stuck, moved = corpus[0], corpus[1]
    dovecot.append(mailbox, "INBOX", stuck.raw)
    dovecot.append(mailbox, "INBOX", moved.raw)

    outcomes = backend.apply([Move(stuck.ref(mailbox), "No Such Folder"), Move(moved.ref(mailbox), "Junk Email")])

    assert [outcome.result for outcome in outcomes] == [TargetResult.FAILED, TargetResult.SUCCEEDED]
    assert "'No Such Folder' does not exist" in outcomes[0].error
    assert dovecot.message_ids(mailbox, "INBOX") == [stuck.message_id]
    assert dovecot.message_ids(mailbox, "Junk") == [moved.message_id]
    assert "No Such Folder" not in dovecot.folders(mailbox)


def test_missing_message_id_fails(backend: ImapMailBackend, mailbox: str) -> None:
    ref = MessageRef("test-no-id", mailbox, "Inbox", internet_message_id="")

    [outcome] = backend.apply([Move(ref, "Junk Email")])

    assert outcome.result is TargetResult.FAILED
    assert "no Message-ID header" in outcome.error
    assert backend.locate(ref) is None


# ----------------------------------------------------------------- servers without MOVE or UIDPLUS


def forbid(monkeypatch: pytest.MonkeyPatch, *methods: str) -> None:
    """Make the named IMAPClient methods fail the test, to prove that a fallback path ran."""
    for method in methods:

        def fail_instead(*_args: object, _method: str = method, **_kwargs: object) -> None:
            pytest.fail(f"IMAPClient.{_method} was called although the backend treats its capability as missing")

        monkeypatch.setattr(IMAPClient, method, fail_instead)


@pytest.mark.parametrize("ignored", [("MOVE",), ("MOVE", "UIDPLUS")])
def test_move_without_move_capability(
    dovecot: DovecotServer,
    imap_config: ImapTargetConfig,
    mailbox: str,
    corpus: list[CorpusMessage],
    monkeypatch: pytest.MonkeyPatch,
    ignored: tuple[str, ...],
) -> None:
    target, flagged = corpus[0], corpus[1]
    dovecot.append(mailbox, "INBOX", target.raw)
    dovecot.append(mailbox, "INBOX", flagged.raw, flags=(DELETED,))
    forbid(monkeypatch, *(["move"] + (["uid_expunge"] if "UIDPLUS" in ignored else [])))
    backend = ImapMailBackend(imap_config, password=dovecot.master_password, ignore_capabilities=ignored)

    try:
        first = backend.apply([Move(target.ref(mailbox), "Junk Email")])
        second = backend.apply([Move(target.ref(mailbox), "Junk Email")])
        undo = backend.apply([Move(target.ref(mailbox, "Junk Email"), "Inbox")])
    finally:
        backend.close()

    assert first[0].result is TargetResult.SUCCEEDED
    assert second[0].result is TargetResult.ALREADY_IN_DESTINATION
    assert undo[0].result is TargetResult.SUCCEEDED
    assert dovecot.messages(mailbox, "Junk") == []
    inbox = dovecot.messages(mailbox, "INBOX")
    assert sorted(message_id for message_id, _flags in inbox) == sorted([target.message_id, flagged.message_id])
    flags = dict(inbox)
    assert DELETED in flags[flagged.message_id]
    assert DELETED not in flags[target.message_id]


def test_hard_delete_without_uidplus(
    dovecot: DovecotServer,
    imap_config: ImapTargetConfig,
    mailbox: str,
    corpus: list[CorpusMessage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target, flagged, bystander = corpus[0], corpus[1], corpus[2]
    dovecot.append(mailbox, "INBOX", target.raw)
    dovecot.append(mailbox, "INBOX", flagged.raw, flags=(DELETED,))
    dovecot.append(mailbox, "INBOX", bystander.raw)
    forbid(monkeypatch, "uid_expunge")
    backend = ImapMailBackend(imap_config, password=dovecot.master_password, ignore_capabilities=["UIDPLUS"])

    try:
        [outcome] = backend.apply([Move(target.ref(mailbox), None)])
    finally:
        backend.close()

    assert outcome.result is TargetResult.SUCCEEDED
    inbox = dict(dovecot.messages(mailbox, "INBOX"))
    assert sorted(inbox) == sorted([flagged.message_id, bystander.message_id])
    assert DELETED in inbox[flagged.message_id]
    assert DELETED not in inbox[bystander.message_id]


# ----------------------------------------------------------------- connections


def test_one_connection_per_mailbox(
    backend: ImapMailBackend, dovecot: DovecotServer, corpus: list[CorpusMessage]
) -> None:
    first, _ = dovecot.new_mailbox()
    second, _ = dovecot.new_mailbox()
    for mailbox in (first, second):
        dovecot.append(mailbox, "INBOX", corpus[0].raw)
        dovecot.append(mailbox, "INBOX", corpus[1].raw)

    for mailbox in (first, second):
        backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])
        backend.locate(corpus[1].ref(mailbox))
        backend.apply([Move(corpus[1].ref(mailbox), "Deleted Items")])

    assert wait_for_connections(dovecot, first, 1) == 1
    assert wait_for_connections(dovecot, second, 1) == 1

    backend.close()

    assert wait_for_connections(dovecot, first, 0) == 0
    assert wait_for_connections(dovecot, second, 0) == 0


def test_reconnects_after_server_closes_connection(
    backend: ImapMailBackend, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    dovecot.append(mailbox, "INBOX", corpus[1].raw)
    assert backend.locate(corpus[0].ref(mailbox)) == "Inbox"
    dovecot.kick(mailbox)
    assert wait_for_connections(dovecot, mailbox, 0) == 0

    failed = backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])
    retried = backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])
    other = backend.apply([Move(corpus[1].ref(mailbox), "Junk Email")])

    assert failed[0].result is TargetResult.FAILED
    assert failed[0].error
    assert retried[0].result is TargetResult.SUCCEEDED
    assert other[0].result is TargetResult.SUCCEEDED
    assert sorted(dovecot.message_ids(mailbox, "Junk")) == sorted([corpus[0].message_id, corpus[1].message_id])


# ----------------------------------------------------------------- credentials and configuration errors


def test_login_failure_names_login_not_password(
    imap_config: ImapTargetConfig, dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    wrong = "wrong-Secret-4711"
    backend = ImapMailBackend(imap_config, password=wrong)

    with pytest.raises(BackendError) as raised:
        backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])

    message = str(raised.value)
    assert f"{dovecot.host}:{dovecot.port}" in message
    assert repr(f"{mailbox}*admin") in message
    assert "AIR_TUI_IMAP_PASSWORD" in message
    assert wrong not in message
    assert wrong not in repr(raised.value.__cause__)


def test_user_login_with_own_password(
    imap_config: ImapTargetConfig, dovecot: DovecotServer, corpus: list[CorpusMessage]
) -> None:
    mailbox, password = dovecot.new_mailbox()
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    backend = ImapMailBackend(imap_config.model_copy(update={"username": "{mailbox}"}), password=password)

    try:
        [outcome] = backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])
    finally:
        backend.close()

    assert outcome.result is TargetResult.SUCCEEDED
    assert dovecot.message_ids(mailbox, "Junk") == [corpus[0].message_id]


def test_unreachable_server_names_address(
    imap_config: ImapTargetConfig, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    closed_port = free_port()
    backend = ImapMailBackend(imap_config.model_copy(update={"port": closed_port}), password="unused-Secret-1")

    with pytest.raises(BackendError) as raised:
        backend.locate(corpus[0].ref(mailbox))

    assert f"127.0.0.1:{closed_port}" in str(raised.value)
    assert "unused-Secret-1" not in str(raised.value)


@pytest.mark.parametrize("host", ["imap.example.com", "192.0.2.10", "::ffff:192.0.2.10"])
def test_plain_imap_rejected_for_remote_host(host: str) -> None:
    config = ImapTargetConfig(host=host, port=143, security="none")

    with pytest.raises(BackendError) as raised:
        ImapMailBackend(config, password="never-Shown-99")

    message = str(raised.value)
    assert repr(host) in message
    assert "security" in message
    assert "never-Shown-99" not in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.10.20.30", "::1", "localhost", "LOCALHOST"])
def test_plain_imap_allowed_for_loopback(host: str) -> None:
    backend = ImapMailBackend(ImapTargetConfig(host=host, port=143, security="none"), password="x")

    assert backend.label == f"IMAP {host}:143"
    assert backend.batch_size == 1


def test_password_from_environment(
    imap_config: ImapTargetConfig,
    dovecot: DovecotServer,
    mailbox: str,
    corpus: list[CorpusMessage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIR_TUI_IMAP_PASSWORD", dovecot.master_password)
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    backend = ImapMailBackend(imap_config)

    try:
        assert backend.locate(corpus[0].ref(mailbox)) == "Inbox"
    finally:
        backend.close()


def test_password_from_named_variable(
    imap_config: ImapTargetConfig,
    dovecot: DovecotServer,
    mailbox: str,
    corpus: list[CorpusMessage],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAIL_ADMIN_SECRET", dovecot.master_password)
    dovecot.append(mailbox, "Archive", corpus[0].raw)
    backend = ImapMailBackend(imap_config.model_copy(update={"password_env": "MAIL_ADMIN_SECRET"}))

    try:
        assert backend.locate(corpus[0].ref(mailbox)) == "Archive"
    finally:
        backend.close()


def test_password_from_keyring(
    imap_config: ImapTargetConfig,
    dovecot: DovecotServer,
    mailbox: str,
    corpus: list[CorpusMessage],
    isolated_secrets: MemoryKeyring,
) -> None:
    isolated_secrets.set_password("air-tui-imap", f"{mailbox}*admin", dovecot.master_password)
    dovecot.append(mailbox, "Junk", corpus[0].raw)
    backend = ImapMailBackend(imap_config)

    try:
        assert backend.locate(corpus[0].ref(mailbox)) == "Junk Email"
    finally:
        backend.close()


def test_missing_password_names_both_places(
    imap_config: ImapTargetConfig, mailbox: str, corpus: list[CorpusMessage]
) -> None:
    backend = ImapMailBackend(imap_config)

    with pytest.raises(BackendError) as raised:
        backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])

    assert "AIR_TUI_IMAP_PASSWORD" in str(raised.value)
    assert f"keyring set air-tui-imap {mailbox}*admin" in str(raised.value)


# ----------------------------------------------------------------- TLS


def tls_config(dovecot: DovecotServer, security: str, *, ca_file: bool = True) -> ImapTargetConfig:
    if dovecot.tls_port is None or dovecot.ca_file is None:
        pytest.skip("openssl is missing, so the test server has no certificate")
    return ImapTargetConfig(
        host=dovecot.host,
        port=dovecot.tls_port if security == "tls" else dovecot.port,
        security=security,  # type: ignore[arg-type]
        username=dovecot.master_login_template,
        ca_file=str(dovecot.ca_file) if ca_file else "",
        timeout_seconds=10,
    )


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_verified_tls_moves(dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage], security: str) -> None:
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    backend = ImapMailBackend(tls_config(dovecot, security), password=dovecot.master_password)

    try:
        [outcome] = backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])
    finally:
        backend.close()

    assert outcome.result is TargetResult.SUCCEEDED
    assert dovecot.message_ids(mailbox, "Junk") == [corpus[0].message_id]


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_untrusted_certificate_rejected(
    dovecot: DovecotServer, mailbox: str, corpus: list[CorpusMessage], security: str
) -> None:
    dovecot.append(mailbox, "INBOX", corpus[0].raw)
    backend = ImapMailBackend(tls_config(dovecot, security, ca_file=False), password=dovecot.master_password)

    with pytest.raises(BackendError) as raised:
        backend.apply([Move(corpus[0].ref(mailbox), "Junk Email")])

    assert "certificate" in str(raised.value)
    assert "ca_file" in str(raised.value)
    assert dovecot.message_ids(mailbox, "INBOX") == [corpus[0].message_id]


def test_unreadable_ca_file_rejected(tmp_path: Path) -> None:
    missing = f"{tmp_path}/no-such-ca.pem"

    with pytest.raises(BackendError) as raised:
        ImapMailBackend(ImapTargetConfig(host="127.0.0.1", security="tls", ca_file=missing), password="x")

    assert missing in str(raised.value)


# ----------------------------------------------------------------- folder mapping without SPECIAL-USE


def folder(name: str, *attributes: str) -> ServerFolder:
    return ServerFolder(name, frozenset(attribute.lower() for attribute in attributes))


def test_folder_map_falls_back_to_common_names() -> None:
    listing = [
        folder("INBOX", "\\HasChildren"),
        folder("INBOX.Spam"),
        folder("INBOX.Deleted Messages"),
        folder("INBOX.Sent Items"),
        folder("INBOX.Archive"),
        folder("INBOX.Quarantine"),
        folder("[Gmail]", "\\Noselect"),
    ]

    mapped = map_folders(
        listing, recoverable_folder="Recoverable Items", quarantine_folder="Quarantine", prefix="INBOX."
    )

    assert mapped.server_by_logical == {
        "Inbox": "INBOX",
        "Junk Email": "INBOX.Spam",
        "Deleted Items": "INBOX.Deleted Messages",
        "Sent Items": "INBOX.Sent Items",
        "Quarantine": "INBOX.Quarantine",
    }
    assert "[Gmail]" not in mapped.folders
    assert mapped.folders[0] == "INBOX"
    assert mapped.logical_name("INBOX.Archive") == "INBOX.Archive"
    assert mapped.server_name("Archive") == "INBOX.Archive"
    assert mapped.server_name("Recoverable Items") is None


def test_folder_map_prefers_special_use() -> None:
    listing = [folder("INBOX"), folder("Junk"), folder("Bulk", "\\Junk"), folder("Papierkorb", "\\Trash")]

    mapped = map_folders(listing, recoverable_folder="Recoverable Items", quarantine_folder="Quarantine")

    assert mapped.server_name("Junk Email") == "Bulk"
    assert mapped.server_name("Deleted Items") == "Papierkorb"
    assert mapped.logical_name("Junk") == "Junk"


# ----------------------------------------------------------------- the test server itself


def test_missing_dovecot_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda *_args, **_kwargs: None)
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(pytest.skip.Exception):
        harness.find_dovecot()


def test_missing_dovecot_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda *_args, **_kwargs: None)
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI must run the IMAP tests"):
        harness.find_dovecot()


def listening_addresses(port: int) -> set[str]:
    """Return the local addresses, in /proc/net hex form, of TCP sockets listening on `port`."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    addresses.add(address)
    return addresses


@pytest.mark.skipif(not os.path.exists("/proc/net/tcp"), reason="needs Linux /proc/net/tcp")
def test_server_listens_on_loopback_only(dovecot: DovecotServer) -> None:
    ports = [port for port in (dovecot.port, dovecot.tls_port) if port is not None]

    for port in ports:
        assert listening_addresses(port) == {"0100007F"}, f"port {port}"
