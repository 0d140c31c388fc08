"""User reports that carry the reported message as an attachment.

A user reports a suspicious message with the Report Message or Report Phishing
add-in, or by forwarding it "as attachment" to the phishing mailbox. Either
way the mail that arrives is written by the user and wraps the reported
message as a message/rfc822 part or an embedded .msg item. The investigation
is about the inner message, so it is taken out here.

A message counts as such a report when all of these hold:

- its sender's domain is one of the organisation's domains (or a subdomain);
- it carries exactly one parsed attached message, or several when the subject
  contains phish, spam, junk, scam, suspicious or report, and then the first one
  counts;
- it has no other attachments, except images such as signature logos;
- its own body text is short (at most 2,000 characters): a note, not a mail
  of its own.

An internal mail that forwards an attached message together with other files
is ordinary work and does not count. The Exchange headers that the add-in
adds (`X-Ms-Exchange-Organization-…`, `X-Microsoft-Antispam-Message-Info`) are
not used, because the parsed message does not keep raw headers.
"""

from __future__ import annotations

import re

from air_tui.domain.message import Attachment, EmailMessage
from air_tui.domain.vocab import ParseStatus

MAX_REPORT_BODY_CHARS = 2_000
"""Longest body text of the outer message that still reads as a note around the report."""

_REPORT_SUBJECT = re.compile(r"phish|spam|junk|scam|suspicious|report", re.IGNORECASE)
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "application/vnd.ms-outlook"})


def reported_message(message: EmailMessage, own_domains: list[str]) -> EmailMessage | None:
    """Return the message a user report wraps as an attachment, or None when it is not such a report.

    Args:
        message: The message that arrived, such as one in the phishing mailbox.
        own_domains: The organisation's domains, in any case.

    Returns:
        The attached message that was reported, or None.
    """
    if not _is_own_domain(message.sender.domain, own_domains):
        return None
    candidates = [inner for inner in message.attached_messages if inner.parse_status is not ParseStatus.FAILED]
    if not candidates:
        return None
    if len(candidates) > 1 and not _REPORT_SUBJECT.search(message.subject):
        return None
    if any(not _is_tolerated_attachment(attachment) for attachment in message.attachments):
        return None
    if len(message.body_text.strip()) > MAX_REPORT_BODY_CHARS:
        return None
    return candidates[0]


def _is_own_domain(domain: str, own_domains: list[str]) -> bool:
    domain = domain.lower().rstrip(".")
    if not domain:
        return False
    for own in own_domains:
        own = own.lower().strip().rstrip(".")
        if own and (domain == own or domain.endswith("." + own)):
            return True
    return False


def _is_tolerated_attachment(attachment: Attachment) -> bool:
    """Images (logos in a signature) and the reported message itself, whatever type it was sent as."""
    content_type = attachment.content_type
    return content_type in _ATTACHED_MESSAGE_TYPES or content_type.startswith("image/") or attachment.extension in ("eml", "msg")
