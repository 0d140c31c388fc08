"""Analyzers: each looks at one kind of entity and fires named rules, one evidence line per fact.

`MessageAnalyzer.analyse` runs them all on one message and rolls the results up into the
message's own score and verdict. The playbooks and the labelled-set benchmark share it, so what
the benchmark measures is what an investigation shows.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from air_tui.domain.investigation import Evidence
from air_tui.domain.message import Attachment, EmailMessage, Url
from air_tui.domain.tenant import Organisation, User
from air_tui.domain.vocab import ThreatType, Verdict
from air_tui.engine import indicators, rules
from air_tui.engine.lookalike import LookalikeMatch, compile_targets, lookalike, merge_brands
from air_tui.engine.rules import Finding, Rule, Scoring
from air_tui.engine.sender_facts import (
    DISPLAY_NAME_ADDRESS,
    DISPLAY_NAME_BRAND,
    DISPLAY_NAME_ORGANISATION,
    DISPLAY_NAME_USER,
    DISPLAY_NAME_VIP,
    DKIM_MISSING,
    DKIM_NOT_ALIGNED,
    FIRST_CONTACT,
    REPLY_TO_MISALIGNED,
    RETURN_PATH_MISALIGNED,
    alignment_facts,
    first_contact_fact,
    impersonation,
)
from air_tui.intel import IntelMatch, IntelSnapshot
from air_tui.mail.authresults import TrustedResults, select_trusted_results
from air_tui.mail.filetype import matches_extension
from air_tui.mail.invisible import hidden_characters, scan_message
from air_tui.mail.macros import WEAK_KEYWORDS
from air_tui.mail.urls import data_uri_media_type, is_dangerous_data_uri, is_shortener, normalise_url, registrable_domain, url_host

# Attachment types that run code or carry a page to phish with when a user opens them.
RISKY_EXTENSIONS = {
    "exe": "Windows executable",
    "scr": "Windows screen saver (executable)",
    "com": "DOS executable",
    "pif": "program information file (executable)",
    "cpl": "Control Panel item (executable)",
    "bat": "batch script",
    "cmd": "batch script",
    "ps1": "PowerShell script",
    "js": "JavaScript file",
    "jse": "encoded JavaScript file",
    "vbs": "VBScript file",
    "vbe": "encoded VBScript file",
    "wsf": "Windows Script File",
    "wsh": "Windows Script Host settings",
    "hta": "HTML application",
    "lnk": "Windows shortcut",
    "url": "Internet shortcut",
    "iso": "disk image",
    "img": "disk image",
    "vhd": "virtual disk",
    "vhdx": "virtual disk",
    "one": "OneNote file",
    "html": "HTML page (credential harvesting or HTML smuggling)",
    "htm": "HTML page (credential harvesting or HTML smuggling)",
    "shtml": "HTML page",
    "svg": "SVG image that can carry script",
    "docm": "macro-enabled Word document",
    "xlsm": "macro-enabled Excel workbook",
    "pptm": "macro-enabled PowerPoint file",
    "xlam": "Excel add-in with macros",
    "xll": "Excel add-in (native code)",
    "jar": "Java archive",
    "msi": "Windows installer",
    "msix": "Windows app package",
    "appx": "Windows app package",
    "reg": "registry file",
    "chm": "compiled HTML help",
    "mobileconfig": "Apple configuration profile (installs mail accounts, certificates or VPNs)",
}
ARCHIVE_EXTENSIONS = {"zip", "rar", "7z", "gz", "tar", "cab", "ace", "tgz", "bz2", "xz"}

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

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DECOY_EXTENSIONS = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "jpg", "jpeg", "png", "gif", "txt", "csv", "rtf"})

_THREAT_BY_FEED = {"phish": ThreatType.HIGH_CONFIDENCE_PHISH, "malware": ThreatType.MALWARE}


def threat_for_feed(match: IntelMatch) -> ThreatType:
    return _THREAT_BY_FEED.get(match.threat.lower(), ThreatType.MALICIOUS_URL)


@dataclass
class EntityResult:
    """One analysed entity of a message: what it is and the finding for it."""

    finding: Finding
    url: Url | None = None
    attachment: Attachment | None = None


@dataclass
class MessageAnalysis:
    """Everything the analyzers found in one message, and the verdict it rolls up to."""

    sender: Finding
    content: Finding
    subject: str = ""
    urls: list[EntityResult] = field(default_factory=list)
    attachments: list[EntityResult] = field(default_factory=list)
    nested: list[MessageAnalysis] = field(default_factory=list)
    roll_up: Finding | None = None

    @property
    def verdict(self) -> Verdict:
        assert self.roll_up is not None
        return self.roll_up.verdict

    @property
    def threats(self) -> list[ThreatType]:
        assert self.roll_up is not None
        return self.roll_up.threats


class MessageAnalyzer:
    """The analyzers with what they need from the tenant: organisation, directory, intel, weights."""

    def __init__(self, organisation: Organisation, users: list[User], intel: IntelSnapshot, scoring: Scoring | None = None) -> None:
        self.organisation = organisation
        self.users = users
        self.intel = intel
        self.scoring = scoring or Scoring()
        self.config = self.scoring.config
        self.own_domains = [domain.lower() for domain in organisation.domains]
        self.brands = merge_brands([*organisation.brands, *indicators.BRANDS, *self.config.brands], self.config.brand_domains)
        # Only brands with known domains can be imitated by a domain; the organisation is one of them.
        targets = {name: domains for name, domains in self.brands.items() if domains}
        targets[organisation.name] = self.own_domains
        self.lookalike_targets = compile_targets(targets)
        self._lookalikes: dict[str, LookalikeMatch | None] = {}
        self.trusted_authserv_ids = {
            value.lower() for value in [organisation.authserv_id, *self.config.trusted_authserv_ids] if value
        }

    def finding(self) -> Finding:
        return Finding(self.scoring)

    # Whole message -----------------------------------------------------------------------

    def analyse(self, message: EmailMessage, earlier_from_sender: int | None = None, depth: int = 0) -> MessageAnalysis:
        """Run every analyzer on the message and roll the results up.

        Args:
            message: The parsed message.
            earlier_from_sender: Messages from the same sender seen in the tenant before this one,
                when known; 0 fires the first-contact rule.
            depth: Nesting level, for attached messages.
        """
        analysis = MessageAnalysis(
            sender=self.sender(message, earlier_from_sender), content=self.content(message), subject=message.subject
        )
        sites = self.sender_sites(message)
        analysis.urls = [EntityResult(self.url(url, sites), url=url) for url in message.urls]
        analysis.attachments = [EntityResult(self.attachment(item), attachment=item) for item in message.attachments]
        if depth < 3:
            analysis.nested = [self.analyse(inner, None, depth + 1) for inner in message.attached_messages]
        analysis.roll_up = self.roll_up(analysis)
        return analysis

    def roll_up(self, analysis: MessageAnalysis) -> Finding:
        """Score the message from its content rules and the points of its parts.

        - A flagged part (suspicious or malicious on its own) adds its points, capped at the
          malicious threshold: one listed URL makes the email malicious, and several suspicious
          parts together can.
        - Weak facts (content rules, and parts with some points but not flagged) add up too,
          since phishing often shows many small signs and no single strong one.
        - A sender that authentication vouches for (negative points) offsets the weak facts
          only, never a flagged part.
        """
        cap = self.config.malicious_score
        roll_up = self.finding()
        roll_up.examined = True
        for item in analysis.content.evidence:
            roll_up.evidence.append(item)
        roll_up.threats.extend(threat for threat in analysis.content.threats if threat not in roll_up.threats)
        weak = analysis.content.score
        weak_sites: set[str] = set()
        # Each part with the site it stands for, so weak links to one site count once.
        parts: list[tuple[str, Finding, str]] = [("Sender", analysis.sender, "")]
        parts += [(f"URL {item.url.url}", item.finding, item.url.registrable_domain or item.url.host) for item in analysis.urls if item.url]
        parts += [(f"File {item.attachment.filename}", item.finding, "") for item in analysis.attachments if item.attachment]
        parts += [(f"Attached email '{nested.subject}'", nested.roll_up, "") for nested in analysis.nested if nested.roll_up]
        for label, finding, site in parts:
            if finding.score <= 0:
                continue
            if finding.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS):
                points = min(finding.score, cap)
                counted = f"{finding.score} points" if points == finding.score else f"{finding.score} points, {points} counted"
                text = f"{label} is {verdict_words(finding.verdict)} ({counted})."
                roll_up.threats.extend(threat for threat in finding.threats if threat not in roll_up.threats)
            else:
                if site and site in weak_sites:
                    # Many links to one site show one sign, not one per link.
                    continue
                weak_sites.add(site)
                points = finding.score
                weak += points
                text = f"{label} adds {points} points of weak signs; it is not suspicious on its own."
                roll_up.evidence.append(Evidence(text=text, verdict=Verdict.UNKNOWN, source="Verdict roll-up", weight=points))
                continue
            roll_up.evidence.append(Evidence(text=text, verdict=self.scoring.line_verdict(points), source="Verdict roll-up", weight=points))
        credit = analysis.sender.score
        if credit < 0 and weak > 0:
            offset = max(credit, -weak)
            roll_up.evidence.append(
                Evidence(
                    text=f"The sender is vouched for ({credit} points), which offsets {-offset} points of weak signs but no flagged part.",
                    verdict=Verdict.NO_THREATS_FOUND,
                    source="Verdict roll-up",
                    weight=offset,
                )
            )
        return roll_up

    # Sender ------------------------------------------------------------------------------

    def sender(self, message: EmailMessage, earlier_from_sender: int | None = None) -> Finding:
        """Check authentication, alignment, lookalike domains, display-name impersonation and reputation."""
        finding = self.finding()
        finding.examined = True
        sender = message.sender
        domain = sender.domain
        if not sender.address:
            finding.fire(rules.SENDER_NO_ADDRESS, "The From header contains no usable address.")
        if domain and self._allowed_sender(sender.address, domain, finding):
            return finding

        # Both checks read the same choice of trusted results, so it is made once.
        chosen = select_trusted_results(message.auth_results, self.trusted_authserv_ids)
        self._check_authentication(message, finding, chosen)
        self._check_alignment(message, finding, chosen)

        if domain and "." not in domain:
            finding.fire(rules.SENDER_NO_TLD, f"Sender domain '{domain}' is not an internet domain, so nothing can authenticate it.")
        if domain:
            match = self._domain_listing(domain, finding)
            if match is not None:
                finding.fire(rules.SENDER_LISTED, match.describe("Sender domain") + ".", threat=threat_for_feed(match))
            self._check_lookalike(domain, finding, sender_side=True)
            if _tld(domain) in indicators.ABUSED_TLDS:
                finding.fire(rules.SENDER_RISKY_TLD, f"Sender domain {domain} ends in .{_tld(domain)}, a top-level domain common in abuse.")

        self._check_display_name(message, finding)
        odd = indicators.ODD_DISPLAY_NAME.findall(sender.display_name)
        if odd:
            finding.fire(rules.SENDER_ODD_NAME, f"The display name carries mail-merge marks: {', '.join(repr(mark) for mark in odd[:3])}.")
        names = hidden_characters(sender.display_name + sender.address)
        if names:
            finding.fire(rules.SENDER_HIDDEN, f"The sender's name or address hides characters: {', '.join(names[:4])}.")
        if _machine_generated(sender.address):
            finding.fire(rules.SENDER_RANDOM, f"The sender address {sender.address} looks machine-generated.")

        contact = first_contact_fact(earlier_from_sender, sender.address)
        if contact is not None:
            if contact.kind == FIRST_CONTACT:
                finding.fire(rules.SENDER_FIRST_CONTACT, contact.sentence)
            else:
                finding.note(contact.sentence, "Sender history")
        return finding

    def listed_domain(self, host: str) -> IntelMatch | None:
        """Return the intel listing of `host` that counts: none for allowed domains, the
        organisation's own or a brand's real ones."""
        if not host or self.intel.allowed(host) is not None:
            return None
        return self._domain_listing(host, self.finding())

    def _domain_listing(self, host: str, finding: Finding) -> IntelMatch | None:
        """Return the intel listing of `host`, unless it names the organisation's own domain or a
        brand's real one: such a listing is a feed error that would flag ordinary mail, so it is
        shown as a note and not counted."""
        match = self.intel.lookup_domain(host)
        if match is None:
            return None
        listed = match.indicator.lower().rstrip(".")
        protected = self.own_domains + [domain for domains in self.brands.values() for domain in domains]
        if any(listed == real or real.endswith("." + listed) for real in protected):
            finding.note(
                f"{match.describe('Domain')}, but {listed} is the organisation's or a well-known brand's own domain; "
                "the listing is not counted. Check the feed.",
                "Threat intelligence",
            )
            return None
        return match

    def sender_sites(self, message: EmailMessage) -> frozenset[str]:
        """Registrable domains of an authenticated sender: its own, and its brand's real domains.

        Empty unless DMARC passed in the results the tenant trusts, so a forged From gains nothing.
        """
        domain = message.sender.domain
        if not domain:
            return frozenset()
        chosen = select_trusted_results(message.auth_results, self.trusted_authserv_ids)
        if chosen.basis != "trusted" or chosen.result("dmarc") != "pass":
            return frozenset()
        own = registrable_domain(domain) or domain
        sites = {own}
        for domains in self.brands.values():
            if own in domains:
                sites.update(domains)
        return frozenset(sites)

    def _check_lookalike(self, domain: str, finding: Finding, *, sender_side: bool) -> None:
        """Fire the lookalike rule that fits how `domain` imitates the organisation or a brand."""
        if domain not in self._lookalikes:
            # Newsletters repeat the same hosts many times; each is compared with every target once.
            self._lookalikes[domain] = lookalike(domain, self.lookalike_targets)
        match = self._lookalikes[domain]
        if match is None:
            return
        if match.technique == "other-suffix" and "." not in domain:
            # A bare name without any ending is reported by its own rule; do not count it twice.
            return
        own = match.target == self.organisation.name
        if match.technique == "mixed-script" and not match.target:
            rule = rules.SENDER_MIXED_SCRIPT if sender_side else rules.URL_MIXED_SCRIPT
        elif match.technique == "other-suffix" and not own:
            rule = rules.SENDER_OTHER_SUFFIX if sender_side else rules.URL_OTHER_SUFFIX
        elif own:
            rule = rules.SENDER_LOOKALIKE_OWN if sender_side else rules.URL_LOOKALIKE_OWN
        else:
            rule = rules.SENDER_LOOKALIKE_BRAND if sender_side else rules.URL_LOOKALIKE_BRAND
        finding.fire(rule, match.sentence)

    def _allowed_sender(self, address: str, domain: str, finding: Finding) -> bool:
        return self._allowed(rules.SENDER_ALLOWED, f"Sender {address}", address in self.config.allow.senders, f"Sender domain {domain}", domain, finding)

    def _check_authentication(self, message: EmailMessage, finding: Finding, chosen: TrustedResults) -> None:
        """Count the results of the tenant's own boundary, and only failures from other headers.

        Anyone on the path, the sender included, can write an Authentication-Results header, so a
        pass counts only from a trusted authserv-id (or, with none configured, the topmost header).
        A failure counts from the topmost header even when it is not trusted, because a sender
        gains nothing by forging one.
        """
        if chosen.basis == "none":
            finding.fire(rules.SENDER_AUTH_NONE, chosen.sentence)
            return
        finding.note(chosen.sentence, "Sender authentication")
        trusted = chosen.basis in ("trusted", "topmost")
        if trusted:
            results = {method: chosen.result(method) for method in ("spf", "dkim", "dmarc") if chosen.result(method)}
            where = f" (from {chosen.authserv_id or chosen.header})"
        else:
            results = {
                item.method: item.result.lower()
                for item in reversed(message.auth_results)
                if item.header == "Authentication-Results" and item.position == 0
            }
            where = f" (from {next((i.authserv_id for i in message.auth_results if i.position == 0 and i.authserv_id), '') or 'a header without authserv-id'}, not a trusted boundary)"
        failed = [f"{method}={value}" for method, value in sorted(results.items()) if value in ("fail", "softfail", "permerror")]
        if results.get("dmarc") == "fail":
            finding.fire(rules.SENDER_DMARC_FAIL, f"DMARC failed for the From domain{where}: {', '.join(failed)}.")
        elif failed:
            finding.fire(rules.SENDER_AUTH_FAIL, f"Authentication failed{where}: {', '.join(failed)}.")
        elif trusted and all(results.get(method) == "pass" for method in ("spf", "dkim", "dmarc")):
            finding.fire(rules.SENDER_AUTH_PASS, f"SPF, DKIM and DMARC passed{where}.")
        domain = message.sender.domain
        if chosen.basis == "trusted" and domain and _parent_match(domain, self.own_domains) and results.get("dmarc") == "pass":
            finding.fire(rules.SENDER_INTERNAL, f"The sender {message.sender.address} is inside the organisation and passed DMARC at its boundary{where}.")
        domain = message.sender.domain
        if domain and _parent_match(domain, self.own_domains) and results.get("dmarc") != "pass" and results.get("spf") != "pass":
            finding.fire(
                rules.SENDER_OWN_DOMAIN_EXTERNAL,
                f"The From address uses the organisation's domain {domain}, but neither DMARC nor SPF passed{where}.",
            )

    def _check_alignment(self, message: EmailMessage, finding: Finding, chosen: TrustedResults) -> None:
        if not message.sender.domain:
            return
        # The boundary saw a valid signature even when the copy here lost its DKIM-Signature header.
        dkim_pass = chosen.basis in ("trusted", "topmost") and chosen.result("dkim") == "pass"
        alignment = alignment_facts(message)
        for fact in alignment.facts:
            rule = _ALIGNMENT_RULES.get(fact.kind)
            reply_domain = fact.value.rpartition("@")[2] or fact.value
            own_reply = rule is rules.SENDER_REPLY_TO and _parent_match(reply_domain, self.own_domains)
            dkim_passed = rule is rules.SENDER_DKIM_MISSING and dkim_pass
            if rule is None or own_reply or dkim_passed:
                # Replies to a colleague, or a DKIM pass the boundary recorded, need no points.
                if not dkim_passed:
                    finding.note(fact.sentence, "Sender alignment")
                continue
            finding.fire(rule, fact.sentence)
            if rule is rules.SENDER_REPLY_TO:
                from_org = registrable_domain(alignment.from_domain) or alignment.from_domain
                if reply_domain in indicators.FREEMAIL_DOMAINS and from_org not in indicators.FREEMAIL_DOMAINS:
                    finding.fire(rules.SENDER_REPLY_TO_FREEMAIL, f"Replies go to a free mailbox at {reply_domain}, not to {alignment.from_domain}.")

    def _check_display_name(self, message: EmailMessage, finding: Finding) -> None:
        sender = message.sender
        for fact in impersonation(sender.display_name, sender.address, self.users, self.own_domains, self.brands):
            rule = _IMPERSONATION_RULES.get(fact.kind)
            if rule is None:
                finding.note(fact.sentence, "Impersonation check")
            else:
                finding.fire(rule, fact.sentence)

    # Content -----------------------------------------------------------------------------

    def content(self, message: EmailMessage) -> Finding:
        """Lure language, hidden characters and look-alike letters in the subject and body."""
        finding = self.finding()
        finding.examined = True
        text = f"{message.subject}\n{message.body_text[:20_000]}"
        for rule, pattern, description in (
            (rules.MAIL_CREDENTIAL_LURE, indicators.CREDENTIAL_LURES, "asks the reader to sign in, verify or pay"),
            (rules.MAIL_PRIZE_LURE, indicators.PRIZE_LURES, "offers a prize, refund or crypto"),
            (rules.MAIL_URGENCY, indicators.URGENCY, "presses the reader to act now"),
        ):
            found = _distinct_matches(pattern, text)
            if found:
                finding.fire(rule, f"The text {description}: {', '.join(repr(item) for item in found[:3])}.")

        if message.attachments:
            password = indicators.ATTACHMENT_PASSWORD.search(message.body_text[:20_000])
            if password:
                finding.fire(rules.MAIL_ATTACHMENT_PASSWORD, f"The body gives a password for an attachment: {password.group(0)[:60]!r}.")

        hidden_subject = hidden_characters(message.subject)
        split_words = len(_INSIDE_WORD_HIDDEN.findall(message.body_text[:50_000]))
        if hidden_subject:
            finding.fire(rules.MAIL_HIDDEN_TEXT, f"The subject hides characters: {', '.join(hidden_subject[:4])}.")
        elif split_words >= 5:
            finding.fire(rules.MAIL_HIDDEN_TEXT, f"Invisible characters split {split_words} words of the body, a trick to get past word filters.")

        # The subject, sender, URLs and file names have rules of their own. This one covers the rest.
        elsewhere = [item for item in scan_message(message) if item.field.startswith(_OTHER_HIDDEN_FIELDS)]
        if elsewhere:
            listed = "; ".join(f"{item.field}: {', '.join(item.names[:3])}" for item in elsewhere[:3])
            finding.fire(rules.MAIL_HIDDEN_HEADERS, f"Hidden characters in {listed}.")

        scripts = _mixed_script_words(message.subject)
        if scripts:
            finding.fire(rules.MAIL_CONFUSABLE_SUBJECT, f"The subject mixes look-alike letters from other scripts: {', '.join(scripts[:3])}.")
        tokens = indicators.RANDOM_TOKEN.findall(message.subject)
        if tokens:
            finding.fire(rules.MAIL_RANDOM_TOKEN, f"The subject carries a generated token ({tokens[0][:30]}), used to defeat duplicate filters.")
        filler = indicators.FILLER.search(message.body_text[:50_000])
        if filler:
            finding.fire(rules.MAIL_FILLER, f"The body holds filler that defeats hash filters: {filler.group(0)[:40]!r}.")

        # Only a message without links can be a callback lure, so most messages skip both searches.
        callback = indicators.CALLBACK_LURE.search(text) if not message.urls else None
        billing = indicators.BILLING_WORDS.search(text) if callback else None
        if callback and billing:
            finding.fire(
                rules.MAIL_CALLBACK,
                f"A billing notice ({billing.group(0)!r}) asks the reader to call {callback.group(0)[-16:].strip()}, with no link to check.",
            )

        recipients = {address.address for address in message.recipients if address.address}
        lowered_subject = message.subject.lower()
        named = sorted(address for address in recipients if address in lowered_subject)
        if named:
            finding.fire(rules.MAIL_RECIPIENT_IN_SUBJECT, f"The subject names the recipient's address ({named[0]}), a mail-merge lure.")
        return finding

    # URLs --------------------------------------------------------------------------------

    def url(self, url: Url, sender_sites: frozenset[str] = frozenset()) -> Finding:
        """Check the URL, and the destination inside it when it is wrapped.

        Args:
            url: The URL as parsed.
            sender_sites: Registrable domains the authenticated sender owns (see `sender_sites`);
                a link there is the sender's own page, not free hosting someone else set up.
        """
        finding = self.url_target(url.url, url.host, url.registrable_domain, url.normalised, sender_sites)
        if url.unwrapped:
            wrappers = " inside ".join(reversed(url.wrappers))
            finding.fire(rules.URL_WRAPPED, f"The link is wrapped by {wrappers}; it leads to {url.unwrapped}.")
            target = self.url_target(url.unwrapped, url.unwrapped_host, url.unwrapped_domain, normalise_url(url.unwrapped), sender_sites)
            for item in target.evidence:
                finding.evidence.append(item.model_copy(update={"text": f"Destination: {item.text}"}))
            finding.threats.extend(threat for threat in target.threats if threat not in finding.threats)
        shown_domain = _domain_in_text(url.link_text)
        host = url.unwrapped_host or url.host
        if shown_domain and host and not _same_site(shown_domain, host):
            finding.fire(rules.URL_TEXT_MISMATCH, f"The link text shows {shown_domain} but the link goes to {host}.")
        if url.hidden_characters:
            finding.fire(rules.URL_HIDDEN, f"The URL hides characters: {', '.join(url.hidden_characters[:4])}.")
        if url.data_uri and is_dangerous_data_uri(url.url):
            finding.fire(rules.URL_DATA, f"A data: URI carries a {data_uri_media_type(url.url) or 'page'} inline: {url.url[:80]}.")
        if url.ip_literal and not finding.fired(rules.URL_IP_LITERAL):
            finding.fire(rules.URL_IP_LITERAL, f"The link points at a bare IP address, written as {url.host}.")
        if url.destination_hidden:
            wrapper = " and ".join(url.wrappers) or "The wrapper"
            if url.unwrapped_host:
                finding.note(f"{wrapper} hides the destination URL but names its domain, {url.unwrapped_host}.", "URL unwrapping")
                target = self.url_target("", url.unwrapped_host, url.unwrapped_domain, "", sender_sites)
                for item in target.evidence:
                    finding.evidence.append(item.model_copy(update={"text": f"Destination domain: {item.text}"}))
                finding.threats.extend(threat for threat in target.threats if threat not in finding.threats)
            else:
                finding.note(f"{wrapper} hides the destination; it cannot be checked without following the link.", "URL unwrapping")
        if url.host_problem:
            finding.fire(rules.URL_MALFORMED, f"The link's host cannot be read: {url.host_problem}.")
        if url.source == "qr":
            where = f" in {url.source_detail}" if url.source_detail else ""
            finding.fire(rules.URL_QR, f"The link was decoded from a QR code{where}, where link scanners do not look.")
        if finding.examined and not any(item.rule for item in finding.evidence):
            finding.note(
                f"Checked against {self.intel.entry_count:,} intelligence entries, the allow lists and the host checks; nothing matched.",
                "URL reputation investigation",
            )
        return finding

    def url_target(self, address: str, host: str, domain: str, normalised: str = "", sender_sites: frozenset[str] = frozenset()) -> Finding:
        """Check one URL and its host against the intel and allow lists and the host heuristics.

        The URL is looked up as written and in its normalised form (IDNA host, no default port,
        percent-encoding and invisible characters tidied), so a feed entry matches either way.
        """
        finding = self.finding()
        finding.examined = self.intel.entry_count > 0
        if host and self._allowed_url(address, host, domain, finding):
            return finding
        match = self.intel.lookup_url(address)
        if match is None and normalised and normalised != address:
            match = self.intel.lookup_url(normalised)
        if match is not None:
            finding.fire(rules.URL_LISTED, match.describe("URL") + ".", threat=threat_for_feed(match))
            if ThreatType.MALICIOUS_URL not in finding.threats:
                finding.threats.append(ThreatType.MALICIOUS_URL)
        if not host:
            return finding
        domain_match = self._domain_listing(host, finding)
        if domain_match is not None:
            finding.fire(rules.URL_DOMAIN_LISTED, domain_match.describe("Domain") + ".", threat=threat_for_feed(domain_match))
            if ThreatType.MALICIOUS_URL not in finding.threats:
                finding.threats.append(ThreatType.MALICIOUS_URL)
        if _is_ip_literal(host):
            finding.fire(rules.URL_IP_LITERAL, f"The link points at a bare IP address ({host}).")
        if is_shortener(host):
            finding.fire(rules.URL_SHORTENER, f"{host} is a URL shortener, so the real destination is not in the message.")
        self._check_lookalike(host, finding, sender_side=False)
        hosting = _free_hosting(host)
        if hosting and (registrable_domain(host) or host) not in sender_sites:
            where = host if host == hosting else f"{host} on {hosting}"
            finding.fire(rules.URL_FREE_HOSTING, f"The link goes to {where}, where anyone can publish a page.")
        if _tld(host) in indicators.ABUSED_TLDS:
            finding.fire(rules.URL_RISKY_TLD, f"The link's domain {domain or host} ends in .{_tld(host)}, a top-level domain common in abuse.")
        if "@" in _netloc(address):
            finding.fire(rules.URL_USERINFO, f"The link puts text before an @ in the host part, so it shows one site and opens {host}.")
        return finding

    def _allowed_url(self, address: str, host: str, domain: str, finding: Finding) -> bool:
        listed_url = address.lower() in self.config.allow.urls
        return self._allowed(rules.URL_ALLOWED, f"The URL {address}", listed_url, f"Domain {domain or host}", host, finding)

    def _allowed(self, rule: Rule, exact_name: str, exact_listed: bool, domain_name: str, host: str, finding: Finding) -> bool:
        """Fire `rule` when the configured allow list names the value or its domain, or intel allows the domain."""
        if exact_listed:
            finding.fire(rule, f"{exact_name} is on the configured allow list.")
            return True
        listed = _parent_match(host, self.config.allow.domains)
        if listed:
            finding.fire(rule, f"{domain_name} is on the configured allow list ({listed}).")
            return True
        intel_allowed = self.intel.allowed(host)
        if intel_allowed is not None:
            finding.fire(rule, f"{domain_name} is on the allow list ({intel_allowed.source}).")
            return True
        return False

    # Attachments -------------------------------------------------------------------------

    def attachment(self, attachment: Attachment) -> Finding:
        finding = self.finding()
        finding.examined = True
        if attachment.sha256 and attachment.sha256 in self.config.allow.file_hashes:
            finding.fire(rules.FILE_ALLOWED, "The file hash is on the configured allow list.")
            return finding
        if attachment.sha256:
            match = self.intel.lookup_file(attachment.sha256)
            if match is not None:
                threat = ThreatType.MALWARE if match.threat.lower() == "malware" else ThreatType.HIGH_CONFIDENCE_PHISH
                finding.fire(rules.FILE_LISTED, match.describe("File hash") + ".", threat=threat)

        extension = attachment.extension.lower()
        _check_disguise(attachment, finding)
        detected = attachment.detected_type
        if detected and not matches_extension(detected, extension):
            risky = f", a risky type: {RISKY_EXTENSIONS[detected]}" if detected in RISKY_EXTENSIONS else ""
            finding.fire(rules.FILE_TYPE_MISMATCH, f"Named .{extension or '(none)'} but its content is {_TYPE_NAMES.get(detected, detected)}{risky}.")
        if extension in RISKY_EXTENSIONS:
            finding.fire(rules.FILE_RISKY_TYPE, f"Attachment type .{extension} is risky: {RISKY_EXTENSIONS[extension]}.")
        elif detected in RISKY_EXTENSIONS and detected not in ("html",) and not finding.fired(rules.FILE_TYPE_MISMATCH):
            finding.fire(rules.FILE_RISKY_TYPE, f"The content is a risky type: {RISKY_EXTENSIONS[detected]}.")
        if attachment.archive_members or attachment.archive_problems or attachment.archive_encrypted:
            _check_archive(attachment, finding)
        elif extension in ARCHIVE_EXTENSIONS:
            finding.fire(rules.FILE_ARCHIVE, f"Attachment is a .{extension} archive, which can hide executables.")

        _check_macros(attachment, finding)
        for item in attachment.content_findings:
            if "TNEF" in item:
                finding.fire(rules.FILE_TNEF, f"The file {item}.")
            else:
                finding.fire(rules.FILE_CONTENT, f"The file {item}.")
        stem = attachment.filename.rpartition(".")[0] if "." in attachment.filename else attachment.filename
        if _generated_name(stem):
            finding.fire(rules.FILE_RANDOM_NAME, f"The file name {attachment.filename} looks generated, as campaign tools name lure files.")
        if attachment.hidden_characters and not finding.fired(rules.FILE_DISGUISED):
            finding.fire(rules.FILE_HIDDEN, f"The file name hides characters: {', '.join(attachment.hidden_characters[:4])}.")
        for link in attachment.links[:50]:
            target = self.url_target(link, url_host(link) or "", "")
            if target.fired(rules.URL_LISTED) or target.fired(rules.URL_DOMAIN_LISTED):
                finding.fire(rules.FILE_LINK_LISTED, f"Link inside the file is listed: {link[:120]}.")
        if attachment.container:
            finding.note(f"Expanded from {attachment.container}.", "Attachment container")
        return finding


# Helpers ---------------------------------------------------------------------------------------

_OTHER_HIDDEN_FIELDS = ("Reply-To", "To", "Cc", "member of archive")
_ALIGNMENT_RULES = {
    RETURN_PATH_MISALIGNED: rules.SENDER_RETURN_PATH,
    REPLY_TO_MISALIGNED: rules.SENDER_REPLY_TO,
    DKIM_NOT_ALIGNED: rules.SENDER_DKIM_UNALIGNED,
    DKIM_MISSING: rules.SENDER_DKIM_MISSING,
}
_IMPERSONATION_RULES = {
    DISPLAY_NAME_VIP: rules.SENDER_VIP_NAME,
    DISPLAY_NAME_USER: rules.SENDER_USER_NAME,
    DISPLAY_NAME_ADDRESS: rules.SENDER_NAME_ADDRESS,
    DISPLAY_NAME_BRAND: rules.SENDER_NAME_BRAND,
    DISPLAY_NAME_ORGANISATION: rules.SENDER_NAME_ORGANISATION,
}

_DOMAIN_IN_TEXT = re.compile(r"\b((?:[a-z0-9-]+\.)+[a-z]{2,})\b", re.IGNORECASE)
_INSIDE_WORD_HIDDEN = re.compile(r"\w[\u00ad\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u2066-\u2069\u202a-\u202e]+\w")
_LETTERS = re.compile(r"[^\W\d_]{3,}")


def verdict_words(verdict: Verdict) -> str:
    """Return the verdict as it reads inside a sentence: "is malicious", "is clean (no threats found)"."""
    return _VERDICT_WORDS[verdict]


_VERDICT_WORDS = {
    Verdict.MALICIOUS: "malicious",
    Verdict.SUSPICIOUS: "suspicious",
    Verdict.NO_THREATS_FOUND: "clean (no threats found)",
    Verdict.UNKNOWN: "unknown (nothing could be checked)",
}



def _tld(host: str) -> str:
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in indicators.ABUSED_TLDS:
        return ".".join(labels[-2:])
    return labels[-1] if len(labels) >= 2 else ""


def _parent_match(host: str, domains: list[str]) -> str:
    host = host.lower().rstrip(".")
    for domain in domains:
        if host == domain or host.endswith("." + domain):
            return domain
    return ""


def _free_hosting(host: str) -> str:
    for suffix in indicators.FREE_HOSTING_SUFFIXES:
        if host == suffix or host.endswith("." + suffix):
            return suffix
    return ""


def _netloc(address: str) -> str:
    try:
        return urlsplit(address).netloc
    except ValueError:
        return ""


def _machine_generated(address: str) -> bool:
    """Return whether the local part has 20 or more characters with a run of 7 consonants, or 8 letters and 6 digits."""
    local = address.partition("@")[0]
    if len(local) < 20:
        return False
    letters = sum(ch.isalpha() for ch in local)
    digits = sum(ch.isdigit() for ch in local)
    consonant_run = re.search(r"[bcdfghjklmnpqrstvwxz]{7,}", local.lower())
    return bool(consonant_run) or (letters >= 8 and digits >= 6)


def _generated_name(stem: str) -> bool:
    """Return whether a name of 12 or more letters and digits, with no separator, switches between
    case or between letters and digits often, or is lower case with a run of 6 consonants."""
    if len(stem) < 12 or not stem.isalnum():
        return False
    switches = sum(1 for a, b in zip(stem, stem[1:], strict=False) if a.isupper() != b.isupper() or a.isdigit() != b.isdigit())
    return switches >= len(stem) // 3 or (stem.islower() and re.search(r"[bcdfghjklmnpqrstvwxz]{6,}", stem) is not None)


def _distinct_matches(pattern: re.Pattern[str], text: str) -> list[str]:
    seen: dict[str, None] = {}
    for match in pattern.finditer(text):
        seen.setdefault(match.group(1).lower(), None)
        if len(seen) >= 5:
            break
    return list(seen)


def _mixed_script_words(text: str) -> list[str]:
    """Words whose letters come from two or more of Latin, Cyrillic, Greek, Armenian and Cherokee.

    Real Greek or Russian words use one script; "Ρⅼеаѕе" (Greek, a Roman numeral, Cyrillic)
    only reads as English. NFKC folding first turns compatibility letters such as "ⅼ" into Latin.
    """
    found = []
    for word in _LETTERS.findall(unicodedata.normalize("NFKC", text)):
        scripts = {_script(ch) for ch in word}
        scripts.discard("")
        if len(scripts) > 1:
            found.append(word)
    return found


def _script(character: str) -> str:
    name = unicodedata.name(character, "")
    for script in ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"):
        if name.startswith(script):
            return script
    return ""


def lookalike_of(domain: str, own_domains: list[str]) -> str:
    """Return the own domain that `domain` imitates, or an empty string."""
    match = lookalike(domain, {"the organisation": own_domains})
    return match.target_domain if match is not None else ""


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


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
        finding.fire(rules.FILE_DISGUISED, "The file name contains a right-to-left override, which makes the real extension display backwards.")
    parts = name.lower().rstrip(". ").split(".")
    if len(parts) >= 3 and parts[-2] in _DECOY_EXTENSIONS and parts[-1] in RISKY_EXTENSIONS:
        finding.fire(rules.FILE_DISGUISED, f"Double extension: '.{parts[-2]}.{parts[-1]}' shows a harmless type before the real one.")


def _check_macros(attachment: Attachment, finding: Finding) -> None:
    if attachment.office_encrypted:
        finding.fire(rules.FILE_OFFICE_ENCRYPTED, "The Office document is password-protected, so its content cannot be scanned.")
    if not attachment.has_macros:
        return
    strong = [keyword for keyword in attachment.macro_suspicious if keyword not in WEAK_KEYWORDS]
    if attachment.macro_auto_exec and strong:
        finding.fire(
            rules.FILE_MACRO_MALICIOUS,
            f"Macros run on opening ({', '.join(attachment.macro_auto_exec[:3])}) and use {', '.join(strong[:5])}.",
        )
    elif attachment.macro_auto_exec:
        finding.fire(rules.FILE_MACRO_AUTO, f"Macros run on opening ({', '.join(attachment.macro_auto_exec[:3])}).")
    else:
        keywords = f" with {', '.join(attachment.macro_suspicious[:5])}" if attachment.macro_suspicious else ""
        finding.fire(rules.FILE_MACRO, f"The document contains VBA macros{keywords}.")


def _check_archive(attachment: Attachment, finding: Finding) -> None:
    risky = [member for member in attachment.archive_members if _member_type(member) in RISKY_EXTENSIONS]
    if risky:
        listed = ", ".join(risky[:5]) + (f" and {len(risky) - 5} more" if len(risky) > 5 else "")
        finding.fire(rules.FILE_ARCHIVE_RISKY, f"The archive holds risky files: {listed}.")
    if attachment.archive_encrypted:
        finding.fire(rules.FILE_ARCHIVE_ENCRYPTED, "The archive is password-protected, so its files cannot be scanned.")
    for problem in attachment.archive_problems:
        finding.fire(rules.FILE_ARCHIVE_LIMITS, f"Archive listing stopped: {problem}.")
    if not risky and not attachment.archive_encrypted and not attachment.archive_problems:
        count = len(attachment.archive_members)
        finding.note(f"The archive holds {count} {'file' if count == 1 else 'files'}, none of a risky type.", "Archive contents check")


def _member_type(member: str) -> str:
    """Return the type written in brackets after a listed member, e.g. `exe` in `a.jpg (exe)`."""
    inside = member.rpartition(" (")[2].rstrip(")")
    return inside.split(",")[0].strip()
