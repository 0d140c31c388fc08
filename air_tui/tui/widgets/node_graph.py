"""The investigation graph as a node-link drawing, left to right in four columns.

Column 1 contains alerts and user reports, column 2 emails and clusters, column 3 senders, IPs,
URLs and files, column 4 mailboxes, users and mailbox settings. Every node is one line: its
verdict as a symbol and a word, its kind, and its label cut to fit.

How each kind of connection is drawn:

* Between neighbouring columns, with box-drawing lines in the gap between them. Each node that
  starts connections in a gap owns one vertical lane there, and lanes are assigned so that the
  usual top-to-bottom flow crosses no other lane. Where a crossing cannot be avoided it shows
  as `┼`, and the lines of the node under the cursor are highlighted, so the reader can still
  tell them apart.
* Across a column (an email to its mailboxes), as a horizontal line through a row kept free in
  each column it passes. One line carries every connection from one node to one far column, so
  the drawing stays as legible as a direct link and the far nodes line up beside it.
* Within a column (a report under its alert, a cluster under its email), as a tree: the child
  sits under its parent, indented with `├ ` and `└ ` guides.
* A link between two nodes of the same column that is not a parent and its child, such as a
  cluster and another email it contains, cannot be drawn without crossing labels. Both nodes
  carry the `↕` marker instead, and a legend line below the drawing explains it.

Layout happens in `show`, `select` and on folding or unfolding, never per frame: `render_line`
only paints rows from the stored layout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby, pairwise
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from air_tui.domain.investigation import Entity
from air_tui.domain.vocab import EntityKind, Verdict
from air_tui.engine.findings import ENTITY_NAMES
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.text import VERDICT_BADGES, safe

COLUMNS: tuple[tuple[str, tuple[EntityKind, ...]], ...] = (
    ("Alerts and reports", (EntityKind.ALERT, EntityKind.SUBMISSION)),
    ("Emails and clusters", (EntityKind.MESSAGE, EntityKind.CLUSTER)),
    ("Senders, IPs, URLs, files", (EntityKind.SENDER, EntityKind.IP, EntityKind.URL, EntityKind.FILE)),
    ("Mailboxes, users, settings", (EntityKind.MAILBOX, EntityKind.USER, EntityKind.MAILBOX_CONFIG)),
)
"""Column titles and the kinds each column contains, in the order they are listed in the column."""

COLUMN_OF_KIND = {kind: index for index, (_title, kinds) in enumerate(COLUMNS) for kind in kinds}
_KIND_RANK = {kind: rank for _title, kinds in COLUMNS for rank, kind in enumerate(kinds)}
_LAST_COLUMN = len(COLUMNS) - 1

VERDICT_MARKS = {
    Verdict.MALICIOUS: "✖ MAL",
    Verdict.SUSPICIOUS: "▲ SUSP",
    Verdict.NO_THREATS_FOUND: "✓ CLEAN",
    Verdict.UNKNOWN: "? UNK",
}
"""Short verdict words for nodes. The symbol and the word carry the verdict without colour."""

_MARK_WIDTH = max(len(mark) for mark in VERDICT_MARKS.values())

PLURAL_NAMES = {
    EntityKind.ALERT: "alerts",
    EntityKind.SUBMISSION: "reports",
    EntityKind.MESSAGE: "emails",
    EntityKind.CLUSTER: "clusters",
    EntityKind.SENDER: "senders",
    EntityKind.IP: "IPs",
    EntityKind.URL: "URLs",
    EntityKind.FILE: "files",
    EntityKind.MAILBOX: "mailboxes",
    EntityKind.USER: "users",
    EntityKind.MAILBOX_CONFIG: "settings",
}

FOLD_ABOVE = 5
"""Siblings of one kind are folded when there are more than this many."""
FOLD_KEEP = 4
"""How many of the folded siblings stay visible above the group node."""

COLUMN_WIDTH = 34
"""Default width of a column in cells, the trailing gap included."""
MIN_COLUMN_WIDTH = 24
"""Narrowest column that still fits the verdict word, the kind and a few characters of label."""
MIN_GAP_WIDTH = 6
"""Narrowest gap between two columns: a space, a stub, one lane, a stub, a space."""
MARGIN = 1
HEADER_ROWS = 2
"""The column titles and a blank row above the first node."""
_MAX_GUIDE_LEVELS = 3
"""Tree guides kept for a deeply nested node, so its label keeps some room."""

SAME_COLUMN_MARK = "↕"
SAME_COLUMN_LEGEND = f"{SAME_COLUMN_MARK} linked to another node in the same column"
NO_INVESTIGATION = "Select an alert to see its investigation."
NO_ENTITIES = "This investigation has found no entities yet."
GROUP_KEY_PREFIX = "group:"

# Directions a line leaves a cell in. A cell's glyph is looked up from their combination.
_UP, _DOWN, _LEFT, _RIGHT = 1, 2, 4, 8
_GLYPHS = {
    _LEFT: "─",
    _RIGHT: "─",
    _LEFT | _RIGHT: "─",
    _UP: "│",
    _DOWN: "│",
    _UP | _DOWN: "│",
    _DOWN | _RIGHT: "┌",
    _DOWN | _LEFT: "┐",
    _UP | _RIGHT: "└",
    _UP | _LEFT: "┘",
    _UP | _DOWN | _RIGHT: "├",
    _UP | _DOWN | _LEFT: "┤",
    _DOWN | _LEFT | _RIGHT: "┬",
    _UP | _LEFT | _RIGHT: "┴",
    _UP | _DOWN | _LEFT | _RIGHT: "┼",
}


def column_of(kind: EntityKind) -> int:
    # NOTE: a kind added to EntityKind but not to COLUMNS lands in the last column.
    return COLUMN_OF_KIND.get(kind, _LAST_COLUMN)


def graph_edges(detail: InvestigationDetail) -> set[tuple[str, str]]:
    """Collect the connections between entities as pairs of ids, the smaller id first.

    An entity is connected to the entity it was found under (`parent_id`), and a cluster to
    every email entity whose message id is one of the cluster's members.
    """
    ids = {entity.id for entity in detail.entities}
    edges: set[tuple[str, str]] = set()
    for entity in detail.entities:
        if entity.parent_id in ids and entity.parent_id != entity.id:
            edges.add(_pair(entity.id, entity.parent_id))
    members = {cluster.id: set(cluster.message_ids) for cluster in detail.clusters}
    messages = [entity for entity in detail.entities if entity.kind is EntityKind.MESSAGE]
    for entity in detail.entities:
        if entity.kind is not EntityKind.CLUSTER:
            continue
        message_ids = members.get(entity.key, set())
        edges.update(_pair(entity.id, message.id) for message in messages if message.key in message_ids)
    return edges


def _pair(first: str, second: str) -> tuple[str, str]:
    return (first, second) if first <= second else (second, first)


@dataclass(eq=False)
class FoldedGroup:
    """Siblings of one kind beyond the first few, drawn as one node until unfolded."""

    key: str
    """Stable across redraws: the siblings' parent slot, then the kind."""
    kind: EntityKind
    members: list[Entity]
    """Every sibling of the kind in display order, the visible ones first."""
    expanded: bool

    @property
    def hidden(self) -> list[Entity]:
        """Members behind the group node while it is folded."""
        return self.members[FOLD_KEEP:]

    def describe(self) -> str:
        hidden = self.hidden
        malicious = sum(1 for entity in hidden if entity.verdict is Verdict.MALICIOUS)
        suspicious = sum(1 for entity in hidden if entity.verdict is Verdict.SUSPICIOUS)
        counts = f"{malicious} malicious" + (f", {suspicious} suspicious" if suspicious else "")
        name = PLURAL_NAMES.get(self.kind, self.kind.value)
        if self.expanded:
            return f"▾ {len(hidden)} more {name} ({counts})"
        return f"▸ +{len(hidden)} more {name} ({counts})"


