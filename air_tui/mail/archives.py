"""Listing archives and disk images in memory, recursively, with limits so a bomb costs nothing.

ZIP, tar (plain or compressed with gzip, bzip2 or xz), single gzip, bzip2 and xz files, 7z,
RAR, CAB and ISO 9660 images are listed; UDF-only, FAT/NTFS, VHD and VHDX images are detected
and named. Nothing is written to disk and nothing is run: members are read into memory only to
find their type and to look inside nested archives, and every read is capped. Declared sizes
are checked before anything is read, and streams are decompressed a piece at a time so that
decompression stops at the byte cap or as soon as the output outgrows the input too fast.
"""

from __future__ import annotations

import bz2
import io
import lzma
import posixpath
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TypeVar

import py7zr
import pycdlib
import rarfile
from py7zr.helpers import get_sanitized_output_path
from py7zr.io import Py7zIO, WriterFactory

from air_tui.mail.filetype import detect_type, file_extension

MAX_DEPTH = 3
"""Archives nested deeper than this are listed by name only."""
MAX_MEMBERS = 1000
"""Members listed across all levels before the listing stops."""
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""Declared uncompressed bytes across all members, and bytes decompressed from gzip, bzip2 and
xz streams, before the listing stops."""
MAX_RATIO = 200
"""Uncompressed size over compressed size above which a member counts as a bomb."""
MIN_BOMB_BYTES = 1024 * 1024
"""Members smaller than this are never called bombs: reading them costs nothing."""
SNIFF_BYTES = 0x8006
"""Bytes read from each member to find its type; enough for the ISO 9660 signature at 0x8001."""
MAX_NESTED_READ = 16 * 1024 * 1024
"""Largest nested archive, or single compressed file, read whole to list its own members."""

ARCHIVE_TYPES = frozenset({"zip", "tar", "gz", "bz2", "xz", "7z", "rar", "cab", "iso", "udf", "img", "vhd", "vhdx"})
"""Detected types that `list_archive` opens or at least names."""

_STREAM_TYPES = {"gz": "gzip", "bz2": "bzip2", "xz": "xz"}
_LABELS = {
    "zip": "ZIP archive",
    "tar": "tar archive",
    "gz": "gzip file",
    "bz2": "bzip2 file",
    "xz": "xz file",
    "7z": "7z archive",
    "rar": "RAR archive",
    "cab": "CAB archive",
    "iso": "ISO 9660 disk image",
    "udf": "UDF disk image",
    "img": "FAT or NTFS disk image",
    "vhd": "VHD virtual disk",
    "vhdx": "VHDX virtual disk",
}
# Small input pieces keep the ratio check close to the truth for bzip2 and xz, whose
# decompressors take in a whole piece before they produce output.
_INPUT_CHUNK = 16 * 1024
_OUTPUT_CHUNK = 256 * 1024


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
    archive_type: str = ""
    """Outer format: `zip`, `tar`, `tar.gz`, `gzip`, `7z`, `rar`, `cab`, `iso`, `vhd`, …"""


def list_archive(data: bytes, filename: str = "") -> ArchiveListing | None:
    """List an archive or disk image by its content type, and the archives inside it.

    Args:
        data: The attachment's bytes.
        filename: The attachment's name, used to name the content of a single
            compressed file whose header records no name.

    Returns:
        The listing, or None when the content is not an archive type. An archive
        that cannot be read is returned with a problem that explains why.
    """
    kind = detect_type(data)
    if kind not in ARCHIVE_TYPES:
        return None
    listing = ArchiveListing(archive_type=_STREAM_TYPES.get(kind, kind))
    walker = _Walker(listing)
    try:
        walker.list_into(data, kind, "", 1, filename)
    except _Unreadable as error:
        listing.problems.append(f"the {_LABELS[kind]} cannot be read: {error}")
    except _Stop:
        pass
    return listing


def list_zip(data: bytes) -> ArchiveListing | None:
    """List a ZIP archive and the archives inside it; None when `data` is not a readable ZIP."""
    if detect_type(data) != "zip":
        return None
    listing = list_archive(data)
    if listing is None or any(problem.startswith("the ZIP archive cannot be read") for problem in listing.problems):
        return None
    return listing


class _Stop(Exception):
    """A listing-wide limit was reached; the problem is already recorded."""


class _Unreadable(Exception):
    """The archive's own structure cannot be read; the message gives the reason."""


