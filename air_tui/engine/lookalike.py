"""Lookalike domains: typos, confusable characters, mixed scripts, brand names and subdomain tricks.

`lookalike` compares one domain with the real domains of the organisation and of frequently
impersonated brands. Every comparison works on the label left of the public suffix (`paypal`
in `paypal.co.uk`) and on its confusable skeleton, a form in which characters that look
alike are the same character, after Unicode Technical Standard #39.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

import idna
from confusable_homoglyphs import categories, confusables
from rapidfuzz.distance import Levenshtein

from air_tui.mail.urls import registrable_domain

MAX_DOMAIN_CHARS = 253
"""Maximum length of a domain name in DNS; longer input is cut to this length before it is read."""
MAX_LABEL_CHARS = 63
"""Maximum length of a DNS label; longer labels are never compared, which keeps each call cheap."""

CONFUSABLE = "confusable"
EDIT_DISTANCE = "edit-distance"
BRAND_EMBEDDED = "brand-embedded"
SUBDOMAIN = "subdomain"
OTHER_SUFFIX = "other-suffix"
MIXED_SCRIPT = "mixed-script"

DEFAULT_BRANDS: dict[str, list[str]] = {
    "Microsoft": [
        "microsoft.com",
        "microsoftonline.com",
        "microsoft365.com",
        "office.com",
        "office365.com",
        "outlook.com",
        "live.com",
        "hotmail.com",
        "msn.com",
        "sharepoint.com",
        "onmicrosoft.com",
        "windows.com",
        "azure.com",
        "skype.com",
        "xbox.com",
    ],
    "Office 365": ["office.com", "office365.com", "microsoft365.com", "microsoft.com", "outlook.com", "sharepoint.com", "onmicrosoft.com"],
    "PayPal": ["paypal.com", "paypal.me", "paypalobjects.com", "paypal.de", "paypal.co.uk"],
    "DHL": ["dhl.com", "dhl.de", "dhl.nl", "dhl.co.uk", "dhl.fr", "dhlparcel.nl", "dpdhl.com"],
    "FedEx": ["fedex.com"],
    "UPS": ["ups.com"],
    "USPS": ["usps.com"],
    "Amazon": [
        "amazon.com",
        "amazon.co.uk",
        "amazon.de",
        "amazon.fr",
        "amazon.it",
        "amazon.es",
        "amazon.nl",
        "amazon.ca",
        "amazon.in",
        "amazon.co.jp",
        "amazon.com.br",
        "amazon.com.au",
        "amazonses.com",
        "amazonaws.com",
    ],
    "Apple": ["apple.com", "icloud.com", "me.com", "mac.com", "itunes.com", "apple-dns.net", "cdn-apple.com", "mzstatic.com"],
    "DocuSign": ["docusign.com", "docusign.net"],
    "Netflix": ["netflix.com", "netflix.net"],
    "Binance": ["binance.com", "binance.us"],
    "Coinbase": ["coinbase.com"],
    "Facebook": ["facebook.com", "facebookmail.com", "fb.com", "meta.com", "fbcdn.net", "facebook.net"],
    "Instagram": ["instagram.com"],
    "WhatsApp": ["whatsapp.com", "whatsapp.net"],
    "Google": [
        "google.com",
        "gmail.com",
        "googlemail.com",
        "youtube.com",
        "google.co.uk",
        "google.de",
        # Google's own content, API and redirect domains, which carry the brand name by design.
        "googleusercontent.com",
        "googleapis.com",
        "gstatic.com",
        "googlevideo.com",
        "googletagmanager.com",
        "google-analytics.com",
        "googleadservices.com",
        "googlesyndication.com",
        "googlegroups.com",
        "withgoogle.com",
        "goo.gl",
        "g.co",
    ],
    "LinkedIn": ["linkedin.com"],
    "Adobe": ["adobe.com"],
    "Dropbox": ["dropbox.com"],
    "Wells Fargo": ["wellsfargo.com", "wf.com"],
    "Chase": ["chase.com", "jpmorgan.com", "jpmorganchase.com"],
    "Bank of America": ["bankofamerica.com", "bofa.com"],
    "McAfee": ["mcafee.com"],
    "Norton": ["norton.com", "nortonlifelock.com"],
    "Correios": ["correios.com.br"],
    "PostNL": ["postnl.nl", "postnl.com"],
}
"""Frequently impersonated brands and their real domains. Configuration adds more."""

# Labels that are everyday words or common mail providers. They are compared only through the
# confusable skeleton, because one edit or a longer word around them ("offices", "email",
# "myoffice") names ordinary domains far more often than fakes.
_COMMON_WORD_LABELS = frozenset({"office", "outlook", "live", "windows", "azure", "gmail", "skype", "xbox", "mac", "me"})

# Shortest label compared by edit distance, and the label length from which two edits are allowed.
_MIN_EDIT_LABEL = 4
_TWO_EDITS_FROM = 8
# Shortest brand label found inside a longer word. Shorter ones must stand as a hyphen-separated
# word, so `chase` is not found in `purchase` nor `ups` in `groups`.
_MIN_EMBEDDED_IN_WORD = 6
_SEQUENCES = (("rn", "m"), ("vv", "w"), ("cl", "d"))
"""Letter pairs that read as one letter in most fonts, from the UTS #39 confusables data."""
_DIGITS = {"0": "o", "1": "l"}
# UTS #39 maps Cyrillic palochka to l; the bundled data lists it under i.
_OVERRIDES = {"\u04cf": "l", "\u04c0": "l"}
_CONFUSABLE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class LookalikeMatch:
    """A domain that imitates a real one, with how it does so."""

    domain: str
    """The checked domain in lower-case A-label (`xn--`) form."""
    display_domain: str
    """The same domain as a mail client shows it, in Unicode."""
    target: str
    """Name of the imitated organisation or brand; empty for a mixed-script domain that resembles none."""
    target_domain: str
    """The real domain imitated; empty when `target` is empty."""
    technique: str
    """`confusable`, `other-suffix`, `edit-distance`, `brand-embedded`, `subdomain` or `mixed-script`."""
    punycode: bool
    """True when the domain contains a Unicode label, which mail carries as `xn--` punycode."""
    mixed_scripts: tuple[str, ...]
    """Scripts mixed inside one label, such as ("Latin", "Cyrillic"); empty when none."""
    distance: int
    """Levenshtein distance between the compared labels, 0 unless the technique is `edit-distance`."""
    sentence: str
    """Plain-English evidence line."""


