"""The body text of a message, assembled from its text/plain and text/html parts."""

from __future__ import annotations

from air_tui.mail.cleaning import clean_text
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.htmltext import html_to_text
from air_tui.mail.urls import UrlCollector

MAX_BODY_CHARS = 200_000


class BodyBuilder:
    """Joins the text of body parts and feeds their URLs to a collector.

    A part whose text, ignoring white space, repeats an earlier one (the usual
    text/plain and text/html pair of a multipart/alternative) is added once.
    """

    def __init__(self, urls: UrlCollector, warnings: WarningLog) -> None:
        self._urls = urls
        self._warnings = warnings
        self._chunks: list[str] = []
        self._seen: set[str] = set()

    def add_plain(self, text: str) -> None:
        """Add a text/plain part."""
        cleaned = clean_text(text)
        self._urls.add_text(cleaned)
        self._append(cleaned)

    def add_html(self, html: str, label: str) -> None:
        """Add a text/html part: its links first, then URLs in its visible text.

        Args:
            html: The decoded HTML.
            label: How warnings name the part.
        """
        content = html_to_text(html)
        if content.problem:
            self._warnings.add(f"{label}: {content.problem}; text after that point is missing")
        for link in content.links:
            self._urls.add_link(link.url, link.source, link.link_text, link.detail)
        cleaned = clean_text(content.text)
        self._urls.add_text(cleaned)
        self._append(cleaned)

    def text(self) -> str:
        """Return the body text, at most 200,000 characters."""
        body = "\n\n".join(self._chunks)
        if len(body) > MAX_BODY_CHARS:
            self._warnings.add(f"the body text is longer than {MAX_BODY_CHARS:,} characters and was cut")
            body = body[:MAX_BODY_CHARS]
        return body

    def _append(self, text: str) -> None:
        normalized = " ".join(text.split())
        if not normalized or normalized in self._seen:
            return
        self._seen.add(normalized)
        self._chunks.append(text.strip())