@dataclass(eq=False)
class Slot:
    """One row of one column: an entity, a folded group, or a line passing through."""

    column: int
    key: str
    """Entity id, `group:` and the group key, or `through:` and the line's ends."""
    entity: Entity | None = None
    group: FoldedGroup | None = None
    row: int = 0
    guides: str = ""
    """Tree guides in front of a node nested under another node of its column."""
    same_column_link: bool = False
    through_keys: set[str] = field(default_factory=set)
    """For a line passing through: keys of the nodes at its two ends."""

    @property
    def selectable(self) -> bool:
        return self.entity is not None or self.group is not None


@dataclass
class GapCell:
    directions: int = 0
    keys: set[str] = field(default_factory=set)
    """Keys of the nodes at both ends of every connection drawn through the cell."""


@dataclass
class Gap:
    """The space between column `column` and the next one, where connections are drawn."""

    column: int
    x: int
    width: int
    cells: dict[int, dict[int, GapCell]] = field(default_factory=dict)
    """Cells by row, then by offset from `x`. Empty cells are left out."""

    def add(self, row: int, offset: int, directions: int, keys: Iterable[str]) -> None:
        cell = self.cells.setdefault(row, {}).setdefault(offset, GapCell())
        cell.directions |= directions
        cell.keys.update(keys)