@dataclass(frozen=True)
class _Reference:
    name: str
    domain: str
    label: str
    skeleton: str
    max_edits: int


@dataclass(frozen=True)
class _Embedded:
    name: str
    domain: str
    needle: str
    in_word: bool


@dataclass(frozen=True)
class LookalikeTargets:
    """Real domains prepared once for many `lookalike` calls."""

    real_domains: Mapping[str, str]
    """Each real domain in A-label form, mapped to the name it belongs to."""
    references: tuple[_Reference, ...]
    by_skeleton: Mapping[str, tuple[_Reference, ...]]
    embedded: tuple[_Embedded, ...]


@lru_cache(maxsize=8192)
def normalise_domain(domain: str) -> str:
    """Convert a domain to lower-case A-label form, so its Unicode and `xn--` spellings are one.

    The IDNA mapping of UTS #46 folds case, full-width letters and ideographic full stops.
    A label that IDNA rejects, such as one with an underscore or an emoji, is kept lower-cased
    or converted with plain punycode, so the result is never empty for non-empty input.

    Args:
        domain: A domain name, or an address whose part after the last `@` is used.

    Returns:
        The normalised domain without a trailing dot, or an empty string for empty input.
    """
    text = str(domain).strip().rpartition("@")[2].strip().strip(".")[:MAX_DOMAIN_CHARS]
    if not text:
        return ""
    try:
        return idna.encode(text, uts46=True).decode("ascii").lower().rstrip(".")
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    labels = re.split(r"[.\u3002\uff0e\uff61]", text)
    return ".".join(_encode_label(label) for label in labels if label)