@dataclass
class _Entry:
    """One member as an archive format reports it, before the common checks."""

    name: str
    size: int
    compressed: int | None = None
    """Compressed size, when the format stores it per member; used for the bomb check."""
    encrypted: bool = False
    read: Callable[[int], bytes] | None = None
    """Returns at most n bytes from the member's start; None when the content cannot be read
    without an external tool."""
    ratio: float | None = None
    """Expansion ratio shared by all members, for formats that compress members together."""


class _PrefixReader:
    """Read a member's first bytes on demand, keeping what was read so a longer read continues."""

    def __init__(self, open_member: Callable[[], IO[bytes]], on_error: Callable[[str], None]) -> None:
        self._open_member = open_member
        self._on_error = on_error
        self._file: IO[bytes] | None = None
        self._data = bytearray()
        self._finished = False

    def __call__(self, limit: int) -> bytes:
        while len(self._data) < limit and not self._finished:
            try:
                if self._file is None:
                    self._file = self._open_member()
                piece = self._file.read(min(limit - len(self._data), _OUTPUT_CHUNK))
            except Exception as error:  # noqa: BLE001 - archive libraries raise many types on hostile input
                self._on_error(f"{type(error).__name__}: {error}")
                self._finished = True
                break
            if not piece:
                self._finished = True
            self._data += piece
        return bytes(self._data[:limit])


class _Walker:
    """Visits members of nested archives against one shared set of limits."""

    def __init__(self, listing: ArchiveListing) -> None:
        self.listing = listing
        self.members = 0
        self.declared_bytes = 0
        self.inflated_bytes = 0

    def problem(self, text: str) -> None:
        if text not in self.listing.problems:
            self.listing.problems.append(text)

    def list_into(self, data: bytes, kind: str, prefix: str, depth: int, name: str) -> None:
        """List the archive `data` of type `kind`; raise _Unreadable when its structure is broken."""
        label = prefix.removesuffix(" > ") or f"the {_LABELS[kind]}"
        if kind == "zip":
            _list_zip(self, data, prefix, depth, label)
        elif kind == "tar":
            _list_tar(self, io.BytesIO(data), prefix, depth, label)
        elif kind in _STREAM_TYPES:
            _list_stream(self, data, kind, prefix, depth, name, label)
        elif kind == "7z":
            _list_7z(self, data, prefix, depth, label)
        elif kind == "rar":
            _list_rar(self, data, prefix, depth, label)
        elif kind == "cab":
            _list_cab(self, data, prefix, depth)
        elif kind == "iso":
            _list_iso(self, data, prefix, depth, label)
        else:
            self.problem(f"{label} is a {_LABELS[kind]}; its files are not listed")

    def visit(self, entry: _Entry, prefix: str, depth: int) -> None:
        """Apply the count, size and bomb limits to one member, find its type and open it if nested."""
        if self.members >= MAX_MEMBERS:
            self.problem(f"more than {MAX_MEMBERS} members; the rest are not listed")
            raise _Stop
        self.members += 1
        self.declared_bytes += max(entry.size, 0)
        path = f"{prefix}{entry.name}"
        extension = file_extension(entry.name)
        self.listing.encrypted = self.listing.encrypted or entry.encrypted

        ratio = entry.ratio
        if ratio is None and entry.compressed:
            ratio = entry.size / entry.compressed
        if ratio is not None and entry.size > MIN_BOMB_BYTES and ratio > MAX_RATIO:
            self.problem(f"{path} expands {int(ratio)} times, a decompression bomb (zip bomb); it was not read")
            self.listing.members.append(ArchiveMember(path, entry.size, extension, "", entry.encrypted))
            return
        if self.declared_bytes > MAX_TOTAL_BYTES:
            self.problem(f"more than {MAX_TOTAL_BYTES // (1024 * 1024)} MB declared; the rest are not read")
            self.listing.members.append(ArchiveMember(path, entry.size, extension, "", entry.encrypted))
            raise _Stop

        readable = entry.read is not None and not entry.encrypted
        head = entry.read(SNIFF_BYTES) if entry.read is not None and readable else b""
        detected = detect_type(head)
        self.listing.members.append(ArchiveMember(path, entry.size, extension, detected, entry.encrypted))
        if detected in ARCHIVE_TYPES and entry.read is not None and readable:
            self._open_nested(entry, entry.read, detected, f"{path} > ", depth)

    def _open_nested(self, entry: _Entry, read: Callable[[int], bytes], kind: str, prefix: str, depth: int) -> None:
        path = prefix.removesuffix(" > ")
        if depth >= MAX_DEPTH:
            self.problem(f"{path} is nested more than {MAX_DEPTH} levels deep; its members are not listed")
            return
        if entry.size > MAX_NESTED_READ:
            self.problem(f"{path} is larger than {MAX_NESTED_READ // (1024 * 1024)} MB; its members are not listed")
            return
        try:
            self.list_into(read(MAX_NESTED_READ), kind, prefix, depth + 1, entry.name)
        except _Unreadable as error:
            self.problem(f"{path} looks like a {_LABELS[kind]} but cannot be read: {error}")


