"""DKIM-Signature headers (RFC 6376): the signing domains, read without verifying anything."""

from __future__ import annotations

import re

from air_tui.mail.cleaning import quote_for_warning
from air_tui.mail.diagnostics import WarningLog

MAX_SIGNATURES = 50
"""DKIM-Signature headers read per message; a hostile message could carry thousands."""
MAX_DOMAIN_CHARS = 253

# A tag list is `tag=value` pairs separated by semicolons, and tag names are case-sensitive.
# Requiring a semicolon or the start before `d` keeps `bh=` and `b=` values from matching.
_D_TAG = re.compile(r"(?:^|;)[ \t\r\n]*d[ \t\r\n]*=([^;]*)")
_DOMAIN = re.compile(r"^[\w-]+(?:\.[\w-]+)*$")
_WHITESPACE = re.compile(r"\s+")


def read_dkim_domains(values: list[str], warnings: WarningLog | None = None) -> list[str]:
    """Read the `d=` signing domain of each DKIM-Signature header value.

    Folding white space inside the value is removed, the domain is lower-cased and a trailing
    dot dropped. A header without a usable `d=` tag is skipped with a warning that quotes it.
    Signatures are not verified, so a domain here only names who claims to have signed.

    Args:
        values: The unfolded DKIM-Signature header values, top to bottom.
        warnings: Where to record skipped headers, if anywhere.

    Returns:
        The signing domains in header order, each once.
    """
    domains: list[str] = []
    if len(values) > MAX_SIGNATURES and warnings is not None:
        warnings.add(f"the message has {len(values)} DKIM-Signature headers; only the first {MAX_SIGNATURES} were read")
    for value in values[:MAX_SIGNATURES]:
        domain = _signing_domain(value)
        if not domain:
            if warnings is not None:
                warnings.add(f"DKIM-Signature {quote_for_warning(value)} has no valid d= domain; it was ignored")
            continue
        if domain not in domains:
            domains.append(domain)
    return domains


def _signing_domain(value: str) -> str:
    match = _D_TAG.search(value)
    if match is None:
        return ""
    domain = _WHITESPACE.sub("", match.group(1)).strip('"').lower().rstrip(".")
    if not domain or len(domain) > MAX_DOMAIN_CHARS or not _DOMAIN.match(domain):
        return ""
    return domain
