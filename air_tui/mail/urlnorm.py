"""The canonical form of a URL, and what is wrong with its host.

Two URLs that a browser would treat as the same address get one canonical form here. A link then
matches intel however it was written: with a Unicode or a punycode host, an upper-case scheme, a
default port, needless percent-encoding or invisible characters. The host is read
the way browsers read it (WHATWG URL Standard): backslashes count as slashes in web URLs, the
last `@` ends the user information, and hosts such as `3232235777` or `0xC0.0xA8.1.1` are IPv4
addresses.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

import idna

from air_tui.mail.cleaning import quote_for_warning
from air_tui.mail.invisible import character_name, remove_hidden

MAX_HOST_CHARS = 253
"""Maximum length of a domain name in DNS, in characters of its ASCII form."""

MAX_LABEL_CHARS = 63

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}
# Schemes whose URLs browsers parse with the rules for web addresses.
_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "ftps", "file"})
# RFC 3986 appendix B, which splits any string without failing.
_URI_PARTS = re.compile(r"^(?:(?P<scheme>[^:/?#]+):)?(?://(?P<authority>[^/?#]*))?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#.*)?$", re.DOTALL)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*$")
_PERCENT_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# ASCII characters RFC 3986 never allows unencoded; browsers percent-encode them too.
_ALWAYS_ENCODED = frozenset(' "<>\\^`{|}')
_DOMAIN_PUNCTUATION = frozenset("-_.")
_MAX_PROBLEMS = 3
_MAX_CHARACTERS_NAMED = 5
# Longer number parts are out of IPv4 range anyway; the bound keeps int() cheap.
_MAX_NUMBER_DIGITS = 40


@dataclass(frozen=True)
class HostReading:
    """A host read the way a browser reads it."""

    ascii: str
    """Lower-case ASCII form: IDNA for domain names, dotted quad or bracketed IPv6 for addresses."""
    problem: str = ""
    """Reason the host is invalid, in plain words; empty when it is valid."""
    ip_literal: bool = False


@dataclass(frozen=True)
class UrlReading:
    """The canonical form of one URL and the problems found in it."""

    normalised: str
    host: HostReading | None
    """None when the URL has no authority part, as with `mailto:` or `data:`."""
    problem: str = ""
    """Problems with the host or port, in plain words; empty when there are none."""


def normalise_url(url: str) -> str:
    """Return the canonical form of `url` used for matching; never raises.

    The host is IDNA-encoded (UTS 46 mapping) and lower-cased, and IPv4 addresses written in
    decimal, hex or octal become dotted quads. The scheme is lower-cased, default ports and the
    fragment are dropped, and an empty web path becomes `/`. Percent-escapes get upper-case hex,
    escaped unreserved characters are decoded, and non-ASCII characters are percent-encoded as
    UTF-8. Dot segments are removed from web paths. Invisible characters are removed. The query
    keeps its order. A URL starting with `www.` or `//` is read as an http URL.

    Args:
        url: A URL as found in a message or a feed.

    Returns:
        The canonical form, or the URL without invisible characters when it cannot be split.
    """
    return read_url(url).normalised


def read_url(url: str) -> UrlReading:
    """Normalise a URL and report problems with its host and port; never raises."""
    visible = strip_hidden(url)
    try:
        return _read(visible)
    except (ValueError, UnicodeError, IndexError, TypeError) as error:
        # The steps above are written not to raise; this keeps the promise if one still does.
        return UrlReading(normalised=visible, host=None, problem=f"the URL cannot be read ({type(error).__name__})")


def read_host(host: str) -> HostReading:
    """Read one host as written in a URL (brackets around IPv6 included); never raises."""
    try:
        return _read_host(host)
    except (ValueError, UnicodeError, IndexError, TypeError) as error:
        return HostReading(ascii=host.lower(), problem=f"the host cannot be read ({type(error).__name__})")


def strip_hidden(text: str) -> str:
    """Remove controls, bidi controls and zero-width characters, which browsers drop or never show."""
    return remove_hidden(text)


def _read(url: str) -> UrlReading:
    url = url.strip(" \t\r\n\f")
    lowered = url.lower()
    if lowered.startswith("www."):
        url = "http://" + url
    elif url.startswith("//"):
        url = "http:" + url

    parts = _URI_PARTS.match(url)
    if parts is None:  # pragma: no cover - the pattern matches every string
        return UrlReading(normalised=url, host=None)
    scheme = parts.group("scheme") or ""
    if scheme and _SCHEME.match(scheme) is None:
        return UrlReading(normalised=url, host=None, problem=f"scheme {quote_for_warning(scheme)} is not valid")
    scheme = scheme.lower()
    if scheme == "data":
        # The payload is content, not an address; only the scheme has a case to fold.
        return UrlReading(normalised="data:" + url[5:], host=None)

    authority = parts.group("authority")
    path = parts.group("path")
    query = parts.group("query")
    if scheme in _WEB_SCHEMES:
        # Browsers read `\` as `/` in web URLs, so `http:\\evil.example\x` goes to evil.example.
        before_query = url.split("?", 1)[0].split("#", 1)[0].replace("\\", "/")
        reparsed = _URI_PARTS.match(before_query)
        if reparsed is not None:
            authority = reparsed.group("authority")
            path = reparsed.group("path")

    prefix = f"{scheme}:" if scheme else ""
    if authority is None:
        normalised = prefix + _normalise_percent(path) + ("" if query is None else "?" + _normalise_percent(query))
        return UrlReading(normalised=normalised, host=None)

    userinfo, host_text, port_text = _split_authority(authority)
    # `file:///path` has an empty host by design; any other URL needs one.
    host = HostReading(ascii="") if scheme == "file" and not host_text else read_host(host_text)
    problems = [host.problem] if host.problem else []
    port, port_problem = _read_port(port_text, scheme)
    if port_problem:
        problems.append(port_problem)

    if scheme in _WEB_SCHEMES:
        path = _remove_dot_segments(path) if path else "/"
    pieces = [prefix, "//"]
    if userinfo is not None:
        pieces.append(_normalise_percent(userinfo) + "@")
    pieces.append(host.ascii)
    if port:
        pieces.append(":" + port)
    pieces.append(_normalise_percent(path))
    if query is not None:
        pieces.append("?" + _normalise_percent(query))
    return UrlReading(normalised="".join(pieces), host=host, problem="; ".join(problems))


def _split_authority(authority: str) -> tuple[str | None, str, str | None]:
    """Split `user@host:port`; the last `@` ends the user information, as in browsers."""
    userinfo: str | None = None
    if "@" in authority:
        userinfo, _, authority = authority.rpartition("@")
    if authority.startswith("["):
        closing = authority.find("]")
        if closing == -1:
            return userinfo, authority, None
        host, rest = authority[: closing + 1], authority[closing + 1 :]
        return userinfo, host, rest[1:] if rest.startswith(":") else (rest or None)
    if ":" in authority:
        host, _, port = authority.rpartition(":")
        return userinfo, host, port
    return userinfo, authority, None


def _read_port(port: str | None, scheme: str) -> tuple[str, str]:
    """Return the port to keep (empty for none or the default) and a problem, if any."""
    if port is None or port == "":
        return "", ""
    if not port.isascii() or not port.isdigit():
        return port, f"port {quote_for_warning(port)} is not a number"
    if len(port) > 5 or int(port) > 65_535:
        return port, f"port {quote_for_warning(port)} is out of range (0 to 65535)"
    number = int(port)
    if _DEFAULT_PORTS.get(scheme) == number:
        return "", ""
    return str(number), ""


def _read_host(host: str) -> HostReading:
    if host.startswith("["):
        return _read_ipv6(host)
    if "%" in host:
        # Browsers percent-decode the host before reading it.
        host = unquote(host, errors="replace")
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]
    if not host:
        return HostReading(ascii="", problem="the URL has no host")
    if len(host) > MAX_HOST_CHARS:
        # Checked before IDNA so that a huge host costs one pass, not one per label.
        return HostReading(
            ascii=host.lower(),
            problem=f"host is {len(host):,} characters long; a domain name has at most {MAX_HOST_CHARS}",
        )

    ipv4, ipv4_problem = _read_ipv4(host)
    if ipv4:
        return HostReading(ascii=ipv4, ip_literal=True)
    if ipv4_problem:
        return HostReading(ascii=host.lower(), problem=ipv4_problem)

    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except (idna.IDNAError, ValueError):
        mapped = host.lower()
    problems: list[str] = []
    not_allowed = _characters_not_allowed(mapped)
    if not_allowed:
        problems.append(f"host has characters not allowed in a domain name: {not_allowed}")
    labels = mapped.split(".")
    if any(label == "" for label in labels):
        problems.append("host has an empty label")
    ascii_labels = [_ascii_label(label, problems) for label in labels]
    ascii_host = ".".join(ascii_labels)
    if len(ascii_host) > MAX_HOST_CHARS:
        problems.append(f"host is {len(ascii_host):,} characters long in ASCII form; a domain name has at most {MAX_HOST_CHARS}")
    return HostReading(ascii=ascii_host, problem="; ".join(problems[:_MAX_PROBLEMS]))


def _read_ipv6(host: str) -> HostReading:
    if not host.endswith("]"):
        return HostReading(ascii=host.lower(), problem="the IPv6 address has no closing bracket ']'")
    inside = host[1:-1]
    try:
        address = ipaddress.IPv6Address(inside)
    except ValueError:
        return HostReading(ascii=host.lower(), problem=f"{quote_for_warning(inside)} is not a valid IPv6 address")
    return HostReading(ascii=f"[{address.compressed}]", ip_literal=True)


def _read_ipv4(host: str) -> tuple[str, str]:
    """Read a host as browsers read IPv4 addresses: 1 to 4 parts, each decimal, `0x` hex or `0` octal.

    Returns:
        The dotted quad and "" for an address; "" and a problem for a host that ends in a
        number but is no valid address; "" and "" for a domain name.
    """
    parts = host.split(".")
    if _ipv4_number(parts[-1]) is None:
        return "", ""
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or any(number is None for number in numbers):
        return "", f"host {quote_for_warning(host)} ends in a number but is not a valid IPv4 address"
    values = [number for number in numbers if number is not None]
    if any(value > 255 for value in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return "", f"host {quote_for_warning(host)} is an IPv4 address out of range"
    total = values[-1]
    for index, value in enumerate(values[:-1]):
        total += value << (8 * (3 - index))
    return str(ipaddress.IPv4Address(total)), ""


def _ipv4_number(part: str) -> int | None:
    if not part or len(part) > _MAX_NUMBER_DIGITS or not part.isascii():
        return None
    if part[:2].lower() == "0x":
        digits = part[2:]
        if digits == "":
            return 0
        return int(digits, 16) if all(c in "0123456789abcdefABCDEF" for c in digits) else None
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part) if part.isdigit() else None


def _characters_not_allowed(host: str) -> str:
    """Name the distinct characters a domain name cannot contain: ASCII other than letters, digits,
    `-`, `_` and `.`, and non-ASCII spaces, punctuation, symbols and controls."""
    found: dict[str, None] = {}
    for character in host:
        if character.isascii():
            allowed = character.isalnum() or character in _DOMAIN_PUNCTUATION
        else:
            allowed = unicodedata.category(character)[0] in "LMN"
        if not allowed:
            found.setdefault(character, None)
    named = [_name(character) for character in list(found)[:_MAX_CHARACTERS_NAMED]]
    if len(found) > _MAX_CHARACTERS_NAMED:
        named.append(f"and {len(found) - _MAX_CHARACTERS_NAMED} more")
    return ", ".join(named)


def _name(character: str) -> str:
    if character.isprintable() and not character.isspace():
        return repr(character)
    return character_name(character)


def _ascii_label(label: str, problems: list[str]) -> str:
    """Return one label in ASCII form, adding a problem when IDNA rejects it."""
    if label.isascii() and not label.startswith("xn--"):
        if len(label) > MAX_LABEL_CHARS:
            problems.append(f"host label {quote_for_warning(label)} is longer than {MAX_LABEL_CHARS} characters")
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError) as error:
        problems.append(f"host label {quote_for_warning(label)} is not a valid internationalised domain name ({error})")
    try:
        # Python's own codec implements IDNA 2003, which accepts some labels IDNA 2008 rejects.
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        return label


def _normalise_percent(text: str) -> str:
    """Upper-case percent-escapes, decode escaped unreserved characters, escape the rest that must be."""

    def fix(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else "%" + match.group(1).upper()

    text = _PERCENT_ESCAPE.sub(fix, text)
    pieces: list[str] = []
    for character in text:
        if character.isascii() and character not in _ALWAYS_ENCODED and character.isprintable():
            pieces.append(character)
        else:
            pieces.append("".join(f"%{byte:02X}" for byte in character.encode("utf-8", "surrogatepass")))
    return "".join(pieces)


def _remove_dot_segments(path: str) -> str:
    """Resolve `.` and `..` segments (RFC 3986 section 5.2.4), including their escaped forms."""
    segments = path.split("/")
    output: list[str] = []
    for index, segment in enumerate(segments):
        is_last = index == len(segments) - 1
        lowered = segment.lower()
        if lowered in (".", "%2e"):
            if is_last:
                output.append("")
            continue
        if lowered in ("..", ".%2e", "%2e.", "%2e%2e"):
            if len(output) > 1:
                output.pop()
            if is_last:
                output.append("")
            continue
        output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result
