"""Message actions on a Microsoft 365 tenant through the Microsoft Graph analyzedEmails API.

Graph does not move a mailbox item here. `POST /security/collaboration/analyzedEmails/remediate`
hands a batch of analyzed emails to Microsoft Defender for Office 365, which returns 202 Accepted
and carries out the move later, tracked in the Action center History of the Defender portal. So
every move this backend sends comes back as Submitted, never Succeeded, and the outcome keeps the
tracking link that Graph returns in the `Location` header.

An analyzed email is one copy of a message delivered to one recipient. This backend finds it by
the message's internet message id and the recipient's address, in a search window that ends now.

Graph documents these shapes in its reference pages "List analyzedEmails", "analyzedEmail:
remediate" and "analyzedEmailDeliveryDetail resource type" (beta and v1.0, 2024 to 2026).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from air_tui.domain.config import GraphTargetConfig
from air_tui.domain.ids import Clock, system_clock
from air_tui.domain.vocab import Folder, TargetResult
from air_tui.remediation.credentials import lookup_secret
from air_tui.remediation.mail import BackendError, MessageRef, Move, Outcome

log = logging.getLogger(__name__)

CONFIG_SECTION = "remediation.graph"
"""The config.toml section of these settings, named in error messages."""

ANALYZED_EMAILS_PATH = "/security/collaboration/analyzedEmails"

REMEDIATION_ACTIONS: dict[str | None, str] = {
    Folder.INBOX.value: "moveToInbox",
    Folder.JUNK.value: "moveToJunk",
    Folder.DELETED.value: "moveToDeletedItems",
    Folder.RECOVERABLE.value: "softDelete",
    None: "hardDelete",
}
"""The remediate `action` for each destination. A destination of None means purge."""

DELIVERY_LOCATION_FOLDERS: dict[str, str] = {
    "inbox_folder": Folder.INBOX.value,
    "inbox": Folder.INBOX.value,
    "junkFolder": Folder.JUNK.value,
    "deletedFolder": Folder.DELETED.value,
    "quarantine": Folder.QUARANTINE.value,
}
"""Logical folders for `latestDelivery.location` values.

The analyzedEmailDeliveryDetail values are `inbox_folder`, `junkFolder`, `deletedFolder`,
`quarantine`, `onprem_external`, `failed`, `dropped`, `others` and `unknown`. The plain `inbox`
and `external` are accepted too, because the alert evidence type analyzedMessageEvidence spells
them that way.
"""
# NOTE: Graph documents no location for soft-deleted mail (Recoverable Items). A soft-deleted copy
# may be reported as `deletedFolder` or `others`, which is unverified.

UNDELIVERED_LOCATIONS = frozenset({"failed", "dropped"})
"""Locations of copies that never reached a mailbox folder, so there is nothing to act on."""

OUTSIDE_LOCATIONS = frozenset({"onprem_external", "external"})
"""Locations of copies in mailboxes outside Exchange Online, which Defender cannot remediate."""

SEARCH_WINDOW = timedelta(days=30)
"""How far back a search for an analyzed email reaches."""
# NOTE: Graph documents startTime and endTime but no maximum window. 30 days is an assumption taken
# from Threat Explorer's data retention, and an older copy comes back as not found.

TOKEN_REFRESH_MARGIN = timedelta(minutes=5)
"""A token is replaced this long before it expires, so a slow batch does not outlive it."""

MAX_RETRIES = 3
"""Retries of one request that Graph throttled (429) or could not serve (503)."""

MAX_RETRY_DELAY_SECONDS = 60.0
"""Maximum wait before one retry, whatever Retry-After requests, so an approval never hangs for long."""

MAX_PAGES = 50
"""Pages followed in one search before it is reported as failed rather than read to the end."""

REMEDIATION_SEVERITY = "medium"
"""Severity of each remediation in the Action center. Graph accepts low, medium or high."""

MAX_IDS_IN_DESCRIPTION = 10


class GraphRequestError(Exception):
    """An error response from Graph to one request, which the caller turns into Failed outcomes."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        super().__init__(self.describe())

    @classmethod
    def from_response(cls, response: httpx.Response) -> GraphRequestError:
        """Read Graph's error body (`{"error": {"code", "message", "innerError"}}`) when there is one."""
        code = ""
        message = ""
        request_id = response.headers.get("request-id", "")
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            error = body["error"]
            code = str(error.get("code", ""))
            message = str(error.get("message", ""))
            inner = error.get("innerError") or error.get("innererror") or {}
            if isinstance(inner, dict):
                request_id = str(inner.get("request-id", request_id))
        if not message:
            message = response.text.strip()[:200] or response.reason_phrase
        return cls(response.status_code, code or response.reason_phrase, message, request_id)

    def describe(self) -> str:
        status = f"HTTP {self.status} " if self.status else ""
        request = f" (request-id {self.request_id})" if self.request_id else ""
        return f"{status}{self.code}: {self.message}{request}"