@dataclass
class GraphLayout:
    """Positions of every node and line of one drawing, in cells of the scrollable area."""

    column_width: int
    column_x: list[int]
    """Left edge of each column."""
    columns: list[list[Slot]]
    """Every slot of each column, top to bottom."""
    gaps: list[Gap]
    slots: dict[str, Slot]
    """Slots by key."""
    visible: dict[str, Slot]
    """For each entity id, the slot that shows it: its own, or the group it is folded into."""
    neighbours: dict[Slot, set[Slot]]
    width: int
    height: int
    legend_row: int | None
    rows: list[dict[int, Slot]]
    """For each column, its slots by row."""

    def selectable(self, column: int) -> list[Slot]:
        return [slot for slot in self.columns[column] if slot.selectable]

    def first_slot(self) -> Slot | None:
        for column in range(len(self.columns)):
            slots = self.selectable(column)
            if slots:
                return slots[0]
        return None


def build_layout(
    detail: InvestigationDetail, expanded: Iterable[str] = (), column_width: int = COLUMN_WIDTH
) -> GraphLayout:
    """Place every entity of `detail` in its column and route the connections between them.

    `expanded` contains the keys of the groups to show unfolded.
    """
    return _LayoutBuilder(detail, set(expanded), column_width).build()


class _LayoutBuilder:
    def __init__(self, detail: InvestigationDetail, expanded: set[str], column_width: int) -> None:
        self.entities = _unique(detail.entities)
        self.order = {entity.id: index for index, entity in enumerate(self.entities)}
        self.edges = sorted(graph_edges(detail))
        self.column = {entity.id: column_of(entity.kind) for entity in self.entities}
        self.expanded = expanded
        self.column_width = column_width
        self.tree_parent = self._tree_parents({entity.id: entity for entity in self.entities})
        self.children: dict[str, list[Entity]] = {}
        for entity in self.entities:
            parent = self.tree_parent.get(entity.id)
            if parent is not None:
                self.children.setdefault(parent, []).append(entity)
        by_id = {entity.id: entity for entity in self.entities}
        self.anchor_parent = {
            entity.id: entity.parent_id
            for entity in self.entities
            if entity.parent_id in by_id and self.column[entity.parent_id] < self.column[entity.id]
        }
        self.columns: list[list[Slot]] = [[] for _ in COLUMNS]
        self.slots: dict[str, Slot] = {}
        self.visible: dict[str, Slot] = {}
        self.through: dict[tuple[str, int, int], Slot] = {}
        """Lines passing through, by the slot key they start from, the far column and this column."""
        self.hops: dict[tuple[Slot, Slot], set[str]] = {}
        """Lines to draw in the gaps, by their two slots, with the keys of the nodes they connect."""

    def _tree_parents(self, by_id: dict[str, Entity]) -> dict[str, str]:
        """Map each entity to its parent when the parent sits in the same column, with cycles cut."""
        parents = {
            entity.id: entity.parent_id
            for entity in self.entities
            if entity.parent_id in by_id
            and entity.parent_id != entity.id
            and self.column[entity.parent_id] == self.column[entity.id]
        }
        for entity in self.entities:
            seen = {entity.id}
            current = parents.get(entity.id)
            while current is not None and current not in seen:
                seen.add(current)
                current = parents.get(current)
            if current is not None:
                # Bad data can make two entities each other's parent. Cutting the link here
                # makes this entity a root, so every entity still gets placed.
                del parents[entity.id]
        return parents

    def build(self) -> GraphLayout:
        for column in range(len(COLUMNS)):
            self._place_column(column)
        neighbours = self._link()
        gaps: list[Gap] = []
        column_x = [MARGIN]
        for column in range(_LAST_COLUMN):
            gap = self._route(column, column_x[column] + self.column_width)
            gaps.append(gap)
            column_x.append(gap.x + gap.width)
        last_row = max((slot.row for slots in self.columns for slot in slots), default=HEADER_ROWS - 1)
        legend_row = None
        if any(slot.same_column_link for slots in self.columns for slot in slots):
            legend_row = last_row + 2
        height = (legend_row if legend_row is not None else last_row) + 1
        return GraphLayout(
            column_width=self.column_width,
            column_x=column_x,
            columns=self.columns,
            gaps=gaps,
            slots=self.slots,
            visible=self.visible,
            neighbours=neighbours,
            width=column_x[-1] + self.column_width + MARGIN,
            height=height,
            legend_row=legend_row,
            rows=[{slot.row: slot for slot in slots} for slots in self.columns],
        )

    def _place_column(self, column: int) -> None:
        """Place the column's nodes in blocks, one block per node they hang from in the column to the left.

        Blocks follow the order of those nodes and never start above them, so the first
        connection of a block is a straight line.
        """
        blocks: dict[str, list[Entity]] = {}
        anchors: dict[str, Slot | None] = {}
        for entity in self.entities:
            if self.column[entity.id] != column or entity.id in self.tree_parent:
                continue
            anchor = self._anchor_slot(entity)
            anchor_key = anchor.key if anchor is not None else ""
            anchors[anchor_key] = anchor
            blocks.setdefault(anchor_key, []).append(entity)
        passing = self._passing_lines(column)
        for anchor_key, (anchor, _lines) in passing.items():
            anchors.setdefault(anchor_key, anchor)

        def block_order(anchor_key: str) -> tuple[int, int]:
            anchor = anchors[anchor_key]
            return (1, 0) if anchor is None else (0, anchor.row)

        next_row = HEADER_ROWS
        for anchor_key in sorted(anchors, key=block_order):
            anchor = anchors[anchor_key]
            sequence: list[Slot] = []
            prefix = anchor_key or f"column{column}"
            for item, last in _with_last(self._arrange(blocks.get(anchor_key, []), prefix, column)):
                self._emit(item, column, sequence, depth=0, more_below=[], last=last)
            for start_key, far_column in passing.get(anchor_key, (None, []))[1]:
                slot = Slot(column=column, key=f"through:{start_key}>{far_column}@{column}")
                self.through[(start_key, far_column, column)] = slot
                sequence.append(slot)
            if not sequence:
                continue
            start = next_row + (1 if self.columns[column] else 0)
            if anchor is not None:
                start = max(start, anchor.row)
            for offset, slot in enumerate(sequence):
                slot.row = start + offset
                self.slots[slot.key] = slot
            self.columns[column].extend(sequence)
            next_row = start + len(sequence)

    def _anchor_slot(self, entity: Entity) -> Slot | None:
        """Return the slot in the column to the left that `entity` hangs from, if any."""
        parent = self.anchor_parent.get(entity.id)
        if parent is None:
            return None
        start = self.visible[parent]
        column = self.column[entity.id]
        if start.column == column - 1:
            return start
        return self.through[(start.key, column, column - 1)]

    def _passing_lines(self, column: int) -> dict[str, tuple[Slot, list[tuple[str, int]]]]:
        """Find the lines that must pass through `column`, grouped by the slot they continue from."""
        passing: dict[str, tuple[Slot, list[tuple[str, int]]]] = {}
        seen: set[tuple[str, int]] = set()
        for first, second in self.edges:
            left, right = sorted((first, second), key=lambda entity_id: self.column[entity_id])
            far_column = self.column[right]
            if not self.column[left] < column < far_column:
                continue
            start = self.visible[left]
            if (start.key, far_column) in seen:
                continue
            seen.add((start.key, far_column))
            anchor = start if start.column == column - 1 else self.through[(start.key, far_column, column - 1)]
            passing.setdefault(anchor.key, (anchor, []))[1].append((start.key, far_column))
        for _anchor, lines in passing.values():
            lines.sort(key=lambda line: line[1])
        return passing

    def _arrange(self, entities: list[Entity], parent_key: str, column: int) -> list[Entity | FoldedGroup]:
        """Order siblings by kind, flagged before clean, and fold long runs of one kind.

        Malicious and suspicious siblings come first, so a group only hides flagged nodes
        when there are more flagged ones than stay visible.
        """
        ordered = sorted(
            entities,
            key=lambda entity: (_KIND_RANK.get(entity.kind, 0), -entity.verdict.rank, self.order[entity.id]),
        )
        items: list[Entity | FoldedGroup] = []
        for kind, run in groupby(ordered, key=lambda entity: entity.kind):
            members = list(run)
            if len(members) <= FOLD_ABOVE:
                items.extend(members)
                continue
            key = f"{parent_key}/{kind.value}"
            group = FoldedGroup(key=key, kind=kind, members=members, expanded=key in self.expanded)
            items.extend(members[:FOLD_KEEP])
            items.append(group)
            if group.expanded:
                items.extend(group.hidden)
        return items

    def _emit(
        self, item: Entity | FoldedGroup, column: int, sequence: list[Slot], depth: int, more_below: list[bool], last: bool
    ) -> None:
        guides = ""
        if depth > 0:
            levels = ["│ " if more else "  " for more in more_below][-(_MAX_GUIDE_LEVELS - 1) :]
            guides = "".join(levels) + ("└ " if last else "├ ")
        if isinstance(item, FoldedGroup):
            slot = Slot(column=column, key=GROUP_KEY_PREFIX + item.key, group=item, guides=guides)
            sequence.append(slot)
            if not item.expanded:
                for member in item.hidden:
                    self._hide(member, slot)
            return
        slot = Slot(column=column, key=item.id, entity=item, guides=guides)
        self.visible[item.id] = slot
        sequence.append(slot)
        kids = self._arrange(self.children.get(item.id, []), item.id, column)
        below = [*more_below, not last] if depth > 0 else []
        for kid, kid_last in _with_last(kids):
            self._emit(kid, column, sequence, depth + 1, below, kid_last)

    def _hide(self, entity: Entity, slot: Slot) -> None:
        self.visible[entity.id] = slot
        for kid in self.children.get(entity.id, []):
            self._hide(kid, slot)

    def _link(self) -> dict[Slot, set[Slot]]:
        """Record which slots are connected and which lines each gap must draw."""
        neighbours: dict[Slot, set[Slot]] = {}
        for first, second in self.edges:
            start, end = self.visible[first], self.visible[second]
            if start is end:
                continue
            neighbours.setdefault(start, set()).add(end)
            neighbours.setdefault(end, set()).add(start)
            if start.column == end.column:
                if self.tree_parent.get(first) != second and self.tree_parent.get(second) != first:
                    start.same_column_link = end.same_column_link = True
                continue
            left, right = (start, end) if start.column < end.column else (end, start)
            keys = {left.key, right.key}
            chain = [left]
            for column in range(left.column + 1, right.column):
                passing = self.through[(left.key, right.column, column)]
                passing.through_keys.update(keys)
                chain.append(passing)
            chain.append(right)
            for hop in pairwise(chain):
                self.hops.setdefault(hop, set()).update(keys)
        return neighbours

    def _route(self, column: int, x: int) -> Gap:
        """Draw the connections from `column` to the next column in the gap between them."""
        targets: dict[Slot, list[tuple[Slot, set[str]]]] = {}
        for (left, right), keys in self.hops.items():
            if left.column == column:
                targets.setdefault(left, []).append((right, keys))
        spans = {
            source: (min(source.row, *(end.row for end, _ in ends)), max(source.row, *(end.row for end, _ in ends)))
            for source, ends in targets.items()
        }
        # Lanes go to sources from the bottom up, so a later source takes a lane left of an
        # earlier one it overlaps. Its stub then stops short of the earlier lane, and the
        # earlier source's stubs leave rightwards without crossing it.
        lanes: list[list[tuple[int, int]]] = []
        lane_of: dict[Slot, int] = {}
        for source in sorted(targets, key=lambda slot: (-spans[slot][0], -spans[slot][1])):
            low, high = spans[source]
            for index, intervals in enumerate(lanes):
                if all(high < other_low or low > other_high for other_low, other_high in intervals):
                    intervals.append((low, high))
                    lane_of[source] = index
                    break
            else:
                lanes.append([(low, high)])
                lane_of[source] = len(lanes) - 1
        gap = Gap(column=column, x=x, width=max(MIN_GAP_WIDTH, len(lanes) + 4))
        for source, ends in targets.items():
            self._draw_source(gap, source, sorted(ends, key=lambda end: end[0].row), 2 + lane_of[source])
        return gap

    @staticmethod
    def _draw_source(gap: Gap, source: Slot, ends: list[tuple[Slot, set[str]]], lane: int) -> None:
        all_keys = set().union(*(keys for _, keys in ends))
        row = source.row
        # A line coming through the previous column starts in the first cell, with no gap.
        first = 0 if not source.selectable else 1
        for offset in range(first, lane):
            gap.add(row, offset, _LEFT | _RIGHT, all_keys)
        gap.add(row, lane, _LEFT, all_keys)
        for end, keys in ends:
            if end.row > row:
                gap.add(row, lane, _DOWN, keys)
                for between in range(row + 1, end.row):
                    gap.add(between, lane, _UP | _DOWN, keys)
                gap.add(end.row, lane, _UP | _RIGHT, keys)
            elif end.row < row:
                gap.add(row, lane, _UP, keys)
                for between in range(end.row + 1, row):
                    gap.add(between, lane, _UP | _DOWN, keys)
                gap.add(end.row, lane, _DOWN | _RIGHT, keys)
            else:
                gap.add(row, lane, _RIGHT, keys)
            # A line passing through the next column fills the last cell too, so it reads as unbroken.
            last = gap.width if not end.selectable else gap.width - 1
            for offset in range(lane + 1, last):
                gap.add(end.row, offset, _LEFT | _RIGHT, keys)


