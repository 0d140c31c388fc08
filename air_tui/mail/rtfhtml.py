"""HTML taken out of an RTF body that encapsulates it, as Outlook writes .msg bodies.

Outlook stores many message bodies only as compressed RTF. When such RTF was
made from HTML, its header has the `\\fromhtml1` control word and the original
HTML can be rebuilt without rendering the RTF, as [MS-OXRTFEX] section 2.2.3.2
describes:

- the markup sits in `{\\*\\htmltag<N> ...}` destination groups;
- text between those groups is the HTML's text, written as RTF text;
- `\\htmlrtf` ... `\\htmlrtf0` spans mark RTF that was not in the HTML and
  are dropped. Like every RTF toggle, the state is restored when a group ends.

The reader here is one linear pass over the bytes, so its time grows with
the size of the RTF and never with its nesting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from air_tui.mail.headers import is_text_codec

MAX_RTF_BYTES = 8 * 1024 * 1024
"""RTF bytes read for HTML; the rest of a longer body is dropped with a warning."""

_HEADER_TOKENS = 10
"""Control words after `{` searched for `\\fromhtml` or `\\fromtext`. Outlook writes `\\fromhtml1` as the fourth."""

_CONTROL_WORD = re.compile(rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?")
_TEXT_RUN = re.compile(rb"[^\\{}\r\n]+")
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")

# Destinations whose content is never text of the message. Groups that start
# with `\*` and a control word other than `\htmltag` are skipped as well.
_SKIPPED_DESTINATIONS = frozenset(
    {
        "author", "bkmkend", "bkmkstart", "colortbl", "colorschememapping", "comment", "company",
        "datastore", "doccomm", "filetbl", "fldinst", "footer", "footerf", "footerl", "footerr",
        "footnote", "generator", "header", "headerf", "headerl", "headerr", "info", "keywords",
        "latentstyles", "listoverridetable", "listtable", "nonshppict", "object", "operator",
        "pict", "pntext", "pntxta", "pntxtb", "revtbl", "rsidtbl", "stylesheet", "subject", "tc",
        "themedata", "title", "txe", "xe", "xmlnstbl",
    }
)  # fmt: skip

# Control words that stand for one character, in HTML text and inside `\htmltag` groups alike.
_CHARACTER_WORDS = {
    "par": "\n", "line": "\n", "tab": "\t", "emdash": "\u2014", "endash": "\u2013",
    "lquote": "\u2018", "rquote": "\u2019", "ldblquote": "\u201c", "rdblquote": "\u201d",
    "bullet": "\u2022", "emspace": "\u2003", "enspace": "\u2002", "qmspace": "\u2005",
    "zwj": "\u200d", "zwnj": "\u200c", "ltrmark": "\u200e", "rtlmark": "\u200f",
}  # fmt: skip
_CHARACTER_SYMBOLS = {
    ord("\\"): "\\", ord("{"): "{", ord("}"): "}", ord("~"): "\u00a0", ord("-"): "\u00ad",
    ord("_"): "\u2011", ord("\r"): "\n", ord("\n"): "\n",
}  # fmt: skip

# Windows code page of each RTF `\fcharset` value, which is a Windows character set id such as
# SHIFTJIS_CHARSET (128). ANSI (0) and default (1) are left out, so fonts with them use the
# document code page. NOTE: for ANSI (0) that is a guess. The id means windows-1252, but text of
# a body with another \ansicpg is more likely in that code page.
_CHARSET_CODEPAGES = {
    2: 1252, 77: 10000, 128: 932, 129: 949, 130: 1361, 134: 936, 136: 950, 161: 1253, 162: 1254,
    163: 1258, 177: 1255, 178: 1256, 186: 1257, 204: 1251, 222: 874, 238: 1250, 254: 437, 255: 850,
}  # fmt: skip
_CODEPAGE_CODECS = {10000: "mac_roman", 1361: "johab", 65001: "utf-8"}
_DEFAULT_CODEC = "cp1252"

# Destination of a group: what its text is.
_TEXT = 0
"""Text of the HTML document."""
_HTMLTAG = 1
"""Markup of the HTML document, in a `\\htmltag` group."""
_FONT_TABLE = 2
"""The font table, read for the code page of each font."""
_SKIP = 3
"""Content that is not part of the HTML."""


@dataclass
class RtfHtml:
    """The HTML that an RTF body encapsulates, and what went wrong reading it."""

    encapsulated: bool
    """True when the RTF header has `\\fromhtml1`, so the RTF was made from HTML."""
    html: str | None = None
    """The rebuilt HTML document, or None when the RTF does not encapsulate HTML or it could not be read."""
    problem: str = ""
    """Reason `html` is None although the header says the RTF encapsulates HTML."""
    warnings: list[str] = field(default_factory=list)
    """Problems that left the HTML incomplete or changed how it was decoded."""


def encapsulated_format(rtf: bytes) -> str:
    """Return what the RTF header says the RTF was made from.

    Args:
        rtf: Decompressed RTF bytes.

    Returns:
        "html" for `\\fromhtml1`, "text" for `\\fromtext`, and "" for RTF
        that encapsulates nothing or bytes that are not RTF.
    """
    if not rtf.startswith(b"{\\rtf"):
        return ""
    pos = 1
    for _ in range(_HEADER_TOKENS):
        match = _CONTROL_WORD.match(rtf, pos)
        if match is None:
            # The header ends at the first text or group, such as the font table.
            return ""
        word = match.group(1).decode("ascii")
        parameter = match.group(2)
        if word == "fromhtml" and parameter in (None, b"1"):
            return "html"
        if word == "fromtext" and parameter in (None, b"1"):
            return "text"
        pos = match.end()
        while rtf[pos : pos + 1] in (b"\r", b"\n"):
            pos += 1
    return ""


def read_encapsulated_html(rtf: bytes) -> RtfHtml:
    """Rebuild the HTML that an RTF body encapsulates, without raising on bad input.

    Args:
        rtf: Decompressed RTF bytes, as Outlook stores a message body.

    Returns:
        The HTML when the header has `\\fromhtml1` and the body contains at
        least one `\\htmltag` group. Otherwise `html` is None, with `problem`
        set when the header promised HTML.
    """
    if encapsulated_format(rtf) != "html":
        return RtfHtml(encapsulated=False)
    result = RtfHtml(encapsulated=True)
    data = rtf
    if len(data) > MAX_RTF_BYTES:
        result.warnings.append(
            f"the RTF body is {len(data):,} bytes long; only the first {MAX_RTF_BYTES:,} bytes were read for its HTML"
        )
        data = data[:MAX_RTF_BYTES]
    reader = _Decapsulator(data, result.warnings)
    html = reader.run()
    if not reader.saw_htmltag:
        result.problem = "the RTF header says it was made from HTML, but the body has no \\htmltag group"
        return result
    result.html = html
    return result


class _Decapsulator:
    """One pass over RTF bytes that copies the encapsulated HTML out of them."""

    def __init__(self, data: bytes, warnings: list[str]) -> None:
        self._data = data
        self._warnings = warnings
        self._parts: list[str] = []
        # Text bytes wait here until the code page changes or a character that is not a byte comes.
        self._pending = bytearray()
        self._pending_codec = _DEFAULT_CODEC
        self._default_codec = _DEFAULT_CODEC
        self._font_codecs: dict[int, str] = {}
        self._default_font: int | None = None
        self._table_font: int | None = None
        self._unknown_codepages: set[int] = set()
        # Group state: destination, inside \htmlrtf, \uc fallback length, current font.
        self._destination = _TEXT
        self._htmlrtf = False
        self._uc = 1
        self._font: int | None = None
        self._stack: list[tuple[int, bool, int, int | None]] = []
        self._group_start = False
        self._ignorable = False
        self._fallback_left = 0
        self._closed = False
        self.saw_htmltag = False

    def run(self) -> str:
        """Read all the bytes and return the HTML."""
        data = self._data
        end = len(data)
        pos = 0
        # Outlook often stores bytes after the brace that closes the document; they are not RTF.
        while pos < end and not self._closed:
            byte = data[pos]
            if byte == 0x5C:
                pos = self._backslash(pos)
            elif byte == 0x7B:
                self._open_group()
                pos += 1
            elif byte == 0x7D:
                self._close_group()
                pos += 1
            elif byte in (0x0D, 0x0A):
                # Raw line breaks in RTF are not text.
                pos += 1
            else:
                # The byte is not \ { } CR or LF, so the run is at least one byte long.
                run_end = _TEXT_RUN.match(data, pos).end()  # type: ignore[union-attr]
                self._text_run(data[pos:run_end])
                pos = run_end
        if not self._closed:
            self._warnings.append(
                f"the RTF body ends inside {len(self._stack)} open groups, so it may be truncated; "
                "its HTML may be incomplete"
            )
        self._flush()
        html = "".join(self._parts)
        # \uN writes UTF-16 code units, so characters outside the BMP arrive as surrogate pairs.
        return html.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")

    def _backslash(self, pos: int) -> int:
        """Handle a control word, `\\'hh` escape or control symbol at `pos`; return the position after it."""
        data = self._data
        match = _CONTROL_WORD.match(data, pos)
        if match is not None:
            parameter = match.group(2)
            self._control_word(match.group(1).decode("ascii"), int(parameter) if parameter else None)
            if match.group(1) == b"bin" and parameter:
                # \binN is followed by N raw bytes that must not be read as RTF.
                return min(match.end() + max(int(parameter), 0), len(data))
            return match.end()
        symbol = data[pos + 1] if pos + 1 < len(data) else None
        if symbol == 0x27:
            digits = data[pos + 2 : pos + 4]
            if len(digits) == 2 and digits[0] in _HEX_DIGITS and digits[1] in _HEX_DIGITS:
                self._hex_byte(int(digits, 16))
                return pos + 4
            return pos + 2
        self._control_symbol(symbol)
        return pos + 2

    def _open_group(self) -> None:
        self._stack.append((self._destination, self._htmlrtf, self._uc, self._font))
        self._group_start = True
        self._ignorable = False
        self._fallback_left = 0

    def _close_group(self) -> None:
        self._group_start = False
        self._fallback_left = 0
        if not self._stack:
            # A closing brace before any opening one: nothing to restore.
            return
        if self._destination == _FONT_TABLE:
            self._table_font = None
        self._destination, self._htmlrtf, self._uc, self._font = self._stack.pop()
        if not self._stack:
            self._closed = True

    def _control_word(self, word: str, parameter: int | None) -> None:
        if self._group_start:
            self._group_start = False
            if self._start_destination(word):
                return
        if self._destination == _SKIP:
            return
        if word in _CHARACTER_WORDS and self._fallback_left:
            # A control word that stands for a character can be the fallback of \uN. Other control
            # words are not counted, so a fallback never swallows a \htmlrtf toggle.
            self._fallback_left -= 1
            return
        if word == "htmlrtf":
            self._htmlrtf = parameter != 0
        elif word == "f" and parameter is not None:
            self._select_font(parameter)
        elif word == "uc" and parameter is not None and parameter >= 0:
            self._uc = parameter
        elif word == "u" and parameter is not None:
            self._unicode(parameter)
        elif self._destination == _FONT_TABLE:
            self._font_property(word, parameter)
        elif word in _CHARACTER_WORDS:
            self._emit_text(_CHARACTER_WORDS[word])
        elif word in ("ansicpg", "deff") and parameter is not None:
            self._header_property(word, parameter)
        elif word in ("mac", "pc", "pca"):
            self._default_codec = {"mac": "mac_roman", "pc": "cp437", "pca": "cp850"}[word]

    def _start_destination(self, word: str) -> bool:
        """Set the destination of a group from its first control word; return True when the word is used up."""
        if word == "htmltag":
            if self._destination != _SKIP:
                self._destination = _HTMLTAG
                self.saw_htmltag = True
            return True
        if word == "fonttbl":
            self._destination = _FONT_TABLE
            return True
        if self._ignorable or word in _SKIPPED_DESTINATIONS:
            self._destination = _SKIP
            return True
        return False

    def _control_symbol(self, symbol: int | None) -> None:
        if symbol == 0x2A:
            # `\*`: the next control word names a destination that readers may skip.
            self._ignorable = self._group_start
            return
        self._group_start = False
        if self._destination in (_SKIP, _FONT_TABLE):
            return
        if self._fallback_left:
            self._fallback_left -= 1
            return
        text = _CHARACTER_SYMBOLS.get(symbol) if symbol is not None else None
        if text is not None:
            self._emit_text(text)

    def _hex_byte(self, value: int) -> None:
        self._group_start = False
        if self._destination in (_SKIP, _FONT_TABLE):
            return
        if self._fallback_left:
            self._fallback_left -= 1
            return
        self._emit_byte_run(bytes((value,)))

    def _text_run(self, run: bytes) -> None:
        self._group_start = False
        if self._destination in (_SKIP, _FONT_TABLE):
            return
        if self._fallback_left:
            skipped = min(self._fallback_left, len(run))
            self._fallback_left -= skipped
            run = run[skipped:]
            if not run:
                return
        self._emit_byte_run(run)

    def _unicode(self, value: int) -> None:
        # The fallback characters after \uN belong to RTF readers without Unicode, so they are skipped
        # even inside \htmlrtf, where the \uN itself is not copied.
        self._fallback_left = self._uc
        if value < 0:
            value += 0x10000
        if 0 <= value <= 0xFFFF and self._destination in (_TEXT, _HTMLTAG):
            self._emit_text(chr(value))

    def _emit_byte_run(self, run: bytes) -> None:
        if self._htmlrtf:
            return
        # Markup uses the document code page and text the code page of its font ([MS-OXRTFEX] 2.2.3.2).
        codec = self._default_codec
        if self._destination == _TEXT and self._font is not None:
            codec = self._font_codecs.get(self._font, codec)
        if codec != self._pending_codec:
            self._flush()
            self._pending_codec = codec
        self._pending += run

    def _emit_text(self, text: str) -> None:
        if self._htmlrtf or self._destination not in (_TEXT, _HTMLTAG):
            return
        self._flush()
        self._parts.append(text)

    def _flush(self) -> None:
        if self._pending:
            self._parts.append(bytes(self._pending).decode(self._pending_codec, errors="replace"))
            self._pending.clear()

    def _select_font(self, number: int) -> None:
        if self._destination == _FONT_TABLE:
            self._table_font = number
        else:
            self._font = number

    def _font_property(self, word: str, parameter: int | None) -> None:
        """Read the code page of the font table entry being defined."""
        if self._table_font is None or parameter is None:
            return
        if word == "fcharset":
            codepage = _CHARSET_CODEPAGES.get(parameter)
            if codepage is not None:
                self._set_font_codepage(self._table_font, codepage, f"\\fcharset{parameter}")
        elif word == "cpg":
            self._set_font_codepage(self._table_font, parameter, f"\\cpg{parameter}")

    def _set_font_codepage(self, font: int, codepage: int, source: str) -> None:
        codec = self._codec_for(codepage, source, "the document code page")
        if codec is not None:
            self._font_codecs[font] = codec

    def _header_property(self, word: str, parameter: int) -> None:
        if word == "ansicpg":
            codec = self._codec_for(parameter, f"\\ansicpg{parameter}", "windows-1252")
            self._default_codec = codec or _DEFAULT_CODEC
        elif self._default_font is None:
            # \deffN selects the font of text that comes before any \f.
            self._default_font = parameter
            if self._font is None:
                self._font = parameter

    def _codec_for(self, codepage: int, source: str, fallback: str) -> str | None:
        """Return the Python codec of a Windows code page, warning once about each one without a codec."""
        name = _CODEPAGE_CODECS.get(codepage, f"cp{codepage}")
        if codepage > 0 and is_text_codec(name):
            return name
        if codepage not in self._unknown_codepages:
            self._unknown_codepages.add(codepage)
            self._warnings.append(
                f"the RTF body names code page {codepage} ({source}), which has no decoder here; "
                f"its text was decoded with {fallback}"
            )
        return None