_T = TypeVar("_T")


def _iterate(items: Iterable[_T], on_error: Callable[[str], None]) -> Iterator[_T]:
    """Yield from a library iterator, turning an error while reading the next header into a problem.

    The caller's own work runs outside the `try`, so the listing limits still stop the walk.
    """
    iterator = iter(items)
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as error:  # noqa: BLE001 - archive libraries raise many types on hostile input
            on_error(f"{type(error).__name__}: {error}")
            return
        yield item


def _list_zip(walker: _Walker, data: bytes, prefix: str, depth: int, label: str) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise _Unreadable(str(error)) from error
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            path = f"{prefix}{info.filename}"
            reader = _PrefixReader(
                lambda info=info: archive.open(info),
                lambda error, path=path: walker.problem(f"{path} cannot be read: {error}"),
            )
            entry = _Entry(info.filename, info.file_size, info.compress_size, bool(info.flag_bits & 0x1), reader)
            walker.visit(entry, prefix, depth)


def _list_tar(walker: _Walker, stream: IO[bytes], prefix: str, depth: int, label: str) -> None:
    """List a tar stream from its headers, reading member data only to find types.

    Stream mode (`r|`) reads forward only, so a compressed tar is never decompressed twice and
    never held in memory whole.
    """
    try:
        archive = tarfile.open(fileobj=stream, mode="r|")
    except (tarfile.TarError, OSError, ValueError, EOFError) as error:
        raise _Unreadable(str(error)) from error
    with archive:
        headers = _iterate(archive, lambda error: walker.problem(f"{label} stops at an unreadable header: {error}"))
        for info in headers:
            if not info.isreg():
                continue
            path = f"{prefix}{info.name}"
            reader = _PrefixReader(
                lambda info=info: archive.extractfile(info),
                lambda error, path=path: walker.problem(f"{path} cannot be read: {error}"),
            )
            walker.visit(_Entry(info.name, info.size, read=reader), prefix, depth)


class _Inflater(io.RawIOBase):
    """Decompress one gzip, bzip2 or xz stream a piece at a time, within a byte cap and the ratio limit.

    Concatenated streams are read as one, as the command-line tools do. Output is produced at
    most `_OUTPUT_CHUNK` bytes per step, so a bomb is stopped after about a megabyte.
    """

    def __init__(self, data: bytes, kind: str, limit: int) -> None:
        super().__init__()
        self._data = data
        self._kind = kind
        self._limit = limit
        self._decompressor = _new_decompressor(kind)
        self._position = 0
        self._done = False
        self.produced = 0
        self.stop_reason = ""
        """Why decompression stopped before the end, in plain words; empty when it reached the end."""
        self.bomb = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        filled = 0
        while filled < len(buffer):
            piece = self._step(len(buffer) - filled)
            if not piece:
                break
            buffer[filled : filled + len(piece)] = piece
            filled += len(piece)
        return filled

    def consumed(self) -> int:
        """Return the compressed bytes read so far."""
        tail = getattr(self._decompressor, "unconsumed_tail", b"")
        return self._position - len(tail)

    def _step(self, size: int) -> bytes:
        while not self._done:
            room = min(size, _OUTPUT_CHUNK, self._limit - self.produced)
            if room <= 0:
                self.stop_reason = f"more than {self._limit // (1024 * 1024)} MB when decompressed"
                self._done = True
                break
            try:
                piece = self._decompress(room)
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as error:
                self.stop_reason = f"the compressed data is damaged ({error})"
                self._done = True
                break
            self.produced += len(piece)
            if self.produced > MIN_BOMB_BYTES and self.produced > MAX_RATIO * max(self.consumed(), 1):
                self.bomb = True
                self.stop_reason = f"it expands more than {MAX_RATIO} times"
                self._done = True
            if piece:
                return piece
        return b""

    def _decompress(self, room: int) -> bytes:
        decompressor = self._decompressor
        if self._kind == "gz":
            source = decompressor.unconsumed_tail or self._next_input()
            piece = decompressor.decompress(source, room)
        else:
            source = self._next_input() if decompressor.needs_input else b""
            piece = decompressor.decompress(source, max_length=room)
        if decompressor.eof:
            self._position -= len(decompressor.unused_data)
            rest = self._data[self._position : self._position + 6]
            if rest and detect_type(rest) == self._kind:
                self._decompressor = _new_decompressor(self._kind)
            else:
                # Bytes after the last stream are ignored, as gzip, bzip2 and xz ignore them.
                self._done = True
        elif not piece and not source and self._position >= len(self._data):
            self.stop_reason = "the compressed data ends early"
            self._done = True
        return piece

    def _next_input(self) -> bytes:
        source = self._data[self._position : self._position + _INPUT_CHUNK]
        self._position += len(source)
        return source


