"""Access to the real message corpus in fixtures/corpus and its manifest."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from air_tui.domain.message import EmailMessage
from air_tui.mail import parse_message

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


@dataclass(frozen=True)
class CorpusFile:
    """One row of fixtures/corpus/MANIFEST.tsv."""

    relative: str
    notes: str
    sha256: str

    @property
    def path(self) -> Path:
        return CORPUS / self.relative


@cache
def manifest() -> tuple[CorpusFile, ...]:
    """Return the manifest rows in file order."""
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return tuple(CorpusFile(row["file"], row["notes"], row["sha256"]) for row in rows)


@cache
def parsed(relative: str) -> EmailMessage:
    """Parse a corpus file once per test session."""
    return parse_message((CORPUS / relative).read_bytes())


@pytest.fixture(scope="session")
def corpus_messages() -> dict[str, EmailMessage]:
    """Every corpus file parsed, keyed by its path relative to fixtures/corpus."""
    return {entry.relative: parsed(entry.relative) for entry in manifest()}
