"""Run an approved action, or its undo, exactly once, with one recorded result per target.

The order of writes is what makes a crash harmless:

1. `action.execution_started` names the process that claimed the run (the action center writes it).
2. `action.targets_started` records the intent for a batch of targets: where each one is and
   where it goes (or, for a setting or an account, the state as it was), before anything changes.
3. The backend changes the targets. Every backend operation is safe to repeat.
4. `action.target_executed` records each target's result.
5. `action.completed` records the action's final status.

A run resumed after a crash skips targets that have a result and repeats the operation for
targets that have only an intent. A repeated move finds the message already in its destination,
and the recorded intent tells that this run moved it there, so the result reads Succeeded with
the folder it came from, and an undo can send it back.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from air_tui.domain.action import ActionTargetResult, InvestigationTarget, PendingAction, SettingTarget
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.vocab import ActionPhase, ActionStatus, ActionType, TargetResult
from air_tui.remediation.mail import BackendError, MailBackend, MessageRef, Move, Outcome
from air_tui.store import Store, ledger, queries
from air_tui.tenant.demo import (
    SETTING_DELEGATION,
    SETTING_FORWARDING,
    SETTING_INBOX_RULE,
    DemoTenant,
    TenantError,
)

log = logging.getLogger(__name__)

SETTING_KINDS = {
    ActionType.REMOVE_FORWARDING: SETTING_FORWARDING,
    ActionType.REMOVE_INBOX_RULE: SETTING_INBOX_RULE,
    ActionType.REMOVE_DELEGATION: SETTING_DELEGATION,
}
"""The kind of mailbox setting each setting action removes."""

_DONE_RESULTS = (TargetResult.SUCCEEDED.value, TargetResult.ALREADY_IN_DESTINATION.value, TargetResult.SUBMITTED.value)
"""Results that mean a message is where an action of that type puts it."""


@dataclass
class Execution:
    """Everything one run of an action needs besides the action itself."""

    store: Store
    tenant: DemoTenant
    mail: MailBackend
    actor: str
    clock: Clock
    new_id: IdFactory
    duplicate_window: timedelta = timedelta(hours=1)
    start_investigation: Callable[[InvestigationTarget, str], str] | None = None
    """Starts a manual investigation from a source id and returns the alert's id; the same source id
    returns the same alert, so a resumed Start investigation action starts nothing twice."""
    on_progress: Callable[[int, int], None] | None = None
    events: list[str] = field(default_factory=list)
    """Ids of the events this run appended, for tests and logs."""

    def append(self, events: list[Event]) -> None:
        ledger.append(self.store, events)
        self.events.extend(event.id for event in events)

    def event(self, event_type: EventType, payload: dict[str, Any], time: datetime | None = None) -> Event:
        return Event(id=self.new_id(), type=event_type, actor=self.actor, time=time or self.clock(), payload=payload)


def executor_identity(clock: Clock) -> dict[str, Any]:
    """Name this process, so another console can tell a live run from one a crash left behind."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": clock().isoformat()}


def executor_alive(executor: dict[str, Any]) -> bool:
    """Return whether the process that claimed a run still exists on this host.

    A run claimed on another host counts as alive: only that host can tell.
    """
    if not executor:
        return False
    if executor.get("host") != socket.gethostname():
        return True
    pid = executor.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int) -> ActionStatus:
    """Run one phase of an approved action to its end and return the action's final status.

    The caller claims the run first (`action.execution_started`), so a slot is taken before any effect.
    """
    if action.action_type.on_messages:
        _run_messages(execution, action, phase, attempt)
    elif action.action_type.on_settings:
        _run_setting(execution, action, phase, attempt)
    elif action.action_type.block_kind is not None:
        _run_block(execution, action, phase)
    elif action.action_type is ActionType.DISABLE_USER:
        _run_account(execution, action, phase, attempt)
    elif action.action_type is ActionType.START_INVESTIGATION:
        _run_investigation(execution, action)
    else:  # pragma: no cover - every action type has a branch above
        raise ValueError(f"No executor for action type {action.action_type.value}.")
    results = queries.action_results(execution.store, action.id, undo=phase is ActionPhase.UNDO)
    status = final_status([row["result"] for row in results])
    tally: dict[str, int] = {}
    for row in results:
        tally[row["result"]] = tally.get(row["result"], 0) + 1
    execution.append(
        [execution.event(EventType.ACTION_COMPLETED, {"action_id": action.id, "phase": phase.value, "status": status.value, "results": tally})]
    )
    return ActionStatus.UNDONE if phase is ActionPhase.UNDO and status is ActionStatus.COMPLETED else status


