"""Unwrapping rewritten links: Safe Links, Proofpoint URL Defense, Mimecast, Google and other redirectors.

Mail gateways and redirect services hide the real destination inside a parameter of their own
URL. Everything here works offline from the URL text alone: nothing is fetched.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

MAX_DEPTH = 5
"""Wrappers peeled off one link at most; deeper nesting is left as found."""


@dataclass(frozen=True)
class Unwrapped:
    url: str
    """The destination after every known wrapper was removed."""
    wrappers: tuple[str, ...]
    """Names of the wrappers removed, outermost first."""
    partial: bool = False
    """True when a wrapper keeps only part of the destination (Mimecast's `domain=`)."""


# Redirectors that carry the destination in one query parameter: (host suffix, path prefix, parameter, name).
_QUERY_REDIRECTORS = [
    ("safelinks.protection.outlook.com", "", "url", "Microsoft Safe Links"),
    ("safelinks.protection.office365.us", "", "url", "Microsoft Safe Links"),
    ("google.com", "/url", "q", "Google redirect"),
    ("google.com", "/url", "url", "Google redirect"),
    ("l.facebook.com", "/l.php", "u", "Facebook link shim"),
    ("lm.facebook.com", "/l.php", "u", "Facebook link shim"),
    ("youtube.com", "/redirect", "q", "YouTube redirect"),
    ("slack-redir.net", "/link", "url", "Slack redirect"),
    ("out.reddit.com", "/", "url", "Reddit redirect"),
    ("exit.sc", "/", "url", "SoundCloud redirect"),
    ("t.umblr.com", "/redirect", "z", "Tumblr redirect"),
    ("linkedin.com", "/redir/redirect", "url", "LinkedIn redirect"),
]

_PROOFPOINT_V3 = re.compile(r"^https?://urldefense\.com/v3/__(?P<url>.+?)__;(?P<encoded>[A-Za-z0-9_\-]*)!", re.IGNORECASE)
# Proofpoint v3 writes a run of N replaced characters as `**` plus one letter of this alphabet,
# where the first letter stands for a run of 2.
_V3_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_V3_TOKEN = re.compile(r"\*\*(?P<run>[A-Za-z0-9\-_])|\*")


def unwrap(url: str) -> Unwrapped | None:
    """Peel off every known wrapper of `url`; return None when it is not wrapped or cannot be read."""
    current = url
    wrappers: list[str] = []
    partial = False
    for _ in range(MAX_DEPTH):
        step = _unwrap_once(current)
        if step is None:
            break
        current, name, step_partial = step
        wrappers.append(name)
        partial = partial or step_partial
        if step_partial:
            break
    if not wrappers or current == url:
        return None
    return Unwrapped(url=current, wrappers=tuple(wrappers), partial=partial)


def _unwrap_once(url: str) -> tuple[str, str, bool] | None:
    try:
        parts = urlsplit(url if "://" in url else "http://" + url.lstrip("/"))
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if not host:
        return None
    query = parse_qs(parts.query, keep_blank_values=False)

    v3 = _PROOFPOINT_V3.match(url)
    if v3 is not None:
        decoded = _proofpoint_v3(v3.group("url"), v3.group("encoded"))
        return (decoded, "Proofpoint URL Defense v3", False) if decoded else None
    if host == "urldefense.proofpoint.com" and "u" in query:
        if parts.path.startswith("/v2/"):
            # v2 escapes '%' as '-' and '/' as '_' before percent-decoding.
            encoded = query["u"][0].replace("-", "%").replace("_", "/")
            return _checked(unquote(encoded), "Proofpoint URL Defense v2")
        if parts.path.startswith("/v1/"):
            return _checked(query["u"][0], "Proofpoint URL Defense v1")
    if host.endswith("mimecast.com") and parts.path.startswith("/s/"):
        # The rest of the destination sits behind Mimecast's token; only its domain is in the link.
        domain = query.get("domain", [""])[0].strip().lower()
        return (f"https://{domain}/", "Mimecast URL Protect", True) if domain else None
    if host.endswith("bing.com") and parts.path.startswith("/ck/a") and "u" in query:
        return _checked(_bing_target(query["u"][0]), "Bing redirect")
    for suffix, path, parameter, name in _QUERY_REDIRECTORS:
        if (host == suffix or host.endswith("." + suffix)) and parts.path.startswith(path) and parameter in query:
            return _checked(query[parameter][0], name)
    return None


def _checked(target: str, name: str) -> tuple[str, str, bool] | None:
    """Accept a destination only when it is an absolute http(s) URL."""
    target = target.strip()
    if not re.match(r"^https?://[^/\s]", target, re.IGNORECASE):
        return None
    return target, name, False


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
