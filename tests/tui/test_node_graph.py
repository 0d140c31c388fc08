"""The node-link drawing of one investigation: columns, lines, folding, keys and hostile labels."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from textual.app import App, ComposeResult

from air_tui.domain.investigation import Cluster, Entity, Investigation
from air_tui.domain.vocab import EntityKind, Verdict
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.widgets import node_graph
from air_tui.tui.widgets.node_graph import (
    GraphLayout,
    NodeGraph,
    build_layout,
    graph_edges,
)

MAL, SUSP, CLEAN, UNK = Verdict.MALICIOUS, Verdict.SUSPICIOUS, Verdict.NO_THREATS_FOUND, Verdict.UNKNOWN


def entity(kind: EntityKind, key: str, label: str = "", verdict: Verdict = UNK, parent: str = "", **attributes) -> Entity:
    return Entity(
        id=f"{kind.value}:{key}",
        kind=kind,
        key=key,
        label=label or key,
        verdict=verdict,
        parent_id=parent,
        attributes=attributes,
    )


def detail_of(entities: list[Entity], clusters: list[Cluster] | None = None, investigation_id: str = "INV-1") -> InvestigationDetail:
    investigation = Investigation(
        id=investigation_id,
        alert_id="A1",
        playbook="User-reported message",
        title="Reported phish",
        created=datetime(2026, 11, 30, 9, 30, tzinfo=UTC),
    )
    return InvestigationDetail(
        investigation=investigation, alert=None, entities=entities, clusters=clusters or [], log=[], actions=[]
    )


def reported_phish() -> InvestigationDetail:
    """A user-reported phish: alert, report, the email with its parts, an attached email,
    a cluster, three mailboxes and an inbox rule. Seven URLs, so they fold."""
    urls = [
        ("https://contoso.com/about", CLEAN),
        ("http://login-contoso.example/verify", MAL),
        ("https://cdn.contoso.com/logo.png", CLEAN),
        ("http://pay.example/invoice", SUSP),
        ("https://contoso.com/privacy", CLEAN),
        ("http://evil.example/dl", MAL),
        ("https://contoso.com/help", CLEAN),
    ]
    entities = [
        entity(EntityKind.ALERT, "A1", "Email reported by user as malware or phish", MAL),
        entity(EntityKind.SUBMISSION, "S1", "Reported by dana@contoso.com as Phish", MAL, "alert:A1"),
        entity(EntityKind.MESSAGE, "M1", "Invoice 4471 overdue - action required", MAL, "submission:S1"),
        entity(EntityKind.SENDER, "billing@contoso-payments.co", verdict=SUSP, parent="message:M1"),
        entity(EntityKind.IP, "203.0.113.7", parent="message:M1"),
        *[entity(EntityKind.URL, url, verdict=verdict, parent="message:M1") for url, verdict in urls],
        entity(EntityKind.FILE, "4f2a", "invoice_4471.html", MAL, "message:M1"),
        entity(EntityKind.CLUSTER, "C1", "Same sender and subject", MAL, "message:M1", message_count=14),
        entity(EntityKind.MESSAGE, "M2", "Fwd: statement (attached)", UNK, "message:M1"),
        entity(EntityKind.URL, "https://m2.example/a", parent="message:M2"),
        entity(EntityKind.MAILBOX, "dana@contoso.com", verdict=SUSP, parent="message:M1"),
        entity(EntityKind.MAILBOX, "erik@contoso.com", verdict=CLEAN, parent="message:M1"),
        entity(EntityKind.MAILBOX, "fatima@contoso.com", verdict=CLEAN, parent="message:M1"),
        entity(EntityKind.MAILBOX_CONFIG, "rule1", "Inbox rule 'sync' forwards to x@evil.example", SUSP, "mailbox:dana@contoso.com"),
    ]
    clusters = [Cluster(id="C1", cluster_by="sender_subject", value="x", verdict=MAL, message_ids=["M1", "M9"])]
    return detail_of(entities, clusters)


def with_urls(count: int, malicious: set[int]) -> InvestigationDetail:
    entities = [
        entity(EntityKind.ALERT, "A1", verdict=MAL),
        entity(EntityKind.MESSAGE, "M1", "Invoice", MAL, "alert:A1"),
        *[
            entity(EntityKind.URL, f"http://u{index}.example", verdict=MAL if index in malicious else CLEAN, parent="message:M1")
            for index in range(count)
        ],
    ]
    return detail_of(entities)


class GraphApp(App[None]):
    """One NodeGraph filling the screen, recording the messages it posts."""

    def __init__(self, detail: InvestigationDetail | None) -> None:
        super().__init__()
        self.detail = detail
        self.highlighted: list[Entity | None] = []
        self.opened: list[Entity] = []

    def compose(self) -> ComposeResult:
        yield NodeGraph(id="graph")

    def on_mount(self) -> None:
        graph = self.query_one(NodeGraph)
        graph.show(self.detail)
        graph.focus()

    def on_node_graph_entity_highlighted(self, message: NodeGraph.EntityHighlighted) -> None:
        self.highlighted.append(message.entity)

    def on_node_graph_entity_opened(self, message: NodeGraph.EntityOpened) -> None:
        self.opened.append(message.entity)


def screen_lines(graph: NodeGraph) -> list[str]:
    return [graph.render_line(y).text for y in range(graph.size.height)]


def highlighted_id(graph: NodeGraph) -> str | None:
    return graph.highlighted.id if graph.highlighted is not None else None


def cursor_key(graph: NodeGraph) -> str | None:
    return graph.cursor_slot.key if graph.cursor_slot is not None else None


def drawing(graph: NodeGraph) -> GraphLayout:
    assert graph.drawing is not None
    return graph.drawing


def column_keys(detail: InvestigationDetail, column: int, expanded: tuple[str, ...] = ()) -> list[str]:
    layout = build_layout(detail, expanded)
    return [slot.key for slot in layout.columns[column]]


# Layout


def test_edges_follow_parents_and_clusters() -> None:
    detail = reported_phish()
    other = entity(EntityKind.MESSAGE, "M9", "Same invoice to erik", MAL)
    detail = dataclasses.replace(detail, entities=[*detail.entities, other])

    edges = graph_edges(detail)

    assert ("alert:A1", "submission:S1") in edges
    assert ("message:M1", "submission:S1") in edges
    assert ("mailbox:dana@contoso.com", "mailbox_config:rule1") in edges
    assert ("message:M2", "url:https://m2.example/a") in edges
    # Cluster membership: M1 is its parent too, M9 is only a member.
    assert ("cluster:C1", "message:M1") in edges
    assert ("cluster:C1", "message:M9") in edges
    assert not any("message:M9" in edge and "cluster:C1" not in edge for edge in edges)
    # 19 entities with a parent, plus M9's membership. M1's membership repeats its parent link.
    assert len(edges) == 20


def test_each_kind_in_its_column() -> None:
    layout = build_layout(reported_phish())
    expected = {
        EntityKind.ALERT: 0,
        EntityKind.SUBMISSION: 0,
        EntityKind.MESSAGE: 1,
        EntityKind.CLUSTER: 1,
        EntityKind.SENDER: 2,
        EntityKind.IP: 2,
        EntityKind.URL: 2,
        EntityKind.FILE: 2,
        EntityKind.MAILBOX: 3,
        EntityKind.MAILBOX_CONFIG: 3,
    }
    for entity_id, slot in layout.visible.items():
        kind = EntityKind(entity_id.split(":", 1)[0])
        assert slot.column == expected[kind], entity_id
    assert layout.column_x == [1, 41, 81, 121]
    assert layout.width == 156


def test_rows_start_level_with_parent() -> None:
    layout = build_layout(reported_phish())
    rows = {key: slot.row for key, slot in layout.slots.items()}

    assert rows["alert:A1"] == 2
    assert rows["submission:S1"] == 3
    # The email sits level with the report it was found under, so the line is straight.
    assert rows["message:M1"] == 3
    assert rows["message:M2"] == 4
    assert rows["cluster:C1"] == 5
    assert rows["sender:billing@contoso-payments.co"] == 3
    assert rows["file:4f2a"] == 10
    # The attached email's URL starts its own block, below the first email's, after a blank row.
    assert rows["url:https://m2.example/a"] == 13
    assert rows["mailbox:dana@contoso.com"] == 11
    assert rows["mailbox_config:rule1"] == 12
    assert rows["mailbox:fatima@contoso.com"] == 14


def test_same_column_children_form_tree() -> None:
    layout = build_layout(reported_phish())

    assert layout.slots["alert:A1"].guides == ""
    assert layout.slots["submission:S1"].guides == "└ "
    assert layout.slots["message:M2"].guides == "├ "
    assert layout.slots["cluster:C1"].guides == "└ "
    assert layout.slots["mailbox_config:rule1"].guides == "└ "


def test_far_column_reached_through_a_line() -> None:
    layout = build_layout(reported_phish())
    through = [slot for slot in layout.columns[2] if not slot.selectable]

    assert len(through) == 1
    assert through[0].row == 11
    # The line carries the connections from the email to each of its mailboxes.
    assert through[0].through_keys == {
        "message:M1",
        "mailbox:dana@contoso.com",
        "mailbox:erik@contoso.com",
        "mailbox:fatima@contoso.com",
    }


def test_same_column_link_is_marked() -> None:
    detail = reported_phish()
    other = entity(EntityKind.MESSAGE, "M9", "Same invoice to erik", MAL)
    layout = build_layout(dataclasses.replace(detail, entities=[*detail.entities, other]))

    assert layout.slots["cluster:C1"].same_column_link
    assert layout.slots["message:M9"].same_column_link
    assert not layout.slots["message:M1"].same_column_link
    assert layout.legend_row == layout.height - 1


def test_parent_cycle_still_places_everyone() -> None:
    entities = [
        entity(EntityKind.MAILBOX, "a@x", parent="mailbox:b@x"),
        entity(EntityKind.MAILBOX, "b@x", parent="mailbox:a@x"),
        entity(EntityKind.ALERT, "A1"),
    ]
    layout = build_layout(detail_of(entities))

    assert set(layout.visible) == {"mailbox:a@x", "mailbox:b@x", "alert:A1"}
    assert layout.slots["mailbox:a@x"].guides == ""
    assert layout.slots["mailbox:b@x"].guides == "└ "


# Folding


def test_fold_shows_malicious_first() -> None:
    detail = with_urls(12, malicious={5, 9})

    keys = column_keys(detail, 2)

    assert keys == [
        "url:http://u5.example",
        "url:http://u9.example",
        "url:http://u0.example",
        "url:http://u1.example",
        "group:message:M1/url",
    ]
    group = build_layout(detail).slots["group:message:M1/url"].group
    assert group is not None
    assert group.describe() == "▸ +8 more URLs (0 malicious)"
    assert len(group.hidden) == 8


def test_fold_counts_hidden_flagged() -> None:
    detail = with_urls(10, malicious={1, 2, 3, 4, 5, 6})

    group = build_layout(detail).slots["group:message:M1/url"].group

    assert group is not None
    assert [member.key for member in group.members[:4]] == [f"http://u{index}.example" for index in (1, 2, 3, 4)]
    assert group.describe() == "▸ +6 more URLs (2 malicious)"


def test_five_siblings_stay_unfolded() -> None:
    keys = column_keys(with_urls(5, malicious=set()), 2)

    assert len(keys) == 5
    assert not any(key.startswith("group:") for key in keys)


def test_expanded_group_lists_rest_after() -> None:
    keys = column_keys(with_urls(7, malicious={6}), 2, expanded=("message:M1/url",))

    assert keys == [
        "url:http://u6.example",
        "url:http://u0.example",
        "url:http://u1.example",
        "url:http://u2.example",
        "group:message:M1/url",
        "url:http://u3.example",
        "url:http://u4.example",
        "url:http://u5.example",
    ]


# Drawing


async def test_lines_drawn_between_columns() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        lines = screen_lines(app.query_one(NodeGraph))

    assert lines[0].startswith(" Alerts and reports")
    # Report to email: a straight line in the first gap.
    assert lines[3][35:41] == " ──── "
    assert lines[3][41:].startswith("✖ MAL   Email   Invoice 4471")
    # The email's lane branches to its parts; the attached email's lane runs to its URL.
    assert lines[3][75:81] == " ──┬─ "
    assert lines[4][75:81] == " ─┐├─ "
    assert lines[13][75:81] == "  └── "
    # The line to the mailboxes crosses the third column and branches in the last gap.
    assert lines[11][81:115] == "─" * 34
    assert lines[11][115:121] == "──┬── "
    assert lines[12][81:].startswith(" " * 34)
    assert "▸ +3 more URLs (0 malicious)" in lines[9]
    assert lines[12][121:].startswith("└ ▲ SUSP  Setting Inbox rule")


async def test_cursor_marked_by_reverse_video() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        alert_strip = graph.render_line(2)
        report_strip = graph.render_line(3)

    alert_segments = [segment for segment in alert_strip if "Email reported" in segment.text]
    assert alert_segments
    assert all(segment.style is not None and segment.style.reverse for segment in alert_segments)
    report_segments = [segment for segment in report_strip if "Reported by" in segment.text]
    assert report_segments
    assert not any(segment.style and segment.style.reverse for segment in report_segments)


async def test_hostile_labels_render_literally() -> None:
    entities = [
        entity(EntityKind.ALERT, "A1", "[bold]Pay[/bold]", MAL),
        entity(EntityKind.MESSAGE, "M1", "\x1b[2Jwipe", MAL, "alert:A1"),
        entity(EntityKind.URL, "u1", "abc\u202egpj.exe", MAL, "message:M1"),
        entity(EntityKind.FILE, "f1", "[link=x]f[/link]", MAL, "message:M1"),
    ]
    app = GraphApp(detail_of(entities))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        strips = [graph.render_line(y) for y in range(graph.size.height)]

    text = "\n".join(strip.text for strip in strips)
    assert "[bold]Pay[/bold]" in text
    assert "⟨U+001B⟩[2Jwipe" in text
    assert "abc⟨RLO⟩gpj.exe" in text
    assert "[link=x]f[/link]" in text
    assert "\x1b" not in text
    assert "\u202e" not in text
    label_segments = [segment for strip in strips for segment in strip if "Pay" in segment.text]
    assert not any(segment.style and segment.style.link for segment in label_segments)


async def test_wide_label_stays_in_column() -> None:
    detail = reported_phish()
    wide = entity(EntityKind.MESSAGE, "M1", "請求書の支払い期限が過ぎています", MAL, "submission:S1")
    entities = [wide if item.id == "message:M1" else item for item in detail.entities]
    app = GraphApp(dataclasses.replace(detail, entities=entities))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        strip = app.query_one(NodeGraph).render_line(3)

    # Cut by cells, not characters: the lines after the node start at the usual cell.
    assert strip.crop(41, 75).cell_length == 34
    assert strip.crop(41, 75).text.startswith("✖ MAL   Email   請求書の")
    assert strip.crop(41, 75).text.rstrip().endswith("…")
    assert strip.crop(75, 81).text == " ──┬─ "


async def test_empty_states() -> None:
    app = GraphApp(None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        assert screen_lines(graph)[0].strip() == "Select an alert to see its investigation."
        assert graph.highlighted is None

        graph.show(detail_of([]))
        await pilot.pause()
        assert screen_lines(graph)[0].strip() == "This investigation has found no entities yet."
        await pilot.press("down", "enter")
        assert app.opened == []


# Keys


async def test_arrows_follow_connections() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        assert highlighted_id(graph) == "alert:A1"

        await pilot.press("down")
        assert highlighted_id(graph) == "submission:S1"
        await pilot.press("right")
        assert highlighted_id(graph) == "message:M1"
        await pilot.press("down")
        assert highlighted_id(graph) == "message:M2"
        # The attached email connects only to its own URL, far below the nearer sender and IP.
        await pilot.press("right")
        assert highlighted_id(graph) == "url:https://m2.example/a"
        await pilot.press("left")
        assert highlighted_id(graph) == "message:M2"

    assert [entity.id if entity else None for entity in app.highlighted] == [
        "alert:A1",
        "submission:S1",
        "message:M1",
        "message:M2",
        "url:https://m2.example/a",
        "message:M2",
    ]


async def test_left_prefers_connected_over_nearest() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        assert graph.select("file:4f2a")
        # The cluster (row 5) is nearer than the email (row 3), but only the email is connected.
        await pilot.press("left")
        assert highlighted_id(graph) == "message:M1"


async def test_sideways_without_connection_goes_nearest() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        graph.select("sender:billing@contoso-payments.co")
        await pilot.press("right")
        assert highlighted_id(graph) == "mailbox:dana@contoso.com"
        # The mailbox connects to the email two columns left and to nothing in the third
        # column, so left goes to the nearest node there, the file one row above.
        await pilot.press("left")
        assert highlighted_id(graph) == "file:4f2a"
        await pilot.press("up")
        assert cursor_key(graph) == "group:message:M1/url"


async def test_right_skips_empty_column() -> None:
    entities = [
        entity(EntityKind.ALERT, "A1", verdict=MAL),
        entity(EntityKind.MESSAGE, "M1", "Invoice", MAL, "alert:A1"),
        entity(EntityKind.MAILBOX, "dana@contoso.com", verdict=SUSP, parent="message:M1"),
    ]
    app = GraphApp(detail_of(entities))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        await pilot.press("right", "right")
        assert highlighted_id(graph) == "mailbox:dana@contoso.com"
        await pilot.press("right")
        assert highlighted_id(graph) == "mailbox:dana@contoso.com"
        await pilot.press("left")
        assert highlighted_id(graph) == "message:M1"


async def test_up_down_stay_in_column() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        await pilot.press("up")
        assert highlighted_id(graph) == "alert:A1"
        await pilot.press("down", "down", "down")
        assert highlighted_id(graph) == "submission:S1"
        graph.select("message:M1")
        await pilot.press("G")
        assert highlighted_id(graph) == "cluster:C1"
        await pilot.press("g")
        assert highlighted_id(graph) == "message:M1"


async def test_enter_opens_entity() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        graph.select("file:4f2a")
        await pilot.press("enter")
        await pilot.pause()

    assert [entity.id for entity in app.opened] == ["file:4f2a"]
    assert app.opened[0].label == "invoice_4471.html"


async def test_enter_unfolds_and_minus_folds() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        graph.select("url:https://contoso.com/about")
        await pilot.press("down")
        assert cursor_key(graph) == "group:message:M1/url"
        assert app.highlighted[-1] is None

        await pilot.press("enter")
        assert cursor_key(graph) == "group:message:M1/url"
        assert app.opened == []
        urls = [slot.key for slot in drawing(graph).columns[2] if slot.key.startswith("url:https://")]
        assert len(urls) == 5
        assert "▾ 3 more URLs (0 malicious)" in screen_lines(graph)[9]

        await pilot.press("down")
        assert highlighted_id(graph) == "url:https://cdn.contoso.com/logo.png"
        await pilot.press("minus")
        assert cursor_key(graph) == "group:message:M1/url"
        assert "▸ +3 more URLs (0 malicious)" in screen_lines(graph)[9]

        # Enter on an unfolded group folds it back too.
        await pilot.press("enter", "enter")
        assert "▸ +3 more URLs (0 malicious)" in screen_lines(graph)[9]


async def test_click_moves_cursor_then_opens() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        await pilot.click(NodeGraph, offset=(50, 3))
        assert highlighted_id(graph) == "message:M1"
        await pilot.click(NodeGraph, offset=(50, 3))
        await pilot.pause()

    assert [entity.id for entity in app.opened] == ["message:M1"]


async def test_cursor_scrolls_into_view() -> None:
    detail = with_urls(40, malicious={0})
    app = GraphApp(detail)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        await pilot.press("right", "right")
        await pilot.pause()
        assert highlighted_id(graph) == "url:http://u0.example"
        assert graph.scroll_offset.x > 0
        column_x = drawing(graph).column_x[2]
        assert graph.scroll_offset.x <= column_x
        assert column_x + drawing(graph).column_width <= graph.scroll_offset.x + graph.size.width + 3

        await pilot.press("down", "down", "down", "down", "enter", "G")
        await pilot.pause()
        slot = graph.cursor_slot
        assert slot is not None and slot.key == "url:http://u39.example"
        assert graph.scroll_offset.y > 0
        assert graph.scroll_offset.y <= slot.row < graph.scroll_offset.y + graph.size.height
        assert "http://u39.examp" in screen_lines(graph)[slot.row - graph.scroll_offset.y]


# Redrawing


async def test_show_keeps_cursor_on_entity() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        graph.select("mailbox:erik@contoso.com")
        await pilot.pause()
        posted = len(app.highlighted)

        detail = reported_phish()
        newcomer = entity(EntityKind.MAILBOX, "aaron@contoso.com", verdict=MAL, parent="message:M1")
        graph.show(dataclasses.replace(detail, entities=[*detail.entities, newcomer]))
        await pilot.pause()

        assert highlighted_id(graph) == "mailbox:erik@contoso.com"
        # The new malicious mailbox sorts first and pushes erik down a row.
        assert drawing(graph).slots["mailbox:erik@contoso.com"].row == 14
        assert len(app.highlighted) == posted

        graph.show(detail_of([entity(EntityKind.ALERT, "A2")], investigation_id="INV-2"))
        await pilot.pause()
        assert highlighted_id(graph) == "alert:A2"
        last = app.highlighted[-1]
        assert last is not None and last.id == "alert:A2"


async def test_show_unfolds_group_for_cursor() -> None:
    app = GraphApp(with_urls(5, malicious=set()))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        graph.select("url:http://u4.example")
        # Two more malicious URLs make seven: u4 would be folded away, so its group opens.
        graph.show(with_urls(7, malicious={5, 6}))
        await pilot.pause()
        assert highlighted_id(graph) == "url:http://u4.example"
        group = drawing(graph).slots["group:message:M1/url"].group
        assert group is not None and group.expanded


async def test_select_unfolds_nested_groups() -> None:
    entities = [
        entity(EntityKind.ALERT, "A1", verdict=MAL),
        entity(EntityKind.MESSAGE, "M1", "Invoice", MAL, "alert:A1"),
        *[entity(EntityKind.MESSAGE, f"N{index}", f"attached {index}", CLEAN, "message:M1") for index in range(7)],
        entity(EntityKind.CLUSTER, "CX", "Same attachment", MAL, "message:N6"),
    ]
    app = GraphApp(detail_of(entities))
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        # The cluster hangs under an attached email that is itself folded away.
        assert drawing(graph).visible["cluster:CX"].key == "group:message:M1/message"

        assert graph.select("cluster:CX")
        await pilot.pause()
        assert highlighted_id(graph) == "cluster:CX"
        assert drawing(graph).slots["cluster:CX"].guides == "  └ "


async def test_select_unknown_entity() -> None:
    app = GraphApp(reported_phish())
    async with app.run_test(size=(160, 24)) as pilot:
        await pilot.pause()
        graph = app.query_one(NodeGraph)
        assert not graph.select("url:http://never.example")
        assert highlighted_id(graph) == "alert:A1"
        assert graph.select("url:https://contoso.com/help")
        assert highlighted_id(graph) == "url:https://contoso.com/help"


async def test_layout_built_once_per_show(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = node_graph.build_layout

    def counting(detail, expanded=(), column_width=node_graph.COLUMN_WIDTH):
        calls.append(detail.investigation.id)
        return original(detail, expanded, column_width)

    monkeypatch.setattr(node_graph, "build_layout", counting)
    app = GraphApp(with_urls(300, malicious={7}))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("right", "right", "down", "down", "up", "left", "right")
        graph = app.query_one(NodeGraph)
        graph.scroll_to(y=10, animate=False)
        await pilot.pause()

    assert calls == ["INV-1"]
