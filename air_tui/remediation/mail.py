"""Where message actions land: the contract every mail backend keeps, and the demo tenant's backend.

The executor records its intent before it calls a backend and the outcome after. A backend
therefore only has to make each operation safe to repeat. A message already in the destination
folder is reported as such, and a message that is gone is reported as not found.

Folder names are the logical ones air-tui shows (`Inbox`, `Junk Email`, `Deleted Items`,
`Recoverable Items`, `Quarantine`, `Sent Items`) or, for a folder a message came from that has no
logical name, the server's own name. A backend maps them to its folders and reports the folder a
message was found in by the same rule, so an undo can hand it back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from air_tui.domain.vocab import Folder, TargetResult
from air_tui.tenant.demo import DemoTenant, TenantError

log = logging.getLogger(__name__)


class BackendError(Exception):
    """A backend cannot be used at all: invalid configuration, missing credentials, unreachable server.

    The message names the setting or server and what to do. Failures of single messages are not
    raised: they come back as Failed outcomes.
    """


@dataclass(frozen=True)
class MessageRef:
    """One copy of a message in one mailbox, as the store records it."""

    message_id: str
    """air-tui's id for the copy."""
    mailbox: str
    """The mailbox's address."""
    folder: str
    """The folder the store last saw the copy in."""
    internet_message_id: str = ""
    """The Message-ID header, with its angle brackets."""
    key: str = ""
    """The Maildir key, for the demo tenant."""


@dataclass(frozen=True)
class Move:
    """Move one copy to a folder, or purge it when `destination` is None."""

    ref: MessageRef
    destination: str | None


@dataclass
class Outcome:
    """What happened to one copy."""

    result: TargetResult
    from_folder: str = ""
    """The folder the copy was found in; empty when it was not found."""
    to_folder: str = ""
    """The folder it is in now; empty after a purge or when not found."""
    error: str = ""
    """For a Failed result: what went wrong, in words an analyst can act on."""
    detail: dict[str, str] = field(default_factory=dict)
    """Backend specifics worth keeping, such as the new Maildir path or a remote job id."""


class MailBackend(Protocol):
    label: str
    """Where actions land, in words, e.g. `demo tenant` or `IMAP 127.0.0.1:10143`."""
    batch_size: int
    """How many moves one `apply` call takes; the executor records intent per batch."""

    def locate(self, ref: MessageRef) -> str | None:
        """Return the logical folder the copy is in now, or None when it is in no folder."""
        ...

    def apply(self, moves: list[Move]) -> list[Outcome]:
        """Carry out the moves, one outcome per move in the same order."""
        ...

    def close(self) -> None: ...


class DemoMailBackend:
    """Moves Maildir files of the demo tenant in the workspace's data directory."""

    batch_size = 1

    def __init__(self, tenant: DemoTenant) -> None:
        self.tenant = tenant
        self.label = f"demo tenant at {tenant.root}"

    def locate(self, ref: MessageRef) -> str | None:
        found = self.tenant.find_message_file(ref.mailbox, ref.key)
        return found[0] if found else None

    def apply(self, moves: list[Move]) -> list[Outcome]:
        return [self._apply_one(move) for move in moves]

    def _apply_one(self, move: Move) -> Outcome:
        ref = move.ref
        try:
            if move.destination is None:
                result, from_folder = self.tenant.delete_message(ref.mailbox, ref.key)
                return Outcome(result, from_folder=from_folder)
            result, from_folder, path = self.tenant.move_message(ref.mailbox, ref.key, move.destination)
        except (OSError, TenantError) as failure:
            error = f"{type(failure).__name__}: {failure}"
            log.error("Cannot change message %s in %s: %s", ref.message_id, ref.mailbox, error)
            return Outcome(TargetResult.FAILED, from_folder=ref.folder, error=error)
        if result is TargetResult.NOT_FOUND:
            return Outcome(result)
        detail = {"new_path": str(path), "new_key": ref.key} if path is not None else {}
        return Outcome(result, from_folder=from_folder, to_folder=move.destination, detail=detail)

    def close(self) -> None:
        return None


LOGICAL_FOLDERS = tuple(folder.value for folder in Folder)
