"""Archive listing on corpus malware zips and on archives of every format built here to hit each limit."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import struct
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path

import py7zr
import pycdlib
import pytest

from air_tui.mail import archives, parse_message
from air_tui.mail.archives import list_archive, list_zip

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_corpus_zip_with_executable() -> None:
    message = parse_message((CORPUS / "spamscope" / "mail_test_4.eml").read_bytes())
    archive = next(a for a in message.attachments if a.extension == "zip")
    assert archive.archive_members == ["IMG-PO-492384BA_outputB93880.exe (exe)"]
    assert archive.archive_encrypted is False


def test_corpus_nested_zip_listed() -> None:
    message = parse_message((CORPUS / "spamscope" / "mail_test_1.eml").read_bytes())
    archive = next(a for a in message.attachments if a.detected_type == "zip")
    assert len(archive.archive_members) == 2
    assert archive.archive_members[1].endswith("> doc_uvedoml.js (js)")


def test_corpus_password_protected_zip() -> None:
    message = parse_message((CORPUS / "spamassassin" / "olevb-zippwmacro.eml").read_bytes())
    archive = next(a for a in message.attachments if a.detected_type == "zip")
    assert archive.archive_encrypted is True
    assert archive.archive_members == ["macro.xlsm (xlsm, encrypted)"]


def test_bomb_member_is_not_read() -> None:
    data = zip_bytes({"big.txt": b"\x00" * 5_000_000})
    listing = list_zip(data)
    assert listing is not None
    assert any("zip bomb" in problem for problem in listing.problems)
    assert listing.members[0].detected_type == ""


def test_small_member_with_high_ratio_is_read() -> None:
    # 100 KB of zeros compress about a thousand times, but reading them costs nothing.
    listing = list_zip(zip_bytes({"pad.bin": b"\x00" * 100_000}))
    assert listing is not None
    assert listing.problems == []


def test_depth_limit_stops_nesting() -> None:
    data = zip_bytes({"payload.exe": b"MZ" + b"\x00" * 100})
    for level in range(archives.MAX_DEPTH + 1):
        data = zip_bytes({f"level{level}.zip": data}, compression=zipfile.ZIP_STORED)
    listing = list_zip(data)
    assert listing is not None
    assert any("nested more than" in problem for problem in listing.problems)
    assert not any(member.path.endswith("payload.exe") for member in listing.members)


def test_member_count_limit(monkeypatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBERS", 5)
    listing = list_zip(zip_bytes({f"f{n}.txt": b"x" for n in range(20)}))
    assert listing is not None
    assert len(listing.members) == 5
    assert any("more than 5 members" in problem for problem in listing.problems)


def test_not_a_zip_returns_none() -> None:
    assert list_zip(b"PK\x03\x04 but broken") is None
    assert list_zip(b"") is None


# Archives of every other format, built here in memory.


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def sevenzip_bytes(members: dict[str, bytes], password: str | None = None, header_encryption: bool = False) -> bytes:
    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", password=password, header_encryption=header_encryption) as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return buffer.getvalue()


def iso_bytes(members: dict[str, bytes]) -> bytes:
    image = pycdlib.PyCdlib()
    image.new(joliet=3)
    for number, (name, data) in enumerate(members.items()):
        image.add_fp(io.BytesIO(data), len(data), f"/FILE{number}.BIN;1", joliet_path=f"/{name}")
    buffer = io.BytesIO()
    image.write_fp(buffer)
    image.close()
    return buffer.getvalue()


def gzip_of_zeros(megabytes: int) -> bytes:
    """Compress `megabytes` MB of zeros without holding them in memory at once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\x00" * (1024 * 1024)
    return b"".join([*(compressor.compress(chunk) for _ in range(megabytes)), compressor.flush()])


def rar5_vint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def rar5_block(header_type: int, flags: int, fields: bytes, data: bytes = b"") -> bytes:
    """One RAR5 header block: CRC32, size, type, flags, data size when flag 0x2 is set, fields."""
    body = rar5_vint(header_type) + rar5_vint(flags) + (rar5_vint(len(data)) if flags & 0x2 else b"") + fields
    header = rar5_vint(len(body)) + body
    return struct.pack("<I", zlib.crc32(header)) + header + data


