"""Threat intelligence: local snapshots of malicious URLs, domains and file hashes."""

from air_tui.intel.entries import IntelError, IntelMatch
from air_tui.intel.snapshot import IntelSnapshot

__all__ = ["IntelError", "IntelMatch", "IntelSnapshot"]
