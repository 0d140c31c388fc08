"""Characters that change how text looks without being seen: controls, bidi overrides, zero-width.

Attackers use them to hide the real extension of a file ("invoice‮fdp.exe" shows as
"invoiceexe.pdf"), to split words that filters look for, and to make two different domains
look the same. Every such character is named, so it can be shown visibly and cited as evidence.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from air_tui.domain.message import Address, EmailMessage

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

# Unicode gives C0 controls and DEL no character name, only these aliases (NameAliases.txt).
_CONTROL_NAMES = {
    0: "NULL", 1: "START OF HEADING", 2: "START OF TEXT", 3: "END OF TEXT",
    4: "END OF TRANSMISSION", 5: "ENQUIRY", 6: "ACKNOWLEDGE", 7: "BELL", 8: "BACKSPACE",
    9: "CHARACTER TABULATION", 10: "LINE FEED", 11: "LINE TABULATION", 12: "FORM FEED",
    13: "CARRIAGE RETURN", 14: "SHIFT OUT", 15: "SHIFT IN", 16: "DATA LINK ESCAPE",
    17: "DEVICE CONTROL ONE", 18: "DEVICE CONTROL TWO", 19: "DEVICE CONTROL THREE",
    20: "DEVICE CONTROL FOUR", 21: "NEGATIVE ACKNOWLEDGE", 22: "SYNCHRONOUS IDLE",
    23: "END OF TRANSMISSION BLOCK", 24: "CANCEL", 25: "END OF MEDIUM", 26: "SUBSTITUTE",
    27: "ESCAPE", 28: "INFORMATION SEPARATOR FOUR", 29: "INFORMATION SEPARATOR THREE",
    30: "INFORMATION SEPARATOR TWO", 31: "INFORMATION SEPARATOR ONE", 0x7F: "DELETE",
}

# The marker `reveal` writes for a C0 or C1 control character or DEL, or a hidden character.
_HIDDEN_OR_MARKER = re.compile(
    "⟨U\\+(?P<code>00[01][0-9A-F]|007F|008[0-9A-F]|009[0-9A-F])⟩|" + _HIDDEN.pattern
)


def is_hidden(character: str) -> bool:
    """Return whether one character is a control, bidi, zero-width, private-use or tag character."""
    return bool(_HIDDEN.fullmatch(character))


def remove_hidden(text: str) -> str:
    """Return `text` without the characters `is_hidden` reports."""
    return _HIDDEN.sub("", text)


def character_name(character: str) -> str:
    """Return `U+202E RIGHT-TO-LEFT OVERRIDE` style names, with a fallback for unnamed controls."""
    name = unicodedata.name(character, "") or _CONTROL_NAMES.get(ord(character), "")
    if not name:
        name = "CONTROL CHARACTER" if unicodedata.category(character) == "Cc" else "UNNAMED CHARACTER"
    return f"U+{ord(character):04X} {name}"


def hidden_characters(text: str) -> list[str]:
    """Name each distinct hidden character in `text`, in order of first appearance.

    Control characters in parsed one-line fields are already replaced by markers such as
    `⟨U+001B⟩` (see `cleaning.clean_line`), so those markers are named as the control they
    stand for. A sender who types such a marker literally gets it named too.
    """
    names: dict[str, None] = {}
    for match in _HIDDEN_OR_MARKER.finditer(text):
        if match.group("code"):
            character = chr(int(match.group("code"), 16))
        else:
            character = match.group()
        names.setdefault(character_name(character), None)
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


@dataclass(frozen=True)
class HiddenText:
    """One field of a message whose value contains hidden characters."""

    field: str
    """Which value it is, such as `Subject`, `From address`, `attachment file name` or `URL`;
    fields of attached messages start with `attached message N: `."""
    value: str
    """The value as stored, hidden characters included."""
    names: list[str] = field(default_factory=list)
    """Names of the hidden characters, such as `U+202E RIGHT-TO-LEFT OVERRIDE`."""


def scan_message(message: EmailMessage) -> list[HiddenText]:
    """Find hidden characters in the subject, addresses, file names and URLs of a message.

    Attached messages are scanned too, and their fields are prefixed with their position.

    Args:
        message: A parsed message.

    Returns:
        One entry per value that contains hidden characters, in message order.
    """
    return _scan(message, "")


def hidden_text_warnings(message: EmailMessage) -> list[str]:
    """Return one parse warning per value with hidden characters, naming the field and each character."""
    return [
        f"{reveal(item.field)} {repr(reveal(_shorten(item.value)))} contains {', '.join(item.names)}"
        for item in scan_message(message)
    ]


def _scan(message: EmailMessage, prefix: str) -> list[HiddenText]:
    values: list[tuple[str, str]] = [("Subject", message.subject)]
    values += _address_values("From", [message.sender])
    values += _address_values("Reply-To", message.reply_to)
    values += _address_values("To", message.to)
    values += _address_values("Cc", message.cc)
    for attachment in message.attachments:
        values.append(("attachment file name", attachment.filename))
        values += [(f"member of archive {attachment.filename}", member) for member in attachment.archive_members]
    for url in message.urls:
        values.append(("URL", url.url))
        values.append(("unwrapped URL", url.unwrapped))
    found = [
        HiddenText(f"{prefix}{name}", value, hidden_characters(value))
        for name, value in values
        if value and _MAYBE_HIDDEN.search(value)
    ]
    found = [item for item in found if item.names]
    for number, attached in enumerate(message.attached_messages, start=1):
        found += _scan(attached, f"{prefix}attached message {number}: ")
    return found


def _address_values(header: str, addresses: list[Address]) -> list[tuple[str, str]]:
    values: list[tuple[str, str]] = []
    for address in addresses:
        values.append((f"{header} display name", address.display_name))
        values.append((f"{header} address", address.address))
    return values


def _shorten(value: str, limit: int = 80) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


# A cheap test before naming: most values hold no hidden character and no marker.
_MAYBE_HIDDEN = re.compile("⟨|" + _HIDDEN.pattern)


def printable(text: str) -> str:
    """Return `text` for a plain terminal: hidden characters as markers, any other unprintable one as a space.

    Attacker-controlled text printed this way can neither steer the terminal nor hide what it contains.
    """
    return "".join(character if character.isprintable() else " " for character in reveal(text))
