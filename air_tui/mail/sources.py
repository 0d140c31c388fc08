"""Reading raw messages from disk: .eml files, folders of them, mbox files and Maildirs."""

from __future__ import annotations

import mailbox as stdlib_mailbox
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from air_tui.domain.message import MessageLocation

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MESSAGE_SUFFIXES = frozenset({".eml", ".msg"})
"""File name suffixes read as one message each when walking a folder."""

_MAILDIR_SUBDIRECTORIES = ("cur", "new")
_MAILDIR_INFO_SEPARATORS = (":2,", "!2,")
_LEADING_EPOCH = re.compile(r"^(\d{9,11})(?:[._]|$)")
_HEADER_FIELD_LINE = re.compile(rb"^[!-9;-~]+[ \t]*:")


@dataclass(frozen=True)
class RawMessage:
    """The bytes of one stored message and where they came from."""

    raw: bytes
    location: MessageLocation
    received_at: datetime | None


@dataclass(frozen=True)
class FailedRead:
    """A file or folder inside a walk that could not be read; the walk goes on after it."""

    path: Path
    reason: str
    """A sentence naming the path and the problem, ready to print."""


class SourceError(Exception):
    """The path given to `iter_messages` is missing, unreadable or not mail."""


def iter_messages(path: Path, *, mailbox: str = "") -> Iterator[RawMessage | FailedRead]:
    """Read every message stored at `path`.

    `path` may be a single .eml, .msg or other RFC 822 file, or an mbox file
    whose first line starts with `From `. It may also be a Maildir (a folder
    with `cur` or `new`), or a folder walked recursively for .eml and .msg
    files and for Maildirs. Plain folders skip entries whose names start with
    a dot, while inside a Maildir such entries are Maildir++ subfolders.

    Each location holds:

    - `mailbox`: the argument.
    - `folder`: the Maildir's directory name without a leading dot, or ""
      outside Maildirs.
    - `key`: the Maildir unique name, the mbox index, the path relative to the
      walked folder, or the absolute path of a single file.
    - `path`: the absolute path of the file.

    Maildir messages get `received_at` from the epoch seconds that start their
    unique name, else from the file's modification time. Other sources give
    None.

    A file or subfolder that cannot be read inside a walk is yielded as a
    `FailedRead` and the walk continues. Within a folder, files come before
    subfolders, each in name order.

    Args:
        path: The file or folder to read.
        mailbox: Name of the mailbox these messages belong to. It becomes
            part of each message id, so use one name per store.

    Returns:
        An iterator of `RawMessage` and `FailedRead` records.

    Raises:
        SourceError: At call time when `path` is missing, unreadable or not a
            kind of mail store. A folder without any mail raises it when the
            walk ends.
    """
    path = Path(path)
    if not path.exists():
        raise SourceError(f"No such file or directory: {path}. Check the path.")
    if not os.access(path, os.R_OK) or (path.is_dir() and not os.access(path, os.X_OK)):
        raise SourceError(f"Cannot read {path}: permission denied.")
    if path.is_dir():
        if _is_maildir(path):
            return _read_maildir(path, mailbox)
        return _read_folder(path, mailbox)
    head = _read_head(path)
    if path.suffix.lower() in MESSAGE_SUFFIXES or head.startswith(OLE2_MAGIC):
        return iter([_read_single_file(path, mailbox)])
    if head.startswith(b"From "):
        return _read_mbox(path, mailbox)
    if _HEADER_FIELD_LINE.match(head):
        return iter([_read_single_file(path, mailbox)])
    raise SourceError(_not_mail(path))


def maildir_key(filename: str) -> str:
    """Return the Maildir unique name: the file name without its `:2,FLAGS` info part.

    `!2,` is accepted as well, the separator used where `:` is not allowed in
    file names.

    Args:
        filename: The file name inside `cur` or `new`.

    Returns:
        The unique name.
    """
    for separator in _MAILDIR_INFO_SEPARATORS:
        unique, found, _ = filename.partition(separator)
        if found:
            return unique
    return filename


def received_at_from_key(key: str) -> datetime | None:
    """Return the delivery time from the epoch seconds that start a Maildir unique name.

    Args:
        key: A Maildir unique name such as `1700000000.M1P2.host`.

    Returns:
        The UTC time, or None when the name does not start with epoch seconds.
    """
    match = _LEADING_EPOCH.match(key)
    if match is None:
        return None
    try:
        return datetime.fromtimestamp(int(match.group(1)), tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _read_single_file(path: Path, mailbox: str) -> RawMessage:
    try:
        raw = path.read_bytes()
    except PermissionError as error:
        raise SourceError(f"Cannot read {path}: permission denied.") from error
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}.") from error
    absolute = str(path.resolve())
    location = MessageLocation(mailbox=mailbox, folder="", key=absolute, path=absolute)
    return RawMessage(raw=raw, location=location, received_at=None)