RAR5_SIGNATURE = b"Rar!\x1a\x07\x01\x00"


def rar5_stored(name: bytes, data: bytes) -> bytes:
    """A RAR5 archive with one member stored uncompressed, as `rar a -m0` writes it."""
    file_fields = (
        rar5_vint(0x0004)  # file flags: CRC32 present
        + rar5_vint(len(data))  # unpacked size
        + rar5_vint(0x20)  # attributes
        + struct.pack("<I", zlib.crc32(data))
        + rar5_vint(0)  # compression: version 0, method 0 (store)
        + rar5_vint(0)  # host OS: Windows
        + rar5_vint(len(name))
        + name
    )
    main = rar5_block(1, 0, rar5_vint(0))
    end = rar5_block(5, 0, rar5_vint(0))
    return RAR5_SIGNATURE + main + rar5_block(2, 0x2, file_fields, data) + end


def cab_bytes(names: list[str]) -> bytes:
    """Build a cabinet with one uncompressed folder and a file table, without member data."""
    files = b"".join(struct.pack("<IIHHHH", 10, 0, 0, 0, 0, 0x20) + name.encode("cp1252") + b"\x00" for name in names)
    files_offset = 36 + 8
    header = struct.pack("<4sIIIIIBBHHHHH", b"MSCF", 0, files_offset + len(files), 0, files_offset, 0, 3, 1, 1, len(names), 0, 0, 0)
    folder = struct.pack("<IHH", files_offset + len(files), 0, 0)
    return header + folder + files


def types(listing: archives.ArchiveListing) -> list[tuple[str, str]]:
    return [(member.path, member.detected_type) for member in listing.members]


def test_tar_listed_from_headers() -> None:
    listing = list_archive(tar_bytes({"docs/invoice.exe": b"MZ" + b"\x00" * 100, "readme.txt": b"hello"}))
    assert listing is not None
    assert listing.archive_type == "tar"
    assert types(listing) == [("docs/invoice.exe", "exe"), ("readme.txt", "")]
    assert listing.problems == []


@pytest.mark.parametrize(("mode", "archive_type"), [("w:gz", "tar.gz"), ("w:bz2", "tar.bz2"), ("w:xz", "tar.xz")])
def test_compressed_tar_listed(mode: str, archive_type: str) -> None:
    listing = list_archive(tar_bytes({"payload.exe": b"MZ" + b"\x00" * 100, "notes.pdf": b"%PDF-1.4"}, mode))
    assert listing is not None
    assert listing.archive_type == archive_type
    assert types(listing) == [("payload.exe", "exe"), ("notes.pdf", "pdf")]


@pytest.mark.parametrize(
    ("compress", "archive_type"),
    [(gzip.compress, "gzip"), (bz2.compress, "bzip2"), (lzma.compress, "xz")],
)
def test_single_compressed_file_typed(compress, archive_type: str) -> None:
    listing = list_archive(compress(b"MZ" + b"\x00" * 100), "invoice.exe." + {"gzip": "gz", "bzip2": "bz2", "xz": "xz"}[archive_type])
    assert listing is not None
    assert listing.archive_type == archive_type
    assert types(listing) == [("invoice.exe", "exe")]
    assert listing.members[0].size == 102


def test_gzip_member_named_from_header() -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="scan.js", mode="wb", fileobj=buffer) as stream:
        stream.write(b"var x = 1;")
    listing = list_archive(buffer.getvalue(), "attachment.gz")
    assert listing is not None
    assert [member.path for member in listing.members] == ["scan.js"]
    assert listing.members[0].extension == "js"