def final_status(results: list[str]) -> ActionStatus:
    failed = sum(1 for result in results if result == TargetResult.FAILED.value)
    if failed == 0:
        return ActionStatus.COMPLETED
    return ActionStatus.FAILED if failed == len(results) else ActionStatus.PARTIALLY_FAILED


# Messages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MessageTarget:
    ref: MessageRef
    destination: str | None
    """Folder to move to; None purges."""


def _message_targets(execution: Execution, action: PendingAction, phase: ActionPhase) -> list[_MessageTarget]:
    """Return the copies this phase works through, located as the store records them now."""
    store = execution.store
    if phase is ActionPhase.DO:
        destination = action.action_type.destination
        wanted = [(target.message_id, target.mailbox, target.folder, destination.value if destination else None) for target in action.targets]
    else:
        # An undo sends back only what this action moved; a copy that was already in place stays.
        wanted = [
            (row["message_id"], row["mailbox"], row["from_folder"], row["from_folder"])
            for row in queries.action_results(store, action.id)
            if row["result"] in (TargetResult.SUCCEEDED.value, TargetResult.SUBMITTED.value) and row["from_folder"]
        ]
    rows = {
        row["id"]: row
        for row in store.db.query(
            f"SELECT id, mailbox, folder, key, internet_message_id FROM messages WHERE id IN ({','.join('?' * len(wanted))})",
            [message_id for message_id, *_ in wanted],
        )
    } if wanted else {}
    targets = []
    for message_id, mailbox, folder, destination in wanted:
        row = rows.get(message_id)
        ref = MessageRef(
            message_id=message_id,
            mailbox=row["mailbox"] if row else mailbox,
            folder=(row["folder"] if row else folder) or folder,
            internet_message_id=row["internet_message_id"] if row else "",
            key=row["key"] if row else "",
        )
        targets.append(_MessageTarget(ref, destination))
    return targets


def _run_messages(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int) -> None:
    store = execution.store
    undo = phase is ActionPhase.UNDO
    targets = _message_targets(execution, action, phase)
    done = {row["message_id"] for row in queries.action_results(store, action.id, undo=undo)}
    intents = queries.action_intents(store, action.id, phase.value)
    todo = [target for target in targets if target.ref.message_id not in done]
    total = len(targets)
    finished = total - len(todo)
    if not undo:
        todo = _skip_duplicates(execution, action, todo)
        finished = total - len(todo)
    size = max(1, execution.mail.batch_size)
    for start in range(0, len(todo), size):
        batch = todo[start : start + size]
        resumed = {target.ref.message_id: intents[target.ref.message_id] for target in batch if target.ref.message_id in intents}
        fresh = [target for target in batch if target.ref.message_id not in resumed]
        planned: dict[str, str] = {message_id: intent["from_folder"] for message_id, intent in resumed.items()}
        if fresh:
            for target in fresh:
                planned[target.ref.message_id] = _locate(execution.mail, target.ref)
            _record_intents(
                execution,
                action,
                phase,
                attempt,
                [
                    {"target_id": target.ref.message_id, "mailbox": target.ref.mailbox, "from_folder": planned[target.ref.message_id], "destination": target.destination}
                    for target in fresh
                ],
            )
        try:
            outcomes = execution.mail.apply([Move(target.ref, target.destination) for target in batch])
        except BackendError as error:
            # The backend cannot work at all (credentials, server): every target left fails with
            # the reason, and a retry decision runs them once it is fixed.
            log.error("Action %s stopped: %s", action.id, error)
            rest = todo[start:]
            failed = [
                _result_event(execution, action, phase, target.ref.message_id, target.ref.mailbox, Outcome(TargetResult.FAILED, from_folder=planned.get(target.ref.message_id, ""), error=str(error)))
                for target in rest
            ]
            execution.append(failed)
            if execution.on_progress is not None:
                execution.on_progress(total, total)
            return
        events = []
        for target, outcome in zip(batch, outcomes, strict=True):
            outcome = _settle(outcome, target, planned[target.ref.message_id], resumed=target.ref.message_id in resumed)
            events.append(_result_event(execution, action, phase, target.ref.message_id, target.ref.mailbox, outcome))
        execution.append(events)
        finished += len(batch)
        if execution.on_progress is not None:
            execution.on_progress(finished, total)


def _locate(mail: MailBackend, ref: MessageRef) -> str:
    try:
        return mail.locate(ref) or ""
    except Exception as error:  # noqa: BLE001 - a failed look-up only loses the folder hint
        log.warning("Cannot locate message %s in %s before acting: %s", ref.message_id, ref.mailbox, error)
        return ref.folder


