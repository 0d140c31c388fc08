"""Email clusters: every message across all mailboxes that shares an indicator or is a near-copy.

Indicator clusters gather messages with the same attachment, the same URL or a listed URL
domain. Similarity clusters gather messages like the reported one on four attribute pairs, as
Microsoft Defender for Office 365 AIR does: similar body and sender IP, similar body and sender
domain, subject and sender domain, subject and sender IP. Bodies are similar when their fingerprints are at most
`SAME_BODY_MAX_DISTANCE` bits apart and their word shingles overlap by `SAME_BODY_MIN_JACCARD`
or more. Subjects are compared without reply prefixes, case and numbers.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from air_tui.domain.investigation import Cluster, Entity, Evidence
from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import EntityKind, ThreatType, Verdict
from air_tui.engine.context import MessageIndex, PlaybookContext
from air_tui.mail.fingerprint import jaccard, shingles

CLUSTER_BY_FILE = "file_hash"
CLUSTER_BY_URL = "url"
CLUSTER_BY_URL_DOMAIN = "url_domain"
CLUSTER_BY_BODY_SENDER_IP = "body_fingerprint+sender_ip"
CLUSTER_BY_BODY_SENDER_DOMAIN = "body_fingerprint+sender_domain"
CLUSTER_BY_SENDER_SUBJECT = "sender_domain+subject"
CLUSTER_BY_SENDER_IP_SUBJECT = "sender_ip+subject"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
CLUSTER_BY_OUTBOUND = "outbound_sender"
"""Cluster of the mail a user sent: informational and never remediated, because it left the organisation."""

CLUSTER_NAMES = {
    CLUSTER_BY_FILE: "Same attachment",
    CLUSTER_BY_URL: "Same URL",
    CLUSTER_BY_URL_DOMAIN: "Same URL domain",
    CLUSTER_BY_BODY_SENDER_IP: "Similar body from the same sender IP",
    CLUSTER_BY_BODY_SENDER_DOMAIN: "Similar body from the same sender domain",
    CLUSTER_BY_SENDER_SUBJECT: "Same subject from the same sender domain",
    CLUSTER_BY_SENDER_IP_SUBJECT: "Same subject from the same sender IP",
    CLUSTER_BY_OUTBOUND: "Sent by the user",
}
"""Readable name of each `Cluster.cluster_by` value."""

SAME_BODY_MAX_DISTANCE = 11
"""Largest Hamming distance, in bits of 64, between fingerprints of candidate near-copies.

This is the most the band index finds. Copies with one sentence changed measured up to 9 bits
apart (see `air_tui.mail.fingerprint`), but so did unrelated notes sharing a long signature, so
the distance only selects candidates and `SAME_BODY_MIN_JACCARD` decides."""

SAME_BODY_MIN_JACCARD = 0.6
"""Smallest share of 3-word shingles two bodies must have in common to count as the same.