def unicode_domain(domain: str) -> str:
    """Return a normalised domain as a mail client shows it, with `xn--` labels decoded."""
    return ".".join(_decode_label(label) for label in domain.split("."))


def merge_brands(
    names: Iterable[str],
    brand_domains: Mapping[str, list[str]],
    base: Mapping[str, list[str]] = DEFAULT_BRANDS,
) -> dict[str, list[str]]:
    """Extend a brand table with configured brand names and domains.

    Names are compared without case, spaces or punctuation, so `paypal` and `Pay Pal` extend
    the built-in `PayPal` rather than adding a brand without domains, which would make the
    real brand's own mail look like impersonation.

    Args:
        names: Extra brand names, such as `Organisation.brands` and `AnalysisConfig.brands`.
        brand_domains: Brand name mapped to its real domains, such as `AnalysisConfig.brand_domains`.
        base: The table to extend; it is not changed.

    Returns:
        A new table: name mapped to real domains, each domain once.
    """
    merged: dict[str, list[str]] = {name: list(domains) for name, domains in base.items()}
    by_key = {_brand_key(name): name for name in merged}
    for name in [*names, *brand_domains]:
        key = _brand_key(name)
        if key and key not in by_key:
            by_key[key] = str(name).strip()
            merged[by_key[key]] = []
    for name, domains in brand_domains.items():
        entry = merged.get(by_key.get(_brand_key(name), ""))
        if entry is None:
            continue
        for domain in domains:
            if domain and domain not in entry:
                entry.append(domain)
    return merged


def compile_targets(targets: Mapping[str, list[str]]) -> LookalikeTargets:
    """Prepare the labels, skeletons and brand names of `targets` for fast comparison.

    Args:
        targets: Organisation or brand name mapped to its real domains.

    Returns:
        The prepared table; `lookalike` accepts it in place of the mapping.
    """
    return _compile(_freeze(targets))


def lookalike(domain: str, targets: Mapping[str, list[str]] | LookalikeTargets) -> LookalikeMatch | None:
    """Check whether `domain` imitates one of the real domains in `targets`.

    A real domain and its subdomains are never lookalikes. Otherwise these checks run in order
    and the first match wins:

    - `confusable`: the same skeleton as a real label (`paypa1`, `rnicrosoft`, Cyrillic `а`).
    - `other-suffix`: a real label of 4 or more characters under another suffix (`larkspur.net`).
    - `subdomain`: a real domain written in front of another one (`paypal.com.evil.test`).
    - `edit-distance`: one edit from a real label of 4 to 7 characters, two from one of 8 or more.
    - `brand-embedded`: a brand name with extra words (`paypal-secure-login.com`).
    - `subdomain`: a brand label used as a subdomain (`paypal.evil.test`).
    - `mixed-script`: Latin mixed with Cyrillic, Greek or Armenian letters in one label, even
      when the domain resembles no target.

    Args:
        domain: The domain to check, in any spelling.
        targets: Name mapped to real domains, or a table from `compile_targets`.

    Returns:
        The match, or None when the domain imitates nothing.
    """
    table = targets if isinstance(targets, LookalikeTargets) else _compile(_freeze(targets))
    normalised = normalise_domain(domain)
    if not normalised or _is_real(normalised, table.real_domains):
        return None
    shown = unicode_domain(normalised)
    registrable = registrable_domain(normalised)
    label = registrable.split(".")[0]
    subdomain_labels = normalised[: -len(registrable)].rstrip(".").split(".") if normalised != registrable else []
    shown_label = _decode_label(label)
    mixed = _mixed_scripts(shown)
    context = _Context(normalised, shown, registrable, label, shown_label, mixed)

    found = (
        _confusable(context, table)
        or _real_domain_in_subdomain(context, subdomain_labels, table)
        or _near_label(context, table)
        or _embedded_brand(context, table)
        or _brand_subdomain(context, subdomain_labels, table)
    )
    if found is not None:
        return found
    if mixed:
        sentence = f"{_shown_pair(context)} mixes {_script_list(mixed)} letters in one label, a way to imitate another domain"
        return context.match("", "", MIXED_SCRIPT, 0, sentence)
    return None


