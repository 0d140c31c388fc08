"""Run an approved action against the tenant, one recorded result per message or setting.

Each target's result is committed as its own ledger event before the next target moves, and a
target that already has a result is skipped, so an execution interrupted by a crash resumes
without repeating or losing a move.

An action on a mailbox setting first records the setting as it is, then removes it, then
records the result, so the setting can be put back even after a crash between the two.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from air_tui.domain.action import ActionTargetResult, PendingAction, SettingTarget
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.vocab import ActionStatus, ActionType, TargetResult
from air_tui.store import Store, ledger
from air_tui.tenant.demo import (
    SETTING_DELEGATION,
    SETTING_FORWARDING,
    SETTING_INBOX_RULE,
    DemoTenant,
    TenantError,
)

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
    """Move every target of an approved action, or remove its mailbox setting, and return the action's final status."""
    if not action.action_type.on_messages:
        return _execute_setting(store, tenant, action, actor=actor, clock=clock, new_id=new_id, on_progress=on_progress)
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


SETTING_KINDS = {
    ActionType.REMOVE_FORWARDING: SETTING_FORWARDING,
    ActionType.REMOVE_INBOX_RULE: SETTING_INBOX_RULE,
    ActionType.REMOVE_DELEGATION: SETTING_DELEGATION,
}
"""The kind of mailbox setting each setting action removes."""

STAGE_STARTED = "started"
STAGE_FINISHED = "finished"
_UNCONFIRMED = "The change was started but its result was not recorded; resuming the action finishes it."


def setting_target_id(action_type: ActionType, setting: SettingTarget) -> str:
    """Return the stable id a setting action's result row carries in place of a message id."""
    target_id = f"setting:{setting.mailbox.lower()}:{SETTING_KINDS[action_type]}"
    return f"{target_id}:{setting.item_id}" if setting.item_id else target_id


def _execute_setting(
    store: Store,
    tenant: DemoTenant,
    action: PendingAction,
    *,
    actor: str,
    clock: Clock,
    new_id: IdFactory,
    on_progress: Callable[[int, int], None] | None,
) -> ActionStatus:
    """Remove the action's mailbox setting once, with the setting as it was in the ledger.

    Two events carry the target's result row: one before the change, with the setting as read
    and the result Failed in case the change never finishes, and one after it with the real
    result. A resumed action whose last event is the first kind runs the removal again, which
    finds the setting gone if the earlier run removed it, and keeps the recorded setting.
    """
    setting = action.setting
    if setting is None or action.action_type not in SETTING_KINDS:
        raise ValueError(f"Action {action.id} ({action.action_type.value}) names no mailbox setting to remove.")
    kind = SETTING_KINDS[action.action_type]
    target_id = setting_target_id(action.action_type, setting)
    recorded = _setting_events(store, action.id, target_id)
    last = recorded[-1] if recorded else None
    if last is not None and last.get("stage") != STAGE_STARTED:
        result = TargetResult(last["result"]["result"])
    else:
        if last is None:
            try:
                before = tenant.current_setting(setting.mailbox, kind, setting.item_id)
            except TenantError as failure:
                before = None
                log.error("Action %s cannot read the %s setting of %s: %s", action.id, kind, setting.mailbox, failure)
            _record_setting(store, action, target_id, TargetResult.FAILED, before, actor=actor, clock=clock, new_id=new_id, error=_UNCONFIRMED, stage=STAGE_STARTED)
        else:
            before = last["result"].get("previous")
        result, previous, error = _remove_setting(tenant, action, kind, setting, before)
        _record_setting(store, action, target_id, result, previous, actor=actor, clock=clock, new_id=new_id, error=error, stage=STAGE_FINISHED)
    if on_progress is not None:
        on_progress(1, 1)
    status = final_status([result.value])
    ledger.append(
        store,
        [
            Event(
                id=new_id(),
                type=EventType.ACTION_COMPLETED,
                actor=actor,
                time=clock(),
                payload={"action_id": action.id, "status": status.value, "results": {result.value: 1}},
            )
        ],
    )
    return status


def _remove_setting(
    tenant: DemoTenant, action: PendingAction, kind: str, setting: SettingTarget, before: dict[str, Any] | None
) -> tuple[TargetResult, dict[str, Any] | None, str]:
    """Remove the setting and return the result, the setting as it was, and the error if any."""
    try:
        if kind == SETTING_FORWARDING:
            removed = tenant.remove_forwarding(setting.mailbox)
        elif kind == SETTING_INBOX_RULE:
            removed = tenant.remove_inbox_rule(setting.mailbox, setting.item_id)
        else:
            removed = tenant.remove_delegation(setting.mailbox, setting.item_id)
    except (OSError, TenantError) as failure:
        error = f"{type(failure).__name__}: {failure}"
        log.error("Action %s failed on the %s setting of %s: %s", action.id, kind, setting.mailbox, error)
        return TargetResult.FAILED, before, error
    if removed is not None:
        log.info("Action %s removed the %s setting %r of %s", action.id, kind, setting.item_id, setting.mailbox)
        return TargetResult.SUCCEEDED, removed, ""
    if before is not None:
        # Read before the change and gone now: an interrupted run of this action removed it.
        return TargetResult.SUCCEEDED, before, ""
    return TargetResult.NOT_FOUND, None, ""


def _record_setting(
    store: Store,
    action: PendingAction,
    target_id: str,
    result: TargetResult,
    previous: dict[str, Any] | None,
    *,
    actor: str,
    clock: Clock,
    new_id: IdFactory,
    error: str,
    stage: str,
) -> None:
    assert action.setting is not None
    outcome = ActionTargetResult(action_id=action.id, message_id=target_id, mailbox=action.setting.mailbox, result=result, error=error, time=clock())
    row = {**outcome.model_dump(mode="json"), "previous": previous, "setting": SETTING_KINDS[action.action_type], "item_id": action.setting.item_id}
    payload = {"result": row, "stage": stage}
    ledger.append(store, [Event(id=new_id(), type=EventType.ACTION_TARGET_EXECUTED, actor=actor, time=outcome.time, payload=payload)])


def _setting_events(store: Store, action_id: str, target_id: str) -> list[dict[str, Any]]:
    """Return the payloads of the target's result events, oldest first."""
    rows = store.db.execute(
        "SELECT payload FROM events WHERE type = ? AND json_extract(payload, '$.result.action_id') = ? "
        "AND json_extract(payload, '$.result.message_id') = ? ORDER BY seq",
        [EventType.ACTION_TARGET_EXECUTED.value, action_id, target_id],
    )
    return [json.loads(row[0]) for row in rows]


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
