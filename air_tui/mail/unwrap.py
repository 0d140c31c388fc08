"""Unwrapping rewritten links: Safe Links, Proofpoint URL Defense, Mimecast, Google and other redirectors.

Mail gateways and redirect services hide the real destination inside a parameter or the path of
their own URL. Everything here works offline from the URL text alone: nothing is fetched. Mimecast
URL Protect links carry only a token, so their destination is reported as hidden, never guessed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

MAX_DEPTH = 5
"""Wrappers peeled off one link at most; deeper nesting is left as found."""


@dataclass(frozen=True)
class Unwrapped:
    url: str
    """The innermost URL that could be read; the wrapped link itself when its first wrapper hides the destination."""
    wrappers: tuple[str, ...]
    """Names of the wrappers found, outermost first, the one hiding the destination included."""
    destination_hidden: bool = False
    """True when the innermost wrapper keeps the destination on the gateway's side (Mimecast URL Protect)."""


MIMECAST = "Mimecast URL Protect"

# Redirectors that carry the destination in one query parameter: (host suffix, path prefix, parameter, name).
# A host matches its suffix exactly or as a subdomain of it.
_QUERY_REDIRECTORS = [
    ("safelinks.protection.outlook.com", "", "url", "Microsoft Safe Links"),
    ("safelinks.protection.office365.us", "", "url", "Microsoft Safe Links"),
    ("safelink.emails.azure.net", "/redirect", "destination", "Microsoft Azure email link"),
    ("linkprotect.cudasvc.com", "/url", "a", "Barracuda Link Protection"),
    ("protect2.fireeye.com", "/v1/url", "u", "Trellix URL Protection"),
    ("clicktime.symantec.com", "", "u", "Symantec Click-time URL Protection"),
    ("trendmicro.com", "/wis/clicktime", "url", "Trend Micro Click-Time URL Protection"),
    ("urlsand.esvalabs.com", "", "u", "ESVA URL sandbox"),
    ("scanner.topsec.com", "", "u", "Topsec link scanner"),
    ("googleadservices.com", "/pagead/aclk", "adurl", "Google Ads click"),
    ("doubleclick.net", "", "adurl", "DoubleClick click"),
    ("translate.google.com", "/translate", "u", "Google Translate proxy"),
    ("l.facebook.com", "/l.php", "u", "Facebook link shim"),
    ("lm.facebook.com", "/l.php", "u", "Facebook link shim"),
    ("facebook.com", "/flx/warn", "u", "Facebook link shim"),
    ("l.instagram.com", "/", "u", "Instagram link shim"),
    ("l.messenger.com", "/l.php", "u", "Messenger link shim"),
    ("youtube.com", "/redirect", "q", "YouTube redirect"),
    ("slack-redir.net", "/link", "url", "Slack redirect"),
    ("out.reddit.com", "/", "url", "Reddit redirect"),
    ("exit.sc", "/", "url", "SoundCloud redirect"),
    ("t.umblr.com", "/redirect", "z", "Tumblr redirect"),
    ("linkedin.com", "/redir/redirect", "url", "LinkedIn redirect"),
    ("vk.com", "/away.php", "to", "VK redirect"),
    ("steamcommunity.com", "/linkfilter", "url", "Steam link filter"),
    ("steamcommunity.com", "/linkfilter", "u", "Steam link filter"),
    ("duckduckgo.com", "/l/", "uddg", "DuckDuckGo redirect"),
    ("disq.us", "/", "url", "Disqus redirect"),
    ("medium.com", "/r/", "url", "Medium redirect"),
    ("mailtrack.io", "/trace/link", "url", "Mailtrack link"),
    ("click.linksynergy.com", "", "murl", "Rakuten Advertising click"),
]

# Google serves redirects from its country domains too: google.de, google.co.uk, google.com.br.
_GOOGLE_HOST = re.compile(r"^(?:www\.)?google\.(?:com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})$")
_PROOFPOINT_V3 = re.compile(r"^https?://urldefense\.(?:com|us)/v3/__(?P<url>.+?)__;(?P<encoded>[A-Za-z0-9_\-]*)!", re.IGNORECASE)
# Disqus appends `:` and a signature to the destination.
_DISQUS_SIGNATURE = re.compile(r":[A-Za-z0-9_\-]*[A-Za-z_\-][A-Za-z0-9_\-]{15,}$")
_YAHOO_TARGET = re.compile(r"/RU=(?P<url>[^/]+)/R[KS]=")
# A destination written out in the path of a proxy: `https://safe.menlosecurity.com/https://example.com/`.
_URL_IN_PATH = re.compile(r"^/(?P<url>https?(?::|%3A).*)$", re.IGNORECASE)
# Proofpoint v3 writes a run of N replaced characters as `**` plus one letter of this alphabet,
# where the first letter stands for a run of 2.
_V3_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_V3_TOKEN = re.compile(r"\*\*(?P<run>[A-Za-z0-9\-_])|\*")


def unwrap(url: str) -> Unwrapped | None:
    """Peel off every known wrapper of `url`, outermost first.

    Returns:
        The innermost readable URL and the wrappers, or None when `url` is not wrapped or its
        destination cannot be read. A link whose innermost wrapper is Mimecast URL Protect
        returns with `destination_hidden` set, because that destination is only on
        Mimecast's side.
    """
    current = url
    wrappers: list[str] = []
    hidden = False
    for _ in range(MAX_DEPTH):
        if _is_mimecast(current):
            wrappers.append(MIMECAST)
            hidden = True
            break
        step = _unwrap_once(current)
        if step is None:
            break
        current, name = step
        wrappers.append(name)
    if not wrappers:
        return None
    if current == url and not hidden:
        return None
    return Unwrapped(url=current, wrappers=tuple(wrappers), destination_hidden=hidden)


