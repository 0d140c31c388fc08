"""Incident correlation and merging, and signal folding, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from air_tui.domain.alert import Alert, Incident
from air_tui.domain.ids import FrozenClock, SequentialIds
from air_tui.domain.vocab import IncidentStatus, Severity
from air_tui.engine import incidents, policies
from air_tui.engine.policies import AlertSignal

START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
INCIDENT_IDS = SequentialIds(prefix="INC")
"""One factory for every test, so incidents made in one test never share an id."""


def alert(alert_id: str, *, minutes: int = 0, user: str = "", messages: tuple[str, ...] = (), urls: tuple[str, ...] = (), severity: Severity = Severity.LOW) -> Alert:
    return Alert(
        id=alert_id,
        policy_id=policies.USER_REPORTED,
        title="Email reported by user as malware or phish",
        severity=severity,
        created=START,
        occurred=START + timedelta(minutes=minutes),
        user=user,
        message_ids=list(messages),
        urls=list(urls),
    )


def correlate(item: Alert, known: list[Incident], *, max_entities: int = 50) -> incidents.Correlation:
    return incidents.correlate(item, known, window_hours=24, max_entities=max_entities, new_id=INCIDENT_IDS)


def test_shared_message_joins_incident() -> None:
    known: list[Incident] = []
    first = correlate(alert("a1", user="ann@x.example", messages=("m1",)), known)
    second = correlate(alert("a2", minutes=30, user="bob@x.example", messages=("m1",), severity=Severity.HIGH), known)
    assert first.created
    assert not second.created
    assert second.incident.id == first.incident.id
    assert second.incident.alert_ids == ["a1", "a2"]
    assert second.incident.severity is Severity.HIGH
    assert "message:m1" in second.incident.entity_keys


def test_unrelated_alert_starts_new_incident() -> None:
    known: list[Incident] = []
    correlate(alert("a1", messages=("m1",)), known)
    other = correlate(alert("a2", messages=("m2",)), known)
    assert other.created
    assert len(known) == 2


def test_outside_window_starts_new_incident() -> None:
    known: list[Incident] = []
    correlate(alert("a1", messages=("m1",)), known)
    late = correlate(alert("a2", minutes=25 * 60, messages=("m1",)), known)
    assert late.created


def test_bridging_alert_merges_incidents() -> None:
    known: list[Incident] = []
    left = correlate(alert("a1", messages=("m1",)), known).incident
    right = correlate(alert("a2", minutes=5, urls=("https://u.example/x",)), known).incident
    bridge = correlate(alert("a3", minutes=10, messages=("m1",), urls=("https://u.example/x",)), known)
    assert bridge.incident.id == left.id
    assert bridge.changed == [right]
    assert right.status is IncidentStatus.REDIRECTED
    assert right.redirect_id == left.id
    assert set(bridge.incident.alert_ids) == {"a1", "a2", "a3"}


def test_different_assignees_block_merge() -> None:
    known: list[Incident] = []
    left = correlate(alert("a1", messages=("m1",)), known).incident
    right = correlate(alert("a2", minutes=5, urls=("https://u.example/x",)), known).incident
    left.assigned_to = "ann"
    right.assigned_to = "bob"
    bridge = correlate(alert("a3", minutes=10, messages=("m1",), urls=("https://u.example/x",)), known)
    assert right.status is IncidentStatus.ACTIVE
    assert bridge.changed == []
    assert bridge.kept_apart == [(right.id, "assigned to bob, not ann")]


def test_entity_limit_blocks_merge() -> None:
    known: list[Incident] = []
    left = correlate(alert("a1", messages=tuple(f"m{index}" for index in range(3))), known, max_entities=5).incident
    right = correlate(alert("a2", minutes=5, urls=tuple(f"https://u.example/{index}" for index in range(3))), known, max_entities=5).incident
    bridge = correlate(alert("a3", minutes=10, messages=("m0",), urls=("https://u.example/0",)), known, max_entities=5)
    assert bridge.incident.id == left.id
    assert right.status is IncidentStatus.ACTIVE
    assert "more than 5 entities" in bridge.kept_apart[0][1]


def test_closed_incident_takes_no_alerts() -> None:
    known: list[Incident] = []
    first = correlate(alert("a1", messages=("m1",)), known).incident
    first.status = IncidentStatus.RESOLVED
    again = correlate(alert("a2", minutes=5, messages=("m1",)), known)
    assert again.created
    assert again.incident.id != first.id


def signal(source: str, seconds: int, policy_id: str = policies.USER_REPORTED, user: str = "ann@x.example") -> AlertSignal:
    return AlertSignal(policy_id=policy_id, time=START + timedelta(seconds=seconds), source_id=source, user=user, message_ids=[f"msg-{source}"])


def fold(signals: list[AlertSignal], disabled: tuple[str, ...] = ()) -> policies.FoldResult:
    return policies.fold_signals(
        signals,
        policies=policies.policies_in_force(disabled),
        window_seconds=60,
        clock=FrozenClock(START),
        new_id=SequentialIds(prefix="ALR"),
    )


def test_signals_within_window_fold() -> None:
    result = fold([signal("s1", 0), signal("s2", 59, user="bob@x.example"), signal("s3", 61)])
    assert [item.hit_count for item in result.new] == [2, 1]
    assert result.new[0].source_ids == ["s1", "s2"]
    assert result.new[0].users == ["ann@x.example", "bob@x.example"]
    assert result.new[0].last_occurred == START + timedelta(seconds=59)


def test_click_signals_never_fold() -> None:
    result = fold([signal("c1", 0, policies.URL_CLICK), signal("c2", 1, policies.URL_CLICK)])
    assert [item.hit_count for item in result.new] == [1, 1]


def test_disabled_policy_signals_dropped() -> None:
    result = fold([signal("s1", 0)], disabled=(policies.USER_REPORTED,))
    assert result.new == []


def test_signal_folds_into_open_alert() -> None:
    stored = alert("stored", messages=("m0",))
    result = policies.fold_signals(
        [signal("s9", 30)],
        policies=policies.policies_in_force(()),
        window_seconds=60,
        open_alerts=[stored],
        clock=FrozenClock(START),
        new_id=SequentialIds(prefix="ALR"),
    )
    assert result.new == []
    assert result.grown == [stored]
    assert stored.hit_count == 2
    assert stored.message_ids == ["m0", "msg-s9"]
