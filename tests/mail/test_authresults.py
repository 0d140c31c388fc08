"""ARC-Authentication-Results, DKIM-Signature domains and the choice of trusted results."""

from __future__ import annotations

from air_tui.domain.message import AuthResult, EmailMessage
from air_tui.mail import parse_message
from air_tui.mail.authresults import (
    parse_arc_authentication_results,
    parse_authentication_results,
    parse_received_spf,
    select_trusted_results,
    summarise_results,
    trusted_results,
)
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.dkim import read_dkim_domains
from tests.mail.conftest import parsed

OFFICE_365_ARC = (
    "i=2; mx.microsoft.com 1; spf=pass (sender ip is 40.107.255.68) smtp.rcpttodomain=hotmail.com "
    "smtp.mailfrom=conamcruz.com; dmarc=bestguesspass action=none header.from=conamcruz.com; "
    "dkim=none (message not signed); arc=pass (0 oda=1 ltdi=1 spf=[1,1,smtp.mailfrom=conamcruz.com] "
    "dkim=[1,1,header.d=conamcruz.com] dmarc=[1,1,header.from=conamcruz.com])"
)


def _message(raw: str) -> EmailMessage:
    return parse_message(raw.replace("\n", "\r\n").encode())


def test_arc_office_365_header_is_read() -> None:
    results = parse_arc_authentication_results([OFFICE_365_ARC])

    assert [(item.method, item.result) for item in results] == [
        ("spf", "pass"),
        ("dmarc", "bestguesspass"),
        ("dkim", "none"),
        ("arc", "pass"),
    ]
    assert {item.header for item in results} == {"ARC-Authentication-Results"}
    assert {item.authserv_id for item in results} == {"mx.microsoft.com"}
    assert {item.instance for item in results} == {2}
    assert results[0].properties["smtp.mailfrom"] == "conamcruz.com"
    assert results[1].properties["header.from"] == "conamcruz.com"


def test_arc_instances_and_positions_of_forwarded_sample() -> None:
    # Three ARC sets: Microsoft (i=3) on top, Google (i=2), then the first Microsoft hop (i=1).
    arc = [item for item in parsed("phishing_pot/sample-1227.eml").auth_results if item.header == "ARC-Authentication-Results"]

    by_position = {(item.position, item.instance, item.authserv_id) for item in arc}
    assert by_position == {(0, 3, "mx.microsoft.com"), (1, 2, "mx.google.com"), (2, 1, "mx.microsoft.com")}
    google_spf = next(item for item in arc if item.instance == 2 and item.method == "spf")
    assert google_spf.result == "pass"
    assert google_spf.properties["smtp.mailfrom"] == "merciayanmact@hotmail.com"
    first_hop = [item.result for item in arc if item.instance == 1]
    assert first_hop == ["none", "none", "none", "none"]


def test_arc_every_corpus_header_has_instance() -> None:
    checked = 0
    for number in (651, 1086, 1227, 1230, 1298, 1815, 3041, 3047, 398, 402, 5949, 6282, 6572, 6575, 936):
        arc = [item for item in parsed(f"phishing_pot/sample-{number}.eml").auth_results if item.header == "ARC-Authentication-Results"]
        assert arc, number
        assert all(item.instance >= 1 for item in arc), number
        assert all(item.authserv_id in ("mx.microsoft.com", "mx.google.com") for item in arc), number
        checked += 1
    assert checked == 15


def test_arc_odd_values() -> None:
    without_tag = parse_arc_authentication_results(["mx.example.net; spf=fail smtp.mailfrom=a.test"])
    spaced_tag = parse_arc_authentication_results(["i = 7 ; mx.example.net; dkim=pass header.d=a.test"])
    junk = parse_arc_authentication_results(["i=; ;;; (comment only)", "", "i=999999999999; x; spf=pass"])

    assert [(item.instance, item.authserv_id, item.method, item.result) for item in without_tag] == [
        (0, "mx.example.net", "spf", "fail")
    ]
    assert [(item.instance, item.method, item.properties) for item in spaced_tag] == [(7, "dkim", {"header.d": "a.test"})]
    # A tag too long to be an instance number is left in the value, not read as one.
    assert all(item.instance == 0 for item in junk)


