"""The explorer's query language and windows, on a store indexed from real parsed mail.

Each term is checked against the same filter written in Python over the parsed messages, so
the SQL is compared with the messages themselves, not with a copy of itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from air_tui.domain.message import EmailMessage, MessageLocation
from air_tui.domain.vocab import Verdict
from air_tui.mail import FailedRead, iter_messages, message_id_for, parse_message
from air_tui.store import Store
from air_tui.store.explorer import (
    DEFAULT_CAP,
    ExplorerRow,
    MessageCount,
    QueryError,
    StoreSource,
    count,
    parse_query,
    query_plan,
    window,
)
from air_tui.store.messages import index_messages
from air_tui.tenant.demo import DemoTenant
from tests.conftest import DEMO_TENANT, REPOSITORY

LAB_MAILBOX = "lab@larkspur.example"
"""Mailbox of the decoding test files, which have no delivery time."""


def parsed_messages() -> list[EmailMessage]:
    """Parse the demo tenant as ingest does, plus the decoding test files without a delivery time."""
    messages: list[EmailMessage] = []
    for mailbox, folder, path in DemoTenant(DEMO_TENANT).folder_paths():
        for item in iter_messages(path, mailbox=mailbox):
            if isinstance(item, FailedRead):
                continue
            location = item.location.model_copy(update={"folder": folder})
            message_id = message_id_for(mailbox, item.location.key)
            messages.append(parse_message(item.raw, location=location, received_at=item.received_at, message_id=message_id))
    for path in sorted((REPOSITORY / "tests" / "mail" / "inputs" / "decoding").glob("*.eml")):
        location = MessageLocation(mailbox=LAB_MAILBOX, folder="Inbox", key=path.name, path=str(path))
        messages.append(parse_message(path.read_bytes(), location=location, message_id=message_id_for(LAB_MAILBOX, path.name)))
    return messages


def assigned_verdicts(messages: list[EmailMessage]) -> dict[str, str]:
    """Give some messages a verdict, as investigations and removals would."""
    verdicts: dict[str, str] = {}
    for position, message in enumerate(sorted(messages, key=lambda item: item.id)):
        for step, verdict in ((7, Verdict.MALICIOUS), (11, Verdict.SUSPICIOUS), (13, Verdict.NO_THREATS_FOUND), (17, Verdict.UNKNOWN)):
            if position % step == 0:
                verdicts[message.id] = verdict.value
                break
    return verdicts


def build_message_store(path: Path) -> tuple[Store, list[EmailMessage], dict[str, str]]:
    """Index the parsed messages with `index_messages` into a new store, and record verdicts."""
    store = Store(path)
    messages = parsed_messages()
    index_messages(store, messages)
    verdicts = assigned_verdicts(messages)
    with store.db.atomic():
        store.db["message_verdicts"].insert_all(
            [
                {"message_id": message_id, "verdict": verdict, "source": "test", "investigation_id": "", "time": "2026-11-30T09:30:00+00:00"}
                for message_id, verdict in verdicts.items()
            ],
            pk="message_id",
        )
    return store, messages, verdicts


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Store, list[EmailMessage], dict[str, str]]:
    store, messages, verdicts = build_message_store(tmp_path_factory.mktemp("explorer") / "air-tui.db")
    yield store, messages, verdicts
    store.close()


def ids(store: Store, query: str) -> set[str]:
    total = count(store, query, cap=100_000)
    return {row.id for row in window(store, query, 0, total.count + 10)}


def expected(messages: list[EmailMessage], keep: Callable[[EmailMessage], bool]) -> set[str]:
    return {message.id for message in messages if keep(message)}


def most_common(values: list[str]) -> str:
    return max(sorted(set(values)), key=values.count)


# Parsing ------------------------------------------------------------------------------------------


def test_parse_splits_terms_and_words() -> None:
    query = parse_query('From:Billing@Example.COM folder:"Junk Email" invoice "two words" subject:overdue')
    assert [(term.key, term.value) for term in query.terms] == [
        ("from", "billing@example.com"),
        ("folder", "Junk Email"),
        ("", "invoice"),
        ("", "two words"),
        ("subject", "overdue"),
    ]


def test_parse_empty_query_has_no_terms() -> None:
    assert parse_query("   ").terms == ()


@pytest.mark.parametrize(
    ("text", "term", "advice"),
    [
        ("frm:alice@example.com", "frm:alice@example.com", "Did you mean from:?"),
        ("colour:red", "colour:red", "The terms are from:"),
        ("after:2026-13-01", "after:2026-13-01", "YYYY-MM-DD"),
        ("before:30/11/2026", "before:30/11/2026", "for example before:2026-12-01"),
        ("verdict:evil", "verdict:evil", "malicious, suspicious, clean, unknown or none"),
        ('subject:"overdue invoice', 'subject:"overdue invoice', "closing"),
        ('"unclosed words', '"unclosed words', "closing"),
        ('subject:in"voice', 'subject:in"voice', 'subject:"two words"'),
        ("hash:abc123", "hash:abc123", "64 hex digits"),
        ("from:alice", "from:alice", "domain:example.com"),
        ("domain:alice@example.com", "domain:alice@example.com", "domain:example.com or from:alice@example.com"),
        ("mailbox:", "mailbox:", "needs a value"),
        ("subject:!!!", "subject:!!!", "letters or digits"),
        ("&", "&", "no letters or digits"),
    ],
)
def test_bad_term_names_term_and_fix(text: str, term: str, advice: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse_query(f"invoice {text}")
    assert raised.value.term == term
    assert str(raised.value).startswith(f"{term}: ")
    assert advice in str(raised.value)


def test_bad_term_raises_from_count_and_window(indexed) -> None:
    store, _, _ = indexed
    with pytest.raises(QueryError):
        count(store, "before:tomorrow")
    with pytest.raises(QueryError):
        window(store, "verdict:bad", 0, 10)


# Terms against the store --------------------------------------------------------------------------


def test_empty_query_returns_every_message(indexed) -> None:
    store, messages, _ = indexed
    assert ids(store, "") == {message.id for message in messages}


def test_from_term_matches_sender_address(indexed) -> None:
    store, messages, _ = indexed
    sender = most_common([message.sender.address for message in messages if message.sender.address])
    found = ids(store, f"from:{sender.upper()}")
    assert found == expected(messages, lambda message: message.sender.address == sender)
    assert len(found) > 1


def test_domain_term_matches_sender_domain(indexed) -> None:
    store, messages, _ = indexed
    domain = most_common([message.sender.domain for message in messages if message.sender.domain])
    assert ids(store, f"domain:{domain}") == expected(messages, lambda message: message.sender.domain == domain)


def test_repeated_terms_of_one_kind_or(indexed) -> None:
    store, messages, _ = indexed
    first, second = sorted({message.sender.domain for message in messages if message.sender.domain})[:2]
    found = ids(store, f"domain:{first} domain:{second}")
    assert found == expected(messages, lambda message: message.sender.domain in (first, second))


def test_terms_of_different_kinds_and(indexed) -> None:
    store, messages, _ = indexed
    domain = most_common([message.sender.domain for message in messages if message.sender.domain])
    found = ids(store, f"domain:{domain} folder:inbox")
    assert found == expected(messages, lambda message: message.sender.domain == domain and message.location.folder == "Inbox")


def test_folder_term_ignores_case(indexed) -> None:
    store, messages, _ = indexed
    found = ids(store, 'folder:"junk email"')
    assert found == expected(messages, lambda message: message.location.folder == "Junk Email")
    assert found


def test_unknown_folder_matches_nothing(indexed) -> None:
    store, _, _ = indexed
    assert count(store, "folder:Nowhere") == MessageCount(0)


def test_mailbox_term_matches_owner(indexed) -> None:
    store, messages, _ = indexed
    mailbox = sorted({message.location.mailbox for message in messages})[0]
    assert ids(store, f"mailbox:{mailbox}") == expected(messages, lambda message: message.location.mailbox == mailbox)


def test_date_terms_use_delivery_day(indexed) -> None:
    store, messages, _ = indexed
    days = sorted({message.received_at.date() for message in messages if message.received_at})
    middle = days[len(days) // 2]
    after = ids(store, f"after:{middle}")
    before = ids(store, f"before:{middle}")
    assert after == expected(messages, lambda message: message.received_at is not None and message.received_at.date() >= middle)
    assert before == expected(messages, lambda message: message.received_at is not None and message.received_at.date() < middle)
    assert not after & before


def test_date_range_is_one_day(indexed) -> None:
    store, messages, _ = indexed
    day = most_common([message.received_at.date().isoformat() for message in messages if message.received_at])
    following = date.fromordinal(date.fromisoformat(day).toordinal() + 1)
    found = ids(store, f"after:{day} before:{following}")
    assert found == expected(messages, lambda message: message.received_at is not None and message.received_at.date().isoformat() == day)


def test_messages_without_delivery_time_match_no_date(indexed) -> None:
    store, messages, _ = indexed
    undated = expected(messages, lambda message: message.received_at is None)
    assert undated
    assert not undated & ids(store, "before:2100-01-01")
    assert not undated & ids(store, "after:1970-01-01")


def test_url_term_matches_host_and_domain(indexed) -> None:
    store, messages, _ = indexed
    with_urls = [message for message in messages if message.urls]
    url = with_urls[0].urls[0]
    by_host = ids(store, f"url:{url.host.upper()}")
    by_domain = ids(store, f"url:{url.registrable_domain}")

    def has(message: EmailMessage, field: str, value: str) -> bool:
        return any(getattr(item, field) == value or getattr(item, f"unwrapped_{'host' if field == 'host' else 'domain'}") == value for item in message.urls)

    assert by_host == expected(messages, lambda message: has(message, "host", url.host) or has(message, "registrable_domain", url.host))
    assert by_domain == expected(messages, lambda message: has(message, "registrable_domain", url.registrable_domain) or has(message, "host", url.registrable_domain))
    assert with_urls[0].id in by_host


def test_url_term_with_scheme_matches_prefix(indexed) -> None:
    store, messages, _ = indexed
    url = next(message.urls[0].url for message in messages if message.urls and "://" in message.urls[0].url)
    prefix = url[: max(len(url) - 3, url.index("://") + 4)]
    found = ids(store, f"url:{prefix}")
    assert found == expected(messages, lambda message: any(item.url.startswith(prefix) or item.unwrapped.startswith(prefix) for item in message.urls if item.url or item.unwrapped))
    assert found


def test_hash_term_matches_attachment(indexed) -> None:
    store, messages, _ = indexed
    digest = next(attachment.sha256 for message in messages for attachment in message.attachments if attachment.sha256)
    found = ids(store, f"hash:{digest.upper()}")
    assert found == expected(messages, lambda message: any(attachment.sha256 == digest for attachment in message.attachments))
    assert found


@pytest.mark.parametrize(
    ("word", "stored"),
    [
        ("malicious", Verdict.MALICIOUS.value),
        ("suspicious", Verdict.SUSPICIOUS.value),
        ("clean", Verdict.NO_THREATS_FOUND.value),
        ("unknown", Verdict.UNKNOWN.value),
    ],
)
def test_verdict_term_matches_stored_verdict(indexed, word: str, stored: str) -> None:
    store, messages, verdicts = indexed
    found = ids(store, f"verdict:{word}")
    assert found == expected(messages, lambda message: verdicts.get(message.id) == stored)
    assert found


def test_verdict_none_means_never_judged(indexed) -> None:
    store, messages, verdicts = indexed
    assert ids(store, "verdict:none") == expected(messages, lambda message: message.id not in verdicts)
    both = ids(store, "verdict:none verdict:malicious")
    assert both == expected(messages, lambda message: verdicts.get(message.id, Verdict.MALICIOUS.value) == Verdict.MALICIOUS.value)


def test_window_rows_carry_verdict(indexed) -> None:
    store, _, verdicts = indexed
    rows = window(store, "", 0, 1000)
    assert all(row.verdict == verdicts.get(row.id, "") for row in rows)


def test_free_word_searches_full_text(indexed) -> None:
    store, messages, _ = indexed
    word = "invoice"
    found = ids(store, word.upper())
    assert found
    assert found <= expected(
        messages, lambda message: word in " ".join((message.sender.address, message.sender.display_name, message.subject, message.body_text)).casefold()
    )


def test_free_words_all_must_match(indexed) -> None:
    store, _, _ = indexed
    assert ids(store, "invoice payment") == ids(store, "invoice") & ids(store, "payment")


def test_free_word_prefix_with_star(indexed) -> None:
    store, _, _ = indexed
    assert ids(store, "invoic*") >= ids(store, "invoice")
    assert ids(store, '"invoic*"') == set()


def test_subject_term_matches_subject_only(indexed) -> None:
    store, messages, _ = indexed
    found = ids(store, "subject:invoice")
    assert found == {message.id for message in messages if message.id in found and "invoice" in message.subject.casefold()}
    assert found
    assert found <= ids(store, "invoice")


def test_subject_quoted_phrase(indexed) -> None:
    store, messages, _ = indexed
    subject = next(message.subject for message in messages if len(message.subject.split()) >= 3 and message.subject.isascii())
    phrase = " ".join(subject.split()[:2])
    found = ids(store, f'subject:"{phrase}"')
    assert any(message.subject == subject for message in messages if message.id in found)


def test_fts_syntax_in_text_is_literal(indexed) -> None:
    store, _, _ = indexed
    assert count(store, 'subject:"NEAR(a b)" OR* body_text') == MessageCount(0)


# Windows, order and counts ------------------------------------------------------------------------


def test_window_is_newest_first(indexed) -> None:
    store, messages, _ = indexed
    rows = window(store, "", 0, len(messages))
    received = [row.received_at for row in rows]
    assert received == sorted(received, reverse=True)
    assert received[-1] == ""


def test_windows_concatenate_to_whole(indexed) -> None:
    store, messages, _ = indexed
    whole = window(store, "", 0, len(messages))
    pieces: list[ExplorerRow] = []
    for offset in range(0, len(messages), 37):
        pieces.extend(window(store, "", offset, 37))
    assert pieces == whole


def test_tail_window_with_total_matches(indexed) -> None:
    store, messages, _ = indexed
    total = len(messages)
    whole = window(store, "", 0, total)
    for offset in (total - 1, total - 20, total // 2 + 1, total - 5):
        assert window(store, "", offset, 20, total=total) == whole[offset : offset + 20]
    assert window(store, "", total, 20, total=total) == []


def test_window_bounds(indexed) -> None:
    store, _, _ = indexed
    assert window(store, "", 0, 0) == []
    assert window(store, "", -1, 10) == []
    assert window(store, "", 10**6, 10) == []


def test_count_stops_at_cap(indexed) -> None:
    store, messages, _ = indexed
    capped = count(store, "", cap=10)
    assert capped == MessageCount(count=10, capped=True)
    assert capped.label == "10+ messages"
    exact = count(store, "", cap=DEFAULT_CAP)
    assert exact == MessageCount(count=len(messages))
    assert exact.label == f"{len(messages):,} messages"
    assert count(store, "", cap=len(messages)) == MessageCount(count=len(messages))


def test_count_label_singular() -> None:
    assert MessageCount(1).label == "1 message"
    assert MessageCount(12_345).label == "12,345 messages"
    assert MessageCount(10_000, capped=True).label == "10,000+ messages"


def test_store_source_passes_through(indexed) -> None:
    store, messages, _ = indexed
    source = StoreSource(store)
    first = source.explore_window("folder:inbox", 0, 1)[0]
    assert source.explore_count("folder:inbox") == count(store, "folder:inbox")
    assert source.message(first.id).subject == first.subject


# Query plans ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("", "idx_messages_received_at"),
        ("from:a@example.com", "idx_messages_sender_address_received_at"),
        ("domain:example.com", "idx_messages_sender_domain_received_at"),
        ("mailbox:a@example.com", "idx_messages_mailbox_received_at"),
        ("folder:Inbox", "idx_messages_folder_received_at"),
        ("after:2026-11-01", "idx_messages_received_at"),
    ],
)
def test_window_reads_order_from_index(indexed, query: str, index: str) -> None:
    store, _, _ = indexed
    plan = query_plan(store, query)
    # The steps before `SCAN page` find the window; the page of rows is sorted after.
    steps = " | ".join(plan[: plan.index("SCAN page")])
    assert index in steps
    assert "TEMP B-TREE" not in steps
    assert "message_verdicts" not in steps


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ("url:example.com", "idx_message_urls_host"),
        ("hash:" + "a" * 64, "idx_message_attachments_sha256"),
        ("verdict:malicious", "idx_message_verdicts_verdict"),
    ],
)
def test_lookup_terms_use_their_index(indexed, query: str, index: str) -> None:
    store, _, _ = indexed
    assert index in " | ".join(query_plan(store, query))