def _new_decompressor(kind: str) -> zlib._Decompress | bz2.BZ2Decompressor | lzma.LZMADecompressor:
    if kind == "gz":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if kind == "bz2":
        return bz2.BZ2Decompressor()
    return lzma.LZMADecompressor()


def _list_stream(walker: _Walker, data: bytes, kind: str, prefix: str, depth: int, name: str, label: str) -> None:
    """List a gzip, bzip2 or xz file: a compressed tar archive, or the one file it compresses."""
    remaining = max(MAX_TOTAL_BYTES - walker.inflated_bytes, 0)
    inflater = _Inflater(data, kind, remaining)
    buffered = io.BufferedReader(inflater, buffer_size=_OUTPUT_CHUNK)
    head = buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES]
    if detect_type(head) == "tar":
        if not prefix:
            walker.listing.archive_type = f"tar.{kind}"
        try:
            _list_tar(walker, buffered, prefix, depth, label)
        finally:
            walker.inflated_bytes += inflater.produced
        if inflater.stop_reason:
            verb = "is a decompression bomb" if inflater.bomb else "was not read to the end"
            walker.problem(f"{label} {verb}: {inflater.stop_reason}")
        return

    # A single compressed file: its content is read up to the nested-read cap, so its type is
    # found and an archive inside can be listed in turn.
    content = buffered.read(MAX_NESTED_READ)
    walker.inflated_bytes += inflater.produced
    member_name = _gzip_name(data) if kind == "gz" else ""
    member_name = member_name or _strip_suffix(name) or "(compressed content)"
    size = len(content)
    if inflater.bomb:
        walker.visit(_Entry(member_name, inflater.produced, compressed=max(inflater.consumed(), 1)), prefix, depth)
        return
    if inflater.stop_reason and not inflater.stop_reason.startswith("more than"):
        walker.problem(f"{prefix}{member_name} was not read to the end: {inflater.stop_reason}")
    # NOTE: a file larger than MAX_NESTED_READ is listed with the size read so far, or the
    # size its gzip trailer declares, since reading it all would cost what the cap saves.
    if len(content) >= MAX_NESTED_READ and kind == "gz" and len(data) >= 4:
        size = max(size, int.from_bytes(data[-4:], "little"))
    walker.visit(_Entry(member_name, size, read=lambda limit: content[:limit]), prefix, depth)


def _gzip_name(data: bytes) -> str:
    """Return the original file name a gzip header records (FNAME, RFC 1952), or ""."""
    if len(data) < 10 or not data[3] & 0x08:
        return ""
    position = 10
    if data[3] & 0x04:
        position = 12 + int.from_bytes(data[10:12], "little")
    end = data.find(b"\x00", position, position + 1024)
    if end < 0:
        return ""
    return data[position:end].decode("latin-1")


def _strip_suffix(name: str) -> str:
    base = posixpath.basename(name.replace("\\", "/"))
    stem, dot, extension = base.rpartition(".")
    if not dot:
        return ""
    extension = extension.lower()
    if extension in ("tgz", "tbz", "tbz2", "txz"):
        return f"{stem}.tar"
    return stem if extension in ("gz", "bz2", "xz") else ""


