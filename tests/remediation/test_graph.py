"""GraphMailBackend against recorded Microsoft Graph and Entra responses served by httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from air_tui.domain.config import GraphTargetConfig
from air_tui.domain.ids import FrozenClock
from air_tui.domain.vocab import TargetResult
from air_tui.remediation.graph import GraphMailBackend
from air_tui.remediation.mail import BackendError, MessageRef, Move

RECORDED = Path(__file__).parent / "recorded" / "graph"

TENANT = "5f1c6f3e-8a0b-4c9e-9d7a-2b4e6f8a1c3d"
CLIENT = "0b7e4c2a-9f13-4d58-a6e1-3c8d2f5b7a90"
SECRET = "Xq8~rT3.vN5_kP2-hJ7yW9zLm4Bc6Df0Gs1aE"
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
TOKEN_URL = f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"
ANALYZED_EMAILS_URL = "https://graph.microsoft.com/beta/security/collaboration/analyzedEmails"
REMEDIATE_URL = f"{ANALYZED_EMAILS_URL}/remediate"

MARGOT = MessageRef(
    message_id="01JD7X4K9Q2M8B5V6C3N1P0R7T",
    mailbox="margot.visser@larkspur.example",
    folder="Inbox",
    internet_message_id="<20261128140741.7Q2KD9@mail.dhl-parcel-notice.example>",
)
MARGOT_ANALYZED_EMAIL_ID = "d2b7a1f4-3c6e-4f90-8b21-08dcf1a2b3c4-7731865522049137114-1"


def load_recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def recorded(name: str, **body_changes: Any) -> httpx.Response:
    """Return the recorded response `name`, with top-level body fields replaced by `body_changes`."""
    data = load_recorded(name)
    body = data["body"]
    if body_changes:
        body = {**body, **body_changes}
    content = b"" if body is None else json.dumps(body).encode()
    return httpx.Response(data["status"], headers=data["headers"], content=content)


def recorded_token() -> str:
    return load_recorded("token_success")["body"]["access_token"]


def search_result(name: str = "analyzed_emails_match", location: str | None = None) -> httpx.Response:
    """Return a recorded search page, with every record's latest delivery location set to `location`."""
    body = load_recorded(name)["body"]
    if location is not None:
        for record in body["value"]:
            record["latestDelivery"]["location"] = location
    return recorded(name, **body)


def record_for(ref: MessageRef, location: str) -> dict[str, Any]:
    """Return the recorded analyzed email rewritten to be the copy `ref` at `location`."""
    record = load_recorded("analyzed_emails_match")["body"]["value"][0]
    record["id"] = f"ae-{ref.message_id}"
    record["internetMessageId"] = ref.internet_message_id
    record["recipientEmailAddress"] = ref.mailbox
    record["latestDelivery"]["location"] = location
    return record


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeGraph:
    """Routes requests to queued replies and records every request.

    Each route has a queue of replies. The last reply of a queue repeats once the others are used up.
    """

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.replies: dict[str, list[Reply]] = {
            "token": [lambda _request: recorded("token_success")],
            "search": [lambda _request: search_result()],
            "next": [lambda _request: recorded("analyzed_emails_by_recipient_page2")],
            "get": [lambda _request: recorded("analyzed_email_get")],
            "remediate": [lambda _request: recorded("remediate_accepted_202")],
            "other": [lambda _request: httpx.Response(599)],
        }

    def reply(self, route: str, *replies: Reply) -> None:
        self.replies[route] = list(replies)

    def route_of(self, request: httpx.Request) -> str:
        url = str(request.url.copy_with(query=None))
        if url == TOKEN_URL:
            return "token"
        if url == REMEDIATE_URL:
            return "remediate"
        if url == ANALYZED_EMAILS_URL:
            return "next" if "$skiptoken" in request.url.params else "search"
        if url.startswith(ANALYZED_EMAILS_URL + "/"):
            return "get"
        return "other"

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        queue = self.replies[self.route_of(request)]
        reply = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, httpx.Response):
            return reply
        return reply(request)

    def sent(self, route: str) -> list[httpx.Request]:
        return [request for request in self.requests if self.route_of(request) == route]


