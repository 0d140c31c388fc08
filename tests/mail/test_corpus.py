"""Properties that hold for every message in the real corpus."""

from __future__ import annotations

import email
import hashlib
import re
from email.policy import default as default_policy

import pytest

from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message
from tests.mail.conftest import CORPUS, manifest, parsed

_EML_FILES = [entry.relative for entry in manifest() if entry.relative.endswith(".eml")]
_MSG_FILES = [entry.relative for entry in manifest() if entry.relative.endswith(".msg")]

# Files on which the stdlib's get_content() raises, with words the warning must contain.
_STDLIB_BREAKERS = {
    "spamscope/mail_malformed_1.eml": ("boundary", "never appears"),
    "spamscope/mail_malformed_2.eml": ("boundary", "never appears"),
    "spamscope/mail_malformed_3.eml": ("boundary", "never appears"),
    "spamassassin/spam-015.eml": ("boundary", "never appears"),
    "spamassassin/badmime2.eml": ("boundary", "never appears"),
    "spamassassin/utf16.eml": ("boundary", "never appears"),
    "mikel_mail/illegal_boundary.eml": ("boundary", "never appears"),
    "mikel_mail/must_supply_encoding.eml": ("boundary", "never appears"),
    "phishing_pot/sample-936.eml": ("boundary", "never appears"),
    "phishing_pot/sample-6575.eml": ("boundary", "never appears"),
    "mikel_mail/charset_x_unknown.eml": ("unknown charset", "'x-unknown'"),
    "phishing_pot/sample-423.eml": ("unknown charset", "'_iso-2022-jp$esc'"),
}

# C0 controls other than tab and newline, DEL, C1 controls and surrogates.
_FORBIDDEN_ANYWHERE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def test_manifest_lists_every_corpus_file() -> None:
    on_disk = {
        path.relative_to(CORPUS).as_posix()
        for path in CORPUS.rglob("*")
        if path.is_file() and path.suffix in (".eml", ".msg")
    }

    assert len(manifest()) == 169
    assert {entry.relative for entry in manifest()} == on_disk
    assert len(_MSG_FILES) == 7


@pytest.mark.parametrize("relative", _EML_FILES)
def test_eml_file_parses_without_failing(relative: str) -> None:
    raw = (CORPUS / relative).read_bytes()

    message = parse_message(raw)

    assert message.parse_status is not ParseStatus.FAILED, message.parse_error
    assert message.parse_error == ""
    assert message.size == len(raw)
    assert message.id == message.sha256 == hashlib.sha256(raw).hexdigest()
    if message.parse_status is ParseStatus.PARSED:
        assert message.parse_warnings == []
    else:
        assert message.parse_warnings


def test_sha256_matches_manifest(corpus_messages: dict[str, EmailMessage]) -> None:
    for entry in manifest():
        assert corpus_messages[entry.relative].sha256 == entry.sha256, entry.relative


@pytest.mark.parametrize("relative", _MSG_FILES)
def test_msg_file_parses_with_extract_msg(relative: str) -> None:
    raw = (CORPUS / relative).read_bytes()

    message = parse_message(raw)

    assert message.parse_status is not ParseStatus.FAILED, message.parse_error
    assert message.parse_error == ""
    assert message.size == len(raw)
    assert message.sha256 == hashlib.sha256(raw).hexdigest()
    assert message.id == message.sha256


@pytest.mark.parametrize("relative", sorted(_STDLIB_BREAKERS))
def test_stdlib_get_content_really_raises(relative: str) -> None:
    """The file still breaks the stdlib, so the next test exercises a real fallback."""
    message = email.message_from_bytes((CORPUS / relative).read_bytes(), policy=default_policy)
    raised: list[type[Exception]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            part.get_content()
        except (KeyError, LookupError) as error:
            raised.append(type(error))

    assert raised


@pytest.mark.parametrize("relative", sorted(_STDLIB_BREAKERS))
def test_stdlib_breaking_file_parses_with_warning(relative: str) -> None:
    message = parsed(relative)
    expected_words = _STDLIB_BREAKERS[relative]

    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert any(all(word in warning for word in expected_words) for warning in message.parse_warnings), (
        message.parse_warnings
    )
    if relative == "mikel_mail/must_supply_encoding.eml":
        # This file ends right after its header fields: there is no body to read.
        assert message.body_text == ""
        assert message.subject.startswith("Impress your clients")
    else:
        assert len(message.body_text.strip()) > 15


def test_model_strings_have_no_control_characters(corpus_messages: dict[str, EmailMessage]) -> None:
    for relative, message in corpus_messages.items():
        for field_path, text in _strings(message.model_dump()):
            assert not _FORBIDDEN_ANYWHERE.search(text), (relative, field_path, text[:80])
            if not field_path.endswith("body_text"):
                assert "\n" not in text, (relative, field_path, text[:80])
                assert "\r" not in text, (relative, field_path, text[:80])
        assert "\x00" not in message.body_text
        assert "\r" not in message.body_text


def test_urls_are_unique_lower_cased_and_bounded(corpus_messages: dict[str, EmailMessage]) -> None:
    for relative, message in corpus_messages.items():
        seen = [url.url for url in message.urls]

        assert len(seen) == len(set(seen)), relative
        assert len(seen) <= 500, relative
        for url in message.urls:
            assert url.host == url.host.lower(), (relative, url.url)
            assert url.source in ("text", "href", "src", "srcset", "form", "meta-refresh", "qr", "attachment"), (relative, url.url)
            assert not url.url.lower().startswith(("mailto:", "cid:", "#", "javascript:")), (relative, url.url)
            if url.host:
                assert url.host.endswith(url.registrable_domain), (relative, url.url)


def test_attachment_extensions_are_lower_case(corpus_messages: dict[str, EmailMessage]) -> None:
    for relative, message in corpus_messages.items():
        for attachment in message.attachments:
            assert attachment.extension == attachment.extension.lower(), relative
            assert len(attachment.sha256) == 64, relative
            if attachment.extension:
                assert f".{attachment.extension}" in attachment.filename.lower(), (relative, attachment.filename)


def test_dates_are_timezone_aware(corpus_messages: dict[str, EmailMessage]) -> None:
    dated = [message for message in corpus_messages.values() if message.date is not None]

    assert len(dated) > 140
    for message in dated:
        assert message.date.tzinfo is not None
        assert message.date.utcoffset() is not None


def _strings(value: object, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [item for key, child in value.items() for item in _strings(child, f"{path}.{key}".lstrip("."))]
    if isinstance(value, list):
        return [item for child in value for item in _strings(child, path)]
    return []