def _split(url: str) -> tuple[SplitResult, str] | None:
    try:
        parts = urlsplit(url if "://" in url else "http://" + url.lstrip("/"))
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    return (parts, host) if host else None


def _is_mimecast(url: str) -> bool:
    split = _split(url)
    if split is None:
        return False
    parts, host = split
    # protect-eu.mimecast.com, protect-us.mimecast.com, protect.mimecast-offshore.com and the like.
    is_mimecast_host = host.startswith("protect") and (host.endswith(".mimecast.com") or host.endswith(".mimecast-offshore.com"))
    return is_mimecast_host and parts.path.startswith("/s/")


def _unwrap_once(url: str) -> tuple[str, str] | None:
    split = _split(url)
    if split is None:
        return None
    parts, host = split
    query = parse_qs(parts.query, keep_blank_values=False)

    v3 = _PROOFPOINT_V3.match(url)
    if v3 is not None:
        decoded = _proofpoint_v3(v3.group("url"), v3.group("encoded"))
        return (decoded, "Proofpoint URL Defense v3") if decoded else None
    if host == "urldefense.proofpoint.com" and "u" in query:
        if parts.path.startswith("/v2/"):
            # v2 escapes '%' as '-' and '/' as '_' before percent-decoding.
            encoded = query["u"][0].replace("-", "%").replace("_", "/")
            return _checked(unquote(encoded), "Proofpoint URL Defense v2")
        if parts.path.startswith("/v1/"):
            return _checked(query["u"][0], "Proofpoint URL Defense v1")
    if host.endswith("bing.com") and parts.path.startswith("/ck/a") and "u" in query:
        return _checked(_bing_target(query["u"][0]), "Bing redirect")
    if _GOOGLE_HOST.match(host):
        google = _google_target(parts, query)
        if google is not None:
            return google
    path_target = _path_target(parts, host)
    if path_target is not None:
        return path_target
    for suffix, path, parameter, name in _QUERY_REDIRECTORS:
        if (host == suffix or host.endswith("." + suffix)) and parts.path.startswith(path) and parameter in query:
            target = query[parameter][0]
            if suffix == "disq.us":
                target = _DISQUS_SIGNATURE.sub("", target)
            return _checked(target, name)
    return None


def _google_target(parts: SplitResult, query: dict[str, list[str]]) -> tuple[str, str] | None:
    if parts.path.startswith("/url"):
        for parameter in ("q", "url"):
            if parameter in query:
                return _checked(query[parameter][0], "Google redirect")
    if parts.path.startswith("/amp/"):
        # Google AMP: `/amp/s/host/path` stands for https, `/amp/host/path` for http.
        rest = parts.path[len("/amp/") :]
        scheme = "http"
        if rest.startswith("s/"):
            scheme, rest = "https", rest[2:]
        target = f"{scheme}://{rest}" + (f"?{parts.query}" if parts.query else "")
        host = rest.split("/", 1)[0]
        return _checked(target, "Google AMP viewer") if "." in host else None
    return None


def _path_target(parts: SplitResult, host: str) -> tuple[str, str] | None:
    """Read destinations that proxies write into the path or as the whole query."""
    if host == "r.search.yahoo.com":
        found = _YAHOO_TARGET.search(parts.path)
        return _checked(unquote(found.group("url")), "Yahoo search redirect") if found else None
    if host == "href.li" and parts.query:
        return _checked(unquote(parts.query), "href.li redirect")
    if host == "safe.menlosecurity.com":
        found = _URL_IN_PATH.match(parts.path)
        if found is None:
            return None
        target = found.group("url") + (f"?{parts.query}" if parts.query else "")
        if not re.match(r"^https?:", target, re.IGNORECASE):
            # The destination was percent-encoded as a whole: `/https%3A%2F%2Fexample.com`.
            target = unquote(target)
        return _checked(target, "Menlo Security isolation")
    if host == "secure-web.cisco.com":
        # Cisco Secure Email: `/<token>/<percent-encoded destination>`.
        token_and_target = parts.path[1:].split("/", 1)
        if len(token_and_target) == 2:
            return _checked(unquote(token_and_target[1]), "Cisco Secure Email URL rewrite")
    return None


def _checked(target: str, name: str) -> tuple[str, str] | None:
    """Accept a destination only when it is an absolute http(s) URL."""
    target = target.strip()
    if not re.match(r"^https?://[^/\s]", target, re.IGNORECASE):
        return None
    return target, name


def _proofpoint_v3(embedded: str, encoded: str) -> str:
    """Put back the characters Proofpoint v3 replaced with `*`, from the base64 block after `__;`."""
    replaced = _decode_base64_text(encoded)
    if replaced is None:
        return ""
    position = 0
    pieces: list[str] = []
    last = 0
    for token in _V3_TOKEN.finditer(embedded):
        pieces.append(embedded[last : token.start()])
        run = token.group("run")
        length = _V3_RUN_ALPHABET.index(run) + 2 if run else 1
        if position + length > len(replaced):
            return ""
        pieces.append(replaced[position : position + length])
        position += length
        last = token.end()
    pieces.append(embedded[last:])
    decoded = "".join(pieces)
    return decoded if re.match(r"^https?://", decoded, re.IGNORECASE) else ""


def _bing_target(value: str) -> str:
    # Bing's `u` is "a1" followed by the destination in unpadded URL-safe base64.
    if not value.startswith("a1"):
        return ""
    return _decode_base64_text(value[2:]) or ""


def _decode_base64_text(encoded: str) -> str | None:
    """Decode unpadded URL-safe base64 into UTF-8 text, or return None when it is not that."""
    try:
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