def test_gzip_bomb_stops_early() -> None:
    bomb = gzip_of_zeros(200)
    assert len(bomb) < 300_000
    listing = list_archive(bomb, "zeros.bin.gz")
    assert listing is not None
    assert any("decompression bomb" in problem for problem in listing.problems)
    # Decompression stopped after a few pieces, far below the 200 MB inside.
    assert listing.members[0].size < 4 * 1024 * 1024
    assert listing.members[0].detected_type == ""


def test_compressed_tar_total_size_cap(monkeypatch) -> None:
    monkeypatch.setattr(archives, "MAX_TOTAL_BYTES", 1024 * 1024)
    listing = list_archive(tar_bytes({"a.txt": b"a" * 600_000, "b.txt": b"b" * 600_000, "c.txt": b"c"}, "w:gz"))
    assert listing is not None
    assert any("more than 1 MB declared" in problem for problem in listing.problems)
    assert [member.path for member in listing.members] == ["a.txt", "b.txt"]


def test_sevenzip_listed_and_typed() -> None:
    listing = list_archive(sevenzip_bytes({"a.exe": b"MZ" + b"\x00" * 100, "b.txt": b"hello"}))
    assert listing is not None
    assert listing.archive_type == "7z"
    assert types(listing) == [("a.exe", "exe"), ("b.txt", "")]
    assert listing.encrypted is False


def test_sevenzip_encrypted_content_flagged() -> None:
    listing = list_archive(sevenzip_bytes({"a.exe": b"MZ"}, password="secret"))
    assert listing is not None
    assert listing.encrypted is True
    assert listing.members[0].encrypted is True
    assert listing.members[0].path == "a.exe"


def test_sevenzip_encrypted_header_flagged() -> None:
    listing = list_archive(sevenzip_bytes({"a.exe": b"MZ"}, password="secret", header_encryption=True))
    assert listing is not None
    assert listing.archive_type == "7z"
    assert listing.encrypted is True
    assert listing.members == []
    assert listing.problems == ["the 7z archive has encrypted file names, so its members cannot be listed"]


def test_sevenzip_bomb_not_read() -> None:
    listing = list_archive(sevenzip_bytes({"zeros.bin": b"\x00" * 5_000_000}))
    assert listing is not None
    assert any("zeros.bin expands" in problem for problem in listing.problems)
    assert listing.members[0].detected_type == ""


def test_rar5_stored_member_listed() -> None:
    listing = list_archive(rar5_stored(b"invoice.pdf.exe", b"MZ" + b"\x00" * 60))
    assert listing is not None
    assert listing.archive_type == "rar"
    assert types(listing) == [("invoice.pdf.exe", "exe")]
    assert listing.problems == []


def test_rar5_encrypted_header_flagged() -> None:
    encryption = rar5_vint(0) + rar5_vint(0x1) + bytes([15]) + b"S" * 16 + b"C" * 12
    listing = list_archive(RAR5_SIGNATURE + rar5_block(4, 0, encryption) + b"\x00" * 64)
    assert listing is not None
    assert listing.encrypted is True
    assert listing.problems == ["the RAR archive has encrypted file names, so its members cannot be listed"]


def test_rar_truncated_header_reported() -> None:
    listing = list_archive(rar5_stored(b"invoice.exe", b"MZ")[:30])
    assert listing is not None
    assert listing.members == []
    assert any("the RAR archive is damaged" in problem for problem in listing.problems)


def test_iso_listed_by_joliet_names() -> None:
    inner = zip_bytes({"run.exe": b"MZ" + b"\x00" * 50})
    listing = list_archive(iso_bytes({"Invoice 2024.pdf.exe": b"MZ" + b"\x00" * 50, "bundle.zip": inner}))
    assert listing is not None
    assert listing.archive_type == "iso"
    assert sorted(types(listing)) == [
        ("Invoice 2024.pdf.exe", "exe"),
        ("bundle.zip", "zip"),
        ("bundle.zip > run.exe", "exe"),
    ]


def test_cab_file_table_listed() -> None:
    listing = list_archive(cab_bytes(["setup.exe", "readme.txt"]))
    assert listing is not None
    assert listing.archive_type == "cab"
    assert [(member.path, member.extension) for member in listing.members] == [("setup.exe", "exe"), ("readme.txt", "txt")]


