"""Recommendations: which clusters get a remediation action, and on which messages."""

from __future__ import annotations

from air_tui.domain.action import ActionTarget, PendingAction
from air_tui.domain.investigation import Cluster
from air_tui.domain.vocab import IN_MAILBOX_FOLDERS, ActionType, Verdict
from air_tui.engine.clustering import describe_cluster
from air_tui.engine.context import PlaybookContext



def recommend_soft_deletes(context: PlaybookContext, investigation_id: str, clusters: list[Cluster]) -> list[PendingAction]:
    """Recommend one soft delete per malicious cluster that still has members in a mailbox.

    A message in several clusters is targeted once, by the first cluster that contains it, so
    the counts an analyst approves add up.
    """
    actions: list[PendingAction] = []
    targeted: set[str] = set()
    for cluster in clusters:
        # A malicious verdict already needs 100 points of evidence, whatever the threat tag; a
        # suspicious cluster gets no action, as in Microsoft's AIR.
        if cluster.verdict is not Verdict.MALICIOUS:
            continue
        locations = context.messages.locations(cluster.message_ids)
        in_mailbox = [
            ActionTarget(message_id=message_id, mailbox=mailbox, folder=folder)
            for message_id, (mailbox, folder) in sorted(locations.items())
            if folder in IN_MAILBOX_FOLDERS
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
