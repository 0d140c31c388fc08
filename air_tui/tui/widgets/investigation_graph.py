"""The investigation graph, drawn as a tree: alert, report, message, its parts, clusters, mailboxes."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets.tree import TreeNode

from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Entity
from air_tui.domain.vocab import EntityKind, Verdict
from air_tui.engine.findings import ENTITY_NAMES
from air_tui.store.queries import InvestigationDetail
from air_tui.tui.text import plain, safe, status_text, verdict_badge
from air_tui.tui.widgets.vim import VimTree

# Children of a message are grouped under one node per kind, in this order.
_GROUPS = [
    (EntityKind.URL, "URLs"),
    (EntityKind.FILE, "Files"),
    (EntityKind.CLUSTER, "Clusters"),
    (EntityKind.MAILBOX, "Mailboxes"),
]

NodeData = Entity | InvestigationDetail | None


class InvestigationGraph(VimTree):
    """Every entity of one investigation with its verdict; highlighting one shows its evidence."""

    class EntityHighlighted(Message):
        def __init__(self, entity: Entity | None, detail: InvestigationDetail | None) -> None:
            super().__init__()
            self.entity = entity
            self.detail = detail

    class EntityOpened(Message):
        def __init__(self, entity: Entity) -> None:
            super().__init__()
            self.entity = entity

    class SummaryOpened(Message):
        """Enter on the root: the investigation's status, reason and log."""

        def __init__(self, detail: InvestigationDetail) -> None:
            super().__init__()
            self.detail = detail

    def __init__(self, **kwargs: object) -> None:
        super().__init__(Text("No investigation selected"), **kwargs)  # type: ignore[arg-type]
        self.detail: InvestigationDetail | None = None
        self.show_root = True
        self.guide_depth = 3
        # Enter opens a node's details; space folds it, so opening never hides the branch.
        self.auto_expand = False

    def on_mount(self) -> None:
        self.border_title = "2 Investigation"

    def show(self, detail: InvestigationDetail | None) -> None:
        """Redraw the tree for an investigation, keeping the cursor line where it was."""
        line = self.cursor_line if self.detail and detail and self.detail.investigation.id == detail.investigation.id else 0
        self.detail = detail
        self.clear()
        if detail is None:
            self.root.set_label(Text("No investigation selected"))
            self.border_subtitle = ""
            return
        investigation = detail.investigation
        label = Text.assemble(status_text(investigation.status.value), " · ", safe(investigation.title, limit=120))
        self.root.set_label(label)
        self.root.data = detail
        self.border_subtitle = f"{investigation.status.value} · {len(detail.entities)} entities"
        children: dict[str, list[Entity]] = {}
        for entity in detail.entities:
            children.setdefault(entity.parent_id, []).append(entity)
        for entity in children.get("", []):
            self._add(self.root, entity, children)
        self.root.expand_all()
        self.cursor_line = min(line, max(self.last_line, 0))

    def _add(
        self, parent: TreeNode[NodeData], entity: Entity, children: dict[str, list[Entity]], *, in_group: bool = False
    ) -> None:
        kids = children.get(entity.id, [])
        label = entity_label(entity, with_kind=not in_group)
        if not kids:
            parent.add_leaf(label, data=entity)
            return
        node = parent.add(label, data=entity)
        grouped = {kind for kind, _ in _GROUPS}
        for kid in kids:
            if kid.kind not in grouped:
                self._add(node, kid, children)
        for kind, title in _GROUPS:
            members = [kid for kid in kids if kid.kind is kind]
            if not members:
                continue
            flagged = sum(1 for kid in members if kid.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS))
            group = node.add(Text(f"{title} ({len(members)}, {flagged} flagged)", style="bold"), data=None)
            for kid in members:
                self._add(group, kid, children, in_group=True)

    def on_tree_node_highlighted(self, event: VimTree.NodeHighlighted) -> None:
        event.stop()
        data = event.node.data
        self.post_message(self.EntityHighlighted(data if isinstance(data, Entity) else None, self.detail))

    def on_tree_node_selected(self, event: VimTree.NodeSelected) -> None:
        event.stop()
        if isinstance(event.node.data, Entity):
            self.post_message(self.EntityOpened(event.node.data))
        elif isinstance(event.node.data, InvestigationDetail):
            self.post_message(self.SummaryOpened(event.node.data))
        else:
            event.node.toggle()


