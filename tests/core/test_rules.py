"""Named rules and weights: configuration changes verdicts, trust decides which results count."""

from __future__ import annotations

from pathlib import Path

import pytest

from air_tui.domain.config import AllowList, AnalysisConfig, ConfigError, load_config
from air_tui.domain.message import Address, Attachment, AuthResult, EmailMessage, Url
from air_tui.domain.tenant import Organisation, User
from air_tui.domain.vocab import Verdict
from air_tui.engine import rules
from air_tui.engine.analyzers import MessageAnalyzer
from air_tui.engine.rules import RULES, Scoring
from air_tui.intel import IntelSnapshot

ORGANISATION = Organisation(name="Larkspur Logistics", domains=["larkspur.example"], authserv_id="mx.larkspur.example")
USERS = [User(id="u1", display_name="Dana Whitfield", address="dana.whitfield@larkspur.example", vip=True)]


def analyzer(**settings: object) -> MessageAnalyzer:
    return MessageAnalyzer(ORGANISATION, USERS, IntelSnapshot(), Scoring(AnalysisConfig.model_validate(settings)))


def message(**fields: object) -> EmailMessage:
    base: dict[str, object] = {"id": "m1", "sender": Address(display_name="Someone", address="someone@sender.example")}
    base.update(fields)
    return EmailMessage.model_validate(base)


def test_rule_ids_are_unique_and_named() -> None:
    assert all(rule_id == rule.id and rule.title for rule_id, rule in RULES.items())
    assert len({rule.title for rule in RULES.values()}) >= len(RULES) - 3


def test_fired_rules_carry_id_and_weight() -> None:
    finding = analyzer().sender(message(reply_to=[Address(address="x@gmail.com")]))
    fired = {item.rule: item.weight for item in finding.evidence if item.rule}
    assert fired["sender.reply_to_differs"] == rules.SENDER_REPLY_TO.weight
    assert finding.score == sum(fired.values())


def test_configured_weight_changes_the_verdict() -> None:
    reported = message(reply_to=[Address(address="collect@elsewhere.example")])
    assert analyzer().sender(reported).verdict is Verdict.NO_THREATS_FOUND
    louder = analyzer(rule_weights={"sender.reply_to_differs": 45}).sender(reported)
    assert louder.verdict is Verdict.SUSPICIOUS


def test_weight_zero_keeps_the_fact_without_points() -> None:
    reported = message(sender=Address(display_name="Dana Whitfield", address="dana@freemail.example"))
    quiet = analyzer(rule_weights={"sender.impersonates_vip": 0}).sender(reported)
    line = next(item for item in quiet.evidence if item.rule == "sender.impersonates_vip")
    assert line.weight == 0
    assert line.verdict is Verdict.UNKNOWN
    assert quiet.verdict is not Verdict.MALICIOUS


def test_thresholds_come_from_configuration() -> None:
    reported = message(reply_to=[Address(address="collect@elsewhere.example")])
    assert analyzer(suspicious_score=30).sender(reported).verdict is Verdict.SUSPICIOUS


def test_unknown_rule_id_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="sender.reply_to_diffrs"):
        Scoring(AnalysisConfig(rule_weights={"sender.reply_to_diffrs": 5}))


def test_thresholds_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(ConfigError, match="suspicious_score"):
        Scoring(AnalysisConfig(suspicious_score=120, malicious_score=100))


def test_allow_list_clears_the_sender() -> None:
    reported = message(sender=Address(display_name="PayPal", address="service@partner.example"))
    assert analyzer().sender(reported).verdict is Verdict.SUSPICIOUS
    allowed = MessageAnalyzer(
        ORGANISATION, USERS, IntelSnapshot(), Scoring(AnalysisConfig(allow=AllowList(domains=["partner.example"])))
    ).sender(reported)
    assert allowed.verdict is Verdict.NO_THREATS_FOUND
    assert [item.rule for item in allowed.evidence] == ["sender.allowed"]


def test_allow_list_clears_url_and_hash() -> None:
    scoring = Scoring(AnalysisConfig(allow=AllowList(domains=["files.example"], file_hashes=["AA" * 32])))
    checker = MessageAnalyzer(ORGANISATION, USERS, IntelSnapshot(), scoring)
    assert checker.url(Url(url="http://203.0.113.5.files.example/x", host="cdn.files.example")).fired(rules.URL_ALLOWED)
    assert checker.attachment(Attachment(filename="tool.exe", extension="exe", sha256="aa" * 32)).verdict is Verdict.NO_THREATS_FOUND


