"""Time team sync of a large ledger through a CouchDB-compatible server, against bare HTTP and a bare append.

Run with `.venv/bin/python benchmarks/bench_sync.py [COUNT]` (default 100,000 events), from the
repository root, with pouchdb-server installed (`npm ci --prefix tests/sync/pouchdb`). The script
investigates a copy of the demo tenant once and repeats its ledger events with fresh ids until
there are COUNT of them. It appends them to a first console's store in batches of 1,000, then
starts its own in-memory pouchdb-server on 127.0.0.1 and measures, in the same process:

- push: `Replicator.push()` of every event, against POSTing the same documents to `_bulk_docs`
  of another database with a bare httpx client, 1,000 per request;
- the first console's next `sync_now()`, which reads its own pushed events back;
- pull: `Replicator.pull()` into an empty store, against reading the same `_changes` pages with
  a bare httpx client (no SQLite), and against the `ledger.append` calls that built the first
  store (the local cost floor);
- catch-up: a second console opening `AirService` on an empty store and calling `sync_now()`,
  which is what an analyst waits for.

`--profile` runs push and pull under cProfile and prints the top 15 functions of each by own
time to standard error. The profiler slows the run, so take timings from a run without it.
The figures go to standard output as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from air_tui.domain.config import Config  # noqa: E402
from air_tui.domain.event import Event  # noqa: E402
from air_tui.domain.ids import system_clock, ulid_factory  # noqa: E402
from air_tui.service import AirService  # noqa: E402
from air_tui.store import ledger  # noqa: E402
from air_tui.store.database import Store  # noqa: E402
from air_tui.sync import TeamSync  # noqa: E402
from air_tui.sync.replicator import event_doc  # noqa: E402
from air_tui.tenant.workspace import Workspace  # noqa: E402
from tests.sync.couchserver import LOCAL_BINARY as POUCHDB_SERVER, CouchServer, CouchServerError  # noqa: E402

DEMO = REPOSITORY / "fixtures" / "demo-tenant"
DATABASE = "air-tui-bench"
BASELINE_DATABASE = "baseline-bulk-docs"
WARM_UP_DATABASE = "warm-up"
BATCH_SIZE = 1000
REQUEST_TIMEOUT_SECONDS = 120.0

# Payload keys whose values name a shared catalogue entry (an alert policy), not a record of
# this tenant, so every copy keeps them.
SHARED_ID_KEYS = frozenset({"policy_id"})

# Tables whose row counts show that the copies did not overwrite one another.
PROJECTION_SAMPLE = ("alerts", "investigations", "investigation_log", "actions", "entities")

Result = TypeVar("Result")


# The ledger ---------------------------------------------------------------------------------


def investigated_events(root: Path) -> list[Event]:
    """Investigate a copy of the demo tenant and return its ledger events in clock order."""
    tenant = root / "tenant"
    shutil.copytree(DEMO, tenant, ignore=shutil.ignore_patterns(".keep"))
    workspace = Workspace(tenant_dir=tenant, database=root / "air-tui.db")
    with AirService(workspace, analyst="bench", config=Config()) as service:
        service.investigate()
        return list(ledger.iter_events(service.store))


def record_ids(value: object, found: set[str]) -> None:
    """Collect every string under an `id`, `*_id` or `*_ids` key, the keys projections find their rows by."""
    if isinstance(value, dict):
        for key, item in value.items():
            is_id = isinstance(key, str) and (key == "id" or key.endswith("_id")) and key not in SHARED_ID_KEYS
            if is_id and isinstance(item, str) and item:
                found.add(item)
            elif isinstance(key, str) and key.endswith("_ids") and isinstance(item, list):
                found.update(entry for entry in item if isinstance(entry, str) and entry)
            else:
                record_ids(item, found)
    elif isinstance(value, list):
        for item in value:
            record_ids(item, found)


def renamed(value: Any, ids: set[str], suffix: str) -> Any:
    """Copy a payload with every string equal to a record id given `suffix`.

    Matching whole strings anywhere, not only under id keys, also renames references such as an
    entity's `key`, which holds a message id, so each copy stays consistent within itself.
    """
    if isinstance(value, str):
        return value + suffix if value in ids else value
    if isinstance(value, dict):
        return {key: renamed(item, ids, suffix) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed(item, ids, suffix) for item in value]
    return value


def repeated_events(template: list[Event], count: int) -> Iterator[Event]:
    """Yield `count` events: copies of `template` with fresh event ids and per-copy record ids.

    Without per-copy record ids every copy would overwrite the same alert, investigation and
    action rows, and the projections would stay at the size of one demo tenant.
    """
    ids: set[str] = set()
    for event in template:
        record_ids(event.payload, ids)
    produced = 0
    copy = 0
    while produced < count:
        suffix = f"-c{copy:05d}"
        for event in template:
            if produced == count:
                return
            payload = renamed(event.payload, ids, suffix)
            yield Event(id=ulid_factory(), type=event.type, actor=event.actor, time=event.time, payload=payload)
            produced += 1
        copy += 1


def batches(items: Iterator[Result], size: int) -> Iterator[list[Result]]:
    batch: list[Result] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def build_ledger(path: Path, template: list[Event], count: int) -> float:
    """Append `count` events to a new store in batches and return the seconds spent inside `ledger.append`."""
    appending = 0.0
    with Store(path) as store:
        for batch in batches(repeated_events(template, count), BATCH_SIZE):
            began = time.perf_counter()
            appended = ledger.append(store, batch)
            appending += time.perf_counter() - began
            assert len(appended) == len(batch), "an event id was generated twice"
        # Move the write-ahead log into the main file, so its size is the ledger's size on disk.
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return appending


def size_on_disk(path: Path) -> int:
    return sum(candidate.stat().st_size for candidate in (path, path.with_name(path.name + "-wal")) if candidate.exists())


# Measurements -------------------------------------------------------------------------------


@dataclass
class Row:
    label: str
    seconds: float
    count: int
    ratios: str
    peak_rss_mb: float


def peak_rss_mb() -> float:
    """Return this process's peak resident memory so far in MB. Linux reports ru_maxrss in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(work: Callable[[], Result], *, profile: str = "") -> tuple[Result, float]:
    """Run `work` and return its result and wall-clock seconds. With `profile`, also print its top functions."""
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = work()
    if profiler is not None:
        profiler.disable()
    seconds = time.perf_counter() - began
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
        print(f"\n## cProfile: {profile}, top 15 by own time\n{text.getvalue()}", file=sys.stderr)
    return result, seconds


