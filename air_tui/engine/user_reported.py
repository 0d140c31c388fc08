"""The email playbooks: user-reported, removal after delivery and manual email investigations.

Each runs root analysis of its emails, cluster hunting, correlation with clicks and other reports,
and recommendations.
"""

from __future__ import annotations

from dataclasses import dataclass

from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Entity, Evidence
from air_tui.domain.message import Attachment, EmailMessage, Url
from air_tui.domain.investigation import Investigation
from air_tui.domain.vocab import EntityKind, InvestigationStatus, Playbook, Verdict
from air_tui.engine.analyzers import EntityResult, MessageAnalysis, MessageAnalyzer, verdict_words
from air_tui.engine.entity_details import file_attributes, url_attributes
from air_tui.engine import rules
from air_tui.engine.rules import Finding, Rule
from air_tui.intel.online import LookupResult
from air_tui.engine.clustering import cluster_entity, hunt_clusters
from air_tui.engine.context import PlaybookContext
from air_tui.engine.correlation import correlate_clicks, correlate_reports, investigate_mailboxes
from air_tui.engine.findings import Findings, Outcome, alert_entity, count
from air_tui.engine.recommendations import recommend_soft_deletes, unreachable_copies
from air_tui.engine.steps import StepLogger
from air_tui.mail import message_id_for
from air_tui.mail.reports import reported_message

PLAYBOOK_NAME = Playbook.USER_REPORTED.value

EMAIL_PLAYBOOKS = frozenset(
    {
        Playbook.USER_REPORTED,
        Playbook.FILE_REMOVED,
        Playbook.URL_REMOVED,
        Playbook.REMOVED,
        Playbook.REMOVAL_FAILED,
        Playbook.MANUAL_EMAIL,
    }
)

MAX_ROOT_MESSAGES = 10
"""Emails analysed one by one; further emails of a folded alert are covered by the clusters."""


