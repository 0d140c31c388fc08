"""Unwrapping rewritten links, on corpus messages and on links built here for each wrapper."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest

from air_tui.mail import parse_message
from air_tui.mail.unwrap import unwrap

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def corpus_urls(name: str) -> list:
    return parse_message((CORPUS / name).read_bytes()).urls


def test_safe_links_in_corpus_unwrapped() -> None:
    wrapped = [url for url in corpus_urls("phishing_pot/sample-129.eml") if "safelinks" in url.host]
    assert wrapped
    first = wrapped[0]
    assert first.wrappers == ["Microsoft Safe Links"]
    assert first.unwrapped.startswith("https://survey.alchemer.eu/")
    assert first.unwrapped_host == "survey.alchemer.eu"
    assert first.unwrapped_domain == "alchemer.eu"
    assert first.url.startswith("https://eur03.safelinks.protection.outlook.com/")


def test_google_redirect_in_corpus_unwrapped() -> None:
    wrapped = [url for url in corpus_urls("phishing_pot/sample-1227.eml") if url.host.endswith("google.com")]
    assert wrapped
    assert wrapped[0].wrappers == ["Google redirect"]
    assert wrapped[0].unwrapped_host == "juicycandyiybx.com"


def test_proofpoint_v1() -> None:
    result = unwrap("https://urldefense.proofpoint.com/v1/url?u=" + quote("http://evil.example/a?b=1", safe="") + "&k=abc")
    assert result is not None
    assert result.url == "http://evil.example/a?b=1"
    assert result.wrappers == ("Proofpoint URL Defense v1",)


def test_proofpoint_v2() -> None:
    result = unwrap("https://urldefense.proofpoint.com/v2/url?u=https-3A__evil.example.com_login-3Fid-3D1&d=DwMF&c=x&e=")
    assert result is not None
    assert result.url == "https://evil.example.com/login?id=1"


def test_proofpoint_v3_single_and_run() -> None:
    replaced = base64.urlsafe_b64encode("?=&&&".encode()).decode().rstrip("=")
    # `*` stands for one replaced character and `**B` for a run of three.
    result = unwrap(f"https://urldefense.com/v3/__https://evil.example/p*a*1**B__;{replaced}!!Tenant!abcdef$")
    assert result is not None
    assert result.url == "https://evil.example/p?a=1&&&"
    assert result.wrappers == ("Proofpoint URL Defense v3",)


def test_proofpoint_v3_multibyte() -> None:
    replaced = base64.urlsafe_b64encode("é".encode()).decode().rstrip("=")
    result = unwrap(f"https://urldefense.com/v3/__https://evil.example/caf*__;{replaced}!!x$")
    assert result is not None
    assert result.url == "https://evil.example/café"


def test_proofpoint_v3_short_block_rejected() -> None:
    assert unwrap("https://urldefense.com/v3/__https://evil.example/a*b*c__;Pw!!x$") is None


def test_mimecast_keeps_domain_only() -> None:
    result = unwrap("https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example")
    assert result is not None
    assert result.url == "https://evil.example/"
    assert result.partial is True


def test_nested_wrappers_outermost_first() -> None:
    google = "https://www.google.com/url?q=" + quote("https://deep.example/x", safe="")
    outer = "https://nam02.safelinks.protection.outlook.com/?url=" + quote(google, safe="") + "&data=1"
    result = unwrap(outer)
    assert result is not None
    assert result.url == "https://deep.example/x"
    assert result.wrappers == ("Microsoft Safe Links", "Google redirect")


def test_bing_redirect() -> None:
    encoded = base64.urlsafe_b64encode(b"https://evil.example/bing").decode().rstrip("=")
    result = unwrap(f"https://www.bing.com/ck/a?!&&p=abc&u=a1{encoded}&ntb=1")
    assert result is not None
    assert result.url == "https://evil.example/bing"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/plain",
        "https://www.google.com/url?q=javascript:alert(1)",
        "https://www.google.com/search?q=https://evil.example",
        "https://urldefense.proofpoint.com/v2/url?d=missing",
        "http://[::1",
        "https://protect-eu.mimecast.com/s/AbCd",
        "",
    ],
)
def test_not_wrapped_or_unreadable(url: str) -> None:
    assert unwrap(url) is None


def test_proofpoint_v3_nothing_replaced() -> None:
    result = unwrap("https://urldefense.com/v3/__https://evil.example/plain__;!!Tenant!abc$")
    assert result is not None
    assert result.url == "https://evil.example/plain"