def warm_up(url: str, store: Store) -> None:
    """Write and read one batch in a scratch database, then delete it.

    The first requests to a new server also pay for its start-up work (Node compiles code as
    it first runs), and this keeps that cost out of the first measurement, the push baseline.
    """
    rows = list(store.db.query("SELECT seq, id, type, actor, time, payload, clock, origin FROM events ORDER BY seq LIMIT ?", [BATCH_SIZE]))
    with httpx.Client(base_url=f"{url}/{WARM_UP_DATABASE}", timeout=REQUEST_TIMEOUT_SECONDS) as client:
        client.put("").raise_for_status()
        client.post("/_bulk_docs", json={"docs": [event_doc(row, "warm-up") for row in rows]}).raise_for_status()
        client.get("/_changes", params={"include_docs": "true", "limit": BATCH_SIZE}).raise_for_status()
        client.delete("").raise_for_status()


def baseline_bulk_docs(url: str, database: str, store: Store, replica: str) -> float:
    """POST every event of `store` to a new `database` with a bare client; return the seconds spent in the POSTs.

    The documents are built with the replicator's own `event_doc` outside the timed part, so
    the baseline is JSON encoding, HTTP and the server's work alone.
    """
    with httpx.Client(base_url=f"{url}/{database}", timeout=REQUEST_TIMEOUT_SECONDS) as client:
        client.put("").raise_for_status()
        seconds = 0.0
        last = 0
        while True:
            rows = list(
                store.db.query(
                    "SELECT seq, id, type, actor, time, payload, clock, origin FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                    [last, BATCH_SIZE],
                )
            )
            if not rows:
                return seconds
            docs = [event_doc(row, replica) for row in rows]
            began = time.perf_counter()
            response = client.post("/_bulk_docs", json={"docs": docs})
            seconds += time.perf_counter() - began
            response.raise_for_status()
            answers = response.json()
            assert all(answer.get("ok") for answer in answers), f"the baseline batch after seq {last} was not stored"
            last = rows[-1]["seq"]


