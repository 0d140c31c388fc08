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
    (0, b"\xfd7zXZ\x00", "xz"),
    (0, b"MSCF\x00\x00\x00\x00", "cab"),
    (0, b"conectix", "vhd"),
    (0, b"vhdxfile", "vhdx"),
    (0, b"L\x00\x00\x00\x01\x14\x02\x00", "lnk"),
    (0, b"{\\rtf", "rtf"),
    (0, b"\x89PNG\r\n\x1a\n", "png"),
    (0, b"\xff\xd8\xff", "jpg"),
    (0, b"GIF8", "gif"),
    (0x8001, b"CD001", "iso"),
    (0x8001, b"BEA01", "udf"),
    (257, b"ustar", "tar"),
    (0, b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", "one"),
]

# Extensions that are the same container as a detected type, so no mismatch is reported.
COMPATIBLE_EXTENSIONS: dict[str, frozenset[str]] = {
    "zip": frozenset({"zip", "docx", "xlsx", "pptx", "docm", "xlsm", "pptm", "jar", "apk", "odt", "ods", "odp", "epub", "xps"}),
    "ole": frozenset({"doc", "xls", "ppt", "msg", "msi", "pub", "vsd", "dot", "xlt", "docx", "xlsx"}),
    "exe": frozenset({"exe", "dll", "scr", "com", "sys", "cpl", "ocx"}),
    "jpg": frozenset({"jpg", "jpeg", "jfif"}),
    "gz": frozenset({"gz", "tgz"}),
    "bz2": frozenset({"bz2", "tbz", "tbz2"}),
    "xz": frozenset({"xz", "txz"}),
    "iso": frozenset({"iso", "img"}),
    "udf": frozenset({"iso", "img", "udf"}),
    "img": frozenset({"img", "ima", "vfd", "flp"}),
}

_HTML_MARKERS = (b"<!doctype html", b"<html", b"<script", b"<head", b"<body", b"<form")


def detect_type(data: bytes) -> str:
    """Return a short type name such as `exe`, `zip` or `pdf`, or "" when the bytes are not recognised."""
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    if data[:3] == b"BZh" and data[3:4].isdigit() and data[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bz2"
    if _is_old_tar_header(data):
        return "tar"
    if _is_fat_or_ntfs_boot_sector(data):
        return "img"
    # A fixed-size VHD has its footer only in the last 512 bytes.
    if len(data) >= 1024 and len(data) % 512 == 0 and data[-512:-504] == b"conectix":
        return "vhd"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(_HTML_MARKERS) or b"<html" in head or b"<script" in head:
        return "html"
    return ""


def _is_old_tar_header(data: bytes) -> bool:
    """Return whether `data` starts with a pre-POSIX tar header, which has no magic but a checksum.

    The checksum is the byte sum of the 512-byte header with its own 8-byte field read as spaces.
    """
    if len(data) < 512 or data[0] in (0, 0x20):
        return False
    field = data[148:156].split(b"\x00", 1)[0].strip()
    if not field or any(byte not in b"01234567" for byte in field):
        return False
    computed = sum(data[:148]) + 8 * 0x20 + sum(data[156:512])
    return int(field, 8) == computed


def _is_fat_or_ntfs_boot_sector(data: bytes) -> bool:
    """Return whether `data` starts with the boot sector of a FAT, exFAT or NTFS disk image."""
    if data[510:512] != b"\x55\xaa":
        return False
    return data[3:11] in (b"NTFS    ", b"EXFAT   ") or data[54:59] == b"FAT12" or data[54:59] == b"FAT16" or data[82:87] == b"FAT32"


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
