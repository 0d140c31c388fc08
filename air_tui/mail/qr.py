"""QR codes in images: the text of every code found in an inline or attached picture.

Phishing mail often carries its link only as a QR code, so that text filters and link
rewriting never see it. Images are decoded offline with Pillow and zxing-cpp, within size
limits, so a huge or broken image costs a warning and nothing more.
"""

from __future__ import annotations

import logging
import warnings as python_warnings
from dataclasses import dataclass, field
from io import BytesIO

from air_tui.mail.cleaning import clean_line

logger = logging.getLogger(__name__)

try:
    import zxingcpp
    from PIL import Image
except ImportError:  # pragma: no cover - both are dependencies; this keeps parsing alive without them
    zxingcpp = None
    Image = None

MAX_IMAGE_BYTES = 10 * 1024 * 1024
"""Encoded images larger than this are not decoded."""

MAX_IMAGE_PIXELS = 25_000_000
"""Images with more pixels than this (about 5000 x 5000) are not decoded."""

MAX_DECODE_SIDE = 2_048
"""Larger images are scaled down to this many pixels on their longer side before the search."""

MAX_CODES = 20
"""Codes kept per image."""

MAX_TEXT_CHARS = 4_096
"""Characters kept of each code's text; a QR code encodes at most 7,089 digits."""

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
"""Pillow formats that are searched; other formats are not opened at all."""

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "jpe", "jfif", "gif", "bmp", "dib", "webp"})
IMAGE_MEDIA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/bmp", "image/x-bmp", "image/x-ms-bmp", "image/webp"}
)

_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")
# Names `filetype.detect_type` gives raster images.
_IMAGE_DETECTED_TYPES = frozenset({"png", "jpg", "gif", "bmp", "webp"})


@dataclass
class QrScan:
    """The result of searching one image for QR codes."""

    texts: list[str] = field(default_factory=list)
    """Text of each distinct code, cleaned to one line, in the order zxing-cpp reports them."""
    problem: str = ""
    """Reason the image was not searched or the search failed, in plain words; empty otherwise."""


def looks_like_image(data: bytes, media_type: str = "", extension: str = "", detected_type: str = "") -> bool:
    """Return whether a part is worth searching for QR codes.

    It is when its first bytes are those of a raster image, or when its media type or extension
    names a raster image and its content was not detected as something else (a ZIP named `.jpg` is
    not searched). Empty parts never are.
    """
    if not data:
        return False
    if data.startswith(_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return True
    if detected_type and detected_type not in _IMAGE_DETECTED_TYPES:
        return False
    return media_type.lower() in IMAGE_MEDIA_TYPES or extension.lower() in IMAGE_EXTENSIONS


def scan_image(data: bytes) -> QrScan:
    """Search an encoded PNG, JPEG, GIF, BMP or WebP image for QR codes; never raises.

    Only the first frame of an animated image is searched.

    Args:
        data: The image file's bytes.

    Returns:
        The decoded texts, or a problem when the image is too large, not an image in one of
        `IMAGE_FORMATS`, or the decoders failed.
    """
    if zxingcpp is None or Image is None:
        return QrScan(problem="QR codes cannot be decoded because zxing-cpp or Pillow is not installed")
    if len(data) > MAX_IMAGE_BYTES:
        return QrScan(problem=f"the image is {len(data):,} bytes, over the {MAX_IMAGE_BYTES:,}-byte limit for QR decoding; not searched")
    try:
        return _scan(data)
    except Image.UnidentifiedImageError:
        return QrScan(problem="the content could not be read as a PNG, JPEG, GIF, BMP or WebP image; not searched for QR codes")
    except Exception as error:  # noqa: BLE001 - image decoders raise many types on hostile input
        logger.debug("QR decoding failed", exc_info=True)
        return QrScan(problem=f"the image could not be decoded ({type(error).__name__}: {clean_line(str(error), 200)})")


def _scan(data: bytes) -> QrScan:
    with python_warnings.catch_warnings():
        # Pillow warns about large or odd images; the pixel limit below decides instead.
        python_warnings.simplefilter("ignore")
        image = Image.open(BytesIO(data), formats=IMAGE_FORMATS)
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            return QrScan(problem=f"the image is {width} x {height} pixels, over the {MAX_IMAGE_PIXELS:,}-pixel limit for QR decoding; not searched")
        if max(width, height) > MAX_DECODE_SIDE:
            # JPEG can be decoded at a reduced scale directly, which saves most of the work.
            image.draft("L", (MAX_DECODE_SIDE, MAX_DECODE_SIDE))
        image = image.convert("L")
        if max(image.size) > MAX_DECODE_SIDE:
            image.thumbnail((MAX_DECODE_SIDE, MAX_DECODE_SIDE))
    barcodes = zxingcpp.read_barcodes(image, formats=_qr_formats())
    texts: list[str] = []
    for barcode in barcodes:
        text = clean_line(barcode.text, MAX_TEXT_CHARS).strip()
        if text and text not in texts:
            texts.append(text)
        if len(texts) >= MAX_CODES:
            break
    return QrScan(texts=texts)


def _qr_formats() -> object:
    """Return QR Code, Micro QR Code and rMQR Code, as far as the installed zxing-cpp supports them."""
    known = [getattr(zxingcpp.BarcodeFormat, name, None) for name in ("QRCode", "MicroQRCode", "RMQRCode")]
    formats = [barcode_format for barcode_format in known if barcode_format is not None]
    if hasattr(zxingcpp, "barcode_formats_list"):
        # zxing-cpp 3 takes a tuple and deprecates combining formats with `|`.
        return tuple(formats)
    combined = formats[0]
    for barcode_format in formats[1:]:
        combined = combined | barcode_format
    return combined
