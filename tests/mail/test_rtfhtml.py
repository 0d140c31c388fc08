"""HTML rebuilt from RTF bodies that encapsulate it, compared with extract-msg on the corpus."""

from __future__ import annotations

from typing import Any

import pytest

from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message, rtfhtml
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.htmltext import html_to_text
from air_tui.mail.rtfhtml import encapsulated_format, read_encapsulated_html
from tests.mail.conftest import CORPUS

HEADER = rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"


def _html(body: bytes, header: bytes = HEADER) -> str:
    """Return the HTML rebuilt from `body` placed after an encapsulating header."""
    result = read_encapsulated_html(header + rb"{\*\htmltag64}" + body + b"}")
    assert result.problem == ""
    assert result.warnings == []
    assert result.html is not None
    return result.html


# Escapes and control words


def test_markup_and_text_are_copied() -> None:
    html = _html(rb"{\*\htmltag19 <html>}{\*\htmltag50 <body>}Hello{\*\htmltag58 </body>}")

    assert html == "<html><body>Hello</body>"


def test_hex_escape_uses_ansi_code_page() -> None:
    assert _html(rb"caf\'e9") == "café"


def test_hex_escape_in_code_page_1251() -> None:
    header = rb"{\rtf1\ansi\ansicpg1251\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}"

    html = _html(rb"{\*\htmltag84 <p title='\'e0'>}\'ef\'f0\'e8\'e2\'e5\'f2", header)

    assert html == "<p title='а'>привет"


def test_hex_escape_in_double_byte_code_page() -> None:
    header = rb"{\rtf1\ansi\ansicpg932\fromhtml1 \deff0{\fonttbl{\f0\fnil MS Gothic;}}"

    # Shift-JIS writes the trail byte of some characters as a plain ASCII byte.
    html = _html(rb"\'82\'a0\'83A\'95\'5c", header)

    assert html == "あア表"


def test_font_charset_sets_text_code_page() -> None:
    header = rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}{\f1\fswiss\fcharset204 Arial;}}"

    html = _html(rb"{\*\htmltag84 <p>}{\f1 \'e4\'e0}{\*\htmltag84 \'e4}\'e4", header)

    # Text follows its font, but markup always uses \ansicpg.
    assert html == "<p>даää"


def test_unicode_escape_skips_one_fallback_character() -> None:
    assert _html(rb"a\u8212?b") == "a\u2014b"


def test_unicode_escape_skips_uc_fallback_characters() -> None:
    assert _html(rb"\uc2 x\u8212\'97-y") == "x\u2014y"


def test_unicode_fallback_length_restored_after_group() -> None:
    assert _html(rb"{\uc0 \u233}\u233?") == "éé"


def test_negative_unicode_escape() -> None:
    assert _html(rb"\u-3913?") == "\uf0b7"


def test_unicode_surrogate_pair_joined() -> None:
    assert _html(rb"\u-10179?\u-8704?") == "\U0001f600"


def test_paragraph_tab_and_line_breaks() -> None:
    assert _html(rb"one\par two\tab three\line four") == "one\ntwo\tthree\nfour"


def test_breaks_inside_htmltag_group() -> None:
    html = _html(rb"{\*\htmltag241 <!--\par\tab comment-->}")

    assert html == "<!--\n\tcomment-->"


def test_escaped_braces_and_backslash() -> None:
    assert _html(rb"\{x\} \\ y") == "{x} \\ y"


def test_character_control_words_and_symbols() -> None:
    html = _html(rb"\ldblquote q\rdblquote\~\emdash\bullet")

    assert html == "\u201cq\u201d\u00a0\u2014\u2022"


def test_raw_line_breaks_are_not_text() -> None:
    assert _html(b"one\r\ntwo\rthree\nfour") == "onetwothreefour"


def test_control_word_parameter_ends_at_space() -> None:
    # The single space after a control word belongs to it, a second space is text.
    assert _html(rb"\b0  bold\b0 x") == " boldx"


