"""The originating IP address, read from the Received chain."""

from __future__ import annotations

import ipaddress
import re

# The `from` clause names the client that connected; it ends where the
# receiving host's `by` clause begins.
_FROM_CLAUSE = re.compile(r"^\s*from\s+(.*?)(?:\sby\s|;|$)", re.IGNORECASE | re.DOTALL)
_IPV4 = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])")
_IPV6 = re.compile(r"(?<![\w:.])((?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?)(?![\w:])")


def originating_ip(received_values: list[str]) -> str:
    """Find the originating client's IP address in the Received headers.

    Headers are read bottom-most first, the order in which the hops happened.
    The first public IPv4 or IPv6 address in a `from` clause is returned.
    Private, loopback, link-local and other non-global addresses are skipped,
    and so are addresses after `by`, which name the receiving host.

    NOTE: The bottom headers are written by the sending side and can be forged.
    The result is the earliest public address claimed, not a verified one.

    Args:
        received_values: The unfolded Received header values, top to bottom.

    Returns:
        The address in its compressed text form, or "" when none is found.
    """
    for value in reversed(received_values):
        match = _FROM_CLAUSE.match(value)
        if match is None:
            continue
        clause = match.group(1)
        candidates = sorted(
            [*_IPV4.finditer(clause), *_IPV6.finditer(clause)],
            key=lambda found: found.start(),
        )
        for candidate in candidates:
            address = _public_address(candidate.group(1))
            if address:
                return address
    return ""


def _public_address(text: str) -> str:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address) if address.is_global else ""
