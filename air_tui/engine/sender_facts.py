"""Facts about a message's sender: domain alignment, display-name impersonation and first contact.

Each function is pure and returns `Fact` values with a ready evidence sentence, so the rules
that weigh them can stay short. Every string compared here comes from the message and is
attacker-controlled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from air_tui.domain.message import EmailMessage
from air_tui.domain.tenant import User
from air_tui.engine.lookalike import normalise_domain, skeleton, unicode_domain
from air_tui.mail.urls import registrable_domain

RETURN_PATH_MISALIGNED = "return-path-misaligned"
REPLY_TO_MISALIGNED = "reply-to-misaligned"
DKIM_NOT_ALIGNED = "dkim-not-aligned"
DKIM_MISSING = "dkim-missing"
DISPLAY_NAME_VIP = "display-name-vip"
DISPLAY_NAME_USER = "display-name-user"
DISPLAY_NAME_ADDRESS = "display-name-address"
DISPLAY_NAME_BRAND = "display-name-brand"
DISPLAY_NAME_ORGANISATION = "display-name-organisation"
FIRST_CONTACT = "first-contact"
KNOWN_SENDER = "known-sender"

NAME_MATCH_SCORE = 90
"""Lowest rapidfuzz similarity (0 to 100) at which a display name counts as a directory user's name."""
MAX_NAME_CHARS = 200
"""Display names are cut to this length before they are compared."""

# Names this short match too many people by accident, so they must match exactly.
_MIN_FUZZY_NAME = 6
# Brand names of this length or more are found inside longer words ("paypalservice"). Shorter
# ones must be a word of their own, so "Chase" is not found in "Purchase".
_MIN_BRAND_IN_WORD = 6
_MIN_ORGANISATION_LABEL = 4
_WORD = re.compile(r"[^\W_]+")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})
_ADDRESS_IN_NAME = re.compile(r"[\w.+'-]+@((?:[\w-]+\.)+[\w-]{2,})")


@dataclass(frozen=True)
class Fact:
    """One observation about the sender, ready for an evidence line."""

    kind: str
    """Stable identifier of the observation, such as `return-path-misaligned`; the module constants list them."""
    sentence: str
    """Plain-English evidence line."""
    value: str = ""
    """The domain, address or name the fact is about."""
    score: int = 0
    """Name similarity from 0 to 100 for display-name matches, else 0."""


@dataclass(frozen=True)
class Alignment:
    """Alignment of the From domain with the other sender domains, at the organisational level."""

    from_domain: str
    return_path_domain: str
    reply_to_domains: tuple[str, ...]
    dkim_domains: tuple[str, ...]
    return_path_aligned: bool | None
    """None when there is no Return-Path domain to compare."""
    reply_to_aligned: bool | None
    """None when there is no Reply-To domain to compare."""
    dkim_aligned: bool | None
    """True when a DKIM-Signature `d=` domain is aligned; None when the message has no signature.
    Signatures are not verified here, so pair this with the trusted `dkim` result."""
    facts: tuple[Fact, ...]
    """Facts for every domain that is not aligned, and for a missing signature."""


def alignment_facts(
    message: EmailMessage,
    organisational_domain: Callable[[str], str] = registrable_domain,
) -> Alignment:
    """Compare the From domain with the Return-Path, Reply-To and DKIM `d=` domains.

    Domains align when their organisational domains are equal (relaxed alignment as in DMARC,
    RFC 7489), so `bounce.paypal.com` aligns with `paypal.com`. Unicode and `xn--` spellings of
    one domain are equal.

    Args:
        message: The parsed message.
        organisational_domain: Returns the organisational (registrable) domain of a host.

    Returns:
        The compared domains, whether each aligns, and a fact for each that does not. Without a
        From domain nothing is compared and there are no facts.
    """
    from_domain = normalise_domain(message.sender.domain)
    return_path = normalise_domain(message.return_path) if "@" in message.return_path else ""
    reply_to = _unique(normalise_domain(item.domain) for item in message.reply_to if item.domain)
    signers = _unique(normalise_domain(domain) for domain in message.dkim_domains)
    if not from_domain:
        return Alignment("", return_path, reply_to, signers, None, None, None, ())

    organisation = _safe_organisational(organisational_domain, from_domain)
    shown_from = unicode_domain(from_domain)
    facts: list[Fact] = []

    return_path_aligned: bool | None = None
    if return_path:
        return_path_aligned = _safe_organisational(organisational_domain, return_path) == organisation
        if not return_path_aligned:
            facts.append(
                Fact(
                    RETURN_PATH_MISALIGNED,
                    f"Return-Path domain {unicode_domain(return_path)} differs from From domain {shown_from}.",
                    return_path,
                )
            )

    reply_to_aligned: bool | None = None
    if reply_to:
        reply_to_aligned = True
        for domain in reply_to:
            if _safe_organisational(organisational_domain, domain) == organisation:
                continue
            reply_to_aligned = False
            addresses = [item.address for item in message.reply_to if normalise_domain(item.domain) == domain]
            shown_address = addresses[0] if addresses else domain
            facts.append(
                Fact(
                    REPLY_TO_MISALIGNED,
                    f"Replies go to {shown_address}, whose domain {unicode_domain(domain)} differs from From domain {shown_from}.",
                    domain,
                )
            )

    dkim_aligned: bool | None = None
    if signers:
        dkim_aligned = any(_safe_organisational(organisational_domain, domain) == organisation for domain in signers)
        if not dkim_aligned:
            signed_by = ", ".join(unicode_domain(domain) for domain in signers)
            facts.append(
                Fact(
                    DKIM_NOT_ALIGNED,
                    f"No DKIM signature is aligned with the From domain {shown_from} (signed by {signed_by}).",
                    signers[0],
                )
            )
    else:
        facts.append(Fact(DKIM_MISSING, f"The message has no DKIM signature for the From domain {shown_from} or any other.", from_domain))

    return Alignment(from_domain, return_path, reply_to, signers, return_path_aligned, reply_to_aligned, dkim_aligned, tuple(facts))


