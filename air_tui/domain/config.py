"""Configuration read from `config.toml`: rule weights, allowlists, trusted boundaries, intel feeds.

Every section is optional; a missing file means the defaults. Unknown keys are refused with the
key's name, so a typo never silently turns a setting off.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError, field_validator


MAX_WEIGHT = 1000
"""Largest weight a rule may be given, positive or negative: ten times the malicious threshold."""
_DOMAIN = re.compile(r"(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ConfigError(ValueError):
    """The configuration file cannot be used; the message names the file, the key and the fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AllowList(_Section):
    """Indicators an analyst has cleared. A match adds evidence with the rule `allow.*` and its weight."""

    domains: list[str] = Field(default_factory=list)
    """Sender or URL domains; a parent domain covers its subdomains."""
    senders: list[str] = Field(default_factory=list)
    """Full sender addresses."""
    urls: list[str] = Field(default_factory=list)
    file_hashes: list[str] = Field(default_factory=list)
    """SHA-256 values."""

    @field_validator("domains", "senders", "urls", "file_hashes")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [value.strip().lower().rstrip(".") for value in values if value.strip()]

    @field_validator("domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _DOMAIN.fullmatch(value):
                raise ValueError(f"{value!r} is not a domain name; write it like 'partner.example' (it covers subdomains), without scheme, path or wildcard")
        return values

    @field_validator("senders")
    @classmethod
    def _senders(cls, values: list[str]) -> list[str]:
        for value in values:
            if value.count("@") != 1 or not _DOMAIN.fullmatch(value.partition("@")[2]):
                raise ValueError(f"{value!r} is not an e-mail address; write the full sender address, like 'alerts@vendor.example'")
        return values

    @field_validator("urls")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.startswith(("http://", "https://")):
                raise ValueError(f"{value!r} is not a URL; write it with its scheme, like 'https://intranet.example/login'")
        return values

    @field_validator("file_hashes")
    @classmethod
    def _hashes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _SHA256.fullmatch(value):
                raise ValueError(f"{value!r} is not a SHA-256 value; write the 64 hexadecimal digits")
        return values


class AnalysisConfig(_Section):
    trusted_authserv_ids: list[str] = Field(default_factory=list)
    """authserv-ids whose Authentication-Results are trusted, besides the organisation's own.
    Results written by anyone else, including the sender, are shown but never counted."""
    brands: list[str] = Field(default_factory=list)
    """Extra brand names to watch for in display names and lookalike domains."""
    brand_domains: dict[str, list[str]] = Field(default_factory=dict)
    """A brand's real domains, e.g. `paypal = ["paypal.com"]`, so its own mail is not a lookalike."""
    rule_weights: dict[str, StrictInt] = Field(default_factory=dict)
    """Weight per rule id, replacing the built-in one; 0 turns a rule off."""
    malicious_score: int = 100
    """An entity whose rule weights add up to at least this is malicious."""
    suspicious_score: int = 40
    """An entity whose rule weights add up to at least this (and less than `malicious_score`) is suspicious."""
    allow: AllowList = Field(default_factory=AllowList)

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _authserv_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not value.strip() or any(ch.isspace() for ch in value.strip()):
                raise ValueError(f"{value!r} is not an authserv-id; write the host name the boundary puts first in Authentication-Results, like 'mx.example.com'")
        return [value.strip() for value in values]

    @field_validator("rule_weights")
    @classmethod
    def _weights_in_range(cls, weights: dict[str, int]) -> dict[str, int]:
        for rule_id, weight in weights.items():
            if not -MAX_WEIGHT <= weight <= MAX_WEIGHT:
                raise ValueError(f"the weight of {rule_id} is {weight}; use a whole number from -{MAX_WEIGHT} to {MAX_WEIGHT}")
        return weights

    @field_validator("suspicious_score", "malicious_score")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of points")
        return value


class FeedConfig(_Section):
    """One downloadable intelligence feed."""

    name: str
    url: str
    format: str
    """`urlhaus` (URLhaus CSV), `openphish` (one URL a line), `urls`, `domains` or `file_hashes`
    (air-tui CSV with a header line), or `allow_domains`."""
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _usable_name(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("a feed needs a name")
        if value.startswith("intel/"):
            raise ValueError(f"feed name {value!r} starts with 'intel/', which names the tenant's own intel files; choose another name")
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in FEED_FORMATS:
            raise ValueError(f"unknown feed format {value!r}; use one of {', '.join(sorted(FEED_FORMATS))}")
        return value


FEED_FORMATS = frozenset({"urlhaus", "openphish", "urls", "domains", "file_hashes", "allow_domains"})


class OnlineLookups(_Section):
    """Optional lookups that send indicators to a third party. Off unless turned on here."""

    virustotal: bool = False
    """VirusTotal v3; the API key comes from the environment variable AIR_TUI_VT_API_KEY."""
    urlhaus: bool = False
    """URLhaus API; the Auth-Key comes from AIR_TUI_URLHAUS_KEY."""
    requests_per_minute: int = 4
    """The public VirusTotal API allows 4 a minute."""
    cache_hours: int = 24
    """Hours a look-up result is reused without a new request; 0 sends a request every time."""

    @field_validator("requests_per_minute")
    @classmethod
    def _positive_rate(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of requests a minute")
        return value

    @field_validator("cache_hours")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must be 0 or a positive number of hours")
        return value


class IntelConfig(_Section):
    feeds: list[FeedConfig] = Field(default_factory=list)
    max_age_days: int = 7
    """A snapshot older than this is reported as stale in `intel status`."""
    online: OnlineLookups = Field(default_factory=OnlineLookups)

    @field_validator("feeds")
    @classmethod
    def _unique_names(cls, feeds: list[FeedConfig]) -> list[FeedConfig]:
        names = [feed.name for feed in feeds]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"feed names must be unique, but {', '.join(repeated)} appears more than once")
        return feeds

    @field_validator("max_age_days")
    @classmethod
    def _positive_days(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("must be a positive number of days")
        return value


class AlertsConfig(_Section):
    """Alert policies: which are on, and how events fold into alerts."""

    disabled: list[str] = Field(default_factory=list)
    """Ids of built-in policies to turn off, as `air-tui policies` lists them."""
    aggregation_seconds: StrictInt = 60
    """Events of one policy within this many seconds fold into one alert with a hit count."""

    @field_validator("aggregation_seconds")
    @classmethod
    def _window(cls, value: int) -> int:
        if not 0 <= value <= 86400:
            raise ValueError(f"must be between 0 (never fold) and 86400 seconds, not {value}")
        return value


class RemovalConfig(_Section):
    """Removal after delivery: moving delivered mail that an intel refresh shows to be malicious."""

    enabled: StrictBool = True
    window_hours: StrictInt = 48
    """Only mail delivered within this many hours is moved."""
    malware: str = "Quarantine"
    high_confidence_phish: str = "Quarantine"
    phish: str = "Junk Email"
    spam: str = "Junk Email"

    @field_validator("malware", "high_confidence_phish", "phish", "spam")
    @classmethod
    def _destination(cls, value: str) -> str:
        if value not in ("Quarantine", "Junk Email"):
            raise ValueError(f"must be \"Quarantine\" or \"Junk Email\", not {value!r}")
        return value

    @field_validator("window_hours")
    @classmethod
    def _hours(cls, value: int) -> int:
        if not 1 <= value <= 24 * 30:
            raise ValueError(f"must be between 1 and 720 hours, not {value}")
        return value


class InvestigationConfig(_Section):
    """Limits that keep investigations bounded and the queue moving."""

    max_concurrent: StrictInt = 20
    """Investigations running or waiting for approval at once; more wait as Queued by throttling."""
    queue_timeout_hours: StrictInt = 24
    """A queued investigation that waits longer ends as Terminated by throttling."""
    pending_action_days: StrictInt = 7
    """Pending actions expire after this many days, and the investigation ends as Terminated by system."""
    max_cluster_messages: StrictInt = 10000
    """A cluster larger than this is too much to analyse: the investigation ends as Terminated by system."""
    max_clicks: StrictInt = 500
    """A URL clicked more often than this in the 48 hours is too much to analyse."""
    incident_window_hours: StrictInt = 24
    """Alerts that share an entity within this many hours join one incident."""
    max_incident_entities: StrictInt = 50
    """Incidents do not merge when the result would hold more entities than this."""

    @field_validator("max_concurrent", "queue_timeout_hours", "pending_action_days", "max_cluster_messages", "max_clicks", "incident_window_hours", "max_incident_entities")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"must be a positive number, not {value}")
        return value


Role = Literal["reader", "operator", "admin"]
"""What an analyst may do: view only; decide actions; also decide irreversible ones and change tenant-wide lists."""


class AccessConfig(_Section):
    """Who may decide what. With no analysts listed, whoever runs the console is an admin."""

    read_only: StrictBool = False
    """Turn every action that changes the tenant or the record off, for everyone."""
    analysts: dict[str, Role] = Field(default_factory=dict)
    """Analyst name to role; an analyst not listed may only view."""
    four_eyes: list[str] = Field(default_factory=list)
    """Action types, as `air-tui actions types` names them, that need a second analyst: the proposer cannot approve."""


class ActionsConfig(_Section):
    """How approved actions run, and how new pending actions are announced."""

    max_messages_per_action: StrictInt = 10000
    """An action with more messages is refused at approval, with the count and this limit."""
    max_concurrent_executions: StrictInt = 4
    """Approved actions running at once across every console on this store; more wait as Approved."""
    duplicate_window_minutes: StrictInt = 60
    """A message an action of the same type handled this recently is not acted on again."""
    block_days: StrictInt = 30
    """Days a block entry lasts unless the approver changes it; 0 means it never expires."""
    bell: StrictBool = True
    """Ring the terminal bell when a new action waits for approval."""
    toast: StrictBool = True
    """Show a notification when a new action waits for approval."""

    @field_validator("max_messages_per_action", "max_concurrent_executions", "duplicate_window_minutes")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"must be a positive number, not {value}")
        return value

    @field_validator("block_days")
    @classmethod
    def _days(cls, value: int) -> int:
        if not 0 <= value <= 3650:
            raise ValueError(f"must be between 0 (never expires) and 3650 days, not {value}")
        return value


class ImapTargetConfig(_Section):
    """An IMAP server whose mailboxes approved message actions change."""

    host: str = "127.0.0.1"
    port: StrictInt = 993
    security: Literal["tls", "starttls", "none"] = "tls"
    """`none` is allowed only for a loopback host: credentials never cross a network in clear."""
    username: str = "{mailbox}"
    """Login name per mailbox; `{mailbox}` becomes the mailbox's address, e.g. `{mailbox}*admin` for a Dovecot master user."""
    password_env: str = "AIR_TUI_IMAP_PASSWORD"
    """Environment variable holding the password; when unset, the keyring entry (keyring_service, login name) is used."""
    keyring_service: str = "air-tui-imap"
    ca_file: str = ""
    """A PEM file of certificate authorities to trust besides the system's."""
    recoverable_folder: str = "Recoverable Items"
    """Folder that soft delete moves messages to; created when missing."""
    quarantine_folder: str = "Quarantine"
    timeout_seconds: StrictInt = 30


class GraphTargetConfig(_Section):
    """A Microsoft 365 tenant reached through Microsoft Graph with an app registration."""

    tenant_id: str = ""
    client_id: str = ""
    secret_env: str = "AIR_TUI_GRAPH_CLIENT_SECRET"
    """Environment variable holding the client secret; when unset, the keyring entry (keyring_service, client_id) is used."""
    keyring_service: str = "air-tui-graph"
    authority: str = "https://login.microsoftonline.com"
    base_url: str = "https://graph.microsoft.com/beta"
    approver_upn: str = ""
    """Sent as approverUpn with each remediation; empty uses the analyst's name."""
    timeout_seconds: StrictInt = 30


class RemediationConfig(_Section):
    """Where approved message actions land."""

    target: Literal["demo", "imap", "graph"] = "demo"
    imap: ImapTargetConfig = Field(default_factory=ImapTargetConfig)
    graph: GraphTargetConfig = Field(default_factory=GraphTargetConfig)


class SyncConfig(_Section):
    """Team sync: replicate the ledger through an Apache CouchDB database. An empty `url` turns it off."""

    url: str = ""
    """The server, like `https://couch.example:6984`. Plain `http://` only to a loopback address, unless `--insecure` is given."""
    database: str = "air-tui"
    username: str = ""
    """CouchDB user; empty for a server that needs no login."""
    password_env: str = "AIR_TUI_SYNC_PASSWORD"
    """Environment variable holding the password; when unset, the keyring entry (keyring_service, username) is used."""
    keyring_service: str = "air-tui-sync"
    ca_file: str = ""
    """A PEM file of certificate authorities to trust besides the system's."""
    interval_seconds: StrictInt = 15
    """How often the console pushes and pulls when nothing prompts it sooner."""
    timeout_seconds: StrictInt = 20
    """Read timeout of each request; a long poll waits this long for changes, then requests again."""
    batch_size: StrictInt = 1000
    """Events per `_bulk_docs` request and per `_changes` page."""
    max_backoff_seconds: StrictInt = 300
    """Maximum wait between retries while the server is unreachable."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value:
            return value
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL; write it like 'https://couch.example:6984'")
        authority = value.split("://", 1)[1].split("/", 1)[0]
        if "@" in authority:
            raise ValueError(
                "the URL must not contain a user name or password: set `username`, and put the password in "
                "AIR_TUI_SYNC_PASSWORD or the keyring"
            )
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_$()+/-]*", value):
            raise ValueError(f"{value!r} is not a CouchDB database name: start with a lower-case letter, then a-z, 0-9, _ $ ( ) + - /")
        return value

    @field_validator("interval_seconds", "timeout_seconds", "batch_size", "max_backoff_seconds")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value <= 0:
            raise ValueError(f"must be a positive number, not {value}")
        return value

    @property
    def enabled(self) -> bool:
        return bool(self.url)


class Config(_Section):
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    intel: IntelConfig = Field(default_factory=IntelConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    removal: RemovalConfig = Field(default_factory=RemovalConfig)
    investigations: InvestigationConfig = Field(default_factory=InvestigationConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    remediation: RemediationConfig = Field(default_factory=RemediationConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)


def load_config(path: Path | None, *, required: bool = False) -> Config:
    """Read `path`, or return the defaults when it is None or does not exist and is not `required`.

    Raises:
        ConfigError: The file is required and missing, is not valid TOML, or contains an unknown key
            or a wrong value.
    """
    if path is not None and required and not path.exists():
        raise ConfigError(f"The configuration file {path} does not exist. Check AIR_TUI_CONFIG, or unset it to use config.toml in the data directory.")
    if path is None or not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read the configuration file {path}: {error}.") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"The configuration file {path} is not valid TOML: {error}. Fix that line and try again.") from error
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"The configuration file {path} has a wrong setting ({problems}). Fix or remove it and try again.") from error
