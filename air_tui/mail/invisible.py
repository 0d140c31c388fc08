"""Characters that change how text looks without being seen: controls, bidi overrides, zero-width.

Attackers use them to hide the real extension of a file ("invoice‮fdp.exe" shows as
"invoiceexe.pdf"), to split words that filters look for, and to make two different domains
look the same. Every such character is named, so it can be shown visibly and cited as evidence.
"""

from __future__ import annotations

import re
import unicodedata

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Marks, embeddings, overrides and isolates that change the display order of text."""

ZERO_WIDTH = frozenset("\u00ad\u034f\u115f\u1160\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u3164\ufeff\uffa0")
"""Characters that take no visible space (soft hyphen and Hangul fillers included)."""

_SHORT_NAMES = {
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u061c": "ALM",
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u00ad": "SHY",
}

_HIDDEN = re.compile(
    "[\x00-\x08\x0a-\x1f\x7f-\x9f"
    + "".join(sorted(BIDI_CONTROLS | ZERO_WIDTH))
    + "\ue000-\uf8ff\U000e0000-\U000e007f]"
)


def is_hidden(character: str) -> bool:
    """Return whether one character is a control, bidi, zero-width, private-use or tag character."""
    return bool(_HIDDEN.fullmatch(character))


def character_name(character: str) -> str:
    """Return `U+202E RIGHT-TO-LEFT OVERRIDE` style names, with a fallback for unnamed controls."""
    name = unicodedata.name(character, "")
    if not name:
        name = "CONTROL CHARACTER" if unicodedata.category(character) == "Cc" else "UNNAMED CHARACTER"
    return f"U+{ord(character):04X} {name}"


def hidden_characters(text: str) -> list[str]:
    """Name each distinct hidden character in `text`, in order of first appearance."""
    names: dict[str, None] = {}
    for match in _HIDDEN.finditer(text):
        names.setdefault(character_name(match.group()), None)
    return list(names)


def reveal(text: str) -> str:
    """Replace each hidden character with a visible marker such as `⟨RLO⟩` or `⟨U+0007⟩`.

    The markers use brackets that cannot start Rich markup or a terminal escape, so the result
    is safe to print as it is.
    """

    def marker(match: re.Match[str]) -> str:
        character = match.group()
        return f"⟨{_SHORT_NAMES.get(character, f'U+{ord(character):04X}')}⟩"

    return _HIDDEN.sub(marker, text)