def run(context: PlaybookContext, investigation: Investigation, alerts: list[Alert]) -> Outcome:
    """Run every step of an email playbook for the alerts in scope and return what it found.

    The user-reported, removal-after-delivery and manual email playbooks share these steps: root
    analysis of each email, cluster hunting, correlation with clicks and other reports, and
    recommendations. They differ in where the emails come from and in the first step's name.
    """
    playbook = Playbook(investigation.playbook)
    steps = StepLogger(context, investigation.id)
    findings = Findings()
    alert_entities = [
        findings.add(alert_entity(alert))
        for alert in alerts
    ]
    message_ids = list(dict.fromkeys(message_id for alert in alerts for message_id in alert.message_ids))
    first_step = "User-reported emails indicators extraction" if playbook is Playbook.USER_REPORTED else "Email indicators extraction"
    roots: list[_Root] = []
    with steps.step(first_step) as outcome:
        submission_entities = _submission_entities(context, alerts, findings, alert_entities)
        for message_id in message_ids[:MAX_ROOT_MESSAGES]:
            message = context.messages.load(message_id)
            if message is None:
                continue
            parent = _parent_for(message_id, alerts, alert_entities, submission_entities, context)
            roots.append(_extract(context, findings, message, parent, playbook))
        if not roots:
            outcome.summary = f"The {'reported message is' if playbook is Playbook.USER_REPORTED else 'emails are'} no longer in the tenant."
            return Outcome(InvestigationStatus.NO_THREATS_FOUND, outcome.summary, findings)
        outcome.summary = "; ".join(root.summary for root in roots[:3])
        if len(roots) > 3:
            outcome.summary += f"; {count(len(roots) - 3, 'more email')}"
        if len(message_ids) > MAX_ROOT_MESSAGES:
            outcome.summary += f". {count(len(message_ids) - MAX_ROOT_MESSAGES, 'more email')} of the alert are covered by the clusters"
        outcome.entities_touched = sum(root.touched for root in roots)

    analyzer = MessageAnalyzer(context.organisation, context.users, context.intel, context.scoring)
    url_entities: list[Entity] = []
    file_entities: list[Entity] = []
    for root in roots:
        urls, files = _analyse_root(context, steps, findings, analyzer, root, several=len(roots) > 1)
        url_entities.extend(urls)
        file_entities.extend(files)

    with steps.step("Mail cluster identification") as outcome:
        seen: set[str] = set()
        for root in roots:
            for cluster in hunt_clusters(context, root.message, root.entity, [e for e in url_entities if e.parent_id == root.entity.id], [e for e in file_entities if e.parent_id == root.entity.id]):
                if cluster.id in seen:
                    continue
                seen.add(cluster.id)
                findings.clusters.append(cluster)
                findings.add(cluster_entity(cluster, root.entity.id))
        total = len({mid for cluster in findings.clusters for mid in cluster.message_ids})
        outcome.summary = f"{count(len(findings.clusters), 'cluster')}, {count(total, 'message')} across all mailboxes"
        outcome.entities_touched = len(findings.clusters)
        largest = max((len(cluster.message_ids) for cluster in findings.clusters), default=0)
        if largest > context.settings.max_cluster_messages:
            reason = (
                f"A cluster holds {largest} messages, more than the {context.settings.max_cluster_messages} one investigation "
                "analyses ([investigations] max_cluster_messages). Narrow it down in the explorer."
            )
            outcome.summary += ". " + reason
            return Outcome(InvestigationStatus.TERMINATED_BY_SYSTEM, reason, findings)

    with steps.step("URL clicks investigation") as outcome:
        outcome.summary = correlate_clicks(context, findings, url_entities)

    with steps.step("User reports correlation") as outcome:
        outcome.summary = correlate_reports(context, findings, alerts)

    with steps.step("Recipient mailbox investigation") as outcome:
        checked = 0
        for root in roots:
            checked += investigate_mailboxes(context, findings, root.message, alerts[0])
        outcome.entities_touched = checked
        outcome.summary = f"{count(checked, 'mailbox')} checked"

    with steps.step("Recommended remediation") as outcome:
        findings.actions = recommend_soft_deletes(context, investigation.id, findings.clusters, existing=context.existing_actions)
        outcome.summary = f"{count(len(findings.actions), 'pending action')}"
        outcome.entities_touched = sum(len(action.targets) for action in findings.actions)
        unreachable = unreachable_copies(context, findings.clusters)
        if unreachable:
            outcome.summary += f"; {count(len(unreachable), 'malicious copy')} in on-premises mailboxes, out of reach"

    worst = Verdict.worst([root.entity.verdict for root in roots])
    # The alert and the report take the verdict of what was reported: a report of a clean
    # newsletter is a false alarm, a report of phish was right.
    for entity in (*alert_entities, *submission_entities):
        entity.verdict = worst
        entity.evidence.append(
            Evidence(
                text=f"The {'reported ' if playbook is Playbook.USER_REPORTED else ''}email is {verdict_words(worst)}.",
                verdict=worst,
                source="Verdict roll-up",
            )
        )
    return Outcome(*_status_for([root.entity for root in roots], findings, unreachable_copies(context, findings.clusters), context), findings)


@dataclass
class _Root:
    """One email the playbook starts from, with its entity."""

    message: EmailMessage
    entity: Entity
    summary: str
    touched: int


def _parent_for(message_id: str, alerts: list[Alert], alert_entities: list[Entity], submission_entities: list[Entity], context: PlaybookContext) -> str:
    """Return the id of the report that names the email, else of the alert that names it."""
    for entity in submission_entities:
        if entity.attributes.get("message_id") == message_id:
            return entity.id
    for alert, entity in zip(alerts, alert_entities, strict=True):
        if message_id in alert.message_ids:
            return entity.id
    return alert_entities[0].id


def _extract(context: PlaybookContext, findings: Findings, message: EmailMessage, parent_id: str, playbook: Playbook) -> _Root:
    # A report sent as a new mail with the suspect attached: the attached email is what the user
    # reported, so it is investigated and the reporter's own wrapper is not.
    wrapper = message
    inner = reported_message(message, context.organisation.domains) if playbook is Playbook.USER_REPORTED else None
    if inner is not None:
        message = inner
    entity = findings.add(_message_entity(message, parent_id=parent_id))
    if inner is not None:
        entity.evidence.insert(
            0,
            Evidence(
                text=f"Unwrapped from the report {wrapper.subject or '(no subject)'!r} sent by {wrapper.sender.address}: the attached email is investigated.",
                verdict=Verdict.UNKNOWN,
                source="Report unwrapping",
            ),
        )
    removal = context.removals.get(wrapper.id)
    if removal is not None:
        moved = f"moved from {removal['from_folder']} to {removal['to_folder']}" if removal["result"] == "Succeeded" else f"could not be moved: {removal.get('error') or removal['result']}"
        entity.evidence.insert(
            0,
            Evidence(text=f"Removal after delivery: {removal['reason']} The copy {moved}.", verdict=Verdict.MALICIOUS, source="Removal after delivery"),
        )
    summary = f"{count(len(message.urls), 'URL')}, {count(len(message.attachments), 'attachment')}, sender {message.sender.address or '(none)'}"
    if message.attached_messages:
        summary += f", {count(len(message.attached_messages), 'attached email')}"
    touched = 1 + len(message.urls) + len(message.attachments) + len(message.attached_messages)
    return _Root(message=message, entity=entity, summary=summary, touched=touched)