Measured 0.70 or more for copies with one sentence changed, 0.43 or less for unrelated notes
sharing a signature."""


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
    return f"{CLUSTER_NAMES.get(cluster.cluster_by, cluster.cluster_by)}: {cluster.value}"


def cluster_entity(cluster: Cluster, parent_id: str) -> Entity:
    """Build the entity for a cluster, with its counts frozen at investigation time as evidence."""
    messages = len(cluster.message_ids)
    mailboxes = len(cluster.mailboxes)
    folders = ", ".join(f"{folder} {number}" for folder, number in cluster.counts_by_folder.items())
    return Entity(
        id=f"cluster:{cluster.id}",
        kind=EntityKind.CLUSTER,
        key=cluster.id,
        label=describe_cluster(cluster),
        verdict=cluster.verdict,
        threats=list(cluster.threats),
        parent_id=parent_id,
        attributes={
            "message_count": messages,
            "in_mailbox": cluster.in_mailbox_count,
            "mailbox_count": mailboxes,
            "mailboxes": list(cluster.mailboxes),
        },
        evidence=[
            Evidence(
                text=f"{messages} {'message' if messages == 1 else 'messages'} in {mailboxes} {'mailbox' if mailboxes == 1 else 'mailboxes'} ({folders}).",
                verdict=cluster.verdict,
                source="Mail cluster identification",
            )
        ],
    )


def hunt_clusters(
    context: PlaybookContext,
    message: EmailMessage,
    message_entity: Entity,
    url_entities: list[Entity],
    file_entities: list[Entity],
) -> list[Cluster]:
    """Build every cluster of the reported message, indicator clusters first.

    Indicator clusters exist only for indicators found malicious (a suspicious attachment is
    enough) or, for URL domains, listed in the intel, and take that indicator's verdict.
    Similarity clusters are built whatever the verdict and take the reported message's: a
    cluster is malicious only when its members are, so copies of a clean newsletter stay clean.
    A similarity cluster is left out when the message has no body fingerprint, sender IP,
    sender domain or subject for it. Otherwise it contains at least the reported message.

    Args:
        context: The playbook inputs; `context.messages` serves the look-ups.
        message: The reported message.
        message_entity: Its entity, with the verdict and threats rolled up from its parts.
        url_entities: Entities of the message's URLs, with `registrable_domain`, `unwrapped` and
            `unwrapped_domain` attributes where known.
        file_entities: Entities of its attachments, with a `sha256` attribute.

    Returns:
        Clusters in a stable order, none repeated; the first cluster holding a message decides
        which remediation action targets it.
    """
    hunt = _ClusterHunt(context.messages)
    for entity in file_entities:
        sha256 = str(entity.attributes.get("sha256", ""))
        # Every empty file has the same hash, so it ties unrelated mail together.
        if sha256 and sha256 != EMPTY_SHA256 and entity.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS):
            hunt.add(CLUSTER_BY_FILE, sha256, hunt.index.ids_with_attachment(sha256), entity.verdict, entity.threats)
    for entity in url_entities:
        if entity.verdict is not Verdict.MALICIOUS:
            continue
        hunt.add(CLUSTER_BY_URL, entity.key, hunt.index.ids_with_url(entity.key), entity.verdict, entity.threats)
        destination = str(entity.attributes.get("unwrapped", ""))
        if destination:
            hunt.add(CLUSTER_BY_URL, destination, hunt.index.ids_with_url(destination), entity.verdict, entity.threats)
        for attribute in ("registrable_domain", "unwrapped_domain"):
            domain = str(entity.attributes.get(attribute, ""))
            if domain and context.intel.lookup_domain(domain) is not None:
                hunt.add(CLUSTER_BY_URL_DOMAIN, domain, hunt.index.ids_with_url_domain(domain), entity.verdict, entity.threats)
    _add_similarity_clusters(hunt, message, message_entity)
    return hunt.clusters


def _add_similarity_clusters(hunt: _ClusterHunt, message: EmailMessage, message_entity: Entity) -> None:
    index = hunt.index
    verdict = message_entity.verdict
    threats = list(message_entity.threats)
    domain = message.sender.domain
    address = message.sender_ip
    fingerprint = message.body_fingerprint
    subject = " ".join(message.subject.split())
    if fingerprint and address:
        candidates = index.ids_with_similar_body(fingerprint, SAME_BODY_MAX_DISTANCE, sender_ip=address)
        members = hunt.same_body(message, candidates)
        hunt.add(CLUSTER_BY_BODY_SENDER_IP, f"{address} | body {fingerprint}", members, verdict, threats)
    if fingerprint and domain:
        candidates = index.ids_with_similar_body(fingerprint, SAME_BODY_MAX_DISTANCE, sender_domain=domain)
        members = hunt.same_body(message, candidates)
        hunt.add(CLUSTER_BY_BODY_SENDER_DOMAIN, f"{domain} | body {fingerprint}", members, verdict, threats)
    if subject and domain:
        members = index.ids_with_subject(message.subject, sender_domain=domain)
        hunt.add(CLUSTER_BY_SENDER_SUBJECT, f"{domain} | {subject}", members, verdict, threats)
    if subject and address:
        members = index.ids_with_subject(message.subject, sender_ip=address)
        hunt.add(CLUSTER_BY_SENDER_IP_SUBJECT, f"{address} | {subject}", members, verdict, threats)


class _ClusterHunt:
    """Clusters found so far, each (cluster_by, value) pair once."""

    def __init__(self, index: MessageIndex) -> None:
        self.index = index
        self.clusters: list[Cluster] = []
        self._seen: set[tuple[str, str]] = set()
        self._shingles: dict[str, frozenset[str]] = {}

    def same_body(self, message: EmailMessage, candidate_ids: list[str]) -> list[str]:
        """Return the candidates whose body shares enough shingles with the message's."""
        if message.id not in self._shingles:
            self._shingles[message.id] = shingles(message.body_text)
        missing = [message_id for message_id in candidate_ids if message_id not in self._shingles]
        for message_id, text in self.index.body_texts(missing).items():
            self._shingles[message_id] = shingles(text)
        reported = self._shingles[message.id]
        return [
            message_id
            for message_id in candidate_ids
            if message_id == message.id or jaccard(reported, self._shingles.get(message_id, frozenset())) >= SAME_BODY_MIN_JACCARD
        ]

    def add(self, cluster_by: str, value: str, members: list[str], verdict: Verdict, threats: list[ThreatType]) -> None:
        if (cluster_by, value) in self._seen or not members:
            return
        self._seen.add((cluster_by, value))
        self.clusters.append(build_cluster(self.index, cluster_by, value, members, verdict, list(threats)))
