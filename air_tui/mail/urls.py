"""URLs found in a message: extraction, host, registrable domain, canonical form and flags."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from functools import cache
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

from publicsuffixlist import PublicSuffixList

from air_tui.domain.message import Url
from air_tui.mail.cleaning import clean_line, quote_for_warning
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.invisible import hidden_characters
from air_tui.mail.qr import IMAGE_MEDIA_TYPES, MAX_IMAGE_BYTES, scan_image
from air_tui.mail.unwrap import unwrap
from air_tui.mail.urlnorm import normalise_url, read_url, strip_hidden

__all__ = [
    "DATA_URI_SHOWN_CHARS",
    "MAX_URLS",
    "MAX_URL_CHARS",
    "SHORTENER_DOMAINS",
    "UrlCollector",
    "data_uri_media_type",
    "is_dangerous_data_uri",
    "is_shortener",
    "normalise_url",
    "registrable_domain",
    "url_host",
]

MAX_URLS = 500
MAX_URL_CHARS = 8_192

DATA_URI_SHOWN_CHARS = 100
"""Characters of a `data:` URI kept in `Url.url`; the payload past them is dropped."""

SHORTENER_DOMAINS = frozenset(
    {
        "adf.ly", "amzn.to", "bit.do", "bit.ly", "bitly.com", "bl.ink", "buff.ly", "clck.ru", "cli.re",
        "cutt.ly", "db.tt", "forms.gle", "goo.gl", "goo.su", "is.gd", "j.mp", "lnkd.in", "mcaf.ee",
        "ow.ly", "qrco.de", "rb.gy", "rebrand.ly", "s.id", "short.gy", "shorte.st", "shorturl.at",
        "snip.ly", "soo.gd", "surl.li", "t.co", "t.ly", "tiny.cc", "tiny.one", "tinyurl.com",
        "tr.im", "u.to", "urlz.fr", "v.gd", "x.co", "zpr.io",
    }
)  # fmt: skip
"""Registrable domains of common URL shorteners, whose links do not show the destination."""

# Media types a browser runs or hands to another program when a `data:` URI is opened.
_DANGEROUS_DATA_TYPES = frozenset({"text/html", "image/svg+xml", "text/javascript", "text/xml"})

# Stops at white space (including the Unicode spaces and zero-width characters
# used to break URLs up), quotes, angle brackets and other characters RFC 3986
# never allows unencoded.
_URL_IN_TEXT = re.compile(
    r"(?<![\w@.\-/])(?:(?:https?|ftps?)://|www\.)"
    # Visible spaces end a URL; zero-width and direction marks do not, because a browser that
    # receives the link drops or keeps them silently, and they are the trick worth flagging.
    r"[^\s<>\"'`{}|\\^\[\]\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+",
    re.IGNORECASE,
)
_WHOLE_URL = re.compile(r"^(?:(?:https?|ftps?)://|www\.)\S+$", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?*'\"»”’"
_LINK_SCHEMES = ("http", "https", "ftp", "ftps", "file")
_HOST = re.compile(r"^[\w-]+(?:\.[\w-]+)*$")
_URL_WHITESPACE = re.compile(r"[\t\r\n]")


@cache
def _public_suffix_list() -> PublicSuffixList:
    # Loading parses the bundled list (about 70 ms), so it happens once per process.
    return PublicSuffixList()


class UrlCollector:
    """Collects message URLs in first-seen order, without duplicates, at most 500.

    A URL seen again from another source keeps its first source.
    """

    def __init__(self, warnings: WarningLog) -> None:
        self._warnings = warnings
        self._seen: set[str] = set()
        self.urls: list[Url] = []

    def add_text(self, text: str, source: str = "text", detail: str = "") -> None:
        """Add every URL found in plain text."""
        for match in _URL_IN_TEXT.finditer(text):
            url = _trim(match.group())
            if "://" in url and url.partition("://")[2] == "":
                continue
            if url.lower() == "www.":
                continue
            self.add(url, source, detail=detail)

    def add_link(self, url: str, source: str, link_text: str = "", detail: str = "") -> None:
        """Add a URL from an HTML attribute.

        `mailto:`, `cid:`, `javascript:`, fragments and relative links are skipped. A `data:`
        URI is kept shortened, except a raster image, which is searched for QR codes instead.
        """
        # Browsers drop tabs and newlines inside URLs and trim the ends.
        url = _URL_WHITESPACE.sub("", url).strip()
        lowered = url.lower()
        scheme = lowered.partition(":")[0] if ":" in lowered else ""
        if scheme == "data":
            self._add_data_uri(url, source, detail)
        elif scheme in _LINK_SCHEMES or lowered.startswith(("//", "www.")):
            self.add(url, source, link_text, detail)

    def add_qr_codes(self, texts: list[str], image_name: str) -> None:
        """Add the URLs in the texts of QR codes found in one image.

        A text that is one URL is added whole. URLs inside other texts, such as
        `MEBKM:URL:https://…;;`, are found as in plain text.

        Args:
            texts: The decoded text of each code.
            image_name: The image's file name or a description of where it was, for `source_detail`.
        """
        for text in texts:
            stripped = text.strip()
            if _WHOLE_URL.match(stripped):
                self.add(stripped, "qr", detail=image_name)
            else:
                self.add_text(stripped, "qr", image_name)

    def add(self, url: str, source: str, link_text: str = "", detail: str = "") -> None:
        """Add one URL unless it was seen before or the limit is reached."""
        hidden = hidden_characters(url)
        url = clean_line(url, limit=MAX_URL_CHARS)
        if not url or any(alias in self._seen for alias in _scheme_aliases(url)) or not self._claim(url):
            return
        # Browsers drop invisible characters, so the host and the wrappers are read without them.
        visible = strip_hidden(url)
        reading = read_url(visible)
        host = url_host(visible)
        if host is None:
            problem = reading.problem or "the host cannot be read"
            self._warnings.add(f"URL {quote_for_warning(url)} has an invalid host ({problem}); host left empty")
            host = ""
        else:
            problem = reading.problem
            if problem:
                self._warnings.add(f"URL {quote_for_warning(url)} is malformed: {problem}")
        domain = registrable_domain(host)
        text_hidden = hidden_characters(link_text)
        found = Url(
            url=url,
            host=host,
            registrable_domain=domain,
            source=source,
            source_detail=clean_line(detail),
            link_text=clean_line(strip_hidden(link_text)),
            normalised=clean_line(reading.normalised, limit=MAX_URL_CHARS),
            ip_literal=reading.host is not None and reading.host.ip_literal,
            shortener=is_shortener(host),
            host_problem=clean_line(problem),
            hidden_characters=[*hidden, *(f"{name} in the link text" for name in text_hidden)],
        )
        self._add_destination(found, visible)
        self.urls.append(found)

    def _claim(self, key: str) -> bool:
        """Record `key` as seen; return False when it was seen before or the list is full."""
        if key in self._seen:
            return False
        if len(self.urls) >= MAX_URLS:
            self._warnings.add(f"the body has more than {MAX_URLS} URLs; only the first {MAX_URLS} were kept")
            return False
        self._seen.add(key)
        return True

    def _add_destination(self, found: Url, url: str) -> None:
        destination = unwrap(url)
        if destination is None:
            return
        found.wrappers = list(destination.wrappers)
        found.destination_hidden = destination.destination_hidden
        if destination.destination_hidden:
            # Mimecast keeps the destination URL on its side but names its domain in `domain=`:
            # enough to check the domain, never a URL to guess.
            named = _named_domain(destination.url)
            if named:
                found.unwrapped_host = named
                found.unwrapped_domain = registrable_domain(named)
            return
        if destination.url == url:
            return
        target = clean_line(destination.url, limit=MAX_URL_CHARS)
        target_host = url_host(target) or ""
        found.unwrapped = target
        found.unwrapped_host = target_host
        found.unwrapped_domain = registrable_domain(target_host) if target_host else ""

    def _add_data_uri(self, uri: str, source: str, detail: str) -> None:
        media_type = data_uri_media_type(uri)
        if media_type in IMAGE_MEDIA_TYPES:
            self._scan_data_image(uri, detail)
            return
        # The key covers the whole URI, so two payloads that share their first characters stay apart.
        if not self._claim("data:" + hashlib.sha256(uri.encode("utf-8", "surrogatepass")).hexdigest()):
            return
        shown = uri[:DATA_URI_SHOWN_CHARS] + ("…" if len(uri) > DATA_URI_SHOWN_CHARS else "")
        self.urls.append(
            Url(
                url=clean_line(shown),
                source=source,
                source_detail=clean_line(detail),
                normalised=clean_line(normalise_url(shown)),
                data_uri=True,
                hidden_characters=hidden_characters(shown),
            )
        )

    def _scan_data_image(self, uri: str, detail: str) -> None:
        where = f"a data: image in {detail}" if detail else "a data: image"
        header, _, payload = uri[len("data:") :].partition(",")
        if len(payload) > MAX_IMAGE_BYTES * 4 // 3 + 4:
            self._warnings.add(f"{where} is over the {MAX_IMAGE_BYTES:,}-byte limit for QR decoding; not searched")
            return
        data = _data_uri_bytes(header, payload)
        if data is None:
            self._warnings.add(f"{where} has an invalid base64 payload; not searched for QR codes")
            return
        scan = scan_image(data)
        if scan.problem:
            self._warnings.add(f"{where}: {scan.problem}")
        self.add_qr_codes(scan.texts, where)


def _named_domain(url: str) -> str:
    """Return the `domain=` query parameter of a link when it is a valid host name, else ""."""
    try:
        values = parse_qs(urlsplit(url).query).get("domain", [])
    except ValueError:
        return ""
    value = values[0].strip().lower().rstrip(".") if values else ""
    return value if "." in value and _HOST.match(value) else ""


def _scheme_aliases(url: str) -> tuple[str, ...]:
    """Other spellings of one link: `//host/x` is `https://host/x` on any mail client page, and the
    reverse, so the same link found with and without its scheme is listed once."""
    if url.startswith("//"):
        return ("https:" + url, "http:" + url)
    scheme, separator, rest = url.partition("://")
    if separator and scheme.lower() in ("http", "https"):
        return ("//" + rest,)
    return ()


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


def is_shortener(host: str) -> bool:
    """Return whether the host, or its registrable domain, is in `SHORTENER_DOMAINS`."""
    host = host.lower().rstrip(".")
    return host in SHORTENER_DOMAINS or registrable_domain(host) in SHORTENER_DOMAINS


def data_uri_media_type(url: str) -> str:
    """Return the lower-case media type of a `data:` URI, `text/plain` when it names none (RFC 2397)."""
    header = url[len("data:") :].partition(",")[0]
    media_type = header.split(";", 1)[0].strip().lower()
    return media_type or "text/plain"


def is_dangerous_data_uri(url: str) -> bool:
    """Return whether a `data:` URI contains content a browser runs or passes to another program: HTML, SVG, script or any `application/*`."""
    if not url.lower().startswith("data:"):
        return False
    media_type = data_uri_media_type(url)
    return media_type in _DANGEROUS_DATA_TYPES or media_type.startswith("application/")


def _data_uri_bytes(header: str, payload: str) -> bytes | None:
    parameters = [parameter.strip().lower() for parameter in header.split(";")[1:]]
    if "base64" not in parameters:
        return unquote_to_bytes(payload)
    compact = re.sub(r"\s+", "", unquote_to_bytes(payload).decode("ascii", "replace"))
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=False)
    except (binascii.Error, ValueError):
        return None


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
