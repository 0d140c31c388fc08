"""The user-reported message playbook: root analysis, cluster hunting, correlation, recommendations."""

from __future__ import annotations

from dataclasses import dataclass

from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Cluster, Entity, Evidence
from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import EntityKind, InvestigationStatus, ThreatType, Verdict
from air_tui.engine.analyzers import Finding, analyse_attachment, analyse_sender, analyse_url
from air_tui.engine.clustering import (
    CLUSTER_BY_FILE,
    CLUSTER_BY_SENDER_SUBJECT,
    CLUSTER_BY_URL,
    CLUSTER_BY_URL_DOMAIN,
    build_cluster,
    describe_cluster,
)
from air_tui.engine.context import PlaybookContext
from air_tui.engine.correlation import correlate_clicks, investigate_mailboxes
from air_tui.engine.findings import ENTITY_NAMES, Findings, count
from air_tui.engine.recommendations import recommend_soft_deletes
from air_tui.engine.steps import StepLogger

PLAYBOOK_NAME = "User-reported message"


@dataclass
class Outcome:
    status: InvestigationStatus
    reason: str
    findings: Findings


def run(context: PlaybookContext, investigation_id: str, alert: Alert) -> Outcome:
    """Run every step for one alert and return the findings and the status they lead to."""
    steps = StepLogger(context, investigation_id)
    findings = Findings()
    alert_entity = findings.add(
        Entity(id=f"alert:{alert.id}", kind=EntityKind.ALERT, key=alert.id, label=alert.title, verdict=Verdict.UNKNOWN)
    )

    with steps.step("User-reported emails indicators extraction") as outcome:
        message = _reported_message(context, alert)
        submission_entities = _submission_entities(context, alert, findings, alert_entity.id)
        if message is None:
            outcome.summary = "The reported message is no longer in the tenant."
            return Outcome(InvestigationStatus.NO_THREATS_FOUND, outcome.summary, findings)
        message_entity = findings.add(_message_entity(message, parent_id=submission_entities[0].id if submission_entities else alert_entity.id))
        outcome.summary = f"{count(len(message.urls), 'URL')}, {count(len(message.attachments), 'attachment')}, sender {message.sender.address or '(none)'}"
        outcome.entities_touched = 1 + len(message.urls) + len(message.attachments)

    with steps.step("Sender domain investigation") as outcome:
        sender_finding = analyse_sender(message, context.organisation, context.users, context.intel)
        sender = findings.add(
            _entity(EntityKind.SENDER, message.sender.address or "(no sender)", message.sender.address or "(no sender)", sender_finding, message_entity.id)
        )
        sender.attributes["display_name"] = message.sender.display_name
        if message.sender.address and message.received_at is not None:
            earlier = context.messages.earlier_from_sender(message.sender.address, message.received_at.isoformat())
            sender.attributes["earlier_messages"] = earlier
            if earlier == 0:
                # A weak signal on its own, as Microsoft's first-contact safety tip is: shown, never decisive.
                sender.evidence.append(
                    Evidence(
                        text=f"First contact: no earlier message from {message.sender.address} in the tenant.",
                        verdict=Verdict.UNKNOWN,
                        source="Sender history",
                    )
                )
        outcome.summary = f"{sender.verdict.value}: {count(len(sender_finding.evidence), 'fact')}"
        outcome.entities_touched = 1

    with steps.step("Sender IP investigation") as outcome:
        if message.sender_ip:
            ip_finding = Finding()
            ip_finding.add(
                f"Originating IP {message.sender_ip} from the Received chain; no local reputation data for it.",
                Verdict.UNKNOWN,
                "Sender IP investigation",
            )
            findings.add(_entity(EntityKind.IP, message.sender_ip, message.sender_ip, ip_finding, message_entity.id))
            outcome.entities_touched = 1
        outcome.summary = message.sender_ip or "No originating IP in the Received chain"

    url_entities: list[Entity] = []
    with steps.step("URL reputation investigation") as outcome:
        for url in message.urls:
            finding = analyse_url(url, context.intel)
            entity = findings.add(_entity(EntityKind.URL, url.url, url.url, finding, message_entity.id))
            entity.attributes["host"] = url.host
            entity.attributes["registrable_domain"] = url.registrable_domain
            if url.unwrapped:
                entity.attributes["unwrapped"] = url.unwrapped
                entity.attributes["unwrapped_domain"] = url.unwrapped_domain
                entity.attributes["wrappers"] = list(url.wrappers)
            url_entities.append(entity)
        malicious = sum(1 for entity in url_entities if entity.verdict is Verdict.MALICIOUS)
        outcome.summary = f"{count(len(url_entities), 'URL')} checked, {malicious} malicious"
        outcome.entities_touched = len(url_entities)

    file_entities: list[Entity] = []
    with steps.step("File hash reputation") as outcome:
        for attachment in message.attachments:
            finding = analyse_attachment(attachment, context.intel)
            label = attachment.filename or f"(unnamed {attachment.content_type})"
            entity = findings.add(_entity(EntityKind.FILE, attachment.sha256 or label, label, finding, message_entity.id))
            entity.attributes.update({"sha256": attachment.sha256, "content_type": attachment.content_type, "size": attachment.size})
            file_entities.append(entity)
        malicious = sum(1 for entity in file_entities if entity.verdict is Verdict.MALICIOUS)
        outcome.summary = f"{count(len(file_entities), 'attachment')} checked, {malicious} malicious"
        outcome.entities_touched = len(file_entities)

    _roll_up_message(message_entity, [sender, *url_entities, *file_entities])

    with steps.step("Mail cluster identification") as outcome:
        findings.clusters = _hunt_clusters(context, message, message_entity, url_entities, file_entities)
        for cluster in findings.clusters:
            findings.add(_cluster_entity(cluster, message_entity.id))
        total = len({mid for cluster in findings.clusters for mid in cluster.message_ids})
        outcome.summary = f"{count(len(findings.clusters), 'cluster')}, {count(total, 'message')} across all mailboxes"
        outcome.entities_touched = len(findings.clusters)

    with steps.step("URL clicks investigation") as outcome:
        outcome.summary = correlate_clicks(context, findings, url_entities)

    with steps.step("Recipient mailbox investigation") as outcome:
        outcome.entities_touched = investigate_mailboxes(context, findings, message, alert)
        outcome.summary = f"{count(outcome.entities_touched, 'mailbox')} checked"

    with steps.step("Recommended remediation") as outcome:
        findings.actions = recommend_soft_deletes(context, investigation_id, findings.clusters)
        outcome.summary = f"{count(len(findings.actions), 'pending action')}"
        outcome.entities_touched = sum(len(action.targets) for action in findings.actions)

    # The alert and the report take the verdict of what was reported: a report of a clean
    # newsletter is a false alarm, a report of phish was right.
    for entity in (alert_entity, *submission_entities):
        entity.verdict = message_entity.verdict
        entity.evidence.append(
            Evidence(
                text=f"The reported email is {message_entity.verdict.value.lower()}.",
                verdict=message_entity.verdict,
                source="Verdict roll-up",
            )
        )
    return Outcome(*_status_for(message_entity, findings), findings)


