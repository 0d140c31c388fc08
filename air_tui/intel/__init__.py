"""Threat intelligence: feeds of malicious URLs, domains and file hashes, and optional online look-ups."""

from air_tui.intel.entries import Indicator, IntelError, IntelMatch, normalise_indicator, normalise_url
from air_tui.intel.snapshot import IntelSnapshot

__all__ = ["Indicator", "IntelError", "IntelMatch", "IntelSnapshot", "normalise_indicator", "normalise_url"]