@dataclass
class _PendingMove:
    """A move that passed every local check and goes into a remediate request."""

    index: int
    move: Move
    analyzed_email_id: str
    from_folder: str


class GraphMailBackend:
    """Submits message actions to Microsoft Defender for Office 365 through Microsoft Graph.

    It signs in as an app registration with the OAuth 2.0 client credentials flow and needs the
    application permission SecurityAnalyzedMessage.ReadWrite.All.
    """

    batch_size = 100
    """Emails per apply call, and so at most per remediate request.

    Each remediate request becomes one entry in the Action center, and the executor records intent
    per batch. 100 keeps an entry small enough to review and to retry as a whole, while a large
    cluster still needs few requests.
    """
    # NOTE: Graph documents no maximum number of analyzedEmails per remediate request. 100 is a
    # chosen size, not a service limit.

    def __init__(
        self,
        config: GraphTargetConfig,
        *,
        analyst: str,
        transport: httpx.BaseTransport | None = None,
        secret: str | None = None,
        clock: Clock = system_clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Check the settings and read the client secret. Nothing is sent before the first lookup.

        Args:
            analyst: Sent as approverUpn when `config.approver_upn` is empty.
            transport: The HTTP transport, for tests. None uses the network.
            secret: The client secret; None reads it from `config.secret_env` or the keyring.
            clock: Current time, for token expiry and the search window.
            sleep: Waits between retries, in seconds.

        Raises:
            BackendError: A setting is missing or invalid, or no client secret is stored.
        """
        self._base_url, self._authority = _validate_config(config)
        self.config = config
        self.analyst = analyst
        self.label = f"Microsoft Graph tenant {config.tenant_id}"
        self._clock = clock
        self._sleep = sleep
        self._secret = secret if secret else lookup_secret(
            config.secret_env, config.keyring_service, config.client_id, what="the Graph client secret"
        )
        # The scope names the Graph host of base_url, so a national cloud's Graph gets its own token.
        self._scope = f"https://{httpx.URL(self._base_url).host}/.default"
        self._token = ""
        self._token_refresh_at: datetime | None = None
        self._analyzed_email_ids: dict[tuple[str, str], str] = {}
        self._filter_on_internet_message_id = True
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(float(config.timeout_seconds)),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "air-tui"},
        )

    # --- MailBackend -----------------------------------------------------------------------------

    def locate(self, ref: MessageRef) -> str | None:
        """Return the logical folder of the copy's latest delivery location, or None when there is none.

        A location without a logical folder, such as `others` or `onprem_external`, is returned as
        Graph spells it. A copy with no analyzed email in the search window returns None.

        Raises:
            BackendError: The service is unreachable, rejects the token, or rejects the search.
        """
        if not ref.internet_message_id:
            log.warning("Message %s in %s has no Message-ID, so Graph cannot find it", ref.message_id, ref.mailbox)
            return None
        try:
            record = self._find_analyzed_email(ref)
        except GraphRequestError as error:
            raise BackendError(
                f"Microsoft Graph failed to look up message {ref.message_id} in {ref.mailbox}: "
                f"{self._redact(error.describe())}."
            ) from error
        if record is None:
            return None
        return _logical_folder(_delivery_location(record))

    def apply(self, moves: list[Move]) -> list[Outcome]:
        """Submit the moves as one remediate request per Graph action, one outcome per move in order.

        Moves that need no request (already in the destination, not found, not actionable) are
        settled without one. A Submitted outcome's `to_folder` is the folder Defender was asked to
        move the copy to, and empty for a hard delete.

        Raises:
            BackendError: The service is unreachable or rejects the token.
        """
        outcomes: dict[int, Outcome] = {}
        groups: dict[str, list[_PendingMove]] = {}
        for index, move in enumerate(moves):
            planned = self._plan(index, move)
            if isinstance(planned, Outcome):
                outcomes[index] = planned
                continue
            action = REMEDIATION_ACTIONS[move.destination]
            groups.setdefault(action, []).append(planned)

        for action, pending in groups.items():
            for item, outcome in zip(pending, self._remediate(action, pending), strict=True):
                outcomes[item.index] = outcome

        return [outcomes[index] for index in range(len(moves))]

    def close(self) -> None:
        self._client.close()

    # --- Planning one move -----------------------------------------------------------------------

    def _plan(self, index: int, move: Move) -> Outcome | _PendingMove:
        """Settle a move locally when no request is needed, or return it ready for a remediate request."""
        ref = move.ref
        if move.destination not in REMEDIATION_ACTIONS:
            return Outcome(
                TargetResult.FAILED,
                from_folder=ref.folder,
                error=(
                    f"Microsoft Graph cannot move mail to {move.destination!r}: its remediate action only "
                    "moves messages to Inbox, Junk Email or Deleted Items, soft-deletes them to "
                    "Recoverable Items, or purges them. Choose one of those actions, or move the "
                    "message with Exchange admin tools."
                ),
            )
        if not ref.internet_message_id:
            return Outcome(
                TargetResult.FAILED,
                from_folder=ref.folder,
                error=(
                    f"Message {ref.message_id} has no Message-ID, so Graph cannot find its analyzed "
                    "email. Act on it from Threat Explorer in the Microsoft Defender portal."
                ),
            )

        try:
            record = self._find_analyzed_email(ref)
        except GraphRequestError as error:
            log.error("Cannot look up message %s in %s: %s", ref.message_id, ref.mailbox, self._redact(error.describe()))
            return Outcome(
                TargetResult.FAILED,
                from_folder=ref.folder,
                error=f"Microsoft Graph failed to look up the message: {self._redact(error.describe())}.",
            )
        if record is None:
            log.info(
                "No analyzed email for message %s in %s in the last %d days",
                ref.message_id, ref.mailbox, SEARCH_WINDOW.days,
            )
            return Outcome(TargetResult.NOT_FOUND)

        analyzed_email_id = str(record["id"])
        location = _delivery_location(record)
        detail = {"analyzed_email_id": analyzed_email_id, "delivery_location": location}
        if location in UNDELIVERED_LOCATIONS:
            return Outcome(TargetResult.NOT_FOUND, detail=detail)

        from_folder = _logical_folder(location) or location
        if location in OUTSIDE_LOCATIONS:
            return Outcome(
                TargetResult.FAILED,
                from_folder=from_folder,
                error=(
                    f"The copy in {ref.mailbox} was delivered to an on-premises or external mailbox "
                    f"(delivery location {location}), which Defender cannot remediate. Use the "
                    "on-premises mail tools or ask the recipient to delete it."
                ),
                detail=detail,
            )
        if from_folder == move.destination:
            return Outcome(
                TargetResult.ALREADY_IN_DESTINATION, from_folder=from_folder, to_folder=from_folder, detail=detail
            )
        if from_folder == Folder.QUARANTINE.value and move.destination != Folder.INBOX.value:
            return Outcome(
                TargetResult.FAILED,
                from_folder=from_folder,
                error=(
                    f"The copy in {ref.mailbox} is in quarantine, and Graph can only release quarantined "
                    "mail to the Inbox. Delete it from the Quarantine page of the Microsoft Defender "
                    "portal instead."
                ),
                detail=detail,
            )
        return _PendingMove(index, move, analyzed_email_id, from_folder)

    # --- Remediate requests ----------------------------------------------------------------------

    def _remediate(self, action: str, pending: list[_PendingMove]) -> list[Outcome]:
        """Send one remediate request for `pending`, all with the same action, and return their outcomes."""
        refs = [item.move.ref for item in pending]
        body = {
            "displayName": _display_name(action, refs),
            "description": self._description(action, refs),
            "severity": REMEDIATION_SEVERITY,
            "action": action,
            "approverUpn": self.config.approver_upn or self.analyst,
            "remediateSendersCopy": False,
            "analyzedEmails": [{"id": item.analyzed_email_id} for item in pending],
        }
        url = f"{self._base_url}{ANALYZED_EMAILS_PATH}/remediate"
        try:
            response = self._send("POST", url, json=body, changes_mail=True)
        except GraphRequestError as error:
            message = f"Microsoft Graph rejected the {action} request: {self._redact(error.describe())}.{_hint(error)}"
            log.error("Remediation %s of %d analyzed emails failed: %s", action, len(pending), message)
            return [
                Outcome(
                    TargetResult.FAILED,
                    from_folder=item.from_folder,
                    error=message,
                    detail={"analyzed_email_id": item.analyzed_email_id, "action": action},
                )
                for item in pending
            ]

        tracking = response.headers.get("Location", "")
        log.info(
            "Microsoft Graph accepted %s of %d analyzed emails (%s); track it at %s",
            action, len(pending), ", ".join(ref.message_id for ref in refs), tracking or "the Action center History",
        )
        return [
            Outcome(
                TargetResult.SUBMITTED,
                from_folder=item.from_folder,
                to_folder=item.move.destination or "",
                detail={"location": tracking, "analyzed_email_id": item.analyzed_email_id, "action": action},
            )
            for item in pending
        ]

    def _description(self, action: str, refs: list[MessageRef]) -> str:
        listed_ids = ", ".join(ref.message_id for ref in refs[:MAX_IDS_IN_DESCRIPTION])
        more = f" and {len(refs) - MAX_IDS_IN_DESCRIPTION} more" if len(refs) > MAX_IDS_IN_DESCRIPTION else ""
        return (
            f"{action} of {len(refs)} message(s) approved in air-tui by {self.analyst}. "
            f"air-tui message ids: {listed_ids}{more}."
        )

    # --- Finding analyzed emails -----------------------------------------------------------------

    def _find_analyzed_email(self, ref: MessageRef) -> dict[str, Any] | None:
        """Return the analyzed email of one copy with its current delivery details, or None.

        A known id is read directly in one request. A search runs when the id is unknown or no
        longer exists.
        """
        key = (_bare_message_id(ref.internet_message_id), ref.mailbox.lower())
        known_id = self._analyzed_email_ids.get(key)
        if known_id:
            record = self._get_analyzed_email(known_id)
            if record is not None:
                return record
            del self._analyzed_email_ids[key]

        record = self._search_analyzed_email(ref)
        if record is not None:
            self._analyzed_email_ids[key] = str(record["id"])
        return record

    def _get_analyzed_email(self, analyzed_email_id: str) -> dict[str, Any] | None:
        url = f"{self._base_url}{ANALYZED_EMAILS_PATH}/{quote(analyzed_email_id, safe='')}"
        try:
            response = self._send("GET", url)
        except GraphRequestError as error:
            if error.status == 404:
                return None
            raise
        return _json_object(response)

    def _search_analyzed_email(self, ref: MessageRef) -> dict[str, Any] | None:
        """Search the window that ends now, filtering on Message-ID and recipient when the service allows.

        Graph's documented filter examples use networkMessageId and recipientEmailAddress only, and
        air-tui stores the Message-ID, not the network message id. The first search filters on
        internetMessageId as well. If the service rejects that filter with 400 Bad Request, this
        backend filters on the recipient alone from then on and matches the Message-ID itself.
        """
        now = self._clock()
        params = {"startTime": _graph_time(now - SEARCH_WINDOW), "endTime": _graph_time(now)}
        recipient_filter = f"recipientEmailAddress eq {_odata_string(ref.mailbox)}"
        url = f"{self._base_url}{ANALYZED_EMAILS_PATH}"

        if self._filter_on_internet_message_id:
            message_id = _odata_string(_bracketed_message_id(ref.internet_message_id))
            params["$filter"] = f"internetMessageId eq {message_id} and {recipient_filter}"
            try:
                return self._first_match(ref, url, params)
            except GraphRequestError as error:
                if error.status != 400:
                    raise
                log.warning(
                    "Microsoft Graph rejected a filter on internetMessageId (%s); searching by recipient "
                    "and matching the Message-ID locally from now on",
                    self._redact(error.describe()),
                )
                self._filter_on_internet_message_id = False

        params["$filter"] = recipient_filter
        return self._first_match(ref, url, params)

    def _first_match(self, ref: MessageRef, url: str, params: dict[str, str]) -> dict[str, Any] | None:
        """Follow `@odata.nextLink` pages until a record matches the copy, and return that record."""
        response = self._send("GET", url, params=params)
        for _page in range(MAX_PAGES):
            body = _json_object(response)
            for record in body.get("value") or []:
                if isinstance(record, dict) and _matches(record, ref) and record.get("id"):
                    return record
            next_link = body.get("@odata.nextLink")
            if not next_link:
                return None
            self._check_next_link(str(next_link))
            response = self._send("GET", str(next_link))
        raise GraphRequestError(
            0,
            "TooManyPages",
            f"the search for {ref.internet_message_id} in {ref.mailbox} returned more than {MAX_PAGES} pages "
            "without a match. Find the message in Threat Explorer and act on it there",
        )

    def _check_next_link(self, next_link: str) -> None:
        """Reject a next page on another host, because the request would carry the access token there."""
        base = httpx.URL(self._base_url)
        link = httpx.URL(next_link)
        if link.scheme != "https" or link.host != base.host:
            raise GraphRequestError(
                0, "UnexpectedNextLink", f"the next page link points to {link.scheme}://{link.host}, not to {base.host}"
            )

    # --- HTTP ------------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        changes_mail: bool = False,
    ) -> httpx.Response:
        """Send one Graph request with a valid token, and retry throttled and unavailable responses.

        A 401 gets one retry with a new token. 429 and 503 are retried up to MAX_RETRIES times after
        the wait that Retry-After requests, capped at MAX_RETRY_DELAY_SECONDS.

        Args:
            changes_mail: True for a remediate request, so a failure after it was sent is reported
                as possibly accepted rather than as unreachable.

        Raises:
            GraphRequestError: Graph returned an error response.
            BackendError: Graph is unreachable or rejects the token.
        """
        renewed_token = False
        retries = 0
        while True:
            headers = {"Authorization": f"Bearer {self._access_token()}"}
            try:
                response = self._client.request(method, url, params=params, json=json, headers=headers)
            except httpx.TransportError as error:
                raise self._transport_failure(error, method, changes_mail) from error

            if response.status_code == 401 and not renewed_token:
                log.info("Microsoft Graph returned 401 to %s %s; getting a new token and retrying once", method, url)
                self._token = ""
                renewed_token = True
                continue
            if response.status_code == 401:
                graph_error = GraphRequestError.from_response(response)
                raise BackendError(
                    f"Microsoft Graph rejected the access token for app {self.config.client_id}: "
                    f"{self._redact(graph_error.describe())}. Check that the app registration in tenant "
                    f"{self.config.tenant_id} still exists and that its permissions have admin consent."
                )
            if response.status_code in (429, 503) and retries < MAX_RETRIES:
                retries += 1
                delay = self._retry_delay(response, retries)
                log.warning(
                    "Microsoft Graph returned %d to %s %s; retry %d of %d in %.0f s",
                    response.status_code, method, url, retries, MAX_RETRIES, delay,
                )
                self._sleep(delay)
                continue
            if response.status_code >= 400:
                raise GraphRequestError.from_response(response)
            return response

    def _transport_failure(self, error: httpx.TransportError, method: str, changes_mail: bool) -> Exception:
        """Turn a network failure into BackendError, or into a Failed outcome for a change that may have landed."""
        kind = type(error).__name__
        if changes_mail and not isinstance(error, httpx.ConnectError):
            return GraphRequestError(
                0,
                kind,
                "the request failed after it was sent, so Defender may have accepted it. Look for it "
                "in the Action center History of the Microsoft Defender portal before you retry",
            )
        timeout_hint = (
            f" or raise {CONFIG_SECTION}.timeout_seconds (now {self.config.timeout_seconds})"
            if isinstance(error, httpx.TimeoutException)
            else ""
        )
        return BackendError(
            f"Cannot reach Microsoft Graph at {self._base_url} ({kind} on {method}). Check "
            f"{CONFIG_SECTION}.base_url and the network{timeout_hint}."
        )

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        """Return the wait in seconds that Retry-After requests, as seconds or an HTTP date, within the bounds."""
        value = response.headers.get("Retry-After", "").strip()
        seconds: float | None = None
        if value.isdigit():
            seconds = float(value)
        elif value:
            try:
                seconds = (parsedate_to_datetime(value) - self._clock()).total_seconds()
            except (TypeError, ValueError):
                seconds = None
        if seconds is None:
            seconds = float(2**attempt)
        return min(max(seconds, 0.0), MAX_RETRY_DELAY_SECONDS)

    # --- Token -----------------------------------------------------------------------------------

    def _access_token(self) -> str:
        """Return a cached app token, or get one with the client credentials grant."""
        now = self._clock()
        if self._token and self._token_refresh_at is not None and now < self._token_refresh_at:
            return self._token

        url = f"{self._authority}/{quote(self.config.tenant_id, safe='')}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self._secret,
            "scope": self._scope,
        }
        try:
            response = self._client.post(url, data=form)
        except httpx.TransportError as error:
            raise BackendError(
                f"Cannot reach the Microsoft Entra token endpoint at {self._authority} "
                f"({type(error).__name__}). Check {CONFIG_SECTION}.authority and the network."
            ) from error

        if response.status_code in (400, 401):
            raise BackendError(self._token_error_message(response))
        if response.status_code != 200:
            raise BackendError(
                f"The Microsoft Entra token endpoint at {self._authority} returned HTTP "
                f"{response.status_code} {response.reason_phrase}. Try again later."
            )
        body = _json_object(response)
        token = body.get("access_token")
        try:
            lifetime = timedelta(seconds=int(body.get("expires_in", 0)))
        except (TypeError, ValueError):
            lifetime = timedelta(0)
        if not isinstance(token, str) or not token:
            raise BackendError(
                f"The Microsoft Entra token endpoint at {self._authority} returned no access_token. "
                f"Check {CONFIG_SECTION}.authority."
            )

        self._token = token
        self._token_refresh_at = now + lifetime - min(TOKEN_REFRESH_MARGIN, lifetime / 2)
        log.info("Got a Microsoft Graph token for app %s, valid for %d s", self.config.client_id, lifetime.total_seconds())
        return token

    def _token_error_message(self, response: httpx.Response) -> str:
        """Quote Entra's error and error_description and name the setting that most likely needs a fix."""
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        error = str(body.get("error", "")) or f"HTTP {response.status_code}"
        description = str(body.get("error_description", "")).strip()
        first_line = description.splitlines()[0].strip() if description else "no description"
        trace = f" (trace ID {body['trace_id']})" if body.get("trace_id") else ""
        codes = body.get("error_codes") or []
        return self._redact(
            f"Microsoft Entra ID rejected the token request for app {self.config.client_id} in tenant "
            f"{self.config.tenant_id}: {error}: {first_line}{trace}. {self._token_error_hint(codes)}"
        )

    def _token_error_hint(self, codes: list[Any]) -> str:
        code_set = {str(code) for code in codes}
        if code_set & {"7000215", "7000222", "7000216"}:
            return (
                f"Store the client secret's value (not its ID), and a new one if it expired, in the "
                f"environment variable {self.config.secret_env} or with "
                f"`keyring set {self.config.keyring_service} {self.config.client_id}`."
            )
        if code_set & {"700016"}:
            return f"Check {CONFIG_SECTION}.client_id: it must be the Application (client) ID of the app registration."
        if code_set & {"90002", "900023", "900021"}:
            return f"Check {CONFIG_SECTION}.tenant_id: it must be the Directory (tenant) ID or a verified domain."
        return (
            f"Check {CONFIG_SECTION}.tenant_id, {CONFIG_SECTION}.client_id and the client secret in "
            f"{self.config.secret_env} or the keyring entry {self.config.keyring_service}."
        )

    def _redact(self, text: str) -> str:
        """Remove the secret and the token from text bound for an error or a log line."""
        for value in (self._secret, self._token):
            if value:
                text = text.replace(value, "[redacted]")
        return text


# --- Helpers -------------------------------------------------------------------------------------


def _validate_config(config: GraphTargetConfig) -> tuple[str, str]:
    """Check the settings and return base_url and authority without trailing slashes.

    Raises:
        BackendError: A setting is empty or invalid; the message names it and gives an example.
    """
    if not config.tenant_id.strip():
        raise BackendError(
            f"{CONFIG_SECTION}.tenant_id is empty. Set it to the Directory (tenant) ID shown on the app "
            "registration's Overview page in the Microsoft Entra admin center."
        )
    if not config.client_id.strip():
        raise BackendError(
            f"{CONFIG_SECTION}.client_id is empty. Set it to the Application (client) ID shown on the app "
            "registration's Overview page in the Microsoft Entra admin center."
        )
    if config.timeout_seconds <= 0:
        raise BackendError(
            f"{CONFIG_SECTION}.timeout_seconds must be a positive number of seconds, not {config.timeout_seconds}."
        )
    checked = []
    for key, value, example in (
        ("base_url", config.base_url, "https://graph.microsoft.com/beta"),
        ("authority", config.authority, "https://login.microsoftonline.com"),
    ):
        try:
            url = httpx.URL(value.strip())
        except (httpx.InvalidURL, TypeError) as error:
            raise BackendError(f"{CONFIG_SECTION}.{key} {value!r} is not a valid URL. Use e.g. {example}.") from error
        if url.scheme != "https" or not url.host:
            raise BackendError(
                f"{CONFIG_SECTION}.{key} {value!r} must be an https URL, because the client secret and "
                f"tokens travel over it. Use e.g. {example}."
            )
        checked.append(value.strip().rstrip("/"))
    return checked[0], checked[1]


def _delivery_location(record: dict[str, Any]) -> str:
    latest = record.get("latestDelivery")
    location = latest.get("location") if isinstance(latest, dict) else None
    return str(location) if location else "unknown"


def _logical_folder(location: str) -> str | None:
    """Map a delivery location to air-tui's folder name, None for undelivered copies, else Graph's name."""
    if location in UNDELIVERED_LOCATIONS:
        return None
    return DELIVERY_LOCATION_FOLDERS.get(location, location)


def _matches(record: dict[str, Any], ref: MessageRef) -> bool:
    """Check Message-ID and recipient, because a search by recipient alone returns the whole mailbox."""
    if _bare_message_id(str(record.get("internetMessageId", ""))) != _bare_message_id(ref.internet_message_id):
        return False
    recipients = [record.get("recipientEmailAddress")]
    listed = record.get("recipientEmailAddresses")
    if isinstance(listed, list):
        recipients.extend(listed)
    expected_mailbox = ref.mailbox.strip().lower()
    return any(isinstance(address, str) and address.strip().lower() == expected_mailbox for address in recipients)


def _bare_message_id(message_id: str) -> str:
    return message_id.strip().removeprefix("<").removesuffix(">")


def _bracketed_message_id(message_id: str) -> str:
    """Return the Message-ID in angle brackets, the form Defender stores it in."""
    return f"<{_bare_message_id(message_id)}>"


def _odata_string(value: str) -> str:
    """Quote a string literal for $filter. OData escapes a single quote by doubling it."""
    return "'" + value.replace("'", "''") + "'"


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise GraphRequestError(
            response.status_code, "InvalidResponse", f"the response to {response.request.url.path} is not JSON"
        ) from error
    if not isinstance(body, dict):
        raise GraphRequestError(
            response.status_code, "InvalidResponse", f"the response to {response.request.url.path} is not a JSON object"
        )
    return body


def _display_name(action: str, refs: list[MessageRef]) -> str:
    """Name the Action center entry after the first air-tui message id, so an analyst can find it."""
    more = f" and {len(refs) - 1} more" if len(refs) > 1 else ""
    return f"air-tui {action} {refs[0].message_id}{more}"


def _hint(error: GraphRequestError) -> str:
    if error.status == 403:
        return (
            " Grant the app registration the application permission "
            "SecurityAnalyzedMessage.ReadWrite.All with admin consent, then retry."
        )
    if error.status in (429, 503):
        return f" Defender is still busy after {MAX_RETRIES} retries; retry the action in a few minutes."
    if error.status == 400:
        return f" Check the approver ({CONFIG_SECTION}.approver_upn or the analyst name) and retry."
    return ""
