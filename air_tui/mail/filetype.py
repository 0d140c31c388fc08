"""The true type of an attachment, read from its first bytes rather than from its name."""

from __future__ import annotations

import re
import unicodedata

_EXTENSION = re.compile(r"^[\w-]{1,32}$")

# (offset, magic bytes, type). Longer and more specific signatures come first.
_SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"MZ", "exe"),
    (0, b"\x7fELF", "elf"),
    (0, b"%PDF-", "pdf"),
    (0, b"PK\x03\x04", "zip"),
    (0, b"PK\x05\x06", "zip"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
    (0, b"Rar!\x1a\x07", "rar"),
    (0, b"7z\xbc\xaf\x27\x1c", "7z"),
    (0, b"\x1f\x8b", "gz"),
    (0, b"L\x00\x00\x00\x01\x14\x02\x00", "lnk"),
    (0, b"{\\rtf", "rtf"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"\xff\xd8\xff", "jpg"),
    (0, b"GIF8", "gif"),
    (0x8001, b"CD001", "iso"),
    (0, b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", "one"),
]

# Extensions that are the same container as a detected type, so no mismatch is reported.
COMPATIBLE_EXTENSIONS: dict[str, frozenset[str]] = {
    "zip": frozenset({"zip", "docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "jar", "apk", "odt", "ods", "odp", "epub", "xps"}),
    "ole": frozenset({"doc", "xls", "ppt", "msg", "msi", "pub", "vsd", "dot", "xlt", "docx", "xlsx"}),
    "exe": frozenset({"exe", "dll", "scr", "com", "sys", "cpl", "ocx"}),
    "jpg": frozenset({"jpg", "jpeg", "jfif"}),
    "gz": frozenset({"gz", "tgz"}),
    "iso": frozenset({"iso", "img"}),
}

_HTML_MARKERS = (b"<!doctype html", b"<html", b"<script", b"<head", b"<body", b"<form")


def detect_type(data: bytes) -> str:
    """Return a short type name such as `exe`, `zip` or `pdf`, or "" when the bytes are not recognised."""
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_HTML_MARKERS) or b"<html" in head or b"<script" in head:
        return "html"
    return ""


def matches_extension(detected: str, extension: str) -> bool:
    """Return whether a file named `.extension` may hold content of the `detected` type."""
    if not detected or not extension:
        return True
    if detected == extension:
        return True
    return extension in COMPATIBLE_EXTENSIONS.get(detected, frozenset()) or (detected == "html" and extension in {"htm", "html", "shtml", "xhtml"})


def file_extension(filename: str) -> str:
    """Return the lower-cased last extension of a file name, without the dot.

    Invisible format characters and trailing dots or spaces are ignored, as
    Windows ignores them, so `invoice.exe\\u200b` still yields `exe`.

    Args:
        filename: The decoded file name.

    Returns:
        The extension, or "" when the name has none.
    """
    visible = "".join(char for char in filename if unicodedata.category(char) != "Cf")
    name = re.split(r"[\\/]", visible)[-1].rstrip(". ")
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or _EXTENSION.match(extension) is None:
        return ""
    return extension.lower()
