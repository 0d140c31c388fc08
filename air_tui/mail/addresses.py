"""Address headers (From, To, Cc, Reply-To) read tolerantly.

The list is split at top-level commas first and each element is parsed on its
own: the stdlib parser is superlinear on one long list (20,000 addresses take
about 10 s on CPython 3.11), and a malformed element then spoils only itself.
"""

from __future__ import annotations

import re
from email.policy import default as default_policy

from air_tui.domain.message import Address
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.headers import HEADER_ERRORS, decode_header_text, decode_header_value

MAX_ADDRESSES_PER_HEADER = 1_000
"""Addresses kept per header; a warning gives the total when there are more."""

_SPECIALS = re.compile(r'["\\()<>:;,]')
_QUOTED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?')
# An address in text the stdlib could not read, such as `a@b@c.com`.
_LOOSE_ADDRESS = re.compile(r"[^\s<>\"(),;:\[\]]+@[^\s<>\"(),;:\[\]]+")
_TRAILING_ANGLE_ADDRESS = re.compile(r"<([^<>\"]*@[^<>\"]*)>\s*$")
# An address written in a display name, such as `"ceo@larkspur.example" <x@evil.test>`.
_ADDRESS_IN_NAME = re.compile(r"[^\s@<>\"'()]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")

# The plain forms most elements take: `a.b@c.com`, `Name Words <a.b@c.com>` and
# `"Any, Name" <a.b@c.com>`, ASCII only. They are read without the stdlib
# parser, which gives the same result for them. `=` is left out of the atoms and
# the quoted text, so encoded-words always go to the stdlib parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]+"
_PLAIN_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PLAIN_ELEMENT = re.compile(
    rf"(?P<bare>{_PLAIN_ADDR_SPEC})"
    rf'|(?:"(?P<quoted>[ !#-<>-\[\]-~]*)"|(?P<phrase>{_ATOM}(?:[ \t]+{_ATOM})*))?[ \t]*<(?P<angle>{_PLAIN_ADDR_SPEC})>'
)


def split_address_list(value: str, *, honour_groups: bool = True) -> list[str]:
    """Split an address list at commas outside quotes, comments, angle brackets and groups.

    A group opened by a stray colon and never closed would swallow the rest of
    the list, so the list is then split again with groups ignored.

    Args:
        value: The unfolded header value.
        honour_groups: Whether `name: a, b;` keeps its commas.

    Returns:
        The elements in order, stripped, without empty ones.
    """
    elements: list[str] = []
    start = 0
    in_quote = in_angle = in_group = False
    comment_depth = 0
    escaped_position = -1
    for match in _SPECIALS.finditer(value):
        char = match.group()
        position = match.start()
        if position == escaped_position:
            continue
        if in_quote or comment_depth:
            if char == "\\":
                escaped_position = position + 1
            elif in_quote and char == '"':
                in_quote = False
            elif comment_depth and char == "(":
                comment_depth += 1
            elif comment_depth and char == ")":
                comment_depth -= 1
        elif char == '"':
            in_quote = True
        elif char == "(":
            comment_depth = 1
        elif char == "<":
            in_angle = True
        elif char == ">":
            in_angle = False
        elif char == ":" and honour_groups and not in_angle:
            in_group = True
        elif char == ";" and in_group and not in_angle:
            in_group = False
        elif char == "," and not in_angle and not in_group:
            elements.append(value[start:position])
            start = position + 1
    if in_group:
        return split_address_list(value, honour_groups=False)
    elements.append(value[start:])
    return [element.strip() for element in elements if element.strip()]


def parse_address_list(value: str, header_name: str, warnings: WarningLog) -> list[Address]:
    """Read every address of one address-list header.

    Elements without an address but with a name (such as `"phishing@pot"` or a
    bare word) are kept with an empty address. Elements holding nothing, like
    `<>` or an empty group, are left out.

    Args:
        value: The unfolded header value.
        header_name: The field name, used in warnings.
        warnings: Where problems are recorded.

    Returns:
        The addresses in header order, at most 1,000.
    """
    elements = split_address_list(value)
    if len(elements) > MAX_ADDRESSES_PER_HEADER:
        warnings.add(
            f"{header_name} header lists {len(elements):,} addresses; "
            f"kept the first {MAX_ADDRESSES_PER_HEADER:,}"
        )
        elements = elements[:MAX_ADDRESSES_PER_HEADER]
    for problem in decode_header_value(value).problems:
        warnings.add(f"{header_name}: {problem}")
    addresses: list[Address] = []
    for element in elements:
        addresses.extend(_parse_element(element, header_name, warnings))
    for address in addresses:
        _report_address_in_name(address, header_name, warnings)
    return addresses


