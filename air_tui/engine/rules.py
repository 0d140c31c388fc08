"""Named rules with weights: how every verdict is reached, so anyone can check it.

Each analyzer fires rules. A rule that fires adds one evidence line in plain words and its weight
to the entity's score. The score, compared with two thresholds, gives the verdict. Weights can be changed
per rule in the configuration (`[analysis.rule_weights]`), and a weight of 0 keeps the evidence
line as information without moving the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

from air_tui.domain.config import AnalysisConfig, ConfigError
from air_tui.domain.investigation import Evidence
from air_tui.domain.vocab import ThreatType, Verdict


@dataclass(frozen=True)
class Rule:
    id: str
    """Stable id used in configuration and evidence, `area.what`."""
    title: str
    """Short name, shown as the evidence source."""
    weight: int
    """Default points; 100 alone makes an entity malicious, 40 suspicious, negatives count towards clean."""
    threat: ThreatType | None = None
    """Threat the rule implies when it fires with a positive weight."""


RULES: dict[str, Rule] = {}


def _rule(rule_id: str, title: str, weight: int, threat: ThreatType | None = None) -> Rule:
    rule = Rule(rule_id, title, weight, threat)
    RULES[rule_id] = rule
    return rule


_PHISH = ThreatType.PHISH
_HCPHISH = ThreatType.HIGH_CONFIDENCE_PHISH
_MALWARE = ThreatType.MALWARE
_URL = ThreatType.MALICIOUS_URL

# Sender ------------------------------------------------------------------------------------
SENDER_LISTED = _rule("sender.listed", "Sender domain on a threat list", 100, _PHISH)
SENDER_ALLOWED = _rule("sender.allowed", "Sender on the allow list", -100)
SENDER_NO_ADDRESS = _rule("sender.no_address", "No usable From address", 40)
SENDER_NO_TLD = _rule("sender.no_tld", "Sender domain is not an internet domain", 40, _PHISH)
SENDER_DMARC_FAIL = _rule("sender.dmarc_fail", "DMARC failed", 50, _PHISH)
SENDER_AUTH_FAIL = _rule("sender.auth_fail", "Authentication failed", 25)
SENDER_AUTH_PASS = _rule("sender.auth_pass", "Authentication passed", -10)
SENDER_INTERNAL = _rule("sender.internal_authenticated", "Internal sender authenticated by the boundary", -40)
SENDER_AUTH_NONE = _rule("sender.auth_none", "No trusted authentication results", 0)
SENDER_REPLY_TO = _rule("sender.reply_to_differs", "Reply-To domain differs from From", 30, _PHISH)
SENDER_REPLY_TO_FREEMAIL = _rule("sender.reply_to_freemail", "Replies go to a free mailbox", 20, _PHISH)
SENDER_ODD_NAME = _rule("sender.odd_display_name", "Display name with mail-merge marks", 20)
SENDER_RETURN_PATH = _rule("sender.return_path_differs", "Return-Path domain differs from From", 5)
SENDER_DKIM_UNALIGNED = _rule("sender.dkim_unaligned", "No DKIM signature aligned with From", 10)
SENDER_LOOKALIKE_OWN = _rule("sender.lookalike_own", "Lookalike of the organisation's domain", 100, _HCPHISH)
SENDER_LOOKALIKE_BRAND = _rule("sender.lookalike_brand", "Lookalike of a brand's domain", 70, _PHISH)
SENDER_OTHER_SUFFIX = _rule("sender.brand_other_ending", "Brand name under another domain ending", 25, _PHISH)
SENDER_MIXED_SCRIPT = _rule("sender.mixed_script_domain", "Domain mixing scripts", 60, _PHISH)
SENDER_NAME_ORGANISATION = _rule("sender.name_names_organisation", "Display name names the organisation", 45, _PHISH)
SENDER_DKIM_MISSING = _rule("sender.dkim_missing", "No DKIM signature", 0)
SENDER_OWN_DOMAIN_EXTERNAL = _rule("sender.own_domain_unauthenticated", "Own domain in From without authentication", 60, _PHISH)
SENDER_VIP_NAME = _rule("sender.impersonates_vip", "Display name of a VIP from outside", 100, _HCPHISH)
SENDER_USER_NAME = _rule("sender.impersonates_user", "Display name of a user from outside", 50, _PHISH)
SENDER_NAME_ADDRESS = _rule("sender.name_shows_other_address", "Display name shows another address", 50, _PHISH)
SENDER_NAME_BRAND = _rule("sender.name_names_brand", "Display name names a brand", 45, _PHISH)
SENDER_HIDDEN = _rule("sender.hidden_characters", "Hidden characters in the sender", 40, _PHISH)
SENDER_FIRST_CONTACT = _rule("sender.first_contact", "First contact", 5)
SENDER_RANDOM = _rule("sender.machine_generated", "Machine-generated sender address", 15)
SENDER_RISKY_TLD = _rule("sender.abused_tld", "Top-level domain common in abuse", 15)

# URL ---------------------------------------------------------------------------------------
URL_LISTED = _rule("url.listed", "URL on a threat list", 100, _URL)
URL_DOMAIN_LISTED = _rule("url.domain_listed", "URL domain on a threat list", 100, _URL)
URL_ALLOWED = _rule("url.allowed", "URL on the allow list", -100)
URL_IP_LITERAL = _rule("url.ip_literal", "Link to a bare IP address", 40)
URL_SHORTENER = _rule("url.shortener", "URL shortener", 10)
URL_DATA = _rule("url.data_uri", "data: URI carrying a page or program", 60, _PHISH)
URL_MALFORMED = _rule("url.malformed_host", "Malformed host", 40)
URL_HIDDEN = _rule("url.hidden_characters", "Hidden characters in the URL", 40, _PHISH)
URL_TEXT_MISMATCH = _rule("url.text_shows_other_domain", "Link text shows another domain", 40, _PHISH)
URL_LOOKALIKE_OWN = _rule("url.lookalike_own", "Link to a lookalike of the organisation's domain", 100, _HCPHISH)
URL_LOOKALIKE_BRAND = _rule("url.lookalike_brand", "Link to a lookalike of a brand's domain", 70, _PHISH)
URL_OTHER_SUFFIX = _rule("url.brand_other_ending", "Link to a brand name under another ending", 25, _PHISH)
URL_MIXED_SCRIPT = _rule("url.mixed_script_domain", "Link to a domain mixing scripts", 60, _PHISH)
URL_FREE_HOSTING = _rule("url.free_hosting", "Link to free hosting or file sharing", 25)
URL_RISKY_TLD = _rule("url.abused_tld", "Top-level domain common in abuse", 15)
URL_USERINFO = _rule("url.userinfo", "User name before the host", 40, _PHISH)
URL_QR = _rule("url.qr_code", "Link hidden in a QR code", 30, _PHISH)
URL_WRAPPED = _rule("url.wrapped", "Wrapped link", 0)

# File --------------------------------------------------------------------------------------
FILE_LISTED = _rule("file.listed", "File hash on a threat list", 100, _MALWARE)
FILE_ALLOWED = _rule("file.allowed", "File hash on the allow list", -100)
FILE_TYPE_MISMATCH = _rule("file.type_mismatch", "Content does not match the extension", 40)
FILE_RISKY_TYPE = _rule("file.risky_type", "Risky file type", 50, _MALWARE)
FILE_DISGUISED = _rule("file.disguised_name", "Disguised file name", 60, _MALWARE)
FILE_HIDDEN = _rule("file.hidden_characters", "Hidden characters in the file name", 40, _MALWARE)
FILE_ARCHIVE_RISKY = _rule("file.archive_risky_member", "Risky file inside an archive", 60, _MALWARE)
FILE_ARCHIVE_ENCRYPTED = _rule("file.archive_encrypted", "Password-protected archive", 40, _MALWARE)
FILE_ARCHIVE_LIMITS = _rule("file.archive_limits", "Archive too large or deep to list", 40)
FILE_ARCHIVE = _rule("file.archive", "Archive", 10)
FILE_MACRO_MALICIOUS = _rule("file.macro_auto_exec_suspicious", "Macros that run on opening and use risky calls", 100, _MALWARE)
FILE_MACRO_AUTO = _rule("file.macro_auto_exec", "Macros that run on opening", 60, _MALWARE)
FILE_MACRO = _rule("file.macro", "VBA macros", 30)
FILE_OFFICE_ENCRYPTED = _rule("file.office_encrypted", "Password-protected Office document", 40, _MALWARE)
FILE_CONTENT = _rule("file.risky_content", "Risky content inside the file", 50, _PHISH)
FILE_LINK_LISTED = _rule("file.link_listed", "Listed link inside the file", 100, _URL)
FILE_TNEF = _rule("file.tnef_not_expanded", "winmail.dat not expanded", 20)

# Email -------------------------------------------------------------------------------------
MAIL_CREDENTIAL_LURE = _rule("email.credential_lure", "Asks to sign in, verify or pay", 25, _PHISH)
MAIL_PRIZE_LURE = _rule("email.prize_lure", "Offers a prize, refund or crypto", 25, _PHISH)
MAIL_URGENCY = _rule("email.urgency", "Pressure to act now", 10)
MAIL_ATTACHMENT_PASSWORD = _rule("email.attachment_password", "Gives the password of an attachment", 40, _MALWARE)
MAIL_HIDDEN_TEXT = _rule("email.hidden_characters", "Hidden characters in subject or body", 40, _PHISH)
MAIL_HIDDEN_HEADERS = _rule("email.hidden_characters_elsewhere", "Hidden characters in recipients, replies or archive members", 20)
MAIL_CONFUSABLE_SUBJECT = _rule("email.mixed_script_subject", "Look-alike letters from another script", 50, _PHISH)
MAIL_CALLBACK = _rule("email.callback_lure", "Billing notice with a phone number to call", 40, _PHISH)
MAIL_RANDOM_TOKEN = _rule("email.generated_token", "Generated token in the subject", 15)
MAIL_FILLER = _rule("email.filler_text", "Hash-busting filler text", 15)
FILE_RANDOM_NAME = _rule("file.generated_name", "Generated file name", 20)
MAIL_RECIPIENT_IN_SUBJECT = _rule("email.recipient_in_subject", "Recipient address in the subject", 20, _PHISH)


def check_rule_weights(config: AnalysisConfig) -> None:
    """Refuse weights for rules that do not exist, so a typo cannot silently do nothing.

    Raises:
        ConfigError: A key of `[analysis.rule_weights]` names no rule.
    """
    unknown = sorted(set(config.rule_weights) - set(RULES))
    if unknown:
        raise ConfigError(
            f"[analysis.rule_weights] names unknown rules: {', '.join(unknown)}. "
            "Run `air-tui rules` to list every rule id."
        )
    if config.suspicious_score >= config.malicious_score:
        raise ConfigError(
            f"[analysis] suspicious_score ({config.suspicious_score}) must be lower than malicious_score ({config.malicious_score})."
        )


class Scoring:
    """Weights and thresholds in force: the built-in ones with the configuration's changes."""

    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        check_rule_weights(self.config)

    def weight(self, rule: Rule) -> int:
        return self.config.rule_weights.get(rule.id, rule.weight)

    def verdict(self, score: int, examined: bool) -> Verdict:
        if score >= self.config.malicious_score:
            return Verdict.MALICIOUS
        if score >= self.config.suspicious_score:
            return Verdict.SUSPICIOUS
        return Verdict.NO_THREATS_FOUND if examined else Verdict.UNKNOWN

    def line_verdict(self, weight: int) -> Verdict:
        """Verdict one evidence line suggests on its own, for colouring it."""
        if weight >= self.config.malicious_score:
            return Verdict.MALICIOUS
        if weight > 0:
            return Verdict.SUSPICIOUS
        return Verdict.NO_THREATS_FOUND if weight < 0 else Verdict.UNKNOWN


