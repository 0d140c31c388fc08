"""Body fingerprints and shingles, for clusters of near-duplicate messages.

Copies of one campaign differ in the recipient's name, numbers, links and tracking tokens, and
sometimes in a sentence. Normalising masks what varies per recipient. The fingerprint, a 64-bit
SimHash, maps texts that share most of their words to values a few bits apart, so the index
finds candidates by Hamming distance instead of by comparing every body. Sixty-four bits cannot
tell a changed sentence from a long shared signature, so candidates are confirmed by comparing
word shingles (`shingles`, `jaccard`).

Measured with the texts in `tests/core/test_clustering.py` (a 110-word campaign body and
34-word notes that share a 48-word signature):

| pair | SimHash distance | Jaccard of 3-word shingles |
|---|---|---|
| other names, numbers and links | 0 to 4 bits | 0.96 or more |
| one 15-word sentence changed as well | 7 to 9 bits | 0.70 or more |
| unrelated notes, same signature | 9 to 16 bits | 0.41 to 0.43 |
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter

FINGERPRINT_BITS = 64
MIN_WORDS = 8
"""Bodies with fewer words get no fingerprint: too short to tell one campaign from another."""

LONG_TOKEN_CHARS = 24
"""Tokens at least this long are ids, hashes or base64, which differ per recipient."""

_MAX_WEIGHT_CHARS = 10

SHINGLE_WORDS = 3
"""Words per shingle when bodies are compared: runs of words, so shared vocabulary alone is not enough."""

_URL = re.compile(r"(?:\b[a-z][a-z0-9+.-]{1,15}://|\bwww\.)\S+", re.IGNORECASE)
# The lookbehind starts a match only where a run of address characters starts. A match
# found inside a run would also be found from the run's start, so the result is the same,
# but the search no longer rescans each word once per character of it.
_EMAIL = re.compile(r"(?<![^\s@<>()\[\]\"',;:])[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[^\s@<>()\[\]\"',;:]+")
_TOKEN = re.compile(r"<url>|<email>|[^\W_]+")
_DIGIT = re.compile(r"\d")

# Masks cannot collide with words, because a word token never contains a "<".
_URL_MASK = "<url>"
_EMAIL_MASK = "<email>"
_NUMBER_MASK = "<number>"
_LONG_MASK = "<long>"
_MASK_WEIGHT = 5
"""Weight of a masked token: as much as a five-letter word."""

# 32-bit lanes hold any total weight: the body text is cut at 200,000 characters, so it has
# at most 100,000 words of weight 10 or less.
_SPREAD_LANE_BITS = 32
# _SPREAD[b] places the 8 bits of byte b in 8 lanes of 32 bits each, so one big-integer addition
# adds a feature's weight to the count of every set bit at once.
_SPREAD = [sum(1 << (bit * _SPREAD_LANE_BITS) for bit in range(8) if value >> bit & 1) for value in range(256)]
_LANE_MASK = (1 << _SPREAD_LANE_BITS) - 1


def body_tokens(text: str) -> list[str]:
    """Split body text into lower-case words, with the parts that vary per recipient masked.

    URLs, e-mail addresses, words with a digit and tokens of `LONG_TOKEN_CHARS` or more become
    fixed masks. Punctuation and white space only separate words.
    """
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(f" {_URL_MASK} ", text)
    text = _EMAIL.sub(f" {_EMAIL_MASK} ", text)
    tokens = _TOKEN.findall(text.casefold())
    for index, token in enumerate(tokens):
        if token[0] == "<":
            continue
        if _DIGIT.search(token):
            tokens[index] = _NUMBER_MASK
        elif len(token) >= LONG_TOKEN_CHARS:
            tokens[index] = _LONG_MASK
    return tokens


def fingerprint(text: str) -> str:
    """Return the SimHash of the body text as 16 lower-case hex digits, or "" when too short.

    Features are shingles of one word, weighted by how often the word occurs and by its length
    up to 10 characters. Longer shingles tie each word to its neighbours, so a changed name
    would alter several features instead of one and push copies further apart. Length weighting
    approximates rarity: short words such as "the" and "to" tell little about the campaign.
    """
    tokens = body_tokens(text)
    if len(tokens) < MIN_WORDS:
        return ""
    return f"{simhash(Counter(tokens)):016x}"


def simhash(weights: Counter[str]) -> int:
    """Return the 64-bit SimHash of weighted features, each hashed with BLAKE2b."""
    # lanes[i] counts the weight of features whose byte i has each bit set, 8 lanes per byte.
    lanes = [0] * (FINGERPRINT_BITS // 8)
    total = 0
    for token, count in weights.items():
        weight = count * (_MASK_WEIGHT if token.startswith("<") else min(len(token), _MAX_WEIGHT_CHARS))
        total += weight
        digest = hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        for index, byte in enumerate(digest):
            lanes[index] += weight * _SPREAD[byte]
    value = 0
    for index, packed in enumerate(lanes):
        for bit in range(8):
            set_weight = packed >> (bit * _SPREAD_LANE_BITS) & _LANE_MASK
            # A bit is 1 when features with it set outweigh those without it.
            if 2 * set_weight > total:
                value |= 1 << (index * 8 + bit)
    return value


def shingles(text: str) -> frozenset[str]:
    """Return the distinct runs of `SHINGLE_WORDS` consecutive normalised words of the text."""
    tokens = body_tokens(text)
    return frozenset(" ".join(tokens[start : start + SHINGLE_WORDS]) for start in range(len(tokens) - SHINGLE_WORDS + 1))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    """Return the Jaccard similarity of two shingle sets: 1.0 for equal sets, 0.0 when either is empty."""
    if not first or not second:
        return 0.0
    return len(first & second) / len(first | second)


def hamming_distance(first: str, second: str) -> int:
    """Return how many bits differ between two hex fingerprints.

    Raises:
        ValueError: A fingerprint is empty or not hexadecimal.
    """
    return (int(first, 16) ^ int(second, 16)).bit_count()
