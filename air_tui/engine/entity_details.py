"""Facts about URLs and files kept on their entities, so the details pane shows what was read."""

from __future__ import annotations

from air_tui.domain.message import Attachment, Url

Attributes = dict[str, str | int | bool | list[str]]


def url_attributes(url: Url) -> Attributes:
    """Return every fact the parser read about one URL, leaving out empty ones."""
    attributes: Attributes = {
        "host": url.host,
        "registrable_domain": url.registrable_domain,
        "normalised": url.normalised,
        "found_in": url.source + (f" ({url.source_detail})" if url.source_detail else ""),
        "link_text": url.link_text,
        "unwrapped": url.unwrapped,
        "unwrapped_domain": url.unwrapped_domain,
        "wrappers": list(url.wrappers),
        "ip_literal": url.ip_literal,
        "shortener": url.shortener,
        "data_uri": url.data_uri,
        "host_problem": url.host_problem,
        "hidden_characters": list(url.hidden_characters),
    }
    return {key: value for key, value in attributes.items() if value not in ("", [], False)}


def file_attributes(attachment: Attachment) -> Attributes:
    """Return every fact the parser read about one attachment, leaving out empty ones."""
    attributes: Attributes = {
        "sha256": attachment.sha256,
        "sha1": attachment.sha1,
        "md5": attachment.md5,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "extension": attachment.extension,
        "detected_type": attachment.detected_type,
        "container": attachment.container,
        "archive_type": attachment.archive_type,
        "archive_members": list(attachment.archive_members[:50]),
        "archive_encrypted": attachment.archive_encrypted,
        "archive_problems": list(attachment.archive_problems),
        "has_macros": attachment.has_macros,
        "macro_auto_exec": list(attachment.macro_auto_exec),
        "macro_suspicious": list(attachment.macro_suspicious),
        "office_encrypted": attachment.office_encrypted,
        "content_findings": list(attachment.content_findings),
        "links": list(attachment.links[:50]),
        "qr_codes": list(attachment.qr_codes),
        "hidden_characters": list(attachment.hidden_characters),
    }
    return {key: value for key, value in attributes.items() if value not in ("", [], False)}