def _settle(outcome: Outcome, target: _MessageTarget, planned_from: str, *, resumed: bool) -> Outcome:
    """Turn a repeated operation's outcome into what the first, interrupted one did.

    Only a target whose intent was recorded by an earlier run is read this way: that run may
    have moved or purged the message just before the crash.
    """
    if not resumed or not planned_from or planned_from == target.destination:
        if not outcome.from_folder and planned_from and outcome.result is not TargetResult.NOT_FOUND:
            outcome.from_folder = planned_from
        return outcome
    if target.destination is not None and outcome.result is TargetResult.ALREADY_IN_DESTINATION:
        return Outcome(TargetResult.SUCCEEDED, from_folder=planned_from, to_folder=target.destination, detail=outcome.detail)
    if target.destination is None and outcome.result is TargetResult.NOT_FOUND:
        return Outcome(TargetResult.SUCCEEDED, from_folder=planned_from)
    return outcome


def _skip_duplicates(execution: Execution, action: PendingAction, targets: list[_MessageTarget]) -> list[_MessageTarget]:
    """Record, without acting, the copies another action of the same type handled within the window.

    Two overlapping investigations propose the same cluster; approving both within the hour must
    not move or purge the messages twice. Returns the targets still to act on.
    """
    if not targets:
        return targets
    since = (execution.clock() - execution.duplicate_window).isoformat()
    handled: dict[str, tuple[str, str]] = {}
    ids = [target.ref.message_id for target in targets]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        for row in execution.store.db.query(
            "SELECT action_results.message_id, action_results.action_id, action_results.time FROM action_results "
            "JOIN actions ON actions.id = action_results.action_id "
            f"WHERE action_results.message_id IN ({','.join('?' * len(chunk))}) AND actions.action_type = ? "
            "AND action_results.action_id != ? AND action_results.time >= ? "
            f"AND action_results.result IN ({','.join('?' * len(_DONE_RESULTS))}) AND action_results.note = ''",
            [*chunk, action.action_type.value, action.id, since, *_DONE_RESULTS],
        ):
            handled.setdefault(row["message_id"], (row["action_id"], row["time"]))
    if not handled:
        return targets
    events = []
    for target in targets:
        if target.ref.message_id in handled:
            other, when = handled[target.ref.message_id]
            note = f"Handled by action {other} at {when[:16].replace('T', ' ')} UTC; not run again."
            outcome = Outcome(TargetResult.ALREADY_IN_DESTINATION, from_folder=target.ref.folder, to_folder=target.destination or "")
            events.append(_result_event(execution, action, ActionPhase.DO, target.ref.message_id, target.ref.mailbox, outcome, note=note))
    execution.append(events)
    return [target for target in targets if target.ref.message_id not in handled]