# \htmlrtf spans and skipped destinations


def test_htmlrtf_span_is_dropped() -> None:
    html = _html(rb"{\*\htmltag84 &lt;}\htmlrtf <\htmlrtf0 x\htmlrtf \par\htmlrtf0 y")

    assert html == "&lt;xy"


def test_htmlrtf_state_restored_after_group() -> None:
    html = _html(rb"\htmlrtf {\htmlrtf0 inside}dropped\htmlrtf0 after")

    assert html == "insideafter"


def test_htmlrtf_inside_group_ends_with_group() -> None:
    html = _html(rb"{\htmlrtf \b \htmlrtf0 bold{\*\htmltag92 </b>}}{\htmlrtf \i }plain")

    assert html == "bold</b>plain"


def test_htmlrtf1_enables_suppression() -> None:
    assert _html(rb"a\htmlrtf1 b\htmlrtf0 c") == "ac"


def test_htmltag_group_inside_htmlrtf_is_dropped() -> None:
    assert _html(rb"\htmlrtf {\*\htmltag84 <p>}\htmlrtf0 x") == "x"


def test_unicode_fallback_never_swallows_htmlrtf() -> None:
    assert _html(rb"\htmlrtf \u233\htmlrtf0 ?x") == "x"


def test_header_tables_are_skipped() -> None:
    header = (
        rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}{\f1\fmodern\fcharset0 Courier New;}}"
        rb"{\colortbl\red0\green0\blue0;}{\stylesheet{\s0 Normal;}}{\*\generator Riched20;}"
    )

    assert _html(rb"x", header) == "x"


def test_ignorable_destinations_are_skipped() -> None:
    html = _html(rb"{\*\mhtmltag84 <img src='http://original.test/a.png'>}{\*\unknown hidden {nested}}x")

    assert html == "x"


def test_field_instruction_skipped_result_kept() -> None:
    html = _html(rb"{\field{\*\fldinst{HYPERLINK \"http://fld.test/\"}}{\fldrslt{link}}}")

    assert html == "link"


def test_binary_data_is_skipped() -> None:
    assert _html(rb"a{\pict\bin3 }{x}b") == "ab"
    assert _html(rb"a\bin3 }{xb") == "ab"


def test_bytes_after_document_are_ignored() -> None:
    result = read_encapsulated_html(HEADER + rb"{\*\htmltag64}x}" + b"\x00\x00trailing junk {\\par}")

    assert result.html == "x"
    assert result.warnings == []


# What the header says


def test_encapsulated_format_of_headers() -> None:
    assert encapsulated_format(rb"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl}}") == "html"
    assert encapsulated_format(rb"{\rtf1\ansi\ansicpg1252\fromtext \deff0{\fonttbl}}") == "text"
    assert encapsulated_format(rb"{\rtf1\ansi\deff0{\fonttbl}\fromhtml1 }") == ""
    assert encapsulated_format(rb"{\rtf1\ansi\fromhtml0 }") == ""
    assert encapsulated_format(b"not rtf at all") == ""
    assert encapsulated_format(b"") == ""


def test_text_encapsulation_returns_no_html() -> None:
    result = read_encapsulated_html(rb"{\rtf1\ansi\ansicpg1252\fromtext \deff0{\fonttbl{\f0 Arial;}}hello\par}")

    assert result.encapsulated is False
    assert result.html is None
    assert result.problem == ""


def test_plain_rtf_returns_no_html() -> None:
    result = read_encapsulated_html(rb"{\rtf1\ansi\deff0{\fonttbl{\f0 Arial;}}{\*\htmltag84 <p>}hello\par}")

    assert result.encapsulated is False
    assert result.html is None


def test_encapsulation_without_htmltag_is_a_problem() -> None:
    result = read_encapsulated_html(HEADER + rb"only text\par}")

    assert result.encapsulated is True
    assert result.html is None
    assert "no \\htmltag group" in result.problem


