"""Threat intelligence: local snapshots of malicious URLs, domains and file hashes."""

from air_tui.intel.snapshot import IntelError, IntelMatch, IntelSnapshot

__all__ = ["IntelError", "IntelMatch", "IntelSnapshot"]
