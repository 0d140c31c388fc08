"""Fixtures for the IMAP backend: one Dovecot per test session, a fresh mailbox per test, real corpus mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.parser import BytesHeaderParser

import keyring
import keyring.backend
import keyring.core
import pytest

from air_tui.domain.config import ImapTargetConfig
from air_tui.remediation.imap import ImapMailBackend
from air_tui.remediation.mail import MessageRef
from tests.conftest import CORPUS
from tests.remediation.dovecot import DovecotServer, start_dovecot

CORPUS_FILES = (
    "phishing_pot/sample-113.eml",
    "phishing_pot/sample-102.eml",
    "phishing_pot/sample-1086.eml",
    "phishing_pot/sample-1227.eml",
    "phishing_pot/sample-1230.eml",
    "phishing_pot/sample-1007.eml",
)
"""Real phishing messages, each with one Message-ID header."""


@dataclass(frozen=True)
class CorpusMessage:
    name: str
    message_id: str
    raw: bytes

    def ref(self, mailbox: str, folder: str = "Inbox") -> MessageRef:
        return MessageRef(
            message_id=f"test-{self.name}", mailbox=mailbox, folder=folder, internet_message_id=self.message_id
        )


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring kept in a dict, so no test reads or writes the keyring of the machine it runs on."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    server = start_dovecot(tmp_path_factory.mktemp("dovecot"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def corpus() -> list[CorpusMessage]:
    messages = []
    for name in CORPUS_FILES:
        raw = (CORPUS / name).read_bytes()
        message_id = str(BytesHeaderParser().parsebytes(raw)["Message-ID"]).strip()
        assert re.fullmatch(r"<[^<>\s]+>", message_id), f"{name} has no usable Message-ID: {message_id!r}"
        messages.append(CorpusMessage(name.rsplit("/", 1)[-1], message_id, raw))
    return messages


@pytest.fixture(autouse=True)
def isolated_secrets(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    """Start every test with no password in the environment and an empty keyring."""
    monkeypatch.delenv("AIR_TUI_IMAP_PASSWORD", raising=False)
    memory = MemoryKeyring()
    monkeypatch.setattr(keyring.core, "_keyring_backend", memory)
    return memory


@pytest.fixture
def mailbox(dovecot: DovecotServer) -> str:
    address, _password = dovecot.new_mailbox()
    return address


@pytest.fixture
def imap_config(dovecot: DovecotServer) -> ImapTargetConfig:
    """Plain IMAP on loopback, logging in to every mailbox as the master user."""
    return ImapTargetConfig(
        host=dovecot.host,
        port=dovecot.port,
        security="none",
        username=dovecot.master_login_template,
        timeout_seconds=10,
    )


@pytest.fixture
def backend(imap_config: ImapTargetConfig, dovecot: DovecotServer) -> Iterator[ImapMailBackend]:
    opened = ImapMailBackend(imap_config, password=dovecot.master_password)
    yield opened
    opened.close()