class _SniffWriter(Py7zIO):
    """Keep a member's first bytes in memory, and the rest only when they start an archive."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._keep_all: bool | None = None

    def write(self, s: bytes | bytearray) -> int:
        written = len(s)
        if len(self.data) < SNIFF_BYTES:
            room = SNIFF_BYTES - len(self.data)
            self.data += s[:room]
            s = s[room:]
        if s:
            if self._keep_all is None:
                self._keep_all = detect_type(bytes(self.data)) in ARCHIVE_TYPES
            if self._keep_all and len(self.data) < MAX_NESTED_READ:
                self.data += s[: MAX_NESTED_READ - len(self.data)]
        return written

    def read(self, size: int | None = None) -> bytes:
        return bytes(self.data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return len(self.data)


class _SniffFactory(WriterFactory):
    def __init__(self) -> None:
        self.products: dict[str, _SniffWriter] = {}

    def create(self, filename: str) -> Py7zIO:
        product = _SniffWriter()
        self.products[filename] = product
        return product


def _list_7z(walker: _Walker, data: bytes, prefix: str, depth: int, label: str) -> None:
    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), mode="r", max_extract_size=MAX_TOTAL_BYTES)
    except py7zr.PasswordRequired:
        walker.listing.encrypted = True
        walker.problem(f"{label} has encrypted file names, so its members cannot be listed")
        return
    except Exception as error:  # noqa: BLE001 - py7zr raises many types on hostile input
        raise _Unreadable(f"{type(error).__name__}: {error}") from error
    with archive:
        try:
            files = [info for info in archive.list() if not info.is_directory]
            encrypted = archive.needs_password()
        except Exception as error:  # noqa: BLE001 - same
            raise _Unreadable(f"{type(error).__name__}: {error}") from error
        declared = sum(info.uncompressed or 0 for info in files)
        # Solid 7z archives compress members together, so the ratio is taken over the whole archive.
        ratio = declared / max(len(data), 1)
        fits = walker.declared_bytes + declared <= MAX_TOTAL_BYTES
        contents = {}
        if not encrypted and fits and not (declared > MIN_BOMB_BYTES and ratio > MAX_RATIO):
            contents = _read_7z(archive, [info.filename for info in files[: MAX_MEMBERS - walker.members]], walker, label)
        for info in files:
            content = contents.get(info.filename)
            reader = (lambda limit, content=content: content[:limit]) if content is not None else None
            walker.visit(_Entry(info.filename, info.uncompressed or 0, encrypted=encrypted, read=reader, ratio=ratio), prefix, depth)


def _read_7z(archive: py7zr.SevenZipFile, names: list[str], walker: _Walker, label: str) -> dict[str, bytes]:
    """Decompress the named members into memory, keeping only their first bytes unless nested."""
    keys: dict[str, str] = {}
    for name in names:
        try:
            keys[name] = get_sanitized_output_path(name, None).as_posix()
        except Exception:  # noqa: BLE001, S112 - a name py7zr rejects (such as `../x`) is listed but not read
            continue
    if not keys:
        return {}
    factory = _SniffFactory()
    try:
        archive.extract(targets=list(keys), factory=factory)
    except Exception as error:  # noqa: BLE001 - py7zr raises many types on hostile input
        walker.problem(f"{label} members cannot be read: {type(error).__name__}: {error}")
    return {name: bytes(factory.products[key].data) for name, key in keys.items() if key in factory.products}


def _list_rar(walker: _Walker, data: bytes, prefix: str, depth: int, label: str) -> None:
    """List a RAR archive from its headers; only stored members are read, since the rest need unrar."""
    try:
        archive = rarfile.RarFile(io.BytesIO(data), errors="strict")
        damaged = False
    except (rarfile.Error, OSError, ValueError, EOFError, struct.error, IndexError) as strict_error:
        damaged = True
        try:
            archive = rarfile.RarFile(io.BytesIO(data))
        except (rarfile.Error, OSError, ValueError, EOFError, struct.error, IndexError) as error:
            raise _Unreadable(f"{type(error).__name__}: {error}") from error
        walker.problem(f"{label} is damaged, so only part of it is listed: {strict_error}")
    infos = archive.infolist()
    if archive.needs_password() and not infos:
        walker.listing.encrypted = True
        walker.problem(f"{label} has encrypted file names, so its members cannot be listed")
        return
    if not infos and not damaged and not archive.needs_password():
        walker.problem(f"{label} lists no files")
    for info in infos:
        if info.is_dir():
            continue
        encrypted = info.needs_password()
        stored = info.compress_type == rarfile.RAR_M0 and getattr(info, "file_redir", None) is None
        path = f"{prefix}{info.filename}"
        # Compressed members would be handed to an external unrar process, which is never run here.
        reader = (
            _PrefixReader(
                lambda info=info: archive.open(info),
                lambda error, path=path: walker.problem(f"{path} cannot be read: {error}"),
            )
            if stored and not encrypted
            else None
        )
        entry = _Entry(info.filename or "", info.file_size or 0, info.compress_size or None, encrypted, reader)
        walker.visit(entry, prefix, depth)


def _list_cab(walker: _Walker, data: bytes, prefix: str, depth: int) -> None:
    """List the file table of a Microsoft cabinet (CAB) file.

    NOTE: member data is compressed with MSZIP, LZX or Quantum and is not decompressed, so
    members are listed by name and size only, and archives inside a CAB are not opened.
    """
    try:
        (files_offset,) = struct.unpack_from("<I", data, 16)
        (count,) = struct.unpack_from("<H", data, 28)
    except struct.error as error:
        raise _Unreadable(f"the header is cut short ({error})") from error
    position = files_offset
    for _ in range(count):
        try:
            size, _offset, _folder, _date, _time, attributes = struct.unpack_from("<IIHHHH", data, position)
        except struct.error:
            walker.problem("the CAB file table is cut short; the rest are not listed")
            return
        end = data.find(b"\x00", position + 16, position + 16 + 1024)
        if end < 0:
            walker.problem("a CAB file name has no end; the rest are not listed")
            return
        raw_name = data[position + 16 : end]
        # Attribute 0x80 marks a UTF-8 name; otherwise the name is in the system code page.
        name = raw_name.decode("utf-8", "replace") if attributes & 0x80 else raw_name.decode("cp1252", "replace")
        walker.visit(_Entry(name.replace("\\", "/"), size), prefix, depth)
        position = end + 1


def _list_iso(walker: _Walker, data: bytes, prefix: str, depth: int, label: str) -> None:
    """List the files of an ISO 9660 image, by Joliet, Rock Ridge or UDF names when present."""
    image = pycdlib.PyCdlib()
    try:
        image.open_fp(io.BytesIO(data))
    except Exception as error:  # noqa: BLE001 - pycdlib raises many types on hostile input
        raise _Unreadable(f"{type(error).__name__}: {error}") from error
    try:
        if image.has_joliet():
            facade = "joliet_path"
        elif image.has_rock_ridge():
            facade = "rr_path"
        elif image.has_udf():
            facade = "udf_path"
        else:
            facade = "iso_path"
        directories = _iterate(image.walk(**{facade: "/"}), lambda error: walker.problem(f"{label} has an unreadable directory: {error}"))
        for directory, _subdirectories, names in directories:
            for name in names:
                image_path = posixpath.join(directory, name)
                display_path = image_path.lstrip("/")
                if facade == "iso_path":
                    display_path = display_path.rpartition(";")[0] or display_path
                walker.visit(_iso_entry(image, facade, image_path, display_path, prefix, walker), prefix, depth)
    finally:
        try:
            image.close()
        except Exception:  # noqa: BLE001, S110 - closing an in-memory image has nothing left to report
            pass


def _iso_entry(image: pycdlib.PyCdlib, facade: str, image_path: str, display_path: str, prefix: str, walker: _Walker) -> _Entry:
    try:
        size = image.get_record(**{facade: image_path}).get_data_length()
    except Exception:  # noqa: BLE001 - pycdlib raises many types on hostile input
        size = 0
    def open_member() -> IO[bytes]:
        # The handle works only once entered; entering it does no more than record its start.
        return image.open_file_from_iso(**{facade: image_path}).__enter__()

    reader = _PrefixReader(open_member, lambda error: walker.problem(f"{prefix}{display_path} cannot be read: {error}"))
    return _Entry(display_path, size, read=reader)
