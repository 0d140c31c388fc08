"""Decide on an action in a process that kills itself at a chosen step.

Run as `python -m tests.core.crash_driver TENANT DATABASE MODE ACTION_ID CRASH_AT EFFECTS`.
MODE is approve, undo or resume. Every ledger append and every change to a mailbox or a setting
counts as a step; at step CRASH_AT (0 for never) the process sends itself SIGKILL just before the
step, as a power cut would. Each change the demo tenant really made is appended to the EFFECTS
file, flushed to disk, so the test can tell whether a resumed run repeated one. The number of
steps taken is printed on exit.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from air_tui.remediation import mail
from air_tui.service import AirService
from air_tui.store import ledger
from air_tui.tenant import demo
from air_tui.tenant.workspace import Workspace


def main() -> None:
    tenant, database, mode, action_id, crash_at_text, effects_path = sys.argv[1:7]
    crash_at = int(crash_at_text)
    steps = 0

    def step() -> None:
        nonlocal steps
        steps += 1
        if steps == crash_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def record(kind: str, target: str, result: str) -> None:
        with open(effects_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"kind": kind, "target": target, "result": result}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    original_append = ledger.append

    def append(store, events, **options):  # type: ignore[no-untyped-def]
        step()
        return original_append(store, events, **options)

    original_apply = mail.DemoMailBackend.apply

    def apply(self, moves):  # type: ignore[no-untyped-def]
        step()
        outcomes = original_apply(self, moves)
        for move, outcome in zip(moves, outcomes):
            record("message", move.ref.message_id, outcome.result.value)
        return outcomes

    original_remove = demo.DemoTenant._remove
    original_restore = demo.DemoTenant.restore_setting

    def remove(self, mailbox, kind, item_id):  # type: ignore[no-untyped-def]
        step()
        previous = original_remove(self, mailbox, kind, item_id)
        record("setting", f"{mailbox}:{kind}:{item_id}", "removed" if previous is not None else "absent")
        return previous

    def restore(self, mailbox, kind, previous):  # type: ignore[no-untyped-def]
        step()
        changed = original_restore(self, mailbox, kind, previous)
        record("setting", f"{mailbox}:{kind}", "restored" if changed else "present")
        return changed

    ledger.append = append
    mail.DemoMailBackend.apply = apply
    demo.DemoTenant._remove = remove
    demo.DemoTenant.restore_setting = restore
    with AirService(Workspace(tenant_dir=Path(tenant), database=Path(database)), analyst="ana") as service:
        if mode == "approve":
            service.approve(action_id, comment="crash test")
        elif mode == "undo":
            service.undo(action_id, comment="crash test")
        else:
            service.resume_approved()
    print(json.dumps({"steps": steps}))


if __name__ == "__main__":
    main()
