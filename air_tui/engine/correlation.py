"""Correlation steps: clicks on URLs in scope, and the settings of the mailboxes involved."""

from __future__ import annotations

from urllib.parse import urlsplit

from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Entity, Evidence
from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import EntityKind, Verdict
from air_tui.engine.context import PlaybookContext
from air_tui.engine.findings import Findings, count
from air_tui.mail import message_id_for


def correlate_clicks(context: PlaybookContext, findings: Findings, url_entities: list[Entity]) -> str:
    """Attach every click on a URL in scope, or on another URL of a malicious domain in scope."""
    by_url = {entity.key: entity for entity in url_entities}
    # A click elsewhere on a domain counts only when the domain itself is listed, because a listed
    # URL on a shortener or a shared host is no evidence about other links there.
    malicious_domains = {
        str(entity.attributes.get(attribute, "")): entity
        for entity in url_entities
        for attribute in ("registrable_domain", "unwrapped_domain")
        if entity.attributes.get(attribute) and any(item.rule == "url.domain_listed" for item in entity.evidence)
    }
    by_url.update({str(entity.attributes["unwrapped"]): entity for entity in url_entities if entity.attributes.get("unwrapped")})
    hits = 0
    for click in context.clicks:
        entity = by_url.get(click.url) or _entity_for_domain(click.url, malicious_domains)
        if entity is None:
            continue
        hits += 1
        verdict = Verdict.MALICIOUS if entity.verdict is Verdict.MALICIOUS else Verdict.UNKNOWN
        clicked = "it" if click.url == entity.key else f"{click.url} on the same domain"
        entity.evidence.append(
            Evidence(
                text=f"{click.user} clicked {clicked} at {click.time:%Y-%m-%d %H:%M} UTC ({click.action.replace('_', ' ')}).",
                verdict=verdict,
                source="URL clicks investigation",
            )
        )
        # The clicker's mailbox sits with the other mailboxes under the email; the click is on the URL.
        mailbox = _mailbox_entity(context, findings, click.user, entity.parent_id or entity.id)
        # A blocked click never reached the page, so it is no evidence against the user.
        if entity.verdict is Verdict.MALICIOUS and click.action != "blocked":
            mailbox.evidence.append(
                Evidence(
                    text=f"Opened the malicious URL {click.url} ({click.action.replace('_', ' ')}).",
                    verdict=Verdict.SUSPICIOUS,
                    source="URL clicks investigation",
                )
            )
            mailbox.verdict = Verdict.worst([mailbox.verdict, Verdict.SUSPICIOUS])
    return f"{count(hits, 'click')} on URLs in scope"


def correlate_reports(context: PlaybookContext, findings: Findings, alerts: list[Alert]) -> str:
    """Note every other user report of an email in scope, on the email or the cluster holding it."""
    own = {source for alert in alerts for source in alert.source_ids}
    by_message: dict[str, list[Entity]] = {}
    for cluster in findings.clusters:
        entity = findings.entities.get(f"cluster:{cluster.id}")
        if entity is None:
            continue
        for message_id in cluster.message_ids:
            by_message.setdefault(message_id, []).append(entity)
    for entity in findings.entities.values():
        if entity.kind is EntityKind.MESSAGE:
            by_message.setdefault(entity.key, []).insert(0, entity)
    reports = 0
    for submission in context.submissions:
        if submission.id in own:
            continue
        targets = by_message.get(message_id_for(submission.mailbox, submission.key))
        if not targets:
            continue
        reports += 1
        targets[0].evidence.append(
            Evidence(
                text=f"{submission.reporter} also reported a copy as {submission.report_type.value} at {submission.time:%Y-%m-%d %H:%M} UTC.",
                verdict=Verdict.UNKNOWN,
                source="User reports correlation",
            )
        )
    return f"{count(reports, 'other report')} of emails in scope"


def _entity_for_domain(url: str, domains: dict[str, Entity]) -> Entity | None:
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    for domain, entity in domains.items():
        if host == domain or host.endswith("." + domain):
            return entity
    return None


def _mailbox_entity(context: PlaybookContext, findings: Findings, address: str, parent_id: str) -> Entity:
    user = next((user for user in context.users if user.address.lower() == address.lower()), None)
    label = f"{user.display_name} <{address}>" if user else address
    entity = findings.add(
        Entity(id=f"mailbox:{address.lower()}", kind=EntityKind.MAILBOX, key=address.lower(), label=label, verdict=Verdict.NO_THREATS_FOUND, parent_id=parent_id)
    )
    if user is not None:
        entity.attributes.update({"department": user.department, "vip": user.vip})
    return entity


def investigate_mailboxes(context: PlaybookContext, findings: Findings, message: EmailMessage, alert: Alert) -> int:
    addresses = {message.location.mailbox, alert.user}
    for cluster in findings.clusters:
        addresses.update(cluster.mailboxes)
    own_domains = tuple(domain.lower() for domain in context.organisation.domains)
    checked = 0
    for address in sorted(a for a in addresses if a):
        mailbox = _mailbox_entity(context, findings, address, f"message:{message.id}")
        settings = context.mailbox_settings.get(address)
        checked += 1
        if settings is None:
            continue
        if settings.forwarding and not _internal(settings.forwarding.smtp_address, own_domains):
            mailbox.evidence.append(
                Evidence(text=f"Mail is forwarded outside the organisation to {settings.forwarding.smtp_address}.", verdict=Verdict.SUSPICIOUS, source="Mail forwarding rules investigation")
            )
        for rule in settings.inbox_rules:
            targets = [*_as_list(rule.actions.get("forward_to")), *_as_list(rule.actions.get("redirect_to"))]
            external = [target for target in targets if not _internal(target, own_domains)]
            if rule.enabled and external:
                mailbox.evidence.append(
                    Evidence(text=f"Inbox rule '{rule.name}' forwards mail outside the organisation to {', '.join(external)}.", verdict=Verdict.SUSPICIOUS, source="Mail forwarding rules investigation")
                )
        if any(item.verdict is Verdict.SUSPICIOUS for item in mailbox.evidence):
            mailbox.verdict = Verdict.worst([mailbox.verdict, Verdict.SUSPICIOUS])
    return checked


def _internal(address: str, own_domains: tuple[str, ...]) -> bool:
    """Return whether the address is in one of the organisation's domains or their subdomains.

    A look-alike such as `notlarkspur.example` is outside.
    """
    domain = address.rsplit("@", 1)[-1].lower().rstrip(".")
    return any(domain == own or domain.endswith("." + own) for own in own_domains)


def _as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [str(value)] if value else []
