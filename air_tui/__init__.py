"""air-tui: a terminal console for automated investigation and response to email threats."""

__version__ = "0.1.0"
