"""A small CouchDB 3 client over httpx: the calls team sync needs and nothing else.

It keeps to what CouchDB itself guarantees rather than to what a lenient server allows:
- an update or delete always carries the revision it replaces;
- sequences are opaque values, handed back as they came;
- a long poll has a read timeout of its own, because a server may keep the request open past
  the `timeout` it was given when nothing changes.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from air_tui.domain.config import SyncConfig


class SyncError(Exception):
    """The server responded but rejected the request: a wrong password, a missing permission, an invalid name."""


class SyncUnavailable(SyncError):
    """The server could not be reached or failed: try again later, nothing was lost."""


@dataclass(frozen=True)
class Changes:
    docs: list[dict[str, Any]]
    count: int
    """Rows in the page, deleted documents included: 0 means the end was reached."""
    last_seq: str
    """Position of the next read, kept exactly as the server sent it (a JSON text) and never parsed."""
    pending: int | None


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, insecure: bool) -> None:
    """Refuse plain HTTP to anything but this machine, unless the user passed `--insecure`.

    Raises:
        SyncError: The URL would send the password and the ledger over an unencrypted network.
    """
    parts = urlsplit(url)
    if parts.scheme == "http" and not insecure and not is_loopback(parts.hostname or ""):
        raise SyncError(
            f"The sync URL {url} uses plain HTTP to {parts.hostname}, which would send the password and every event "
            "unencrypted. Use https://, or pass --insecure if this network is trusted."
        )


class CouchClient:
    """One database on one server. Every method raises SyncUnavailable or SyncError; none returns a partial result."""

    def __init__(self, config: SyncConfig, *, password: str | None, insecure: bool = False, transport: httpx.BaseTransport | None = None) -> None:
        check_url(config.url, insecure=insecure)
        self.url = config.url
        self.database = config.database
        self.timeout = float(config.timeout_seconds)
        auth = httpx.BasicAuth(config.username, password or "") if config.username else None
        verify: Any = True
        if config.ca_file:
            import ssl

            verify = ssl.create_default_context(cafile=config.ca_file)
        self._http = httpx.Client(
            base_url=f"{config.url}/{quote(config.database, safe='')}",
            auth=auth,
            verify=verify,
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
            headers={"Accept": "application/json"},
            transport=transport,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # Requests ----------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> httpx.Response:
        try:
            if timeout is not None:
                kwargs["timeout"] = httpx.Timeout(timeout, connect=min(self.timeout, 10.0))
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as error:
            raise SyncUnavailable(f"The sync server {self.url} did not respond in time ({type(error).__name__}).") from error
        except (httpx.TransportError, OSError, socket.gaierror) as error:
            raise SyncUnavailable(f"Cannot reach the sync server {self.url}: {_reason(error)}.") from error
        if response.status_code >= 500:
            raise SyncUnavailable(f"The sync server {self.url} failed: HTTP {response.status_code} {_couch_reason(response)}.")
        if response.status_code in (401, 403):
            raise SyncError(
                f"The sync server {self.url} rejected the login for database {self.database} (HTTP {response.status_code} "
                f"{_couch_reason(response)}). Check [sync] username and the password in the environment or keyring."
            )
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise SyncUnavailable(f"The sync server {self.url} sent something that is not JSON (HTTP {response.status_code}).") from error

    # Database ----------------------------------------------------------------------------

    def ensure_database(self) -> None:
        """Create the database when it does not exist (412 means another console just did)."""
        response = self._request("GET", "")
        if response.status_code == 200:
            return
        path = urlsplit(self.url).path.strip("/")
        # A database name written into the URL makes every request go to the wrong place.
        hint = f" The URL ends in /{path}: if that is a database, give only the server in [sync] url and the name in [sync] database." if path else ""
        if response.status_code != 404:
            raise SyncError(f"Cannot open database {self.database} on {self.url}: HTTP {response.status_code} {_couch_reason(response)}.{hint}")
        created = self._request("PUT", "")
        if created.status_code not in (201, 202, 412):
            raise SyncError(
                f"Cannot create database {self.database} on {self.url}: HTTP {created.status_code} {_couch_reason(created)}. "
                f"Create it on the server, or give the user the right to.{hint}"
            )

    def bulk_docs(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write new documents; return the server's result for each document (`ok`, or `error` such as `conflict`)."""
        response = self._request("POST", "/_bulk_docs", json={"docs": docs})
        if response.status_code not in (201, 202):
            raise SyncError(f"The sync server rejected a batch of {len(docs)} documents: HTTP {response.status_code} {_couch_reason(response)}.")
        answers = self._json(response)
        if not isinstance(answers, list) or len(answers) != len(docs):
            raise SyncUnavailable(f"The sync server returned something other than one result per document for a batch of {len(docs)}; the batch is sent again.")
        return answers

    def changes(self, since: str, *, limit: int, wait: float | None = None) -> Changes:
        """Read the next page of changes after `since` (opaque; "0" is the start).

        With `wait`, a long poll: the server may respond as soon as something changes, and is
        given `wait` seconds; the read timeout is set a little longer, since a server that has
        nothing to say may keep the request open regardless.
        """
        params: dict[str, Any] = {"since": since, "limit": limit, "include_docs": "true", "style": "main_only"}
        timeout = None
        if wait is not None:
            params.update(feed="longpoll", timeout=int(wait * 1000))
            timeout = wait + 5.0
        try:
            response = self._request("GET", "/_changes", params=params, timeout=timeout)
        except SyncUnavailable as error:
            if wait is not None and isinstance(error.__cause__, httpx.ReadTimeout):
                return Changes(docs=[], count=0, last_seq=since, pending=0)
            raise
        if response.status_code != 200:
            raise SyncError(f"Cannot read changes from {self.database} on {self.url}: HTTP {response.status_code} {_couch_reason(response)}.")
        body = self._json(response)
        results = body.get("results", []) if isinstance(body, dict) else []
        docs = [row["doc"] for row in results if isinstance(row, dict) and isinstance(row.get("doc"), dict) and not row.get("deleted")]
        last_seq = json.dumps(body.get("last_seq", since)) if isinstance(body.get("last_seq"), (int, list)) else str(body.get("last_seq", since))
        pending = body.get("pending") if isinstance(body.get("pending"), int) else None
        return Changes(docs=docs, count=len(results), last_seq=last_seq, pending=pending)

    # Single documents --------------------------------------------------------------------

    def create(self, doc_id: str, body: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """Create `doc_id`; return ("created", {"_rev": its revision}), or ("conflict", the document that has the id)."""
        response = self._request("PUT", f"/{quote(doc_id, safe='')}", json={key: value for key, value in body.items() if key not in ("_id", "_rev")})
        if response.status_code in (201, 202):
            return "created", {"_rev": str(self._json(response).get("rev", ""))}
        if response.status_code == 409:
            existing = self.get(doc_id)
            if existing is None:
                # Deleted between the two requests: the caller may try again.
                raise SyncUnavailable(f"Document {doc_id} changed while it was read; try again.")
            return "conflict", existing
        raise SyncError(f"The sync server rejected document {doc_id}: HTTP {response.status_code} {_couch_reason(response)}.")

    def update(self, doc_id: str, body: dict[str, Any], rev: str) -> str | None:
        """Replace revision `rev` of `doc_id`; return the new revision, or None when someone else changed it first."""
        response = self._request("PUT", f"/{quote(doc_id, safe='')}", params={"rev": rev}, json={**body, "_id": doc_id, "_rev": rev})
        if response.status_code in (201, 202):
            return str(self._json(response).get("rev", ""))
        if response.status_code == 409:
            return None
        raise SyncError(f"The sync server rejected the update of {doc_id}: HTTP {response.status_code} {_couch_reason(response)}.")

    def get(self, doc_id: str) -> dict[str, Any] | None:
        response = self._request("GET", f"/{quote(doc_id, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise SyncError(f"Cannot read document {doc_id}: HTTP {response.status_code} {_couch_reason(response)}.")
        body = self._json(response)
        return body if isinstance(body, dict) else None

    def delete(self, doc_id: str, rev: str) -> bool:
        """Delete revision `rev` of `doc_id`; return False when that is no longer the current revision."""
        response = self._request("DELETE", f"/{quote(doc_id, safe='')}", params={"rev": rev})
        if response.status_code in (200, 202):
            return True
        if response.status_code in (404, 409):
            return False
        raise SyncError(f"The sync server rejected the deletion of {doc_id}: HTTP {response.status_code} {_couch_reason(response)}.")


def _couch_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return " ".join(str(body.get(key, "")) for key in ("error", "reason") if body.get(key)).strip()
    return ""


def _reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]