def test_forged_pass_not_counted() -> None:
    forged = [AuthResult(method=method, result="pass", authserv_id="sender.example") for method in ("spf", "dkim", "dmarc")]
    finding = analyzer().sender(message(auth_results=forged))
    assert not finding.fired(rules.SENDER_AUTH_PASS)
    assert any("trusted authserv-id (mx.larkspur.example)" in item.text for item in finding.evidence)


def test_trusted_boundary_pass_counts() -> None:
    boundary = [AuthResult(method=method, result="pass", authserv_id="MX.Larkspur.example") for method in ("spf", "dkim", "dmarc")]
    assert analyzer().sender(message(auth_results=boundary)).fired(rules.SENDER_AUTH_PASS)


def test_trusted_boundary_beats_forged_header() -> None:
    results = [
        AuthResult(method="dmarc", result="pass", authserv_id="relay.example"),
        AuthResult(method="dmarc", result="fail", authserv_id="mx.larkspur.example"),
    ]
    finding = analyzer().sender(message(auth_results=results))
    assert finding.fired(rules.SENDER_DMARC_FAIL)
    assert "mx.larkspur.example" in next(item.text for item in finding.evidence if item.rule == "sender.dmarc_fail")


def test_failure_in_an_untrusted_header_still_counts() -> None:
    finding = analyzer().sender(message(auth_results=[AuthResult(method="dmarc", result="fail", authserv_id="relay.example")]))
    assert finding.fired(rules.SENDER_DMARC_FAIL)


def test_configured_authserv_id_is_trusted() -> None:
    results = [AuthResult(method=method, result="pass", authserv_id="gateway.example") for method in ("spf", "dkim", "dmarc")]
    assert analyzer(trusted_authserv_ids=["gateway.example"]).sender(message(auth_results=results)).fired(rules.SENDER_AUTH_PASS)


def test_roll_up_adds_parts_and_caps_each() -> None:
    checker = analyzer()
    reported = message(
        urls=[Url(url="http://203.0.113.9/a", host="203.0.113.9"), Url(url="http://198.51.100.7/b", host="198.51.100.7")],
    )
    analysis = checker.analyse(reported)
    # Two suspicious links of 40 points each add up; neither alone is malicious.
    assert [item.finding.verdict for item in analysis.urls] == [Verdict.SUSPICIOUS, Verdict.SUSPICIOUS]
    assert analysis.roll_up is not None
    assert analysis.roll_up.score >= 80
    assert analysis.verdict is Verdict.SUSPICIOUS


def test_clean_message_rolls_up_clean() -> None:
    boundary = [AuthResult(method=method, result="pass", authserv_id="mx.larkspur.example") for method in ("spf", "dkim", "dmarc")]
    analysis = analyzer().analyse(message(subject="Ops weekly - notes", body_text="Dock 3 is fixed. See you Monday.", auth_results=boundary))
    assert analysis.verdict is Verdict.NO_THREATS_FOUND


def test_attached_message_counts_in_the_roll_up() -> None:
    inner = message(id="m1/1", sender=Address(display_name="Dana Whitfield", address="dana@freemail.example"))
    analysis = analyzer().analyse(message(attached_messages=[inner]))
    assert analysis.nested
    assert analysis.nested[0].verdict is Verdict.MALICIOUS
    assert analysis.verdict is Verdict.MALICIOUS


@pytest.mark.parametrize(
    ("subject", "body", "rule"),
    [
        ("Verify your account", "Your mailbox will be suspended unless you verify your account today.", rules.MAIL_CREDENTIAL_LURE),
        ("Airdrop", "Your wallet is eligible to claim free ETH.", rules.MAIL_PRIZE_LURE),
        ("Invoice", "Automatic renewal: $437.22 will be charged. Call our help line 1 810 268-4073 to cancel.", rules.MAIL_CALLBACK),
        ("Notice VKHNKN", "text", rules.MAIL_RANDOM_TOKEN),
        ("Ρⅼеаѕе Սрⅾаtе Υоսr Ιⅾеոtіtу", "text", rules.MAIL_CONFUSABLE_SUBJECT),
        ("Hello", "V\u2060e\u2060r\u2060i\u2060f\u2060y y\u2060o\u2060u\u2060r a\u2060c\u2060c\u2060o\u2060unt", rules.MAIL_HIDDEN_TEXT),
    ],
)
def test_content_rules_fire(subject: str, body: str, rule: rules.Rule) -> None:
    assert analyzer().content(message(subject=subject, body_text=body)).fired(rule)