@dataclass(frozen=True)
class _Context:
    domain: str
    shown: str
    registrable: str
    label: str
    shown_label: str
    mixed: tuple[str, ...]

    @property
    def punycode(self) -> bool:
        return self.shown != self.domain

    def match(self, target: str, target_domain: str, technique: str, distance: int, sentence: str) -> LookalikeMatch:
        return LookalikeMatch(
            domain=self.domain,
            display_domain=self.shown,
            target=target,
            target_domain=target_domain,
            technique=technique,
            punycode=self.punycode,
            mixed_scripts=self.mixed,
            distance=distance,
            sentence=sentence[0].upper() + sentence[1:] + ".",
        )


def _confusable(context: _Context, table: LookalikeTargets) -> LookalikeMatch | None:
    if len(context.label) > MAX_LABEL_CHARS:
        return None
    same_name: _Reference | None = None
    for reference in table.by_skeleton.get(skeleton(context.shown_label), ()):
        if reference.label == context.label:
            same_name = same_name or reference
            continue
        if context.mixed:
            how = f"mixes {_script_list(context.mixed)} letters"
        elif context.punycode:
            how = "uses non-Latin letters that look like Latin ones"
        else:
            how = f"uses characters that look alike ({context.shown_label} reads as {reference.label})"
        sentence = f"{_shown_pair(context)} imitates {_target_text(reference.name, reference.domain)} because it {how}"
        return context.match(reference.name, reference.domain, CONFUSABLE, 0, sentence)
    if same_name is not None and same_name.label not in _COMMON_WORD_LABELS and len(same_name.label) >= _MIN_EDIT_LABEL:
        # NOTE: brands own more country domains than the table lists, so amazon.se is reported here too.
        sentence = (
            f"{_shown_pair(context)} uses the name {same_name.label} under another suffix than "
            f"{_target_text(same_name.name, same_name.domain)}"
        )
        return context.match(same_name.name, same_name.domain, OTHER_SUFFIX, 0, sentence)
    return None


def _real_domain_in_subdomain(context: _Context, labels: list[str], table: LookalikeTargets) -> LookalikeMatch | None:
    # Real domains have at most four labels (amazon.com.br has three), which bounds the search.
    for start in range(len(labels)):
        for end in range(start + 2, min(start + 4, len(labels)) + 1):
            candidate = ".".join(labels[start:end])
            name = table.real_domains.get(candidate)
            if name is not None:
                sentence = (
                    f"the domain {context.shown} puts {candidate} in front of the unrelated domain {context.registrable}, "
                    f"so it reads as {_target_text(name, candidate)}"
                )
                return context.match(name, candidate, SUBDOMAIN, 0, sentence)
    return None


def _near_label(context: _Context, table: LookalikeTargets) -> LookalikeMatch | None:
    label = skeleton(context.shown_label)
    if len(label) > MAX_LABEL_CHARS:
        return None
    best: tuple[int, _Reference] | None = None
    for reference in table.references:
        if reference.max_edits == 0 or abs(len(label) - len(reference.skeleton)) > reference.max_edits:
            continue
        distance = Levenshtein.distance(label, reference.skeleton, score_cutoff=reference.max_edits)
        if 0 < distance <= reference.max_edits and (best is None or distance < best[0]):
            best = (distance, reference)
    if best is None:
        return None
    distance, reference = best
    edits = "1 character edit" if distance == 1 else f"{distance} character edits"
    sentence = (
        f"{_shown_pair(context)} imitates {_target_text(reference.name, reference.domain)} because its name "
        f"{context.shown_label} is {edits} away from {reference.label}"
    )
    return context.match(reference.name, reference.domain, EDIT_DISTANCE, distance, sentence)


