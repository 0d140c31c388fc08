"""Sender facts: domain alignment, display-name impersonation and first contact."""

from __future__ import annotations

from air_tui.domain.message import Address, EmailMessage
from air_tui.domain.tenant import User
from air_tui.engine.lookalike import DEFAULT_BRANDS, merge_brands
from air_tui.engine.sender_facts import (
    DISPLAY_NAME_ADDRESS,
    DISPLAY_NAME_BRAND,
    DISPLAY_NAME_ORGANISATION,
    DISPLAY_NAME_USER,
    DISPLAY_NAME_VIP,
    DKIM_MISSING,
    DKIM_NOT_ALIGNED,
    FIRST_CONTACT,
    KNOWN_SENDER,
    REPLY_TO_MISALIGNED,
    RETURN_PATH_MISALIGNED,
    alignment_facts,
    first_contact_fact,
    impersonation,
)
from tests.mail.conftest import parsed

OWN = ["larkspur.example"]
USERS = [
    User(id="u1", display_name="Ingrid Halvorsen", address="ingrid.halvorsen@larkspur.example", vip=True),
    User(id="u2", display_name="Pieter van Dam", address="pieter.vandam@larkspur.example"),
    User(id="u3", display_name="Al Li", address="al.li@larkspur.example"),
]


def _message(
    sender: str,
    return_path: str = "",
    reply_to: tuple[str, ...] = (),
    dkim: tuple[str, ...] = (),
) -> EmailMessage:
    return EmailMessage(
        id="m1",
        sender=Address(address=sender),
        return_path=return_path,
        reply_to=[Address(address=item) for item in reply_to],
        dkim_domains=list(dkim),
    )


def _kinds(facts: object) -> list[str]:
    return [fact.kind for fact in facts]  # type: ignore[attr-defined]


def test_alignment_all_aligned_at_organisational_level() -> None:
    message = _message(
        "service@paypal.com",
        return_path="bounce@bounce.paypal.com",
        reply_to=("help@intl.paypal.com",),
        dkim=("mail.paypal.com",),
    )

    alignment = alignment_facts(message)

    assert alignment.facts == ()
    assert alignment.return_path_aligned is True
    assert alignment.reply_to_aligned is True
    assert alignment.dkim_aligned is True


def test_alignment_return_path_differs() -> None:
    alignment = alignment_facts(_message("service@paypal.com", return_path="x@bounce.mailer.test", dkim=("paypal.com",)))

    assert _kinds(alignment.facts) == [RETURN_PATH_MISALIGNED]
    assert alignment.facts[0].sentence == "Return-Path domain bounce.mailer.test differs from From domain paypal.com."
    assert alignment.return_path_aligned is False


def test_alignment_dkim_signed_by_other_domain() -> None:
    alignment = alignment_facts(_message("service@paypal.com", dkim=("mailer.test", "esp.test")))

    assert _kinds(alignment.facts) == [DKIM_NOT_ALIGNED]
    assert alignment.facts[0].sentence == (
        "No DKIM signature is aligned with the From domain paypal.com (signed by mailer.test, esp.test)."
    )
    assert alignment.dkim_aligned is False


def test_alignment_reply_to_and_missing_signature() -> None:
    alignment = alignment_facts(_message("ceo@larkspur.example", reply_to=("ceo.larkspur@gmail.com",)))

    assert _kinds(alignment.facts) == [REPLY_TO_MISALIGNED, DKIM_MISSING]
    assert "Replies go to ceo.larkspur@gmail.com" in alignment.facts[0].sentence
    assert alignment.facts[0].value == "gmail.com"
    assert alignment.dkim_aligned is None


def test_alignment_unicode_and_punycode_align() -> None:
    alignment = alignment_facts(_message("info@bücher.de", return_path="b@xn--bcher-kva.de", dkim=("XN--BCHER-KVA.DE",)))

    assert alignment.facts == ()
    assert alignment.from_domain == "xn--bcher-kva.de"


def test_alignment_uses_given_organisational_domain() -> None:
    message = _message("a@one.shared.test", return_path="b@two.shared.test", dkim=("one.shared.test",))

    strict = alignment_facts(message, organisational_domain=lambda domain: domain)
    relaxed = alignment_facts(message)

    assert _kinds(strict.facts) == [RETURN_PATH_MISALIGNED]
    assert relaxed.facts == ()


def test_alignment_without_from_or_return_path() -> None:
    no_from = alignment_facts(_message("", return_path="x@evil.test"))
    null_return_path = alignment_facts(_message("a@paypal.com", return_path="", dkim=("paypal.com",)))

    assert no_from.facts == ()
    assert no_from.return_path_aligned is None
    assert null_return_path.return_path_aligned is None
    assert null_return_path.facts == ()


