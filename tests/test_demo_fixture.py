"""Checks on the committed demo tenant in fixtures/demo-tenant.

The tests read the real files. One of them rebuilds the tenant with
fixtures/build_demo.py into a temporary directory and compares every byte.
"""

from __future__ import annotations

import csv
import email
import email.header
import email.policy
import email.utils
import hashlib
import html
import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pydantic import BaseModel

from air_tui.domain.message import MessageLocation
from air_tui.domain.tenant import (
    AdminAction,
    AuditRecord,
    MailboxSettings,
    Organisation,
    Restriction,
    SignIn,
    Submission,
    UrlClick,
    User,
)
from air_tui.mail.parse import parse_message

REPO = Path(__file__).resolve().parent.parent
TENANT = REPO / "fixtures" / "demo-tenant"
CORPUS = REPO / "fixtures" / "corpus"
BUILDER = REPO / "fixtures" / "build_demo.py"
FOLDERS = ("Inbox", "Junk Email", "Deleted Items", "Sent Items", "Recoverable Items")
# Folders that removal after delivery leaves alone.
REMOVAL_SKIPS = {"Junk Email", "Deleted Items", "Sent Items", "Recoverable Items"}
ACTIVITY_MODELS = {
    "submissions.jsonl": Submission,
    "url_clicks.jsonl": UrlClick,
    "signins.jsonl": SignIn,
    "audit.jsonl": AuditRecord,
    "restrictions.jsonl": Restriction,
    "admin_actions.jsonl": AdminAction,
}
RECIPIENT_FIELDS = {b"to", b"cc", b"bcc", b"delivered-to", b"x-original-to", b"envelope-to", b"x-envelope-to"}
CAMPAIGNS = {
    "NL parcel tracking": ("4337", "4377", "4431"),
    "EN please verify": ("1659", "1685", "1693"),
    "DE McAfee expired": ("5181", "5225", "5226"),
    "PT customs parcel": ("5183", "5280", "5281"),
}


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def tenant() -> dict:
    return json.loads((TENANT / "tenant.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def users() -> list[dict]:
    return json.loads((TENANT / "directory.json").read_text(encoding="utf-8"))["users"]


@pytest.fixture(scope="module")
def manifest() -> list[dict]:
    with (TENANT / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def message_files() -> dict[tuple[str, str, str], Path]:
    """Map (mailbox, folder, key) to the message file, for cur/ and new/ alike."""
    files = {}
    for path in (TENANT / "mailboxes").glob("*/*/*/*"):
        if path.name == ".keep" or path.parent.name == "tmp":
            continue
        mailbox, folder = path.parts[-4], path.parts[-3]
        key = path.name.split(":2,")[0]
        assert (mailbox, folder, key) not in files, f"duplicate key {key} in {mailbox}/{folder}"
        files[(mailbox, folder, key)] = path
    return files


@pytest.fixture(scope="module")
def copies_by_key(message_files) -> dict[tuple[str, str], Path]:
    return {(mailbox, key): path for (mailbox, _, key), path in message_files.items()}


@pytest.fixture(scope="module")
def reference_time(tenant) -> datetime:
    return parse_time(tenant["reference_time"])


def decoded_text(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    texts = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True) or b""
        try:
            texts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
        except LookupError:
            texts.append(payload.decode("latin-1"))
    return html.unescape("\n".join(texts))


def split_fields(raw: bytes) -> tuple[list[bytes], bytes]:
    """Split raw mail into top-level header fields (folded lines kept) and the rest."""
    fields: list[bytes] = []
    lines = raw.splitlines(keepends=True)
    consumed = 0
    for line in lines:
        if line in (b"\n", b"\r\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
        consumed += len(line)
    return fields, raw[consumed:]


def name_of(field: bytes) -> bytes:
    head = field.split(b":", 1)[0].rstrip()
    return b"" if b":" not in field or b" " in head or b"\t" in head else head.lower()


def test_directory_users_vips_and_finance(users, tenant):
    addresses = [user["address"] for user in users]

    assert len(users) >= 15
    assert len(set(addresses)) == len(addresses)
    assert all(address.endswith("@" + tenant["domains"][0]) for address in addresses)
    assert sum(user["vip"] for user in users) >= 3
    assert sum(user["department"] == "Finance" for user in users) >= 4
    for user in users:
        assert user["display_name"], user
        assert user["department"], user
        assert user["title"], user


def test_every_user_has_five_maildir_folders(users):
    for user in users:
        for folder in FOLDERS:
            for subdir in ("cur", "new", "tmp"):
                directory = TENANT / "mailboxes" / user["address"] / folder / subdir
                assert directory.is_dir(), directory
                assert any(directory.iterdir()), f"{directory} is empty, so git would not track it"


def test_mailboxes_only_known_folders(users):
    addresses = {user["address"] for user in users}

    assert {path.name for path in (TENANT / "mailboxes").iterdir()} == addresses
    for mailbox in (TENANT / "mailboxes").iterdir():
        assert {path.name for path in mailbox.iterdir()} == set(FOLDERS)


def test_at_least_300_messages(message_files):
    assert len(message_files) >= 300


def test_manifest_lists_every_message_file(manifest, message_files):
    listed = {(row["mailbox"], row["folder"], row["key"]) for row in manifest}

    assert len(listed) == len(manifest)
    assert listed == set(message_files)


def test_manifest_roles_and_origins(manifest):
    roles = defaultdict(int)
    for row in manifest:
        roles[row["role"]] += 1
        if row["origin"] == "generated:outbound-phish":
            assert row["role"] == "phish", row
            assert row["folder"] == "Sent Items", row
        elif row["origin"].startswith("generated:"):
            assert row["role"] in ("benign", "newsletter"), row
        else:
            assert (CORPUS / row["origin"]).is_file(), row["origin"]

    assert set(roles) <= {"phish", "malware", "spam", "benign", "newsletter"}
    assert sum(1 for row in manifest if row["origin"].startswith("generated:")) >= 150
    assert any(row["folder"] == "Sent Items" for row in manifest)
    for role in ("phish", "malware", "spam", "benign", "newsletter"):
        assert roles[role] > 0, role


def test_maildir_names_match_delivery_time(manifest, message_files):
    for row in manifest:
        path = message_files[(row["mailbox"], row["folder"], row["key"])]
        epoch = int(parse_time(row["delivered"]).timestamp())

        assert re.fullmatch(rf"{epoch}\.M\d+P0\.larkspur", row["key"]), row["key"]
        if path.parent.name == "cur":
            assert path.name in (row["key"] + ":2,", row["key"] + ":2,S"), path.name
        else:
            assert path.name == row["key"], path.name


def test_times_within_14_day_window(manifest, reference_time):
    start = reference_time - timedelta(days=14)
    times = [row["delivered"] for row in manifest]
    times += [record["time"] for record in read_jsonl(TENANT / "activity" / "submissions.jsonl")]
    times += [record["time"] for record in read_jsonl(TENANT / "activity" / "url_clicks.jsonl")]
    times += [record["time"] for record in read_jsonl(TENANT / "activity" / "signins.jsonl")]
    for name in ("audit.jsonl", "restrictions.jsonl", "admin_actions.jsonl"):
        times += [record["time"] for record in read_jsonl(TENANT / "activity" / name)]

    for value in times:
        assert start <= parse_time(value) <= reference_time, value


def test_campaign_members_reach_several_users(manifest):
    mailboxes_by_origin = defaultdict(set)
    for row in manifest:
        mailboxes_by_origin[row["origin"]].add(row["mailbox"])

    for name, numbers in CAMPAIGNS.items():
        for number in numbers:
            reached = mailboxes_by_origin[f"phishing_pot/sample-{number}.eml"]
            assert 2 <= len(reached) <= 4, f"{name} member {number} reached {len(reached)} mailboxes"


def test_campaign_copies_sit_mostly_in_inbox(manifest):
    origins = {f"phishing_pot/sample-{n}.eml" for numbers in CAMPAIGNS.values() for n in numbers}
    folders = [row["folder"] for row in manifest if row["origin"] in origins]

    assert folders.count("Inbox") > len(folders) / 2
    assert folders.count("Junk Email") >= 2
    assert 1 <= folders.count("Deleted Items") <= 2


def test_submissions_name_existing_copies(copies_by_key, users):
    submissions = read_jsonl(TENANT / "activity" / "submissions.jsonl")
    addresses = {user["address"] for user in users}

    assert len(submissions) >= 6
    assert len({record["id"] for record in submissions}) == len(submissions)
    for record in submissions:
        assert record["report_type"] in ("Phish", "Malware", "Junk", "NotJunk"), record
        assert record["reporter"] in addresses
        assert record["mailbox"] in addresses
        path = copies_by_key.get((record["mailbox"], record["key"]))
        assert path is not None, f"{record['id']} names a missing copy"
        message_id = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32).get("Message-ID")
        expected = " ".join(str(message_id).split()) if message_id else ""
        assert record["internet_message_id"] == expected, record["id"]


def test_submissions_cover_required_reports(manifest, users):
    submissions = read_jsonl(TENANT / "activity" / "submissions.jsonl")
    origin_of = {(row["mailbox"], row["key"]): row for row in manifest}
    reported = [(record, origin_of[(record["mailbox"], record["key"])]) for record in submissions]
    vips = {user["address"] for user in users if user["vip"]}

    for name, numbers in CAMPAIGNS.items():
        origins = {f"phishing_pot/sample-{n}.eml" for n in numbers}
        assert any(row["origin"] in origins and record["report_type"] == "Phish" for record, row in reported), name
    assert any(record["report_type"] == "Malware" and row["role"] == "malware" for record, row in reported)
    assert any(row["origin"] == "phishing_pot/sample-1258.eml" for _, row in reported)
    assert any(record["report_type"] == "Phish" and row["role"] == "newsletter" for record, row in reported)
    assert any(record["reporter"] in vips for record, _ in reported)


def test_newsletter_report_comes_from_allowed_domain(copies_by_key, manifest):
    allowed = {row["domain"] for row in read_csv(TENANT / "intel" / "allow_domains.csv")}
    roles = {(row["mailbox"], row["key"]): row["role"] for row in manifest}
    found = False
    for record in read_jsonl(TENANT / "activity" / "submissions.jsonl"):
        if roles[(record["mailbox"], record["key"])] != "newsletter" or record["report_type"] != "Phish":
            continue
        message = email.message_from_bytes(copies_by_key[(record["mailbox"], record["key"])].read_bytes())
        sender_domain = email.utils.parseaddr(message["From"])[1].rpartition("@")[2]
        assert sender_domain in allowed
        found = True

    assert found


def test_newsletter_links_stay_on_its_domain(manifest, copies_by_key):
    for row in manifest:
        if row["role"] != "newsletter":
            continue
        text = decoded_text(copies_by_key[(row["mailbox"], row["key"])].read_bytes())
        hosts = {urlsplit(url).hostname for url in re.findall(r"https?://[^\s\"'<>]+", text)}

        assert hosts == {"news.northwindpartners.example"}, hosts


def test_clicks_name_copies_with_url(copies_by_key):
    clicks = read_jsonl(TENANT / "activity" / "url_clicks.jsonl")

    assert clicks
    for record in clicks:
        assert record["action"] in ("allowed", "blocked", "clicked_through"), record
        assert record["user"] == record["mailbox"]
        path = copies_by_key.get((record["mailbox"], record["key"]))
        assert path is not None, f"{record['id']} names a missing copy"
        assert record["url"] in decoded_text(path.read_bytes()), record["id"]


def test_finance_user_clicked_through_listed_url(users):
    finance = {user["address"] for user in users if user["department"] == "Finance"}
    listed_urls = {row["url"] for row in read_csv(TENANT / "intel" / "urls.csv")}
    listed_domains = {row["domain"] for row in read_csv(TENANT / "intel" / "domains.csv")}
    clicks = read_jsonl(TENANT / "activity" / "url_clicks.jsonl")

    def listed(url: str) -> bool:
        host = urlsplit(url).hostname or ""
        return url in listed_urls or any(host == d or host.endswith("." + d) for d in listed_domains)

    through = [c for c in clicks if c["action"] == "clicked_through" and c["user"] in finance and listed(c["url"])]
    assert through
    assert sum(1 for c in clicks if c["action"] == "allowed" and not listed(c["url"])) >= 3


def test_signins_abroad_only_for_forwarding_users(users):
    signins = read_jsonl(TENANT / "activity" / "signins.jsonl")
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    per_user = defaultdict(list)
    for record in signins:
        per_user[record["user"]].append(record)
        assert record["result"] in ("success", "failure")

    for user in users:
        home = [r for r in per_user[user["address"]] if r["country"] == "NL"]
        assert len(home) >= 2, user["address"]
    abroad = {r["user"] for r in signins if r["country"] != "NL"}
    forwarding = {address for address, entry in settings.items() if entry["forwarding"]}
    assert len(abroad) == 2
    assert abroad == forwarding


def test_forwarding_users_have_hiding_rule(users):
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    department = {user["address"]: user["department"] for user in users}
    signins = read_jsonl(TENANT / "activity" / "signins.jsonl")

    assert set(settings) == set(department)
    forwarding = [address for address, entry in settings.items() if entry["forwarding"]]
    assert len(forwarding) == 2
    for address in forwarding:
        entry = settings[address]
        assert department[address] == "Finance"
        assert not entry["forwarding"]["smtp_address"].endswith("@larkspur.example")
        assert entry["forwarding"]["deliver_and_forward"] is True
        set_at = parse_time(entry["forwarding"]["set_at"])
        rule = entry["inbox_rules"][0]
        assert {"invoice", "payment"} <= {word.lower() for word in rule["conditions"]["subject_contains"]}
        assert rule["actions"]["move_to_folder"] == "Deleted Items" or rule["actions"]["delete"] is True
        assert rule["actions"]["mark_as_read"] is True
        assert all(not target.endswith("@larkspur.example") for target in rule["actions"]["forward_to"])
        foreign = [r for r in signins if r["user"] == address and r["country"] != "NL" and r["result"] == "success"]
        assert foreign
        assert min(parse_time(r["time"]) for r in foreign) < set_at <= parse_time(rule["created"])


def test_first_compromise_five_days_old(reference_time):
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    rules = [
        entry["inbox_rules"][0] for entry in settings.values() if entry["forwarding"] and entry["inbox_rules"]
    ]
    ages = [reference_time - parse_time(rule["created"]) for rule in rules]

    older = [rule for rule, age in zip(rules, ages) if timedelta(days=4, hours=12) <= age <= timedelta(days=5, hours=12)]
    assert len(older) == 1
    assert older[0]["actions"]["move_to_folder"] == "Deleted Items"
    assert older[0]["actions"]["forward_to"]


def test_hiding_rules_clear_matching_inbox_mail(manifest, copies_by_key):
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    for address, entry in settings.items():
        if not entry["forwarding"]:
            continue
        rule = entry["inbox_rules"][0]
        created = parse_time(rule["created"])
        keywords = [word.lower() for word in rule["conditions"]["subject_contains"]]
        hidden = 0
        for row in manifest:
            if row["mailbox"] != address or parse_time(row["delivered"]) <= created:
                continue
            message = email.message_from_bytes(copies_by_key[(address, row["key"])].read_bytes())
            subject = str(email.header.make_header(email.header.decode_header(message["Subject"] or ""))).lower()
            if not any(word in subject for word in keywords):
                continue
            assert row["folder"] != "Inbox", (address, row["key"], subject)
            hidden += row["folder"] == "Deleted Items"
        assert hidden >= 1, address


def test_harmless_rules_and_delegate(reference_time):
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    window_start = reference_time - timedelta(days=14)
    harmless = [
        rule
        for entry in settings.values()
        if not entry["forwarding"]
        for rule in entry["inbox_rules"]
        if parse_time(rule["created"]) < window_start
    ]

    assert len(harmless) >= 2
    for rule in harmless:
        targets = rule["actions"]["forward_to"] + rule["actions"]["redirect_to"]
        assert all(target.endswith("@larkspur.example") for target in targets), rule
    assert sum(len(entry["delegates"]) for entry in settings.values()) >= 1


def test_intel_lists_have_expected_headers():
    expected = {
        "urls.csv": "url,threat,source,added",
        "domains.csv": "domain,threat,source,added",
        "file_hashes.csv": "sha256,threat,source,added",
        "allow_domains.csv": "domain,source,added",
    }
    for name, header in expected.items():
        lines = (TENANT / "intel" / name).read_text(encoding="utf-8").splitlines()
        assert lines[0] == header
        assert len(lines) > 3, name
    for name in ("urls.csv", "domains.csv", "file_hashes.csv"):
        for row in read_csv(TENANT / "intel" / name):
            assert row["threat"] in ("Phish", "Malware"), row


def test_intel_hashes_match_delivered_attachments(manifest, copies_by_key):
    listed = {row["sha256"] for row in read_csv(TENANT / "intel" / "file_hashes.csv")}
    found = set()
    for row in manifest:
        if row["origin"].startswith("generated:"):
            continue
        message = email.message_from_bytes(
            copies_by_key[(row["mailbox"], row["key"])].read_bytes(), policy=email.policy.compat32
        )
        for part in message.walk():
            if part.get_filename():
                # Attachments here include live malware, so they are hashed in memory and never saved.
                found.add(hashlib.sha256(part.get_payload(decode=True) or b"").hexdigest())

    assert len(listed & found) >= 4
    assert listed - found, "the feed should also list hashes seen in no mailbox"


def test_intel_leaves_some_phish_unknown(manifest, copies_by_key):
    urls = {row["url"] for row in read_csv(TENANT / "intel" / "urls.csv")}
    domains = {row["domain"] for row in read_csv(TENANT / "intel" / "domains.csv")}
    phish_origins = {row["origin"]: (row["mailbox"], row["key"]) for row in manifest if row["role"] == "phish"}
    unknown = 0
    for copy in phish_origins.values():
        text = decoded_text(copies_by_key[copy].read_bytes())
        if not any(url in text for url in urls) and not any(domain in text for domain in domains):
            unknown += 1

    assert unknown >= 10


def test_corpus_copies_change_recipients_only(manifest, copies_by_key):
    corpus_rows = [row for row in manifest if not row["origin"].startswith("generated:")]

    assert len(corpus_rows) >= 100
    for row in corpus_rows:
        address = row["mailbox"].encode()
        original = (CORPUS / row["origin"]).read_bytes()
        copy = copies_by_key[(row["mailbox"], row["key"])].read_bytes()
        original_fields, original_rest = split_fields(original)
        copy_fields, copy_rest = split_fields(copy)

        assert copy_rest == original_rest, row["origin"]
        assert len(copy_fields) == len(original_fields), row["origin"]
        names_user = False
        for before, after in zip(original_fields, copy_fields):
            name = name_of(before)
            assert name_of(after) == name
            if name in RECIPIENT_FIELDS:
                assert after.split(b":", 1)[1].strip() == address, (row["origin"], after)
                names_user = True
            elif name == b"received":
                normalised_before = re.sub(rb"(?i)(\bfor\s+)<[^<>]*>", rb"\1<>", before)
                normalised_after = re.sub(rb"(?i)(\bfor\s+)<[^<>]*>", rb"\1<>", after)
                normalised_before = re.sub(rb"(?i)(\bfor\s+)[^\s<>;()\"]+@[^\s<>;()\"]+", rb"\1<>", normalised_before)
                normalised_after = re.sub(rb"(?i)(\bfor\s+)[^\s<>;()\"]+@[^\s<>;()\"]+", rb"\1<>", normalised_after)
                assert normalised_after == normalised_before, row["origin"]
                names_user = names_user or address in after
            else:
                assert after == before, (row["origin"], before[:60])
        assert names_user, row["origin"]


@pytest.mark.parametrize(
    ("origin", "mailbox", "replacements"),
    [
        ("phishing_pot/sample-4337.eml", "ruben.jansen@larkspur.example", [(b"To: phishing@pot\r\n", b"To: {}\r\n")]),
        (
            "phishing_pot/sample-5226.eml",
            "sofia.rossi@larkspur.example",
            [(b"To: <phishing@pot@outlook.com>\n", b"To: {}\n"), (b"CC: <phishing@pot@outlook.com>\n", b"CC: {}\n")],
        ),
        (
            "phishing_pot/sample-1266.eml",
            "samuel.achterberg@larkspur.example",
            [
                (b"X-Original-To: user@example.com\r\n", b"X-Original-To: {}\r\n"),
                (b"Delivered-To: user@example.com\r\n", b"Delivered-To: {}\r\n"),
                (b"for <user@example.com>;", b"for <{}>;"),
                (b"\r\nTo: user@example.com\r\n", b"\r\nTo: {}\r\n"),
            ],
        ),
    ],
)
def test_corpus_copy_bytes(manifest, copies_by_key, origin, mailbox, replacements):
    expected = (CORPUS / origin).read_bytes()
    for old, new in replacements:
        assert expected.count(old) == 1, old
        expected = expected.replace(old, new.replace(b"{}", mailbox.encode()))
    keys = [row["key"] for row in manifest if row["origin"] == origin and row["mailbox"] == mailbox]

    assert len(keys) == 1
    assert copies_by_key[(mailbox, keys[0])].read_bytes() == expected


def test_generated_mail_carries_standard_headers(manifest, copies_by_key, tenant):
    allowed = {row["domain"] for row in read_csv(TENANT / "intel" / "allow_domains.csv")}
    trusted = allowed | set(tenant["domains"])
    for row in manifest:
        if not row["origin"].startswith("generated:"):
            continue
        message = email.message_from_bytes(copies_by_key[(row["mailbox"], row["key"])].read_bytes())
        sender_domain = email.utils.parseaddr(message["From"])[1].rpartition("@")[2]

        for name in ("Message-ID", "Date", "From", "To", "MIME-Version", "Content-Type"):
            assert message[name], (row["key"], name)
        assert sender_domain in trusted
        if row["folder"] != "Sent Items":
            results = " ".join(message["Authentication-Results"].split())
            assert results.startswith(tenant["authserv_id"] + ";")
            assert f"dmarc=pass header.from={sender_domain}" in results
            assert "spf=pass" in results
            assert f"dkim=pass header.d={sender_domain}" in results


# --------------------------------------------------------------------------
# Stories for the alert policies other than user reports


def parse_models(path: Path, model: type[BaseModel]) -> list[BaseModel]:
    return [model.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def listed_domain(host: str, domains: set[str]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


@pytest.fixture(scope="module")
def intel() -> dict[str, dict[str, str]]:
    """Map each intel list to {indicator: threat}."""
    return {
        "urls": {row["url"]: row["threat"] for row in read_csv(TENANT / "intel" / "urls.csv")},
        "domains": {row["domain"]: row["threat"] for row in read_csv(TENANT / "intel" / "domains.csv")},
        "hashes": {row["sha256"]: row["threat"] for row in read_csv(TENANT / "intel" / "file_hashes.csv")},
    }


@pytest.fixture(scope="module")
def removal_matches(manifest, copies_by_key, intel, reference_time) -> list[tuple[dict, set[tuple[str, str]]]]:
    """Copies that an intel refresh at the reference time would move, with the indicators each matches.

    A copy qualifies when it was delivered in the 48 hours before the reference time, sits outside
    the folders removal skips, and has a listed URL (exact, or by registrable domain), attachment
    hash or sender domain. Each indicator is a pair (kind, value), kind being `url`, `file` or `sender`.
    """
    start = reference_time - timedelta(hours=48)
    matches = []
    for row in manifest:
        if row["folder"] in REMOVAL_SKIPS or not start <= parse_time(row["delivered"]) < reference_time:
            continue
        location = MessageLocation(mailbox=row["mailbox"], folder=row["folder"], key=row["key"])
        # The parser hashes attachments in memory; live malware never reaches the disk.
        message = parse_message(copies_by_key[(row["mailbox"], row["key"])].read_bytes(), location=location)
        found: set[tuple[str, str]] = set()
        for url in message.urls:
            if url.url in intel["urls"] or url.normalised in intel["urls"]:
                found.add(("url", url.url))
            if url.registrable_domain in intel["domains"]:
                found.add(("url", url.registrable_domain))
        for attachment in message.attachments:
            if attachment.sha256 in intel["hashes"]:
                found.add(("file", attachment.sha256))
        if message.sender.domain and listed_domain(message.sender.domain, set(intel["domains"])):
            found.add(("sender", message.sender.domain))
        if found:
            matches.append((row, found))
    return matches


@pytest.fixture(scope="module")
def locations(users) -> dict[str, str]:
    return {user["address"]: user.get("mailbox_location", "cloud") for user in users}


def test_activity_files_parse_with_models():
    for name, model in ACTIVITY_MODELS.items():
        records = parse_models(TENANT / "activity" / name, model)

        assert records, name
        if hasattr(records[0], "id"):
            assert len({record.id for record in records}) == len(records), name


def test_tenant_files_parse_with_models():
    Organisation.model_validate_json((TENANT / "tenant.json").read_text(encoding="utf-8"))
    directory = json.loads((TENANT / "directory.json").read_text(encoding="utf-8"))
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))

    parsed_users = [User.model_validate(user) for user in directory["users"]]
    assert {user.mailbox_location for user in parsed_users} == {"cloud", "on-premises"}
    for entry in settings.values():
        MailboxSettings.model_validate(entry)


def test_one_on_premises_mailbox_not_vip(users):
    on_premises = [user for user in users if user["mailbox_location"] == "on-premises"]

    assert len(on_premises) == 1
    assert not on_premises[0]["vip"]


def test_removal_window_has_listed_file(removal_matches, intel, locations):
    files = [
        row for row, found in removal_matches
        for kind, value in found
        if kind == "file" and intel["hashes"][value] == "Malware" and locations[row["mailbox"]] == "cloud"
    ]

    assert files


def test_removal_window_has_listed_url_copy(removal_matches, locations):
    copies_by_url = defaultdict(list)
    for row, found in removal_matches:
        for kind, value in found:
            if kind == "url" and locations[row["mailbox"]] == "cloud":
                copies_by_url[value].append(row)

    assert any(1 <= len(rows) < 5 for rows in copies_by_url.values()), dict(copies_by_url)


def test_removal_window_has_campaign(removal_matches, locations):
    copies_by_indicator = defaultdict(list)
    for row, found in removal_matches:
        if locations[row["mailbox"]] != "cloud":
            continue
        for indicator in found:
            copies_by_indicator[indicator].append(row)

    campaigns = [
        indicator
        for indicator, rows in copies_by_indicator.items()
        if len(rows) >= 5 and len({row["mailbox"] for row in rows}) >= 2
    ]
    assert campaigns


def test_removal_window_has_sender_domain_only(removal_matches, locations):
    sender_only = [
        row for row, found in removal_matches
        if {kind for kind, _ in found} == {"sender"} and locations[row["mailbox"]] == "cloud"
    ]

    assert sender_only


def test_removal_window_has_on_premises_copy(removal_matches, locations):
    stranded = [row for row, _ in removal_matches if locations[row["mailbox"]] == "on-premises"]

    assert stranded


def test_removal_window_spares_reported_copies(removal_matches):
    reported = {(record["mailbox"], record["key"]) for record in read_jsonl(TENANT / "activity" / "submissions.jsonl")}
    moved = {(row["mailbox"], row["key"]) for row, _ in removal_matches}

    assert not reported & moved


def test_listed_url_clicked_by_three_users(intel, manifest, reference_time):
    clicks = read_jsonl(TENANT / "activity" / "url_clicks.jsonl")
    copies = {(row["mailbox"], row["key"]): row for row in manifest}
    by_url = defaultdict(list)
    for click in clicks:
        if click["url"] in intel["urls"] and click["action"] != "blocked":
            by_url[click["url"]].append(click)

    stories = [
        url for url, found in by_url.items()
        if len({click["user"] for click in found}) >= 3
        and any(click["action"] == "clicked_through" for click in found)
    ]
    assert len(stories) == 1
    story = by_url[stories[0]]
    times = [parse_time(click["time"]) for click in story]
    assert max(times) - min(times) <= timedelta(days=1)
    assert min(times) >= reference_time - timedelta(hours=48)
    for click in story:
        copy = copies[(click["mailbox"], click["key"])]
        assert copy["folder"] == "Inbox", click["id"]
        assert parse_time(copy["delivered"]) < parse_time(click["time"]), click["id"]


@pytest.fixture(scope="module")
def takeover(users) -> dict:
    """Facts about the restricted user: address, sign-ins, audit records and settings."""
    restrictions = read_jsonl(TENANT / "activity" / "restrictions.jsonl")
    assert len(restrictions) == 1
    address = restrictions[0]["user"]
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    return {
        "address": address,
        "user": next(user for user in users if user["address"] == address),
        "restriction": restrictions[0],
        "signins": [r for r in read_jsonl(TENANT / "activity" / "signins.jsonl") if r["user"] == address],
        "audit": [r for r in read_jsonl(TENANT / "activity" / "audit.jsonl") if r["mailbox"] == address],
        "settings": settings[address],
    }


def test_takeover_user_not_vip(takeover):
    assert not takeover["user"]["vip"]


def test_takeover_signins_from_new_country(takeover):
    signins = sorted(takeover["signins"], key=lambda record: record["time"])
    foreign = [r for r in signins if r["country"] != "NL"]
    first_foreign = signins.index(foreign[0])

    assert {r["country"] for r in signins[:first_foreign]} == {"NL"}
    assert len({r["country"] for r in foreign}) == 1
    assert len({r["ip"] for r in foreign}) == 1
    assert foreign[0]["ip"] not in {r["ip"] for r in signins[:first_foreign]}
    assert [r["result"] for r in foreign][-1] == "success"
    assert [r["result"] for r in foreign].count("failure") >= 2
    assert foreign[-1]["time"].startswith("2026-11-29")


def test_takeover_audit_matches_settings(takeover):
    foreign_ip = next(r["ip"] for r in takeover["signins"] if r["country"] != "NL")
    signed_in = max(parse_time(r["time"]) for r in takeover["signins"] if r["country"] != "NL")
    audit = {record["operation"]: record for record in takeover["audit"]}
    settings = takeover["settings"]

    assert set(audit) == {"Set-Mailbox", "New-InboxRule", "Add-MailboxPermission"}
    for record in audit.values():
        assert record["client_ip"] == foreign_ip
        assert record["user"] == takeover["address"]
        assert parse_time(record["time"]) > signed_in

    forwarding = audit["Set-Mailbox"]["parameters"]
    assert forwarding["ForwardingSmtpAddress"] == "smtp:" + settings["forwarding"]["smtp_address"]
    assert settings["forwarding"]["smtp_address"].endswith("@freemail.example")
    assert settings["forwarding"]["set_at"] == audit["Set-Mailbox"]["time"]

    rule = audit["New-InboxRule"]["parameters"]
    assert {word.lower() for word in rule["SubjectContainsWords"]} == {"invoice", "payment"}
    assert rule["DeleteMessage"] is True
    assert rule["MarkAsRead"] is True
    assert audit["New-InboxRule"]["time"].startswith("2026-11-29")
    assert settings["inbox_rules"][0]["created"] == audit["New-InboxRule"]["time"]
    assert settings["inbox_rules"][0]["actions"]["delete"] is True

    permission = audit["Add-MailboxPermission"]["parameters"]
    assert permission["User"].endswith("@larkspur.example")
    assert permission["User"] != takeover["address"]
    assert settings["delegates"] == [
        {"address": permission["User"], "access": "FullAccess", "added": audit["Add-MailboxPermission"]["time"]}
    ]


def test_takeover_sent_items_burst(takeover, manifest, copies_by_key, intel):
    signed_in = max(parse_time(r["time"]) for r in takeover["signins"] if r["country"] != "NL")
    sent = sorted(
        (parse_time(row["delivered"]), row["key"])
        for row in manifest
        if row["mailbox"] == takeover["address"] and row["folder"] == "Sent Items"
    )
    before = [moment for moment, _ in sent if moment < signed_in]
    burst = [(moment, key) for moment, key in sent if moment >= signed_in]
    per_day = defaultdict(int)
    for moment in before:
        per_day[moment.date()] += 1
    last_days = [(signed_in - timedelta(days=offset)).date() for offset in range(1, 11)]

    for day in last_days:
        assert 1 <= per_day[day] <= 4, day
    daily_average = sum(per_day[day] for day in last_days) / 10
    assert 30 <= len(burst) <= 60
    assert len(burst) >= 10 * daily_average
    assert burst[-1][0] - burst[0][0] <= timedelta(hours=6)
    for _, key in burst:
        message = email.message_from_bytes(copies_by_key[(takeover["address"], key)].read_bytes())
        recipients = email.utils.getaddresses(message.get_all("To", []) + message.get_all("Cc", []))
        assert recipients, key
        assert all(not address.endswith("@larkspur.example") for _, address in recipients), key
        hosts = {urlsplit(url).hostname or "" for url in re.findall(r"https?://[^\s\"'<>]+", decoded_text(message.as_bytes()))}
        assert any(listed_domain(host, set(intel["domains"])) for host in hosts), key


def test_restriction_follows_burst(takeover, manifest):
    restricted = parse_time(takeover["restriction"]["time"])
    burst = [
        parse_time(row["delivered"])
        for row in manifest
        if row["mailbox"] == takeover["address"] and row["origin"] == "generated:outbound-phish"
    ]

    assert burst
    assert max(burst) < restricted <= max(burst) + timedelta(hours=1)
    assert takeover["restriction"]["reason"]


def test_forwarding_rule_without_compromise():
    audit = read_jsonl(TENANT / "activity" / "audit.jsonl")
    settings = json.loads((TENANT / "settings" / "mailboxes.json").read_text(encoding="utf-8"))
    signins = read_jsonl(TENANT / "activity" / "signins.jsonl")
    restricted = {record["user"] for record in read_jsonl(TENANT / "activity" / "restrictions.jsonl")}
    abroad = {record["user"] for record in signins if record["country"] != "NL"}

    personal = [
        record for record in audit
        if record["operation"] == "New-InboxRule"
        and any(not target.endswith("@larkspur.example") for target in record["parameters"].get("ForwardTo", []))
        and record["user"] not in abroad
    ]
    assert len(personal) == 1
    record = personal[0]
    assert record["user"] not in restricted
    assert not settings[record["user"]]["forwarding"]
    rules = {rule["name"]: rule for rule in settings[record["user"]]["inbox_rules"]}
    rule = rules[record["parameters"]["Name"]]
    assert rule["created"] == record["time"]
    assert rule["actions"]["forward_to"] == record["parameters"]["ForwardTo"]


def test_admin_actions_name_targets(manifest, users):
    actions = read_jsonl(TENANT / "activity" / "admin_actions.jsonl")
    roles = {(row["mailbox"], row["key"]): row for row in manifest}
    addresses = {user["address"] for user in users}

    assert {action["target"] for action in actions} >= {"email"}
    assert {action["target"] for action in actions} & {"sender", "recipient"}
    for action in actions:
        assert action["time"][:10] in ("2026-11-29", "2026-11-30"), action["id"]
        assert action["analyst"].endswith("@larkspur.example"), action["id"]
        if action["target"] == "email":
            row = roles[(action["mailbox"], action["key"])]
            assert row["role"] in ("phish", "malware"), action["id"]
            assert row["folder"] == "Inbox", action["id"]
        else:
            assert action["address"], action["id"]
            assert action["target"] == "sender" or action["address"] in addresses, action["id"]


def test_size_stays_under_15_mb():
    total = sum(path.stat().st_size for path in TENANT.rglob("*") if path.is_file())

    assert total < 15 * 1024 * 1024


def test_build_reproduces_committed_tenant(tmp_path):
    out = tmp_path / "tenant"
    subprocess.run([sys.executable, str(BUILDER), "--out", str(out)], check=True, capture_output=True)

    def tree(root: Path) -> dict[str, bytes]:
        return {str(path.relative_to(root)): path.read_bytes() for path in root.rglob("*") if path.is_file()}

    built, committed = tree(out), tree(TENANT)
    assert sorted(built) == sorted(committed)
    for name, data in built.items():
        assert data == committed[name], name
