"""Time the alert queue and the explorer over a tenant-sized store, against same-process baselines.

Run with `.venv/bin/python benchmarks/bench_scale.py` from the repository root (add
`--alerts N --messages N` for other sizes). The script builds a store in a temporary folder
through the `Store` class, so the schema and indexes are the product's, and inserts synthetic
rows with `executemany` in one transaction instead of parsing mail:

- 1,000,000 messages in 5,000 mailboxes, delivered over 183 days. 70% are in Inbox, the rest
  in Junk Email, Deleted Items, Sent Items, Archive and Recoverable Items. Senders come from
  20,000 domains with a long tail, and a fifth are internal. Subjects and short bodies come
  from templates and are indexed for full-text search. A third have links, 8% an attachment
  and 4% a verdict;
- 100,000 alerts over the same days, each with its investigation.

It then measures, each against a baseline in the same process:

- first paint of a Textual app showing the windowed `AlertQueue` over that store, against the
  same app over an empty store;
- cursor moves in that app (100 × down, 20 × page down, end), against the same keys in a
  minimal app with a Textual `DataTable` of 1,000 rows;
- the queue filter and a reload, as the console runs them on each key and each refresh;
- the explorer's `count` (capped at 10,000) and `window` for typical queries, against the
  cheapest capped count and a 100-row read by rowid range;
- first paint of the explorer screen over the million messages.

Every timing is a median of several runs. Build time and peak resident memory are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from unittest.mock import patch

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from textual.app import App, ComposeResult  # noqa: E402
from textual.geometry import Region  # noqa: E402
from textual.strip import Strip  # noqa: E402
from textual.widgets import DataTable  # noqa: E402

from air_tui.store import Store, queries  # noqa: E402
from air_tui.store import explorer  # noqa: E402
from air_tui.store.schema import create_schema  # noqa: E402
from air_tui.store.windows import StoreAlertSource  # noqa: E402
from air_tui.tui.screens import explorer as explorer_screen  # noqa: E402
from air_tui.tui.screens.explorer import ExplorerResults, ExplorerScreen  # noqa: E402
from air_tui.tui.widgets.alert_queue import AlertQueue  # noqa: E402

SIZE = (120, 36)
ROUNDS = 5
CHUNK = 50_000
START = datetime(2026, 6, 1, tzinfo=UTC)
DAYS = 183
MAILBOXES = 5_000
DOMAINS = 20_000
HOT_URL_DOMAIN = "secure-login-verify.example"
FOLDERS = {"Inbox": 70, "Junk Email": 9, "Deleted Items": 8, "Sent Items": 8, "Archive": 4, "Recoverable Items": 1}
VERDICTS = {"Malicious": 25, "Suspicious": 25, "No threats found": 40, "Unknown": 10}
SEVERITIES = {"High": 15, "Medium": 35, "Low": 40, "Informational": 10}
POLICIES = {
    "user-reported-phish": "Email reported by user as malware or phish",
    "malicious-url-click": "A potentially malicious URL click was detected",
    "email-removed-after-delivery": "Email messages containing malicious URL removed after delivery",
    "suspicious-sending": "Suspicious email sending patterns detected",
}
STATUSES = {"Pending action": 20, "No threats found": 35, "Remediated": 25, "Running": 5, "Partially investigated": 10, "Failed": 5}
LOCAL_PARTS = ["billing", "noreply", "news", "info", "support", "accounts", "hr", "it-helpdesk", "alice", "bogdan", "chen", "dolores"]
SUBJECTS = [
    "Invoice {n} overdue",
    "Meeting notes week {w}",
    "Your parcel {n} is waiting for customs payment",
    "Password for your account expires today",
    "RE: Quote {n} for the December shipment",
    "Weekly logistics digest {w}",
    "Shared document: Q{q} budget review",
    "Action required: confirm your mailbox {n}",
    "Payroll update for {month}",
    "FW: Delivery schedule {n}",
]
SENTENCES = [
    "Please find the details attached.",
    "Let me know if anything is missing.",
    "The payment is due by the end of the week.",
    "Your mailbox storage is almost full.",
    "The shipment left the warehouse this morning.",
    "Confirm your password at the link below.",
    "Thank you for your order.",
    "The meeting moved to Thursday afternoon.",
]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]
QUERIES = [
    'folder:"Junk Email"',
    "domain:sender3.example",
    "verdict:malicious after:2026-11-01",
    f"url:{HOT_URL_DOMAIN}",
    "invoice overdue",
    "mailbox:user7@contoso.example",
]


def weighted(generator: random.Random, weights: dict[str, int]) -> Callable[[], str]:
    names = list(weights)
    cumulative = list(accumulate(weights.values()))
    return lambda: generator.choices(names, cum_weights=cumulative)[0]


def long_tail(count: int) -> list[float]:
    """Cumulative weights where item n is picked about 1/(n+1) as often as the first."""
    return list(accumulate(1 / (rank + 1) for rank in range(count)))


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def message_rows(total: int, seed: int, columns: list[str]) -> Iterator[tuple[list[tuple], list[tuple], list[tuple], list[tuple]]]:
    """Yield chunks of (message, URL, attachment, verdict) rows."""
    generator = random.Random(seed)
    folder = weighted(generator, FOLDERS)
    verdict = weighted(generator, VERDICTS)
    mailbox_weights = long_tail(MAILBOXES)
    domain_weights = long_tail(DOMAINS)
    digests = [hashlib.sha256(str(number).encode()).hexdigest() for number in range(20_000)]
    defaults = {"size": 0, "parse_status": "parsed"}
    json_columns = {"reply_to", "auth_results", "dkim_domains", "attached_messages", "urls", "attachments", "parse_warnings"}
    messages: list[tuple] = []
    urls: list[tuple] = []
    attachments: list[tuple] = []
    verdicts: list[tuple] = []

    for number in range(total):
        message_id = f"m{number:09d}"
        mailbox = f"user{generator.choices(range(MAILBOXES), cum_weights=mailbox_weights)[0]}@contoso.example"
        where = folder()
        if where == "Sent Items" or generator.random() < 0.2:
            sender, domain = mailbox, "contoso.example"
        else:
            domain = f"sender{generator.choices(range(DOMAINS), cum_weights=domain_weights)[0]}.example"
            sender = f"{generator.choice(LOCAL_PARTS)}@{domain}"
        received = START + timedelta(seconds=generator.randrange(DAYS * 86_400))
        template = generator.choice(SUBJECTS)
        subject = template.format(n=generator.randrange(100_000), w=generator.randrange(1, 53), q=generator.randrange(1, 5), month=generator.choice(MONTHS))

        values = {
            "id": message_id,
            "mailbox": mailbox,
            "folder": where,
            "key": message_id,
            "subject": subject,
            "sender_address": sender,
            "sender_name": sender.split("@")[0].title(),
            "sender_domain": domain,
            "recipients": json.dumps([{"display_name": "", "address": mailbox}]),
            "received_at": iso(received),
            "date": iso(received),
            "body_text": " ".join(generator.sample(SENTENCES, 2)),
        }
        messages.append(tuple(values.get(column, "[]" if column in json_columns else defaults.get(column, "")) for column in columns))

        if generator.random() < 0.35:
            for _ in range(generator.choice((1, 1, 2))):
                host_domain = HOT_URL_DOMAIN if generator.random() < 0.01 else f"site{generator.randrange(30_000)}.example"
                host = f"www.{host_domain}"
                urls.append((message_id, f"https://{host}/p/{generator.randrange(10**6)}", host, host_domain))
        if generator.random() < 0.08:
            digest = digests[0] if generator.random() < 0.05 else generator.choice(digests)
            attachments.append((message_id, digest, "document.pdf", "pdf"))
        if generator.random() < 0.04:
            verdicts.append((message_id, verdict(), "bench", "", iso(received)))

        if len(messages) >= CHUNK:
            yield messages, urls, attachments, verdicts
            messages, urls, attachments, verdicts = [], [], [], []
    yield messages, urls, attachments, verdicts


def alert_rows(total: int, seed: int, alert_columns: list[str], investigation_columns: list[str]) -> tuple[list[tuple], list[tuple]]:
    generator = random.Random(seed)
    severity = weighted(generator, SEVERITIES)
    status = weighted(generator, STATUSES)
    alerts: list[tuple] = []
    investigations: list[tuple] = []
    text_defaults = {"source_ids": "[]", "message_ids": "[]", "urls": "[]", "file_hashes": "[]", "users": "[]", "alert_ids": "[]", "hit_count": 1, "pending_seconds": 0, "runs": 1}
    for number in range(total):
        alert_id = f"01BENCHALERT{number:014d}"
        investigation_id = f"01BENCHINVST{number:014d}"
        policy = generator.choice(list(POLICIES))
        occurred = START + timedelta(seconds=generator.randrange(DAYS * 86_400))
        user = f"user{generator.randrange(MAILBOXES)}@contoso.example"
        template = generator.choice(SUBJECTS)
        subject = template.format(n=generator.randrange(100_000), w=generator.randrange(1, 53), q=generator.randrange(1, 5), month=generator.choice(MONTHS))
        alert = {
            "id": alert_id,
            "policy_id": policy,
            "title": POLICIES[policy],
            "severity": severity(),
            "status": "In progress",
            "created": iso(occurred + timedelta(minutes=1)),
            "occurred": iso(occurred),
            "subject": subject,
            "user": user,
            "users": json.dumps([user]),
            "message_ids": json.dumps([f"m{generator.randrange(10**6):09d}"]),
            "investigation_id": investigation_id,
        }
        investigation = {
            "id": investigation_id,
            "alert_id": alert_id,
            "playbook": "User-reported message",
            "title": f"User-reported message: {subject}",
            "status": status(),
            "created": iso(occurred + timedelta(minutes=1)),
            "started": iso(occurred + timedelta(minutes=2)),
            "alert_ids": json.dumps([alert_id]),
        }
        alerts.append(tuple(alert.get(column, text_defaults.get(column, "")) for column in alert_columns))
        investigations.append(tuple(investigation.get(column, text_defaults.get(column, "")) for column in investigation_columns))
    return alerts, investigations


def build(path: Path, alert_count: int, message_count: int) -> float:
    """Fill a new store; return the seconds it took, index and full-text building included."""
    began = time.perf_counter()
    store = Store(path)
    db = store.db
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -100000")
    tables = ("messages", "message_urls", "message_attachments", "message_verdicts", "alerts", "investigations")
    marks = ",".join("?" * len(tables))
    # Indexes are dropped for the load and made again by `create_schema`, and the full-text
    # index is built once at the end instead of by a trigger per row.
    saved_triggers = db.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'").fetchall()
    for kind, name in db.execute(
        f"SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN ({marks})", tables
    ).fetchall():
        db.execute(f'DROP {kind.upper()} "{name}"')
    message_columns = list(db["messages"].columns_dict)
    alert_columns = list(db["alerts"].columns_dict)
    investigation_columns = list(db["investigations"].columns_dict)

    def insert(table: str, columns: list[str] | int, rows: list[tuple]) -> None:
        names = f"({', '.join(columns)}) " if isinstance(columns, list) else ""
        width = len(columns) if isinstance(columns, list) else columns
        db.conn.executemany(f"INSERT INTO {table} {names}VALUES ({', '.join('?' * width)})", rows)

    with db.atomic():
        for messages, urls, attachments, verdicts in message_rows(message_count, 7, message_columns):
            insert("messages", message_columns, messages)
            insert("message_urls", ["message_id", "url", "host", "registrable_domain"], urls)
            insert("message_attachments", ["message_id", "sha256", "filename", "extension"], attachments)
            insert("message_verdicts", ["message_id", "verdict", "source", "investigation_id", "time"], verdicts)
        alerts, investigations = alert_rows(alert_count, 11, alert_columns, investigation_columns)
        insert("alerts", alert_columns, alerts)
        insert("investigations", investigation_columns, investigations)
        db.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
        for (sql,) in saved_triggers:
            db.execute(sql)
        create_schema(db)
    db.execute("ANALYZE")
    store.close()
    return time.perf_counter() - began


# Console timings --------------------------------------------------------------------------------


class PaintedQueue(AlertQueue):
    """The alert queue, noting when it first paints and how many lines it painted since."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.first_paint: float | None = None
        self.painted_lines = 0

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        self.painted_lines += 1
        if self.first_paint is None:
            self.first_paint = time.perf_counter()
        return strip