def impersonation(
    display_name: str,
    address: str,
    users: Iterable[User],
    own_domains: Iterable[str],
    brands: Mapping[str, list[str]],
) -> list[Fact]:
    """Check a sender's display name for impersonation.

    Three things are checked. First, a display name that is or contains an address in another
    organisational domain than the sender's (`"ceo@larkspur.example" <x@evil.test>`). Then, for
    a sender outside the organisation's domains, a display name that matches a directory user's
    name: equal, or with rapidfuzz similarity of at least 90 after NFKC, case folding and the
    confusable skeleton, VIPs marked. Last, a brand or the organisation named in the display
    name while the address is not in one of its domains.

    Args:
        display_name: The From display name, as decoded.
        address: The From address.
        users: The organisation's directory.
        own_domains: The organisation's domains; their subdomains count as own too.
        brands: Brand name mapped to its real domains. An empty list means the domains are
            unknown, so only a domain whose name is the brand's name counts as the brand's.

    Returns:
        One fact per finding, the address fact first, at most one user and one brand fact.
    """
    shown_name = repr(str(display_name).strip()[:MAX_NAME_CHARS])
    name = _strip_invisible(str(display_name))[:MAX_NAME_CHARS]
    address = str(address).strip().lower()
    domain = normalise_domain(address) if "@" in address else ""
    own = [item for item in (normalise_domain(entry) for entry in own_domains) if item]
    facts: list[Fact] = []

    address_fact = _address_in_name(name, address, domain, own)
    if address_fact is not None:
        facts.append(address_fact)
    # An address in the name is reported above; the rest of the name is checked on its own.
    name = _ADDRESS_IN_NAME.sub(" ", unicodedata.normalize("NFKC", name))
    if not name.strip() or (domain and _within(domain, own)):
        return facts

    user_fact = _user_match(name, shown_name, address, users)
    if user_fact is not None:
        facts.append(user_fact)
    brand_fact = _brand_named(name, shown_name, domain, own, brands)
    if brand_fact is not None:
        facts.append(brand_fact)
    return facts


def first_contact_fact(earlier_count: int | None, sender: str) -> Fact | None:
    """State whether mail from `sender` reached the organisation before.

    Args:
        earlier_count: Messages from the same address found before this one, or None when
            that could not be counted.
        sender: The sender address.

    Returns:
        A `first-contact` fact when none came before, a `known-sender` fact otherwise, and
        None when the count is unknown or there is no address.
    """
    if earlier_count is None or not sender:
        return None
    if earlier_count <= 0:
        return Fact(FIRST_CONTACT, f"No earlier message from {sender} was found in any mailbox: this is first contact.", sender)
    noun = "message" if earlier_count == 1 else "messages"
    return Fact(KNOWN_SENDER, f"{earlier_count} earlier {noun} from {sender} reached the organisation's mailboxes.", sender)


def _address_in_name(name: str, address: str, domain: str, own: list[str]) -> Fact | None:
    folded = unicodedata.normalize("NFKC", name)
    for match in _ADDRESS_IN_NAME.finditer(folded):
        shown_address = match.group(0).lower()
        if shown_address == address:
            continue
        shown_domain = normalise_domain(match.group(1))
        if domain and registrable_domain(shown_domain) == registrable_domain(domain):
            continue
        whose = "an address of the organisation" if _within(shown_domain, own) else "the address"
        source = address or "no usable address"
        return Fact(
            DISPLAY_NAME_ADDRESS,
            f"The display name shows {whose} {shown_address}, but the message comes from {source}.",
            shown_address,
        )
    return None