def _embedded_brand(context: _Context, table: LookalikeTargets) -> LookalikeMatch | None:
    label = skeleton(context.shown_label)
    if len(label) > MAX_LABEL_CHARS:
        return None
    words = label.split("-")
    for embedded in table.embedded:
        if embedded.needle == label:
            continue
        if embedded.needle in words or (embedded.in_word and embedded.needle in label):
            sentence = (
                f"{_shown_pair(context)} imitates {_target_text(embedded.name, embedded.domain)} because it wraps "
                f"the name {embedded.needle} in other words ({context.shown_label})"
            )
            return context.match(embedded.name, embedded.domain, BRAND_EMBEDDED, 0, sentence)
    return None


def _brand_subdomain(context: _Context, labels: list[str], table: LookalikeTargets) -> LookalikeMatch | None:
    for label in labels:
        if len(label) < _MIN_EDIT_LABEL or len(label) > MAX_LABEL_CHARS:
            continue
        for reference in table.by_skeleton.get(skeleton(_decode_label(label)), ()):
            if reference.label in _COMMON_WORD_LABELS:
                continue
            sentence = (
                f"the domain {context.shown} uses {_decode_label(label)} as a subdomain of the unrelated domain "
                f"{context.registrable}, so it reads as {_target_text(reference.name, reference.domain)}"
            )
            return context.match(reference.name, reference.domain, SUBDOMAIN, 0, sentence)
    return None


def skeleton(text: str) -> str:
    """Return the confusable skeleton of `text`: the form in which look-alike characters are equal.

    NFKC folds full-width and mathematical letters, and accents are dropped. Each character the
    UTS #39 data lists as confusable with a Latin letter or digit becomes that letter, then case
    is folded. `0` and `1` become `o` and `l`, and `rn`, `vv` and `cl` become `m`, `w` and `d`.
    """
    return _skeleton(text[:1024])


@lru_cache(maxsize=65_536)
def _skeleton(text: str) -> str:
    # Characters are mapped before case is folded, because the data relates some capitals only
    # (Cyrillic Н to H, while н looks like no Latin letter).
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text))
    mapping = _character_map()
    result = "".join(mapping.get(char, char) for char in decomposed if not unicodedata.combining(char)).casefold()
    for sequence, replacement in _SEQUENCES:
        result = result.replace(sequence, replacement)
    return result


@cache
def _character_map() -> dict[str, str]:
    """Map each character that the confusables data relates to one Latin letter or digit."""
    data = confusables.confusables_data
    mapping: dict[str, str] = dict(_DIGITS)
    for key in data:
        char = key.strip("\u200e")
        if len(char) != 1 or char.isascii():
            continue
        # A capital maps like its small letter when that one has a Latin look-alike, so that
        # Cyrillic І folds to i as its small letter і does, not to l as the data has it.
        lower = char.lower()
        target = (_ascii_homoglyph(lower, data) if len(lower) == 1 and lower != char else "") or _ascii_homoglyph(char, data)
        if target:
            mapping[char] = target
    mapping.update(_OVERRIDES)
    return mapping


def _ascii_homoglyph(char: str, data: dict[str, list[dict[str, str]]]) -> str:
    # Some entries lead to an intermediate character first (Cyrillic к to Latin kra to k).
    seen = {char}
    current = char
    for _ in range(3):
        glyphs = [item["c"].strip("\u200e") for item in data.get(current, [])]
        for glyph in glyphs:
            lowered = glyph.casefold()
            if len(lowered) == 1 and lowered.isascii() and lowered.isalnum():
                return _DIGITS.get(lowered, lowered)
        following = [glyph for glyph in glyphs if len(glyph) == 1 and glyph not in seen]
        if not following:
            return ""
        current = following[0]
        seen.add(current)
    return ""


