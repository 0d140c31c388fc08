"""The list of parse warnings gathered while one message is read."""

from __future__ import annotations

from air_tui.mail.cleaning import clean_line

MAX_WARNINGS = 200
"""Warnings kept per message; a hostile message could otherwise produce thousands."""


class WarningLog:
    """Collects plain-language parse warnings, without duplicates and bounded in count."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._seen: set[str] = set()
        self._dropped = 0

    def add(self, text: str) -> None:
        """Record one warning; the text is cleaned because it quotes message content."""
        cleaned = clean_line(text)
        if cleaned in self._seen:
            return
        if len(self._items) >= MAX_WARNINGS:
            self._dropped += 1
            return
        self._seen.add(cleaned)
        self._items.append(cleaned)

    def as_list(self) -> list[str]:
        """Return the warnings in the order they were met, with a count of those not kept."""
        items = list(self._items)
        if self._dropped:
            items.append(f"{self._dropped} more warnings were not kept (limit {MAX_WARNINGS})")
        return items

    def __bool__(self) -> bool:
        return bool(self._items)