class QueueApp(App[None]):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield PaintedQueue(id="alerts")

    def on_mount(self) -> None:
        queue = self.query_one(PaintedQueue)
        queue.load(StoreAlertSource(self.store))
        queue.focus()


class PaintedTable(DataTable):
    def __init__(self) -> None:
        super().__init__(cursor_type="row")
        self.painted_lines = 0

    def render_line(self, y: int) -> Strip:
        self.painted_lines += 1
        return super().render_line(y)


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PaintedTable()

    def on_mount(self) -> None:
        table = self.query_one(PaintedTable)
        table.add_columns("Severity", "Policy", "Time", "Status", "Subject")
        for number in range(1_000):
            table.add_row("Low", "User reported", "30 Nov 09:30", "Pending action", f"Subject {number}")
        table.focus()


async def press_until_painted(pilot, widget, key: str) -> float:
    """Press a key and wait until the widget painted a line; return the seconds it took."""
    before = widget.painted_lines
    began = time.perf_counter()
    await pilot.press(key)
    while widget.painted_lines == before:
        if time.perf_counter() - began > 10:
            raise TimeoutError(f"{type(widget).__name__} painted nothing within 10 s of the key {key}.")
        await asyncio.sleep(0)
    return time.perf_counter() - began


def direct_moves(widget, actions: list[Callable[[], None]]) -> float:
    """Return the median seconds of one cursor action plus rendering every visible line.

    This leaves out the pilot's event-loop round trip, which takes most of a pressed key's time
    in a headless app and hides the widget's own cost.
    """
    region = Region(0, 0, widget.size.width, widget.size.height)
    timings = []
    for action in actions:
        began = time.perf_counter()
        action()
        widget.render_lines(region)
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


