"""Cleaning of attacker-controlled text before it enters the model.

Every string in a parsed message may end up on a terminal, in SQLite or in a
log line. Control characters could move the cursor or recolour the screen, and
lone surrogates (how the stdlib smuggles undecodable bytes) cannot be encoded
to UTF-8 at all. Surrogates are decoded again here. In one-line fields each
control character becomes a visible marker such as `⟨U+001B⟩`, so the evidence
stays. Bidi and zero-width characters are kept as sent, and
`invisible.hidden_characters` names them.
"""

from __future__ import annotations

import re

from air_tui.mail.invisible import reveal

MAX_LINE_CHARS = 1_000
"""Default bound for one-line fields such as names, ids and warnings."""

# C0 controls, DEL and C1 controls. C1 is included because some terminals read
# U+009B as a control sequence introducer, just like ESC [.
_CONTROLS_KEEP_TAB_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROLS_KEEP_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def repair_surrogates(text: str, fallback_charset: str | None = None) -> str:
    """Decode bytes that the stdlib parser kept as surrogate escapes.

    The bytes parser stores non-ASCII header bytes as lone surrogates. They are
    turned back into bytes and decoded as UTF-8 (RFC 6532), then as
    `fallback_charset`, then as windows-1252 with replacement characters.

    Args:
        text: Text that may hold surrogate escapes.
        fallback_charset: Charset to try after UTF-8, usually the body's.

    Returns:
        Text without any surrogate code points.
    """
    if not _SURROGATES.search(text):
        return text
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Surrogates outside the escape range carry no byte value to recover.
        return _SURROGATES.sub("\ufffd", text)
    for charset in ("utf-8", fallback_charset):
        if not charset:
            continue
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("cp1252", errors="replace")


def clean_line(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """Make text safe for a one-line field.

    Line breaks become spaces and tabs stay. Other control characters become
    visible markers such as `⟨U+001B⟩`, and surrogates are decoded again.
    Bidi, zero-width and other format characters are kept as they are.

    Args:
        text: Untrusted text.
        limit: Maximum length of the result in characters.

    Returns:
        The cleaned text, at most `limit` characters long.
    """
    if text.isascii() and text.isprintable():
        # Printable ASCII contains no line break, control character or surrogate.
        return text[:limit]
    text = repair_surrogates(text)
    text = _LINE_BREAKS.sub(" ", text)
    text = _CONTROLS_KEEP_TAB.sub(_marker, text)
    return text[:limit]


def _marker(match: re.Match[str]) -> str:
    return reveal(match.group())


def clean_text(text: str) -> str:
    """Make multi-line text safe: newlines become `\\n`, other controls go.

    Tabs and newlines stay, every other control character and surrogate is
    removed. The caller bounds the length.

    Args:
        text: Untrusted text.

    Returns:
        The cleaned text.
    """
    text = repair_surrogates(text)
    text = _LINE_BREAKS.sub("\n", text)
    return _CONTROLS_KEEP_TAB_NEWLINE.sub("", text)


def quote_for_warning(text: str, limit: int = 80) -> str:
    """Return `text` cleaned, shortened and quoted for use inside a warning.

    Every hidden character is shown as a marker, so a warning never hides what it quotes.
    """
    cleaned = reveal(clean_line(text, limit + 1))
    if len(cleaned) > limit:
        cleaned = cleaned[:limit] + "…"
    return repr(cleaned)
