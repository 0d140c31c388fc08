"""A real Dovecot IMAP server for tests: 127.0.0.1 only, its own configuration, users and Maildirs.

The server runs in the foreground from a configuration written into a temporary directory, so it
reads nothing from /etc/dovecot and leaves no state behind. Users are Maildir users in a
passwd-file with plain passwords, and the master user `admin` opens every mailbox as
`<address>*admin`. Each test takes unused users from a pool written before the start; a Maildir
appears at a user's first login.

When run as root, Dovecot keeps its privilege separation: login processes run as `dovenull`
chrooted into the base directory, internal services as `dovecot`, and mail access as the `mail`
user, because Dovecot refuses mail access as root. Pytest's temporary directories are private
to root, so the Maildirs then live in a separate temporary directory owned by the mail user,
which `stop` removes. Run as another user, every process runs as that user with chroots off.
"""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import NoReturn

import pytest
from imapclient import IMAPClient

HOST = "127.0.0.1"
MASTER_USER = "admin"
START_TIMEOUT_SECONDS = 15.0
STOP_TIMEOUT_SECONDS = 10.0
MAILBOX_POOL_SIZE = 400
"""Users written before the start. Dovecot 2.3.19 did not see a user added to the passwd-file within
the second of its previous lookup, so tests cannot add users while it runs."""
SPECIAL_FOLDERS = {"Junk": "\\Junk", "Trash": "\\Trash", "Sent": "\\Sent", "Archive": ""}
"""Folders every mailbox has from its first login, with their SPECIAL-USE attribute."""


_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def missing(message: str) -> NoReturn:
    """Skip a test that needs what is missing, or fail it in CI (CI=true), which must run every test."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run the IMAP tests against a real server")
    pytest.skip(message)


def find_dovecot() -> str:
    """Return the path of the dovecot binary. When it is missing, skip the test, or fail it in CI."""
    binary = shutil.which("dovecot", path=_SEARCH_PATH)
    if binary is None:
        missing("Dovecot is not installed: no dovecot binary on PATH or in /usr/sbin (Debian package dovecot-imapd)")
    return binary


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class _Accounts:
    """Which system users Dovecot's processes and mail files run as."""

    internal_user: str
    internal_group: str
    login_user: str
    mail_uid: int
    mail_gid: int
    chroot: bool

    @classmethod
    def for_current_user(cls) -> _Accounts:
        if os.geteuid() != 0:
            me = pwd.getpwuid(os.geteuid())
            group = grp.getgrgid(me.pw_gid).gr_name
            return cls(me.pw_name, group, me.pw_name, me.pw_uid, me.pw_gid, chroot=False)
        internal = _existing_user("dovecot") or "root"
        internal_group = grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name
        login = _existing_user("dovenull", "nobody")
        mail = _existing_user("mail", "nobody")
        if login is None or mail is None:
            missing("Running Dovecot as root needs the users dovenull (or nobody) and mail (or nobody)")
        entry = pwd.getpwnam(mail)
        return cls(internal, internal_group, login, entry.pw_uid, entry.pw_gid, chroot=True)


def _existing_user(*names: str) -> str | None:
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    return None


