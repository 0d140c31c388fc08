"""Findings read from inside HTML and PDF attachments: smuggling, credential forms, scripts, actions."""

from __future__ import annotations

import re
import zlib

MAX_SCAN_BYTES = 8 * 1024 * 1024
"""Bytes of one attachment searched; the rest is not read."""
MAX_INFLATED_BYTES = 4 * 1024 * 1024
"""Decompressed bytes taken from all PDF streams together, so a crafted stream cannot exhaust memory."""

_HTML_CHECKS = [
    (re.compile(rb"<input[^>]+type\s*=\s*[\"']?password", re.IGNORECASE), "an HTML form that asks for a password"),
    (re.compile(rb"\batob\s*\(", re.IGNORECASE), "script that decodes base64 (atob), as HTML smuggling does"),
    (re.compile(rb"new\s+Blob\s*\(", re.IGNORECASE), "script that builds a file in the browser (Blob), as HTML smuggling does"),
    (re.compile(rb"msSaveOrOpenBlob|\.download\s*=", re.IGNORECASE), "script that saves a file to disk when the page opens"),
    (re.compile(rb"<form[^>]+action\s*=\s*[\"']?https?://", re.IGNORECASE), "a form that posts to another site"),
    (re.compile(rb"window\.location(?:\.href)?\s*=|http-equiv\s*=\s*[\"']?refresh", re.IGNORECASE), "a redirect when the page opens"),
]

_PDF_CHECKS = [
    (re.compile(rb"/JavaScript\b|/JS\b"), "JavaScript"),
    (re.compile(rb"/Launch\b"), "a Launch action that starts a program"),
    (re.compile(rb"/OpenAction\b|/AA\b"), "an action that runs when the document opens"),
    (re.compile(rb"/EmbeddedFile\b"), "an embedded file"),
    (re.compile(rb"/SubmitForm\b"), "a form that submits data"),
]
_PDF_URI = re.compile(rb"/URI\s*\(([^)]{1,2000})\)")
_READABLE_LINK = re.compile(r"^(?:https?|ftp|file|mailto):[\x21-\x7e]+$", re.IGNORECASE)
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def scan_html(data: bytes) -> list[str]:
    """Return plain statements about risky content in an HTML attachment."""
    sample = data[:MAX_SCAN_BYTES]
    return [f"contains {description}" for pattern, description in _HTML_CHECKS if pattern.search(sample)]


def scan_pdf(data: bytes) -> tuple[list[str], list[str]]:
    """Return statements about active content in a PDF, and the link targets it holds.

    Flate-compressed streams are inflated, within `MAX_INFLATED_BYTES` in total, because most
    PDFs keep their objects, and so their actions, in compressed object streams.
    """
    sample = data[:MAX_SCAN_BYTES]
    parts = [sample]
    budget = MAX_INFLATED_BYTES
    for stream in _PDF_STREAM.finditer(sample):
        if budget <= 0:
            break
        try:
            inflater = zlib.decompressobj()
            inflated = inflater.decompress(stream.group(1), budget)
        except zlib.error:
            continue
        budget -= len(inflated)
        parts.append(inflated)
    content = b"\n".join(parts)
    findings = [f"contains {description}" for pattern, description in _PDF_CHECKS if pattern.search(content)]
    links: list[str] = []
    for match in _PDF_URI.finditer(content):
        link = match.group(1).decode("latin-1").replace("\\)", ")").strip()
        # Encrypted PDFs keep their strings enciphered, which reads as noise: keep real URLs only.
        if not _READABLE_LINK.match(link):
            continue
        if link not in links:
            links.append(link)
        if len(links) >= 100:
            break
    return findings, links