# Bad input and limits


def test_truncated_input_keeps_read_html() -> None:
    result = read_encapsulated_html(HEADER + rb"{\*\htmltag84 <p>}caf\'e9 {\*\htmltag84 </p")

    assert result.html == "<p>café </p"
    assert len(result.warnings) == 1
    assert "ends inside 2 open groups" in result.warnings[0]


def test_truncated_escapes_do_not_raise() -> None:
    for tail in (b"\\", b"\\'", b"\\'e", b"\\u", b"\\u-", b"\\bin99 ab", b"\\'zz"):
        result = read_encapsulated_html(HEADER + rb"{\*\htmltag64}x" + tail)

        assert result.html is not None, tail
        assert result.html.startswith("x"), tail


def test_every_prefix_of_corpus_rtf_reads(corpus_rtf: dict[str, bytes]) -> None:
    rtf = corpus_rtf["poi_msg/no_recipient_address.msg"]
    for end in range(0, len(rtf), 97):
        result = read_encapsulated_html(rtf[:end])

        assert result.html is None or isinstance(result.html, str), end


def test_unknown_ansi_code_page_warns() -> None:
    result = read_encapsulated_html(rb"{\rtf1\ansi\ansicpg99999\fromhtml1 {\*\htmltag64}caf\'e9}")

    assert result.html == "café"
    assert len(result.warnings) == 1
    assert "code page 99999 (\\ansicpg99999)" in result.warnings[0]
    assert "windows-1252" in result.warnings[0]


def test_size_cap_reads_prefix_and_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    rtf = HEADER + rb"{\*\htmltag64}" + b"x" * 200 + b"}"
    monkeypatch.setattr(rtfhtml, "MAX_RTF_BYTES", len(HEADER) + 100)

    result = read_encapsulated_html(rtf)

    assert result.html is not None
    assert 0 < len(result.html) < 100
    assert f"is {len(rtf):,} bytes long" in result.warnings[0]
    assert f"the first {len(HEADER) + 100:,} bytes" in result.warnings[0]


# Corpus .msg files compared with extract-msg


def _outlook_items(message: Any, label: str) -> list[tuple[str, Any]]:
    """Return the message and its embedded Outlook messages, depth first, with a label each."""
    items = [(label, message)]
    for number, attachment in enumerate(message.attachments, start=1):
        if hasattr(attachment.data, "exportBytes"):
            items.extend(_outlook_items(attachment.data, f"{label}/{number}"))
    return items


@pytest.fixture(scope="module")
def corpus_rtf() -> dict[str, bytes]:
    """Return the decompressed RTF of every corpus Outlook message whose RTF encapsulates HTML."""
    extract_msg = pytest.importorskip("extract_msg")
    bodies = {}
    for path in sorted(CORPUS.rglob("*.msg")):
        message = extract_msg.openMsg(str(path))
        try:
            for label, item in _outlook_items(message, str(path.relative_to(CORPUS))):
                rtf = item.rtfBody
                if rtf and encapsulated_format(rtf) == "html":
                    bodies[label] = rtf
        finally:
            message.close()
    return bodies


@pytest.fixture(scope="module")
def extract_msg_html() -> dict[str, str]:
    """Return extract-msg's HTML body (RTFDE, about a second each) for the same messages."""
    extract_msg = pytest.importorskip("extract_msg")
    bodies = {}
    for path in sorted(CORPUS.rglob("*.msg")):
        message = extract_msg.openMsg(str(path))
        try:
            for label, item in _outlook_items(message, str(path.relative_to(CORPUS))):
                rtf = item.rtfBody
                if rtf and encapsulated_format(rtf) == "html":
                    html = item.htmlBody
                    bodies[label] = html.decode("utf-8") if isinstance(html, bytes) else html
        finally:
            message.close()
    return bodies