def pick_sender(addresses: list[Address]) -> Address:
    """Choose the sender from the From header's addresses.

    The sender is the first element that has an address. Name-only elements
    before it are joined into its display name, because an unquoted comma such as
    `Edeka, Edeka <x@example.com>` splits one mailbox into two elements and a
    mail client shows the whole text as the name.

    Args:
        addresses: The parsed From header.

    Returns:
        The sender, or an empty Address when the header contains no address.
    """
    names: list[str] = []
    for address in addresses:
        if address.address:
            if names:
                display_name = ", ".join([*names, address.display_name] if address.display_name else names)
                return Address(display_name=clean_line(display_name), address=address.address)
            return address
        if address.display_name:
            names.append(address.display_name)
    return Address(display_name=clean_line(", ".join(names)))


def _parse_element(element: str, header_name: str, warnings: WarningLog) -> list[Address]:
    plain = _PLAIN_ELEMENT.fullmatch(element)
    if plain is not None:
        return [_read_plain_element(plain)]
    try:
        header = default_policy.header_factory("to", element)
        groups = header.groups
    except HEADER_ERRORS as error:
        warnings.add(
            f"{header_name} header element {quote_for_warning(element)} could not be parsed "
            f"({type(error).__name__}); read it with a simple pattern"
        )
        loose = _loose_element(element)
        return [loose] if loose.address or loose.display_name else []
    mailboxes = [mailbox for group in groups for mailbox in group.addresses]
    angle = _TRAILING_ANGLE_ADDRESS.search(element)
    if angle and len(mailboxes) <= 1 and (not mailboxes or mailboxes[0].addr_spec.lower() != angle.group(1).lower()):
        # `alice@example.com <bob@example.com>`: the stdlib takes the unquoted
        # name for the address, while mail clients show it as the display name
        # of the address in angle brackets.
        name = element[: angle.start()].strip()
        return [_make_address(decode_header_text(_unquote(name)), angle.group(1))]
    parsed: list[Address] = []
    for group in groups:
        for mailbox in group.addresses:
            if mailbox.domain:
                parsed.append(_make_address(mailbox.display_name, mailbox.addr_spec))
                continue
            # The stdlib returns an empty mailbox for `a@b@c.com` and similar, so
            # look for something address-shaped outside quoted strings.
            loose = _loose_element(element)
            if loose.address:
                parsed.append(_make_address(mailbox.display_name or loose.display_name, loose.address))
            else:
                parsed.append(_make_address(mailbox.display_name or _unquote(mailbox.username), ""))
    return [address for address in parsed if address.address or address.display_name]


def _read_plain_element(match: re.Match[str]) -> Address:
    """Build the address the stdlib parser would return for an element `_PLAIN_ELEMENT` matched."""
    if match.group("bare") is not None:
        return _make_address("", match.group("bare"))
    if match.group("quoted") is not None:
        # Quoted text is kept as written, white space included.
        display_name = match.group("quoted")
    else:
        # The stdlib joins the words of an unquoted phrase with single spaces.
        display_name = " ".join((match.group("phrase") or "").split())
    return _make_address(display_name, match.group("angle"))


def _report_address_in_name(address: Address, header_name: str, warnings: WarningLog) -> None:
    """Warn when a display name is an address in another domain than the real address.

    The display name is kept as written: it is evidence of impersonation.
    """
    if not address.domain:
        return
    for match in _ADDRESS_IN_NAME.finditer(address.display_name):
        if match.group(1).lower().rstrip(".") != address.domain:
            warnings.add(
                f"{header_name} display name {quote_for_warning(address.display_name)} contains the address "
                f"{quote_for_warning(match.group())}, in another domain than the real address {address.address}"
            )
            return


def _loose_element(element: str) -> Address:
    match = _LOOSE_ADDRESS.search(_QUOTED_STRING.sub(" ", element))
    address = match.group() if match else ""
    name = element.replace(address, " ") if address else element
    name = " ".join(name.replace("<", " ").replace(">", " ").split())
    return _make_address(decode_header_text(_unquote(name)), address)


def _make_address(display_name: str, address: str) -> Address:
    return Address(display_name=clean_line(display_name.strip()), address=clean_line(address.strip().lower()))


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text