async def queue_timings(store_path: Path, *, keys: bool = True) -> dict[str, float]:
    """Time the queue's first paint and, with `keys`, its cursor keys, filter and reload."""
    with Store(store_path) as store:
        app = QueueApp(store)
        began = time.perf_counter()
        async with app.run_test(size=SIZE) as pilot:
            queue = app.query_one(PaintedQueue)
            while queue.first_paint is None:
                await asyncio.sleep(0)
            result = {"paint": queue.first_paint - began, "rows": queue.row_count}
            if not keys:
                return result
            downs = [await press_until_painted(pilot, queue, "down") for _ in range(100)]
            pages = [await press_until_painted(pilot, queue, "pagedown") for _ in range(20)]
            result["end"] = await press_until_painted(pilot, queue, "end")
            result["down"] = statistics.median(downs)
            result["pagedown"] = statistics.median(pages)
            result["cursor_at_end"] = queue.cursor_row
            result["held_rows"] = queue.cached_row_count
            queue.action_cursor_first()
            result["direct_down"] = direct_moves(queue, [queue.action_cursor_down] * 100)
            result["direct_pagedown"] = direct_moves(queue, [queue.action_page_down] * 20)
            result["direct_end"] = direct_moves(queue, [queue.action_cursor_first, queue.action_cursor_last] * 3)
            # The queue keeps the cursor on its alert when the filter changes, so typing costs
            # more with the cursor deep in the queue: the alert's filtered position is counted.
            for place, move in (("top", queue.action_cursor_first), ("deep", queue.action_cursor_last)):
                move()
                filters = []
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    queue.apply_filter("pending")
                    filters.append(time.perf_counter() - started)
                    queue.apply_filter("")
                result[f"filter_{place}"] = statistics.median(filters)
            queue.apply_filter("pending")
            result["filtered_rows"] = queue.row_count
            queue.apply_filter("")
            reloads = []
            for _ in range(ROUNDS):
                started = time.perf_counter()
                queue.reload()
                reloads.append(time.perf_counter() - started)
            result["reload"] = statistics.median(reloads)
        return result


