"""Time the demo tenant's investigation and the console's first paint, against in-process baselines.

Run with `.venv/bin/python benchmarks/bench_demo.py`. Each figure is reported in seconds and as a
ratio to a baseline measured in the same process, so results from different machines compare:

- investigate: ingest, alerting and every investigation on a fresh copy of the demo tenant,
  against reading every message file's bytes (the floor any ingest has to pay);
- first paint: starting the console headless until the alert queue shows its rows, against a
  minimal Textual app with one DataTable of the same number of rows;
- fresh launch: the console on a copy never investigated before, as `make demo` starts the first
  time, until alerts show and until every investigation is done. These two have no baseline and
  are absolute seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from textual.app import App, ComposeResult  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

from air_tui.service import AirService  # noqa: E402
from air_tui.tenant.workspace import Workspace  # noqa: E402
from air_tui.tui.app import AirApp  # noqa: E402
from air_tui.tui.widgets.alert_queue import AlertQueue  # noqa: E402

DEMO = REPOSITORY / "fixtures" / "demo-tenant"
ROUNDS = 3


def fresh_workspace(base: Path, name: str) -> Workspace:
    tenant = base / name / "tenant"
    shutil.copytree(DEMO, tenant, ignore=shutil.ignore_patterns(".keep"))
    return Workspace(tenant_dir=tenant, database=base / name / "air-tui.db")


def read_all_bytes(tenant: Path) -> int:
    total = 0
    for path in (tenant / "mailboxes").rglob("*"):
        if path.is_file():
            total += len(path.read_bytes())
    return total


def time_investigation(base: Path, round_number: int) -> tuple[float, float, int]:
    workspace = fresh_workspace(base, f"investigate-{round_number}")
    began = time.perf_counter()
    read_all_bytes(workspace.tenant_dir)
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    with AirService(workspace, analyst="bench") as service:
        service.investigate()
        alerts = len(service.alert_queue())
    return time.perf_counter() - began, baseline, alerts


class BaselineApp(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("a", "b", "c")
        for number in range(self.rows):
            table.add_row(str(number), "b", "c")


async def first_paint(app: App[None], ready) -> float:
    began = time.perf_counter()
    async with app.run_test(size=(120, 36)) as pilot:
        while not ready(app):
            await pilot.pause(0.005)
        return time.perf_counter() - began


def time_first_paint(base: Path, round_number: int) -> tuple[float, float]:
    workspace = fresh_workspace(base, f"paint-{round_number}")
    with AirService(workspace, analyst="bench") as service:
        service.investigate()
        rows = len(service.alert_queue())
    console = AirApp(workspace=workspace, analyst="bench", bell_on_pending=False)
    measured = asyncio.run(first_paint(console, lambda app: app.query_one(AlertQueue).row_count >= rows))
    baseline = asyncio.run(first_paint(BaselineApp(rows), lambda app: app.query_one(DataTable).row_count >= rows))
    return measured, baseline


def time_fresh_launch(base: Path, round_number: int) -> tuple[float, float]:
    """Seconds from starting the console on a never-investigated copy until alerts show, and until every investigation is done."""
    workspace = fresh_workspace(base, f"fresh-{round_number}")
    console = AirApp(workspace=workspace, analyst="bench", bell_on_pending=False)

    async def measure() -> tuple[float, float]:
        began = time.perf_counter()
        async with console.run_test(size=(120, 36)) as pilot:
            while console.query_one(AlertQueue).row_count == 0:
                await pilot.pause(0.005)
            alerts_seen = time.perf_counter() - began
            while console.progress != "Ready":
                await pilot.pause(0.005)
            return alerts_seen, time.perf_counter() - began

    return asyncio.run(measure())


def main() -> None:
    os.environ.setdefault("AIR_TUI_DATA_DIR", tempfile.mkdtemp(prefix="air-tui-bench-data-"))
    with tempfile.TemporaryDirectory(prefix="air-tui-bench-") as folder:
        base = Path(folder)
        investigations = [time_investigation(base, n) for n in range(ROUNDS)]
        paints = [time_first_paint(base, n) for n in range(ROUNDS)]
        launches = [time_fresh_launch(base, n) for n in range(ROUNDS)]
    seconds = statistics.median(run[0] for run in investigations)
    floor = statistics.median(run[1] for run in investigations)
    paint = statistics.median(run[0] for run in paints)
    paint_floor = statistics.median(run[1] for run in paints)
    print(f"alerts: {investigations[0][2]}")
    print(f"investigate demo tenant: {seconds:.3f} s median of {ROUNDS}; read-bytes baseline {floor:.4f} s; ratio {seconds / floor:.0f}x")
    print(f"console first paint (headless, 120x36): {paint:.3f} s median of {ROUNDS}; minimal-app baseline {paint_floor:.3f} s; ratio {paint / paint_floor:.2f}x")
    alerts_seen = statistics.median(run[0] for run in launches)
    ready = statistics.median(run[1] for run in launches)
    print(f"fresh demo launch: alerts on screen after {alerts_seen:.3f} s, every investigation done after {ready:.3f} s (median of {ROUNDS})")


if __name__ == "__main__":
    main()
