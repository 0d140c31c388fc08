"""Turning attacker-controlled strings and verdicts into safe, readable terminal text."""

from __future__ import annotations

import re
import unicodedata

from rich.text import Text

from air_tui.domain.vocab import InvestigationStatus, Severity, Verdict
from air_tui.mail.invisible import is_hidden, reveal

# Every verdict has a word as well as a colour, so it reads the same in monochrome.
VERDICT_BADGES = {
    Verdict.MALICIOUS: ("MALICIOUS", "bold red"),
    Verdict.SUSPICIOUS: ("SUSPICIOUS", "yellow"),
    Verdict.NO_THREATS_FOUND: ("CLEAN", "green"),
    Verdict.UNKNOWN: ("UNKNOWN", "dim"),
}

SEVERITY_STYLES = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}

STATUS_STYLES = {
    InvestigationStatus.PENDING_ACTION.value: "bold yellow",
    InvestigationStatus.RUNNING.value: "cyan",
    InvestigationStatus.STARTING.value: "cyan",
    InvestigationStatus.REMEDIATED.value: "green",
    InvestigationStatus.NO_THREATS_FOUND.value: "green",
    InvestigationStatus.PARTIALLY_REMEDIATED.value: "yellow",
    InvestigationStatus.PARTIALLY_INVESTIGATED.value: "yellow",
    InvestigationStatus.FAILED.value: "bold red",
}


HIDDEN_STYLE = "bold reverse red"
"""Style of the marker that stands for a hidden character, so it cannot pass for sent text."""

# Markers already in the model: `clean_line` writes one for each control character.
_MARKER = re.compile(r"⟨(?:U\+[0-9A-F]{4,6}|[A-Z]{2,4})⟩")
_MARKER_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def plain(value: object, limit: int | None = None) -> str:
    """Return the string with every hidden character written as a visible marker such as `⟨RLO⟩`.

    Mail text can carry escape sequences, bidi overrides and zero-width characters; none of
    them may reach the terminal, and none may vanish either. Tabs and unusual spaces become
    plain spaces.
    """
    return "".join(piece for piece, _hidden in _pieces(str(value), limit))


def safe(value: object, style: str = "", limit: int | None = None) -> Text:
    """Wrap a string as a Rich Text with hidden characters shown as styled markers.

    The text is never read as markup, so `[bold]` or `[link=…]` in mail shows literally.
    """
    text = Text(style=style)
    for piece, hidden in _pieces(str(value), limit):
        text.append(piece, style=HIDDEN_STYLE if hidden else None)
    return text


def _pieces(value: str, limit: int | None) -> list[tuple[str, bool]]:
    """Split `value` into runs of literal text and markers, cut to `limit` characters with `…`."""
    pieces: list[tuple[str, bool]] = []
    literal: list[str] = []
    position = 0
    while position < len(value):
        marker = _MARKER.match(value, position) if value[position] == "⟨" else None
        character = value[position]
        if marker is not None:
            shown, position = marker.group(), marker.end()
        elif is_hidden(character) and character != "\t":
            shown, position = reveal(character), position + 1
        elif unicodedata.category(character) in _MARKER_CATEGORIES and character != "\t":
            shown, position = f"⟨U+{ord(character):04X}⟩", position + 1
        else:
            literal.append(character if character.isprintable() else " ")
            position += 1
            continue
        if literal:
            pieces.append(("".join(literal), False))
            literal = []
        pieces.append((shown, True))
    if literal:
        pieces.append(("".join(literal), False))
    if limit is not None and sum(len(piece) for piece, _hidden in pieces) > limit:
        pieces = _cut(pieces, limit - 1)
        pieces.append(("…", False))
    return pieces


def _cut(pieces: list[tuple[str, bool]], length: int) -> list[tuple[str, bool]]:
    kept: list[tuple[str, bool]] = []
    for piece, hidden in pieces:
        if length <= 0 or (hidden and len(piece) > length):
            # A marker is kept whole or not at all, so a cut never reads as another character.
            break
        kept.append((piece[:length], hidden))
        length -= len(piece)
    return kept


def verdict_badge(verdict: Verdict) -> Text:
    word, style = VERDICT_BADGES[verdict]
    return Text(word, style=style)


def severity_text(severity: Severity) -> Text:
    return Text(severity.value, style=SEVERITY_STYLES.get(severity, ""))


def status_text(status: str, limit: int | None = None) -> Text:
    return Text(plain(status, limit), style=STATUS_STYLES.get(status, ""))