def _result_event(
    execution: Execution,
    action: PendingAction,
    phase: ActionPhase,
    target_id: str,
    mailbox: str,
    outcome: Outcome,
    *,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> Event:
    result = ActionTargetResult(
        action_id=action.id,
        message_id=target_id,
        mailbox=mailbox,
        result=outcome.result,
        from_folder=outcome.from_folder,
        to_folder=outcome.to_folder,
        error=outcome.error,
        time=execution.clock(),
        phase=phase,
        note=note,
    )
    row = {**result.model_dump(mode="json"), "new_key": outcome.detail.get("new_key", ""), "new_path": outcome.detail.get("new_path", ""), **(extra or {})}
    return execution.event(EventType.ACTION_TARGET_EXECUTED, {"result": row, "detail": outcome.detail}, time=result.time)


# Mailbox settings -------------------------------------------------------------------------------


def setting_kind(action_type: ActionType, item_id: str) -> str:
    """Return the kind of setting an action removes: Remove forwarding that names a rule removes that rule."""
    if action_type is ActionType.REMOVE_FORWARDING and item_id:
        return SETTING_INBOX_RULE
    return SETTING_KINDS[action_type]


def setting_target_id(action_type: ActionType, setting: SettingTarget) -> str:
    """Return the stable id a setting action's result row carries in place of a message id."""
    target_id = f"setting:{setting.mailbox.lower()}:{setting_kind(action_type, setting.item_id)}"
    return f"{target_id}:{setting.item_id}" if setting.item_id else target_id


def _single_target_state(execution: Execution, action: PendingAction, phase: ActionPhase, target_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return (result row, intent row) of a one-target action's phase, either None when absent."""
    results = queries.action_results(execution.store, action.id, undo=phase is ActionPhase.UNDO)
    result = next((row for row in results if row["message_id"] == target_id), None)
    intent = queries.action_intents(execution.store, action.id, phase.value).get(target_id)
    return result, intent


def _record_intents(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int, targets: list[dict[str, Any]]) -> None:
    """Record where each target is and where it goes, before anything changes."""
    payload = {"action_id": action.id, "phase": phase.value, "attempt": attempt, "targets": targets}
    execution.append([execution.event(EventType.ACTION_TARGETS_STARTED, payload)])


def _record_intent(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int, target_id: str, mailbox: str, state: Any) -> None:
    # The state as read before the change travels in from_folder, as JSON, so one intent table
    # serves messages, settings and accounts.
    _record_intents(execution, action, phase, attempt, [{"target_id": target_id, "mailbox": mailbox, "from_folder": json.dumps(state), "destination": None}])


def _run_setting(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int) -> None:
    setting = action.setting
    if setting is None:
        raise ValueError(f"Action {action.id} ({action.action_type.value}) names no mailbox setting to remove.")
    kind = setting_kind(action.action_type, setting.item_id)
    target_id = setting_target_id(action.action_type, setting)
    result, intent = _single_target_state(execution, action, phase, target_id)
    if result is not None:
        return
    tenant = execution.tenant
    if phase is ActionPhase.UNDO:
        previous = _recorded_previous(execution, action, target_id)
        if previous is None:
            outcome = Outcome(TargetResult.NOT_FOUND, error="No setting was recorded before the change, so there is nothing to put back.")
        else:
            try:
                changed = tenant.restore_setting(setting.mailbox, kind, previous)
                outcome = Outcome(TargetResult.SUCCEEDED if changed else TargetResult.ALREADY_IN_DESTINATION)
            except (OSError, TenantError) as failure:
                outcome = Outcome(TargetResult.FAILED, error=f"{type(failure).__name__}: {failure}")
        execution.append([_result_event(execution, action, phase, target_id, setting.mailbox, outcome, extra={"previous": previous, "setting": kind, "item_id": setting.item_id})])
        return
    if intent is None:
        try:
            before = tenant.current_setting(setting.mailbox, kind, setting.item_id)
        except TenantError as failure:
            before = None
            log.error("Action %s cannot read the %s setting of %s: %s", action.id, kind, setting.mailbox, failure)
        _record_intent(execution, action, phase, attempt, target_id, setting.mailbox, before)
    else:
        before = json.loads(intent["from_folder"] or "null")
    outcome, previous = _remove_setting(tenant, action, kind, setting, before)
    execution.append([_result_event(execution, action, phase, target_id, setting.mailbox, outcome, extra={"previous": previous, "setting": kind, "item_id": setting.item_id})])


def _recorded_previous(execution: Execution, action: PendingAction, target_id: str) -> dict[str, Any] | None:
    """Return the state a setting or account had before the action changed it, as the ledger recorded it."""
    rows = execution.store.db.execute(
        "SELECT payload FROM events WHERE type = ? AND json_extract(payload, '$.result.action_id') = ? "
        "AND json_extract(payload, '$.result.message_id') = ? ORDER BY clock DESC, id DESC",
        [EventType.ACTION_TARGET_EXECUTED.value, action.id, target_id],
    )
    for (payload,) in rows:
        result = json.loads(payload)["result"]
        if result.get("phase", ActionPhase.DO.value) == ActionPhase.DO.value and result.get("previous"):
            return result["previous"]
    return None


def _remove_setting(tenant: DemoTenant, action: PendingAction, kind: str, setting: SettingTarget, before: dict[str, Any] | None) -> tuple[Outcome, dict[str, Any] | None]:
    """Remove the setting; return the outcome and the setting as it was."""
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
        return Outcome(TargetResult.FAILED, error=error), before
    if removed is not None:
        log.info("Action %s removed the %s setting %r of %s", action.id, kind, setting.item_id, setting.mailbox)
        return Outcome(TargetResult.SUCCEEDED), removed
    if before is not None:
        # Read before the change and gone now: an interrupted run of this action removed it.
        return Outcome(TargetResult.SUCCEEDED), before
    return Outcome(TargetResult.NOT_FOUND), None


# Block list, accounts, investigations -----------------------------------------------------------


def block_target_id(action: PendingAction) -> str:
    assert action.block is not None
    return f"block:{action.block.kind.value}:{action.block.value}"


def _run_block(execution: Execution, action: PendingAction, phase: ActionPhase) -> None:
    """Add or remove the block entry; the entry is ledger state, so the change and its result commit together."""
    block = action.block
    if block is None:
        raise ValueError(f"Action {action.id} ({action.action_type.value}) names no block entry.")
    target_id = block_target_id(action)
    result, _ = _single_target_state(execution, action, phase, target_id)
    if result is not None:
        return
    if phase is ActionPhase.DO:
        entry = {
            "id": action.id,
            "kind": block.kind.value,
            "value": block.value,
            "expires": block.expires.isoformat() if block.expires else "",
            "action_id": action.id,
        }
        change = [execution.event(EventType.BLOCK_ENTRY_ADDED, {"entry": entry})]
        outcome = Outcome(TargetResult.SUCCEEDED, to_folder="block list")
    else:
        active = {row["id"] for row in queries.block_entries(execution.store, active_at=execution.clock().isoformat())}
        if action.id in active:
            change = [execution.event(EventType.BLOCK_ENTRY_REMOVED, {"entry_id": action.id})]
            outcome = Outcome(TargetResult.SUCCEEDED, from_folder="block list")
        else:
            # Expired or removed already: nothing is left to take off the list.
            change = []
            outcome = Outcome(TargetResult.ALREADY_IN_DESTINATION)
    execution.append([*change, _result_event(execution, action, phase, target_id, "", outcome)])


def _run_account(execution: Execution, action: PendingAction, phase: ActionPhase, attempt: int) -> None:
    address = action.user
    target_id = f"user:{address.lower()}"
    result, intent = _single_target_state(execution, action, phase, target_id)
    if result is not None:
        return
    tenant = execution.tenant
    if phase is ActionPhase.UNDO:
        previous = _recorded_previous(execution, action, target_id)
        try:
            if previous is None:
                outcome = Outcome(TargetResult.NOT_FOUND, error="No account state was recorded before the change.")
            else:
                changed = tenant.restore_user(address, previous)
                outcome = Outcome(TargetResult.SUCCEEDED if changed else TargetResult.ALREADY_IN_DESTINATION)
        except (OSError, TenantError) as failure:
            outcome = Outcome(TargetResult.FAILED, error=f"{type(failure).__name__}: {failure}")
        execution.append([_result_event(execution, action, phase, target_id, address, outcome, extra={"previous": previous})])
        return
    user = tenant.user(address)
    if intent is None:
        before = None
        if user is not None:
            revoked = user.sessions_revoked_at.isoformat() if user.sessions_revoked_at else None
            before = {"enabled": user.enabled, "sessions_revoked_at": revoked}
        _record_intent(execution, action, phase, attempt, target_id, address, before)
    else:
        before = json.loads(intent["from_folder"] or "null")
    try:
        previous = tenant.disable_user(address, execution.clock().isoformat())
    except (OSError, TenantError) as failure:
        outcome, previous = Outcome(TargetResult.FAILED, error=f"{type(failure).__name__}: {failure}"), before
    else:
        if previous is None:
            outcome = Outcome(TargetResult.NOT_FOUND, error=f"No user {address} in the directory.")
        else:
            # A repeated run finds the account disabled already; the state recorded in the intent is the real "before".
            previous = before if intent is not None and before is not None else previous
            was_open = bool(previous.get("enabled", True)) or not previous.get("sessions_revoked_at")
            # An account that was disabled with its sessions revoked before this action is left as it
            # was, and its undo must not touch it: another action or an administrator disabled it.
            outcome = Outcome(TargetResult.SUCCEEDED if was_open else TargetResult.ALREADY_IN_DESTINATION)
    execution.append([_result_event(execution, action, phase, target_id, address, outcome, extra={"previous": previous})])


def _run_investigation(execution: Execution, action: PendingAction) -> None:
    target = action.investigate
    if target is None or execution.start_investigation is None:
        raise ValueError(f"Action {action.id} cannot start an investigation: it names no message, or no service runs it.")
    target_id = f"investigation:{target.message_id}:{target.on.value}"
    result, _ = _single_target_state(execution, action, ActionPhase.DO, target_id)
    if result is not None:
        return
    try:
        alert_id = execution.start_investigation(target, f"action:{action.id}")
        outcome = Outcome(TargetResult.SUCCEEDED, detail={"alert_id": alert_id})
    except Exception as failure:  # noqa: BLE001 - the reason is recorded as the target's result
        outcome = Outcome(TargetResult.FAILED, error=str(failure))
    execution.append([_result_event(execution, action, ActionPhase.DO, target_id, "", outcome)])
