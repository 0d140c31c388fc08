"""The demo tenant: a directory of Maildirs, a user directory, activity logs and intel snapshots."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from air_tui.domain.tenant import (
    AdminAction,
    AuditRecord,
    MailboxSettings,
    Organisation,
    Restriction,
    SignIn,
    Submission,
    UrlClick,
    User,
)
from air_tui.domain.vocab import Folder, TargetResult
from air_tui.store.database import file_lock

ModelT = TypeVar("ModelT", bound=BaseModel)

MAILDIR_SUBDIRS = ("cur", "new")

SETTING_FORWARDING = "forwarding"
SETTING_INBOX_RULE = "inbox_rule"
SETTING_DELEGATION = "delegation"
SETTING_KINDS = (SETTING_FORWARDING, SETTING_INBOX_RULE, SETTING_DELEGATION)
"""Kinds of mailbox setting that actions remove and restore."""

# For settings kept in a list: the list's field in mailboxes.json and the field that identifies an item.
_LIST_SETTINGS = {SETTING_INBOX_RULE: ("inbox_rules", "id"), SETTING_DELEGATION: ("delegates", "address")}


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

    def audit_records(self) -> list[AuditRecord]:
        return _load_jsonl(self.root / "activity" / "audit.jsonl", AuditRecord)

    def restrictions(self) -> list[Restriction]:
        return _load_jsonl(self.root / "activity" / "restrictions.jsonl", Restriction)

    def admin_actions(self) -> list[AdminAction]:
        return _load_jsonl(self.root / "activity" / "admin_actions.jsonl", AdminAction)

    def mailbox_settings(self) -> dict[str, MailboxSettings]:
        path = self.root / "settings" / "mailboxes.json"
        if not path.exists():
            return {}
        return {address: _validate(MailboxSettings, value, path) for address, value in _load_json(path).items()}

    # Mailbox settings ---------------------------------------------------------------------
    # Each change rewrites settings/mailboxes.json whole, under a lock and through a renamed
    # temporary file, so a crash leaves either the old file or the new one.

    @property
    def settings_path(self) -> Path:
        return self.root / "settings" / "mailboxes.json"

    def current_setting(self, mailbox: str, kind: str, item_id: str = "") -> dict[str, Any] | None:
        """Return one setting in the form the removal methods return it, or None when it is not set.

        Args:
            mailbox: The mailbox's address, in any case.
            kind: `forwarding`, `inbox_rule` or `delegation`.
            item_id: The inbox rule's id or the delegate's address; ignored for forwarding.
        """
        _check_kind(kind)
        data = self._read_settings()
        key = _mailbox_key(data, mailbox)
        if key is None:
            return None
        return _find_setting(data[key], kind, item_id, self.settings_path)

    def remove_forwarding(self, mailbox: str) -> dict[str, Any] | None:
        """Turn off the mailbox's SMTP forwarding. Safe to repeat.

        Returns:
            `{"kind": "forwarding", "value": {...}}` with the forwarding as it was, or None when
            the mailbox forwards nothing.
        """
        return self._remove(mailbox, SETTING_FORWARDING, "")

    def remove_inbox_rule(self, mailbox: str, rule_id: str) -> dict[str, Any] | None:
        """Delete one inbox rule. Safe to repeat.

        Returns:
            `{"kind": "inbox_rule", "value": {...}, "position": n}` with the rule as it was and its
            place in the rule order, or None when no rule has that id.
        """
        return self._remove(mailbox, SETTING_INBOX_RULE, rule_id)

    def remove_delegation(self, mailbox: str, address: str) -> dict[str, Any] | None:
        """Take away one delegate's access to the mailbox. Safe to repeat.

        Returns:
            `{"kind": "delegation", "value": {...}, "position": n}` with the delegate as it was,
            or None when that address is no delegate.
        """
        return self._remove(mailbox, SETTING_DELEGATION, address)

    def restore_setting(self, mailbox: str, kind: str, previous: dict[str, Any]) -> bool:
        """Put back a setting that a removal method returned. Safe to repeat.

        An inbox rule or delegate goes back to its old position in the list.

        Returns:
            True when the setting was put back, False when it was there already.

        Raises:
            TenantError: `previous` is not a setting of that kind, or the mailbox forwards to
                another address since, which a restore would silently replace.
        """
        _check_kind(kind)
        if previous.get("kind") != kind or not isinstance(previous.get("value"), dict):
            raise TenantError(f"Cannot restore a {kind} setting of {mailbox} from {previous!r}: it is not one a removal returned.")
        value = previous["value"]
        with self._settings_lock():
            data = self._read_settings()
            key = _mailbox_key(data, mailbox)
            if key is None:
                key = mailbox
                data[key] = MailboxSettings().model_dump(mode="json")
            entry = data[key]
            if kind == SETTING_FORWARDING:
                current = entry.get("forwarding")
                if current == value:
                    return False
                if current:
                    raise TenantError(
                        f"{mailbox} forwards to {current.get('smtp_address')} since the removal; remove that forwarding "
                        f"first to restore forwarding to {value.get('smtp_address')}."
                    )
                _validate(MailboxSettings, {"forwarding": value}, self.settings_path)
                entry["forwarding"] = value
            else:
                field, match = _LIST_SETTINGS[kind]
                if _find_setting(entry, kind, str(value.get(match, "")), self.settings_path) is not None:
                    return False
                _validate(MailboxSettings, {field: [value]}, self.settings_path)
                items = entry.setdefault(field, [])
                position = previous.get("position")
                items.insert(position if isinstance(position, int) and 0 <= position <= len(items) else len(items), value)
            self._write_settings(data)
        return True

    def _remove(self, mailbox: str, kind: str, item_id: str) -> dict[str, Any] | None:
        with self._settings_lock():
            data = self._read_settings()
            key = _mailbox_key(data, mailbox)
            if key is None:
                return None
            entry = data[key]
            previous = _find_setting(entry, kind, item_id, self.settings_path)
            if previous is None:
                return None
            if kind == SETTING_FORWARDING:
                entry["forwarding"] = None
            else:
                field, _ = _LIST_SETTINGS[kind]
                del entry[field][previous["position"]]
            self._write_settings(data)
        return previous

    def _read_settings(self) -> dict[str, Any]:
        """Read the settings file as plain JSON, so fields this version does not model are kept."""
        if not self.settings_path.exists():
            return {}
        data = _load_json(self.settings_path)
        if not isinstance(data, dict):
            raise TenantError(f"Invalid tenant file {self.settings_path}: expected an object keyed by mailbox address.")
        return data

    def _write_settings(self, data: dict[str, Any]) -> None:
        _write_json_atomically(self.settings_path, data)

    @contextmanager
    def _settings_lock(self) -> Iterator[None]:
        """Hold an exclusive lock for a read-change-write of the settings file.

        Two consoles approving actions on one tenant at once would otherwise each write back
        the file as they read it and undo the other's change.
        """
        with _file_lock(self.settings_path.parent / ".mailboxes.lock"):
            yield

    # Accounts ----------------------------------------------------------------------------------

    def disable_user(self, address: str, when: str) -> dict[str, Any] | None:
        """Disable the account and revoke its sessions as of `when` (ISO time). Safe to repeat.

        Returns:
            `{"enabled": bool, "sessions_revoked_at": str | None}` as the account was, or None
            when no user has that address.
        """
        with _file_lock(self.root / ".directory.lock"):
            data = _load_json(self.root / "directory.json")
            entry = _directory_entry(data, address)
            if entry is None:
                return None
            previous = {"enabled": bool(entry.get("enabled", True)), "sessions_revoked_at": entry.get("sessions_revoked_at")}
            if entry.get("enabled", True) is False and entry.get("sessions_revoked_at"):
                return previous
            entry["enabled"] = False
            entry["sessions_revoked_at"] = entry.get("sessions_revoked_at") or when
            _write_json_atomically(self.root / "directory.json", data)
        self.users = [_validate(User, user, self.root / "directory.json") for user in data.get("users", [])]
        return previous

    def restore_user(self, address: str, previous: dict[str, Any]) -> bool:
        """Enable the account again if it was enabled before; revoked sessions stay revoked.

        Returns:
            True when the account changed, False when it was as recorded already.

        Raises:
            TenantError: No user has that address.
        """
        with _file_lock(self.root / ".directory.lock"):
            data = _load_json(self.root / "directory.json")
            entry = _directory_entry(data, address)
            if entry is None:
                raise TenantError(f"No user {address} in {self.root / 'directory.json'}: the account cannot be enabled again.")
            enabled = bool(previous.get("enabled", True))
            if bool(entry.get("enabled", True)) == enabled:
                return False
            entry["enabled"] = enabled
            _write_json_atomically(self.root / "directory.json", data)
        self.users = [_validate(User, user, self.root / "directory.json") for user in data.get("users", [])]
        return True

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

    def move_message(self, mailbox: str, key: str, destination: Folder | str) -> tuple[TargetResult, str, Path | None]:
        """Move one copy into `destination`; safe to repeat.

        Returns the result, the folder the copy was found in, and its new path. A copy already in
        the destination is reported as such and left alone, which makes a resumed action harmless.
        """
        destination = str(destination)
        if not destination or destination in (".", "..") or "/" in destination or "\0" in destination:
            raise TenantError(f"Invalid folder name {destination!r}: a folder of a demo mailbox is one plain name.")
        found = self.find_message_file(mailbox, key)
        if found is None:
            return TargetResult.NOT_FOUND, "", None
        folder, path = found
        if folder == destination:
            return TargetResult.ALREADY_IN_DESTINATION, folder, path
        target_dir = self.mailbox_root / mailbox / destination / "cur"
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


def _check_kind(kind: str) -> None:
    if kind not in SETTING_KINDS:
        raise TenantError(f"Unknown mailbox setting kind {kind!r}; use one of {', '.join(SETTING_KINDS)}.")


def _mailbox_key(data: dict[str, Any], mailbox: str) -> str | None:
    """Return the key under which the settings file stores the mailbox. Addresses compare without case."""
    address = mailbox.lower()
    return next((key for key in data if key.lower() == address), None)


def _find_setting(entry: object, kind: str, item_id: str, path: Path) -> dict[str, Any] | None:
    if not isinstance(entry, dict):
        raise TenantError(f"Invalid entry in {path}: a mailbox's settings must be an object, not {type(entry).__name__}.")
    if kind == SETTING_FORWARDING:
        forwarding = entry.get("forwarding")
        return {"kind": kind, "value": forwarding} if forwarding else None
    field, match = _LIST_SETTINGS[kind]
    items = entry.get(field) or []
    if not isinstance(items, list):
        raise TenantError(f"Invalid entry in {path}: {field} must be a list.")
    for position, item in enumerate(items):
        # Rule ids compare exactly; delegate addresses compare without case, as mail addresses do.
        value = str(item.get(match, "")) if isinstance(item, dict) else ""
        same = value.lower() == item_id.lower() if kind == SETTING_DELEGATION else value == item_id
        if item_id and same:
            return {"kind": kind, "value": item, "position": position}
    return None


def _directory_entry(data: object, address: str) -> dict[str, Any] | None:
    users = data.get("users", []) if isinstance(data, dict) else []
    wanted = address.lower()
    return next((user for user in users if isinstance(user, dict) and str(user.get("address", "")).lower() == wanted), None)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path):
        yield


def _write_json_atomically(path: Path, data: object) -> None:
    """Replace `path` through a renamed temporary file, so a crash leaves the old file or the new one."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        # mkstemp creates the file owner-only; the rewritten file keeps the old one's mode.
        if path.exists():
            os.fchmod(descriptor, stat.S_IMODE(path.stat().st_mode))
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(folder)


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
