"""Turning attacker-controlled strings and verdicts into safe, readable terminal text."""

from __future__ import annotations

from rich.text import Text

from air_tui.domain.vocab import InvestigationStatus, Severity, Verdict

# Every verdict has a word as well as a colour, so it reads the same in monochrome.
VERDICT_BADGES = {
    Verdict.MALICIOUS: ("MALICIOUS", "bold red"),
    Verdict.SUSPICIOUS: ("SUSPICIOUS", "yellow"),
    Verdict.NO_THREATS_FOUND: ("CLEAN", "green"),
    Verdict.UNKNOWN: ("UNKNOWN", "dim"),
}

SEVERITY_STYLES = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFORMATIONAL: "dim",
}

STATUS_STYLES = {
    InvestigationStatus.PENDING_ACTION.value: "bold yellow",
    InvestigationStatus.RUNNING.value: "cyan",
    InvestigationStatus.STARTING.value: "cyan",
    InvestigationStatus.REMEDIATED.value: "green",
    InvestigationStatus.NO_THREATS_FOUND.value: "green",
    InvestigationStatus.PARTIALLY_REMEDIATED.value: "yellow",
    InvestigationStatus.PARTIALLY_INVESTIGATED.value: "yellow",
    InvestigationStatus.FAILED.value: "bold red",
}


def plain(value: object, limit: int | None = None) -> str:
    """Return the string with control and format characters replaced by spaces.

    Mail text can carry escape sequences, bidi overrides and zero-width characters; none of
    them may reach the terminal.
    """
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def safe(value: object, style: str = "", limit: int | None = None) -> Text:
    """Wrap a string as a Rich Text, so square brackets are never read as markup."""
    return Text(plain(value, limit), style=style)


def verdict_badge(verdict: Verdict) -> Text:
    word, style = VERDICT_BADGES[verdict]
    return Text(word, style=style)


def severity_text(severity: Severity) -> Text:
    return Text(severity.value, style=SEVERITY_STYLES.get(severity, ""))


def status_text(status: str, limit: int | None = None) -> Text:
    return Text(plain(status, limit), style=STATUS_STYLES.get(status, ""))
