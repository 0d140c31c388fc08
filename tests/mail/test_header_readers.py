"""The header readers on their own: Authentication-Results, Received chains, names."""

from __future__ import annotations

import email
from email.policy import default as default_policy

import authres

from air_tui.domain.message import AuthResult
from air_tui.mail.addresses import split_address_list
from air_tui.mail.attachments import file_extension
from air_tui.mail.authresults import parse_authentication_results, parse_tolerantly
from air_tui.mail.headers import RawHeaders
from air_tui.mail.received import originating_ip
from tests.mail.conftest import manifest


def _corpus_authentication_results() -> list[str]:
    values: list[str] = []
    for entry in manifest():
        if entry.relative.endswith(".eml"):
            message = email.message_from_bytes(entry.path.read_bytes(), policy=default_policy)
            values.extend(RawHeaders(message).values("authentication-results"))
    return values


def test_tolerant_reader_agrees_with_authres() -> None:
    """Where authres can parse a corpus header, the fallback reads the same results."""
    checked = 0
    for value in _corpus_authentication_results():
        try:
            authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value.strip().rstrip(";"))
        except authres.AuthResError:
            continue
        assert parse_tolerantly(value) == parse_authentication_results([value]), value
        checked += 1

    assert checked >= 15


def test_microsoft_header_without_authserv_id() -> None:
    value = (
        "spf=pass (sender IP is 209.85.160.46) smtp.mailfrom=gmail.com; dkim=pass (signature was verified) "
        "header.d=hotmail.com;dmarc=pass action=none header.from=hotmail.com;compauth=pass reason=100"
    )

    assert parse_authentication_results([value]) == [
        AuthResult(method="spf", result="pass", properties={"smtp.mailfrom": "gmail.com"}),
        AuthResult(method="dkim", result="pass", properties={"header.d": "hotmail.com"}),
        AuthResult(method="dmarc", result="pass", properties={"action": "none", "header.from": "hotmail.com"}),
        AuthResult(method="compauth", result="pass", properties={"reason": "100"}),
    ]


def test_authres_none_and_garbage() -> None:
    assert parse_authentication_results(["mx.example.com; none"]) == []
    assert parse_authentication_results(["mx.example.com; (only a comment)"]) == []
    assert parse_tolerantly("") == []


def test_originating_ip_reads_bottom_up() -> None:
    received = [
        "from mx.example.net (mx.example.net [81.2.69.160]) by inbound.example.org; Mon, 1 Jan 2024",
        "from relay.example.com (relay.example.com [94.100.180.200]) by mx.example.net; Mon, 1 Jan 2024",
        "from client.local (unknown [192.168.1.20]) by relay.example.com (8.8.8.8); Mon, 1 Jan 2024",
        "from localhost (localhost [127.0.0.1]) by client.local; Mon, 1 Jan 2024",
    ]

    # 192.168.1.20 is private and 8.8.8.8 sits in the `by` clause, so the third hop yields nothing.
    assert originating_ip(received) == "94.100.180.200"


def test_originating_ip_public_ipv6_and_none() -> None:
    assert originating_ip(["from a.example (2001:4860:4860::8888) by b.example; date"]) == "2001:4860:4860::8888"
    assert originating_ip(["from a.example ([fe80::1]) by b.example; date"]) == ""
    assert originating_ip(["by b.example with SMTP; date"]) == ""
    assert originating_ip([]) == ""


def test_file_extension_rules() -> None:
    assert file_extension("Invoice.PDF") == "pdf"
    assert file_extension("archive.tar.gz") == "gz"
    assert file_extension("report.exe\u200b") == "exe"
    assert file_extension("trailing.exe. ") == "exe"
    assert file_extension(r"C:\Users\x\doc.docm") == "docm"
    assert file_extension("no_extension") == ""
    assert file_extension(".bashrc") == ""
    assert file_extension("name.with space") == ""


def test_split_address_list_respects_quotes_comments_and_groups() -> None:
    assert split_address_list('"a, b" <x@y.z>, (c, d) e@f.g, G: h@i.j, k@l.m;, n@o.p') == [
        '"a, b" <x@y.z>',
        "(c, d) e@f.g",
        "G: h@i.j, k@l.m;",
        "n@o.p",
    ]
    # A group that is never closed would swallow the rest, so groups are then ignored.
    assert split_address_list("Re: a@b.c, d@e.f") == ["Re: a@b.c", "d@e.f"]
    assert split_address_list(r'"q \" , x" <a@b.c>, d@e.f') == [r'"q \" , x" <a@b.c>', "d@e.f"]


def test_received_spf_names_its_header() -> None:
    from air_tui.mail.authresults import parse_authentication_results, parse_received_spf

    spf = parse_received_spf(["pass (mx.example: domain of a@b.example designates 192.0.2.1 as permitted sender) receiver=mx.example;"])
    assert [result.header for result in spf] == ["Received-SPF"]
    results = parse_authentication_results(["mx.example; spf=pass smtp.mailfrom=b.example"])
    assert [result.header for result in results] == ["Authentication-Results"]
