"""Time cluster hunting on a tenant-sized message index, against baselines in the same process.

Run with `.venv/bin/python benchmarks/bench_clustering.py` (add `--rows N` for another size).
The script fills temporary SQLite stores through the `Store` class, so the schema and indexes
are the product's, then inserts synthetic index rows with `executemany` instead of parsing mail:

- background rows: random senders, IPs, subjects and body fingerprints, with one large sender
  domain that sends 5% of them, and empty bodies;
- campaign rows: 20 campaigns of 200 copies whose bodies vary in names, numbers, links and, for
  a third of them, one sentence. Their fingerprints come from `fingerprint()`, which is timed.

For a few reported campaign copies it times `hunt_clusters` (four similarity clusters, with
their folder counts) at 10,000 rows and at the full size, and one indexed
`SELECT id FROM messages WHERE sender_domain = ?` on the same table as the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from collections.abc import Iterable, Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from air_tui.domain.ids import FrozenClock, SequentialIds  # noqa: E402
from air_tui.domain.investigation import Entity  # noqa: E402
from air_tui.domain.message import Address, EmailMessage, MessageLocation  # noqa: E402
from air_tui.domain.tenant import Organisation  # noqa: E402
from air_tui.domain.vocab import EntityKind, ThreatType, Verdict  # noqa: E402
from air_tui.engine.clustering import SAME_BODY_MAX_DISTANCE, hunt_clusters  # noqa: E402
from air_tui.engine.context import PlaybookContext  # noqa: E402
from air_tui.intel import IntelSnapshot  # noqa: E402
from air_tui.mail.fingerprint import fingerprint  # noqa: E402
from air_tui.service import StoreMessageIndex  # noqa: E402
from air_tui.store import Store  # noqa: E402
from air_tui.store.messages import body_band_keys, normalise_subject  # noqa: E402
from air_tui.store.schema import create_schema  # noqa: E402

CAMPAIGNS = 20
COPIES = 200
REPORTED = 5
ROUNDS = 5
CHUNK = 50_000
SMALL_ROWS = 10_000
FOLDERS = ["Inbox"] * 6 + ["Junk Email"] * 2 + ["Deleted Items", "Quarantine"]
BIG_DOMAIN = "newsletters.example"

SENTENCE_POOL = [
    "We noticed a problem with the payment for your latest invoice.",
    "The remittance details on file do not match our records.",
    "Your mailbox storage is almost full and new mail may be rejected.",
    "A document has been shared with you through the secure portal.",
    "Your parcel could not be delivered because the customs fee is unpaid.",
    "The password for your account expires at the end of today.",
    "Please review the attached statement and confirm the new bank account.",
    "Several sign-in attempts were blocked from an unknown location.",
    "The payroll department needs you to confirm your salary details.",
    "Our records show an outstanding balance on your business account.",
    "A voicemail message was left for you by an external caller.",
    "Your subscription renewal failed and the service will be suspended.",
    "The shipping company requires a signed copy of the delivery form.",
    "Management has approved the bonus scheme for the coming quarter.",
    "Your tax refund is ready once the claim form has been completed.",
    "The security team requires every employee to verify their device.",
]
VARYING_SENTENCES = [
    "Our auditors require an updated form for every supplier this quarter.",
    "Late confirmations may lead to the account being put on hold by our bank.",
    "This check is part of our yearly review of supplier payment records.",
]
NAMES = ["Alice", "Bogdan", "Chen", "Dolores", "Emeka", "Freya", "Gita", "Hugo", "Ines", "Jonas"]
MESSAGE_COLUMNS = (
    "id", "mailbox", "folder", "key", "path", "internet_message_id", "sha256", "size", "subject",
    "sender_address", "sender_name", "sender_domain", "return_path", "reply_to", "recipients",
    "date", "received_at", "sender_ip", "auth_results", "dkim_domains", "body_fingerprint",
    "attached_messages", "urls", "attachments", "body_text", "parse_status", "parse_warnings",
    "parse_error",
)  # fmt: skip


def campaign_body(campaign: int, copy: int) -> str:
    """Return one copy of a campaign: its own sentences, with per-recipient names, numbers and links."""
    sentences = random.Random(campaign).sample(SENTENCE_POOL, 6)
    name = NAMES[copy % len(NAMES)]
    varying = VARYING_SENTENCES[1 + campaign % 2] if copy % 3 == 0 else VARYING_SENTENCES[0]
    return (
        f"Dear {name}, {sentences[0]} {sentences[1]} Reference {campaign}-{copy * 31} for {1000 + copy * 7:,}.{copy % 100:02d} EUR. "
        f"{sentences[2]} {varying} {sentences[3]} Act before {1 + copy % 28} December at "
        f"https://pay-{campaign}.example.net/c?id={copy}{name} or write to ar{copy}@vendor{campaign}.example. "
        f"{sentences[4]} {sentences[5]} Thank you, Accounts Receivable"
    )


def message_row(message_id: str, *, subject: str, domain: str, ip: str, body: str, body_fingerprint: str, folder: str) -> tuple:
    values = {
        "id": message_id,
        "mailbox": f"user{hash(message_id) % 5000}@contoso.example",
        "folder": folder,
        "key": message_id,
        "subject": subject,
        "sender_address": f"billing@{domain}",
        "sender_domain": domain,
        "sender_ip": ip,
        "body_fingerprint": body_fingerprint,
        "body_text": body,
        "parse_status": "parsed",
        "received_at": "2026-11-20T08:00:00+00:00",
    }
    json_columns = {"reply_to", "recipients", "auth_results", "dkim_domains", "attached_messages", "urls", "attachments", "parse_warnings"}
    for column in json_columns:
        values[column] = "[]"
    values["size"] = 0
    return tuple(values.get(column, "") for column in MESSAGE_COLUMNS)


def generate(rows: int, seed: int, reported: list[tuple[str, str, str, str, str]], timings: list[float]) -> Iterator[list[tuple]]:
    """Yield message rows in chunks, campaigns first, and append reported copies and fingerprint timings."""
    generator = random.Random(seed)
    chunk: list[tuple] = []
    for campaign in range(CAMPAIGNS):
        domain = f"vendor-payments{campaign}.example"
        for copy in range(COPIES):
            body = campaign_body(campaign, copy)
            began = time.perf_counter()
            value = fingerprint(body)
            timings.append(time.perf_counter() - began)
            ip = f"203.0.113.{campaign * 3 + copy % 3}"
            subject = f"RE: Invoice {copy + 100} payment problem" if copy % 4 else f"Invoice {copy} payment problem"
            message_id = f"c{campaign:02d}-{copy:04d}"
            chunk.append(message_row(message_id, subject=subject, domain=domain, ip=ip, body=body, body_fingerprint=value, folder=FOLDERS[copy % len(FOLDERS)]))
            if copy == 7 and len(reported) < REPORTED:
                reported.append((message_id, subject, domain, ip, value))
    for number in range(rows - CAMPAIGNS * COPIES):
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
        domain = BIG_DOMAIN if number % 20 == 0 else f"sender{generator.randrange(50_000)}.example"
        ip = f"10.{generator.randrange(256)}.{generator.randrange(256)}.{generator.randrange(256)}"
        subject = f"Message {generator.randrange(200_000)} about topic {generator.randrange(5_000)}"
        value = f"{generator.getrandbits(64):016x}"
        chunk.append(message_row(f"b{number:08d}", subject=subject, domain=domain, ip=ip, body="", body_fingerprint=value, folder=FOLDERS[number % len(FOLDERS)]))
    yield chunk


def fill(store: Store, chunks: Iterable[list[tuple]]) -> float:
    """Insert the rows as a bulk load: without journal, indexes or full-text triggers, then index.

    The indexes are created again by `create_schema`, so they are the product's. The full-text
    table stays empty, because no cluster look-up reads it.
    """
    db = store.db
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -200000")
    tables = ("messages", "message_body_bands", "message_subjects")
    marks = ",".join("?" * len(tables))
    for kind, name in db.execute(
        f"SELECT type, name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL AND tbl_name IN ({marks})", tables
    ).fetchall():
        db.execute(f'DROP {kind.upper()} "{name}"')
    columns = ",".join("?" * len(MESSAGE_COLUMNS))
    insert_message = f"INSERT INTO messages ({', '.join(MESSAGE_COLUMNS)}) VALUES ({columns})"
    subject_at = MESSAGE_COLUMNS.index("subject")
    domain_at = MESSAGE_COLUMNS.index("sender_domain")
    ip_at = MESSAGE_COLUMNS.index("sender_ip")
    fingerprint_at = MESSAGE_COLUMNS.index("body_fingerprint")
    began = time.perf_counter()
    for chunk in chunks:
        bands = [(row[0], key, row[fingerprint_at]) for row in chunk for key in body_band_keys(row[fingerprint_at])]
        subjects = [(row[0], normalise_subject(row[subject_at]), row[domain_at], row[ip_at]) for row in chunk]
        with db.atomic():
            db.conn.executemany(insert_message, chunk)
            db.conn.executemany("INSERT INTO message_body_bands (message_id, band_key, fingerprint) VALUES (?, ?, ?)", bands)
            db.conn.executemany("INSERT INTO message_subjects (message_id, subject_key, sender_domain, sender_ip) VALUES (?, ?, ?, ?)", subjects)
    create_schema(db)
    db.execute("ANALYZE")
    return time.perf_counter() - began


def playbook_context(store: Store) -> PlaybookContext:
    return PlaybookContext(
        organisation=Organisation(name="Contoso", domains=["contoso.example"]),
        users=[],
        intel=IntelSnapshot(),
        messages=StoreMessageIndex(store),
        submissions=[],
        clicks=[],
        mailbox_settings={},
        clock=FrozenClock(datetime(2026, 11, 30, tzinfo=UTC)),
        new_id=SequentialIds(prefix="01BENCH"),
    )


def measure(store: Store, reported: list[tuple[str, str, str, str, str]]) -> tuple[float, float, float, int]:
    """Return median seconds of `hunt_clusters`, of its four index look-ups alone and of the
    baseline SELECT, and the distinct cluster members found per reported message."""
    context = playbook_context(store)
    index = StoreMessageIndex(store)
    hunts: list[float] = []
    lookups: list[float] = []
    baselines: list[float] = []
    members = 0
    for message_id, subject, domain, ip, value in reported:
        body = store.db.execute("SELECT body_text FROM messages WHERE id = ?", [message_id]).fetchone()[0]
        message = EmailMessage(
            id=message_id,
            location=MessageLocation(mailbox="user@contoso.example", folder="Inbox", key=message_id),
            subject=subject,
            sender=Address(address=f"billing@{domain}"),
            sender_ip=ip,
            body_text=body,
            body_fingerprint=value,
        )
        entity = Entity(id=f"message:{message_id}", kind=EntityKind.MESSAGE, key=message_id, label=subject, verdict=Verdict.MALICIOUS, threats=[ThreatType.PHISH])
        for _ in range(ROUNDS):
            began = time.perf_counter()
            clusters = hunt_clusters(context, message, entity, [], [])
            hunts.append(time.perf_counter() - began)
            began = time.perf_counter()
            index.ids_with_similar_body(value, SAME_BODY_MAX_DISTANCE, sender_ip=ip)
            index.ids_with_similar_body(value, SAME_BODY_MAX_DISTANCE, sender_domain=domain)
            index.ids_with_subject(subject, sender_domain=domain)
            index.ids_with_subject(subject, sender_ip=ip)
            lookups.append(time.perf_counter() - began)
            began = time.perf_counter()
            store.db.execute("SELECT id FROM messages WHERE sender_domain = ?", [domain]).fetchall()
            baselines.append(time.perf_counter() - began)
        assert len(clusters) == 4, [cluster.cluster_by for cluster in clusters]
        members += len({member for cluster in clusters for member in cluster.message_ids})
    return statistics.median(hunts), statistics.median(lookups), statistics.median(baselines), members // len(reported)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="index rows in the large store (default 1,000,000)")
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="air-tui-bench-clusters-") as folder:
        results = {}
        for rows in (SMALL_ROWS, arguments.rows):
            reported: list[tuple[str, str, str, str, str]] = []
            timings: list[float] = []
            with Store(Path(folder) / f"index-{rows}.db") as store:
                fill_seconds = fill(store, generate(rows, rows, reported, timings))
                hunt, lookup, baseline, members = measure(store, reported)
            results[rows] = (hunt, lookup)
            print(
                f"{rows:>9,} rows (generated and filled in {fill_seconds:.1f} s): hunt_clusters {hunt * 1000:.2f} ms, "
                f"its 4 index look-ups {lookup * 1000:.2f} ms, SELECT by sender_domain {baseline * 1000:.3f} ms "
                f"(medians of {ROUNDS * REPORTED}); {members} distinct members per report; "
                f"ratios {hunt / baseline:.0f}x and {lookup / baseline:.0f}x"
            )
        print(f"fingerprint(): median {statistics.median(timings) * 1e6:.0f} us per campaign body "
              f"({len(campaign_body(0, 0).split())} words), max {max(timings) * 1e6:.0f} us")
        large = arguments.rows
        print(f"{large:,} rows vs {SMALL_ROWS:,} rows ({large / SMALL_ROWS:.0f}x the rows): hunt_clusters "
              f"{results[large][0] / results[SMALL_ROWS][0]:.2f}x the time, index look-ups "
              f"{results[large][1] / results[SMALL_ROWS][1]:.2f}x the time")


if __name__ == "__main__":
    main()