class Finding:
    """Evidence gathered for one entity: the rules that fired, their points and the verdict."""

    def __init__(self, scoring: Scoring) -> None:
        self.scoring = scoring
        self.evidence: list[Evidence] = []
        self.threats: list[ThreatType] = []
        self.examined = False
        """Set when the checks that could clear the entity ran, so a quiet result means clean."""

    def fire(self, rule: Rule, text: str, *, threat: ThreatType | None = None) -> None:
        """Record that `rule` fired, with the fact behind it in plain words."""
        weight = self.scoring.weight(rule)
        self.evidence.append(
            Evidence(text=text, verdict=self.scoring.line_verdict(weight), source=rule.title, rule=rule.id, weight=weight)
        )
        implied = threat or rule.threat
        if weight > 0 and implied is not None and implied not in self.threats:
            self.threats.append(implied)

    def note(self, text: str, source: str) -> None:
        """Record a fact that informs without moving the verdict."""
        self.evidence.append(Evidence(text=text, verdict=Verdict.UNKNOWN, source=source))

    def fired(self, rule: Rule) -> bool:
        return any(item.rule == rule.id for item in self.evidence)

    @property
    def score(self) -> int:
        return sum(item.weight for item in self.evidence)

    @property
    def verdict(self) -> Verdict:
        # Notes inform but check nothing, so an entity with notes only stays unknown.
        return self.scoring.verdict(self.score, self.examined or any(item.rule for item in self.evidence))
