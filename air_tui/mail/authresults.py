"""Authentication-Results (RFC 8601), ARC-Authentication-Results (RFC 8617) and Received-SPF (RFC 7208).

`authres` parses headers that follow RFC 8601. Microsoft 365 writes headers
without an authserv-id and with `action=` and `reason=` outside the grammar,
so most real headers go through the tolerant reader below instead.

Any server on the path, and the sender, can write these headers, so
`select_trusted_results` picks the ones the organisation's own boundary wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import authres

from air_tui.domain.message import AuthResult, EmailMessage
from air_tui.mail.cleaning import clean_line

AUTHENTICATION_RESULTS = "Authentication-Results"
ARC_AUTHENTICATION_RESULTS = "ARC-Authentication-Results"
RECEIVED_SPF = "Received-SPF"

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
_ARC_INSTANCE = re.compile(r"^\s*i\s*=\s*(\d{1,6})\s*(?:;|$)", re.IGNORECASE)


def parse_authentication_results(values: list[str]) -> list[AuthResult]:
    """Read every method result from Authentication-Results header values.

    Args:
        values: The unfolded header values, top to bottom.

    Returns:
        One AuthResult per method result, in header order, with `position`
        set to the index of its header.
    """
    results: list[AuthResult] = []
    for position, value in enumerate(values):
        for result in _parse_value(value):
            result.position = position
            results.append(result)
    return results


def parse_arc_authentication_results(values: list[str]) -> list[AuthResult]:
    """Read every method result from ARC-Authentication-Results header values.

    The value is an Authentication-Results value after an `i=` instance tag,
    as in `i=2; mx.microsoft.com 1; spf=pass ...`. A value without the tag is
    read whole, with instance 0.

    Args:
        values: The unfolded header values, top to bottom.

    Returns:
        One AuthResult per method result, in header order, with `header`,
        `instance` and `position` set.
    """
    results: list[AuthResult] = []
    for position, value in enumerate(values):
        instance_tag = _ARC_INSTANCE.match(value)
        instance = int(instance_tag.group(1)) if instance_tag else 0
        rest = value[instance_tag.end() :] if instance_tag else value
        for result in _parse_value(rest):
            result.header = ARC_AUTHENTICATION_RESULTS
            result.instance = instance
            result.position = position
            results.append(result)
    return results


def _parse_value(value: str) -> list[AuthResult]:
    try:
        strict = _parse_with_authres(value)
    except authres.AuthResError:
        return parse_tolerantly(value)
    return _fill_dropped_properties(strict, parse_tolerantly(value))


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
    for position, value in enumerate(values):
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
                header=RECEIVED_SPF,
                authserv_id=clean_line(authserv_id),
                position=position,
                properties={clean_line(key): clean_line(item) for key, item in properties.items()},
            )
        )
    return results


@dataclass(frozen=True)
class TrustedResults:
    """The authentication results an investigation may count, and why those."""

    results: tuple[AuthResult, ...]
    """Results of the chosen header, plus the topmost Received-SPF when that header has no SPF result."""
    basis: str
    """`trusted` (a configured authserv-id wrote the header), `topmost` (nothing is configured,
    so the topmost Authentication-Results header was taken), `untrusted` (no configured
    authserv-id wrote any header) or `none` (the message has no results)."""
    header: str
    """Header the counted results come from, such as `Authentication-Results`; empty when none."""
    authserv_id: str
    """authserv-id of that header, as written; empty when it names none."""
    ignored: int
    """Results in the message that were not counted."""
    sentence: str
    """Plain-English evidence line that names the counted results and the reason they count."""

    def result(self, method: str) -> str:
        """Return the counted result of `method` (`spf`, `dkim`, `dmarc`, …), or an empty string.

        With several results for one method, as with two DKIM signatures, a pass wins.
        """
        found = [item.result for item in self.results if item.method == method]
        if "pass" in found:
            return "pass"
        return found[0] if found else ""


def trusted_results(message: EmailMessage, authserv_ids: Iterable[str]) -> list[AuthResult]:
    """Return the authentication results of `message` that the organisation's boundary wrote.

    See `select_trusted_results` for the rules.
    """
    return list(select_trusted_results(message.auth_results, authserv_ids).results)


def select_trusted_results(results: Sequence[AuthResult], authserv_ids: Iterable[str]) -> TrustedResults:
    """Choose the results to count from every result a message carries.

    A sender can write an Authentication-Results header that says pass, so only
    headers whose authserv-id is configured count, compared without case. When
    several such headers exist the topmost counts, because the boundary adds
    its header above the ones that came with the message. An
    ARC-Authentication-Results header counts only when no Authentication-Results
    header is trusted. With no authserv-id configured, the topmost
    Authentication-Results header counts and the sentence warns that it could be forged.
    The topmost Received-SPF header adds its SPF result when the chosen header has none.

    Args:
        results: Every result of one message, as `EmailMessage.auth_results`.
        authserv_ids: The tenant's own authserv-id and any other trusted ones;
            empty strings are ignored.

    Returns:
        The counted results with the reason for choosing them.
    """
    trusted_ids = {item.strip().lower() for item in authserv_ids if item and item.strip()}
    if not results:
        return TrustedResults((), "none", "", "", 0, "The message carries no authentication results.")

    chosen: list[AuthResult] = []
    if trusted_ids:
        chosen = _topmost(results, AUTHENTICATION_RESULTS, trusted_ids) or _topmost(results, ARC_AUTHENTICATION_RESULTS, trusted_ids)
        basis = "trusted" if chosen else "untrusted"
    else:
        chosen = _topmost(results, AUTHENTICATION_RESULTS, None)
        basis = "topmost" if chosen else "untrusted"

    # NOTE: when the boundary writes no Received-SPF, a forged one from the sender is the topmost
    # and is counted, because the header's place among the Received hops is not kept.
    received_spf = next((item for item in results if item.header == RECEIVED_SPF and item.position == 0), None)
    spf_added = received_spf is not None and not any(item.method == "spf" for item in chosen)
    counted = [*chosen, received_spf] if spf_added and received_spf is not None else chosen

    if chosen:
        header = chosen[0].header
    else:
        header = RECEIVED_SPF if counted else ""
    authserv_id = chosen[0].authserv_id if chosen else ""
    ignored = len(results) - len(counted)
    sentence = _trust_sentence(basis, chosen, received_spf if spf_added else None, sorted(trusted_ids), ignored)
    return TrustedResults(tuple(counted), basis, header, authserv_id, ignored, sentence)


def _topmost(results: Sequence[AuthResult], header: str, trusted_ids: set[str] | None) -> list[AuthResult]:
    candidates = [
        item for item in results if item.header == header and (trusted_ids is None or item.authserv_id.lower() in trusted_ids)
    ]
    if not candidates:
        return []
    position = min(item.position for item in candidates)
    return [item for item in candidates if item.position == position]


def _trust_sentence(
    basis: str,
    chosen: list[AuthResult],
    received_spf: AuthResult | None,
    trusted_ids: list[str],
    ignored: int,
) -> str:
    sentences: list[str] = []
    if chosen:
        writer = f"written by {chosen[0].authserv_id}" if chosen[0].authserv_id else "that names no authserv-id"
        if basis == "trusted":
            sentences.append(f"Counted the {chosen[0].header} header {writer}, a trusted authserv-id: {summarise_results(chosen)}.")
        else:
            sentences.append(
                f"No trusted authserv-id is configured, so the topmost {chosen[0].header} header {writer} was counted: "
                f"{summarise_results(chosen)}. A sender can forge this header."
            )
    elif trusted_ids:
        sentences.append(f"No authentication header was written by a trusted authserv-id ({', '.join(trusted_ids)}).")
    else:
        sentences.append("The message has no Authentication-Results header.")
    if received_spf is not None:
        receiver = f" from receiver {received_spf.authserv_id}" if received_spf.authserv_id else ""
        sentences.append(f"SPF comes from the topmost Received-SPF header{receiver}: spf={received_spf.result}.")
    if ignored:
        noun = "result was" if ignored == 1 else "results were"
        sentences.append(f"{ignored} other {noun} not counted, because any server on the path or the sender can write them.")
    return " ".join(sentences)


def summarise_results(results: Iterable[AuthResult]) -> str:
    """Return results as `spf=pass, dkim=pass, dmarc=fail`, each method once, in order met."""
    seen: dict[str, str] = {}
    for item in results:
        if item.method not in seen or item.result == "pass":
            seen[item.method] = item.result
    return ", ".join(f"{method}={result}" for method, result in seen.items()) or "no method results"


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
    if "(" not in value:
        # Without an opening parenthesis there is no comment, and every character is kept.
        return value
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
    if '"' not in value:
        # Without quotes every semicolon separates segments.
        return [segment.strip() for segment in value.split(";") if segment.strip()]
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