@pytest.fixture
def graph() -> FakeGraph:
    return FakeGraph()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_backend(graph: FakeGraph, clock: FrozenClock, sleeps: list[float]) -> Iterator[Callable[..., GraphMailBackend]]:
    backends: list[GraphMailBackend] = []

    def build(*, secret: str | None = SECRET, **settings: Any) -> GraphMailBackend:
        config = GraphTargetConfig(**{"tenant_id": TENANT, "client_id": CLIENT, "timeout_seconds": 12, **settings})
        backend = GraphMailBackend(
            config,
            analyst="analyst1",
            transport=httpx.MockTransport(graph.handle),
            secret=secret,
            clock=clock,
            sleep=sleeps.append,
        )
        backends.append(backend)
        return backend

    yield build
    for backend in backends:
        backend.close()


def serve_by_filter(locations: dict[MessageRef, str]) -> Callable[[httpx.Request], httpx.Response]:
    """Serve a search with the recorded record rewritten to the copy that the $filter requests."""
    by_key = {(ref.internet_message_id, ref.mailbox): ref for ref in locations}

    def answer(request: httpx.Request) -> httpx.Response:
        query = request.url.params["$filter"]
        message_id = query.split("internetMessageId eq '")[1].split("'")[0]
        mailbox = query.split("recipientEmailAddress eq '")[1].split("'")[0]
        ref = by_key.get((message_id, mailbox))
        if ref is None:
            return recorded("analyzed_emails_empty")
        return recorded("analyzed_emails_match", value=[record_for(ref, locations[ref])])

    return answer


def get_result(location: str) -> httpx.Response:
    """Return the recorded Get analyzedEmail response with its latest delivery location set to `location`."""
    body = load_recorded("analyzed_email_get")["body"]
    body["latestDelivery"]["location"] = location
    return recorded("analyzed_email_get", **body)


def remediate_body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)


def make_ref(number: int, mailbox: str = "margot.visser@larkspur.example") -> MessageRef:
    return MessageRef(
        message_id=f"01JD7X4K9Q2M8B5V6C3N1P0R{number:02d}",
        mailbox=mailbox,
        folder="Inbox",
        internet_message_id=f"<msg{number}@mail.dhl-parcel-notice.example>",
    )


# --- Configuration and credentials ---------------------------------------------------------------


def test_label_names_tenant(make_backend) -> None:
    assert make_backend().label == f"Microsoft Graph tenant {TENANT}"


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"tenant_id": ""}, "remediation.graph.tenant_id"),
        ({"client_id": "  "}, "remediation.graph.client_id"),
        ({"base_url": "http://graph.microsoft.com/beta"}, "remediation.graph.base_url"),
        ({"authority": "http://login.microsoftonline.com"}, "remediation.graph.authority"),
        ({"authority": "login.microsoftonline.com"}, "remediation.graph.authority"),
        ({"timeout_seconds": 0}, "remediation.graph.timeout_seconds"),
    ],
)
def test_invalid_setting_named(make_backend, graph: FakeGraph, settings: dict[str, Any], named: str) -> None:
    with pytest.raises(BackendError) as raised:
        make_backend(**settings)
    assert named in str(raised.value)
    assert graph.requests == []