def test_positions_count_headers_of_one_name() -> None:
    results = parse_authentication_results(
        ["mx.a.test; spf=pass smtp.mailfrom=a.test; dkim=pass header.d=a.test", "mx.b.test; spf=fail smtp.mailfrom=b.test"]
    )
    spf = parse_received_spf(["pass (mx.a.test: ok) client-ip=192.0.2.1", "fail (mx.b.test: no) client-ip=192.0.2.2"])

    assert [item.position for item in results] == [0, 0, 1]
    assert [item.position for item in spf] == [0, 1]
    assert [item.header for item in spf] == ["Received-SPF", "Received-SPF"]


def test_dkim_domains_from_corpus() -> None:
    assert parsed("phishing_pot/sample-1342.eml").dkim_domains == ["iceapple.tech", "amazonses.com"]
    assert parsed("phishing_pot/sample-402.eml").dkim_domains == ["bounces.elasticemail.net", "elasticemail.com"]
    assert parsed("phishing_pot/sample-1258.eml").dkim_domains == []


def test_dkim_domains_folding_case_and_junk() -> None:
    warnings = WarningLog()
    values = [
        "v=1; a=rsa-sha256; c=relaxed/relaxed;\td=\tMail.Example.COM.; s=sel; bh=abc=; b=d=fake.test",
        "v=1; d=mail.example.com; s=other",
        "v=1; a=rsa-sha256; s=sel; bh=xyz; b=QUJD",
        "v=1; d=not a domain!; s=sel",
        "v=1; D=upper.test; s=sel",
        "v=1; s=sel; d = exam\t ple.org ;",
    ]

    domains = read_dkim_domains(values, warnings)

    assert domains == ["mail.example.com", "example.org"]
    # Tag names are case-sensitive, so `D=` is no signing domain.
    assert len(warnings.as_list()) == 3
    assert any("'v=1; d=not a domain!; s=sel'" in warning for warning in warnings.as_list())


def test_dkim_domains_on_parsed_message() -> None:
    message = _message(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\n"
        "\td=Bounce.Mailer.Test; s=s1;\n"
        "\th=From:To:Subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\n"
        "\tb=dGVzdA==\n"
        "DKIM-Signature: v=1; d=paypal.com; s=s2; b=dGVzdA==\n"
        "From: PayPal <service@paypal.com>\n"
        "Subject: test\n"
        "\n"
        "body\n"
    )

    assert message.dkim_domains == ["bounce.mailer.test", "paypal.com"]
    assert message.parse_warnings == []


def test_trusted_header_chosen_over_forged_one() -> None:
    # The forged header sits lower, where the sender wrote it; the boundary's is on top.
    message = _message(
        "Authentication-Results: MX.Larkspur.Example; spf=fail smtp.mailfrom=evil.test; dmarc=fail header.from=paypal.com\n"
        "Authentication-Results: mx.paypal.com; spf=pass smtp.mailfrom=paypal.com; dmarc=pass header.from=paypal.com\n"
        "From: PayPal <service@paypal.com>\n"
        "\n"
        "body\n"
    )

    chosen = select_trusted_results(message.auth_results, ["mx.larkspur.example"])

    assert chosen.basis == "trusted"
    assert [(item.method, item.result) for item in chosen.results] == [("spf", "fail"), ("dmarc", "fail")]
    assert chosen.result("dmarc") == "fail"
    assert chosen.ignored == 2
    assert "mx.larkspur.example, a trusted authserv-id" in chosen.sentence
    assert "2 other results were not counted" in chosen.sentence
    assert trusted_results(message, ["MX.LARKSPUR.EXAMPLE"]) == list(chosen.results)


def test_forged_pass_alone_is_not_counted() -> None:
    message = _message(
        "Authentication-Results: mx.larkspur.example.evil.test; spf=pass smtp.mailfrom=paypal.com; dmarc=pass\n"
        "From: PayPal <service@paypal.com>\n"
        "\n"
        "body\n"
    )

    chosen = select_trusted_results(message.auth_results, ["mx.larkspur.example", ""])

    assert chosen.results == ()
    assert chosen.basis == "untrusted"
    assert chosen.result("dmarc") == ""
    assert "No authentication header was written by a trusted authserv-id (mx.larkspur.example)" in chosen.sentence