def test_attachment_password_needs_an_attachment() -> None:
    body = "Open the attached invoice. Password: 123abc"
    assert not analyzer().content(message(body_text=body)).fired(rules.MAIL_ATTACHMENT_PASSWORD)
    with_file = message(body_text=body, attachments=[Attachment(filename="invoice.zip", extension="zip")])
    assert analyzer().content(with_file).fired(rules.MAIL_ATTACHMENT_PASSWORD)


def test_ordinary_business_text_fires_no_content_rule() -> None:
    body = "Hi all, the month-end close timetable is attached. Invoice HFS-2026-11517 is paid. Thanks, Sam"
    finding = analyzer().content(message(subject="November month-end close timetable", body_text=body))
    assert finding.score == 0


def test_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[analysis]\nsuspicious_score = 35\n[analysis.rule_weights]\n"url.shortener" = 0\n[analysis.allow]\ndomains = ["Partner.Example."]\n')
    config = load_config(path)
    assert config.analysis.suspicious_score == 35
    assert config.analysis.rule_weights == {"url.shortener": 0}
    assert config.analysis.allow.domains == ["partner.example"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[analysis]\nsuspicous_score = 35\n", "analysis.suspicous_score"),
        ("[analysis\n", "not valid TOML"),
        ("[analysis]\nsuspicious_score = -1\n", "positive"),
    ],
)
def test_bad_config_names_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected) as raised:
        load_config(path)
    assert str(path) in str(raised.value)


def test_missing_config_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.toml").analysis.malicious_score == 100


