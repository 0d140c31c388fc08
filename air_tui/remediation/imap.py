"""Message actions on an IMAP server: find each copy by its Message-ID header, then move or expunge it.

The backend logs in once per mailbox, with the login name made from `ImapTargetConfig.username`,
so a Dovecot master user (`{mailbox}*admin`) or one account per mailbox both work. Logical folder
names map to server folders by their SPECIAL-USE attributes (RFC 6154), falling back to common
names. `Recoverable Items` and `Quarantine` are ordinary folders named in the configuration and
created when first needed.

Every operation searches the server again before it acts, so repeating one is harmless: a copy
already in the destination is reported as such and a copy that is gone is reported as not found.
Messages flagged `\\Deleted` count as gone, because a client may expunge them at any moment.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser

from imapclient import IMAPClient
from imapclient.exceptions import CapabilityError, IMAPClientAbortError, IMAPClientError, LoginError

from air_tui.domain.config import ImapTargetConfig
from air_tui.domain.vocab import Folder, TargetResult
from air_tui.remediation.credentials import lookup_secret
from air_tui.remediation.mail import LOGICAL_FOLDERS, BackendError, MessageRef, Move, Outcome

log = logging.getLogger(__name__)

DELETED_FLAG = b"\\Deleted"

SPECIAL_USE = {
    Folder.JUNK.value: "\\junk",
    Folder.DELETED.value: "\\trash",
    Folder.SENT.value: "\\sent",
}
"""SPECIAL-USE attribute (RFC 6154) of each logical folder that has one, lower-cased."""

COMMON_NAMES = {
    Folder.JUNK.value: ("Junk", "Junk Email", "Junk E-mail", "Spam", "Bulk Mail"),
    Folder.DELETED.value: ("Trash", "Deleted Items", "Deleted Messages", "Deleted"),
    Folder.SENT.value: ("Sent", "Sent Items", "Sent Messages", "Sent Mail"),
}
"""Names that servers without SPECIAL-USE give these folders. A missing folder is created with the first name."""

_MESSAGE_ID_HEADER = "BODY[HEADER.FIELDS (MESSAGE-ID)]"
_ANGLE_ADDR = re.compile(r"<[^<>]*>")


@dataclass(frozen=True)
class ServerFolder:
    """One folder from a LIST response."""

    name: str
    attributes: frozenset[str]
    """Folder attributes, lower-cased, e.g. `\\junk` or `\\noselect`."""

    @property
    def selectable(self) -> bool:
        return not self.attributes & {"\\noselect", "\\nonexistent"}


@dataclass
class FolderMap:
    """The selectable folders of one mailbox and the logical name of each one that has one."""

    folders: list[str]
    """Server names in search order: INBOX first, then the order of the LIST response."""
    server_by_logical: dict[str, str]
    prefix: str = ""
    """Personal namespace prefix, e.g. `INBOX.` on servers that keep every folder under INBOX."""

    def logical_name(self, server_name: str) -> str:
        """Return the logical name of a server folder, or its server name when it has none."""
        for logical, server in self.server_by_logical.items():
            if server == server_name:
                return logical
        return server_name

    def server_name(self, folder: str) -> str | None:
        """Return the server folder for a logical name or a server name, or None when it does not exist."""
        if folder in LOGICAL_FOLDERS:
            return self.server_by_logical.get(folder)
        if folder.upper() == "INBOX":
            return "INBOX"
        for candidate in (folder, self.prefix + folder):
            if candidate in self.folders:
                return candidate
        return None


def map_folders(
    listing: Iterable[ServerFolder], *, recoverable_folder: str, quarantine_folder: str, prefix: str = ""
) -> FolderMap:
    """Assign logical folder names to the server folders of one mailbox.

    A SPECIAL-USE attribute wins over a name, so a server that calls its junk folder `Spam` and
    marks it `\\Junk` maps correctly even when a folder called `Junk` also exists.
    """
    selectable = [folder for folder in listing if folder.selectable]
    names = [folder.name for folder in selectable]
    inbox = [name for name in names if name.upper() == "INBOX"]
    ordered = inbox + [name for name in names if name.upper() != "INBOX"]

    server_by_logical: dict[str, str] = {}
    if inbox:
        server_by_logical[Folder.INBOX.value] = inbox[0]
    for logical, attribute in SPECIAL_USE.items():
        found = _folder_with_attribute(selectable, attribute) or _folder_with_common_name(
            names, COMMON_NAMES[logical], prefix
        )
        if found:
            server_by_logical[logical] = found
    for logical, configured in (
        (Folder.RECOVERABLE.value, recoverable_folder),
        (Folder.QUARANTINE.value, quarantine_folder),
    ):
        for candidate in (configured, prefix + configured):
            if candidate in names:
                server_by_logical[logical] = candidate
                break
    return FolderMap(folders=ordered, server_by_logical=server_by_logical, prefix=prefix)


def _folder_with_attribute(folders: list[ServerFolder], attribute: str) -> str | None:
    for folder in folders:
        if attribute in folder.attributes:
            return folder.name
    return None


def _folder_with_common_name(names: list[str], candidates: Iterable[str], prefix: str) -> str | None:
    for candidate in candidates:
        wanted = {candidate.casefold(), (prefix + candidate).casefold()}
        for name in names:
            if name.casefold() in wanted:
                return name
    return None


def is_loopback(host: str) -> bool:
    """Return whether `host` is `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class _Session:
    """A logged-in connection to one mailbox and what it learnt about the server."""

    client: IMAPClient
    mailbox: str
    login: str
    capabilities: frozenset[str]
    folders: FolderMap


@dataclass
class _Copies:
    """The UIDs of the copies of one message in one server folder."""

    folder: str
    uids: list[int] = field(default_factory=list)


class _FolderMissing(Exception):
    """A destination that is not a logical folder does not exist on the server."""


class ImapMailBackend:
    """Moves and expunges messages on an IMAP server, one connection per mailbox.

    Not thread-safe: one backend serves one executor at a time.
    """

    batch_size = 1

    def __init__(
        self,
        config: ImapTargetConfig,
        *,
        password: str | None = None,
        ignore_capabilities: Iterable[str] = (),
    ) -> None:
        """Check the configuration. No connection is made until a mailbox is first used.

        Args:
            password: Used for every login. When None, each login name's password is read with
                `lookup_secret` from `config.password_env` or the keyring.
            ignore_capabilities: Capabilities to treat as missing even when the server advertises
                them, e.g. `MOVE` on a server whose MOVE is broken. The backend then falls back to
                COPY, STORE and EXPUNGE.

        Raises:
            BackendError: `security = "none"` for a host that is not loopback, or an unreadable `ca_file`.
        """
        self.config = config
        self.label = f"IMAP {config.host}:{config.port}"
        self._password = password
        self._ignored = frozenset(capability.upper() for capability in ignore_capabilities)
        self._sessions: dict[str, _Session] = {}
        self._known_passwords: set[str] = {password} if password else set()
        if config.security == "none" and not is_loopback(config.host):
            raise BackendError(
                f'remediation.imap.security = "none" is not allowed for host {config.host!r}, because '
                f'the password would cross the network in clear text. Set security to "tls" or '
                f'"starttls", or use a loopback host such as 127.0.0.1.'
            )
        self._ssl_context = self._make_ssl_context() if config.security != "none" else None

    # ----------------------------------------------------------------- MailBackend

    def locate(self, ref: MessageRef) -> str | None:
        """Return the logical folder of the first copy found, searching INBOX first.

        Raises:
            BackendError: The mailbox's server cannot be reached or the login fails.
        """
        message_id = ref.internet_message_id.strip()
        if not message_id:
            return None
        session = self._session(ref.mailbox)
        try:
            copies = self._find_copies(session, message_id, first_only=True)
        except (IMAPClientError, OSError) as failure:
            self._forget_if_broken(ref.mailbox, failure)
            raise BackendError(
                f"Searching mailbox {ref.mailbox} on {self.label} failed: {self._describe(failure)}"
            ) from failure
        return session.folders.logical_name(copies[0].folder) if copies else None

    def apply(self, moves: list[Move]) -> list[Outcome]:
        """Carry out the moves in order. A failure on one message does not stop the others.

        Raises:
            BackendError: A mailbox's server cannot be reached or the login fails.
        """
        return [self._apply_one(move) for move in moves]

    def close(self) -> None:
        """Log out of every mailbox, or just close the socket of a connection that is already broken."""
        for mailbox, session in list(self._sessions.items()):
            try:
                session.client.logout()
            except (IMAPClientError, OSError) as failure:
                log.info(
                    "Logout from %s on %s failed (%s), so the socket is closed",
                    mailbox,
                    self.label,
                    type(failure).__name__,
                )
                try:
                    session.client.shutdown()
                except OSError:
                    pass
        self._sessions.clear()

    # ----------------------------------------------------------------- one move

    def _apply_one(self, move: Move) -> Outcome:
        ref = move.ref
        message_id = ref.internet_message_id.strip()
        if not message_id:
            return Outcome(
                TargetResult.FAILED,
                from_folder=ref.folder,
                error=f"Message {ref.message_id} has no Message-ID header, so it cannot be found on {self.label}.",
            )
        session = self._session(ref.mailbox)
        try:
            return self._carry_out(session, message_id, move.destination)
        except _FolderMissing as missing:
            error = str(missing)
        except (IMAPClientError, OSError) as failure:
            self._forget_if_broken(ref.mailbox, failure)
            error = self._describe(failure)
        log.error("Changing message %s in %s on %s failed: %s", ref.message_id, ref.mailbox, self.label, error)
        return Outcome(TargetResult.FAILED, from_folder=ref.folder, error=error)

    def _carry_out(self, session: _Session, message_id: str, destination: str | None) -> Outcome:
        copies = self._find_copies(session, message_id, first_only=False)
        if not copies:
            return Outcome(TargetResult.NOT_FOUND)

        if destination is None:
            for found in copies:
                self._expunge(session, found)
                log.info(
                    "Expunged UIDs %s of %s from %s in %s on %s",
                    found.uids,
                    message_id,
                    found.folder,
                    session.mailbox,
                    self.label,
                )
            first = copies[0].folder
            return Outcome(
                TargetResult.SUCCEEDED,
                from_folder=session.folders.logical_name(first),
                detail={"server_folder": first, "copies": str(sum(len(found.uids) for found in copies))},
            )

        target = self._destination(session, destination)
        folders = session.folders  # read after _destination, because it relists the folders when it creates one
        # Several copies of one message in one mailbox all move, and the outcome reports the
        # folder of the first copy that moved, so an undo returns the copies to that folder.
        to_move = [found for found in copies if found.folder != target]
        if not to_move:
            logical = folders.logical_name(target)
            return Outcome(TargetResult.ALREADY_IN_DESTINATION, from_folder=logical, to_folder=logical)
        for found in to_move:
            self._move(session, found, target)
            log.info(
                "Moved UIDs %s of %s from %s to %s in %s on %s",
                found.uids,
                message_id,
                found.folder,
                target,
                session.mailbox,
                self.label,
            )
        first = to_move[0].folder
        return Outcome(
            TargetResult.SUCCEEDED,
            from_folder=folders.logical_name(first),
            to_folder=folders.logical_name(target),
            detail={
                "server_folder": first,
                "new_server_folder": target,
                "copies": str(sum(len(found.uids) for found in to_move)),
            },
        )

    def _find_copies(self, session: _Session, message_id: str, *, first_only: bool) -> list[_Copies]:
        """Search every selectable folder for messages whose Message-ID is `message_id`."""
        client = session.client
        charset = None if message_id.isascii() else "UTF-8"
        criteria = ["HEADER", "Message-ID", message_id, "NOT", "DELETED"]
        copies: list[_Copies] = []
        for folder in session.folders.folders:
            client.select_folder(folder, readonly=True)
            candidates = client.search(criteria, charset=charset)
            uids = self._exact_matches(client, candidates, message_id) if candidates else []
            if uids:
                copies.append(_Copies(folder, uids))
                if first_only:
                    break
        return copies

    @staticmethod
    def _exact_matches(client: IMAPClient, uids: list[int], message_id: str) -> list[int]:
        """Keep the UIDs whose Message-ID equals `message_id`.

        SEARCH HEADER matches a case-insensitive substring, and a purge must not hit a message whose
        Message-ID merely contains the one asked for.
        """
        wanted = _message_id_token(message_id)
        parser = BytesHeaderParser()
        fetched = client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        matches = []
        for uid in uids:
            raw = fetched.get(uid, {}).get(_MESSAGE_ID_HEADER.encode(), b"")
            header = parser.parsebytes(raw).get("Message-ID", "")
            if _message_id_token(str(header)) == wanted:
                matches.append(uid)
        return sorted(matches)

    def _destination(self, session: _Session, destination: str) -> str:
        """Return the server folder for `destination`, creating a missing logical folder."""
        folders = session.folders
        server = folders.server_name(destination)
        if server is None:
            # Another client may have created the folder since the mailbox was listed.
            session.folders = folders = self._list_folders(session.client)
            server = folders.server_name(destination)
        if server is not None:
            return server
        if destination not in LOGICAL_FOLDERS:
            raise _FolderMissing(
                f"The folder {destination!r} does not exist in mailbox {session.mailbox} on {self.label}. "
                f"Create it on the server or move the message to another folder."
            )
        name = folders.prefix + self._creation_name(destination)
        log.info("Creating folder %r for %s in %s on %s", name, destination, session.mailbox, self.label)
        try:
            session.client.create_folder(name)
        except IMAPClientError:
            # CREATE fails when a concurrent client created the folder first, so the new listing decides.
            if not session.client.folder_exists(name):
                raise
        session.folders = self._list_folders(session.client)
        session.folders.server_by_logical.setdefault(destination, name)
        return name

    def _creation_name(self, logical: str) -> str:
        if logical == Folder.RECOVERABLE.value:
            return self.config.recoverable_folder
        if logical == Folder.QUARANTINE.value:
            return self.config.quarantine_folder
        return COMMON_NAMES[logical][0]

    def _move(self, session: _Session, found: _Copies, target: str) -> None:
        client = session.client
        client.select_folder(found.folder)
        if "MOVE" in session.capabilities:
            client.move(found.uids, target)
            return
        client.copy(found.uids, target)
        client.add_flags(found.uids, [DELETED_FLAG], silent=True)
        self._expunge_uids(session, found.uids)

    def _expunge(self, session: _Session, found: _Copies) -> None:
        """Purge the copies: flag them `\\Deleted`, then expunge those UIDs alone."""
        session.client.select_folder(found.folder)
        session.client.add_flags(found.uids, [DELETED_FLAG], silent=True)
        self._expunge_uids(session, found.uids)

    @staticmethod
    def _expunge_uids(session: _Session, uids: list[int]) -> None:
        """Expunge `uids` from the selected folder without expunging other messages flagged `\\Deleted`.

        Without UIDPLUS, EXPUNGE removes every flagged message, so the flag is taken off the
        others for the moment of the EXPUNGE and put back after it.
        """
        client = session.client
        if "UIDPLUS" in session.capabilities:
            client.uid_expunge(uids)
            return
        # NOTE: a message another client flags \Deleted between this SEARCH and the EXPUNGE is
        # expunged too, because IMAP without UIDPLUS cannot expunge one message alone.
        targets = set(uids)
        others = [uid for uid in client.search(["DELETED"]) if uid not in targets]
        if others:
            client.remove_flags(others, [DELETED_FLAG], silent=True)
        try:
            client.expunge()
        finally:
            if others:
                client.add_flags(others, [DELETED_FLAG], silent=True)

    # ----------------------------------------------------------------- connections

    def _session(self, mailbox: str) -> _Session:
        """Return the open session for `mailbox`, connecting and logging in on first use."""
        session = self._sessions.get(mailbox)
        if session is None:
            session = self._open(mailbox)
            self._sessions[mailbox] = session
        return session

    def _open(self, mailbox: str) -> _Session:
        config = self.config
        login = config.username.replace("{mailbox}", mailbox)
        password = self._password
        if password is None:
            password = lookup_secret(
                config.password_env, config.keyring_service, login, what=f"the IMAP password of {login}"
            )
            self._known_passwords.add(password)
        client = self._connect(login)
        try:
            client.login(login, password)
        except LoginError as failure:
            self._drop(client)
            raise BackendError(
                f"IMAP login as {login!r} on {config.host}:{config.port} failed: {self._describe(failure)}. "
                f"Check remediation.imap.username and the password in the environment variable "
                f"{config.password_env} or the keyring entry ({config.keyring_service}, {login})."
            ) from failure
        except (IMAPClientError, OSError) as failure:
            self._drop(client)
            raise BackendError(
                f"The IMAP server {config.host}:{config.port} closed the connection during login as {login!r}: "
                f"{self._describe(failure)}. Check the server's log."
            ) from failure
        try:
            capabilities = frozenset(item.decode("ascii", "replace").upper() for item in client.capabilities())
            folders = self._list_folders(client)
        except (IMAPClientError, OSError) as failure:
            self._drop(client)
            raise BackendError(
                f"Listing the folders of {login!r} on {config.host}:{config.port} failed: {self._describe(failure)}"
            ) from failure
        log.info("Logged in to %s as %s", self.label, login)
        return _Session(
            client=client, mailbox=mailbox, login=login, capabilities=capabilities - self._ignored, folders=folders
        )

    def _connect(self, login: str) -> IMAPClient:
        """Open the connection for `login`, upgraded with STARTTLS when configured. Certificate errors name `ca_file`."""
        config = self.config
        where = f"{config.host}:{config.port}"
        try:
            client = IMAPClient(
                config.host,
                port=config.port,
                ssl=config.security == "tls",
                ssl_context=self._ssl_context,
                timeout=config.timeout_seconds,
            )
        except ssl.SSLCertVerificationError as failure:
            raise self._certificate_error(where, failure) from failure
        except (OSError, IMAPClientError) as failure:
            raise BackendError(
                f"Connecting to the IMAP server {where} (security {config.security!r}) to log in as {login!r} "
                f"failed: {self._describe(failure)}. Check remediation.imap.host, port and security, and that "
                f"the server accepts connections."
            ) from failure
        if config.security != "starttls":
            return client
        try:
            client.starttls(self._ssl_context)
        except CapabilityError as failure:
            self._drop(client)
            raise BackendError(
                f'The IMAP server {where} does not offer STARTTLS. Set remediation.imap.security = "tls" '
                f"and the server's IMAPS port, usually 993."
            ) from failure
        except ssl.SSLCertVerificationError as failure:
            self._drop(client)
            raise self._certificate_error(where, failure) from failure
        except (OSError, IMAPClientError) as failure:
            self._drop(client)
            raise BackendError(
                f"STARTTLS with the IMAP server {where} failed before the login as {login!r}: {self._describe(failure)}"
            ) from failure
        return client

    def _list_folders(self, client: IMAPClient) -> FolderMap:
        prefix = ""
        if client.has_capability("NAMESPACE"):
            personal = client.namespace().personal
            if personal:
                prefix = personal[0][0]
        listing = [
            ServerFolder(name, frozenset(flag.decode("ascii", "replace").lower() for flag in flags))
            for flags, _delimiter, name in client.list_folders()
        ]
        return map_folders(
            listing,
            recoverable_folder=self.config.recoverable_folder,
            quarantine_folder=self.config.quarantine_folder,
            prefix=prefix,
        )

    def _make_ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.config.ca_file:
            try:
                context.load_verify_locations(cafile=self.config.ca_file)
            except (OSError, ssl.SSLError) as failure:
                raise BackendError(
                    f"remediation.imap.ca_file {self.config.ca_file!r} cannot be read: {failure}. "
                    f"Set it to a PEM file of certificate authorities, or leave it empty to trust the system's."
                ) from failure
        return context

    def _certificate_error(self, where: str, failure: ssl.SSLCertVerificationError) -> BackendError:
        return BackendError(
            f"The certificate of the IMAP server {where} failed verification ({failure.verify_message}). "
            f"Set remediation.imap.ca_file to the PEM file of the authority that signed it, and check that "
            f"remediation.imap.host is a name or address the certificate covers."
        )

    def _forget_if_broken(self, mailbox: str, failure: Exception) -> None:
        """Drop a session whose connection failed, so the next use of the mailbox reconnects."""
        if isinstance(failure, (IMAPClientAbortError, OSError)):
            session = self._sessions.pop(mailbox, None)
            if session is not None:
                self._drop(session.client)

    @staticmethod
    def _drop(client: IMAPClient) -> None:
        try:
            client.shutdown()
        except OSError:
            pass

    def _describe(self, failure: Exception) -> str:
        """Return the failure in words, with every password this backend has used replaced by `***`."""
        text = str(failure) or type(failure).__name__
        if text.startswith("b'") and text.endswith("'"):
            text = text[2:-1]
        for password in self._known_passwords:
            text = text.replace(password, "***")
        return text


def _message_id_token(value: str) -> str:
    """Return the `<...>` part of a Message-ID value, or the whole value stripped when it has none."""
    match = _ANGLE_ADDR.search(value)
    return match.group(0) if match else value.strip()