def _reported_message(context: PlaybookContext, alert: Alert) -> EmailMessage | None:
    for message_id in alert.message_ids:
        message = context.messages.load(message_id)
        if message is not None:
            return message
    return None


def _submission_entities(context: PlaybookContext, alert: Alert, findings: Findings, parent_id: str) -> list[Entity]:
    entities = []
    for submission in context.submissions:
        if submission.id not in alert.source_ids:
            continue
        entity = Entity(
            id=f"submission:{submission.id}",
            kind=EntityKind.SUBMISSION,
            key=submission.id,
            label=f"Reported as {submission.report_type.value} by {submission.reporter}",
            verdict=Verdict.UNKNOWN,
            parent_id=parent_id,
            attributes={"reporter": submission.reporter, "time": submission.time.isoformat()},
        )
        entities.append(findings.add(entity))
    return entities


def _entity(kind: EntityKind, key: str, label: str, finding: Finding, parent_id: str) -> Entity:
    return Entity(
        id=f"{kind.value}:{key}",
        kind=kind,
        key=key,
        label=label,
        verdict=finding.verdict,
        threats=list(finding.threats),
        evidence=list(finding.evidence),
        parent_id=parent_id,
    )


def _message_entity(message: EmailMessage, parent_id: str) -> Entity:
    entity = Entity(
        id=f"message:{message.id}",
        kind=EntityKind.MESSAGE,
        key=message.id,
        label=message.subject or "(no subject)",
        parent_id=parent_id,
        attributes={
            "mailbox": message.location.mailbox,
            "folder": message.location.folder,
            "sender": message.sender.address,
            "recipients": [address.address for address in message.recipients if address.address],
            "received": message.received_at.isoformat() if message.received_at else "",
            "authentication": " ".join(f"{result.method}={result.result}" for result in message.auth_results[:8]),
            "internet_message_id": message.internet_message_id,
        },
    )
    if message.parse_warnings:
        entity.evidence.append(
            Evidence(
                text=f"Parsed with {len(message.parse_warnings)} warnings: {message.parse_warnings[0]}",
                verdict=Verdict.UNKNOWN,
                source="Parser",
            )
        )
    return entity


def _roll_up_message(message_entity: Entity, children: list[Entity]) -> None:
    """Give the message the worst verdict of its parts, with one evidence line per finding."""
    for child in children:
        for threat in child.threats:
            if threat not in message_entity.threats:
                message_entity.threats.append(threat)
        if child.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS):
            message_entity.evidence.append(
                Evidence(text=f"{ENTITY_NAMES[child.kind]} {child.label} is {child.verdict.value.lower()}.", verdict=child.verdict, source="Verdict roll-up")
            )
    verdicts = [child.verdict for child in children if child.verdict is not Verdict.UNKNOWN]
    message_entity.verdict = Verdict.worst(verdicts) if verdicts else Verdict.NO_THREATS_FOUND
    if message_entity.verdict is Verdict.NO_THREATS_FOUND:
        message_entity.evidence.append(
            Evidence(text="No analyzer found anything malicious or suspicious.", verdict=Verdict.NO_THREATS_FOUND, source="Verdict roll-up")
        )