def _unique(entities: Sequence[Entity]) -> list[Entity]:
    seen: set[str] = set()
    unique: list[Entity] = []
    for entity in entities:
        if entity.id not in seen:
            seen.add(entity.id)
            unique.append(entity)
    return unique


def _with_last(items: Sequence[Entity | FoldedGroup]) -> Iterable[tuple[Entity | FoldedGroup, bool]]:
    for index, item in enumerate(items):
        yield item, index == len(items) - 1


def fit_label(value: str, cells: int) -> Text:
    """Render attacker text safely in at most `cells` terminal cells, cut with `…`.

    `safe` cuts by characters and keeps markers whole, but wide characters take two cells,
    so the text is cut further until it fits.
    """
    if cells <= 0:
        return Text()
    limit = cells
    text = safe(value, limit=limit)
    while limit > 1 and text.cell_len > cells:
        limit -= 1
        text = safe(value, limit=limit)
    if text.cell_len > cells:
        text = Text("…")
    return text


class NodeGraph(ScrollView, can_focus=True):
    """Every entity of one investigation as a node in four columns, with lines for the connections.

    Up and down move within a column, left and right to a connected node in the next column,
    enter opens an entity or unfolds a group, and `-` folds the group the cursor is in.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "node-graph--header",
        "node-graph--edge",
        "node-graph--edge-highlight",
        "node-graph--cursor",
        "node-graph--empty",
    }

    DEFAULT_CSS = """
    NodeGraph > .node-graph--header { text-style: bold; }
    NodeGraph > .node-graph--edge { color: $text-muted; }
    NodeGraph > .node-graph--edge-highlight { color: $accent; text-style: bold; }
    NodeGraph > .node-graph--cursor { text-style: reverse bold; }
    NodeGraph > .node-graph--empty { color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False, id="graph-node-up", tooltip="Move to the node above in this column"),
        Binding("k", "cursor_up", "Up", show=False, id="cursor-up", tooltip="Move up one row"),
        Binding("down", "cursor_down", "Down", show=False, id="graph-node-down", tooltip="Move to the node below in this column"),
        Binding("j", "cursor_down", "Down", show=False, id="cursor-down", tooltip="Move down one row"),
        Binding(
            "left,h",
            "cursor_left",
            "Left",
            show=False,
            id="graph-node-left",
            tooltip="Move to a connected node in the column to the left",
        ),
        Binding(
            "right,l",
            "cursor_right",
            "Right",
            show=False,
            id="graph-node-right",
            tooltip="Move to a connected node in the column to the right",
        ),
        Binding("g,home", "cursor_first", "Top", show=False, id="cursor-first", tooltip="Go to the first node of this column"),
        Binding("G,end", "cursor_last", "Bottom", show=False, id="cursor-last", tooltip="Go to the last node of this column"),
        Binding("enter", "open", "Open", id="graph-open", tooltip="Open the entity's evidence, or unfold or fold a group"),
        Binding("minus", "fold", "Fold", key_display="-", id="graph-fold", tooltip="Fold the group the cursor is in"),
    ]

    class EntityHighlighted(Message):
        """The cursor moved to an entity, or to a group node (`entity` is None)."""

        def __init__(self, entity: Entity | None) -> None:
            super().__init__()
            self.entity = entity

    class EntityOpened(Message):
        """Enter was pressed on an entity."""

        def __init__(self, entity: Entity) -> None:
            super().__init__()
            self.entity = entity

    def __init__(
        self,
        *,
        column_width: int = COLUMN_WIDTH,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.detail: InvestigationDetail | None = None
        self.column_width = max(column_width, MIN_COLUMN_WIDTH)
        self._drawing: GraphLayout | None = None
        self._expanded: set[str] = set()
        self._cursor_key = ""
        self._row_cache: dict[int, Strip] = {}

    @property
    def drawing(self) -> GraphLayout | None:
        """The current layout, or None when there is nothing to draw."""
        return self._drawing

    @property
    def cursor_slot(self) -> Slot | None:
        if self._drawing is None:
            return None
        return self._drawing.slots.get(self._cursor_key)

    @property
    def highlighted(self) -> Entity | None:
        """The entity under the cursor, or None on a group node or when nothing is shown."""
        slot = self.cursor_slot
        return slot.entity if slot is not None else None

    def show(self, detail: InvestigationDetail | None) -> None:
        """Draw `detail`, keeping the cursor on the same entity or group when it is still there.

        A kept entity that is now folded into a group unfolds the group. Posts
        `EntityHighlighted` when the cursor ends up on another node than before.
        """
        if detail is None or self.detail is None or detail.investigation.id != self.detail.investigation.id:
            self._expanded.clear()
        self.detail = detail
        previous = self._cursor_key
        self._relayout()
        if previous and self._drawing is not None and not self._reveal(previous):
            first = self._drawing.first_slot()
            self._cursor_key = first.key if first is not None else ""
        self._after_cursor_change(previous)

    def select(self, entity_id: str) -> bool:
        """Move the cursor to an entity, unfolding its group when needed.

        Returns False, and leaves the cursor where it was, when the entity is not drawn.
        """
        if self._drawing is None or entity_id not in self._drawing.visible:
            return False
        previous = self._cursor_key
        self._reveal(entity_id)
        self._after_cursor_change(previous)
        return True

    def _relayout(self) -> None:
        self._row_cache.clear()
        if self.detail is None or not self.detail.entities:
            self._drawing = None
            self._cursor_key = ""
            message = NO_INVESTIGATION if self.detail is None else NO_ENTITIES
            self.virtual_size = Size(len(message) + 2 * MARGIN, 1)
        else:
            self._drawing = build_layout(self.detail, self._expanded, self.column_width)
            self.virtual_size = Size(self._drawing.width, self._drawing.height)
            if self._cursor_key not in self._drawing.slots:
                first = self._drawing.first_slot()
                self._cursor_key = first.key if first is not None else ""
        self.refresh()

    def _reveal(self, key: str) -> bool:
        """Put the cursor on `key`, unfolding the groups that hide it. Returns False when it is not drawn.

        Each pass unfolds one more group and groups are finite, so the loop ends. An entity
        folded inside a folded parent needs two passes, so two layouts.
        """
        while self._drawing is not None:
            if key in self._drawing.slots:
                self._cursor_key = key
                return True
            holder = self._drawing.visible.get(key)
            if holder is None or holder.group is None or holder.group.expanded:
                return False
            self._expanded.add(holder.group.key)
            self._relayout()
        return False

    def _after_cursor_change(self, previous: str) -> None:
        self._row_cache.clear()
        self.refresh()
        if self._cursor_key != previous and self._cursor_key:
            self.post_message(self.EntityHighlighted(self.highlighted))
        if self.is_mounted:
            self.call_after_refresh(self._scroll_to_cursor)

    def _move_to(self, slot: Slot | None) -> None:
        if slot is None or slot.key == self._cursor_key:
            return
        previous = self._cursor_key
        self._cursor_key = slot.key
        self._after_cursor_change(previous)

    def _scroll_to_cursor(self) -> None:
        slot = self.cursor_slot
        if slot is None or self._drawing is None:
            return
        drawing = self._drawing
        # Show a little of the gaps on both sides, so the lines into the node are visible too.
        left = drawing.column_x[slot.column] - (3 if slot.column else MARGIN)
        width = drawing.column_width + 6
        if slot.row + 1 <= self.scrollable_content_region.height:
            # Near the top, keep the column titles in view as well.
            region = Region(left, 0, width, slot.row + 1)
        else:
            region = Region(left, slot.row, width, 1)
        self.scroll_to_region(region, animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        self._step_in_column(-1)

    def action_cursor_down(self) -> None:
        self._step_in_column(1)

    def _step_in_column(self, step: int) -> None:
        slot = self.cursor_slot
        if slot is None or self._drawing is None:
            return
        slots = self._drawing.selectable(slot.column)
        index = slots.index(slot) + step
        if 0 <= index < len(slots):
            self._move_to(slots[index])

    def action_cursor_first(self) -> None:
        slot = self.cursor_slot
        if slot is not None and self._drawing is not None:
            self._move_to(self._drawing.selectable(slot.column)[0])

    def action_cursor_last(self) -> None:
        slot = self.cursor_slot
        if slot is not None and self._drawing is not None:
            self._move_to(self._drawing.selectable(slot.column)[-1])

    def action_cursor_left(self) -> None:
        self._step_across(-1)

    def action_cursor_right(self) -> None:
        self._step_across(1)

    def _step_across(self, step: int) -> None:
        """Move to the nearest connected node in the next column that has nodes, else the nearest node there."""
        slot = self.cursor_slot
        drawing = self._drawing
        if slot is None or drawing is None:
            return
        column = slot.column + step
        while 0 <= column < len(COLUMNS) and not drawing.selectable(column):
            column += step
        if not 0 <= column < len(COLUMNS):
            return
        candidates = drawing.selectable(column)
        connected = [other for other in candidates if other in drawing.neighbours.get(slot, set())]
        pool = connected or candidates
        self._move_to(min(pool, key=lambda other: (abs(other.row - slot.row), other.row)))

    def action_open(self) -> None:
        slot = self.cursor_slot
        if slot is None:
            return
        if slot.entity is not None:
            self.post_message(self.EntityOpened(slot.entity))
        elif slot.group is not None:
            self._toggle(slot.group)

    def action_fold(self) -> None:
        slot = self.cursor_slot
        if slot is None or self._drawing is None:
            return
        if slot.group is not None:
            if slot.group.expanded:
                self._toggle(slot.group)
            return
        for other in self._drawing.columns[slot.column]:
            group = other.group
            if group is not None and group.expanded and any(member.id == slot.key for member in group.members):
                self._cursor_key = other.key
                self._toggle(group)
                return

    def _toggle(self, group: FoldedGroup) -> None:
        previous = self._cursor_key
        self._cursor_key = GROUP_KEY_PREFIX + group.key
        if group.expanded:
            self._expanded.discard(group.key)
        else:
            self._expanded.add(group.key)
        self._relayout()
        self._after_cursor_change(previous)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or self._drawing is None:
            return
        x, y = offset.x + self.scroll_offset.x, offset.y + self.scroll_offset.y
        for column, left in enumerate(self._drawing.column_x):
            if left <= x < left + self._drawing.column_width:
                slot = self._drawing.rows[column].get(y)
                if slot is None or not slot.selectable:
                    return
                if slot.key == self._cursor_key:
                    self.action_open()
                else:
                    self._move_to(slot)
                return

    def on_resize(self, _event: events.Resize) -> None:
        self.call_after_refresh(self._scroll_to_cursor)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._row_cache.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.size.width
        base = self.rich_style
        strip = self._row_cache.get(row)
        if strip is None:
            text = self._row_text(row)
            text.stylize_before(base)
            strip = Strip(text.render(self.app.console), text.cell_len)
            self._row_cache[row] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _component(self, name: str) -> Style:
        # Partial styles leave the background to the row's base style and keep verdict colours.
        return self.get_component_rich_style(name, partial=True)

    def _row_text(self, row: int) -> Text:
        drawing = self._drawing
        if drawing is None:
            if row != 0:
                return Text()
            message = NO_INVESTIGATION if self.detail is None else NO_ENTITIES
            return Text(" " * MARGIN + message, style=self._component("node-graph--empty"), end="")
        line = Text(" " * MARGIN, end="", no_wrap=True)
        if row == 0:
            header = self._component("node-graph--header")
            for column, (title, _kinds) in enumerate(COLUMNS):
                line.append(" " * (drawing.column_x[column] - line.cell_len))
                line.append(title[: drawing.column_width - 1], style=header)
            return line
        if row == drawing.legend_row:
            line.append(SAME_COLUMN_LEGEND, style=self._component("node-graph--empty"))
            return line
        for column in range(len(COLUMNS)):
            slot = drawing.rows[column].get(row)
            line.append_text(self._slot_text(slot, column))
            if column < len(drawing.gaps):
                line.append_text(self._gap_text(drawing.gaps[column], row))
        return line

    def _gap_text(self, gap: Gap, row: int) -> Text:
        cells = gap.cells.get(row, {})
        edge = self._component("node-graph--edge")
        highlight = self._component("node-graph--edge-highlight")
        text = Text(end="", no_wrap=True)
        for offset in range(gap.width):
            cell = cells.get(offset)
            if cell is None:
                text.append(" ")
            else:
                text.append(_GLYPHS[cell.directions], style=highlight if self._cursor_key in cell.keys else edge)
        return text

    def _slot_text(self, slot: Slot | None, column: int) -> Text:
        width = self.column_width
        if slot is None:
            return Text(" " * width, end="")
        if not slot.selectable:
            style = "node-graph--edge-highlight" if self._cursor_key in slot.through_keys else "node-graph--edge"
            return Text("─" * width, style=self._component(style), end="")
        text = Text(end="", no_wrap=True)
        text.append(slot.guides, style=self._component("node-graph--edge"))
        # Two cells stay free at the end: one for the same-column marker, one as the gap before the lines.
        room = width - cell_len(slot.guides) - 2
        if slot.entity is not None:
            text.append_text(self._entity_text(slot.entity, column, room))
        elif slot.group is not None:
            text.append_text(self._group_text(slot.group, room))
        text.append(" " * max(0, width - 2 - text.cell_len))
        text.append(SAME_COLUMN_MARK if slot.same_column_link else " ")
        text.append(" ")
        if slot.key == self._cursor_key:
            text.stylize(self._component("node-graph--cursor"), len(slot.guides), len(text.plain) - 1)
        return text

    @staticmethod
    def _entity_text(entity: Entity, column: int, room: int) -> Text:
        mark = VERDICT_MARKS[entity.verdict]
        kind_width = max(len(ENTITY_NAMES.get(kind, kind.value)) for kind in COLUMNS[column][1])
        text = Text(end="", no_wrap=True)
        text.append(mark, style=VERDICT_BADGES[entity.verdict][1])
        text.append(" " * (_MARK_WIDTH - len(mark) + 1))
        text.append(ENTITY_NAMES.get(entity.kind, entity.kind.value).ljust(kind_width), style="bold")
        text.append(" ")
        # NOTE: a label may contain box-drawing characters. They stay inside the node's cells and
        # never reach the gaps, but they can imitate a line within the column.
        label = entity.label
        if entity.kind is EntityKind.CLUSTER:
            # The member count goes first, so a narrow column cuts the long indicator instead.
            members = entity.attributes.get("message_count", 0)
            label = f"{members} {'msg' if members == 1 else 'msgs'} · {label}"
        text.append_text(fit_label(label, room - text.cell_len))
        if text.cell_len > room:
            text.truncate(max(room, 0))
        return text

    @staticmethod
    def _group_text(group: FoldedGroup, room: int) -> Text:
        description = group.describe()
        flagged = any(entity.verdict is Verdict.MALICIOUS for entity in group.hidden)
        text = Text(description, style="bold red" if flagged else "bold", end="", no_wrap=True)
        text.truncate(max(room, 0), overflow="ellipsis")
        return text
