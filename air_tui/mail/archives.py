"""Listing ZIP archives in memory, recursively, with limits so a zip bomb costs nothing.

Nothing is written to disk and nothing is run: members are read into memory only to find
their type and to look inside nested archives, and every read is capped.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from air_tui.mail.filetype import detect_type, file_extension

MAX_DEPTH = 3
"""Archives nested deeper than this are listed by name only."""
MAX_MEMBERS = 1000
"""Members listed across all levels before the listing stops."""
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""Declared uncompressed bytes across all members before the listing stops."""
MAX_RATIO = 200
"""Declared uncompressed size over compressed size above which a member counts as a bomb."""
SNIFF_BYTES = 0x8006
"""Bytes read from each member to find its type; enough for the ISO 9660 signature at 0x8001."""
MAX_NESTED_READ = 16 * 1024 * 1024
"""Largest nested archive read whole to list its own members."""


@dataclass(frozen=True)
class ArchiveMember:
    path: str
    """Path inside the outer archive; nested archives join paths with ` > `."""
    size: int
    extension: str
    detected_type: str
    encrypted: bool


@dataclass
class ArchiveListing:
    members: list[ArchiveMember] = field(default_factory=list)
    encrypted: bool = False
    problems: list[str] = field(default_factory=list)
    """Reasons the listing stopped early, and members that looked like a bomb, in plain words."""


def list_zip(data: bytes) -> ArchiveListing | None:
    """List a ZIP archive and the archives inside it; None when `data` is not a readable ZIP."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    listing = ArchiveListing()
    budget = _Budget()
    with archive:
        _walk(archive, "", 1, listing, budget)
    return listing


@dataclass
class _Budget:
    members: int = 0
    declared_bytes: int = 0


def _walk(archive: zipfile.ZipFile, prefix: str, depth: int, listing: ArchiveListing, budget: _Budget) -> None:
    for info in archive.infolist():
        if info.is_dir():
            continue
        if budget.members >= MAX_MEMBERS:
            listing.problems.append(f"more than {MAX_MEMBERS} members; the rest are not listed")
            return
        budget.members += 1
        budget.declared_bytes += info.file_size
        path = f"{prefix}{info.filename}"
        encrypted = bool(info.flag_bits & 0x1)
        listing.encrypted = listing.encrypted or encrypted
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
            listing.problems.append(
                f"{path} expands {info.file_size // max(info.compress_size, 1)} times, a zip bomb; it was not read"
            )
            listing.members.append(ArchiveMember(path, info.file_size, file_extension(info.filename), "", encrypted))
            continue
        if budget.declared_bytes > MAX_TOTAL_BYTES:
            listing.problems.append(f"more than {MAX_TOTAL_BYTES // (1024 * 1024)} MB declared; the rest are not read")
            listing.members.append(ArchiveMember(path, info.file_size, file_extension(info.filename), "", encrypted))
            return
        head = b"" if encrypted else _read(archive, info, SNIFF_BYTES, listing)
        detected = detect_type(head)
        listing.members.append(ArchiveMember(path, info.file_size, file_extension(info.filename), detected, encrypted))
        if detected == "zip" and not encrypted:
            _walk_nested(archive, info, f"{path} > ", depth, listing, budget)


def _walk_nested(archive: zipfile.ZipFile, info: zipfile.ZipInfo, prefix: str, depth: int, listing: ArchiveListing, budget: _Budget) -> None:
    if depth >= MAX_DEPTH:
        listing.problems.append(f"{prefix.rstrip(' >')} is nested more than {MAX_DEPTH} levels deep; its members are not listed")
        return
    if info.file_size > MAX_NESTED_READ:
        listing.problems.append(f"{prefix.rstrip(' >')} is larger than {MAX_NESTED_READ // (1024 * 1024)} MB; its members are not listed")
        return
    data = _read(archive, info, MAX_NESTED_READ, listing)
    try:
        nested = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        listing.problems.append(f"{prefix.rstrip(' >')} looks like a ZIP archive but cannot be read")
        return
    with nested:
        _walk(nested, prefix, depth + 1, listing, budget)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, listing: ArchiveListing) -> bytes:
    """Read at most `limit` decompressed bytes of one member; a damaged member reads as empty."""
    try:
        with archive.open(info) as member:
            return member.read(limit)
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError, NotImplementedError, EOFError) as error:
        listing.problems.append(f"{info.filename} cannot be read: {error}")
        return b""