@dataclass
class DovecotServer:
    """A running Dovecot. `port` offers plain IMAP and STARTTLS, and `tls_port` IMAP over TLS."""

    root: Path
    mail_root: Path
    port: int
    tls_port: int | None
    ca_file: Path | None
    """PEM file of the authority that signed the server certificate, or None when TLS is off."""
    master_password: str
    process: subprocess.Popen[bytes]
    host: str = HOST
    mailboxes: list[tuple[str, str]] = field(default_factory=list)
    """Address and password of every user in the passwd-file."""
    _unused: Iterator[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self._unused = iter(self.mailboxes)

    @property
    def master_login_template(self) -> str:
        """Value for `ImapTargetConfig.username` that logs in to every mailbox as the master user."""
        return "{mailbox}*" + MASTER_USER

    def new_mailbox(self) -> tuple[str, str]:
        """Return the address and password of a user no test has had yet."""
        try:
            return next(self._unused)
        except StopIteration:
            raise RuntimeError(f"All {MAILBOX_POOL_SIZE} test mailboxes are in use. Raise MAILBOX_POOL_SIZE.") from None

    @contextmanager
    def admin(self, mailbox: str) -> Iterator[IMAPClient]:
        """Open `mailbox` as the master user on its own connection, and log out afterwards."""
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        try:
            client.login(f"{mailbox}*{MASTER_USER}", self.master_password)
        except Exception:
            client.shutdown()
            raise
        try:
            yield client
        finally:
            client.logout()

    def append(self, mailbox: str, folder: str, message: bytes, flags: tuple[bytes, ...] = ()) -> None:
        with self.admin(mailbox) as client:
            client.append(folder, message, flags=flags)

    def folders(self, mailbox: str) -> dict[str, tuple[bytes, ...]]:
        """Return every folder of `mailbox` with its LIST attributes."""
        with self.admin(mailbox) as client:
            return {name: flags for flags, _delimiter, name in client.list_folders()}

    def subscriptions(self, mailbox: str) -> list[str]:
        with self.admin(mailbox) as client:
            return [name for _flags, _delimiter, name in client.list_sub_folders()]

    def messages(self, mailbox: str, folder: str) -> list[tuple[str, frozenset[bytes]]]:
        """Return the Message-ID and flags of every message in the folder, `\\Deleted` ones included."""
        parser = BytesHeaderParser()
        with self.admin(mailbox) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            fetched = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        found = []
        for uid in sorted(fetched):
            header = parser.parsebytes(fetched[uid][b"BODY[HEADER.FIELDS (MESSAGE-ID)]"])
            found.append((str(header.get("Message-ID", "")).strip(), frozenset(fetched[uid][b"FLAGS"])))
        return found

    def message_ids(self, mailbox: str, folder: str) -> list[str]:
        return [message_id for message_id, _flags in self.messages(mailbox, folder)]

    def connections(self, mailbox: str) -> int:
        """Return how many IMAP connections Dovecot has open for `mailbox`, from `doveadm who`."""
        listing = self._doveadm("who", "-1")
        return sum(1 for line in listing.splitlines()[1:] if line.split()[:1] == [mailbox])

    def kick(self, mailbox: str) -> None:
        """Close every connection to `mailbox` from the server's side, as an idle timeout would."""
        self._doveadm("kick", mailbox)

    def _doveadm(self, *arguments: str) -> str:
        doveadm = shutil.which("doveadm", path=_SEARCH_PATH)
        if doveadm is None:
            missing("doveadm is not installed next to dovecot")
        command = [doveadm, "-c", str(self.root / "dovecot.conf"), *arguments]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def log_text(self) -> str:
        return (self.root / "dovecot.log").read_text(errors="replace")

    def stop(self) -> None:
        """Stop Dovecot by its pid, wait until it has exited and its port is closed, and remove the Maildirs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
                raise RuntimeError(
                    f"Dovecot (pid {self.process.pid}) ignored SIGTERM for {STOP_TIMEOUT_SECONDS} s and was killed"
                )
        if accepts_connections(self.port):
            raise RuntimeError(
                f"Dovecot (pid {self.process.pid}) exited but port {self.port} still accepts connections"
            )
        if (self.root / "run" / "master.pid").exists():
            raise RuntimeError(f"Dovecot (pid {self.process.pid}) left {self.root / 'run' / 'master.pid'} behind")
        if not self.mail_root.is_relative_to(self.root):
            shutil.rmtree(self.mail_root, ignore_errors=True)


def start_dovecot(root: Path) -> DovecotServer:
    """Write a configuration under `root`, start Dovecot on free ports of 127.0.0.1 and wait until it accepts connections."""
    binary = find_dovecot()
    accounts = _Accounts.for_current_user()
    root.mkdir(parents=True, exist_ok=True)
    for directory in ("run", "state"):
        (root / directory).mkdir(exist_ok=True)
    if accounts.chroot:
        mail_root = Path(tempfile.mkdtemp(prefix="air-tui-dovecot-mail-"))
        os.chown(mail_root, accounts.mail_uid, accounts.mail_gid)
    else:
        mail_root = root / "mail"
        mail_root.mkdir(exist_ok=True)

    master_password = secrets.token_hex(12)
    (root / "masters.passwd").write_text(f"{MASTER_USER}:{{PLAIN}}{master_password}\n")
    mailboxes = [(f"user{number}@example.test", secrets.token_hex(12)) for number in range(1, MAILBOX_POOL_SIZE + 1)]
    (root / "users.passwd").write_text(
        "".join(f"{address}:{{PLAIN}}{password}::::{mail_root / address}::\n" for address, password in mailboxes)
    )
    port = free_port()
    certificate = _make_certificate(root / "tls")
    tls_port = free_port() if certificate else None
    config = root / "dovecot.conf"
    config.write_text(_configuration(root, mail_root, accounts, port, tls_port, certificate))

    with (root / "dovecot.stdout").open("wb") as output:
        process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=output, stderr=subprocess.STDOUT)
    server = DovecotServer(
        root=root,
        mail_root=mail_root,
        port=port,
        tls_port=tls_port,
        ca_file=certificate[0] if certificate else None,
        master_password=master_password,
        process=process,
        mailboxes=mailboxes,
    )
    try:
        _wait_until_listening(server)
    except RuntimeError:
        server.stop()
        raise
    return server


def _wait_until_listening(server: DovecotServer) -> None:
    ports = [port for port in (server.port, server.tls_port) if port is not None]
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            output = (server.root / "dovecot.stdout").read_text(errors="replace")
            log = server.log_text() if (server.root / "dovecot.log").exists() else ""
            raise RuntimeError(f"Dovecot exited with status {server.process.returncode} at start:\n{output}\n{log}")
        if all(accepts_connections(port) for port in ports):
            return
        time.sleep(0.05)
    raise RuntimeError(f"Dovecot did not accept connections on {HOST}:{ports} within {START_TIMEOUT_SECONDS} s")


def _make_certificate(directory: Path) -> tuple[Path, Path, Path] | None:
    """Create a test CA and a server certificate for 127.0.0.1 with openssl, or return None without openssl.

    Returns:
        The CA certificate, the server certificate and the server key, all PEM files.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    directory.mkdir(exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    key, request, cert = directory / "server.key", directory / "server.csr", directory / "server.pem"
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "basicConstraints = critical, CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n"
    )
    elliptic = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    commands = [
        [
            openssl,
            "req",
            "-x509",
            *elliptic,
            "-keyout",
            ca_key,
            "-out",
            ca_cert,
            "-days",
            "2",
            "-subj",
            "/CN=air-tui test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        [openssl, "req", *elliptic, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        [
            openssl,
            "x509",
            "-req",
            "-in",
            request,
            "-CA",
            ca_cert,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            extensions,
        ],
    ]
    for command in commands:
        subprocess.run([str(part) for part in command], check=True, capture_output=True)
    return ca_cert, cert, key


def _configuration(
    root: Path,
    mail_root: Path,
    accounts: _Accounts,
    port: int,
    tls_port: int | None,
    certificate: tuple[Path, Path, Path] | None,
) -> str:
    mailboxes = "\n".join(
        f"  mailbox {name} {{\n    auto = create\n" + (f"    special_use = {attribute}\n" if attribute else "") + "  }"
        for name, attribute in SPECIAL_FOLDERS.items()
    )
    if certificate:
        _ca, cert, key = certificate
        tls = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\nssl_min_protocol = TLSv1.2\n"
        tls_listener = f"  inet_listener imaps {{\n    address = {HOST}\n    port = {tls_port}\n    ssl = yes\n  }}\n"
    else:
        tls = "ssl = no\n"
        tls_listener = "  inet_listener imaps {\n    port = 0\n  }\n"
    no_chroot = "" if accounts.chroot else "  chroot =\n"
    return f"""\
# Written by tests/remediation/dovecot.py for one test run.
base_dir = {root / "run"}
state_dir = {root / "state"}
instance_name = air-tui-test-{port}
protocols = imap
listen = {HOST}
log_path = {root / "dovecot.log"}
{tls}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_master_user_separator = *
default_internal_user = {accounts.internal_user}
default_internal_group = {accounts.internal_group}
default_login_user = {accounts.login_user}
mail_uid = {accounts.mail_uid}
mail_gid = {accounts.mail_gid}
first_valid_uid = {accounts.mail_uid}
first_valid_gid = {accounts.mail_gid}
mail_location = maildir:~/Maildir
mail_fsync = never

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
{tls_listener}{no_chroot}}}
# Mode 0 removes the auth penalty socket (Dovecot 2.3.19), so a test's failed login does not
# delay the next logins from 127.0.0.1 by seconds. `doveadm who` still works.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{no_chroot}}}
# The passwd-files sit in a directory only the user who started the server can read.
service auth {{
  user = {"root" if accounts.chroot else accounts.internal_user}
}}

passdb {{
  driver = passwd-file
  master = yes
  args = {root / "masters.passwd"}
}}
passdb {{
  driver = passwd-file
  args = {root / "users.passwd"}
}}
userdb {{
  driver = passwd-file
  args = {root / "users.passwd"}
}}

namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}
}}
"""
