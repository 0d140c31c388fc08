"""Email clusters: every message across all mailboxes that shares an indicator with the reported one."""

from __future__ import annotations

import hashlib
from collections import Counter

from air_tui.domain.investigation import Cluster
from air_tui.domain.vocab import ThreatType, Verdict
from air_tui.engine.context import MessageIndex

CLUSTER_BY_FILE = "file_hash"
CLUSTER_BY_URL = "url"
CLUSTER_BY_URL_DOMAIN = "url_domain"
CLUSTER_BY_SENDER_SUBJECT = "sender_domain+subject"


def cluster_id(cluster_by: str, value: str) -> str:
    digest = hashlib.sha256(f"{cluster_by}\n{value}".encode()).hexdigest()[:12]
    return f"cluster-{digest}"


def build_cluster(
    index: MessageIndex,
    cluster_by: str,
    value: str,
    message_ids: list[str],
    verdict: Verdict,
    threats: list[ThreatType],
) -> Cluster:
    """Freeze a cluster's membership and where each member sits now."""
    locations = index.locations(sorted(set(message_ids)))
    counts = Counter(folder for _, folder in locations.values())
    return Cluster(
        id=cluster_id(cluster_by, value),
        cluster_by=cluster_by,
        value=value,
        verdict=verdict,
        threats=threats,
        message_ids=sorted(locations),
        counts_by_folder=dict(sorted(counts.items())),
        mailboxes=sorted({mailbox for mailbox, _ in locations.values()}),
    )


def describe_cluster(cluster: Cluster) -> str:
    kinds = {
        CLUSTER_BY_FILE: "Same attachment",
        CLUSTER_BY_URL: "Same URL",
        CLUSTER_BY_URL_DOMAIN: "Same URL domain",
        CLUSTER_BY_SENDER_SUBJECT: "Same sender domain and subject",
    }
    return f"{kinds.get(cluster.cluster_by, cluster.cluster_by)}: {cluster.value}"
