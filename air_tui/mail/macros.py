"""Office macros, read with oletools' olevba in memory: auto-run entry points and suspicious keywords."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

MAX_SCAN_BYTES = 20 * 1024 * 1024
"""Office files larger than this are not scanned for macros."""

# OLE2 stream name (UTF-16LE) that marks a password-protected Office document.
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")

# olevba reports these encodings as suspicious in almost every macro, so alone they prove little.
WEAK_KEYWORDS = frozenset({"Hex Strings", "Base64 Strings", "Dridex Strings", "VBA obfuscated Strings"})


@dataclass
class MacroReport:
    has_macros: bool = False
    auto_exec: list[str] = field(default_factory=list)
    """Entry points that run when the document opens, e.g. `Workbook_Open`."""
    suspicious: list[str] = field(default_factory=list)
    """Keywords olevba marks suspicious, e.g. `Shell` or `CreateObject`."""
    encrypted: bool = False
    error: str = ""


def might_hold_macros(detected_type: str, data: bytes) -> bool:
    """Return whether the content is an Office container worth handing to olevba."""
    if detected_type == "ole":
        return True
    # OOXML keeps member names uncompressed in the ZIP directory, so the VBA part shows by name.
    return detected_type == "zip" and b"vbaProject.bin" in data


def scan_office(filename: str, data: bytes) -> MacroReport:
    """Scan one Office file. Failures of olevba are returned in `error` rather than raised."""
    report = MacroReport(encrypted=_ENCRYPTED_PACKAGE in data[:MAX_SCAN_BYTES])
    if len(data) > MAX_SCAN_BYTES:
        report.error = f"larger than {MAX_SCAN_BYTES // (1024 * 1024)} MB, not scanned for macros"
        return report
    # olevba logs every oddity of hostile files at warning level; the report carries what matters.
    logging.getLogger("olevba").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        # oletools 0.60 still calls pyparsing names that pyparsing 3 marks deprecated.
        warnings.simplefilter("ignore", DeprecationWarning)
        from oletools.olevba import VBA_Parser  # deferred: loading oletools costs time most messages never need

    try:
        parser = VBA_Parser(filename or "attachment", data=data)
    except Exception as error:  # noqa: BLE001 - olevba raises many types on malformed files
        report.error = f"olevba cannot read it: {type(error).__name__}"
        return report
    try:
        report.has_macros = bool(parser.detect_vba_macros())
        if report.has_macros:
            for kind, keyword, _description in parser.analyze_macros():
                if kind == "AutoExec" and keyword not in report.auto_exec:
                    report.auto_exec.append(str(keyword))
                elif kind == "Suspicious" and keyword not in report.suspicious:
                    report.suspicious.append(str(keyword))
    except Exception as error:  # noqa: BLE001 - same
        report.error = f"olevba failed while analysing macros: {type(error).__name__}"
    finally:
        parser.close()
    return report