def test_alignment_of_corpus_mailchimp_sample() -> None:
    # From ironville.com, sent by Mailchimp: bounce address at mcdlv.net, signed by mailchimpapp.net.
    alignment = alignment_facts(parsed("phishing_pot/sample-398.eml"))

    assert _kinds(alignment.facts) == [RETURN_PATH_MISALIGNED, DKIM_NOT_ALIGNED]
    assert alignment.dkim_domains == ("mailchimpapp.net",)
    assert "differs from From domain ironville.com" in alignment.facts[0].sentence


def test_alignment_of_corpus_paypal_spoof() -> None:
    alignment = alignment_facts(parsed("phishing_pot/sample-35.eml"))

    assert alignment.from_domain == "intl.paypal.com"
    assert RETURN_PATH_MISALIGNED in _kinds(alignment.facts)
    assert REPLY_TO_MISALIGNED in _kinds(alignment.facts)
    assert DKIM_MISSING in _kinds(alignment.facts)


def test_alignment_of_corpus_aligned_hotmail_sample() -> None:
    alignment = alignment_facts(parsed("phishing_pot/sample-1086.eml"))

    assert alignment.facts == ()
    assert alignment.dkim_aligned is True


def test_vip_display_name_from_external_address() -> None:
    facts = impersonation("Ingrid Halvorsen", "ceo@evil.test", USERS, OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_VIP]
    assert facts[0].score == 100
    assert facts[0].value == "ingrid.halvorsen@larkspur.example"
    assert "matches the VIP Ingrid Halvorsen" in facts[0].sentence


def test_user_display_name_fuzzy_and_reordered() -> None:
    fuzzy = impersonation("Ingrid Halvorson", "x@evil.test", USERS, OWN, {})
    reordered = impersonation("Halvorsen, Ingrid", "x@evil.test", USERS, OWN, {})
    plain_user = impersonation("pieter van dam", "pieter@gmail.com", USERS, OWN, {})

    assert _kinds(fuzzy) == [DISPLAY_NAME_VIP]
    assert 90 <= fuzzy[0].score < 100
    assert "closely resembles" in fuzzy[0].sentence
    assert _kinds(reordered) == [DISPLAY_NAME_VIP]
    assert _kinds(plain_user) == [DISPLAY_NAME_USER]


def test_user_display_name_with_confusables_and_invisible_characters() -> None:
    cyrillic = impersonation("Іngrid Нalvorsen", "x@evil.test", USERS, OWN, {})
    zero_width = impersonation("Ingrid\u200b Halvorsen", "x@evil.test", USERS, OWN, {})

    assert _kinds(cyrillic) == [DISPLAY_NAME_VIP]
    assert cyrillic[0].score == 100
    assert _kinds(zero_width) == [DISPLAY_NAME_VIP]


def test_user_name_not_matched() -> None:
    internal = impersonation("Ingrid Halvorsen", "ingrid.halvorsen@larkspur.example", USERS, OWN, DEFAULT_BRANDS)
    internal_subdomain = impersonation("Ingrid Halvorsen", "noreply@hr.larkspur.example", USERS, OWN, DEFAULT_BRANDS)
    other_person = impersonation("Ingrid Hansen", "ingrid@example.net", USERS, OWN, DEFAULT_BRANDS)
    short_name = impersonation("Ali", "ali@example.net", USERS, OWN, DEFAULT_BRANDS)
    ordinary = impersonation("John Smith", "john@example.com", USERS, OWN, DEFAULT_BRANDS)

    assert internal == []
    assert internal_subdomain == []
    assert other_person == []
    assert short_name == []
    assert ordinary == []


def test_short_user_name_matches_only_exactly() -> None:
    exact = impersonation("Al Li", "a@example.net", USERS, OWN, {})
    near = impersonation("Al Lu", "a@example.net", USERS, OWN, {})

    assert _kinds(exact) == [DISPLAY_NAME_USER]
    assert near == []


def test_address_of_another_domain_in_display_name() -> None:
    facts = impersonation("ceo@larkspur.example", "x@evil.test", USERS, OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_ADDRESS]
    assert facts[0].value == "ceo@larkspur.example"
    assert facts[0].sentence == (
        "The display name shows an address of the organisation ceo@larkspur.example, but the message comes from x@evil.test."
    )


def test_address_in_display_name_from_corpus() -> None:
    # "Angebote@versand-rossmann.de" <service@stayfriends.de>
    message = parsed("phishing_pot/sample-3464.eml")
    facts = impersonation(message.sender.display_name, message.sender.address, [], OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_ADDRESS]
    assert facts[0].value == "angebote@versand-rossmann.de"