def test_hidden_characters_elsewhere_flagged() -> None:
    reported = message(
        to=[Address(display_name="Pay\u200broll", address="payroll@larkspur.example")],
        attachments=[Attachment(filename="a.zip", extension="zip", archive_members=["invoice\u202efdp.exe (exe)"])],
    )
    finding = analyzer().content(reported)
    line = next(item for item in finding.evidence if item.rule == "email.hidden_characters_elsewhere")
    assert "U+200B ZERO WIDTH SPACE" in line.text
    assert "member of archive a.zip" in line.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[analysis.rule_weights]\n"url.shortener" = true\n', "url.shortener"),
        ('[analysis.rule_weights]\n"url.shortener" = 100000000000000000000\n', "url.shortener"),
        ('[analysis.allow]\ndomains = ["*.partner.example"]\n', "*.partner.example"),
        ('[analysis.allow]\ndomains = ["https://partner.example/"]\n', "https://partner.example/"),
        ('[analysis.allow]\nsenders = ["not-an-address"]\n', "not-an-address"),
        ('[analysis.allow]\nurls = ["partner.example/login"]\n', "partner.example/login"),
        ('[analysis.allow]\nfile_hashes = ["0123"]\n', "0123"),
    ],
)
def test_values_that_cannot_work_are_refused(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


BOUNDARY_PASS = [AuthResult(method=method, result="pass", authserv_id="mx.larkspur.example") for method in ("spf", "dkim", "dmarc")]


def test_colleague_sharing_a_google_doc_stays_clean() -> None:
    reported = message(
        sender=Address(display_name="Daniel Okafor", address="daniel.okafor@larkspur.example"),
        auth_results=BOUNDARY_PASS,
        subject="Q4 route planning sheet",
        body_text="Here is the sheet for Q4 routes.",
        urls=[
            Url(url="https://docs.google.com/spreadsheets/d/1abc/edit", host="docs.google.com", registrable_domain="google.com"),
            Url(url="https://lh3.googleusercontent.com/a/photo.png", host="lh3.googleusercontent.com", registrable_domain="googleusercontent.com", source="src"),
        ],
    )
    analysis = analyzer().analyse(reported)
    assert not any(item.finding.fired(rules.URL_LOOKALIKE_BRAND) for item in analysis.urls)
    assert analysis.sender.fired(rules.SENDER_INTERNAL)
    assert analysis.verdict is Verdict.NO_THREATS_FOUND


def test_trusted_internal_sender_never_offsets_a_listed_link(tmp_path: Path) -> None:
    (tmp_path / "urls.csv").write_text("url,threat,source,added\nhttps://collect.example.net/login,Phish,feed,2026-11-01\n")
    checker = MessageAnalyzer(ORGANISATION, USERS, IntelSnapshot.load(tmp_path))
    reported = message(
        sender=Address(address="daniel.okafor@larkspur.example"),
        auth_results=BOUNDARY_PASS,
        urls=[Url(url="https://collect.example.net/login", host="collect.example.net", registrable_domain="example.net")],
    )
    assert checker.analyse(reported).verdict is Verdict.MALICIOUS


def test_weak_signs_add_up_and_say_so() -> None:
    reported = message(
        sender=Address(display_name="Notice VKHNKN", address="admin.bounce-7241412843135420@offers.example.xyz"),
        subject="Final notice: verify your account",
        body_text="Your mailbox will be suspended. Verify your account immediately.",
    )
    analysis = analyzer().analyse(reported)
    assert analysis.sender.verdict is Verdict.NO_THREATS_FOUND
    line = next(item for item in analysis.roll_up.evidence if item.text.startswith("Sender adds"))
    assert "not suspicious on its own" in line.text
    assert analysis.verdict is Verdict.SUSPICIOUS


def test_google_share_notification_stays_clean() -> None:
    reported = message(
        sender=Address(display_name="Daniel Okafor (via Google Sheets)", address="drive-shares-dm-noreply@google.com"),
        reply_to=[Address(address="daniel.okafor@larkspur.example")],
        auth_results=BOUNDARY_PASS,
        subject="Q4 route planning sheet",
        body_text="Daniel Okafor shared a spreadsheet with you.",
        urls=[
            Url(url="https://docs.google.com/spreadsheets/d/1abc/edit", host="docs.google.com", registrable_domain="google.com"),
            Url(url="https://lh3.googleusercontent.com/a/photo.png", host="lh3.googleusercontent.com", registrable_domain="googleusercontent.com", source="src"),
        ],
    )
    analysis = analyzer().analyse(reported)
    assert not analysis.sender.fired(rules.SENDER_REPLY_TO), "replies to a colleague are no sign"
    assert not any(item.finding.fired(rules.URL_FREE_HOSTING) for item in analysis.urls), "Google's own pages, sent by Google"
    assert analysis.verdict is Verdict.NO_THREATS_FOUND


def test_many_links_to_one_free_host_count_once() -> None:
    reported = message(
        sender=Address(address="daniel.okafor@larkspur.example"),
        auth_results=BOUNDARY_PASS,
        urls=[Url(url=f"https://docs.google.com/document/d/{n}", host="docs.google.com", registrable_domain="google.com") for n in range(4)],
    )
    analysis = analyzer().analyse(reported)
    weak_lines = [item for item in analysis.roll_up.evidence if item.text.startswith("URL ")]
    assert len(weak_lines) == 1
    assert weak_lines[0].verdict is Verdict.UNKNOWN
    assert analysis.verdict is Verdict.NO_THREATS_FOUND


def test_feed_listing_the_own_domain_is_not_counted(tmp_path: Path) -> None:
    (tmp_path / "domains.csv").write_text("domain,threat,source,added\nlarkspur.example,Phish,bad-feed,2026-11-01\ngoogle.com,Phish,bad-feed,2026-11-01\n")
    checker = MessageAnalyzer(ORGANISATION, USERS, IntelSnapshot.load(tmp_path))
    sender = checker.sender(message(sender=Address(address="daniel.okafor@larkspur.example"), auth_results=BOUNDARY_PASS))
    assert not sender.fired(rules.SENDER_LISTED)
    assert any("not counted" in item.text for item in sender.evidence)
    link = checker.url(Url(url="https://docs.google.com/x", host="docs.google.com", registrable_domain="google.com"))
    assert not link.fired(rules.URL_DOMAIN_LISTED)


def test_boundary_dkim_pass_hides_missing_signature() -> None:
    finding = analyzer().sender(message(auth_results=BOUNDARY_PASS))
    assert not any(item.rule == "sender.dkim_missing" for item in finding.evidence)
    assert analyzer().sender(message()).fired(rules.SENDER_DKIM_MISSING)


def test_missing_named_config_fails(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml", required=True)
    assert load_config(tmp_path / "nope.toml").analysis.suspicious_score == 40


def test_authserv_id_with_a_space_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[analysis]\ntrusted_authserv_ids = ["mx larkspur"]\n')
    with pytest.raises(ConfigError, match="mx larkspur"):
        load_config(path)


def test_mimecast_link_checks_named_domain(tmp_path: Path) -> None:
    from air_tui.mail import parse_message

    (tmp_path / "domains.csv").write_text("domain,threat,source,added\nevil-login.example,Phish,feed,2026-11-01\n")
    raw = b"From: a@b.example\r\nSubject: x\r\n\r\nhttps://protect-eu.mimecast.com/s/AbCdEfGhIjK?domain=evil-login.example\r\n"
    url = parse_message(raw).urls[0]
    assert url.destination_hidden
    assert url.unwrapped == ""
    assert url.unwrapped_host == "evil-login.example"
    finding = MessageAnalyzer(ORGANISATION, USERS, IntelSnapshot.load(tmp_path)).url(url)
    assert finding.verdict is Verdict.MALICIOUS
    assert any(item.text.startswith("Destination domain:") for item in finding.evidence)
