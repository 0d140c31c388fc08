"""The first-character lookaheads of the indicator patterns must admit every alternative."""

from __future__ import annotations

import re
from re import _constants as sre_constants  # noqa: PLC2701 - the parse tree is the only way to list alternatives
from re import _parser as sre_parser  # noqa: PLC2701

import pytest

from air_tui.engine import indicators

GUARDED = ["CREDENTIAL_LURES", "PRIZE_LURES", "URGENCY", "ATTACHMENT_PASSWORD", "CALLBACK_LURE", "BILLING_WORDS"]


def _first_characters(items: list[tuple[object, object]]) -> set[str]:
    """Return every character a match of the parsed sequence can start with."""
    assert items, "an alternative is empty"
    op, argument = items[0]
    if op is sre_constants.LITERAL:
        return {chr(argument)}
    if op is sre_constants.IN:
        found: set[str] = set()
        for item_op, item in argument:
            assert item_op in (sre_constants.LITERAL, sre_constants.RANGE), f"cannot list the class item {item_op}"
            if item_op is sre_constants.LITERAL:
                found.add(chr(item))
            else:
                found.update(chr(code) for code in range(item[0], item[1] + 1))
        return found
    if op is sre_constants.SUBPATTERN:
        return _first_characters(list(argument[3]))
    if op is sre_constants.BRANCH:
        return set().union(*(_first_characters(list(alternative)) for alternative in argument[1]))
    if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and argument[0] >= 1:
        return _first_characters(list(argument[2]))
    raise AssertionError(f"cannot tell the first character of {op}")


@pytest.mark.parametrize("name", GUARDED)
def test_lookahead_admits_every_alternative(name: str) -> None:
    pattern: re.Pattern[str] = getattr(indicators, name)
    items = list(sre_parser.parse(pattern.pattern, pattern.flags))
    if items[0][0] is sre_constants.ASSERT_NOT:
        items = items[1:]
    assert items[0][0] is sre_constants.ASSERT, f"{name} does not start with a lookahead"
    lookahead = _first_characters(list(items[0][1][1]))
    alternatives = _first_characters(items[1:])
    assert alternatives <= lookahead, f"{name}: alternatives start with {sorted(alternatives - lookahead)}, missing from the lookahead"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("CREDENTIAL_LURES", "Please VERIFY YOUR ACCOUNT today"),
        ("PRIZE_LURES", "You won €5 million"),
        ("PRIZE_LURES", "claim $ETH tokens"),
        ("URGENCY", "ſofort handeln"),
        ("ATTACHMENT_PASSWORD", "Kennwort: 1234"),
    ],
)
def test_guarded_patterns_still_match(name: str, text: str) -> None:
    assert getattr(indicators, name).search(text) is not None
