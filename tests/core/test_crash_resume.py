"""Kill the process at every step of a decision, restart, and find the same end state with nothing done twice.

Each case first runs the decision without a crash to learn how many steps it takes and what it
leaves behind. Then, for every step, a copy of the same workspace gets the decision in a process
that dies just before that step, and a second process starts up and resumes. If the decision
itself never reached the disk, the analyst never saw it confirmed and decides again, as
they would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from air_tui.domain.config import Config
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, ActionType
from air_tui.service import AirService
from air_tui.store import ledger
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, FROZEN_START, REPOSITORY


def open_service(root: Path, prefix: str = "01READ") -> AirService:
    """Open the workspace; a service that writes needs a prefix no other writer used."""
    return AirService(
        Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db"),
        analyst="analyst1",
        clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix),
        config=Config(),
    )


@pytest.fixture(scope="module")
def investigated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    shutil.copytree(DEMO_TENANT, root / "tenant", ignore=shutil.ignore_patterns(".keep"))
    with open_service(root, "01CRSH") as service:
        service.investigate()
    return root


def drive(root: Path, mode: str, action_id: str, crash_at: int, effects: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    return subprocess.run(
        [sys.executable, "-m", "tests.core.crash_driver", str(root / "tenant"), str(root / "db" / "air-tui.db"), mode, action_id, str(crash_at), str(effects)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPOSITORY,
        timeout=120,
    )


def end_state(root: Path, action_id: str) -> dict:
    """What an analyst and the mailboxes see after the decision: statuses, results and files."""
    with open_service(root) as service:
        row = service.action_row(action_id)
        assert row is not None
        results = {
            phase: sorted((r["message_id"], r["result"], r["from_folder"], r["to_folder"]) for r in service.action_results(action_id, undo=phase == "undo"))
            for phase in ("do", "undo")
        }
        investigation = service.investigation_detail(row.action.investigation_id).investigation.status.value
        decisions = [(d.kind.value, d.analyst) for d in service.decisions(action_id)]
        problems = ledger.verify_chain(service.store)
    files = sorted(
        str(path.relative_to(root / "tenant"))
        for path in (root / "tenant" / "mailboxes").rglob("*")
        if path.is_file()
    )
    settings = json.loads((root / "tenant" / "settings" / "mailboxes.json").read_text())
    return {
        "status": row.action.status.value,
        "results": results,
        "investigation": investigation,
        "decisions": decisions,
        "chain_problems": problems,
        "files": files,
        "settings": settings,
    }


def effects(path: Path) -> Counter:
    """How often each change really happened, across every process of one run."""
    if not path.exists():
        return Counter()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return Counter((line["target"], line["result"]) for line in lines if line["result"] in ("Succeeded", "removed", "restored"))


def crash_every_step(investigated: Path, tmp_path: Path, prepare, mode: str) -> int:
    """Return how many crash points were checked, after checking each of them."""
    clean_root = tmp_path / "clean"
    shutil.copytree(investigated, clean_root)
    action_id = prepare(clean_root)
    baseline = tmp_path / "baseline"
    shutil.copytree(clean_root, baseline)
    clean_effects = tmp_path / "clean.effects"
    run = drive(clean_root, mode, action_id, 0, clean_effects)
    assert run.returncode == 0, run.stderr
    steps = json.loads(run.stdout)["steps"]
    expected = end_state(clean_root, action_id)
    expected_effects = effects(clean_effects)
    assert expected_effects, "the clean run changed something"
    assert expected["status"] in (ActionStatus.COMPLETED.value, ActionStatus.UNDONE.value)
    for crash_at in range(1, steps + 1):
        root = tmp_path / f"crash-{crash_at}"
        shutil.copytree(baseline, root)
        effects_file = tmp_path / f"crash-{crash_at}.effects"
        crashed = drive(root, mode, action_id, crash_at, effects_file)
        assert crashed.returncode == -9, f"step {crash_at}: the process was meant to die, got {crashed.returncode}: {crashed.stderr}"
        resumed = drive(root, "resume", action_id, 0, effects_file)
        assert resumed.returncode == 0, resumed.stderr
        with open_service(root) as service:
            never_recorded = (
                mode == "approve" and service.action_row(action_id).action.status is ActionStatus.PENDING
            ) or (mode == "undo" and not any(d.kind.value == "undo" for d in service.decisions(action_id)))
        if never_recorded:
            again = drive(root, mode, action_id, 0, effects_file)
            assert again.returncode == 0, again.stderr
        assert end_state(root, action_id) == expected, f"crash before step {crash_at} of {steps}"
        assert effects(effects_file) == expected_effects, f"crash before step {crash_at}: a change was repeated or lost"
        shutil.rmtree(root)
    return steps


def soft_delete_with_two_folders(root: Path) -> str:
    with open_service(root) as service:
        rows = service.actions(ActionStatus.PENDING)
        action = min(
            (row.action for row in rows if row.action.action_type is ActionType.SOFT_DELETE and len(row.action.targets) >= 2),
            key=lambda action: len(action.targets),
        )
        return action.id


def approved_soft_delete(root: Path) -> str:
    action_id = soft_delete_with_two_folders(root)
    with open_service(root, "01PREP") as service:
        service.approve(action_id)
    return action_id


def remove_forwarding(root: Path) -> str:
    with open_service(root) as service:
        return next(row.action.id for row in service.actions(ActionStatus.PENDING) if row.action.action_type is ActionType.REMOVE_FORWARDING)


def test_approval_survives_a_crash_at_every_step(investigated: Path, tmp_path: Path) -> None:
    assert crash_every_step(investigated, tmp_path, soft_delete_with_two_folders, "approve") >= 8


def test_undo_survives_a_crash_at_every_step(investigated: Path, tmp_path: Path) -> None:
    assert crash_every_step(investigated, tmp_path, approved_soft_delete, "undo") >= 8


def test_setting_removal_survives_a_crash_at_every_step(investigated: Path, tmp_path: Path) -> None:
    assert crash_every_step(investigated, tmp_path, remove_forwarding, "approve") >= 4
