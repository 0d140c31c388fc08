"""URLs in messages: every HTML and text source, the canonical form, the flags and malformed hosts."""

from __future__ import annotations

import pytest

from air_tui.domain.message import Url
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message
from air_tui.mail.htmltext import refresh_url, srcset_urls
from air_tui.mail.urls import (
    DATA_URI_SHOWN_CHARS,
    SHORTENER_DOMAINS,
    data_uri_media_type,
    is_dangerous_data_uri,
    is_shortener,
    normalise_url,
)
from tests.mail.conftest import parsed


def html_message(html: str) -> bytes:
    return b"Subject: links\nContent-Type: text/html; charset=utf-8\n\n" + html.encode("utf-8")


def urls_of(html: str) -> list[Url]:
    return parse_message(html_message(html)).urls


def only_url(html: str) -> Url:
    urls = urls_of(html)
    assert len(urls) == 1, [url.url for url in urls]
    return urls[0]


# Extraction sources


def test_href_source_and_detail() -> None:
    url = only_url('<a href="https://a.example.com/x">go</a>')
    assert url.source == "href"
    assert url.source_detail == "a href"


def test_img_src_source() -> None:
    url = only_url('<img src="https://img.example.com/p.png">')
    assert url.source == "src"
    assert url.source_detail == "img src"


def test_srcset_every_candidate() -> None:
    urls = urls_of('<img srcset="https://a.example.com/1.png 1x, https://b.example.com/2.png 2x,https://c.example.com/3.png 640w">')
    assert [url.url for url in urls] == [
        "https://a.example.com/1.png",
        "https://b.example.com/2.png",
        "https://c.example.com/3.png",
    ]
    assert {url.source for url in urls} == {"srcset"}


def test_picture_source_srcset() -> None:
    url = only_url('<picture><source srcset="https://p.example.com/wide.webp"></picture>')
    assert url.source == "srcset"
    assert url.source_detail == "source srcset"


def test_srcset_url_with_comma_kept_whole() -> None:
    assert srcset_urls("https://a.example/x,y.png 1x, https://b.example/z.png 2x") == [
        "https://a.example/x,y.png",
        "https://b.example/z.png",
    ]


def test_srcset_descriptor_with_brackets() -> None:
    assert srcset_urls("a.png (max-width: 10px, x), b.png") == ["a.png", "b.png"]


def test_form_action_source() -> None:
    url = only_url('<form action="https://collect.example.net/post" method="post"><input name="p"></form>')
    assert url.source == "form"
    assert url.source_detail == "form action"


def test_button_formaction_source() -> None:
    url = only_url('<form><button formaction="https://steal.example.net/pw">Sign in</button></form>')
    assert url.source == "form"
    assert url.source_detail == "button formaction"


@pytest.mark.parametrize(
    "content",
    [
        "0; url=https://refresh.example.com/a",
        "0;URL=https://refresh.example.com/a",
        "0; url='https://refresh.example.com/a'",
        '5 ; URL = "https://refresh.example.com/a"',
        "0, https://refresh.example.com/a",
        "https://refresh.example.com/a",
    ],
)
def test_meta_refresh_forms(content: str) -> None:
    quote = "'" if '"' in content else '"'
    url = only_url(f"<meta http-equiv={quote}Refresh{quote} content={quote}{content}{quote}>")
    assert url.url == "https://refresh.example.com/a"
    assert url.source == "meta-refresh"


def test_meta_refresh_unquoted_attributes() -> None:
    url = only_url("<META HTTP-EQUIV=REFRESH CONTENT=0;URL=https://refresh.example.com/b>")
    assert url.url == "https://refresh.example.com/b"
    assert url.source == "meta-refresh"


def test_meta_refresh_without_url() -> None:
    assert refresh_url("30") == ""
    assert urls_of('<meta http-equiv="refresh" content="30">') == []


def test_meta_other_than_refresh_ignored() -> None:
    assert urls_of('<meta http-equiv="content-type" content="text/html; url=https://x.example.com/">') == []


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ('<body background="https://bg.example.com/b.jpg">x</body>', "body background"),
        ('<table><tr><td background="https://bg.example.com/b.jpg">x</td></tr></table>', "td background"),
        ('<video poster="https://bg.example.com/b.jpg"></video>', "video poster"),
        ('<object data="https://bg.example.com/b.jpg"></object>', "object data"),
    ],
)
def test_other_url_attributes(html: str, detail: str) -> None:
    url = only_url(html)
    assert url.url == "https://bg.example.com/b.jpg"
    assert url.source == "src"
    assert url.source_detail == detail