def test_corpus_has_encapsulated_html(corpus_rtf: dict[str, bytes]) -> None:
    assert sorted(corpus_rtf) == [
        "eml_analyzer_msg/outer.msg",
        "eml_analyzer_msg/outer.msg/1",
        "poi_msg/no_recipient_address.msg",
    ]


def test_corpus_text_and_links_match_extract_msg(
    corpus_rtf: dict[str, bytes], extract_msg_html: dict[str, str]
) -> None:
    for label, rtf in corpus_rtf.items():
        result = read_encapsulated_html(rtf)
        assert result.html is not None, label
        ours = html_to_text(result.html)
        theirs = html_to_text(extract_msg_html[label])

        assert result.warnings == [], label
        assert ours.text == theirs.text, label
        assert {link.url for link in ours.links} == {link.url for link in theirs.links}, label
        assert ours.links, label


# Reading .msg files


def test_msg_html_body_read_without_rtfde(monkeypatch: pytest.MonkeyPatch) -> None:
    extract_msg = pytest.importorskip("extract_msg")

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("RTFDE de-encapsulation was called")

    monkeypatch.setattr(extract_msg.msg_classes.message_base.MessageBase, "deencapsulateBody", forbidden)

    message = parse_message((CORPUS / "poi_msg" / "no_recipient_address.msg").read_bytes())

    assert message.parse_status is ParseStatus.PARSED, message.parse_warnings
    assert "Thank you for using Microsoft® Office Outlook® 2003" in message.body_text
    assert any(url.host == "r.office.microsoft.com" for url in message.urls)


def test_msg_reader_failure_falls_back_to_extract_msg(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("extract_msg")
    from air_tui.mail import msg

    def broken(rtf: bytes) -> None:
        raise ValueError("reader fault")

    raw = (CORPUS / "poi_msg" / "no_recipient_address.msg").read_bytes()
    expected_hosts = {url.host for url in parse_message(raw).urls}
    monkeypatch.setattr(msg, "read_encapsulated_html", broken)

    message = parse_message(raw)

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert len(message.parse_warnings) == 1
    assert "ValueError: reader fault" in message.parse_warnings[0]
    assert "slower RTF reader was used instead" in message.parse_warnings[0]
    assert {url.host for url in message.urls} == expected_hosts


class _StubMsg:
    """An extract-msg message with no PR_HTML, a given RTF body and a recorded `htmlBody`."""

    def __init__(self, rtf: bytes) -> None:
        self.rtfBody = rtf
        self.html_body_reads = 0

    def getStream(self, name: str) -> None:
        return None

    @property
    def htmlBody(self) -> bytes:
        self.html_body_reads += 1
        return b"<p>from extract-msg</p>"


TEXT_RTF = rb"{\rtf1\ansi\ansicpg1252\fromtext \deff0{\fonttbl{\f0 Arial;}}hello\par}"


def test_text_rtf_with_plain_body_skipped() -> None:
    from air_tui.mail.msg import _html_body

    stub = _StubMsg(TEXT_RTF)

    html = _html_body(stub, True, WarningLog())

    assert html == ""
    assert stub.html_body_reads == 0


def test_text_rtf_without_plain_body_falls_back() -> None:
    from air_tui.mail.msg import _html_body

    stub = _StubMsg(TEXT_RTF)

    html = _html_body(stub, False, WarningLog())

    assert html == "<p>from extract-msg</p>"
    assert stub.html_body_reads == 1


def test_encapsulation_problem_falls_back() -> None:
    from air_tui.mail.msg import _html_body

    stub = _StubMsg(HEADER + rb"no tags}")
    warnings = WarningLog()

    html = _html_body(stub, True, warnings)

    assert html == "<p>from extract-msg</p>"
    assert stub.html_body_reads == 1
    assert len(warnings.as_list()) == 1
    assert "no \\htmltag group" in warnings.as_list()[0]