def _user_match(name: str, shown_name: str, address: str, users: Iterable[User]) -> Fact | None:
    variants = _name_variants(name)
    if not any(variants):
        return None
    best: tuple[int, bool, User] | None = None
    for user in users:
        if not user.display_name or user.address.lower() == address:
            continue
        score = _name_score(variants, _fold_name(user.display_name))
        if score < NAME_MATCH_SCORE:
            continue
        candidate = (score, user.vip, user)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        return None
    score, vip, user = best
    how = "matches" if score == 100 else f"closely resembles ({score}% similar)"
    who = "the VIP" if vip else "the user"
    sentence = (
        f"The display name {shown_name} {how} {who} {user.display_name} ({user.address}), "
        f"but the address {address or '(none)'} is external."
    )
    return Fact(DISPLAY_NAME_VIP if vip else DISPLAY_NAME_USER, sentence, user.address, score)


def _name_score(variants: tuple[str, ...], target: str) -> int:
    if not target:
        return 0
    best = 0
    for variant in variants:
        if not variant:
            continue
        if variant == target:
            return 100
        if min(len(variant), len(target)) < _MIN_FUZZY_NAME:
            continue
        score = max(fuzz.ratio(variant, target), fuzz.token_sort_ratio(variant, target))
        best = max(best, int(score))
    return best


def _brand_named(name: str, shown_name: str, domain: str, own: list[str], brands: Mapping[str, list[str]]) -> Fact | None:
    words_per_variant = [variant.split() for variant in _name_variants(name)]
    candidates: list[tuple[str, list[str], str]] = []
    for own_domain in own:
        label = registrable_domain(own_domain).split(".")[0]
        if len(label) >= _MIN_ORGANISATION_LABEL:
            candidates.append((label, own, DISPLAY_NAME_ORGANISATION))
    candidates.extend((brand, list(domains), DISPLAY_NAME_BRAND) for brand, domains in brands.items())

    for brand, domains, kind in candidates:
        compact = "".join(_fold_name(brand).split())
        if not compact or not any(_names_brand(words, compact) for words in words_per_variant):
            continue
        real = [item for item in (normalise_domain(entry) for entry in domains) if item]
        if domain and _is_brand_domain(domain, real, compact):
            continue
        shown_domain = unicode_domain(domain) if domain else "(no domain)"
        if kind == DISPLAY_NAME_ORGANISATION:
            sentence = (
                f"The display name {shown_name} names the organisation ({brand}), "
                f"but the sender domain {shown_domain} is not one of its domains."
            )
        else:
            sentence = f"The display name {shown_name} names the brand {brand}, but the sender domain {shown_domain} is not the brand's."
        return Fact(kind, sentence, brand)
    return None


def _names_brand(words: list[str], compact: str) -> bool:
    """Return whether consecutive words spell the brand, or a long brand name sits inside a word."""
    for start in range(len(words)):
        joined = ""
        # Letters spaced out or split by punctuation ("D/H/L", "P a y P a l") are joined back.
        for word in words[start : start + len(compact)]:
            joined += word
            if joined in (compact, compact + "tm"):
                return True
            if len(joined) > len(compact) + 2:
                break
        if len(compact) >= _MIN_BRAND_IN_WORD and compact in words[start]:
            return True
    return False


def _is_brand_domain(domain: str, real: list[str], compact: str) -> bool:
    if real:
        return _within(domain, real)
    return registrable_domain(domain).split(".")[0] == compact


def _within(domain: str, parents: Iterable[str]) -> bool:
    return any(domain == parent or domain.endswith("." + parent) for parent in parents)


def _name_variants(name: str) -> tuple[str, ...]:
    # A capital I reads as a lower-case l in many fonts ("PaypaI"), but folding case first
    # would turn it into i, so the name is also compared with every I read as l.
    plain = _fold_name(name)
    swapped = _fold_name(name.replace("I", "l")) if "I" in name else ""
    return (plain, swapped) if swapped and swapped != plain else (plain,)


@lru_cache(maxsize=4096)
def _fold_name(name: str) -> str:
    """Return the name's words in confusable-skeleton form, joined by single spaces."""
    return " ".join(_WORD.findall(skeleton(_strip_invisible(name)[:MAX_NAME_CHARS])))


def _strip_invisible(text: str) -> str:
    # Zero-width, direction and variation-selector characters are invisible or only change how a
    # letter is drawn, so they must not split or change a name.
    return "".join(char for char in text if unicodedata.category(char) not in _INVISIBLE_CATEGORIES)


def _safe_organisational(organisational_domain: Callable[[str], str], domain: str) -> str:
    try:
        return organisational_domain(domain) or domain
    except (ValueError, UnicodeError):
        return domain


def _unique(domains: Iterable[str]) -> tuple[str, ...]:
    seen: list[str] = []
    for domain in domains:
        if domain and domain not in seen:
            seen.append(domain)
    return tuple(seen)