async def table_timings() -> dict[str, float]:
    app = TableApp()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(PaintedTable)
        while table.painted_lines == 0:
            await asyncio.sleep(0)
        downs = [await press_until_painted(pilot, table, "down") for _ in range(100)]
        pages = [await press_until_painted(pilot, table, "pagedown") for _ in range(20)]
        # DataTable moves to the last row on ctrl+end; its end key goes to the last column.
        end = await press_until_painted(pilot, table, "ctrl+end")
        table.action_scroll_top()
        return {
            "down": statistics.median(downs),
            "pagedown": statistics.median(pages),
            "end": end,
            "direct_down": direct_moves(table, [table.action_cursor_down] * 100),
            "direct_pagedown": direct_moves(table, [table.action_page_down] * 20),
            "direct_end": direct_moves(table, [table.action_scroll_top, table.action_scroll_bottom] * 3),
        }


class PaintedResults(ExplorerResults):
    """The explorer's result table, noting when it first paints a line."""

    first_paint: float | None = None

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if PaintedResults.first_paint is None:
            PaintedResults.first_paint = time.perf_counter()
        return strip


class ExplorerApp(App[None]):
    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store

    def on_mount(self) -> None:
        self.push_screen(ExplorerScreen(self.store))


async def explorer_paint(store_path: Path) -> tuple[float, str]:
    """Time the explorer screen until its result table paints, with the count line it shows."""
    PaintedResults.first_paint = None
    # The screen composes the table class its module names, so the painted subclass is swapped in.
    with Store(store_path) as store, patch.object(explorer_screen, "ExplorerResults", PaintedResults):
        app = ExplorerApp(store)
        began = time.perf_counter()
        async with app.run_test(size=SIZE):
            while PaintedResults.first_paint is None:
                await asyncio.sleep(0)
            label = str(app.screen.query_one("#explorer-count").render())
            return PaintedResults.first_paint - began, label