def _analyse_root(
    context: PlaybookContext, steps: StepLogger, findings: Findings, analyzer: MessageAnalyzer, root: _Root, *, several: bool
) -> tuple[list[Entity], list[Entity]]:
    """Run the sender, IP, content, URL and file steps on one email and roll its verdict up."""
    message, message_entity = root.message, root.entity
    # With several emails, each step name says which one, so the log reads without guessing.
    suffix = f" ({plain_subject(message)})" if several else ""
    with steps.step("Sender domain investigation" + suffix) as outcome:
        earlier = None
        if message.sender.address and message.received_at is not None:
            earlier = context.messages.earlier_from_sender(message.sender.address, message.received_at.isoformat())
        sender_finding = analyzer.sender(message, earlier)
        sender = findings.add(
            _entity(EntityKind.SENDER, message.sender.address or "(no sender)", message.sender.address or "(no sender)", sender_finding, message_entity.id)
        )
        sender.attributes.update(_sender_attributes(message, earlier))
        outcome.summary = f"{sender.verdict.value}: {count(len(sender_finding.evidence), 'fact')}, {sender_finding.score} points"
        outcome.entities_touched = 1

    with steps.step("Sender IP investigation" + suffix) as outcome:
        if message.sender_ip:
            ip_finding = analyzer.finding()
            ip_finding.note(
                f"Originating IP {message.sender_ip} from the Received chain; no local reputation data for it.",
                "Sender IP investigation",
            )
            findings.add(_entity(EntityKind.IP, message.sender_ip, message.sender_ip, ip_finding, message_entity.id))
            outcome.entities_touched = 1
        outcome.summary = message.sender_ip or "No originating IP in the Received chain"

    with steps.step("Email content analysis" + suffix) as outcome:
        content = analyzer.content(message)
        nested = [analyzer.analyse(inner, None, depth=1) for inner in message.attached_messages]
        outcome.summary = f"{count(len([e for e in content.evidence if e.weight > 0]), 'rule')} fired, {content.score} points"
        if nested:
            outcome.summary += f"; {count(len(nested), 'attached email')} analysed"
        outcome.entities_touched = 1 + len(nested)

    url_entities: list[Entity] = []
    url_results: list[EntityResult] = []
    with steps.step("URL reputation investigation" + suffix) as outcome:
        sender_sites = analyzer.sender_sites(message)
        for url in message.urls:
            finding = analyzer.url(url, sender_sites)
            if context.online is not None and not finding.fired(rules.URL_LISTED):
                _ask_online(finding, context.online.check_url(url.unwrapped or url.url), rules.URL_LISTED, "URL")
            url_results.append(EntityResult(finding, url=url))
            url_entities.append(_url_entity(findings, url, finding, message_entity.id))
        malicious = sum(1 for entity in url_entities if entity.verdict is Verdict.MALICIOUS)
        outcome.summary = f"{count(len(url_entities), 'URL')} checked, {malicious} malicious"
        outcome.entities_touched = len(url_entities)

    file_entities: list[Entity] = []
    file_results: list[EntityResult] = []
    with steps.step("File hash reputation" + suffix) as outcome:
        for attachment in message.attachments:
            finding = analyzer.attachment(attachment)
            if context.online is not None and attachment.sha256 and not finding.fired(rules.FILE_LISTED):
                _ask_online(finding, context.online.check_file(attachment.sha256), rules.FILE_LISTED, "File hash")
            file_results.append(EntityResult(finding, attachment=attachment))
            file_entities.append(_file_entity(findings, attachment, finding, message_entity.id))
        malicious = sum(1 for entity in file_entities if entity.verdict is Verdict.MALICIOUS)
        outcome.summary = f"{count(len(file_entities), 'attachment')} checked, {malicious} malicious"
        outcome.entities_touched = len(file_entities)

    analysis = MessageAnalysis(sender=sender_finding, content=content, subject=message.subject, urls=url_results, attachments=file_results, nested=nested)
    analysis.roll_up = analyzer.roll_up(analysis)
    _apply_roll_up(message_entity, analysis)
    # A message removed after delivery was judged by the intel refresh; analysis adds to it, never clears it.
    if any(item.source == "Removal after delivery" for item in message_entity.evidence):
        message_entity.verdict = Verdict.worst([message_entity.verdict, Verdict.MALICIOUS])
    for inner, inner_analysis in zip(message.attached_messages, nested, strict=False):
        _add_nested_message(findings, inner, inner_analysis, message_entity.id)
    return url_entities, file_entities