def test_text_url_source() -> None:
    message = parse_message(b"Subject: x\nContent-Type: text/plain\n\nVisit https://plain.example.org/a today.\n")
    [url] = message.urls
    assert url.source == "text"
    assert url.normalised == "https://plain.example.org/a"


# Link text


def test_link_text_with_domain_and_path_kept_whole() -> None:
    url = urls_of('<a href="https://evil.example.net/x">www.paypal.com/login</a>')[0]
    assert url.link_text == "www.paypal.com/login"
    assert url.host == "evil.example.net"


def test_link_text_split_by_tags_kept_whole() -> None:
    url = urls_of('<a href="https://evil.example.net/x">https://<b>paypal</b>.com</a>')[0]
    assert url.link_text == "https://paypal.com"


def test_link_text_hidden_characters_removed_and_named() -> None:
    url = urls_of('<a href="https://evil.example.net/x">pay\u200bpal.com</a>')[0]
    assert url.link_text == "paypal.com"
    assert url.hidden_characters == ["U+200B ZERO WIDTH SPACE in the link text"]


# Normalisation


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("HTTPS://Example.COM/Path", "https://example.com/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:080/a", "http://example.com/a"),
        ("https://example.com/%7euser/%2f%41", "https://example.com/~user/%2FA"),
        ("https://example.com/a?q=%e2%82%ac", "https://example.com/a?q=%E2%82%AC"),
        ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
        ("https://example.com/a#section", "https://example.com/a"),
        ("https://example.com/?b=2&a=1&b=1", "https://example.com/?b=2&a=1&b=1"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("www.Example.com/x", "http://www.example.com/x"),
        ("//cdn.example.com/x", "http://cdn.example.com/x"),
        ("https://example.com./x", "https://example.com/x"),
        ("https://%65xample.com/", "https://example.com/"),
        ("http:\\\\evil.example\\path", "http://evil.example/path"),
        ("https://pay\u200bpal.com/log\u200din", "https://paypal.com/login"),
        ("https://\u202epaypal.com/", "https://paypal.com/"),
        ("https://user@paypal.com@evil.example/", "https://user@paypal.com@evil.example/"),
        ("https://EXAMPLE\u3002com/", "https://example.com/"),
    ],
)
def test_normalise_rules(written: str, expected: str) -> None:
    assert normalise_url(written) == expected


def test_unicode_and_punycode_hosts_equal() -> None:
    forms = [
        "https://bücher.example/shop",
        "https://BÜCHER.example/shop",
        "https://xn--bcher-kva.example/shop",
        "https://XN--BCHER-KVA.EXAMPLE:443/shop#top",
    ]
    assert {normalise_url(form) for form in forms} == {"https://xn--bcher-kva.example/shop"}


def test_idn_homograph_gets_punycode() -> None:
    # Cyrillic "а" in place of Latin "a": the ASCII form shows the difference.
    assert normalise_url("https://\u0440\u0430ypal.com/") == "https://xn--ypal-43d9g.com/"


@pytest.mark.parametrize(
    "written",
    [
        "",
        "http://",
        "http://[",
        "http://[::1",
        "http://exa mple.com",
        "http://host:99999",
        "http://a..b/",
        "http://" + "a" * 5000 + ".com/",
        "http://" + "1" * 5000 + "/",
        "http://\udcff.example/",
        "javascript:alert(1)",
        "data:text/html,<script>",
        "::::",
        "http://xn--/",
        "http://%zz.example/",
        "http://[fe80::1%25eth0]/",
    ],
)
def test_normalise_never_raises(written: str) -> None:
    assert isinstance(normalise_url(written), str)


def test_normalised_field_filled_for_unwrapped_as_well() -> None:
    url = only_url('<a href="https://www.google.com/url?q=https%3A%2F%2FB%C3%BCcher.example%2Fa%23frag">x</a>')
    assert url.normalised == "https://www.google.com/url?q=https%3A%2F%2FB%C3%BCcher.example%2Fa%23frag"
    assert normalise_url(url.unwrapped) == "https://xn--bcher-kva.example/a"


# Flags


