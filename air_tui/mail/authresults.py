"""Authentication-Results (RFC 8601) and Received-SPF (RFC 7208) headers.

`authres` parses headers that follow RFC 8601. Microsoft 365 writes headers
without an authserv-id and with `action=` and `reason=` outside the grammar,
so most real headers go through the tolerant reader below instead.
"""

from __future__ import annotations

import re

import authres

from air_tui.domain.message import AuthResult
from air_tui.mail.cleaning import clean_line

_KNOWN_METHODS = frozenset(
    {
        "arc",
        "auth",
        "bimi",
        "compauth",
        "dkim",
        "dkim-adsp",
        "dkim-atps",
        "dmarc",
        "dnswl",
        "domainkeys",
        "iprev",
        "rrvs",
        "sender-id",
        "smime",
        "spf",
        "vbr",
    }
)
_PAIR = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^\s;"]*)')
_RESULT_WORD = re.compile(r"[A-Za-z]+")
_COMMENT_HOST = re.compile(r"^\(?\s*([A-Za-z0-9.-]+\.[A-Za-z]{2,}):")


def parse_authentication_results(values: list[str]) -> list[AuthResult]:
    """Read every method result from Authentication-Results header values.

    Args:
        values: The unfolded header values, top to bottom.

    Returns:
        One AuthResult per method result, in header order.
    """
    results: list[AuthResult] = []
    for value in values:
        try:
            strict = _parse_with_authres(value)
        except authres.AuthResError:
            results.extend(parse_tolerantly(value))
            continue
        results.extend(_fill_dropped_properties(strict, parse_tolerantly(value)))
    return results


def parse_received_spf(values: list[str]) -> list[AuthResult]:
    """Read Received-SPF header values as `spf` results.

    The authserv-id is the `receiver=` value, else the host named at the start
    of the comment (`google.com:`). `envelope-from` is also given as
    `smtp.mailfrom` so callers can read the same key as for
    Authentication-Results.

    Args:
        values: The unfolded header values, top to bottom.

    Returns:
        One result per header whose first word is a result keyword.
    """
    results: list[AuthResult] = []
    for value in values:
        text = value.strip()
        word = _RESULT_WORD.match(text)
        if word is None:
            continue
        rest = text[word.end() :]
        comment_host = _COMMENT_HOST.match(rest.strip())
        properties = {key.lower(): _unquote(raw) for key, raw in _PAIR.findall(_strip_comments(rest))}
        if "envelope-from" in properties:
            properties["smtp.mailfrom"] = properties["envelope-from"]
        authserv_id = properties.get("receiver") or (comment_host.group(1) if comment_host else "")
        results.append(
            AuthResult(
                method="spf",
                result=clean_line(word.group().lower()),
                header="Received-SPF",
                authserv_id=clean_line(authserv_id),
                properties={clean_line(key): clean_line(item) for key, item in properties.items()},
            )
        )
    return results


def parse_tolerantly(value: str) -> list[AuthResult]:
    """Read `method=result` pairs and their properties without the strict grammar.

    The header is split at semicolons outside quotes and comments. The first
    segment is the authserv-id unless it already contains `method=result`. In
    each later segment the first key without a dot is the method. Keys with a
    dot are properties, and so are `reason` and other unknown keys without a dot. A
    known method name starts a new result even without a semicolon before it.

    Args:
        value: One unfolded header value.

    Returns:
        The method results found; none for `none` or text without pairs.
    """
    segments = _split_segments(_strip_comments(value))
    authserv_id = ""
    if segments and not _PAIR.search(segments[0]):
        tokens = segments[0].split()
        authserv_id = tokens[0] if tokens else ""
        segments = segments[1:]
    results: list[AuthResult] = []
    for segment in segments:
        current: AuthResult | None = None
        for key, raw in _PAIR.findall(segment):
            key_lower = key.lower()
            item = clean_line(_unquote(raw))
            starts_result = current is None and "." not in key_lower
            if starts_result or key_lower in _KNOWN_METHODS:
                current = AuthResult(
                    method=clean_line(key_lower),
                    result=item.lower(),
                    authserv_id=clean_line(authserv_id),
                )
                results.append(current)
            elif current is not None:
                current.properties[clean_line(key_lower)] = item
    return results


def _parse_with_authres(value: str) -> list[AuthResult]:
    header = authres.AuthenticationResultsHeader.parse("Authentication-Results: " + value.strip().rstrip(";"))
    results: list[AuthResult] = []
    for result in header.results:
        properties = {
            clean_line(f"{prop.type}.{prop.name}".lower()): clean_line(str(prop.value or ""))
            for prop in result.properties
        }
        if result.reason:
            properties["reason"] = clean_line(str(result.reason))
        results.append(
            AuthResult(
                method=clean_line(str(result.method).lower()),
                result=clean_line(str(result.result).lower()),
                authserv_id=clean_line(str(header.authserv_id or "")),
                properties=properties,
            )
        )
    return results


def _fill_dropped_properties(strict: list[AuthResult], tolerant: list[AuthResult]) -> list[AuthResult]:
    """Add properties that authres dropped, when both readings agree on the results.

    authres 1.2 silently drops a property whose value is a quoted string, such
    as `header.i=" foo bar"@gmail.com`.
    """
    if [(r.method, r.result) for r in strict] != [(r.method, r.result) for r in tolerant]:
        return strict
    for strict_result, tolerant_result in zip(strict, tolerant):
        for key, item in tolerant_result.properties.items():
            strict_result.properties.setdefault(key, item)
    return strict


def _strip_comments(value: str) -> str:
    """Remove RFC 5322 comments, keeping quoted strings intact."""
    output: list[str] = []
    depth = 0
    in_quote = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                output.append(char)
            continue
        if char == "\\" and (in_quote or depth):
            escaped = True
            if depth == 0:
                output.append(char)
            continue
        if in_quote:
            in_quote = char != '"'
            output.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            in_quote = char == '"'
            output.append(char)
    return "".join(output)


def _split_segments(value: str) -> list[str]:
    segments: list[str] = []
    current: list[str] = []
    in_quote = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and in_quote:
            escaped = True
        elif char == '"':
            in_quote = not in_quote
        elif char == ";" and not in_quote:
            segments.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    segments.append("".join(current).strip())
    return [segment for segment in segments if segment]


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r"\\(.)", r"\1", raw[1:-1])
    return raw