@pytest.mark.parametrize(
    ("data", "archive_type"),
    [
        (b"conectix" + b"\x00" * 504, "vhd"),
        (b"vhdxfile" + b"\x00" * 504, "vhdx"),
        (b"\xeb\x3c\x90MSDOS5.0" + b"\x00" * 43 + b"FAT12   " + b"\x00" * 448 + b"\x55\xaa", "img"),
    ],
)
def test_disk_images_detected(data: bytes, archive_type: str) -> None:
    listing = list_archive(data)
    assert listing is not None
    assert listing.archive_type == archive_type
    assert listing.problems and "its files are not listed" in listing.problems[0]


def test_nested_formats_listed_with_paths() -> None:
    inner_zip = zip_bytes({"stage2.exe": b"MZ" + b"\x00" * 10})
    middle = tar_bytes({"inner.zip": inner_zip}, "w:gz")
    outer = sevenzip_bytes({"middle.tgz": middle})
    listing = list_archive(outer)
    assert listing is not None
    assert types(listing) == [
        ("middle.tgz", "gz"),
        ("middle.tgz > inner.zip", "zip"),
        ("middle.tgz > inner.zip > stage2.exe", "exe"),
    ]


def test_nested_depth_limit_across_formats() -> None:
    data = tar_bytes({"payload.exe": b"MZ" + b"\x00" * 10})
    for level in range(archives.MAX_DEPTH + 1):
        data = gzip.compress(data) if level % 2 else zip_bytes({f"level{level}.tar": data}, compression=zipfile.ZIP_STORED)
    listing = list_archive(data, "outer.gz")
    assert listing is not None
    assert any("nested more than" in problem for problem in listing.problems)
    assert not any(member.path.endswith("payload.exe") for member in listing.members)


def test_member_limit_spans_nested_archives(monkeypatch) -> None:
    monkeypatch.setattr(archives, "MAX_MEMBERS", 4)
    inner = tar_bytes({f"t{n}.txt": b"x" for n in range(5)})
    listing = list_archive(zip_bytes({"a.txt": b"a", "inner.tar": inner, "z.txt": b"z"}))
    assert listing is not None
    assert len(listing.members) == 4
    assert listing.problems == ["more than 4 members; the rest are not listed"]


def test_listing_writes_nothing_to_disk(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for data in (
        sevenzip_bytes({"a.exe": b"MZ", "dir/b.zip": zip_bytes({"c.exe": b"MZ"})}),
        iso_bytes({"a.exe": b"MZ"}),
        rar5_stored(b"a.exe", b"MZ"),
        tar_bytes({"a.exe": b"MZ"}, "w:xz"),
    ):
        assert list_archive(data) is not None
    assert list(tmp_path.iterdir()) == []


def test_not_an_archive_returns_none() -> None:
    assert list_archive(b"%PDF-1.7 plain document") is None
    assert list_archive(b"") is None


def test_broken_archive_says_so() -> None:
    listing = list_archive(b"7z\xbc\xaf\x27\x1c" + b"\x00" * 40)
    assert listing is not None
    assert listing.members == []
    assert listing.problems and listing.problems[0].startswith("the 7z archive cannot be read")


def test_parsed_attachment_carries_archive_fields() -> None:
    archive = base64.b64encode(tar_bytes({"Invoice.pdf.exe": b"MZ" + b"\x00" * 40}, "w:gz")).decode()
    raw = (
        "Subject: files\r\nContent-Type: multipart/mixed; boundary=xx\r\n\r\n"
        "--xx\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        "--xx\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n"
        f'Content-Disposition: attachment; filename="invoice.tgz"\r\n\r\n{archive}\r\n--xx--\r\n'
    ).encode()
    attachment = parse_message(raw).attachments[0]
    assert attachment.archive_type == "tar.gz"
    assert attachment.archive_members == ["Invoice.pdf.exe (exe)"]
    assert attachment.archive_encrypted is False
    assert attachment.archive_problems == []