def test_topmost_of_several_trusted_headers() -> None:
    results = parse_authentication_results(
        [
            "mx2.larkspur.example; dkim=fail header.d=a.test",
            "unrelated.test; dkim=pass header.d=a.test",
            "mx1.larkspur.example; dkim=pass header.d=a.test",
        ]
    )

    chosen = select_trusted_results(results, ["mx1.larkspur.example", "mx2.larkspur.example"])

    assert [(item.authserv_id, item.result) for item in chosen.results] == [("mx2.larkspur.example", "fail")]


def test_authres_variants_trust_by_authserv_id() -> None:
    results = parsed("spamassassin/authres-variants.eml").auth_results

    chosen = select_trusted_results(results, ["AUTHRESTEST3INT"])
    untrusted_only = select_trusted_results(results, ["authrestest8ext.invalid"])

    assert [(item.authserv_id, item.method, item.result) for item in chosen.results] == [("authrestest3int", "spf", "fail")]
    assert chosen.ignored == len(results) - 1
    assert untrusted_only.results == ()


def test_fallback_to_topmost_when_nothing_configured() -> None:
    results = parsed("spamassassin/authres-variants.eml").auth_results

    chosen = select_trusted_results(results, [])

    assert chosen.basis == "topmost"
    assert [item.method for item in chosen.results] == ["spf", "dkim", "dkim"]
    assert {item.authserv_id for item in chosen.results} == {"authrestest1int"}
    assert chosen.result("dkim") == "pass"
    assert "No trusted authserv-id is configured" in chosen.sentence
    assert "A sender can forge this header." in chosen.sentence


def test_office_365_header_without_authserv_id_in_fallback() -> None:
    chosen = select_trusted_results(parsed("phishing_pot/sample-35.eml").auth_results, [])

    assert chosen.basis == "topmost"
    assert chosen.authserv_id == ""
    assert chosen.result("dmarc") == "fail"
    assert "names no authserv-id" in chosen.sentence


def test_arc_counts_when_no_trusted_authentication_results() -> None:
    chosen = select_trusted_results(parsed("phishing_pot/sample-1227.eml").auth_results, ["mx.google.com"])

    assert chosen.basis == "trusted"
    assert chosen.header == "ARC-Authentication-Results"
    assert {(item.instance, item.position) for item in chosen.results} == {(2, 1)}
    assert chosen.result("spf") == "pass"


def test_topmost_received_spf_fills_missing_spf() -> None:
    # Only Received-SPF results; the lower one is not counted.
    chosen = select_trusted_results(parsed("spamassassin/received-spf.eml").auth_results, ["mx.larkspur.example"])

    assert [(item.header, item.position, item.result) for item in chosen.results] == [("Received-SPF", 0, "fail")]
    assert chosen.result("spf") == "fail"
    assert "topmost Received-SPF header from receiver FC5-VPC: spf=fail" in chosen.sentence


def test_received_spf_ignored_when_header_has_spf() -> None:
    results = [
        AuthResult(method="spf", result="fail", authserv_id="mx.larkspur.example"),
        AuthResult(method="spf", result="pass", header="Received-SPF", authserv_id="mx.larkspur.example"),
    ]

    chosen = select_trusted_results(results, ["mx.larkspur.example"])

    assert chosen.results == (results[0],)
    assert chosen.result("spf") == "fail"


def test_no_results_at_all() -> None:
    chosen = select_trusted_results([], ["mx.larkspur.example"])

    assert chosen.basis == "none"
    assert chosen.sentence == "The message carries no authentication results."


def test_summary_lists_each_method_once() -> None:
    results = parse_authentication_results(["mx.a.test; dkim=fail header.d=x.test; dkim=pass header.d=y.test; dmarc=pass"])

    assert summarise_results(results) == "dkim=pass, dmarc=pass"
    assert summarise_results([]) == "no method results"
