"""Lookalike domains: each technique that is detected, and the real and ordinary domains that are not."""

from __future__ import annotations

import pytest

from air_tui.engine.lookalike import (
    BRAND_EMBEDDED,
    CONFUSABLE,
    DEFAULT_BRANDS,
    EDIT_DISTANCE,
    MIXED_SCRIPT,
    OTHER_SUFFIX,
    SUBDOMAIN,
    compile_targets,
    lookalike,
    merge_brands,
    normalise_domain,
    skeleton,
    unicode_domain,
)
from air_tui.mail import parse_message
from tests.mail.conftest import parsed

TARGETS = {**DEFAULT_BRANDS, "Larkspur Logistics": ["larkspur.example"]}
TABLE = compile_targets(TARGETS)


def test_normalise_unicode_and_punycode_are_one() -> None:
    assert normalise_domain("pаypal.com") == "xn--pypal-4ve.com"
    assert normalise_domain("XN--PYPAL-4VE.COM") == "xn--pypal-4ve.com"
    assert normalise_domain("Bücher.DE.") == "xn--bcher-kva.de"
    assert normalise_domain("ＰＡＹＰＡＬ。com") == "paypal.com"
    assert normalise_domain("Service@PayPal.com") == "paypal.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("  ", ""),
        ("..", ""),
        ("a_b.example", "a_b.example"),
        ("xn--zz.com", "xn--zz.com"),
        ("☃.com", "xn--n3h.com"),
        ("ex ample.com", "ex ample.com"),
    ],
)
def test_normalise_never_raises(value: str, expected: str) -> None:
    assert normalise_domain(value) == expected


def test_normalise_bounds_long_input() -> None:
    assert len(normalise_domain("a" * 5000 + ".com")) <= 253


def test_unicode_domain_decodes_punycode() -> None:
    assert unicode_domain("xn--pypal-4ve.com") == "pаypal.com"
    assert unicode_domain("xn--zz.com") == "xn--zz.com"


def test_skeleton_folds_look_alike_characters() -> None:
    assert skeleton("paypa1") == "paypal"
    assert skeleton("rnicrosoft") == "microsoft"
    assert skeleton("раураl") == "paypal"
    assert skeleton("gοοgle") == "google"
    assert skeleton("аррӏе") == "apple"
    assert skeleton("Іngrid") == "ingrid"
    assert skeleton("pàypal") == "paypal"


@pytest.mark.parametrize(
    ("domain", "technique", "target", "target_domain"),
    [
        ("paypa1.com", CONFUSABLE, "PayPal", "paypal.com"),
        ("rnicrosoft.com", CONFUSABLE, "Microsoft", "microsoft.com"),
        ("pаypal.com", CONFUSABLE, "PayPal", "paypal.com"),
        ("xn--pypal-4ve.com", CONFUSABLE, "PayPal", "paypal.com"),
        ("аррӏе.com", CONFUSABLE, "Apple", "apple.com"),
        ("paypall.com", EDIT_DISTANCE, "PayPal", "paypal.com"),
        ("1arkspur.example", CONFUSABLE, "Larkspur Logistics", "larkspur.example"),
        ("larksp0r.example", EDIT_DISTANCE, "Larkspur Logistics", "larkspur.example"),
        ("larkpsur.net", EDIT_DISTANCE, "Larkspur Logistics", "larkspur.example"),
        ("larksspur.example", EDIT_DISTANCE, "Larkspur Logistics", "larkspur.example"),
        ("paypal-secure-login.com", BRAND_EMBEDDED, "PayPal", "paypal.com"),
        ("securepaypalverify.com", BRAND_EMBEDDED, "PayPal", "paypal.com"),
        ("larkspur-payroll.net", BRAND_EMBEDDED, "Larkspur Logistics", "larkspur.example"),
        ("ups-tracking.net", BRAND_EMBEDDED, "UPS", "ups.com"),
        ("bankofamerica-alerts.com", BRAND_EMBEDDED, "Bank of America", "bankofamerica.com"),
        ("paypal.com.evil.test", SUBDOMAIN, "PayPal", "paypal.com"),
        ("login.microsoftonline.com.evil.test", SUBDOMAIN, "Microsoft", "microsoftonline.com"),
        ("paypal.evil.test", SUBDOMAIN, "PayPal", "paypal.com"),
        ("larkspur.net", OTHER_SUFFIX, "Larkspur Logistics", "larkspur.example"),
    ],
)
def test_lookalike_detected(domain: str, technique: str, target: str, target_domain: str) -> None:
    match = lookalike(domain, TARGETS)

    assert match is not None
    assert match.technique == technique
    assert match.target == target
    assert match.target_domain == target_domain
    assert target_domain in match.sentence


