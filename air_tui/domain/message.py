"""The domain message: what ingest reads out of one email, ready to index and investigate."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from air_tui.domain.vocab import ParseStatus


class Address(BaseModel):
    """One mailbox from an address header."""

    display_name: str = ""
    address: str = ""
    """Lower-cased `local@domain`; empty when the header held no usable address."""

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2] if "@" in self.address else ""


class AuthResult(BaseModel):
    """One method result from an Authentication-Results header."""

    method: str
    """`spf`, `dkim`, `dmarc`, `arc`, `compauth` and so on, lower case."""
    result: str
    """`pass`, `fail`, `softfail`, `none`, `neutral`, `temperror`, `permerror`, …"""
    authserv_id: str = ""
    properties: dict[str, str] = Field(default_factory=dict)
    """Properties such as `header.from` or `header.d`, keyed by `ptype.property`."""
    header: str = "Authentication-Results"
    """The header the result was read from: `Authentication-Results`, `ARC-Authentication-Results` or `Received-SPF`."""
    instance: int = 0
    """The ARC instance (`i=`) for ARC-Authentication-Results, else 0."""
    position: int = 0
    """Index of the header among headers of the same name, 0 being the topmost (newest)."""


class Url(BaseModel):
    """A URL found in a message body."""

    url: str
    """The URL as found, with HTML entities decoded."""
    host: str = ""
    """Lower-cased host, empty when it could not be read."""
    registrable_domain: str = ""
    """The host's registrable domain from the public suffix list, or the host itself."""
    source: str = "text"
    """Origin of the URL: `text`, `href`, `src`, `srcset`, `form`, `meta-refresh`, `qr` or `attachment`."""
    source_detail: str = ""
    """Exact place it was found, e.g. the image file name for a QR code."""
    link_text: str = ""
    """Visible text of the anchor, for HTML links."""
    unwrapped: str = ""
    """The destination hidden inside a Safe Links, URL Defense, Mimecast or redirect link, if any."""
    unwrapped_host: str = ""
    unwrapped_domain: str = ""
    wrappers: list[str] = Field(default_factory=list)
    """Names of the wrappers removed to reach `unwrapped`, outermost first."""
    destination_hidden: bool = False
    """The innermost wrapper (Mimecast URL Protect) keeps the destination on its own servers, so it is unknown."""
    normalised: str = ""
    """Canonical form used for matching: IDNA host, lower-case scheme and host, no default port,
    percent-encoding normalised, invisible characters removed."""
    ip_literal: bool = False
    shortener: bool = False
    data_uri: bool = False
    host_problem: str = ""
    """Reason the host could not be read, in plain words; empty when it was fine."""
    hidden_characters: list[str] = Field(default_factory=list)
    """Names of invisible or direction-changing characters found in the URL as written."""


class Attachment(BaseModel):
    """A non-body MIME part."""

    filename: str = ""
    content_type: str = ""
    size: int = 0
    sha256: str = ""
    sha1: str = ""
    md5: str = ""
    extension: str = ""
    """Lower-cased last extension without the dot, empty when the name has none."""
    detected_type: str = ""
    """Type read from the content's first bytes (`exe`, `zip`, `pdf`, …), empty when unknown."""
    archive_members: list[str] = Field(default_factory=list)
    """For ZIP content: each member as `path (type)`, nested archives joined with ` > `."""
    archive_encrypted: bool = False
    has_macros: bool = False
    macro_auto_exec: list[str] = Field(default_factory=list)
    """Macro entry points that run when the document opens."""
    macro_suspicious: list[str] = Field(default_factory=list)
    """Macro keywords olevba marks suspicious."""
    office_encrypted: bool = False
    """A password-protected Office document, whose content cannot be scanned."""
    content_findings: list[str] = Field(default_factory=list)
    """Risky content found inside HTML and PDF attachments, as plain statements."""
    links: list[str] = Field(default_factory=list)
    """Link targets found inside the attachment, such as a PDF's URI actions."""
    archive_problems: list[str] = Field(default_factory=list)
    """Limits hit while listing the archive (bombs, depth, size), in plain words."""
    archive_type: str = ""
    """Container format that was listed: `zip`, `tar`, `gzip`, `7z`, `rar`, `iso`; empty when none."""
    container: str = ""
    """File name of the container this attachment was expanded from, such as `winmail.dat`."""
    qr_codes: list[str] = Field(default_factory=list)
    """Text decoded from QR codes in the image."""
    hidden_characters: list[str] = Field(default_factory=list)
    """Names of invisible or direction-changing characters found in the file name."""


class MessageLocation(BaseModel):
    """Position of a message: the mailbox, the folder and its key in that folder's store."""

    mailbox: str = ""
    folder: str = ""
    key: str = ""
    """Store key: the Maildir unique name, a path, or an mbox index."""
    path: str = ""


class EmailMessage(BaseModel):
    """A parsed message. Every string in it is attacker-controlled text."""

    id: str
    """Stable id of this copy: derived from mailbox and store key, not from content."""
    location: MessageLocation = Field(default_factory=MessageLocation)
    internet_message_id: str = ""
    sha256: str = ""
    """Hash of the raw bytes as stored."""
    size: int = 0
    subject: str = ""
    sender: Address = Field(default_factory=Address)
    """The From header's first address."""
    return_path: str = ""
    reply_to: list[Address] = Field(default_factory=list)
    to: list[Address] = Field(default_factory=list)
    cc: list[Address] = Field(default_factory=list)
    date: datetime | None = None
    """The Date header, timezone-aware, or None when missing or unreadable."""
    received_at: datetime | None = None
    """Delivery time of this copy to its mailbox, when the store records it."""
    sender_ip: str = ""
    """Originating IP address from the Received chain, empty when unknown."""
    auth_results: list[AuthResult] = Field(default_factory=list)
    dkim_domains: list[str] = Field(default_factory=list)
    """`d=` domains of the DKIM-Signature headers, lower case, in header order."""
    body_fingerprint: str = ""
    """64-bit SimHash of the normalised body text as 16 hex digits; empty when the body is too short."""
    attached_messages: list[EmailMessage] = Field(default_factory=list)
    """message/rfc822 parts (and embedded .msg items), each parsed as a message of its own."""
    body_text: str = ""
    """Plain text of the body (HTML converted to text), bounded in length."""
    urls: list[Url] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    parse_status: ParseStatus = ParseStatus.PARSED
    parse_warnings: list[str] = Field(default_factory=list)
    """Each problem met while parsing, in plain words, so nothing fails silently."""
    parse_error: str = ""
    """Reason parsing failed, when `parse_status` is `failed`."""

    @property
    def recipients(self) -> list[Address]:
        return [*self.to, *self.cc]
