"""Feed lines that were not valid indicators: how they are named in messages and kept with the feed.

Feed content comes from third parties, so a skipped line is shortened and its hidden characters
are shown before it reaches a terminal, a log or the database.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

VALUE_CHARS = 80
"""Characters of a skipped line's value kept for messages; longer values end in `…`."""

# Controls, format characters (bidi overrides, zero-width and tag characters), surrogates,
# private-use characters and line or paragraph separators: each would hide or disguise text.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


@dataclass(frozen=True)
class SkippedLine:
    """A feed line that was left out because it is not a valid indicator."""

    line: int
    """Line number in the feed or file, counting from 1, blank and comment lines included."""
    value: str
    """The line or its indicator column, made safe by `show_value`."""
    reason: str
    """Reason the value is invalid, e.g. "not an http or https URL"."""

    def describe(self) -> str:
        """Describe the line as "line 3 'not a url' (not an http or https URL)"."""
        return f"line {self.line} {self.value!r} ({self.reason})"


def show_value(text: str, limit: int = VALUE_CHARS) -> str:
    """Shorten untrusted text to `limit` characters and show each hidden character as `⟨U+202E⟩`.

    The markers count towards the limit, and a shortened value ends in `…`.
    """
    shown: list[str] = []
    length = 0
    for character in text.strip():
        piece = f"⟨U+{ord(character):04X}⟩" if unicodedata.category(character) in _HIDDEN_CATEGORIES else character
        if length + len(piece) > limit:
            shown.append("…")
            break
        shown.append(piece)
        length += len(piece)
    return "".join(shown)


def describe_skipped(skipped: int, examples: Iterable[SkippedLine]) -> str:
    """Describe skipped lines as "skipped 2 invalid lines: line 3 'x' (reason); line 9 'y' (reason)".

    Args:
        skipped: How many lines were skipped.
        examples: The first of them. Further lines are only counted.

    Returns:
        The description, or an empty string when no line was skipped.
    """
    if skipped <= 0:
        return ""
    text = f"skipped {skipped} invalid {'line' if skipped == 1 else 'lines'}"
    listed = list_skipped(skipped, examples)
    return f"{text}: {listed}" if listed else text


def list_skipped(skipped: int, examples: Iterable[SkippedLine]) -> str:
    """List the example lines, then how many more were skipped: "line 3 'x' (reason); and 4 more"."""
    named = [example.describe() for example in examples]
    if skipped > len(named) and named:
        named.append(f"and {skipped - len(named)} more")
    return "; ".join(named)


def skipped_columns(skipped: int, examples: Iterable[SkippedLine]) -> dict[str, Any]:
    """Return the `skipped` and `skipped_examples` columns of a stored feed row."""
    return {"skipped": skipped, "skipped_examples": json.dumps([asdict(example) for example in examples], ensure_ascii=False)}


def stored_skipped(row: Mapping[str, Any]) -> tuple[int, tuple[SkippedLine, ...]]:
    """Read the skipped-line count and examples of a stored feed row.

    A row written before these columns existed, or with unreadable examples, yields no
    examples, because the examples only explain the count and the next refresh rewrites them.
    """
    skipped = int(row.get("skipped") or 0)
    try:
        records = json.loads(row.get("skipped_examples") or "[]")
        examples = tuple(SkippedLine(line=int(item["line"]), value=str(item["value"]), reason=str(item["reason"])) for item in records)
    except (ValueError, TypeError, KeyError):
        examples = ()
    return skipped, examples
