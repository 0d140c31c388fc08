"""Clusters: body fingerprints, the similarity index in SQLite, and the clusters an investigation builds."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.investigation import Entity
from air_tui.domain.message import Address, EmailMessage, MessageLocation
from air_tui.domain.tenant import Organisation
from air_tui.domain.vocab import EntityKind, ThreatType, Verdict
from air_tui.engine.clustering import (
    CLUSTER_BY_BODY_SENDER_DOMAIN,
    CLUSTER_BY_BODY_SENDER_IP,
    CLUSTER_BY_SENDER_IP_SUBJECT,
    CLUSTER_BY_SENDER_SUBJECT,
    CLUSTER_NAMES,
    SAME_BODY_MAX_DISTANCE,
    SAME_BODY_MIN_JACCARD,
    describe_cluster,
    hunt_clusters,
)
from air_tui.engine.context import PlaybookContext
from air_tui.intel import IntelSnapshot
from air_tui.mail import parse_message
from air_tui.mail.fingerprint import MIN_WORDS, body_tokens, fingerprint, hamming_distance, jaccard, shingles
from air_tui.service import AirService, StoreMessageIndex
from air_tui.store import Store
from air_tui.store.messages import (
    MAX_SIMILAR_BODY_DISTANCE,
    body_band_keys,
    index_messages,
    message_ids_with_similar_body,
    message_ids_with_subject,
    normalise_subject,
)

CAMPAIGN = (
    "Hello {name}, your payroll account ending in {digits} has been flagged by our finance "
    "department because the bank details on file could not be verified this month. To avoid a "
    "delay to your salary payment of {amount} EUR, please sign in to the employee portal and "
    "confirm your details before {day} November. {sentence} Open the portal here: {url} and use "
    "your usual company password. If you have questions, write to {mail} and quote reference "
    "{reference}. We apologise for the inconvenience and thank you for your prompt attention. "
    "Human Resources and Payroll Services"
)
FIRST_SENTENCE = "Accounts that are not confirmed in time will be placed on hold by the payroll system."
OTHER_SENTENCE = "Staff who ignore this request may see their next payment postponed by several weeks."

SIGNATURE = (
    " Kind regards, the Fabrikam operations team. Fabrikam Ltd, 4 Harbour Road, Portsmouth. This "
    "e-mail and any attachments are confidential and intended solely for the addressee. If you "
    "received it in error, please notify the sender and delete it. Fabrikam never asks for your "
    "password by e-mail."
)
UNRELATED = [
    "Hi all, the quarterly report is attached for review before the meeting on Friday. Please add "
    "your comments in the shared document and flag any figures that look wrong so we can fix them.",
    "Reminder: the office is closed on Monday for the public holiday. Support tickets will be "
    "answered on Tuesday morning, and urgent issues can go to the on-call phone as usual.",
    "Your expense claim was approved and will be paid with the next salary run. If the amount "
    "differs from what you submitted, reply to this message with the receipt numbers.",
    "We are moving the warehouse systems to a new server this weekend. Expect short outages on "
    "Saturday night; no action is needed on your side and we will confirm once it is done.",
]

NAMES = ["Alice", "Bogdan", "Chen", "Dolores", "Emeka", "Freya"]


def campaign_body(number: int, sentence: str = FIRST_SENTENCE) -> str:
    name = NAMES[number % len(NAMES)]
    return CAMPAIGN.format(
        name=name,
        digits=4000 + 37 * number,
        amount=f"{2100 + number * 13:,}.{number:02d}",
        day=10 + number,
        sentence=sentence,
        url=f"https://payroll-check.example.net/login?id={number}x{name.lower()}",
        mail=f"payroll{number}@fabrikam-hr.example",
        reference=f"PR-{9000 + number}",
    )


def make_message(
    message_id: str,
    body: str,
    *,
    subject: str = "Payroll account verification required",
    sender: str = "payroll@fabrikam-hr.example",
    sender_ip: str = "203.0.113.10",
    mailbox: str = "user1@contoso.example",
    folder: str = "Inbox",
) -> EmailMessage:
    return EmailMessage(
        id=message_id,
        location=MessageLocation(mailbox=mailbox, folder=folder, key=message_id),
        subject=subject,
        sender=Address(address=sender),
        sender_ip=sender_ip,
        received_at=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),
        body_text=body,
        body_fingerprint=fingerprint(body),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "clusters.db") as opened:
        yield opened


# Fingerprints -----------------------------------------------------------------------------


def test_fingerprint_is_sixteen_hex_digits() -> None:
    value = fingerprint(campaign_body(0))
    assert re.fullmatch(r"[0-9a-f]{16}", value)
    assert fingerprint(campaign_body(0)) == value


def test_fingerprint_empty_for_short_body() -> None:
    seven_words = "Please call me back about the invoice"
    assert len(body_tokens(seven_words)) == MIN_WORDS - 1
    assert fingerprint(seven_words) == ""
    assert fingerprint(seven_words + " today") != ""
    assert fingerprint("") == ""


def test_body_tokens_mask_varying_parts() -> None:
    tokens = body_tokens("Hi BOB, pay 1,250.00 at https://x.example/a?b=1 or mail a.b@c.example   now " + "q" * 30)
    assert tokens == ["hi", "bob", "pay", "<number>", "<number>", "<number>", "at", "<url>", "or", "mail", "<email>", "now", "<long>"]


def test_fingerprint_ignores_white_space_and_case() -> None:
    body = campaign_body(1)
    shouted = "   ".join(body.upper().split())
    assert fingerprint(shouted) == fingerprint(body)


def test_fingerprint_close_for_names_and_numbers() -> None:
    first = fingerprint(campaign_body(0))
    for number in range(1, 12):
        assert hamming_distance(first, fingerprint(campaign_body(number))) <= 4, number


def test_fingerprint_close_for_one_changed_sentence() -> None:
    first = campaign_body(0)
    for number in range(0, 12):
        reworded = campaign_body(number, OTHER_SENTENCE)
        assert hamming_distance(fingerprint(first), fingerprint(reworded)) <= SAME_BODY_MAX_DISTANCE, number
        assert jaccard(shingles(first), shingles(reworded)) >= SAME_BODY_MIN_JACCARD, number


def test_shingles_tell_unrelated_same_signature() -> None:
    sets = [shingles(text + SIGNATURE) for text in UNRELATED]
    for index, first in enumerate(sets):
        for second in sets[index + 1 :]:
            assert jaccard(first, second) < SAME_BODY_MIN_JACCARD
    campaign = fingerprint(campaign_body(0))
    for text in UNRELATED:
        assert hamming_distance(campaign, fingerprint(text + SIGNATURE)) > SAME_BODY_MAX_DISTANCE


def test_jaccard_of_empty_set_is_zero() -> None:
    assert jaccard(frozenset(), frozenset()) == 0.0
    assert jaccard(shingles("one two three four"), shingles("one two three four")) == 1.0


def test_parse_sets_body_fingerprint() -> None:
    raw = (
        "From: Payroll <payroll@fabrikam-hr.example>\r\nTo: a@contoso.example\r\n"
        "Subject: Payroll\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + campaign_body(3) + "\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert parsed.body_fingerprint == fingerprint(parsed.body_text)
    assert parsed.body_fingerprint != ""


# Subjects ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: Invoice 4411 overdue", "invoice # overdue"),
        ("fw:  invoice 982   OVERDUE", "invoice # overdue"),
        ("AW: WG: Re[2]: Invoice 7 overdue", "invoice # overdue"),
        ("[EXTERNAL] Fwd: Invoice 12 overdue", "invoice # overdue"),
        ("Rechnung überfällig", "rechnung überfällig"),
        ("Reply needed", "reply needed"),
        ("RE:", ""),
    ],
)
def test_normalise_subject(subject: str, expected: str) -> None:
    assert normalise_subject(subject) == expected


# The similarity index ---------------------------------------------------------------------


def campaign_messages() -> list[EmailMessage]:
    copies = [
        make_message(f"copy-{number}", campaign_body(number), mailbox=f"user{number}@contoso.example")
        for number in range(4)
    ]
    reworded = make_message(
        "reworded",
        campaign_body(7, OTHER_SENTENCE),
        subject="RE: payroll account verification required",
        mailbox="user7@contoso.example",
        folder="Junk Email",
    )
    other_ip = make_message("other-ip", campaign_body(5), sender_ip="198.51.100.77", folder="Deleted Items")
    other_domain = make_message("other-domain", campaign_body(6), sender="hr@payroll-portal.example")
    subjects = ["Quarterly report", "Office closed on Monday", "Expense claim approved", "Server move"]
    unrelated = [make_message(f"unrelated-{index}", text + SIGNATURE, subject=subjects[index]) for index, text in enumerate(UNRELATED)]
    short = make_message("short", "Call me", subject="Something else")
    return [*copies, reworded, other_ip, other_domain, *unrelated, short]


def test_index_stores_band_and_subject_rows(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    bands = store.db.execute("SELECT COUNT(*) FROM message_body_bands").fetchone()[0]
    with_fingerprint = [message for message in messages if message.body_fingerprint]
    assert len(with_fingerprint) == len(messages) - 1
    assert bands == 4 * len(with_fingerprint)
    subjects = store.db.execute("SELECT subject_key FROM message_subjects WHERE message_id = 'reworded'").fetchone()
    assert subjects[0] == "payroll account verification required"


def test_similar_body_by_domain(store: Store) -> None:
    index_messages(store, campaign_messages())
    found = message_ids_with_similar_body(store, fingerprint(campaign_body(0)), SAME_BODY_MAX_DISTANCE, sender_domain="fabrikam-hr.example")
    assert found == ["copy-0", "copy-1", "copy-2", "copy-3", "other-ip", "reworded"]


def test_similar_body_by_ip(store: Store) -> None:
    index_messages(store, campaign_messages())
    found = message_ids_with_similar_body(store, fingerprint(campaign_body(0)), SAME_BODY_MAX_DISTANCE, sender_ip="203.0.113.10")
    assert found == ["copy-0", "copy-1", "copy-2", "copy-3", "other-domain", "reworded"]


def test_similar_body_finds_every_distance_the_bands_guarantee(store: Store) -> None:
    base = 0x0123_4567_89AB_CDEF
    # The differing bits are spread so that no band matches exactly: 3, 3, 3 and 2 bits.
    spread = [0, 1, 2, 16, 17, 18, 32, 33, 34, 48, 49]
    rows = []
    for distance in range(len(spread) + 1):
        value = base
        for bit in spread[:distance]:
            value ^= 1 << bit
        rows.append(make_message(f"distance-{distance:02d}", "", sender="a@spread.example"))
        rows[-1].body_fingerprint = f"{value:016x}"
    far = base ^ sum(1 << bit for bit in (0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35, 48))
    rows.append(make_message("distance-13", "", sender="a@spread.example"))
    rows[-1].body_fingerprint = f"{far:016x}"
    index_messages(store, rows)

    found = message_ids_with_similar_body(store, f"{base:016x}", MAX_SIMILAR_BODY_DISTANCE, sender_domain="spread.example")
    assert found == [f"distance-{distance:02d}" for distance in range(MAX_SIMILAR_BODY_DISTANCE + 1)]
    exact = message_ids_with_similar_body(store, f"{base:016x}", 3, sender_domain="spread.example")
    assert exact == ["distance-00", "distance-01", "distance-02", "distance-03"]


def test_similar_body_rejects_bad_arguments(store: Store) -> None:
    with pytest.raises(ValueError, match="out of range"):
        message_ids_with_similar_body(store, "0" * 16, MAX_SIMILAR_BODY_DISTANCE + 1, sender_domain="a.example")
    with pytest.raises(ValueError, match="exactly one"):
        message_ids_with_similar_body(store, "0" * 16, 3)
    with pytest.raises(ValueError, match="exactly one"):
        message_ids_with_subject(store, "x", sender_domain="a.example", sender_ip="192.0.2.1")
    assert message_ids_with_similar_body(store, "", 3, sender_domain="a.example") == []
    assert message_ids_with_similar_body(store, "not-a-fingerprint", 3, sender_domain="a.example") == []
    assert body_band_keys("XYZ") == []


def test_reindex_replaces_similarity_rows(store: Store) -> None:
    index_messages(store, campaign_messages())
    changed = make_message("copy-1", UNRELATED[2] + SIGNATURE, subject="Expense claim approved", mailbox="user1@contoso.example")
    index_messages(store, [changed])
    found = message_ids_with_similar_body(store, fingerprint(campaign_body(0)), SAME_BODY_MAX_DISTANCE, sender_domain="fabrikam-hr.example")
    assert "copy-1" not in found
    assert store.db.execute("SELECT COUNT(*) FROM message_body_bands WHERE message_id = 'copy-1'").fetchone()[0] == 4
    by_subject = message_ids_with_subject(store, "Payroll account verification required", sender_domain="fabrikam-hr.example")
    assert "copy-1" not in by_subject


def test_subject_lookup_normalises_and_filters_sender(store: Store) -> None:
    index_messages(store, campaign_messages())
    by_domain = message_ids_with_subject(store, "FW: Payroll  account verification REQUIRED", sender_domain="fabrikam-hr.example")
    assert by_domain == ["copy-0", "copy-1", "copy-2", "copy-3", "other-ip", "reworded"]
    by_ip = message_ids_with_subject(store, "Payroll account verification required", sender_ip="198.51.100.77")
    assert by_ip == ["other-ip"]
    assert message_ids_with_subject(store, "RE:", sender_domain="fabrikam-hr.example") == []


# hunt_clusters ------------------------------------------------------------------------------


def playbook_context(store: Store) -> PlaybookContext:
    return PlaybookContext(
        organisation=Organisation(name="Contoso", domains=["contoso.example"]),
        users=[],
        intel=IntelSnapshot(),
        messages=StoreMessageIndex(store),
        submissions=[],
        clicks=[],
        mailbox_settings={},
        clock=FrozenClock(datetime(2026, 11, 30, 9, 30, tzinfo=UTC)),
        new_id=SequentialIds(prefix="01CLUSTER"),
    )


def message_entity(message: EmailMessage, verdict: Verdict, threats: list[ThreatType]) -> Entity:
    return Entity(id=f"message:{message.id}", kind=EntityKind.MESSAGE, key=message.id, label=message.subject, verdict=verdict, threats=threats)


def test_hunt_builds_four_similarity_clusters(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    reported = messages[0]
    entity = message_entity(reported, Verdict.MALICIOUS, [ThreatType.PHISH])

    clusters = hunt_clusters(playbook_context(store), reported, entity, [], [])

    by_kind = {cluster.cluster_by: cluster for cluster in clusters}
    assert list(by_kind) == [CLUSTER_BY_BODY_SENDER_IP, CLUSTER_BY_BODY_SENDER_DOMAIN, CLUSTER_BY_SENDER_SUBJECT, CLUSTER_BY_SENDER_IP_SUBJECT]
    assert by_kind[CLUSTER_BY_BODY_SENDER_IP].message_ids == ["copy-0", "copy-1", "copy-2", "copy-3", "other-domain", "reworded"]
    assert by_kind[CLUSTER_BY_BODY_SENDER_DOMAIN].message_ids == ["copy-0", "copy-1", "copy-2", "copy-3", "other-ip", "reworded"]
    assert by_kind[CLUSTER_BY_SENDER_SUBJECT].message_ids == ["copy-0", "copy-1", "copy-2", "copy-3", "other-ip", "reworded"]
    assert by_kind[CLUSTER_BY_SENDER_IP_SUBJECT].message_ids == ["copy-0", "copy-1", "copy-2", "copy-3", "other-domain", "reworded"]
    for cluster in clusters:
        assert cluster.verdict is Verdict.MALICIOUS
        assert cluster.threats == [ThreatType.PHISH]
        assert not any(member.startswith("unrelated") for member in cluster.message_ids)
    assert by_kind[CLUSTER_BY_BODY_SENDER_DOMAIN].counts_by_folder == {"Deleted Items": 1, "Inbox": 4, "Junk Email": 1}
    assert by_kind[CLUSTER_BY_BODY_SENDER_DOMAIN].in_mailbox_count == 5


def test_hunt_leaves_out_unrelated_same_sender(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    reported = next(message for message in messages if message.id == "unrelated-0")
    entity = message_entity(reported, Verdict.MALICIOUS, [ThreatType.PHISH])
    # The shared signature brings another note within the fingerprint distance; shingles drop it.
    candidates = message_ids_with_similar_body(store, reported.body_fingerprint, SAME_BODY_MAX_DISTANCE, sender_domain="fabrikam-hr.example")
    assert candidates == ["unrelated-0", "unrelated-1"]

    clusters = hunt_clusters(playbook_context(store), reported, entity, [], [])

    by_kind = {cluster.cluster_by: cluster for cluster in clusters}
    assert by_kind[CLUSTER_BY_BODY_SENDER_DOMAIN].message_ids == ["unrelated-0"]
    assert by_kind[CLUSTER_BY_BODY_SENDER_IP].message_ids == ["unrelated-0"]
    assert by_kind[CLUSTER_BY_SENDER_SUBJECT].message_ids == ["unrelated-0"]


def test_hunt_keeps_clean_verdict(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    reported = messages[0]
    entity = message_entity(reported, Verdict.NO_THREATS_FOUND, [])

    clusters = hunt_clusters(playbook_context(store), reported, entity, [], [])

    assert len(clusters) == 4
    assert {cluster.verdict for cluster in clusters} == {Verdict.NO_THREATS_FOUND}


def test_hunt_skips_clusters_without_attributes(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    short = next(message for message in messages if message.id == "short")
    short.sender_ip = ""
    entity = message_entity(short, Verdict.SUSPICIOUS, [])

    clusters = hunt_clusters(playbook_context(store), short, entity, [], [])

    assert [cluster.cluster_by for cluster in clusters] == [CLUSTER_BY_SENDER_SUBJECT]
    assert clusters[0].message_ids == ["short"]


def test_hunt_indicator_cluster_only_when_malicious(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    reported = messages[0]
    entity = message_entity(reported, Verdict.MALICIOUS, [ThreatType.MALWARE])
    file_entity = Entity(id="file:abc", kind=EntityKind.FILE, key="abc", label="a.zip", verdict=Verdict.NO_THREATS_FOUND, attributes={"sha256": "abc"})

    clusters = hunt_clusters(playbook_context(store), reported, entity, [], [file_entity])

    assert "file_hash" not in {cluster.cluster_by for cluster in clusters}


def test_describe_cluster_names_every_kind(store: Store) -> None:
    messages = campaign_messages()
    index_messages(store, messages)
    entity = message_entity(messages[0], Verdict.MALICIOUS, [ThreatType.PHISH])
    clusters = hunt_clusters(playbook_context(store), messages[0], entity, [], [])
    labels = [describe_cluster(cluster) for cluster in clusters]
    assert labels[0] == f"Similar body from the same sender IP: 203.0.113.10 | body {messages[0].body_fingerprint}"
    assert labels[2] == "Same subject from the same sender domain: fabrikam-hr.example | Payroll account verification required"
    assert all(not name[0].islower() for name in CLUSTER_NAMES.values())


# The investigation --------------------------------------------------------------------------


def test_cluster_entities_show_frozen_and_current_counts(investigated: AirService) -> None:
    checked = 0
    for row in investigated.alert_queue():
        if not row.investigation_id:
            continue
        detail = investigated.investigation_detail(row.investigation_id)
        clusters = {cluster.id: cluster for cluster in detail.clusters}
        for entity in detail.entities:
            if entity.kind is not EntityKind.CLUSTER:
                continue
            cluster = clusters[entity.key]
            assert entity.label == describe_cluster(cluster)
            assert "in_mailbox_now" in entity.attributes
            assert entity.attributes["message_count"] == len(cluster.message_ids)
            for folder, number in cluster.counts_by_folder.items():
                assert f"{folder} {number}" in entity.evidence[0].text
            checked += 1
    assert checked > 0


def test_demo_reports_get_similarity_clusters(investigated: AirService) -> None:
    kinds = set()
    for row in investigated.alert_queue():
        if row.alert.policy_id != "user-reported-phish":
            continue
        detail = investigated.investigation_detail(row.investigation_id)
        kinds.update(cluster.cluster_by for cluster in detail.clusters)
        reported = investigated.message(row.alert.message_ids[0])
        assert reported is not None
        assert reported.body_fingerprint != ""
    assert {CLUSTER_BY_BODY_SENDER_DOMAIN, CLUSTER_BY_SENDER_SUBJECT} <= kinds


def test_empty_attachments_make_no_cluster(investigated: AirService) -> None:
    empty = hashlib.sha256(b"").hexdigest()
    for investigation in investigated.investigations():
        detail = investigated.investigation_detail(investigation.id)
        assert all(not (cluster.cluster_by == "file_hash" and cluster.value == empty) for cluster in detail.clusters)