def _mixed_scripts(shown: str) -> tuple[str, ...]:
    """Return the scripts of the first label that mixes Latin with a script of look-alike letters."""
    for label in shown.split("."):
        if label.isascii():
            continue
        scripts = {categories.alias(char) for char in label if char.isalpha()}
        others = sorted(scripts & _CONFUSABLE_SCRIPTS)
        if "LATIN" in scripts and others:
            return ("Latin", *(name.title() for name in others))
    return ()


def _brand_key(name: str) -> str:
    return re.sub(r"[\W_]+", "", str(name)).casefold()


def _freeze(targets: Mapping[str, list[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((str(name), tuple(str(domain) for domain in domains)) for name, domains in targets.items())


@lru_cache(maxsize=32)
def _compile(targets: tuple[tuple[str, tuple[str, ...]], ...]) -> LookalikeTargets:
    real: dict[str, str] = {}
    references: list[_Reference] = []
    embedded: list[_Embedded] = []
    seen_references: set[tuple[str, str]] = set()
    seen_needles: set[str] = set()
    for name, domains in targets:
        normalised = [domain for domain in (normalise_domain(item) for item in domains) if domain]
        for domain in normalised:
            real.setdefault(domain, name)
            label = registrable_domain(domain).split(".")[0]
            key = (name, label)
            if key in seen_references or len(label) > MAX_LABEL_CHARS:
                continue
            seen_references.add(key)
            references.append(_Reference(name, domain, label, skeleton(_decode_label(label)), _max_edits(label)))
            if label not in _COMMON_WORD_LABELS and len(label) >= 3:
                embedded.append(_Embedded(name, domain, skeleton(_decode_label(label)), len(label) >= _MIN_EMBEDDED_IN_WORD))
        compact = skeleton(re.sub(r"[\W_]+", "", name))
        if normalised and compact and len(compact) >= 3 and compact not in _COMMON_WORD_LABELS:
            embedded.append(_Embedded(name, normalised[0], compact, len(compact) >= _MIN_EMBEDDED_IN_WORD))
    unique_embedded = []
    for item in embedded:
        if item.needle not in seen_needles:
            seen_needles.add(item.needle)
            unique_embedded.append(item)
    by_skeleton: dict[str, list[_Reference]] = {}
    for reference in references:
        by_skeleton.setdefault(reference.skeleton, []).append(reference)
    return LookalikeTargets(
        real_domains=real,
        references=tuple(references),
        by_skeleton={key: tuple(value) for key, value in by_skeleton.items()},
        embedded=tuple(unique_embedded),
    )


def _max_edits(label: str) -> int:
    if label in _COMMON_WORD_LABELS or len(label) < _MIN_EDIT_LABEL:
        return 0
    return 2 if len(label) >= _TWO_EDITS_FROM else 1


def _is_real(domain: str, real_domains: Mapping[str, str]) -> bool:
    labels = domain.split(".")
    return any(".".join(labels[index:]) in real_domains for index in range(len(labels)))


def _encode_label(label: str) -> str:
    try:
        return idna.encode(label, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        mapped = idna.uts46_remap(label, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError, ValueError):
        mapped = label.casefold()
    if mapped.isascii():
        return mapped.lower()
    try:
        return "xn--" + mapped.encode("punycode").decode("ascii")
    except UnicodeError:
        return mapped


def _decode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError):
        pass
    try:
        return label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError):
        return label


def _shown_pair(context: _Context) -> str:
    if context.punycode:
        return f"the domain {context.domain}, shown as {context.shown},"
    return f"the domain {context.domain}"


def _target_text(name: str, domain: str) -> str:
    return f"{name} ({domain})" if name else domain


def _script_list(scripts: tuple[str, ...]) -> str:
    return " and ".join(scripts)
