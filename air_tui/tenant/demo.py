"""The demo tenant: a directory of Maildirs, a user directory, activity logs and intel snapshots."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from air_tui.domain.tenant import MailboxSettings, Organisation, SignIn, Submission, UrlClick, User
from air_tui.domain.vocab import Folder, TargetResult

ModelT = TypeVar("ModelT", bound=BaseModel)

MAILDIR_SUBDIRS = ("cur", "new")


class TenantError(Exception):
    """The tenant directory is missing a file or contains one that cannot be read."""


class DemoTenant:
    """A tenant stored as plain files. See docs/demo-tenant.md for the layout."""

    def __init__(self, root: Path) -> None:
        if not (root / "tenant.json").is_file():
            raise TenantError(
                f"{root} is not a tenant directory: tenant.json is missing. "
                "Give --tenant a folder laid out like fixtures/demo-tenant."
            )
        self.root = root
        self.organisation = _load_model(root / "tenant.json", Organisation)
        directory = _load_json(root / "directory.json")
        self.users = [_validate(User, user, root / "directory.json") for user in directory.get("users", [])]

    @property
    def mailbox_root(self) -> Path:
        return self.root / "mailboxes"

    @property
    def intel_dir(self) -> Path:
        return self.root / "intel"

    def user(self, address: str) -> User | None:
        address = address.lower()
        return next((user for user in self.users if user.address.lower() == address), None)

    def mailboxes(self) -> list[str]:
        if not self.mailbox_root.is_dir():
            return []
        return sorted(path.name for path in self.mailbox_root.iterdir() if path.is_dir())

    def folder_paths(self) -> Iterator[tuple[str, str, Path]]:
        """Yield (mailbox, folder, Maildir path) for every folder of every mailbox."""
        for mailbox in self.mailboxes():
            for folder_path in sorted((self.mailbox_root / mailbox).iterdir()):
                if folder_path.is_dir():
                    yield mailbox, folder_path.name, folder_path

    def submissions(self) -> list[Submission]:
        return _load_jsonl(self.root / "activity" / "submissions.jsonl", Submission)

    def url_clicks(self) -> list[UrlClick]:
        return _load_jsonl(self.root / "activity" / "url_clicks.jsonl", UrlClick)

    def signins(self) -> list[SignIn]:
        return _load_jsonl(self.root / "activity" / "signins.jsonl", SignIn)

    def mailbox_settings(self) -> dict[str, MailboxSettings]:
        path = self.root / "settings" / "mailboxes.json"
        if not path.exists():
            return {}
        return {address: _validate(MailboxSettings, value, path) for address, value in _load_json(path).items()}

    def find_message_file(self, mailbox: str, key: str) -> tuple[str, Path] | None:
        """Return (folder, path) of the copy with this Maildir key, searching every folder."""
        mailbox_path = self.mailbox_root / mailbox
        if not mailbox_path.is_dir():
            return None
        for folder_path in sorted(mailbox_path.iterdir()):
            for subdir in MAILDIR_SUBDIRS:
                directory = folder_path / subdir
                if not directory.is_dir():
                    continue
                for name in os.listdir(directory):
                    if name.split(":", 1)[0] == key:
                        return folder_path.name, directory / name
        return None

    def move_message(self, mailbox: str, key: str, destination: Folder) -> tuple[TargetResult, str, Path | None]:
        """Move one copy into `destination`; safe to repeat.

        Returns the result, the folder the copy was found in, and its new path. A copy already in
        the destination is reported as such and left alone, which makes a resumed action harmless.
        """
        found = self.find_message_file(mailbox, key)
        if found is None:
            return TargetResult.NOT_FOUND, "", None
        folder, path = found
        if folder == destination.value:
            return TargetResult.ALREADY_IN_DESTINATION, folder, path
        target_dir = self.mailbox_root / mailbox / destination.value / "cur"
        target_dir.mkdir(parents=True, exist_ok=True)
        name = path.name if ":2," in path.name else f"{path.name}:2,"
        target = target_dir / name
        os.rename(path, target)
        _fsync_directory(target_dir)
        _fsync_directory(path.parent)
        return TargetResult.SUCCEEDED, folder, target

    def delete_message(self, mailbox: str, key: str) -> tuple[TargetResult, str]:
        found = self.find_message_file(mailbox, key)
        if found is None:
            return TargetResult.NOT_FOUND, ""
        folder, path = found
        path.unlink()
        _fsync_directory(path.parent)
        return TargetResult.SUCCEEDED, folder


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise TenantError(f"Tenant file {path} is missing.") from error
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TenantError(f"Cannot read tenant file {path}: {error}.") from error


def _validate(model: type[ModelT], value: object, path: Path) -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise TenantError(f"Invalid entry in {path}: {error.errors()[0]['msg']} at {error.errors()[0]['loc']}.") from error


def _load_model(path: Path, model: type[ModelT]) -> ModelT:
    return _validate(model, _load_json(path), path)


def _load_jsonl(path: Path, model: type[ModelT]) -> list[ModelT]:
    if not path.exists():
        return []
    records: list[ModelT] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise TenantError(f"Cannot read tenant file {path}: {error}.") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(model.model_validate_json(line))
        except ValidationError as error:
            raise TenantError(f"Invalid record on line {number} of {path}: {error.errors()[0]['msg']}.") from error
    return records
