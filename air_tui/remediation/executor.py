"""Run an approved action against the tenant, one recorded result per message.

Each target's result is committed as its own ledger event before the next target moves, and a
target that already has a result is skipped, so an execution interrupted by a crash resumes
without repeating or losing a move.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from air_tui.domain.action import ActionTargetResult, PendingAction
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.vocab import ActionStatus, TargetResult
from air_tui.store import Store, ledger
from air_tui.tenant.demo import DemoTenant

log = logging.getLogger(__name__)


def execute(
    store: Store,
    tenant: DemoTenant,
    action: PendingAction,
    *,
    actor: str,
    clock: Clock,
    new_id: IdFactory,
    on_progress: Callable[[int, int], None] | None = None,
) -> ActionStatus:
    """Move every target of an approved action and return the action's final status."""
    done = {
        row["message_id"]: row["result"]
        for row in store.db.query("SELECT message_id, result FROM action_results WHERE action_id = ?", [action.id])
    }
    destination = action.action_type.destination
    total = len(action.targets)
    for position, target in enumerate(action.targets, start=1):
        if target.message_id in done:
            continue
        row = store.db.execute("SELECT mailbox, key FROM messages WHERE id = ?", [target.message_id]).fetchone()
        new_key = new_path = ""
        error = ""
        from_folder = ""
        if row is None:
            result = TargetResult.NOT_FOUND
        else:
            mailbox, key = row
            try:
                if destination is None:
                    result, from_folder = tenant.delete_message(mailbox, key)
                else:
                    result, from_folder, path = tenant.move_message(mailbox, key, destination)
                    new_path = str(path) if path else ""
                    new_key = key
            except OSError as failure:
                result, error = TargetResult.FAILED, f"{type(failure).__name__}: {failure}"
                log.error("Action %s failed on message %s: %s", action.id, target.message_id, error)
        outcome = ActionTargetResult(
            action_id=action.id,
            message_id=target.message_id,
            mailbox=target.mailbox,
            result=result,
            from_folder=from_folder or target.folder,
            to_folder=destination.value if destination else "",
            error=error,
            time=clock(),
        )
        payload = {"result": {**outcome.model_dump(mode="json"), "new_key": new_key, "new_path": new_path}}
        ledger.append(store, [Event(id=new_id(), type=EventType.ACTION_TARGET_EXECUTED, actor=actor, time=outcome.time, payload=payload)])
        done[target.message_id] = result.value
        if on_progress is not None:
            on_progress(position, total)
    status = final_status(list(done.values()))
    ledger.append(
        store,
        [
            Event(
                id=new_id(),
                type=EventType.ACTION_COMPLETED,
                actor=actor,
                time=clock(),
                payload={"action_id": action.id, "status": status.value, "results": _tally(done)},
            )
        ],
    )
    return status


def final_status(results: list[str]) -> ActionStatus:
    failed = sum(1 for result in results if result == TargetResult.FAILED.value)
    if failed == 0:
        return ActionStatus.COMPLETED
    return ActionStatus.FAILED if failed == len(results) else ActionStatus.PARTIALLY_FAILED


def _tally(done: dict[str, str]) -> dict[str, int]:
    tally: dict[str, int] = {}
    for result in done.values():
        tally[result] = tally.get(result, 0) + 1
    return tally
