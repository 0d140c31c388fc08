"""Decisions in the action center sent to Microsoft Graph, replayed from recorded responses."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from air_tui.domain.config import Config, GraphTargetConfig
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import ActionStatus, ActionType, TargetResult
from air_tui.remediation.graph import GraphMailBackend
from air_tui.remediation.mail import MessageRef
from air_tui.service import AirService
from air_tui.tenant.workspace import Workspace
from tests.conftest import DEMO_TENANT, FROZEN_START
from tests.remediation.test_graph import CLIENT, REMEDIATE_URL, SECRET, TENANT, FakeGraph, record_for


@pytest.fixture(scope="module")
def investigated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("graph-actions")
    shutil.copytree(DEMO_TENANT, root / "tenant", ignore=shutil.ignore_patterns(".keep"))
    with open_service(root, "01GTPL") as service:
        service.investigate()
    return root


def open_service(root: Path, prefix: str) -> AirService:
    return AirService(
        Workspace(tenant_dir=root / "tenant", database=root / "db" / "air-tui.db"),
        analyst="ana",
        clock=FrozenClock(FROZEN_START, step=timedelta(milliseconds=1)),
        new_id=SequentialIds(prefix),
        config=Config(),
    )


def test_soft_delete_and_undo_go_to_graph_as_remediations(investigated: Path, tmp_path: Path) -> None:
    shutil.copytree(investigated, tmp_path / "case")
    graph = FakeGraph()
    with open_service(tmp_path / "case", "01GRPH") as service:
        action = next(row.action for row in service.actions(ActionStatus.PENDING) if row.action.action_type is ActionType.SOFT_DELETE)
        refs = []
        for target in action.targets:
            message = service.message(target.message_id)
            refs.append(MessageRef(target.message_id, target.mailbox, target.folder, message.internet_message_id))
        # One record per copy: the same message in two mailboxes is two analyzed emails.
        records = {(ref.internet_message_id, ref.mailbox): record_for(ref, "inbox") for ref in refs}

        def search(request: httpx.Request) -> httpx.Response:
            query = request.url.params.get("$filter", "")
            wanted = [record for (message_id, mailbox), record in records.items() if message_id in query and mailbox in query]
            return httpx.Response(200, json={"value": wanted})

        def get(request: httpx.Request) -> httpx.Response:
            wanted = request.url.path.rsplit("/", 1)[-1]
            return httpx.Response(200, json=next(record for record in records.values() if record["id"] == wanted))

        graph.reply("search", search)
        graph.reply("get", get)
        config = GraphTargetConfig(tenant_id=TENANT, client_id=CLIENT)
        service.center._mail = GraphMailBackend(config, analyst="ana", transport=httpx.MockTransport(graph.handle), secret=SECRET, sleep=lambda _seconds: None)
        outcome = service.approve(action.id, comment="phish")
        assert outcome.status is ActionStatus.COMPLETED
        assert outcome.results == {TargetResult.SUBMITTED.value: len(action.targets)}
        sent = [json.loads(request.content) for request in graph.requests if str(request.url) == REMEDIATE_URL]
        assert [body["action"] for body in sent] == ["softDelete"]
        assert sorted(item["id"] for item in sent[0]["analyzedEmails"]) == sorted(f"ae-{ref.message_id}" for ref in refs)
        assert sent[0]["approverUpn"] == "ana"
        # The decision was on disk before the request left.
        assert service.decisions(action.id)[0].analyst == "ana"
        for record in records.values():
            record["latestDelivery"]["location"] = "deletedFolder"
        assert service.undo(action.id).status is ActionStatus.UNDONE
        sent = [json.loads(request.content) for request in graph.requests if str(request.url) == REMEDIATE_URL]
        assert [body["action"] for body in sent] == ["softDelete", "moveToInbox"]
        assert SECRET not in json.dumps(service.action_results(action.id))