def entity_label(entity: Entity, *, with_kind: bool = True) -> Text:
    """Build a node label: the verdict word, the kind (left out under a group that names it), the entity."""
    label = Text.assemble(verdict_badge(entity.verdict), " ")
    if with_kind:
        label.append(f"{ENTITY_NAMES.get(entity.kind, entity.kind.value)} ", style="bold")
    if entity.kind is EntityKind.CLUSTER:
        # Counts go first, so a narrow pane cuts the long indicator rather than the numbers.
        count = entity.attributes.get("message_count", 0)
        in_mailbox = entity.attributes.get("in_mailbox_now", entity.attributes.get("in_mailbox", 0))
        label.append(f"{count} {'msg' if count == 1 else 'msgs'}, {in_mailbox} in mailbox now · ", style="bold")
    label.append_text(safe(entity.label, limit=90))
    return label


def alert_text(alert: Alert) -> Text:
    """Build the facts of an alert that started no investigation, and what the analyst can do."""
    text = Text()
    text.append(f"{alert.title}\n", style="bold")
    text.append(f"{alert.severity.value} · {alert.status.value} · {alert.occurred:%Y-%m-%d %H:%M} UTC")
    if alert.hit_count > 1:
        text.append(f" · {alert.hit_count} events")
    text.append("\n\n")
    if alert.details:
        text.append(plain(alert.details) + "\n")
    if alert.users:
        text.append("Users: " + plain(", ".join(alert.users)) + "\n")
    text.append("\nThis policy starts no investigation. Check the activity, then press c to resolve the alert with a comment, ", style="dim")
    text.append("or open the explorer (x) and investigate the user's mail (R).\n", style="dim")
    return text


def evidence_text(entity: Entity | None, detail: InvestigationDetail | None) -> Text:
    """Build the evidence lines for an entity, or the investigation summary and log for the root."""
    text = Text()
    if entity is None:
        if detail is None:
            return Text("Select an alert to see its investigation.", style="dim")
        investigation = detail.investigation
        text.append(f"{investigation.status.value}\n", style="bold")
        text.append(f"{investigation.status.explanation}\n", style="dim")
        if investigation.status_reason:
            text.append(plain(investigation.status_reason) + "\n")
        text.append("\nLog\n", style="bold")
        for step in detail.log:
            mark = "✓" if step.outcome == "ok" else "✗"
            text.append(f"{mark} {step.started:%H:%M:%S} {step.name} ({step.duration_ms} ms)\n")
            if step.summary:
                text.append(f"  {plain(step.summary)}\n", style="dim")
        return text
    text.append_text(verdict_badge(entity.verdict))
    text.append(f" {ENTITY_NAMES.get(entity.kind, entity.kind.value)}\n", style="bold")
    text.append(plain(entity.label) + "\n")
    if entity.threats:
        text.append("Threats: " + ", ".join(threat.value for threat in entity.threats) + "\n")
    score = entity.attributes.get("score")
    if isinstance(score, int) and not isinstance(score, bool):
        text.append(f"Score: {score} points from the rules below\n", style="dim")
    text.append("\nEvidence\n", style="bold")
    if not entity.evidence:
        text.append("No evidence recorded.\n", style="dim")
    for item in entity.evidence:
        text.append("• ")
        text.append_text(verdict_badge(item.verdict))
        text.append(" " + plain(item.text) + "\n")
        if item.rule:
            # The rule id is what configuration uses to change the weight.
            text.append(f"  {item.weight:+d} {item.rule} · {plain(item.source)}\n", style="dim")
        elif item.weight:
            text.append(f"  {item.weight:+d} · {plain(item.source)}\n", style="dim")
        elif item.source:
            text.append(f"  {plain(item.source)}\n", style="dim")
    return text