def plain_subject(message: EmailMessage) -> str:
    subject = message.subject or "(no subject)"
    return subject if len(subject) <= 40 else subject[:39] + "…"


def _submission_entities(context: PlaybookContext, alerts: list[Alert], findings: Findings, alert_entities: list[Entity]) -> list[Entity]:
    entities = []
    for alert, parent in zip(alerts, alert_entities, strict=True):
        for submission in context.submissions:
            if submission.id not in alert.source_ids:
                continue
            entity = Entity(
                id=f"submission:{submission.id}",
                kind=EntityKind.SUBMISSION,
                key=submission.id,
                label=f"Reported as {submission.report_type.value} by {submission.reporter}",
                verdict=Verdict.UNKNOWN,
                parent_id=parent.id,
                attributes={
                    "reporter": submission.reporter,
                    "time": submission.time.isoformat(),
                    "message_id": message_id_for(submission.mailbox, submission.key),
                },
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
        # A threat tag on an entity that is not flagged would contradict its verdict.
        threats=list(finding.threats) if finding.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS) else [],
        evidence=list(finding.evidence),
        parent_id=parent_id,
        attributes={"score": finding.score},
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
            "authentication": [
                f"{result.method}={result.result} ({result.header}{f' i={result.instance}' if result.instance else ''}"
                f"{f' by {result.authserv_id}' if result.authserv_id else ''})"
                for result in message.auth_results[:16]
            ],
            "internet_message_id": message.internet_message_id,
            "originating_ip": message.sender_ip,
            "body_fingerprint": message.body_fingerprint,
            "attached_emails": len(message.attached_messages),
            "parse_status": message.parse_status.value,
        },
    )
    # Every parse warning is a fact the analyst can check against the raw message.
    for warning in message.parse_warnings[:20]:
        entity.evidence.append(Evidence(text=f"Parser: {warning}", verdict=Verdict.UNKNOWN, source="Parser"))
    if len(message.parse_warnings) > 20:
        entity.evidence.append(
            Evidence(text=f"Parser: {len(message.parse_warnings) - 20} more warnings.", verdict=Verdict.UNKNOWN, source="Parser")
        )
    return entity


def _apply_roll_up(message_entity: Entity, analysis: MessageAnalysis) -> None:
    """Give the message the rolled-up verdict, with the content rules and each flagged part as evidence."""
    roll_up = analysis.roll_up
    assert roll_up is not None
    message_entity.verdict = roll_up.verdict
    message_entity.threats = [*message_entity.threats, *(t for t in roll_up.threats if t not in message_entity.threats)]
    message_entity.evidence.extend(roll_up.evidence)
    message_entity.attributes["score"] = roll_up.score
    if roll_up.verdict is Verdict.NO_THREATS_FOUND:
        message_entity.evidence.append(
            Evidence(
                text=f"No rule pushed the score to suspicious ({roll_up.score} points; suspicious from {roll_up.scoring.config.suspicious_score}).",
                verdict=Verdict.NO_THREATS_FOUND,
                source="Verdict roll-up",
            )
        )


