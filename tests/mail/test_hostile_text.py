"""Attacker-controlled text: control characters, odd addresses, malformed URLs and charsets."""

from __future__ import annotations

from air_tui.domain.message import Address
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message


def _message(headers: str, body: bytes = b"body\r\n") -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def test_control_characters_become_markers() -> None:
    raw = (
        b"Subject: =?utf-8?q?Hi=1B[31mred=00=C2=9B2J?=\ttab\r\n"
        b"From: =?utf-8?q?Evil=07Bell?= <evil@example.com>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"line one\x1b]0;title\x07\r\nline\x00two\ttabbed\x7f\r\n"
    )

    message = parse_message(raw)

    # One-line fields keep each control as a visible marker, but the body still drops them.
    assert message.subject == "Hi⟨U+001B⟩[31mred⟨U+0000⟩⟨U+009B⟩2J\ttab"
    assert message.sender == Address(display_name="Evil⟨U+0007⟩Bell", address="evil@example.com")
    assert message.body_text == "line one]0;title\nlinetwo\ttabbed"
    assert "Subject 'Hi⟨U+001B⟩[31mred⟨U+0000⟩⟨U+009B⟩2J\\ttab' contains U+001B ESCAPE, U+0000 NULL, U+009B CONTROL CHARACTER" in message.parse_warnings
    assert "From display name 'Evil⟨U+0007⟩Bell' contains U+0007 BELL" in message.parse_warnings


def test_control_characters_in_attachment_name_and_url() -> None:
    raw = _message(
        "Subject: x\nContent-Type: multipart/mixed; boundary=xx\n",
        b"--xx\r\nContent-Type: text/html\r\n\r\n"
        b'<a href="https://exa&#27;mple.com/&#0;a">go&#27;</a>\r\n'
        b"--xx\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="=?utf-8?q?inv=1Boice.pdf?="\r\n\r\nPDF\r\n--xx--\r\n',
    )

    message = parse_message(raw)

    assert message.attachments[0].filename == "inv⟨U+001B⟩oice.pdf"
    assert message.attachments[0].extension == "pdf"
    assert message.attachments[0].hidden_characters == ["U+001B ESCAPE"]
    for url in message.urls:
        assert "\x1b" not in url.url
        assert "\x00" not in url.url


def test_double_at_sender_does_not_crash() -> None:
    message = parse_message(_message("From: phishing@pot@hotmail.com\nTo: Someone <phishing@pot@hotmail.com>\n"))

    assert message.sender.address == "phishing@pot@hotmail.com"
    assert message.sender.domain == "hotmail.com"
    assert message.to == [Address(display_name="Someone", address="phishing@pot@hotmail.com")]


def test_quoted_commas_and_groups_in_address_list() -> None:
    raw = _message('To: "Doe, Jane" <jane@example.com>, Team: a@example.com, b@example.com;, (note, x) c@example.com\n')

    message = parse_message(raw)

    assert message.to == [
        Address(display_name="Doe, Jane", address="jane@example.com"),
        Address(address="a@example.com"),
        Address(address="b@example.com"),
        Address(address="c@example.com"),
    ]


def test_upper_case_addresses_are_lower_cased() -> None:
    message = parse_message(_message("From: Boss <CEO@Example.COM>\nReply-To: <Reply@Elsewhere.NET>\n"))

    assert message.sender.address == "ceo@example.com"
    assert message.reply_to[0].address == "reply@elsewhere.net"


def test_malformed_url_host_is_empty_with_warning() -> None:
    raw = _message("Subject: x\nContent-Type: text/html\n", b'<a href="http://[bad/path">x</a> <a href="https://ok.example.com/">y</a>')

    message = parse_message(raw)

    assert [(url.url, url.host) for url in message.urls] == [
        ("http://[bad/path", ""),
        ("https://ok.example.com/", "ok.example.com"),
    ]
    assert (
        "URL 'http://[bad/path' has an invalid host (the IPv6 address has no closing bracket ']'); host left empty"
        in message.parse_warnings
    )


def test_skipped_link_schemes() -> None:
    raw = _message(
        "Subject: x\nContent-Type: text/html\n",
        b'<a href="mailto:a@example.com">m</a><img src="cid:logo"><a href="#top">t</a>'
        b'<a href="javascript:alert(1)">j</a><a href="/relative">r</a><img src="data:image/png;base64,AAAA">'
        b'<form action="https://collect.example.net/post"></form><img src="//cdn.example.org/p.gif">',
    )

    message = parse_message(raw)

    assert [(url.url, url.source) for url in message.urls] == [
        ("https://collect.example.net/post", "form"),
        ("//cdn.example.org/p.gif", "src"),
    ]


def test_text_urls_drop_trailing_punctuation() -> None:
    raw = _message(
        "Subject: x\nContent-Type: text/plain\n",
        b"See (https://a.example.com/path). Or <https://b.example.co.uk/x_(y)>, www.c.example.org/q?x=1!",
    )

    message = parse_message(raw)

    assert [(url.url, url.registrable_domain) for url in message.urls] == [
        ("https://a.example.com/path", "example.com"),
        ("https://b.example.co.uk/x_(y)", "example.co.uk"),
        ("www.c.example.org/q?x=1", "example.org"),
    ]


def test_anchor_text_and_entities() -> None:
    raw = _message(
        "Subject: x\nContent-Type: text/html; charset=utf-8\n",
        b'<p>Pay&nbsp;now</p><a href="https://x.example.com/?a=1&amp;b=2">Click <b>here</b></a>'
        b"<script>var u='https://hidden.example.com/'</script><style>.a{}</style>",
    )

    message = parse_message(raw)

    assert message.body_text == "Pay\xa0now\nClick here"
    assert [(url.url, url.link_text) for url in message.urls] == [("https://x.example.com/?a=1&b=2", "Click here")]


def test_bytes_to_bytes_codec_as_charset() -> None:
    raw = _message("Subject: x\nContent-Type: text/plain; charset=base64\n", b"plain words\r\n")

    message = parse_message(raw)

    assert message.body_text == "plain words"
    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert any("unknown charset 'base64'" in warning for warning in message.parse_warnings)


def test_undeclared_8bit_body_is_decoded_with_warning() -> None:
    undeclared = parse_message(_message("Subject: x\nContent-Type: text/plain\n", "Grüße aus Köln".encode()))
    ascii_label = parse_message(
        _message("Subject: x\nContent-Type: text/plain; charset=us-ascii\n", "Grüße".encode("cp1252"))
    )

    assert undeclared.body_text == "Grüße aus Köln"
    assert undeclared.parse_warnings == [
        "part 1 (text/plain): no charset declared but the content has 8-bit bytes; decoded as utf-8"
    ]
    assert ascii_label.body_text == "Grüße"
    assert ascii_label.parse_warnings == [
        "part 1 (text/plain): declared us-ascii but the content has 8-bit bytes; "
        "decoded as windows-1252 with replacement"
    ]


def test_invalid_date_is_left_empty() -> None:
    message = parse_message(_message("Date: yesterday at noon\nSubject: x\n"))

    assert message.date is None
    assert "Date header 'yesterday at noon' is not a valid date; date left empty" in message.parse_warnings
