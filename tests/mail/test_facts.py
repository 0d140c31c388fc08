"""Facts read from real corpus messages, each checked by hand against the file."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone

from air_tui.domain.message import Address, AuthResult
from tests.mail.conftest import CORPUS, parsed


def test_safelinks_url_in_sample_129() -> None:
    message = parsed("phishing_pot/sample-129.eml")
    safelinks = [url for url in message.urls if url.host == "eur03.safelinks.protection.outlook.com"]

    assert len(safelinks) == 1
    assert safelinks[0].url.startswith(
        "https://eur03.safelinks.protection.outlook.com/?url=https%3A%2F%2Fsurvey.alchemer.eu"
        "%2Fs3%2F90478274%2Fsouthampton-alumni-2022&data=05%7C01%7Ck.dodson%40soton.ac.uk"
    )
    # The text part wraps the URL in parentheses; the closing one is not part of it.
    assert safelinks[0].url.endswith("&reserved=0")
    assert safelinks[0].registrable_domain == "outlook.com"
    assert safelinks[0].source == "text"


def test_google_redirect_in_sample_1227() -> None:
    message = parsed("phishing_pot/sample-1227.eml")
    redirect = (
        "https://www.google.com/url?q=https%3A%2F%2Fjuicycandyiybx.com%2F%3Futm_source%3DBQyu8oapTNJqC1"
        "&sa=D&sntz=1&usg=AOvVaw3FYDhGNqB2ex-RNmZCz5M5"
    )
    matches = [url for url in message.urls if url.url == redirect]

    assert len(matches) == 1
    assert matches[0].host == "www.google.com"
    assert matches[0].registrable_domain == "google.com"
    # The HTML part's href has `&amp;`; decoded, it equals the text part's URL and is not repeated.
    assert [url.url for url in message.urls].count(redirect) == 1


def test_campaign_domain_in_sample_5183() -> None:
    message = parsed("phishing_pot/sample-5183.eml")
    campaign = [url for url in message.urls if url.registrable_domain == "juliodejens.icu"]

    assert len(campaign) == 1
    assert campaign[0].url == "https://juliodejens.icu"
    assert campaign[0].source == "href"
    assert campaign[0].link_text.endswith("Verificar Detalhes")


def test_attachment_hash_in_sample_591() -> None:
    message = parsed("phishing_pot/sample-591.eml")
    lines = (CORPUS / "phishing_pot/sample-591.eml").read_bytes().splitlines()
    # Lines 143 to 1651 hold the base64 body of the .pptx part (checked with base64 -d | sha256sum).
    decoded = base64.b64decode(b"".join(lines[142:1651]))

    assert len(message.attachments) == 1
    attachment = message.attachments[0]
    assert attachment.sha256 == hashlib.sha256(decoded).hexdigest()
    assert attachment.sha256 == "8a265749dde8cc85d0459fcaffd7a372142ee33afab87d8ef1f78d1182d69f4a"
    assert attachment.size == 85_868
    assert decoded.startswith(b"PK\x03\x04")


def test_rfc2047_attachment_name_in_sample_591() -> None:
    attachment = parsed("phishing_pot/sample-591.eml").attachments[0]

    # name="=?UTF-8?B?bzUzMTRwMjVUSjZxTi5wcHR4?="
    assert attachment.filename == "o5314p25TJ6qN.pptx"
    assert attachment.extension == "pptx"
    assert attachment.content_type == "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def test_uuencoded_attachment_in_mail_test_15() -> None:
    attachment = parsed("spamscope/mail_test_15.eml").attachments[0]

    # Decoded line by line with binascii.a2b_uu from the `begin 644` block.
    assert attachment.filename == "REQUEST FOR QUOTE.zip"
    assert attachment.size == 251_141
    assert attachment.sha256 == "ca14eb36578710df5f903bc19bd364de2eb27cb64e08cdad5e6b8758f17067cd"


def test_rfc2231_and_split_encoded_word_names() -> None:
    eai = parsed("spamassassin/eai-rfc2231-unicode.eml").attachments
    polish = parsed("spamscope/mail_test_11.eml").attachments
    cyrillic = parsed("spamscope/mail_test_1.eml").attachments
    rtf = parsed("phishing_pot/sample-2939.eml").attachments

    assert [attachment.filename for attachment in eai] == ["документы для отдела кадров.pdf"]
    assert polish[0].filename.startswith("Prokuratura Rejonowa Warszawa-Śródmieście północ")
    assert polish[0].extension == "pdf"
    assert cyrillic[0].filename == "ФНС_РФ558.zip"
    # Two U+034F COMBINING GRAPHEME JOINER characters hide before the extension.
    assert rtf[0].filename == "reviewdocument_txtid$3545767\u034f\u034f.RTF"
    assert rtf[0].extension == "rtf"


def test_attached_message_named_after_subject() -> None:
    attachments = parsed("spamassassin/mime9-fwd-chain.eml").attachments

    assert len(attachments) == 1
    assert attachments[0].content_type == "message/rfc822"
    assert attachments[0].filename == "Fwd: Fw: New University.....eml"
    assert attachments[0].extension == "eml"
    assert attachments[0].size > 20_000


def test_auth_results_of_sample_35() -> None:
    results = parsed("phishing_pot/sample-35.eml").auth_results

    # Authentication-Results: spf=none (sender IP is 89.144.29.190) smtp.mailfrom=saepezhgsdmntreed.co.uk;
    # dkim=none (message not signed) header.d=none;dmarc=fail action=oreject header.from=intl.paypal.com;
    # compauth=fail reason=000
    assert results[:4] == [
        AuthResult(method="spf", result="none", properties={"smtp.mailfrom": "saepezhgsdmntreed.co.uk"}),
        AuthResult(method="dkim", result="none", properties={"header.d": "none"}),
        AuthResult(method="dmarc", result="fail", properties={"action": "oreject", "header.from": "intl.paypal.com"}),
        AuthResult(method="compauth", result="fail", properties={"reason": "000"}),
    ]
    # Received-SPF: None (protection.outlook.com: saepezhgsdmntreed.co.uk does not designate ...)
    assert results[4].method == "spf"
    assert results[4].result == "none"
    assert results[4].authserv_id == "protection.outlook.com"


def test_auth_results_variants() -> None:
    results = parsed("spamassassin/authres-variants.eml").auth_results
    by_server = {(result.authserv_id, result.method, result.result): result for result in results}

    assert len(results) == 10
    assert [result.method for result in results[:3]] == ["spf", "dkim", "dkim"]
    assert by_server[("authrestest1int", "dkim", "fail")].properties == {
        "header.i": "@another.signing.domain.example"
    }
    assert by_server[("authrestest2int", "dmarc", "none")].properties == {"header.from": "ximian.com"}
    # `authrestest4int 2` declares version 2, which authres rejects; the tolerant reader keeps it.
    assert by_server[("authrestest4int", "spf", "fail")].properties == {
        "reason": "just some (<>.%&! reason",
        "smtp.mailfrom": "dogma.slashnull.org",
    }
    assert by_server[("authrestest6int", "dkim", "fail")].properties["header.i"] == ' foo bar "xyz"@gmail.com'
    assert by_server[("authrestest8ext", "spf", "pass")].properties == {"smtp.mailfrom": "untrusted@example.com"}


def test_received_spf_of_received_spf_file() -> None:
    spf = [result for result in parsed("spamassassin/received-spf.eml").auth_results if "client-ip" in result.properties]

    assert spf[0].result == "fail"
    assert spf[0].authserv_id == "FC5-VPC"
    assert spf[0].properties["client-ip"] == "69.61.78.188"
    assert spf[0].properties["smtp.mailfrom"] == "spamassassin@dostech.ca"
    assert spf[1].result == "softfail"
    assert spf[1].properties["identity"] == "helo"


def test_sender_ip_skips_loopback_hop() -> None:
    # Bottom hop: from localhost (localhost [127.0.0.1]); the next one up: from mail42.atl301.rsgsv.net (198.2.144.42).
    assert parsed("phishing_pot/sample-129.eml").sender_ip == "198.2.144.42"


def test_sender_ip_is_the_desktop_client() -> None:
    # Bottom hop: from DESKTOP-PUCJ3EA (unknown [185.54.230.174]) by dbmailB02.dbmail.porta80.com.br
    assert parsed("phishing_pot/sample-220.eml").sender_ip == "185.54.230.174"


def test_reply_to_punycode_domain_in_sample_7128() -> None:
    message = parsed("phishing_pot/sample-7128.eml")

    assert message.reply_to == [Address(address="no-reply@xn--jokers-7h0c.com")]
    assert message.reply_to[0].domain == "xn--jokers-7h0c.com"
    assert message.sender.address == "noreply@rtyh-64cab.firebaseapp.com"


def test_sample_129_headers() -> None:
    message = parsed("phishing_pot/sample-129.eml")

    assert message.subject == "Scan your device to protect your assets"
    assert message.sender == Address(display_name="Katie from Ledger", address="device@southampton.ac.uk")
    assert message.to == [Address(address="phishing@pot")]
    assert message.date == datetime(2022, 11, 27, 21, 45, 48, tzinfo=UTC)


def test_display_name_that_is_an_address() -> None:
    message = parsed("spamscope/mail_test_19.eml")

    # From: alice@example.com <bob@example.com>
    assert message.sender == Address(display_name="alice@example.com", address="bob@example.com")
    assert message.cc == [Address(display_name="eve@example.com", address="frank@example.com")]
    assert message.reply_to == [Address(display_name="henry@example.com", address="ivan@example.com")]
    assert message.to == [
        Address(display_name="Charlie Brown", address="charlie@example.com"),
        Address(address="dave@example.com"),
    ]


def test_encoded_display_names_with_comma_and_quotes() -> None:
    message = parsed("spamscope/mail_test_18.eml")

    assert message.sender == Address(display_name="LastßlName, FirstName", address="comma.name@example.com")
    assert message.to == [Address(display_name="tony.stark@example.com", address="tony.stark@example.com")]
    assert message.cc == [
        Address(address="simple@example.net"),
        Address(display_name='John "Johnny" Doe', address="john.doe@example.com"),
    ]
    assert message.date == datetime(2025, 11, 3, 18, 23, tzinfo=timezone(timedelta(hours=1)))


def test_empty_group_and_stray_commas() -> None:
    # To: undisclosed recipients: ;
    assert parsed("mikel_mail/empty_group_lists.eml").to == []
    # To: , user@example.com, user@example.com
    assert parsed("mikel_mail/weird_to_header.eml").to == [
        Address(address="user@example.com"),
        Address(address="user@example.com"),
    ]


def test_unquoted_comma_joins_sender_name() -> None:
    # From: Edeka, Edeka <telekom@email-telekom.de>
    assert parsed("phishing_pot/sample-1718.eml").sender == Address(
        display_name="Edeka, Edeka", address="telekom@email-telekom.de"
    )
    # From: "Angebote@versand-rossmann.de", service@stayfriends.de
    assert parsed("phishing_pot/sample-3464.eml").sender == Address(
        display_name="Angebote@versand-rossmann.de", address="service@stayfriends.de"
    )


def test_raw_8bit_headers_are_decoded() -> None:
    utf8 = parsed("mikel_mail/rfc6532_utf8_headers.eml")
    latin1 = parsed("mikel_mail/invalid_subject_characters.eml")
    eai = parsed("spamassassin/eai-rfc2231-unicode.eml")

    assert utf8.subject == "Säying Hello"
    assert utf8.sender.display_name == "Jöhn Doe"
    # The raw Latin-1 bytes are decoded with the body's declared charset.
    assert latin1.subject == "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro"
    assert eai.sender.address == "marilù.gioffré@esempio-università.it"
    assert eai.subject == "Domače omrežje"


def test_encoded_word_subjects() -> None:
    assert parsed("mikel_mail/partially_encoded_subject.eml").subject == 'Re: Test: "漢字" mid "漢字" tail'
    assert parsed("mikel_mail/bad_subject.eml").subject == "MySurvey.com:  You have a survey waiting!  91123105"
    assert parsed("phishing_pot/sample-220.eml").subject == "Atualização Pendente."
    assert parsed("spamassassin/utf16.eml").subject == "Design and manufacturing"


def test_unknown_charset_body_is_still_read() -> None:
    message = parsed("mikel_mail/charset_x_unknown.eml")

    assert "Envoyé par le service de messagerie texte de Bell Mobilité." in message.body_text
    assert "part 1 (text/plain): unknown charset 'x-unknown', decoded as utf-8" in message.parse_warnings


def test_recovered_boundary_body_in_illegal_boundary() -> None:
    message = parsed("mikel_mail/illegal_boundary.eml")

    assert message.body_text.startswith("Hello\nThis is an outlook test")
    assert any("recovered 2 parts" in warning for warning in message.parse_warnings)


def test_misspelt_quoted_printable_is_decoded() -> None:
    message = parsed("mikel_mail/cte_qp_with_space.eml")

    assert "=20" not in message.body_text
    assert "=3D" not in message.body_text
    assert any("'quoted printable' read as quoted-printable" in warning for warning in message.parse_warnings)


def test_broken_header_line_is_skipped() -> None:
    message = parsed("mikel_mail/incorrect_header_line.eml")

    assert message.subject == "Stop adware/spyware once and for all."
    assert message.sender.address == "xxx@xxx.xxx"
    assert any("'quite Delivered-To: xxx@xxx.xxx'" in warning for warning in message.parse_warnings)


def test_bsmtp_envelope_is_skipped() -> None:
    message = parsed("spamassassin/bsmtp.eml")

    assert message.subject == "foo"
    assert message.sender.address == "renterr989@hotmail.com"
    assert message.internet_message_id == "<78w08.t365th3y6x7h@yahoo.com>"


def test_html_attachment_is_not_body() -> None:
    message = parsed("phishing_pot/sample-402.eml")

    assert [attachment.filename for attachment in message.attachments] == ["GDydFKtIKR.html"]
    assert message.attachments[0].content_type == "text/html"
    assert "<script" not in message.body_text
    assert message.body_text.startswith("Dear Customer.")


def test_link_inside_iframe_trick_is_found() -> None:
    # `<iframe><style></iframe>` must not hide the following anchor, as it does not in a browser.
    message = parsed("phishing_pot/sample-5923.eml")

    assert [url.registrable_domain for url in message.urls] == ["davidfisherphotography.com"]
    assert message.urls[0].source == "href"