def test_address_in_display_name_same_domain_is_fine() -> None:
    # "Orabankhardofficelometogo@gmail.com" <okohpaul798@gmail.com>: both addresses are at gmail.com.
    message = parsed("phishing_pot/sample-5295.eml")

    assert impersonation(message.sender.display_name, message.sender.address, [], OWN, DEFAULT_BRANDS) == []
    assert impersonation("support@paypal.com", "service@intl.paypal.com", [], OWN, DEFAULT_BRANDS) == []


def test_brand_in_display_name_from_corpus() -> None:
    cases = {
        "phishing_pot/sample-3144.eml": "Apple",  # Apple <Appleverification@zonnet.nl>
        "phishing_pot/sample-1007.eml": "Binance",
        "phishing_pot/sample-5225.eml": "McAfee",  # "Mcafee™"
        "phishing_pot/sample-5704.eml": "Coinbase",  # letters split by variation selectors
        "phishing_pot/sample-5918.eml": "DHL",  # "D/H/L-verzending.Rg"
        "phishing_pot/sample-651.eml": "Binance",  # "PepeBinance"
    }
    for relative, brand in cases.items():
        message = parsed(relative)
        facts = impersonation(message.sender.display_name, message.sender.address, [], OWN, DEFAULT_BRANDS)
        assert _kinds(facts) == [DISPLAY_NAME_BRAND], relative
        assert facts[0].value == brand, relative


def test_brand_from_its_own_domain_is_fine() -> None:
    # sample-35 claims service@intl.paypal.com; spoofing is for the authentication checks to find.
    message = parsed("phishing_pot/sample-35.eml")

    assert impersonation(message.sender.display_name, message.sender.address, [], OWN, DEFAULT_BRANDS) == []
    assert impersonation("Amazon.co.uk", "orders@amazon.co.uk", [], OWN, DEFAULT_BRANDS) == []


def test_brand_not_found_inside_ordinary_words() -> None:
    for name in ("Purchase Dept", "Pineapple Express Bakery", "Groups Admin", "Cheap Flights"):
        assert impersonation(name, "x@shop.example", [], OWN, DEFAULT_BRANDS) == [], name


def test_short_brand_as_its_own_word() -> None:
    facts = impersonation("UPS My Choice", "x@groups.example", [], OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_BRAND]
    assert facts[0].value == "UPS"


def test_capital_i_read_as_l() -> None:
    facts = impersonation("PaypaI Support", "x@evil.test", [], OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_BRAND]
    assert facts[0].value == "PayPal"


def test_organisation_named_from_outside() -> None:
    facts = impersonation("Larkspur HR", "hr@larkspur-payroll.net", USERS, OWN, DEFAULT_BRANDS)

    assert _kinds(facts) == [DISPLAY_NAME_ORGANISATION]
    assert "names the organisation (larkspur)" in facts[0].sentence


def test_configured_brand_without_domains() -> None:
    brands = {"Northwind": []}

    outside = impersonation("Northwind Billing", "billing@evil.test", [], OWN, brands)
    own_site = impersonation("Northwind Billing", "billing@northwind.example", [], OWN, brands)

    assert _kinds(outside) == [DISPLAY_NAME_BRAND]
    assert own_site == []


def test_bad_display_names_do_not_raise() -> None:
    for name in ("", "   ", "\u202e\u200b", "@", "a@", "x" * 10_000, "\x00\x01"):
        assert impersonation(name, "x@evil.test", USERS, OWN, DEFAULT_BRANDS) == [], repr(name[:20])
    assert impersonation("Ingrid Halvorsen", "", USERS, OWN, {})[0].kind == DISPLAY_NAME_VIP


def test_first_contact_sentences() -> None:
    first = first_contact_fact(0, "x@evil.test")
    known = first_contact_fact(1, "x@evil.test")
    several = first_contact_fact(4, "x@evil.test")

    assert first is not None
    assert first.kind == FIRST_CONTACT
    assert first.sentence == "No earlier message from x@evil.test was found in any mailbox: this is first contact."
    assert known is not None
    assert known.kind == KNOWN_SENDER
    assert known.sentence.startswith("1 earlier message from")
    assert several is not None
    assert several.sentence.startswith("4 earlier messages from")
    assert first_contact_fact(None, "x@evil.test") is None
    assert first_contact_fact(0, "") is None


def test_configured_lower_case_brand_keeps_real_domains() -> None:
    # The demo tenant lists brands in lower case; Microsoft's own outlook.com must stay the brand's.
    brands = merge_brands(["microsoft", "paypal"], {})

    assert impersonation("Microsoft account team", "account-security-noreply@outlook.com", [], OWN, brands) == []
    assert _kinds(impersonation("Microsoft account team", "x@evil.test", [], OWN, brands)) == [DISPLAY_NAME_BRAND]