def _hunt_clusters(
    context: PlaybookContext,
    message: EmailMessage,
    message_entity: Entity,
    url_entities: list[Entity],
    file_entities: list[Entity],
) -> list[Cluster]:
    index = context.messages
    clusters: list[Cluster] = []
    seen: set[tuple[str, str]] = set()

    def add(cluster_by: str, value: str, members: list[str], verdict: Verdict, threats: list[ThreatType]) -> None:
        if (cluster_by, value) in seen or not members:
            return
        seen.add((cluster_by, value))
        clusters.append(build_cluster(index, cluster_by, value, members, verdict, threats))

    for entity in file_entities:
        sha256 = str(entity.attributes.get("sha256", ""))
        if sha256 and entity.verdict in (Verdict.MALICIOUS, Verdict.SUSPICIOUS):
            add(CLUSTER_BY_FILE, sha256, index.ids_with_attachment(sha256), entity.verdict, entity.threats)
    for entity in url_entities:
        if entity.verdict is not Verdict.MALICIOUS:
            continue
        add(CLUSTER_BY_URL, entity.key, index.ids_with_url(entity.key), entity.verdict, entity.threats)
        destination = str(entity.attributes.get("unwrapped", ""))
        if destination:
            add(CLUSTER_BY_URL, destination, index.ids_with_url(destination), entity.verdict, entity.threats)
        for attribute in ("registrable_domain", "unwrapped_domain"):
            domain = str(entity.attributes.get(attribute, ""))
            if domain and context.intel.lookup_domain(domain) is not None:
                add(CLUSTER_BY_URL_DOMAIN, domain, index.ids_with_url_domain(domain), entity.verdict, entity.threats)
    if message.sender.domain:
        members = index.ids_with_sender_and_subject(message.sender.domain, message.subject)
        add(
            CLUSTER_BY_SENDER_SUBJECT,
            f"{message.sender.domain} | {message.subject}",
            members,
            message_entity.verdict,
            list(message_entity.threats),
        )
    return clusters


def _cluster_entity(cluster: Cluster, parent_id: str) -> Entity:
    entity = Entity(
        id=f"cluster:{cluster.id}",
        kind=EntityKind.CLUSTER,
        key=cluster.id,
        label=describe_cluster(cluster),
        verdict=cluster.verdict,
        threats=list(cluster.threats),
        parent_id=parent_id,
        attributes={
            "message_count": len(cluster.message_ids),
            "in_mailbox": cluster.in_mailbox_count,
            "mailbox_count": len(cluster.mailboxes),
            "mailboxes": list(cluster.mailboxes),
        },
    )
    folders = ", ".join(f"{folder} {number}" for folder, number in cluster.counts_by_folder.items())
    entity.evidence.append(
        Evidence(
            text=f"{count(len(cluster.message_ids), 'message')} in {count(len(cluster.mailboxes), 'mailbox')} ({folders}).",
            verdict=cluster.verdict,
            source="Mail cluster identification",
        )
    )
    return entity


def _status_for(message_entity: Entity, findings: Findings) -> tuple[InvestigationStatus, str]:
    if findings.actions:
        waiting = len(findings.actions)
        return InvestigationStatus.PENDING_ACTION, f"{waiting} remediation {'action waits' if waiting == 1 else 'actions wait'} for approval."
    malicious_clusters = [c for c in findings.clusters if c.verdict is Verdict.MALICIOUS]
    if message_entity.verdict is Verdict.MALICIOUS or malicious_clusters:
        return InvestigationStatus.REMEDIATED, "The threat was found, but no malicious copy is left in a mailbox."
    # Mailbox findings such as external forwarding stay visible as evidence, but a clean report
    # is still a false alarm: they belong to the recipient, not to the reported message.
    if message_entity.verdict is Verdict.SUSPICIOUS:
        return InvestigationStatus.PARTIALLY_INVESTIGATED, "Suspicious findings that no remediation action can clean up."
    flagged = sorted(
        entity.key for entity in findings.entities.values() if entity.kind is EntityKind.MAILBOX and entity.verdict is Verdict.SUSPICIOUS
    )
    if flagged:
        return (
            InvestigationStatus.NO_THREATS_FOUND,
            f"The reported email is clean. {count(len(flagged), 'mailbox')} in scope {'has' if len(flagged) == 1 else 'have'} "
            f"suspicious settings or activity of its own ({', '.join(flagged)}): see Mailboxes.",
        )
    return InvestigationStatus.NO_THREATS_FOUND, "No analyzer found anything malicious or suspicious."
