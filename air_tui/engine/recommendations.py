"""Recommendations: which clusters get a remediation action and on which messages, and which mailbox settings are removed."""

from __future__ import annotations

from air_tui.domain.action import ActionTarget, PendingAction, SettingTarget
from air_tui.domain.investigation import Cluster
from air_tui.domain.vocab import IN_MAILBOX_FOLDERS, ActionType, Verdict
from air_tui.engine.clustering import describe_cluster
from air_tui.engine.context import PlaybookContext


def recommend_soft_deletes(
    context: PlaybookContext, investigation_id: str, clusters: list[Cluster], *, existing: list[PendingAction] | None = None
) -> list[PendingAction]:
    """Recommend one soft delete per malicious cluster that still has members in a mailbox.

    A message in several clusters is targeted once, by the first cluster that contains it, so
    the counts an analyst approves add up. Clusters and messages that an `existing` action of
    the investigation already covers (from a run before its scope widened) are left out.
    Copies in on-premises mailboxes are left out too: no action here reaches them.
    """
    actions: list[PendingAction] = []
    earlier = existing or []
    targeted: set[str] = {target.message_id for action in earlier for target in action.targets}
    covered_clusters = {action.cluster_id for action in earlier if action.cluster_id}
    on_premises = _on_premises(context)
    for cluster in clusters:
        # A malicious verdict already needs 100 points of evidence, whatever the threat tag; a
        # suspicious cluster gets no action, as in Microsoft's AIR.
        if cluster.verdict is not Verdict.MALICIOUS or cluster.id in covered_clusters:
            continue
        locations = context.messages.locations(cluster.message_ids)
        in_mailbox = [
            ActionTarget(message_id=message_id, mailbox=mailbox, folder=folder)
            for message_id, (mailbox, folder) in sorted(locations.items())
            if folder in IN_MAILBOX_FOLDERS and mailbox.lower() not in on_premises
        ]
        targets = [target for target in in_mailbox if target.message_id not in targeted]
        if not targets:
            continue
        overlap = len(in_mailbox) - len(targets)
        targeted.update(target.message_id for target in targets)
        actions.append(
            PendingAction(
                id=context.new_id(),
                investigation_id=investigation_id,
                action_type=ActionType.SOFT_DELETE,
                created=context.clock(),
                cluster_id=cluster.id,
                title=describe_cluster(cluster),
                targets=targets,
                overlap_count=overlap,
            )
        )
    return actions


def _on_premises(context: PlaybookContext) -> set[str]:
    return {user.address.lower() for user in context.users if user.mailbox_location.lower() == "on-premises"}


def unreachable_copies(context: PlaybookContext, clusters: list[Cluster]) -> list[str]:
    """Ids of malicious cluster members still in a mailbox that is on premises, out of reach."""
    on_premises = _on_premises(context)
    if not on_premises:
        return []
    found: set[str] = set()
    for cluster in clusters:
        if cluster.verdict is not Verdict.MALICIOUS:
            continue
        for message_id, (mailbox, folder) in context.messages.locations(cluster.message_ids).items():
            if folder in IN_MAILBOX_FOLDERS and mailbox.lower() in on_premises:
                found.add(message_id)
    return sorted(found)


def recommend_setting_removal(context: PlaybookContext, investigation_id: str, action_type: ActionType, setting: SettingTarget) -> PendingAction:
    """Recommend removing one mailbox setting: forwarding, an inbox rule or a delegation.

    Raises:
        ValueError: `action_type` moves or deletes messages instead of changing a setting.
    """
    if action_type.on_messages:
        raise ValueError(f"{action_type.value} acts on messages, not on a mailbox setting; use it with message targets.")
    return PendingAction(
        id=context.new_id(),
        investigation_id=investigation_id,
        action_type=action_type,
        created=context.clock(),
        title=f"{setting.mailbox}: {setting.description}",
        setting=setting,
    )