def test_secret_read_from_environment(make_backend, graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIR_TUI_GRAPH_CLIENT_SECRET", "from-the-environment")
    backend = make_backend(secret=None)
    backend.locate(MARGOT)
    form = parse_qs(graph.sent("token")[0].content.decode())
    assert form["client_secret"] == ["from-the-environment"]


def test_missing_secret_names_sources(make_backend, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring

    monkeypatch.delenv("AIR_TUI_GRAPH_CLIENT_SECRET", raising=False)
    monkeypatch.setattr(keyring, "get_password", lambda service, username: None)
    with pytest.raises(BackendError) as raised:
        make_backend(secret=None)
    message = str(raised.value)
    assert "AIR_TUI_GRAPH_CLIENT_SECRET" in message
    assert f"keyring set air-tui-graph {CLIENT}" in message


# --- Token ---------------------------------------------------------------------------------------


def test_token_request_shape(make_backend, graph: FakeGraph) -> None:
    make_backend().locate(MARGOT)
    request = graph.sent("token")[0]
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Authorization" not in request.headers
    assert parse_qs(request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [CLIENT],
        "client_secret": [SECRET],
        "scope": ["https://graph.microsoft.com/.default"],
    }


def test_token_cached_until_near_expiry(make_backend, graph: FakeGraph, clock: FrozenClock) -> None:
    graph.reply(
        "token",
        recorded("token_success"),
        recorded("token_success", access_token="second-token"),
    )
    backend = make_backend()
    backend.locate(MARGOT)
    backend.locate(MARGOT)
    assert len(graph.sent("token")) == 1

    clock.now = NOW + timedelta(seconds=3599 - 300 - 1)
    backend.locate(MARGOT)
    assert len(graph.sent("token")) == 1

    clock.now = NOW + timedelta(seconds=3599 - 300)
    backend.locate(MARGOT)
    assert len(graph.sent("token")) == 2
    assert graph.requests[-1].headers["Authorization"] == "Bearer second-token"


def test_token_error_quotes_entra(make_backend, graph: FakeGraph) -> None:
    graph.reply("token", recorded("token_error_invalid_client"))
    backend = make_backend()
    with pytest.raises(BackendError) as raised:
        backend.locate(MARGOT)
    message = str(raised.value)
    assert "invalid_client" in message
    assert "AADSTS7000215: Invalid client secret provided." in message
    assert "trace ID 9d0c5e27-31f4-4a7b-8e16-6a2b9c3d4e00" in message
    assert "AIR_TUI_GRAPH_CLIENT_SECRET" in message
    assert SECRET not in message
    assert graph.sent("search") == []


def test_token_endpoint_unreachable(make_backend, graph: FakeGraph) -> None:
    graph.reply("token", httpx.ConnectError("Name or service not known"))
    with pytest.raises(BackendError) as raised:
        make_backend().locate(MARGOT)
    assert "remediation.graph.authority" in str(raised.value)


def test_expired_token_renewed_once(make_backend, graph: FakeGraph) -> None:
    graph.reply("remediate", recorded("unauthorized_401"), recorded("remediate_accepted_202"))
    outcomes = make_backend().apply([Move(MARGOT, "Junk Email")])
    assert outcomes[0].result is TargetResult.SUBMITTED
    assert len(graph.sent("token")) == 2
    assert len(graph.sent("remediate")) == 2


def test_token_rejected_twice_raises(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", recorded("unauthorized_401"))
    with pytest.raises(BackendError) as raised:
        make_backend().locate(MARGOT)
    message = str(raised.value)
    assert CLIENT in message
    assert "InvalidAuthenticationToken" in message
    assert len(graph.sent("token")) == 2


# --- Finding analyzed emails ---------------------------------------------------------------------


def test_search_request_shape(make_backend, graph: FakeGraph) -> None:
    make_backend().locate(MARGOT)
    request = graph.sent("search")[0]
    assert request.method == "GET"
    assert request.url.path == "/beta/security/collaboration/analyzedEmails"
    assert dict(request.url.params) == {
        "startTime": "2026-10-31T09:30:00Z",
        "endTime": "2026-11-30T09:30:00Z",
        "$filter": (
            "internetMessageId eq '<20261128140741.7Q2KD9@mail.dhl-parcel-notice.example>' "
            "and recipientEmailAddress eq 'margot.visser@larkspur.example'"
        ),
    }
    assert request.headers["Authorization"] == f"Bearer {recorded_token()}"
    assert request.headers["Accept"] == "application/json"


def test_every_request_has_configured_timeout(make_backend, graph: FakeGraph) -> None:
    make_backend().apply([Move(MARGOT, "Junk Email")])
    assert [graph.route_of(request) for request in graph.requests] == ["token", "search", "remediate"]
    for request in graph.requests:
        assert request.extensions["timeout"] == {"connect": 12.0, "read": 12.0, "write": 12.0, "pool": 12.0}


def test_filter_quotes_escaped(make_backend, graph: FakeGraph) -> None:
    ref = MessageRef("01JD7X4K9Q2M8B5V6C3N1P0R99", "o'brien@larkspur.example", "Inbox", "<it's@example.test>")
    make_backend().locate(ref)
    query = graph.sent("search")[0].url.params["$filter"]
    assert query == "internetMessageId eq '<it''s@example.test>' and recipientEmailAddress eq 'o''brien@larkspur.example'"


def test_message_id_without_brackets_bracketed(make_backend, graph: FakeGraph) -> None:
    bare = MessageRef(MARGOT.message_id, MARGOT.mailbox, "Inbox", "20261128140741.7Q2KD9@mail.dhl-parcel-notice.example")
    assert make_backend().locate(bare) == "Inbox"
    assert "'<20261128140741.7Q2KD9@mail.dhl-parcel-notice.example>'" in graph.sent("search")[0].url.params["$filter"]


@pytest.mark.parametrize(
    ("location", "folder"),
    [
        ("inbox_folder", "Inbox"),
        ("inbox", "Inbox"),
        ("junkFolder", "Junk Email"),
        ("deletedFolder", "Deleted Items"),
        ("quarantine", "Quarantine"),
        ("others", "others"),
        ("onprem_external", "onprem_external"),
        ("external", "external"),
        ("unknown", "unknown"),
        ("failed", None),
        ("dropped", None),
    ],
)
def test_locate_maps_delivery_location(make_backend, graph: FakeGraph, location: str, folder: str | None) -> None:
    graph.reply("search", search_result(location=location))
    assert make_backend().locate(MARGOT) == folder


def test_locate_not_found(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", recorded("analyzed_emails_empty"))
    backend = make_backend()
    assert backend.locate(MARGOT) is None
    assert backend.locate(MARGOT) is None
    assert len(graph.sent("search")) == 2
    assert graph.sent("get") == []


def test_locate_other_recipient_not_matched(make_backend) -> None:
    copy_for_noah = MessageRef(MARGOT.message_id, "noah.bakker@larkspur.example", "Inbox", MARGOT.internet_message_id)
    assert make_backend().locate(copy_for_noah) is None


def test_known_id_read_directly(make_backend, graph: FakeGraph) -> None:
    backend = make_backend()
    assert backend.locate(MARGOT) == "Inbox"
    assert backend.locate(MARGOT) == "Deleted Items"
    get = graph.sent("get")
    assert len(graph.sent("search")) == 1
    assert len(get) == 1
    assert get[0].method == "GET"
    assert str(get[0].url) == f"{ANALYZED_EMAILS_URL}/{MARGOT_ANALYZED_EMAIL_ID}"


def test_known_id_gone_searches_again(make_backend, graph: FakeGraph) -> None:
    graph.reply("get", recorded("not_found_404"))
    backend = make_backend()
    backend.locate(MARGOT)
    assert backend.locate(MARGOT) == "Inbox"
    assert len(graph.sent("get")) == 1
    assert len(graph.sent("search")) == 2


def test_rejected_filter_falls_back_to_paging(make_backend, graph: FakeGraph) -> None:
    graph.reply(
        "search",
        recorded("filter_rejected_400"),
        recorded("analyzed_emails_by_recipient_page1"),
    )
    backend = make_backend()
    assert backend.locate(MARGOT) == "Junk Email"

    first, second = graph.sent("search")
    assert "internetMessageId" in first.url.params["$filter"]
    assert second.url.params["$filter"] == "recipientEmailAddress eq 'margot.visser@larkspur.example'"
    assert second.url.params["startTime"] == "2026-10-31T09:30:00Z"
    next_page = graph.sent("next")
    assert len(next_page) == 1
    expected_link = load_recorded("analyzed_emails_by_recipient_page1")["body"]["@odata.nextLink"]
    assert str(next_page[0].url) == expected_link
    assert next_page[0].headers["Authorization"] == f"Bearer {recorded_token()}"


def test_rejected_filter_remembered(make_backend, graph: FakeGraph) -> None:
    graph.reply(
        "search",
        recorded("filter_rejected_400"),
        recorded("analyzed_emails_by_recipient_page1"),
    )
    backend = make_backend()
    backend.locate(MARGOT)
    assert backend.locate(make_ref(7)) is None
    filters = [request.url.params["$filter"] for request in graph.sent("search")]
    assert filters[2] == "recipientEmailAddress eq 'margot.visser@larkspur.example'"
    assert len(filters) == 3


def test_next_link_to_other_host_rejected(make_backend, graph: FakeGraph) -> None:
    page = load_recorded("analyzed_emails_by_recipient_page1")["body"]
    page["@odata.nextLink"] = "https://graph.example.net/beta/security/collaboration/analyzedEmails?$skiptoken=abc"
    graph.reply("search", recorded("filter_rejected_400"), recorded("analyzed_emails_by_recipient_page1", **page))
    with pytest.raises(BackendError) as raised:
        make_backend().locate(MARGOT)
    assert "graph.example.net" in str(raised.value)
    assert graph.sent("other") == []


def test_search_error_fails_that_move(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", recorded("forbidden_403"))
    outcomes = make_backend().apply([Move(MARGOT, "Junk Email")])
    assert outcomes[0].result is TargetResult.FAILED
    assert "HTTP 403 Forbidden" in outcomes[0].error
    assert graph.sent("remediate") == []


def test_graph_unreachable(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", httpx.ConnectError("Connection refused"))
    with pytest.raises(BackendError) as raised:
        make_backend().apply([Move(MARGOT, "Junk Email")])
    assert "remediation.graph.base_url" in str(raised.value)


# --- Remediation requests ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "found_in", "action"),
    [
        ("Junk Email", "inbox_folder", "moveToJunk"),
        ("Inbox", "junkFolder", "moveToInbox"),
        (None, "inbox_folder", "hardDelete"),
        ("Recoverable Items", "inbox_folder", "softDelete"),
        ("Deleted Items", "inbox_folder", "moveToDeletedItems"),
    ],
)
def test_destination_maps_to_action(
    make_backend, graph: FakeGraph, destination: str | None, found_in: str, action: str
) -> None:
    graph.reply("search", search_result(location=found_in))
    outcomes = make_backend().apply([Move(MARGOT, destination)])
    assert remediate_body(graph.sent("remediate")[0])["action"] == action
    assert outcomes[0].result is TargetResult.SUBMITTED
    assert outcomes[0].to_folder == (destination or "")


def test_remediate_request_shape(make_backend, graph: FakeGraph) -> None:
    make_backend().apply([Move(MARGOT, "Recoverable Items")])
    request = graph.sent("remediate")[0]
    assert request.method == "POST"
    assert str(request.url) == REMEDIATE_URL
    assert request.headers["Authorization"] == f"Bearer {recorded_token()}"
    assert request.headers["Content-Type"] == "application/json"
    assert remediate_body(request) == {
        "displayName": f"air-tui softDelete {MARGOT.message_id}",
        "description": (
            f"softDelete of 1 message(s) approved in air-tui by analyst1. air-tui message ids: {MARGOT.message_id}."
        ),
        "severity": "medium",
        "action": "softDelete",
        "approverUpn": "analyst1",
        "remediateSendersCopy": False,
        "analyzedEmails": [{"id": MARGOT_ANALYZED_EMAIL_ID}],
    }


def test_approver_upn_from_config(make_backend, graph: FakeGraph) -> None:
    make_backend(approver_upn="soc-lead@larkspur.example").apply([Move(MARGOT, "Junk Email")])
    assert remediate_body(graph.sent("remediate")[0])["approverUpn"] == "soc-lead@larkspur.example"


def test_submitted_outcome_detail(make_backend) -> None:
    outcome = make_backend().apply([Move(MARGOT, "Recoverable Items")])[0]
    location = load_recorded("remediate_accepted_202")["headers"]["Location"]
    assert outcome.result is TargetResult.SUBMITTED
    assert outcome.from_folder == "Inbox"
    assert outcome.to_folder == "Recoverable Items"
    assert outcome.error == ""
    assert outcome.detail == {
        "location": location,
        "analyzed_email_id": MARGOT_ANALYZED_EMAIL_ID,
        "action": "softDelete",
    }


def test_moves_grouped_by_action(make_backend, graph: FakeGraph) -> None:
    first, second, third, fourth = make_ref(1), make_ref(2), make_ref(3, "noah.bakker@larkspur.example"), make_ref(4)
    graph.reply("search", serve_by_filter({first: "inbox_folder", second: "inbox_folder", third: "inbox_folder"}))
    outcomes = make_backend().apply(
        [
            Move(first, "Junk Email"),
            Move(second, "Recoverable Items"),
            Move(third, "Junk Email"),
            Move(fourth, "Sent Items"),
        ]
    )
    assert [outcome.result for outcome in outcomes] == [
        TargetResult.SUBMITTED,
        TargetResult.SUBMITTED,
        TargetResult.SUBMITTED,
        TargetResult.FAILED,
    ]
    assert [outcome.detail.get("analyzed_email_id") for outcome in outcomes[:3]] == [
        f"ae-{first.message_id}",
        f"ae-{second.message_id}",
        f"ae-{third.message_id}",
    ]
    junk, soft = (remediate_body(request) for request in graph.sent("remediate"))
    assert junk["action"] == "moveToJunk"
    assert junk["analyzedEmails"] == [{"id": f"ae-{first.message_id}"}, {"id": f"ae-{third.message_id}"}]
    assert junk["displayName"] == f"air-tui moveToJunk {first.message_id} and 1 more"
    assert soft["action"] == "softDelete"
    assert soft["analyzedEmails"] == [{"id": f"ae-{second.message_id}"}]


def test_already_in_destination_not_sent(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", search_result(location="junkFolder"))
    outcome = make_backend().apply([Move(MARGOT, "Junk Email")])[0]
    assert outcome.result is TargetResult.ALREADY_IN_DESTINATION
    assert outcome.from_folder == "Junk Email"
    assert outcome.to_folder == "Junk Email"
    assert graph.sent("remediate") == []


def test_not_found_not_sent(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", recorded("analyzed_emails_empty"))
    outcome = make_backend().apply([Move(MARGOT, "Recoverable Items")])[0]
    assert outcome.result is TargetResult.NOT_FOUND
    assert outcome.from_folder == ""
    assert graph.sent("remediate") == []


@pytest.mark.parametrize("location", ["failed", "dropped"])
def test_undelivered_copy_not_found(make_backend, graph: FakeGraph, location: str) -> None:
    graph.reply("search", search_result(location=location))
    outcome = make_backend().apply([Move(MARGOT, "Recoverable Items")])[0]
    assert outcome.result is TargetResult.NOT_FOUND
    assert outcome.detail["delivery_location"] == location
    assert graph.sent("remediate") == []


def test_onprem_copy_fails(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", search_result(location="onprem_external"))
    outcome = make_backend().apply([Move(MARGOT, "Recoverable Items")])[0]
    assert outcome.result is TargetResult.FAILED
    assert "on-premises or external mailbox" in outcome.error
    assert graph.sent("remediate") == []


def test_quarantined_copy_only_released(make_backend, graph: FakeGraph) -> None:
    graph.reply("search", search_result(location="quarantine"))
    graph.reply("get", get_result("quarantine"))
    backend = make_backend()
    deleted = backend.apply([Move(MARGOT, "Recoverable Items")])[0]
    assert deleted.result is TargetResult.FAILED
    assert "quarantine" in deleted.error
    assert graph.sent("remediate") == []

    released = backend.apply([Move(MARGOT, "Inbox")])[0]
    assert released.result is TargetResult.SUBMITTED
    assert released.from_folder == "Quarantine"
    assert remediate_body(graph.sent("remediate")[0])["action"] == "moveToInbox"


@pytest.mark.parametrize("destination", ["Sent Items", "Quarantine", "Archive"])
def test_unsupported_destination_fails(make_backend, graph: FakeGraph, destination: str) -> None:
    outcome = make_backend().apply([Move(MARGOT, destination)])[0]
    assert outcome.result is TargetResult.FAILED
    assert f"cannot move mail to '{destination}'" in outcome.error
    assert "Junk Email" in outcome.error
    assert graph.requests == []


def test_missing_message_id_fails(make_backend, graph: FakeGraph) -> None:
    ref = MessageRef(MARGOT.message_id, MARGOT.mailbox, "Inbox", "")
    outcome = make_backend().apply([Move(ref, "Junk Email")])[0]
    assert outcome.result is TargetResult.FAILED
    assert "no Message-ID" in outcome.error
    assert graph.requests == []


# --- Throttling and errors -----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "wait"), [("throttled_429", 2.0), ("service_unavailable_503", 5.0)])
def test_retry_after_honoured(make_backend, graph: FakeGraph, sleeps: list[float], name: str, wait: float) -> None:
    graph.reply("remediate", recorded(name), recorded("remediate_accepted_202"))
    outcome = make_backend().apply([Move(MARGOT, "Junk Email")])[0]
    assert outcome.result is TargetResult.SUBMITTED
    assert sleeps == [wait]
    first, second = graph.sent("remediate")
    assert first.content == second.content


def test_throttling_gives_up_after_three_retries(make_backend, graph: FakeGraph, sleeps: list[float]) -> None:
    graph.reply("remediate", recorded("throttled_429"))
    outcome = make_backend().apply([Move(MARGOT, "Junk Email")])[0]
    assert outcome.result is TargetResult.FAILED
    assert "TooManyRequests" in outcome.error
    assert "retry the action in a few minutes" in outcome.error
    assert sleeps == [2.0, 2.0, 2.0]
    assert len(graph.sent("remediate")) == 4


def test_retry_after_capped(make_backend, graph: FakeGraph, sleeps: list[float]) -> None:
    throttled = recorded("throttled_429")
    throttled.headers["Retry-After"] = "3600"
    graph.reply("search", throttled, search_result())
    make_backend().locate(MARGOT)
    assert sleeps == [60.0]


def test_retry_after_http_date(make_backend, graph: FakeGraph, sleeps: list[float]) -> None:
    throttled = recorded("throttled_429")
    throttled.headers["Retry-After"] = format_datetime(NOW + timedelta(seconds=10), usegmt=True)
    graph.reply("search", throttled, search_result())
    make_backend().locate(MARGOT)
    assert sleeps == [10.0]


def test_forbidden_fails_group(make_backend, graph: FakeGraph) -> None:
    first, second = make_ref(1), make_ref(2)
    graph.reply("search", serve_by_filter({first: "inbox_folder", second: "inbox_folder"}))
    graph.reply("remediate", recorded("forbidden_403"))
    outcomes = make_backend().apply([Move(first, "Junk Email"), Move(second, "Junk Email")])
    assert len(graph.sent("remediate")) == 1
    for outcome in outcomes:
        assert outcome.result is TargetResult.FAILED
        assert outcome.from_folder == "Inbox"
        assert "HTTP 403 Forbidden" in outcome.error
        assert "SecurityAnalyzedMessage.ReadWrite.All" in outcome.error
        assert "request-id 3f4e5d6c-7b8a-4c9d-a0e1-f2a3b4c5d6e7" in outcome.error


def test_bad_request_fails_group(make_backend, graph: FakeGraph) -> None:
    graph.reply("remediate", recorded("remediate_bad_request_400"))
    outcome = make_backend().apply([Move(MARGOT, "Junk Email")])[0]
    assert outcome.result is TargetResult.FAILED
    assert "HTTP 400 BadRequest: Invalid approverUpn 'analyst1'" in outcome.error
    assert "remediation.graph.approver_upn" in outcome.error


def test_timeout_after_send_may_be_accepted(make_backend, graph: FakeGraph) -> None:
    graph.reply("remediate", httpx.ReadTimeout("The read operation timed out"))
    outcome = make_backend().apply([Move(MARGOT, "Junk Email")])[0]
    assert outcome.result is TargetResult.FAILED
    assert "may have accepted it" in outcome.error
    assert "Action center History" in outcome.error
    assert len(graph.sent("remediate")) == 1


def test_secret_and_token_never_leak(make_backend, graph: FakeGraph, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    graph.reply("remediate", recorded("forbidden_403"))
    backend = make_backend()
    outcomes = backend.apply([Move(MARGOT, "Junk Email"), Move(MARGOT, "Sent Items")])
    texts += [outcome.error for outcome in outcomes]
    texts += [value for outcome in outcomes for value in outcome.detail.values()]

    graph.reply("token", recorded("token_error_invalid_client"))
    with pytest.raises(BackendError) as raised:
        make_backend().locate(MARGOT)
    texts.append(str(raised.value))
    texts.append(caplog.text)

    for text in texts:
        assert SECRET not in text
        assert recorded_token() not in text


def test_close_closes_client(make_backend) -> None:
    backend = make_backend()
    backend.close()
    with pytest.raises(RuntimeError):
        backend.locate(MARGOT)
