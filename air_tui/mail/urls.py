"""URLs found in a message body: extraction, host and registrable domain."""

from __future__ import annotations

import ipaddress
import re
from functools import cache
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from air_tui.domain.message import Url
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.unwrap import unwrap

MAX_URLS = 500
MAX_URL_CHARS = 8_192

# Stops at white space (including the Unicode spaces and zero-width characters
# used to break URLs up), quotes, angle brackets and other characters RFC 3986
# never allows unencoded.
_URL_IN_TEXT = re.compile(
    r"(?<![\w@.\-/])(?:(?:https?|ftps?)://|www\.)"
    r"[^\s<>\"'`{}|\\^\[\]\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff]+",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?*'\"»”’"
_LINK_SCHEMES = ("http", "https", "ftp", "ftps", "file")
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)*$")
_URL_WHITESPACE = re.compile(r"[\t\r\n]")


@cache
def _public_suffix_list() -> PublicSuffixList:
    # Loading parses the bundled list (about 70 ms), so it happens once per process.
    return PublicSuffixList()


class UrlCollector:
    """Collects body URLs in first-seen order, without duplicates, at most 500."""

    def __init__(self, warnings: WarningLog) -> None:
        self._warnings = warnings
        self._seen: set[str] = set()
        self.urls: list[Url] = []

    def add_text(self, text: str) -> None:
        """Add every URL found in plain text."""
        for match in _URL_IN_TEXT.finditer(text):
            url = _trim(match.group())
            if "://" in url and url.partition("://")[2] == "":
                continue
            if url.lower() == "www.":
                continue
            self.add(url, "text")

    def add_link(self, url: str, source: str, link_text: str = "") -> None:
        """Add a URL from an HTML attribute, skipping `mailto:`, `cid:`, fragments and relative links."""
        # Browsers drop tabs and newlines inside URLs and trim the ends.
        url = _URL_WHITESPACE.sub("", url).strip()
        lowered = url.lower()
        scheme = lowered.partition(":")[0] if ":" in lowered else ""
        if scheme in _LINK_SCHEMES or lowered.startswith(("//", "www.")):
            self.add(url, source, link_text)

    def add(self, url: str, source: str, link_text: str = "") -> None:
        """Add one URL unless it was seen before or the limit is reached."""
        url = clean_line(url, limit=MAX_URL_CHARS)
        if not url or url in self._seen:
            return
        if len(self.urls) >= MAX_URLS:
            self._warnings.add(f"the body has more than {MAX_URLS} URLs; only the first {MAX_URLS} were kept")
            return
        self._seen.add(url)
        host = url_host(url)
        if host is None:
            self._warnings.add(f"URL {quote_for_warning(url)} has an invalid host; host left empty")
            host = ""
        found = Url(
            url=url,
            host=host,
            registrable_domain=registrable_domain(host),
            source=source,
            link_text=clean_line(link_text),
        )
        destination = unwrap(url)
        if destination is not None:
            target = clean_line(destination.url, limit=MAX_URL_CHARS)
            target_host = url_host(target) or ""
            found.unwrapped = target
            found.unwrapped_host = target_host
            found.unwrapped_domain = registrable_domain(target_host) if target_host else ""
            found.wrappers = list(destination.wrappers)
        self.urls.append(found)


def url_host(url: str) -> str | None:
    """Return the lower-cased host of a URL, "" when it has none, or None when it is malformed.

    URLs that start with `www.` or `//` are read as http URLs.

    Args:
        url: A URL as found in the message.

    Returns:
        The host without brackets or a trailing dot.
    """
    if url.lower().startswith("www."):
        url = "http://" + url
    elif url.startswith("//"):
        url = "http:" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    if not host:
        return "" if url.lower().startswith("file:") else None
    host = host.rstrip(".")
    if ":" in host:
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            return None
    if _HOST.match(host) is None:
        return None
    return host


def registrable_domain(host: str) -> str:
    """Return the host's registrable domain from the public suffix list, or the host itself.

    IP addresses, single labels and public suffixes are returned unchanged.
    """
    if not host:
        return ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return host
    return _public_suffix_list().privatesuffix(host) or host


def _trim(url: str) -> str:
    """Drop sentence punctuation after a URL, and a closing bracket that the URL did not open."""
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCTUATION:
            url = url[:-1]
        elif last == ")" and url.count(")") > url.count("("):
            url = url[:-1]
        else:
            break
    return url