def baseline_changes(url: str) -> int:
    """Read and JSON-decode every `_changes` page of the team database as the client does, and return the documents read."""
    documents = 0
    since = "0"
    params: dict[str, Any] = {"limit": BATCH_SIZE, "include_docs": "true", "style": "main_only"}
    with httpx.Client(base_url=f"{url}/{DATABASE}", timeout=REQUEST_TIMEOUT_SECONDS) as client:
        while True:
            response = client.get("/_changes", params={**params, "since": since})
            response.raise_for_status()
            body = response.json()
            results = body["results"]
            documents += sum(1 for row in results if isinstance(row.get("doc"), dict))
            last_seq = body["last_seq"]
            since = last_seq if isinstance(last_seq, str) else json.dumps(last_seq)
            if not results or body.get("pending") == 0:
                return documents


def team_config(url: str) -> Config:
    return Config.model_validate({"sync": {"url": url, "database": DATABASE, "batch_size": BATCH_SIZE}})


def run(count: int, root: Path, *, profile: bool) -> None:
    rss_start = peak_rss_mb()
    template = investigated_events(root / "template")
    first = root / "first" / "air-tui.db"
    append_seconds = build_ledger(first, template, count)
    ledger_bytes = size_on_disk(first)
    rss_built = peak_rss_mb()
    rows: list[Row] = []

    if not os.access(POUCHDB_SERVER, os.X_OK):
        raise SystemExit(f"pouchdb-server was not found at {POUCHDB_SERVER}: run `npm ci --prefix tests/sync/pouchdb` first.")
    try:
        server = CouchServer(root / "pouchdb", binary=POUCHDB_SERVER).start()
    except CouchServerError as error:
        raise SystemExit(str(error)) from error
    try:
        config = team_config(server.url)
        with Store(first) as store:
            team = TeamSync(store, config.sync, analyst="bench-first", clock=system_clock)
            try:
                warm_up(server.url, store)
                # The server's speed changes during a run as it warms up and fills, so the
                # baseline runs once before and once after the push, and the push is compared
                # with their mean.
                before = baseline_bulk_docs(server.url, f"{BASELINE_DATABASE}-before", store, team.replicator.replica_id)
                pushed, push_seconds = timed(team.replicator.push, profile="Replicator.push" if profile else "")
                assert pushed == count, f"pushed {pushed} of {count} events"
                after = baseline_bulk_docs(server.url, f"{BASELINE_DATABASE}-after", store, team.replicator.replica_id)
                bulk_seconds = (before + after) / 2
                rows.append(
                    Row(
                        f"baseline: POST the same documents to `_bulk_docs` (bare httpx; mean of {before:.2f} s before the push and {after:.2f} s after)",
                        bulk_seconds,
                        count,
                        "1.00x",
                        peak_rss_mb(),
                    )
                )
                rows.append(Row("push: `Replicator.push()`", push_seconds, count, f"{push_seconds / bulk_seconds:.2f}x bulk", peak_rss_mb()))
                echo, echo_seconds = timed(team.sync_now)
                assert not echo.error, echo.error
                assert echo.pulled == 0, f"the first console's own events came back as new: {echo}"
                assert echo.pushed == 0, f"the first console pushed again: {echo}"
                rss_echo = peak_rss_mb()
            finally:
                team.close()

        documents, changes_seconds = timed(lambda: baseline_changes(server.url))
        # The team database also contains the one marker document that identifies it.
        assert documents == count + 1, f"read {documents} documents from _changes, expected {count + 1}"
        rows.append(Row("baseline: read every `_changes` page with include_docs and decode it (bare httpx, no SQLite)", changes_seconds, count, "1.00x", peak_rss_mb()))
        rows.append(Row("baseline: `ledger.append` of the same events into an empty store (while building it)", append_seconds, count, "1.00x", rss_built))

        with Store(root / "second" / "air-tui.db") as store:
            team = TeamSync(store, config.sync, analyst="bench-second", clock=system_clock)
            try:
                report, pull_seconds = timed(team.replicator.pull, profile="Replicator.pull" if profile else "")
            finally:
                team.close()
        assert report.pulled == count, f"pulled {report.pulled} of {count} events"
        assert not report.rejected, f"{report.rejected} documents were rejected"
        rows.append(
            Row(
                "pull into an empty store: `Replicator.pull()`",
                pull_seconds,
                count,
                f"{pull_seconds / changes_seconds:.2f}x changes, {pull_seconds / append_seconds:.2f}x append",
                peak_rss_mb(),
            )
        )

        rows.append(
            Row(
                "first console's next `sync_now()`: reads its own pushed events back",
                echo_seconds,
                count,
                f"{echo_seconds / changes_seconds:.2f}x changes",
                rss_echo,
            )
        )

        third = root / "third"
        shutil.copytree(DEMO, third / "tenant", ignore=shutil.ignore_patterns(".keep"))
        workspace = Workspace(tenant_dir=third / "tenant", database=third / "air-tui.db")

        def catch_up() -> Any:
            with AirService(workspace, analyst="bench-third", config=config) as service:
                return service.sync_now()

        def projection_rows(path: Path) -> dict[str, int]:
            with Store(path) as store:
                return {table: int(store.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]) for table in PROJECTION_SAMPLE}

        caught_up, catch_up_seconds = timed(catch_up)
        assert not caught_up.error, caught_up.error
        assert caught_up.pulled == count, f"the catch-up pulled {caught_up.pulled} of {count} events"
        projections = projection_rows(workspace.database)
        assert projections == projection_rows(first), f"the consoles' projections differ: {projections} and {projection_rows(first)}"
        rows.append(
            Row(
                "second console catches up from empty: open `AirService` + `sync_now()`",
                catch_up_seconds,
                count,
                f"{catch_up_seconds / changes_seconds:.2f}x changes, {catch_up_seconds / append_seconds:.2f}x append",
                peak_rss_mb(),
            )
        )
        server_rss = server.peak_rss_mb()
    finally:
        server.stop()

    print(f"{count:,} events ({len(template)}-event demo ledger repeated), batches of {BATCH_SIZE:,}; ledger on disk {ledger_bytes / 1e6:.1f} MB\n")
    print("Projection rows on every console: " + ", ".join(f"{rows:,} {table}" for table, rows in projections.items()) + ".\n")
    print("| what | seconds | events/s | ratio to baseline | peak RSS after (MB) |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row.label} | {row.seconds:.2f} | {row.count / row.seconds:,.0f} | {row.ratios} | {row.peak_rss_mb:,.0f} |")
    server_text = f"{server_rss:,.0f} MB" if server_rss is not None else "not available"
    print(f"\nPeak RSS of this process: {rss_start:,.0f} MB at start, {peak_rss_mb():,.0f} MB at the end. pouchdb-server: {server_text}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000, help="events in the ledger (default 100,000)")
    parser.add_argument("--profile", action="store_true", help="print the top 15 functions of push and pull by own time (cProfile) to standard error")
    arguments = parser.parse_args()
    if arguments.count < 1:
        parser.error("COUNT must be at least 1")
    with tempfile.TemporaryDirectory(prefix="air-tui-bench-sync-") as directory:
        run(arguments.count, Path(directory), profile=arguments.profile)


if __name__ == "__main__":
    main()
