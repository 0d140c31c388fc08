"""QR codes in images: decoding within limits, and their URLs in parsed messages."""

from __future__ import annotations

import base64
import io
from email.message import EmailMessage as MimeMessage
from email.policy import SMTP

import pytest
import zxingcpp
from PIL import Image

from air_tui.domain.vocab import ParseStatus
from air_tui.mail import parse_message
from air_tui.mail.qr import MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, looks_like_image, scan_image

QR_URL = "https://quish.example.net/login?id=42"


def qr_image(text: str, image_format: str = "PNG", scale: int = 4) -> bytes:
    """Encode `text` as a QR code with zxing-cpp and save it in `image_format`."""
    if hasattr(zxingcpp, "create_barcode"):
        barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
        pixels = memoryview(zxingcpp.write_barcode_to_image(barcode, scale=scale))
        height, width = pixels.shape[0], pixels.shape[1]
        image = Image.frombytes("L", (width, height), bytes(pixels))
    else:  # zxing-cpp 2.x
        image = Image.fromarray(zxingcpp.write_barcode(zxingcpp.BarcodeFormat.QRCode, text, width=160, height=160))
    if image_format == "JPEG":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()


def mail_with_image(data: bytes, *, inline: bool, filename: str = "scan-me.png", html: str = "<p>Scan the code</p>") -> bytes:
    message = MimeMessage()
    message["Subject"] = "Your mailbox password expires today"
    message["From"] = "IT Desk <it@desk.example>"
    message["To"] = "user@corp.example"
    message.set_content("Scan the code to keep your password.")
    message.add_alternative(html, subtype="html")
    if inline:
        html_part = message.get_payload()[1]
        html_part.add_related(data, maintype="image", subtype="png", cid="<qr1@desk.example>", filename=filename)
    else:
        message.add_attachment(data, maintype="image", subtype="png", filename=filename)
    return message.as_bytes(policy=SMTP)


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_scan_each_format(image_format: str) -> None:
    scan = scan_image(qr_image(QR_URL, image_format))
    assert scan.problem == ""
    assert scan.texts == [QR_URL]


def test_scan_image_without_code() -> None:
    buffer = io.BytesIO()
    Image.new("L", (200, 200), 255).save(buffer, "PNG")
    scan = scan_image(buffer.getvalue())
    assert scan.texts == []
    assert scan.problem == ""


def test_scan_not_an_image() -> None:
    scan = scan_image(b"%PDF-1.7 not an image")
    assert scan.texts == []
    assert scan.problem == "the content could not be read as a PNG, JPEG, GIF, BMP or WebP image; not searched for QR codes"


def test_scan_truncated_png() -> None:
    data = qr_image(QR_URL)
    scan = scan_image(data[: len(data) // 2])
    assert scan.texts == []
    assert scan.problem.startswith("the image could not be decoded")


def test_scan_over_pixel_limit_not_decoded() -> None:
    # A blank PNG compresses to a few kilobytes however many pixels it declares.
    buffer = io.BytesIO()
    Image.new("1", (6_000, 5_000), 1).save(buffer, "PNG")
    assert len(buffer.getvalue()) < MAX_IMAGE_BYTES
    scan = scan_image(buffer.getvalue())
    assert scan.texts == []
    assert f"over the {MAX_IMAGE_PIXELS:,}-pixel limit" in scan.problem


def test_scan_over_byte_limit_not_decoded() -> None:
    data = qr_image(QR_URL) + b"\x00" * MAX_IMAGE_BYTES
    scan = scan_image(data)
    assert scan.texts == []
    assert f"over the {MAX_IMAGE_BYTES:,}-byte limit" in scan.problem


def test_large_image_scaled_down_still_decoded() -> None:
    code = Image.open(io.BytesIO(qr_image(QR_URL, scale=20)))
    canvas = Image.new("L", (4_000, 3_000), 255)
    canvas.paste(code, (100, 100))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    assert scan_image(buffer.getvalue()).texts == [QR_URL]


def test_looks_like_image() -> None:
    assert looks_like_image(qr_image(QR_URL))
    assert looks_like_image(b"anything", media_type="image/webp")
    assert looks_like_image(b"anything", extension="JPG")
    assert not looks_like_image(b"%PDF-1.7", media_type="application/pdf", extension="pdf")


def test_looks_like_image_skips_other_content() -> None:
    assert not looks_like_image(b"PK\x03\x04rest", media_type="image/jpeg", extension="jpg", detected_type="zip")
    assert not looks_like_image(b"", media_type="image/png", extension="png")


def test_zip_named_jpg_not_searched() -> None:
    message = parse_message(mail_with_image(b"PK\x03\x04" + b"\x00" * 60, inline=False, filename="photo.jpg"))
    assert not any(warning.startswith("image ") for warning in message.parse_warnings)


def test_attached_qr_image_url_in_message() -> None:
    message = parse_message(mail_with_image(qr_image(QR_URL), inline=False))
    [attachment] = message.attachments
    assert attachment.qr_codes == [QR_URL]
    [url] = [url for url in message.urls if url.source == "qr"]
    assert url.url == QR_URL
    assert url.source_detail == "scan-me.png"
    assert url.host == "quish.example.net"
    assert url.normalised == QR_URL


def test_inline_cid_qr_image_url_in_message() -> None:
    html = '<p>Scan the code</p><img src="cid:qr1@desk.example" alt="">'
    message = parse_message(mail_with_image(qr_image(QR_URL), inline=True, filename="code.png", html=html))
    qr_urls = [url for url in message.urls if url.source == "qr"]
    assert [url.url for url in qr_urls] == [QR_URL]
    assert qr_urls[0].source_detail == "code.png"
    # The cid: reference itself is not a URL.
    assert all(not url.url.startswith("cid:") for url in message.urls)


def test_data_uri_qr_image_url_in_message() -> None:
    encoded = base64.b64encode(qr_image(QR_URL)).decode()
    raw = b"Subject: x\nContent-Type: text/html\n\n" + f'<img src="data:image/png;base64,{encoded}">'.encode()
    message = parse_message(raw)
    [url] = message.urls
    assert url.url == QR_URL
    assert url.source == "qr"
    assert url.source_detail == "a data: image in img src"


def test_qr_bookmark_text_yields_url() -> None:
    message = parse_message(mail_with_image(qr_image(f"MEBKM:TITLE:Login;URL:{QR_URL};;"), inline=False))
    assert message.attachments[0].qr_codes == [f"MEBKM:TITLE:Login;URL:{QR_URL};;"]
    assert [url.url for url in message.urls if url.source == "qr"] == [QR_URL]


def test_qr_plain_text_kept_without_url() -> None:
    message = parse_message(mail_with_image(qr_image("Call 555-0100 for help"), inline=False))
    assert message.attachments[0].qr_codes == ["Call 555-0100 for help"]
    assert [url for url in message.urls if url.source == "qr"] == []


def test_broken_image_attachment_is_a_warning() -> None:
    message = parse_message(mail_with_image(b"\x89PNG\r\n\x1a\nbroken", inline=False, filename="broken.png"))
    assert message.parse_status is ParseStatus.PARSED_WITH_WARNINGS
    assert message.attachments[0].qr_codes == []
    assert any(warning.startswith("image 'broken.png': the content could not be read as a PNG") for warning in message.parse_warnings)