@pytest.mark.parametrize(
    ("written", "address"),
    [
        ("http://192.168.1.1/", "http://192.168.1.1/"),
        ("http://3232235777/", "http://192.168.1.1/"),
        ("http://0xC0A80101/", "http://192.168.1.1/"),
        ("http://0xc0.0xa8.0x1.0x1/", "http://192.168.1.1/"),
        ("http://0300.0250.01.01/", "http://192.168.1.1/"),
        ("http://192.168.257/", "http://192.168.1.1/"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/"),
        ("http://[::ffff:192.168.1.1]:8080/", "http://[::ffff:c0a8:101]:8080/"),
    ],
)
def test_ip_literal_forms(written: str, address: str) -> None:
    url = only_url(f'<a href="{written}">x</a>')
    assert url.ip_literal is True
    assert url.normalised == address
    assert url.host_problem == ""


@pytest.mark.parametrize("written", ["http://example.com/", "http://1example.com/", "http://0x.example.com/", "http://123.example/"])
def test_ip_literal_not_for_domains(written: str) -> None:
    assert only_url(f'<a href="{written}">x</a>').ip_literal is False


def test_shortener_flag() -> None:
    urls = urls_of(
        '<a href="https://bit.ly/3abcDEF">a</a><a href="https://www.tinyurl.com/x">b</a>'
        '<a href="https://t.co/xyz">c</a><a href="https://example.com/bit.ly">d</a>'
    )
    assert [url.shortener for url in urls] == [True, True, True, False]


def test_shortener_domains_are_registrable_domains() -> None:
    assert "bit.ly" in SHORTENER_DOMAINS
    assert is_shortener("BIT.LY")
    assert not is_shortener("notbit.ly")


def test_data_uri_html_kept_short() -> None:
    payload = "PGh0bWw+" * 200
    url = only_url(f'<a href="data:text/html;base64,{payload}">open</a>')
    assert url.data_uri is True
    assert url.url.startswith("data:text/html;base64,PGh0bWw+")
    assert url.url == f"data:text/html;base64,{payload}"[:DATA_URI_SHOWN_CHARS] + "…"
    assert url.source == "href"
    assert url.host == ""
    assert url.host_problem == ""
    assert is_dangerous_data_uri(url.url)
    assert data_uri_media_type(url.url) == "text/html"


def test_data_uri_in_iframe_src() -> None:
    url = only_url('<iframe src="data:application/x-msdownload;base64,TVqQAAMAAAAEAAAA"></iframe>')
    assert url.data_uri is True
    assert url.source == "src"
    assert is_dangerous_data_uri(url.url)


def test_data_uri_message_has_no_host_warning() -> None:
    message = parse_message(html_message('<a href="data:text/html,hello">x</a>'))
    assert message.parse_warnings == []


@pytest.mark.parametrize(
    ("uri", "media_type", "dangerous"),
    [
        ("data:,hello", "text/plain", False),
        ("data:text/plain;charset=utf-8,hi", "text/plain", False),
        ("DATA:Text/HTML,x", "text/html", True),
        ("data:image/svg+xml;base64,PHN2Zz4=", "image/svg+xml", True),
        ("data:application/pdf;base64,JVBERi0=", "application/pdf", True),
        ("https://example.com/", "", False),
    ],
)
def test_data_uri_media_types(uri: str, media_type: str, dangerous: bool) -> None:
    if media_type:
        assert data_uri_media_type(uri) == media_type
    assert is_dangerous_data_uri(uri) is dangerous


def test_two_data_uris_with_same_prefix_both_kept() -> None:
    prefix = "data:text/html," + "x" * 150
    urls = urls_of(f'<a href="{prefix}A">1</a><a href="{prefix}B">2</a>')
    assert len(urls) == 2
    assert all(url.data_uri for url in urls)


def test_raster_data_image_not_a_url() -> None:
    assert urls_of('<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">') == []


def test_hidden_characters_in_href() -> None:
    url = only_url('<a href="https://pay\u200bpal.com/\u202elogin">x</a>')
    assert url.hidden_characters == ["U+200B ZERO WIDTH SPACE", "U+202E RIGHT-TO-LEFT OVERRIDE"]
    assert url.normalised == "https://paypal.com/login"
    assert url.host == "paypal.com"
    assert "\u200b" in url.url


# Malformed hosts


@pytest.mark.parametrize(
    ("href", "problem"),
    [
        ("http://exa mple.com/", "host has characters not allowed in a domain name: U+0020 SPACE"),
        ("http://[::1", "the IPv6 address has no closing bracket ']'"),
        ("http://[::zz]/", "'::zz' is not a valid IPv6 address"),
        ("http://a..b/", "host has an empty label"),
        ("http://host.example:99999/", "port '99999' is out of range (0 to 65535)"),
        ("http://host.example:8o/", "port '8o' is not a number"),
        ("http://" + "a" * 5000 + ".com/", "host is 5,004 characters long; a domain name has at most 253"),
        ("http://" + "b" * 64 + ".com/", "is longer than 63 characters"),
        ("http://ev<il.example/", "host has characters not allowed in a domain name: '<'"),
        ("http://xn--zz.example/", "host label 'xn--zz' is not a valid internationalised domain name"),
        ("http://1.2.3.999/", "host '1.2.3.999' is an IPv4 address out of range"),
    ],
)
def test_malformed_host_reported(href: str, problem: str) -> None:
    message = parse_message(html_message(f'<a href="{href}">x</a><a href="https://ok.example.com/">y</a>'))
    bad, good = message.urls
    assert problem in bad.host_problem
    assert any(problem in warning for warning in message.parse_warnings)
    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert good.host == "ok.example.com"
    assert good.host_problem == ""


def test_malformed_host_in_text_keeps_the_rest() -> None:
    message = parse_message(b"Subject: x\nContent-Type: text/plain\n\nsee http://a..b/x and https://fine.example.org/\n")
    assert [url.url for url in message.urls] == ["http://a..b/x", "https://fine.example.org/"]
    assert message.urls[0].host == ""
    assert message.urls[0].host_problem == "host has an empty label"


def test_port_problem_keeps_host() -> None:
    url = urls_of('<a href="http://host.example:99999/">x</a>')[0]
    assert url.host == "host.example"
    assert url.registrable_domain == "host.example"


# Real corpus files


def test_corpus_redirector_unwrapped() -> None:
    urls = {url.url: url for url in parsed("spamassassin/redirector.eml").urls}
    amp = urls["https://www.google.com/amp/spamassassin.apache.org/news.html"]
    assert amp.unwrapped == "http://spamassassin.apache.org/news.html"
    assert amp.wrappers == ["Google AMP viewer"]
    disqus = urls["https://www.disq.us/?url=https://community.apache.org/404"]
    assert disqus.unwrapped == "https://community.apache.org/404"
    assert disqus.unwrapped_domain == "apache.org"
    assert disqus.wrappers == ["Disqus redirect"]


def test_corpus_openphish_url() -> None:
    [url] = parsed("spamassassin/phishing-openphish.eml").urls
    assert url.normalised == "https://ehawkerbd.com/wp/wp-admin/js/office365/auth.php"
    assert url.registrable_domain == "ehawkerbd.com"
    assert url.host_problem == ""
    assert not url.ip_literal
    assert not url.shortener


def test_corpus_phishtank_url_keeps_query() -> None:
    [url] = parsed("spamassassin/phishing-phishtank.eml").urls
    assert url.source == "href"
    assert url.link_text == "PhishTank"
    assert url.normalised == (
        "https://www.anatolialamps.com/wp-content/themes/sketch/fopo/fur50/signin.php"
        "?locale.x=en&_token=MTUzNTUxMzAxOQ=message-id:"
    )


def test_zero_width_space_keeps_text_url() -> None:
    from air_tui.mail import parse_message

    raw = "From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGo to https://pay\u200bpal.com.verify-login.example/signin now\r\n"
    message = parse_message(raw.encode())
    assert [url.normalised for url in message.urls] == ["https://paypal.com.verify-login.example/signin"]
    assert message.urls[0].hidden_characters == ["U+200B ZERO WIDTH SPACE"]
    assert any("U+200B" in warning for warning in message.parse_warnings)


def test_protocol_relative_link_is_listed_once() -> None:
    from air_tui.mail import parse_message

    raw = (
        "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<p><img src="//i.imgur.com/x.png"> see https://i.imgur.com/x.png and <a href="//cdn.example/y">y</a></p>\r\n'
    )
    urls = [url.url for url in parse_message(raw.encode()).urls]
    assert urls.count("//i.imgur.com/x.png") + urls.count("https://i.imgur.com/x.png") == 1
    assert "//cdn.example/y" in urls


def test_relative_links_resolve_against_base_href() -> None:
    from air_tui.mail import parse_message

    raw = (
        "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        '<html><head><base href="https://collect.evil.example/kit/"></head>'
        '<body><a href="login.php?u=1">Sign in</a> <a href="#top">top</a> <a href="mailto:x@y.example">m</a></body></html>\r\n'
    )
    urls = [url.url for url in parse_message(raw.encode()).urls]
    assert "https://collect.evil.example/kit/login.php?u=1" in urls
    assert not any(url.startswith("#") for url in urls)


def test_relative_links_without_base_are_still_skipped() -> None:
    from air_tui.mail import parse_message

    raw = "From: a@b.example\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n<a href=\"login.php\">x</a>\r\n"
    assert parse_message(raw.encode()).urls == []