@pytest.mark.parametrize(
    "domain",
    [
        "paypal.com",
        "www.paypal.com",
        "intl.paypal.com",
        "PAYPAL.COM",
        "larkspur.example",
        "mail.larkspur.example",
        "amazonses.com",
        "eu-west-1.amazonses.com",
        "o1su91b.onmicrosoft.com",
        "ops.com",
        "groups.com",
        "purchase.com",
        "pineapple.com",
        "email.com",
        "offices.com",
        "live.example",
        "outlook.mycompany.example",
        "ups.mycompany.example",
        "bücher.de",
        "dicle.edu.tr",
        "",
        "a_b.example",
        "☃.com",
    ],
)
def test_lookalike_not_detected(domain: str) -> None:
    assert lookalike(domain, TARGETS) is None


def test_short_label_is_not_edited() -> None:
    # Three-letter labels are too short for edit distance: ops, ubs and dhs are real companies.
    for domain in ("ops.com", "ubs.com", "dhs.gov", "dhk.com"):
        assert lookalike(domain, TARGETS) is None, domain


def test_two_edits_only_from_eight_characters() -> None:
    assert lookalike("paypxl.com", TARGETS) is not None
    assert lookalike("pxypxl.com", TARGETS) is None
    match = lookalike("larksxux.example", TARGETS)
    assert match is not None
    assert match.distance == 2


def test_punycode_match_names_both_forms() -> None:
    match = lookalike("xn--pypal-4ve.com", TARGETS)

    assert match is not None
    assert match.punycode
    assert match.display_domain == "pаypal.com"
    assert match.mixed_scripts == ("Latin", "Cyrillic")
    assert "xn--pypal-4ve.com, shown as pаypal.com," in match.sentence
    assert "mixes Latin and Cyrillic letters" in match.sentence


def test_mixed_script_without_target() -> None:
    match = lookalike("bаnk.test", TARGETS)

    assert match is not None
    assert match.technique == MIXED_SCRIPT
    assert match.target == ""
    assert match.mixed_scripts == ("Latin", "Cyrillic")


def test_greek_letters_in_latin_label() -> None:
    match = lookalike("gοogle.com", TARGETS)

    assert match is not None
    assert match.technique == CONFUSABLE
    assert match.mixed_scripts == ("Latin", "Greek")
    assert match.target == "Google"


def test_compiled_table_equals_mapping() -> None:
    for domain in ("paypa1.com", "larkspur-payroll.net", "paypal.com", "ops.com"):
        assert lookalike(domain, TABLE) == lookalike(domain, TARGETS)


def test_configured_brand_extends_table() -> None:
    targets = {**DEFAULT_BRANDS, "Northwind Traders": ["northwind.example"]}

    match = lookalike("northwlnd.example", targets)

    assert match is not None
    assert match.target == "Northwind Traders"
    assert lookalike("northwlnd.example", DEFAULT_BRANDS) is None


def test_real_domains_of_every_brand_are_not_lookalikes() -> None:
    for domains in DEFAULT_BRANDS.values():
        for domain in domains:
            assert lookalike(domain, TABLE) is None, domain
            assert lookalike("mail." + domain, TABLE) is None, domain


def test_thousands_of_calls_use_the_table() -> None:
    # Every call on the same mapping reuses one compiled table rather than rebuilding it.
    domains = [f"host{index}.shop{index % 13}.example" for index in range(3000)]

    results = [lookalike(domain, TARGETS) for domain in domains]

    assert results == [None] * 3000
    assert compile_targets(TARGETS) is TABLE


def test_corpus_sender_domains() -> None:
    # sample-35 spoofs service@intl.paypal.com: the domain is PayPal's own, so it is no lookalike.
    assert lookalike(parsed("phishing_pot/sample-35.eml").sender.domain, TABLE) is None
    # sample-5183 sends as contato@correios, a bare label with the brand's name.
    correios = lookalike(parsed("phishing_pot/sample-5183.eml").sender.domain, TABLE)
    assert correios is not None
    assert correios.target == "Correios"
    assert correios.technique == OTHER_SUFFIX


def test_unicode_sender_from_parsed_message() -> None:
    raw = "From: =?utf-8?b?UGF5UGFs?= <service@xn--pypal-4ve.com>\r\nSubject: hi\r\n\r\nbody\r\n".encode()

    message = parse_message(raw)
    match = lookalike(message.sender.domain, TABLE)

    assert match is not None
    assert match.target_domain == "paypal.com"


def test_merge_brands_extends_without_duplicates() -> None:
    merged = merge_brands(["microsoft", "Pay Pal", "Northwind", "  "], {"PAYPAL": ["paypal.nl"], "Contoso": ["contoso.example"]})

    assert "microsoft" not in merged
    assert merged["Microsoft"] == DEFAULT_BRANDS["Microsoft"]
    assert merged["PayPal"][-1] == "paypal.nl"
    assert merged["Northwind"] == []
    assert merged["Contoso"] == ["contoso.example"]
    assert "paypal.nl" not in DEFAULT_BRANDS["PayPal"]
    assert len(merged) == len(DEFAULT_BRANDS) + 2


def test_merged_brand_domain_is_real() -> None:
    merged = merge_brands([], {"PayPal": ["paypal.nl"]})

    assert lookalike("paypal.nl", merged) is None
    assert lookalike("paypal.nl", DEFAULT_BRANDS) is not None
