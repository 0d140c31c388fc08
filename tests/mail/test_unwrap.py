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


def test_mimecast_destination_hidden() -> None:
    link = "https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example"
    result = unwrap(link)
    assert result is not None
    assert result.wrappers == ("Mimecast URL Protect",)
    assert result.destination_hidden is True
    # The `domain=` hint is not turned into a destination: the link itself is all that is known.
    assert result.url == link


def test_mimecast_inside_safe_links() -> None:
    mimecast = "https://protect-us.mimecast.com/s/XyZ123?domain=unknown.example"
    outer = "https://nam02.safelinks.protection.outlook.com/?url=" + quote(mimecast, safe="") + "&data=1"
    result = unwrap(outer)
    assert result is not None
    assert result.wrappers == ("Microsoft Safe Links", "Mimecast URL Protect")
    assert result.url == mimecast
    assert result.destination_hidden is True


def test_mimecast_hidden_in_message() -> None:
    raw = (
        b"Subject: x\nContent-Type: text/html\n\n"
        b'<a href="https://protect-eu.mimecast.com/s/AbCdEfGh?domain=evil.example">Open</a>'
    )
    [url] = parse_message(raw).urls
    assert url.wrappers == ["Mimecast URL Protect"]
    assert url.destination_hidden is True
    assert url.unwrapped == ""
    # The named domain is kept for reputation checks; the URL itself is never guessed.
    assert url.unwrapped_host == "evil.example"


def test_mimecast_without_a_valid_domain_names_nothing() -> None:
    raw = b'Subject: x\nContent-Type: text/html\n\n<a href="https://protect-eu.mimecast.com/s/AbCdEfGh?domain=not%20a%20host">Open</a>'
    [url] = parse_message(raw).urls
    assert url.destination_hidden is True
    assert url.unwrapped_host == ""


def test_safe_links_around_proofpoint_v2() -> None:
    proofpoint = "https://urldefense.proofpoint.com/v2/url?u=https-3A__evil.example.com_login&d=DwMF&c=x&e="
    outer = "https://eur03.safelinks.protection.outlook.com/?url=" + quote(proofpoint, safe="") + "&data=05%7C01"
    result = unwrap(outer)
    assert result is not None
    assert result.wrappers == ("Microsoft Safe Links", "Proofpoint URL Defense v2")
    assert result.url == "https://evil.example.com/login"


def test_proofpoint_v3_around_safe_links() -> None:
    safe_links = "https://eur03.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example%2Fpay&data=05"
    # Proofpoint v3 keeps the URL readable and moves `?`, `=` and `&` into the base64 block.
    embedded = safe_links.replace("?", "*").replace("=", "*").replace("&", "*")
    replaced = "".join(character for character in safe_links if character in "?=&")
    encoded = base64.urlsafe_b64encode(replaced.encode()).decode().rstrip("=")
    result = unwrap(f"https://urldefense.com/v3/__{embedded}__;{encoded}!!Tenant!abc$")
    assert result is not None
    assert result.wrappers == ("Proofpoint URL Defense v3", "Microsoft Safe Links")
    assert result.url == "https://evil.example/pay"


def test_nested_links_keep_original_in_message() -> None:
    google = "https://www.google.com/url?q=" + quote("https://deep.example/x", safe="")
    outer = "https://nam02.safelinks.protection.outlook.com/?url=" + quote(google, safe="") + "&data=1"
    raw = b"Subject: x\nContent-Type: text/html\n\n" + f'<a href="{outer}">x</a>'.encode()
    [url] = parse_message(raw).urls
    assert url.url == outer
    assert url.unwrapped == "https://deep.example/x"
    assert url.unwrapped_domain == "deep.example"
    assert url.wrappers == ["Microsoft Safe Links", "Google redirect"]
    assert url.destination_hidden is False


@pytest.mark.parametrize(
    ("url", "destination", "wrapper"),
    [
        ("https://www.google.co.uk/url?sa=t&url=https%3A%2F%2Fevil.example%2F", "https://evil.example/", "Google redirect"),
        ("https://www.google.com/amp/s/evil.example/p?x=1", "https://evil.example/p?x=1", "Google AMP viewer"),
        ("https://www.google.com/amp/evil.example/p", "http://evil.example/p", "Google AMP viewer"),
        ("https://www.disq.us/?url=https://community.example.org/404", "https://community.example.org/404", "Disqus redirect"),
        (
            "https://disq.us/url?url=https%3A%2F%2Fevil.example%2Fa%3AAbCdEfGhIjKlMnOpQrSt&cuid=1",
            "https://evil.example/a",
            "Disqus redirect",
        ),
        ("https://away.vk.com/away.php?to=https%3A%2F%2Fevil.example%2F", "https://evil.example/", "VK redirect"),
        ("https://l.instagram.com/?u=https%3A%2F%2Fevil.example%2F&e=x", "https://evil.example/", "Instagram link shim"),
        ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fevil.example%2F&rut=1", "https://evil.example/", "DuckDuckGo redirect"),
        (
            "https://www.googleadservices.com/pagead/aclk?sa=L&ai=x&adurl=https://evil.example/",
            "https://evil.example/",
            "Google Ads click",
        ),
        (
            "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fevil.example%2f&c=E,1,x&typo=1",
            "https://evil.example/",
            "Barracuda Link Protection",
        ),
        (
            "https://protect2.fireeye.com/v1/url?k=abc&q=def&r=1&u=https%3A%2F%2Fevil.example%2F",
            "https://evil.example/",
            "Trellix URL Protection",
        ),
        (
            "https://r.search.yahoo.com/_ylt=A0/RV=2/RE=1/RO=10/RU=https%3a%2f%2fevil.example%2f/RK=2/RS=x-",
            "https://evil.example/",
            "Yahoo search redirect",
        ),
        ("https://safe.menlosecurity.com/https://evil.example/p", "https://evil.example/p", "Menlo Security isolation"),
        ("https://secure-web.cisco.com/1AbCdEf/https%3A%2F%2Fevil.example%2Fp", "https://evil.example/p", "Cisco Secure Email URL rewrite"),
        ("https://href.li/?https://evil.example/p", "https://evil.example/p", "href.li redirect"),
        ("https://steamcommunity.com/linkfilter/?url=https://evil.example/", "https://evil.example/", "Steam link filter"),
    ],
)
def test_open_redirectors(url: str, destination: str, wrapper: str) -> None:
    result = unwrap(url)
    assert result is not None
    assert result.url == destination
    assert result.wrappers == (wrapper,)


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
        "https://protect-eu.mimecast.com/other/AbCd",
        "https://www.google.com/amp/s/nodot/p",
        "https://www.google.evil.example/url?q=https://x.example/",
        "",
    ],
)
def test_not_wrapped_or_unreadable(url: str) -> None:
    assert unwrap(url) is None


def test_proofpoint_v3_nothing_replaced() -> None:
    result = unwrap("https://urldefense.com/v3/__https://evil.example/plain__;!!Tenant!abc$")
    assert result is not None
    assert result.url == "https://evil.example/plain"
