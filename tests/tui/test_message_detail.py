"""The message detail view shows every fact the parser read, nested emails included."""

from __future__ import annotations

from air_tui.domain.message import Address, Attachment, AuthResult, EmailMessage, Url
from air_tui.tui.modals import _message_facts


def test_detail_shows_new_facts() -> None:
    inner = EmailMessage(id="m/1", subject="Inner invoice", sender=Address(address="billing@evil.example"))
    message = EmailMessage(
        id="m",
        subject="Fwd: invoice",
        sender=Address(display_name="Noah", address="noah@larkspur.example"),
        auth_results=[AuthResult(method="arc", result="pass", header="ARC-Authentication-Results", instance=2, authserv_id="mx.microsoft.com")],
        dkim_domains=["larkspur.example"],
        urls=[Url(url="http://3232235777/x", host="192.168.1.1", ip_literal=True, source="qr", source_detail="scan.png")],
        attachments=[Attachment(filename="scan.png", qr_codes=["http://3232235777/x"], container="winmail.dat")],
        attached_messages=[inner],
    )
    shown = _message_facts(message).plain
    assert "arc=pass (ARC i=2) by mx.microsoft.com" in shown
    assert "DKIM signed by larkspur.example" in shown
    assert "bare IP address" in shown
    assert "found in qr (scan.png)" in shown
    assert "QR code: http://3232235777/x" in shown
    assert "expanded from winmail.dat" in shown
    assert "Attached email 1" in shown
    assert "Inner invoice" in shown
    assert "billing@evil.example" in shown
