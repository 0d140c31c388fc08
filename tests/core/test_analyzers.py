"""Analyzers on hand-built messages: each fact they report, and the verdict it carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from air_tui.domain.message import Address, Attachment, AuthResult, EmailMessage, Url
from air_tui.domain.tenant import Organisation, User
from air_tui.domain.vocab import ThreatType, Verdict
from air_tui.engine.analyzers import MessageAnalyzer, lookalike_of
from air_tui.engine.rules import Finding
from air_tui.intel import IntelSnapshot

ORGANISATION = Organisation(name="Larkspur Logistics", domains=["larkspur.example"], brands=["McAfee", "PayPal"])
USERS = [
    User(id="u1", display_name="Dana Whitfield", address="dana.whitfield@larkspur.example", vip=True),
    User(id="u2", display_name="Sam Ortega", address="sam.ortega@larkspur.example"),
]


@pytest.fixture
def intel(tmp_path: Path) -> IntelSnapshot:
    (tmp_path / "urls.csv").write_text("url,threat,source,added\nhttp://bad.example.net/login,Phish,test-feed,2026-11-01\n")
    (tmp_path / "domains.csv").write_text("domain,threat,source,added\nevil-parcel.icu,Phish,test-feed,2026-11-02\n")
    (tmp_path / "file_hashes.csv").write_text("sha256,threat,source,added\n" + "ab" * 32 + ",Malware,test-feed,2026-11-03\n")
    (tmp_path / "allow_domains.csv").write_text("domain,source,added\nnorthwind.example,partner,2026-01-01\n")
    return IntelSnapshot.load(tmp_path)


def analyse_sender(reported: EmailMessage, organisation: Organisation, users: list[User], intel: IntelSnapshot) -> Finding:
    return MessageAnalyzer(organisation, users, intel).sender(reported)


def analyse_url(url: Url, intel: IntelSnapshot) -> Finding:
    return MessageAnalyzer(ORGANISATION, USERS, intel).url(url)


def analyse_attachment(attachment: Attachment, intel: IntelSnapshot) -> Finding:
    return MessageAnalyzer(ORGANISATION, USERS, intel).attachment(attachment)


def message(**fields: object) -> EmailMessage:
    base: dict[str, object] = {"id": "m1", "sender": Address(display_name="Someone", address="someone@sender.example")}
    base.update(fields)
    return EmailMessage.model_validate(base)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("larksp0r.example", "larkspur.example"),
        ("larkspur-payments.com", "larkspur.example"),
        ("larkspur.example", ""),
        ("mail.larkspur.example", ""),
        ("contoso.com", ""),
    ],
)
def test_lookalike_of_own_domain(domain: str, expected: str) -> None:
    assert lookalike_of(domain, ORGANISATION.domains) == expected


def test_sender_lookalike_is_malicious(intel: IntelSnapshot) -> None:
    finding = analyse_sender(message(sender=Address(address="ceo@larksp0r.example")), ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert ThreatType.HIGH_CONFIDENCE_PHISH in finding.threats
    assert any(item.rule == "sender.lookalike_own" and "larkspur.example" in item.text for item in finding.evidence)


def test_reply_to_other_domain_alone_is_not_enough(intel: IntelSnapshot) -> None:
    reported = message(reply_to=[Address(address="collect@elsewhere.example")])
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND
    assert any(item.rule == "sender.reply_to_differs" and "elsewhere.example" in item.text and "sender.example" in item.text for item in finding.evidence)


def test_reply_to_free_mailbox_is_suspicious(intel: IntelSnapshot) -> None:
    reported = message(reply_to=[Address(address="collect.agent@gmail.com")])
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert {item.rule for item in finding.evidence} >= {"sender.reply_to_differs", "sender.reply_to_freemail"}


def test_dmarc_fail_is_suspicious(intel: IntelSnapshot) -> None:
    reported = message(auth_results=[AuthResult(method="dmarc", result="fail"), AuthResult(method="spf", result="softfail")])
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert any("DMARC failed" in item.text for item in finding.evidence)


def test_authentication_pass_is_clean(intel: IntelSnapshot) -> None:
    reported = message(auth_results=[AuthResult(method=m, result="pass") for m in ("spf", "dkim", "dmarc")])
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND


def test_vip_display_name_from_outside_is_malicious(intel: IntelSnapshot) -> None:
    reported = message(sender=Address(display_name="Dana Whitfield", address="dana@freemail.example"))
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert any("VIP" in item.text for item in finding.evidence)


def test_brand_in_display_name_is_suspicious(intel: IntelSnapshot) -> None:
    reported = message(sender=Address(display_name="Mcafee™", address="support@snowy.example"))
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert any("McAfee" in item.text for item in finding.evidence)


def test_listed_url_is_malicious(intel: IntelSnapshot) -> None:
    finding = analyse_url(Url(url="HTTP://BAD.example.net/login", host="bad.example.net"), intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert ThreatType.MALICIOUS_URL in finding.threats
    assert "test-feed" in finding.evidence[0].text


def test_listed_parent_domain_is_malicious(intel: IntelSnapshot) -> None:
    finding = analyse_url(Url(url="https://track.evil-parcel.icu/x", host="track.evil-parcel.icu"), intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert "evil-parcel.icu" in finding.evidence[0].text


def test_unlisted_url_is_clean_when_lists_exist(intel: IntelSnapshot) -> None:
    finding = analyse_url(Url(url="https://docs.example.org/a", host="docs.example.org"), intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND
    assert any("nothing matched" in item.text for item in finding.evidence), "a clean verdict says what was checked"


def test_unlisted_url_is_unknown_without_lists() -> None:
    finding = analyse_url(Url(url="https://docs.example.org/a", host="docs.example.org"), IntelSnapshot())
    assert finding.verdict is Verdict.UNKNOWN


def test_link_text_other_domain_is_suspicious(intel: IntelSnapshot) -> None:
    url = Url(url="https://collector.example.net/p", host="collector.example.net", link_text="www.paypal.com/signin")
    finding = analyse_url(url, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert "paypal.com" in finding.evidence[0].text


def test_ip_literal_host_is_suspicious(intel: IntelSnapshot) -> None:
    finding = analyse_url(Url(url="http://203.0.113.9/x", host="203.0.113.9"), intel)
    assert finding.verdict is Verdict.SUSPICIOUS


def test_listed_file_hash_is_malware(intel: IntelSnapshot) -> None:
    finding = analyse_attachment(Attachment(filename="invoice.pdf", sha256="AB" * 32, extension="pdf"), intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert finding.threats == [ThreatType.MALWARE]


@pytest.mark.parametrize("extension", ["exe", "iso", "html", "lnk", "xlsm"])
def test_risky_attachment_type_is_suspicious(intel: IntelSnapshot, extension: str) -> None:
    finding = analyse_attachment(Attachment(filename=f"file.{extension}", sha256="00" * 32, extension=extension), intel)
    assert finding.verdict is Verdict.SUSPICIOUS


def test_plain_pdf_is_clean(intel: IntelSnapshot) -> None:
    finding = analyse_attachment(Attachment(filename="report.pdf", sha256="00" * 32, extension="pdf"), intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND
    assert finding.score == 0


def test_wrapped_listed_url_is_malicious(intel: IntelSnapshot) -> None:
    url = Url(
        url="https://eur01.safelinks.protection.outlook.com/?url=http%3A%2F%2Fbad.example.net%2Flogin&data=1",
        host="eur01.safelinks.protection.outlook.com",
        unwrapped="http://bad.example.net/login",
        unwrapped_host="bad.example.net",
        unwrapped_domain="example.net",
        wrappers=["Microsoft Safe Links"],
    )
    finding = analyse_url(url, intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert any(item.text.startswith("Destination: URL http://bad.example.net/login") for item in finding.evidence)
    assert any("wrapped by Microsoft Safe Links" in item.text for item in finding.evidence)


def test_content_type_mismatch_is_suspicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="scan.pdf", sha256="11" * 32, extension="pdf", detected_type="zip")
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert any("content is a ZIP archive" in item.text for item in finding.evidence)


def test_executable_content_named_image(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="photo.jpg", sha256="22" * 32, extension="jpg", detected_type="exe")
    finding = analyse_attachment(attachment, intel)
    texts = [item.text for item in finding.evidence]
    assert any("Windows executable" in text for text in texts)
    assert finding.verdict is Verdict.SUSPICIOUS


def test_office_zip_is_not_a_mismatch(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="report.docx", sha256="33" * 32, extension="docx", detected_type="zip")
    assert analyse_attachment(attachment, intel).verdict is Verdict.NO_THREATS_FOUND


def test_right_to_left_override_flagged(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="invoice\u202egpj.exe", sha256="44" * 32, extension="exe")
    finding = analyse_attachment(attachment, intel)
    assert any("right-to-left override" in item.text for item in finding.evidence)
    assert ThreatType.MALWARE in finding.threats


def test_double_extension_flagged(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="Invoice.PDF.exe", sha256="55" * 32, extension="exe")
    finding = analyse_attachment(attachment, intel)
    assert any("Double extension" in item.text for item in finding.evidence)


def test_shortener_noted_not_flagged(intel: IntelSnapshot) -> None:
    finding = analyse_url(Url(url="https://bit.ly/abc", host="bit.ly"), intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND
    assert finding.score == 10
    assert any("URL shortener" in item.text for item in finding.evidence)


def test_address_in_display_name_other_domain(intel: IntelSnapshot) -> None:
    reported = message(sender=Address(display_name="service@paypal.com", address="noreply@mailer.example"))
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert any(item.rule == "sender.name_shows_other_address" and "service@paypal.com" in item.text for item in finding.evidence)


def test_address_in_display_name_same_domain(intel: IntelSnapshot) -> None:
    reported = message(sender=Address(display_name="news@mailer.example", address="news@mailer.example"))
    finding = analyse_sender(reported, ORGANISATION, USERS, intel)
    assert not any("shows an address" in item.text for item in finding.evidence)


def test_archive_with_executable_is_suspicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="invoice.zip", sha256="66" * 32, extension="zip", detected_type="zip", archive_members=["invoice.pdf.exe (exe)"])
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert ThreatType.MALWARE in finding.threats
    assert any("invoice.pdf.exe" in item.text for item in finding.evidence)


def test_encrypted_archive_is_suspicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="a.zip", sha256="77" * 32, extension="zip", detected_type="zip", archive_members=["a.docx (docx, encrypted)"], archive_encrypted=True)
    finding = analyse_attachment(attachment, intel)
    assert any("password-protected" in item.text for item in finding.evidence)


def test_plain_archive_is_clean(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="photos.zip", sha256="88" * 32, extension="zip", detected_type="zip", archive_members=["a.jpg (jpg)", "b.jpg (jpg)"])
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.NO_THREATS_FOUND
    assert any("2 files, none of a risky type" in item.text for item in finding.evidence)


def test_auto_run_macro_with_shell_is_malicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(
        filename="order.xlsm", sha256="99" * 32, extension="xlsm", detected_type="zip",
        has_macros=True, macro_auto_exec=["Workbook_Open"], macro_suspicious=["Shell", "Hex Strings"],
    )
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert ThreatType.MALWARE in finding.threats
    assert any("Workbook_Open" in item.text and "Shell" in item.text for item in finding.evidence)


def test_auto_run_macro_with_encoding_only(intel: IntelSnapshot) -> None:
    attachment = Attachment(
        filename="order.xlsx", sha256="9a" * 32, extension="xlsx", detected_type="zip",
        has_macros=True, macro_auto_exec=["Workbook_Open"], macro_suspicious=["Hex Strings"],
    )
    assert analyse_attachment(attachment, intel).verdict is Verdict.SUSPICIOUS


def test_encrypted_office_is_suspicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="salary.docx", sha256="9b" * 32, extension="docx", detected_type="ole", office_encrypted=True)
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.SUSPICIOUS
    assert any("password-protected" in item.text for item in finding.evidence)


def test_content_findings_become_evidence(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="page.html", sha256="9c" * 32, extension="html", detected_type="html", content_findings=["contains an HTML form that asks for a password"])
    finding = analyse_attachment(attachment, intel)
    assert any(item.text == "The file contains an HTML form that asks for a password." for item in finding.evidence)


def test_listed_link_inside_pdf_is_malicious(intel: IntelSnapshot) -> None:
    attachment = Attachment(filename="scan.pdf", sha256="9d" * 32, extension="pdf", detected_type="pdf", links=["http://bad.example.net/login"])
    finding = analyse_attachment(attachment, intel)
    assert finding.verdict is Verdict.MALICIOUS
    assert any(item.text.startswith("Link inside the file is listed: http://bad.example.net/login") for item in finding.evidence)