def _add_nested_message(findings: Findings, message: EmailMessage, analysis: MessageAnalysis, parent_id: str) -> None:
    """Show an attached email as its own message entity, with its sender, URLs and files under it."""
    entity = findings.add(_message_entity(message, parent_id=parent_id))
    entity.label = f"Attached: {message.subject or '(no subject)'}"
    _apply_roll_up(entity, analysis)
    sender = findings.add(
        _entity(EntityKind.SENDER, message.sender.address or "(no sender)", message.sender.address or "(no sender)", analysis.sender, entity.id)
    )
    sender.attributes.update(_sender_attributes(message, None))
    for result in analysis.urls:
        if result.url is not None:
            _url_entity(findings, result.url, result.finding, entity.id)
    for result in analysis.attachments:
        if result.attachment is not None:
            _file_entity(findings, result.attachment, result.finding, entity.id)


def _url_entity(findings: Findings, url: Url, finding: Finding, parent_id: str) -> Entity:
    entity = findings.add(_entity(EntityKind.URL, url.url, url.url, finding, parent_id))
    entity.attributes.update(url_attributes(url))
    return entity


def _file_entity(findings: Findings, attachment: Attachment, finding: Finding, parent_id: str) -> Entity:
    label = attachment.filename or f"(unnamed {attachment.content_type})"
    entity = findings.add(_entity(EntityKind.FILE, attachment.sha256 or label, label, finding, parent_id))
    entity.attributes.update(file_attributes(attachment))
    return entity


def _ask_online(finding: Finding, result: LookupResult, rule: Rule, kind: str) -> None:
    """Add the online services' results: a listing fires the rule, anything else becomes a note."""
    if result.match is not None:
        finding.fire(rule, result.match.describe(kind) + " (online look-up).")
        return
    details = "; ".join(f"{item.service}: {item.detail or item.status.value}" for item in result.results)
    finding.note(f"Online look-up: {result.status.value}" + (f" ({details})." if details else "."), "Online reputation")


def _sender_attributes(message: EmailMessage, earlier: int | None) -> dict[str, str | int | bool | list[str]]:
    attributes: dict[str, str | int | bool | list[str]] = {
        "display_name": message.sender.display_name,
        "return_path": message.return_path,
        "reply_to": [address.address for address in message.reply_to if address.address],
        "dkim_domains": list(message.dkim_domains),
        "originating_ip": message.sender_ip,
    }
    if earlier is not None:
        attributes["earlier_messages"] = earlier
    return attributes


def _status_for(roots: list[Entity], findings: Findings, unreachable: list[str], context: PlaybookContext) -> tuple[InvestigationStatus, str]:
    if findings.actions:
        waiting = len(findings.actions)
        return InvestigationStatus.PENDING_ACTION, f"{waiting} remediation {'action waits' if waiting == 1 else 'actions wait'} for approval."
    if unreachable:
        return (
            InvestigationStatus.PARTIALLY_INVESTIGATED,
            f"{count(len(unreachable), 'malicious copy')} {'sits' if len(unreachable) == 1 else 'sit'} in on-premises mailboxes, "
            "out of reach of any action here: remove them in Exchange on premises.",
        )
    worst = Verdict.worst([entity.verdict for entity in roots])
    malicious_clusters = [c for c in findings.clusters if c.verdict is Verdict.MALICIOUS]
    if worst is Verdict.MALICIOUS or malicious_clusters:
        return InvestigationStatus.REMEDIATED, "The threat was found, but no malicious copy is left in a mailbox."
    # Mailbox findings such as external forwarding stay visible as evidence, but a clean report
    # is still a false alarm: they belong to the recipient, not to the reported message.
    if worst is Verdict.SUSPICIOUS:
        return InvestigationStatus.PARTIALLY_INVESTIGATED, "Suspicious findings that no remediation action can clean up."
    flagged = sorted(
        entity.key for entity in findings.entities.values() if entity.kind is EntityKind.MAILBOX and entity.verdict is Verdict.SUSPICIOUS
    )
    if flagged:
        return (
            InvestigationStatus.NO_THREATS_FOUND,
            f"The email is clean. {count(len(flagged), 'mailbox')} in scope {'has' if len(flagged) == 1 else 'have'} "
            f"suspicious settings or activity of its own ({', '.join(flagged)}): see Mailboxes.",
        )
    return InvestigationStatus.NO_THREATS_FOUND, "No analyzer found anything malicious or suspicious."