def _read_mbox(path: Path, mailbox: str) -> Iterator[RawMessage]:
    absolute = str(path.resolve())
    try:
        store = stdlib_mailbox.mbox(path, create=False)
        keys = store.keys()
    except PermissionError as error:
        raise SourceError(f"Cannot read {path}: permission denied.") from error
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}.") from error

    def generate() -> Iterator[RawMessage]:
        try:
            for index, key in enumerate(keys):
                location = MessageLocation(mailbox=mailbox, folder="", key=str(index), path=absolute)
                yield RawMessage(raw=store.get_bytes(key), location=location, received_at=None)
        finally:
            store.close()

    return generate()


def _read_folder(root: Path, mailbox: str) -> Iterator[RawMessage | FailedRead]:
    found = 0
    pending = [root]
    while pending:
        folder = pending.pop()
        entries, failure = _list_folder(folder)
        if failure is not None:
            found += 1
            yield failure
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_real_directory(entry):
                subfolders.append(entry)
            elif entry.suffix.lower() in MESSAGE_SUFFIXES and (entry.is_file() or _is_dangling_link(entry)):
                # A dangling link is read anyway so that it is reported as a FailedRead.
                found += 1
                key = entry.relative_to(root).as_posix()
                yield _read_file_in_walk(entry, MessageLocation(mailbox=mailbox, key=key, path=str(entry.resolve())))
        for subfolder in subfolders:
            if _is_maildir(subfolder):
                found += 1
                yield from _read_maildir(subfolder, mailbox)
        # Reversed so that popping from the end visits subfolders in name order.
        pending.extend(reversed([subfolder for subfolder in subfolders if not _is_maildir(subfolder)]))
    if found == 0:
        raise SourceError(_not_mail(root))


def _read_maildir(root: Path, mailbox: str) -> Iterator[RawMessage | FailedRead]:
    pending = [root]
    while pending:
        maildir = pending.pop()
        folder = maildir.name[1:] if maildir.name.startswith(".") else maildir.name
        for subdirectory in _MAILDIR_SUBDIRECTORIES:
            directory = maildir / subdirectory
            if not directory.is_dir():
                continue
            entries, failure = _list_folder(directory)
            if failure is not None:
                yield failure
                continue
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                key = maildir_key(entry.name)
                location = MessageLocation(mailbox=mailbox, folder=folder, key=key, path=str(entry.resolve()))
                yield _read_file_in_walk(entry, location, maildir=True)
        entries, failure = _list_folder(maildir)
        if failure is not None:
            yield failure
            continue
        nested = [
            entry
            for entry in entries
            if entry.name not in ("cur", "new", "tmp") and _is_real_directory(entry) and _is_maildir(entry)
        ]
        pending.extend(reversed(nested))


def _read_file_in_walk(path: Path, location: MessageLocation, *, maildir: bool = False) -> RawMessage | FailedRead:
    """Read one file of a walk; Maildir files also get their delivery time."""
    try:
        raw = path.read_bytes()
        received_at = None
        if maildir:
            received_at = received_at_from_key(location.key) or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except PermissionError:
        return FailedRead(path=path, reason=f"Cannot read {path}: permission denied.")
    except OSError as error:
        return FailedRead(path=path, reason=f"Cannot read {path}: {error.strerror or error}.")
    return RawMessage(raw=raw, location=location, received_at=received_at)


def _list_folder(folder: Path) -> tuple[list[Path], FailedRead | None]:
    try:
        return sorted(folder.iterdir()), None
    except PermissionError:
        return [], FailedRead(path=folder, reason=f"Cannot read {folder}: permission denied.")
    except OSError as error:
        return [], FailedRead(path=folder, reason=f"Cannot read {folder}: {error.strerror or error}.")


def _is_real_directory(path: Path) -> bool:
    # Symlinked folders are not followed, so a link loop cannot make the walk endless.
    return path.is_dir() and not path.is_symlink()


def _is_dangling_link(path: Path) -> bool:
    return path.is_symlink() and not path.exists()


def _is_maildir(path: Path) -> bool:
    return any((path / subdirectory).is_dir() for subdirectory in _MAILDIR_SUBDIRECTORIES)


def _read_head(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(4096)
    except PermissionError as error:
        raise SourceError(f"Cannot read {path}: permission denied.") from error
    except OSError as error:
        raise SourceError(f"Cannot read {path}: {error.strerror or error}.") from error


def _not_mail(path: Path) -> str:
    return f"{path} is not an .eml file, a folder of them, an mbox file or a Maildir."