# Explorer timings ---------------------------------------------------------------------------------


def median_seconds(run: Callable[[], object]) -> float:
    timings = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        run()
        timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def explorer_timings(store_path: Path) -> tuple[dict[str, float], list[dict[str, object]]]:
    with Store(store_path) as store:
        db = store.db
        middle = int(db.execute("SELECT MAX(rowid) FROM messages").fetchone()[0] or 0) // 2
        baseline = {
            "count": median_seconds(lambda: db.execute("SELECT COUNT(*) FROM (SELECT 1 FROM messages LIMIT 10001)").fetchone()),
            "window": median_seconds(
                lambda: db.execute(
                    "SELECT id, received_at, mailbox, folder, sender_address, subject FROM messages WHERE rowid BETWEEN ? AND ?",
                    [middle, middle + 99],
                ).fetchall()
            ),
        }
        results = []
        for query in ["", *QUERIES]:
            counted = explorer.count(store, query)
            exact = explorer.count(store, query, cap=10**7)
            total = None if counted.capped else counted.count
            reachable = counted.count
            entry: dict[str, object] = {
                "query": query or "(everything)",
                "label": counted.label,
                "exact": exact.count,
                "count": median_seconds(lambda: explorer.count(store, query)),
                "exact_count": median_seconds(lambda: explorer.count(store, query, cap=10**7)),
                "first": median_seconds(lambda: explorer.window(store, query, 0, 100)),
                "middle": median_seconds(lambda: explorer.window(store, query, reachable // 2, 100, total=total)),
                "last": median_seconds(lambda: explorer.window(store, query, max(reachable - 100, 0), 100, total=total)),
            }
            entry["end_of_all"] = median_seconds(lambda: explorer.window(store, query, max(exact.count - 100, 0), 100, total=exact.count))
            results.append(entry)
        return baseline, results


def peak_megabytes() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000, help="alerts in the store (default 100,000)")
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages in the store (default 1,000,000)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="air-tui-bench-scale-") as folder:
        large = Path(folder) / "large.db"
        empty = Path(folder) / "empty.db"
        build_seconds = build(large, arguments.alerts, arguments.messages)
        Store(empty).close()
        size_mb = large.stat().st_size / 1e6
        print(f"store: {arguments.alerts:,} alerts, {arguments.messages:,} messages, built in {build_seconds:.1f} s, "
              f"{size_mb:,.0f} MB on disk; peak memory so far {peak_megabytes():,.0f} MB")

        paints = []
        empty_paints = []
        timings = []
        for _ in range(3):
            timings.append(asyncio.run(queue_timings(large)))
            empty_paints.append(asyncio.run(queue_timings(empty, keys=False))["paint"])
            paints.append(timings[-1]["paint"])
        table = [asyncio.run(table_timings()) for _ in range(3)]
        paint = statistics.median(paints)
        empty_paint = statistics.median(empty_paints)
        print(f"alert queue first paint ({SIZE[0]}x{SIZE[1]}, headless): {paint * 1000:.0f} ms over {timings[0]['rows']:,} alerts; "
              f"same app over an empty store {empty_paint * 1000:.0f} ms; ratio {paint / empty_paint:.2f}x (median of 3)")
        for key, label in (("down", "down"), ("pagedown", "page down"), ("end", "end")):
            ours = statistics.median(run[key] for run in timings)
            theirs = statistics.median(run[key] for run in table)
            direct = statistics.median(run[f"direct_{key}"] for run in timings)
            direct_theirs = statistics.median(run[f"direct_{key}"] for run in table)
            print(
                f"  {label:>9}: pressed {ours * 1000:.2f} ms per key, DataTable of 1,000 rows {theirs * 1000:.2f} ms, ratio {ours / theirs:.2f}x; "
                f"action and repaint alone {direct * 1000:.3f} ms, DataTable {direct_theirs * 1000:.3f} ms, ratio {direct / direct_theirs:.2f}x"
            )
        print(f"  cursor after end: row {timings[0]['cursor_at_end']:,}; rows held by the queue: {timings[0]['held_rows']:,}")
        print(f"  filter 'pending' ({timings[0]['filtered_rows']:,} matches; count, cursor position, window): "
              f"cursor on the first alert {statistics.median(run['filter_top'] for run in timings) * 1000:.1f} ms, "
              f"on the last {statistics.median(run['filter_deep'] for run in timings) * 1000:.1f} ms; "
              f"reload without filter {statistics.median(run['reload'] for run in timings) * 1000:.1f} ms")

        explorer_paints = [asyncio.run(explorer_paint(large)) for _ in range(3)]
        empty_explorer = [asyncio.run(explorer_paint(empty)) for _ in range(3)]
        explorer_seconds = statistics.median(run[0] for run in explorer_paints)
        empty_explorer_seconds = statistics.median(run[0] for run in empty_explorer)
        print(f"explorer first paint: {explorer_seconds * 1000:.0f} ms ({explorer_paints[0][1]}); over an empty store "
              f"{empty_explorer_seconds * 1000:.0f} ms; ratio {explorer_seconds / empty_explorer_seconds:.2f}x")

        baseline, results = explorer_timings(large)
        print(f"explorer baselines: capped COUNT over messages {baseline['count'] * 1000:.2f} ms; "
              f"100 rows by rowid range {baseline['window'] * 1000:.3f} ms (medians of {ROUNDS})")
        for entry in results:
            print(
                f"  {entry['query']!s:<38} {entry['label']!s:>17} (exactly {entry['exact']:,}): count {entry['count'] * 1000:7.2f} ms "
                f"[{entry['count'] / baseline['count']:.1f}x], window at 0 {entry['first'] * 1000:6.2f} ms "
                f"[{entry['first'] / baseline['window']:.0f}x], middle {entry['middle'] * 1000:6.2f} ms, "
                f"last {entry['last'] * 1000:6.2f} ms, exact count {entry['exact_count'] * 1000:7.1f} ms, "
                f"last of all {entry['end_of_all'] * 1000:6.2f} ms"
            )
        print(f"peak resident memory: {peak_megabytes():,.0f} MB")

        # Last, because it raises the peak memory: what the queue read before it had windows.
        with Store(large) as store:
            began = time.perf_counter()
            everything = queries.alert_queue(store)
            print(f"for comparison, reading every alert as the unwindowed queue did (queries.alert_queue): {len(everything):,} rows "
                  f"in {time.perf_counter() - began:.2f} s; peak resident memory then {peak_megabytes():,.0f} MB")


if __name__ == "__main__":
    main()
