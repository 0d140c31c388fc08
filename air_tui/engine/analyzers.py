"""Analyzers: each looks at one kind of entity and returns evidence with a verdict per fact."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

from rapidfuzz.distance import Levenshtein

from air_tui.domain.investigation import Evidence
from air_tui.domain.message import Attachment, EmailMessage, Url
from air_tui.domain.tenant import Organisation, User
from air_tui.domain.vocab import ThreatType, Verdict
from air_tui.intel import IntelMatch, IntelSnapshot
from air_tui.mail.filetype import matches_extension
from air_tui.mail.macros import WEAK_KEYWORDS

# Attachment types that run code or carry a page to phish with when a user opens them.
RISKY_EXTENSIONS = {
    "exe": "Windows executable",
    "scr": "Windows screen saver (executable)",
    "com": "DOS executable",
    "bat": "batch script",
    "cmd": "batch script",
    "ps1": "PowerShell script",
    "js": "JavaScript file",
    "jse": "encoded JavaScript file",
    "vbs": "VBScript file",
    "vbe": "encoded VBScript file",
    "wsf": "Windows Script File",
    "hta": "HTML application",
    "lnk": "Windows shortcut",
    "iso": "disk image",
    "img": "disk image",
    "vhd": "virtual disk",
    "one": "OneNote file",
    "html": "HTML page (credential harvesting or HTML smuggling)",
    "htm": "HTML page (credential harvesting or HTML smuggling)",
    "shtml": "HTML page",
    "svg": "SVG image that can carry script",
    "docm": "macro-enabled Word document",
    "xlsm": "macro-enabled Excel workbook",
    "pptm": "macro-enabled PowerPoint file",
    "jar": "Java archive",
    "msi": "Windows installer",
}
ARCHIVE_EXTENSIONS = {"zip", "rar", "7z", "gz", "tar", "cab", "ace"}

_TYPE_NAMES = {
    "exe": "a Windows executable",
    "elf": "a Linux executable",
    "pdf": "a PDF document",
    "zip": "a ZIP archive",
    "ole": "an OLE2 (old Office) file",
    "rar": "a RAR archive",
    "7z": "a 7-Zip archive",
    "gz": "a gzip archive",
    "lnk": "a Windows shortcut",
    "rtf": "an RTF document",
    "png": "a PNG image",
    "jpg": "a JPEG image",
    "gif": "a GIF image",
    "iso": "a disk image",
    "one": "a OneNote file",
    "html": "an HTML page",
}

# Bidirectional overrides and isolates can make "gpj.exe" display as "exe.jpg".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DECOY_EXTENSIONS = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "jpg", "jpeg", "png", "gif", "txt", "csv", "rtf"})

URL_SHORTENERS = frozenset(
    {"bit.ly", "t.co", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at", "rb.gy", "t.ly", "tiny.cc", "s.id"}
)

_THREAT_BY_FEED = {"phish": ThreatType.HIGH_CONFIDENCE_PHISH, "malware": ThreatType.MALWARE}


def threat_for_feed(match: IntelMatch) -> ThreatType:
    return _THREAT_BY_FEED.get(match.threat.lower(), ThreatType.MALICIOUS_URL)


class Finding:
    """Evidence gathered for one entity, with the threats it implies."""

    def __init__(self) -> None:
        self.evidence: list[Evidence] = []
        self.threats: list[ThreatType] = []

    def add(self, text: str, verdict: Verdict, source: str, threat: ThreatType | None = None) -> None:
        self.evidence.append(Evidence(text=text, verdict=verdict, source=source))
        if threat is not None and threat not in self.threats:
            self.threats.append(threat)

    @property
    def verdict(self) -> Verdict:
        if not self.evidence:
            return Verdict.UNKNOWN
        return Verdict.worst([item.verdict for item in self.evidence])


def analyse_sender(message: EmailMessage, organisation: Organisation, users: list[User], intel: IntelSnapshot) -> Finding:
    """Check authentication results, Reply-To, lookalike domains and display-name impersonation."""
    finding = Finding()
    sender = message.sender
    source = "Sender domain investigation"
    if not sender.address:
        finding.add("The From header contains no usable address.", Verdict.SUSPICIOUS, source)
    _check_authentication(message, finding)
    _check_reply_to(message, finding)

    domain = sender.domain
    if domain and "." not in domain:
        finding.add(
            f"Sender domain '{domain}' is not an internet domain, so nothing can authenticate it.",
            Verdict.SUSPICIOUS,
            source,
            ThreatType.PHISH,
        )
    if domain:
        match = intel.lookup_domain(domain)
        if match is not None:
            finding.add(match.describe("Sender domain") + ".", Verdict.MALICIOUS, source, threat_for_feed(match))
        lookalike = lookalike_of(domain, organisation.domains)
        if lookalike:
            finding.add(
                f"Sender domain {domain} looks like the organisation's domain {lookalike}.",
                Verdict.MALICIOUS,
                source,
                ThreatType.HIGH_CONFIDENCE_PHISH,
            )
        if intel.allowed(domain) is not None:
            finding.add(f"Sender domain {domain} is on the allow list.", Verdict.NO_THREATS_FOUND, source)

    _check_display_name(message, organisation, users, finding)
    return finding


def _check_authentication(message: EmailMessage, finding: Finding) -> None:
    source = "Sender authentication"
    results: dict[str, str] = {}
    for result in message.auth_results:
        # The first header is the one nearest the receiving boundary; later ones are older hops.
        results.setdefault(result.method, result.result.lower())
    if not results:
        finding.add("The message carries no authentication results.", Verdict.UNKNOWN, source)
        return
    failed = [f"{method}={value}" for method, value in sorted(results.items()) if value in ("fail", "softfail", "permerror")]
    if results.get("dmarc") == "fail":
        finding.add(f"DMARC failed for the From domain ({', '.join(failed)}).", Verdict.SUSPICIOUS, source, ThreatType.PHISH)
    elif failed:
        finding.add(f"Authentication failed: {', '.join(failed)}.", Verdict.SUSPICIOUS, source)
    elif all(results.get(method) == "pass" for method in ("spf", "dkim", "dmarc") if method in results):
        passed = ", ".join(f"{method}=pass" for method in sorted(results) if results[method] == "pass")
        finding.add(f"Authentication passed ({passed}).", Verdict.NO_THREATS_FOUND, source)


def _check_reply_to(message: EmailMessage, finding: Finding) -> None:
    from_domain = message.sender.domain
    for reply_to in message.reply_to:
        if reply_to.domain and from_domain and reply_to.domain != from_domain:
            finding.add(
                f"Replies go to {reply_to.address}, a different domain from the sender {from_domain}.",
                Verdict.SUSPICIOUS,
                "Reply-To check",
                ThreatType.PHISH,
            )


_ADDRESS_IN_NAME = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})", re.IGNORECASE)


def _check_display_name(message: EmailMessage, organisation: Organisation, users: list[User], finding: Finding) -> None:
    name = _fold(message.sender.display_name)
    domain = message.sender.domain
    address_in_name = _ADDRESS_IN_NAME.search(message.sender.display_name)
    if address_in_name and domain and address_in_name.group(1).lower() != domain:
        finding.add(
            f"The display name shows an address at {address_in_name.group(1).lower()} but the mail comes from {domain}.",
            Verdict.SUSPICIOUS,
            "Impersonation check",
            ThreatType.PHISH,
        )
    if not name or domain in organisation.domains:
        return
    for user in users:
        if _fold(user.display_name) == name:
            role = "a VIP" if user.vip else "a user"
            finding.add(
                f"Display name matches {role} of the organisation ({user.display_name}) but the address is external.",
                Verdict.MALICIOUS if user.vip else Verdict.SUSPICIOUS,
                "Impersonation check",
                ThreatType.HIGH_CONFIDENCE_PHISH if user.vip else ThreatType.PHISH,
            )
            return
    for brand in organisation.brands:
        folded = _fold(brand)
        # NFKC turns "McAfee™" into "mcafeetm", so long brand names match as substrings.
        # Short ones such as "dhl" need word boundaries, or they would match inside other words.
        named = folded in name if len(folded) >= 4 else re.search(rf"\b{re.escape(folded)}\b", name)
        if folded and named and folded.replace(" ", "") not in domain:
            finding.add(
                f"Display name names the brand '{brand}' but the sender domain {domain} is not the brand's.",
                Verdict.SUSPICIOUS,
                "Impersonation check",
                ThreatType.PHISH,
            )
            return


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip().strip('"')


def lookalike_of(domain: str, own_domains: list[str]) -> str:
    """Return the own domain that `domain` imitates, or an empty string.

    A lookalike is a different domain whose first label is within two edits of an own domain's
    first label, e.g. `larksp0r.example` or `larkspur-mail.com` for `larkspur.example`.
    """
    domain = domain.lower()
    label = domain.split(".")[0]
    for own in own_domains:
        own = own.lower()
        if domain == own or domain.endswith("." + own):
            continue
        own_label = own.split(".")[0]
        if len(own_label) < 4:
            continue
        if Levenshtein.distance(label, own_label) <= 2 or (own_label in label and label != own_label):
            return own
    return ""


def analyse_url(url: Url, intel: IntelSnapshot) -> Finding:
    finding = analyse_url_target(url.url, url.host, url.registrable_domain, intel)
    if url.unwrapped:
        wrappers = " inside ".join(reversed(url.wrappers))
        finding.add(f"The link is wrapped by {wrappers}; it leads to {url.unwrapped}.", Verdict.UNKNOWN, "URL unwrapping")
        target = analyse_url_target(url.unwrapped, url.unwrapped_host, url.unwrapped_domain, intel)
        for item in target.evidence:
            finding.add(f"Destination: {item.text}", item.verdict, item.source)
        for threat in target.threats:
            if threat not in finding.threats:
                finding.threats.append(threat)
    shown_domain = _domain_in_text(url.link_text)
    host = url.unwrapped_host or url.host
    if shown_domain and host and not _same_site(shown_domain, host):
        finding.add(
            f"The link text shows {shown_domain} but the link goes to {host}.",
            Verdict.SUSPICIOUS,
            "Link text check",
            ThreatType.PHISH,
        )
    return finding


def analyse_url_target(address: str, host: str, registrable_domain: str, intel: IntelSnapshot) -> Finding:
    """Check one URL and its host against the intel and allow lists, and flag IP-literal hosts."""
    finding = Finding()
    source = "URL reputation investigation"
    match = intel.lookup_url(address)
    if match is not None:
        finding.add(match.describe("URL") + ".", Verdict.MALICIOUS, source, threat_for_feed(match))
        finding.threats.append(ThreatType.MALICIOUS_URL)
    if host:
        domain_match = intel.lookup_domain(host)
        if domain_match is not None:
            finding.add(domain_match.describe("Domain") + ".", Verdict.MALICIOUS, source, threat_for_feed(domain_match))
            if ThreatType.MALICIOUS_URL not in finding.threats:
                finding.threats.append(ThreatType.MALICIOUS_URL)
        elif intel.allowed(host) is not None:
            finding.add(f"Domain {registrable_domain or host} is on the allow list.", Verdict.NO_THREATS_FOUND, source)
        if _is_ip_literal(host):
            finding.add(f"The link points at a bare IP address ({host}).", Verdict.SUSPICIOUS, source)
        if host in URL_SHORTENERS:
            finding.add(f"{host} is a URL shortener, so the real destination is not in the message.", Verdict.UNKNOWN, source)
    return finding


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_DOMAIN_IN_TEXT = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b", re.IGNORECASE)


def _domain_in_text(text: str) -> str:
    match = _DOMAIN_IN_TEXT.search(text or "")
    return match.group(1).lower() if match else ""


def _same_site(shown_domain: str, host: str) -> bool:
    shown = shown_domain.removeprefix("www.")
    host = host.removeprefix("www.")
    return host == shown or host.endswith("." + shown) or shown.endswith("." + host)


def _check_disguise(attachment: Attachment, finding: Finding) -> None:
    """Flag names built to hide the real extension: bidi overrides and decoy double extensions."""
    name = attachment.filename
    if any(ch in _BIDI_CONTROLS for ch in name):
        finding.add(
            "The file name contains a right-to-left override, which makes the real extension display backwards.",
            Verdict.SUSPICIOUS,
            "Disguised file name check",
            ThreatType.MALWARE,
        )
    parts = name.lower().rstrip(". ").split(".")
    if len(parts) >= 3 and parts[-2] in _DECOY_EXTENSIONS and parts[-1] in RISKY_EXTENSIONS:
        finding.add(
            f"Double extension: '.{parts[-2]}.{parts[-1]}' shows a harmless type before the real one.",
            Verdict.SUSPICIOUS,
            "Disguised file name check",
            ThreatType.MALWARE,
        )


def analyse_attachment(attachment: Attachment, intel: IntelSnapshot) -> Finding:
    finding = Finding()
    source = "File hash reputation"
    if attachment.sha256:
        match = intel.lookup_file(attachment.sha256)
        if match is not None:
            threat = ThreatType.MALWARE if match.threat.lower() == "malware" else ThreatType.HIGH_CONFIDENCE_PHISH
            finding.add(match.describe("File hash") + ".", Verdict.MALICIOUS, source, threat)

    extension = attachment.extension.lower()
    _check_disguise(attachment, finding)
    detected = attachment.detected_type
    if detected and not matches_extension(detected, extension):
        finding.add(
            f"Named .{extension or '(none)'} but its content is {_TYPE_NAMES.get(detected, detected)}.",
            Verdict.SUSPICIOUS,
            "True file type check",
        )
        if detected in RISKY_EXTENSIONS:
            finding.add(
                f"The content is a risky type: {RISKY_EXTENSIONS[detected]}.",
                Verdict.SUSPICIOUS,
                "True file type check",
            )

    if extension in RISKY_EXTENSIONS:
        finding.add(
            f"Attachment type .{extension} is risky: {RISKY_EXTENSIONS[extension]}.",
            Verdict.SUSPICIOUS,
            "Attachment type check",
        )
    elif attachment.archive_members or attachment.archive_problems:
        _check_archive(attachment, finding)
    elif extension in ARCHIVE_EXTENSIONS:
        finding.add(f"Attachment is a .{extension} archive, which can hide executables.", Verdict.SUSPICIOUS, "Attachment type check")

    _check_macros(attachment, finding)
    for item in attachment.content_findings:
        finding.add(f"The file {item}.", Verdict.SUSPICIOUS, "Attachment content check")
    for link in attachment.links[:50]:
        target = analyse_url_target(link, _host_of(link), "", intel)
        for evidence in target.evidence:
            if evidence.verdict is Verdict.MALICIOUS:
                finding.add(f"Link inside the file: {evidence.text}", evidence.verdict, evidence.source, ThreatType.MALICIOUS_URL)
    return finding


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _check_macros(attachment: Attachment, finding: Finding) -> None:
    source = "Office macro check"
    if attachment.office_encrypted:
        finding.add("The Office document is password-protected, so its content cannot be scanned.", Verdict.SUSPICIOUS, source)
    if not attachment.has_macros:
        return
    strong = [keyword for keyword in attachment.macro_suspicious if keyword not in WEAK_KEYWORDS]
    if attachment.macro_auto_exec and strong:
        finding.add(
            f"Macros run on opening ({', '.join(attachment.macro_auto_exec[:3])}) and use {', '.join(strong[:5])}.",
            Verdict.MALICIOUS,
            source,
            ThreatType.MALWARE,
        )
    elif attachment.macro_auto_exec:
        finding.add(f"Macros run on opening ({', '.join(attachment.macro_auto_exec[:3])}).", Verdict.SUSPICIOUS, source, ThreatType.MALWARE)
    else:
        keywords = f" with {', '.join(attachment.macro_suspicious[:5])}" if attachment.macro_suspicious else ""
        finding.add(f"The document contains VBA macros{keywords}.", Verdict.SUSPICIOUS, source)


def _check_archive(attachment: Attachment, finding: Finding) -> None:
    source = "Archive contents check"
    risky = [member for member in attachment.archive_members if _member_type(member) in RISKY_EXTENSIONS]
    if risky:
        listed = ", ".join(risky[:5]) + (f" and {len(risky) - 5} more" if len(risky) > 5 else "")
        finding.add(f"The archive holds risky files: {listed}.", Verdict.SUSPICIOUS, source, ThreatType.MALWARE)
    if attachment.archive_encrypted:
        finding.add("The archive is password-protected, so its files cannot be scanned.", Verdict.SUSPICIOUS, source)
    for problem in attachment.archive_problems:
        finding.add(f"Archive listing stopped: {problem}.", Verdict.SUSPICIOUS, source)
    if not risky and not attachment.archive_encrypted and not attachment.archive_problems:
        count = len(attachment.archive_members)
        finding.add(f"The archive holds {count} {'file' if count == 1 else 'files'}, none of a risky type.", Verdict.UNKNOWN, source)


def _member_type(member: str) -> str:
    """Return the type written in brackets after a listed member, e.g. `exe` in `a.jpg (exe)`."""
    inside = member.rpartition(" (")[2].rstrip(")")
    return inside.split(",")[0].strip()
