"""The URL click playbook: a user clicked a URL that is, or turned out to be, malicious.

The steps follow Microsoft Defender for Office 365: the URL's reputation, every click on it
around the time it was found malicious, the mail that carries it, and the users who clicked.
A click itself has no remediation action, as in Microsoft's AIR; copies of the mail still in
mailboxes get a soft delete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Cluster, Entity, Evidence, Investigation
from air_tui.domain.message import Url
from air_tui.domain.tenant import UrlClick
from air_tui.domain.vocab import ActionStatus, EntityKind, InvestigationStatus, Verdict
from air_tui.engine import rules
from air_tui.engine.analyzers import MessageAnalyzer, verdict_words
from air_tui.engine.clustering import (
    CLUSTER_BY_URL,
    build_cluster,
    cluster_entity,
    describe_cluster,
    hunt_clusters,
)
from air_tui.engine.context import PlaybookContext
from air_tui.engine.entity_details import url_attributes
from air_tui.engine.findings import Findings, Outcome, alert_entity, count
from air_tui.engine.recommendations import recommend_soft_deletes, unreachable_copies
from air_tui.engine.rules import Finding
from air_tui.engine.steps import StepLogger
from air_tui.intel import IntelMatch
from air_tui.mail import message_id_for
from air_tui.mail.diagnostics import WarningLog
from air_tui.mail.unwrap import unwrap
from air_tui.mail.urls import UrlCollector, normalise_url

CLICK_WINDOW = timedelta(hours=48)
"""How far before the verdict time clicks are gathered, because a URL clicked shortly before it
was found malicious most likely led to the same threat."""

BLOCKED = "blocked"
CLICKED_THROUGH = "clicked_through"


@dataclass
class _UrlInScope:
    """One URL the alerts name, with what the steps found about it."""

    url: Url
    finding: Finding
    entity: Entity
    verdict_time: datetime
    clicks: list[UrlClick] = field(default_factory=list)


def run(context: PlaybookContext, investigation: Investigation, alerts: list[Alert]) -> Outcome:
    """Investigate the URLs and clicks the alerts name and return the status they lead to.

    Args:
        context: The playbook inputs.
        investigation: The investigation being run.
        alerts: Every alert in the investigation's scope; the first one started it.
    """
    if not alerts:
        raise ValueError(f"Investigation {investigation.id} has no alert in scope; a URL click investigation needs at least one.")
    steps = StepLogger(context, investigation.id)
    findings = Findings()
    alert_entities = [findings.add(alert_entity(alert)) for alert in alerts]
    root = alert_entities[0]
    analyzer = MessageAnalyzer(context.organisation, context.users, context.intel, context.scoring)
    now = _utc(context.tenant_now())

    with steps.step("URL reputation investigation") as outcome:
        scope = [_examine_url(context, analyzer, findings, address, alerts, root.id) for address in _scope_urls(context, alerts)]
        malicious = sum(1 for item in scope if item.entity.verdict is Verdict.MALICIOUS)
        outcome.summary = f"{count(len(scope), 'URL')} checked, {malicious} malicious"
        outcome.entities_touched = len(scope)
    if not scope:
        return Outcome(InvestigationStatus.NO_THREATS_FOUND, "The alerts name no URL and no click on one.", findings)

    with steps.step("URL clicks investigation") as outcome:
        named_clicks = {source_id for alert in alerts for source_id in alert.source_ids}
        for item in scope:
            item.clicks = _clicks_on(context, item, named_clicks, now)
        total = sum(len(item.clicks) for item in scope)
        crowded = next((item for item in scope if len(item.clicks) > context.settings.max_clicks), None)
        if crowded is not None:
            reason = (
                f"Too many clicks to analyse: {crowded.url.url} was clicked {len(crowded.clicks)} times "
                f"from {crowded.verdict_time - CLICK_WINDOW:%Y-%m-%d %H:%M} UTC on, more than the limit of "
                f"{context.settings.max_clicks} (investigations.max_clicks)."
            )
            crowded.entity.evidence.append(Evidence(text=reason, verdict=Verdict.UNKNOWN, source="URL clicks investigation"))
            outcome.summary = reason
            return Outcome(InvestigationStatus.TERMINATED_BY_SYSTEM, reason, findings)
        users = _add_clickers(context, findings, scope)
        outcome.summary = f"{count(total, 'click')} by {count(len(users), 'user')}"
        outcome.entities_touched = total

    with steps.step("Mail cluster identification") as outcome:
        too_large = _identify_clusters(context, analyzer, findings, scope)
        if too_large is not None:
            outcome.summary = too_large
            return Outcome(InvestigationStatus.TERMINATED_BY_SYSTEM, too_large, findings)
        members = len({message_id for cluster in findings.clusters for message_id in cluster.message_ids})
        outcome.summary = f"{count(len(findings.clusters), 'cluster')}, {count(members, 'message')} across all mailboxes"
        outcome.entities_touched = len(findings.clusters)

    with steps.step("Recommended remediation") as outcome:
        findings.actions = recommend_soft_deletes(context, investigation.id, findings.clusters, existing=context.existing_actions)
        outcome.summary = count(len(findings.actions), "pending action")
        outcome.entities_touched = sum(len(action.targets) for action in findings.actions)
        unreachable = unreachable_copies(context, findings.clusters)
        if unreachable:
            outcome.summary += f"; {count(len(unreachable), 'malicious copy')} in on-premises mailboxes, out of reach"

    worst = Verdict.worst([item.entity.verdict for item in scope])
    for entity in alert_entities:
        entity.verdict = worst
        entity.evidence.append(
            Evidence(text=f"The clicked URL is {verdict_words(worst)}.", verdict=worst, source="Verdict roll-up")
        )
    return Outcome(*_status_for(context, findings, scope, unreachable), findings)


# URL reputation -----------------------------------------------------------------------------


def _scope_urls(context: PlaybookContext, alerts: list[Alert]) -> list[str]:
    """Return the URLs the alerts name, or failing that the URLs of the clicks they name, each once."""
    addresses = [address for alert in alerts for address in alert.urls]
    if not addresses:
        named = {source_id for alert in alerts for source_id in alert.source_ids}
        addresses = [click.url for click in context.clicks if click.id in named]
    return list(dict.fromkeys(address for address in addresses if address))


def _url_for(address: str) -> Url:
    """Parse a URL named outside a message the way ingest parses one inside a message."""
    collector = UrlCollector(WarningLog())
    collector.add(address, "text", detail="named by the alert")
    if collector.urls:
        return collector.urls[0]
    return Url(url=address, normalised=normalise_url(address))


def _examine_url(
    context: PlaybookContext, analyzer: MessageAnalyzer, findings: Findings, address: str, alerts: list[Alert], parent_id: str
) -> _UrlInScope:
    url = _url_for(address)
    finding = analyzer.url(url)
    if context.online is not None and not finding.fired(rules.URL_LISTED):
        result = context.online.check_url(url.unwrapped or url.url)
        if result.match is not None:
            finding.fire(rules.URL_LISTED, result.match.describe("URL") + " (online look-up).")
        else:
            finding.note(f"Online look-up: {result.status.value}.", "Online reputation")
    entity = findings.add(
        Entity(
            id=f"url:{url.url}",
            kind=EntityKind.URL,
            key=url.url,
            label=url.url,
            verdict=finding.verdict,
            threats=list(finding.threats) if finding.verdict in (Verdict.SUSPICIOUS, Verdict.MALICIOUS) else [],
            evidence=list(finding.evidence),
            parent_id=parent_id,
            attributes={**url_attributes(url), "score": finding.score},
        )
    )
    listing = _listing(context, url)
    verdict_time, source = _verdict_time(context, url, listing, alerts)
    entity.attributes["verdict_time"] = verdict_time.isoformat()
    entity.evidence.append(
        Evidence(
            text=f"Verdict time {verdict_time:%Y-%m-%d %H:%M} UTC ({source}); clicks are gathered from 48 hours before it.",
            verdict=Verdict.UNKNOWN,
            source="URL reputation investigation",
        )
    )
    return _UrlInScope(url=url, finding=finding, entity=entity, verdict_time=verdict_time)


def _listing(context: PlaybookContext, url: Url) -> IntelMatch | None:
    """Return the intel entry that lists the URL, its destination or their domain, URL entries first."""
    for address in (url.url, url.unwrapped):
        if address:
            match = context.intel.lookup_url(address)
            if match is not None:
                return match
    for host in (url.host, url.unwrapped_host):
        if host:
            match = context.intel.lookup_domain(host)
            if match is not None:
                return match
    return None


def _verdict_time(context: PlaybookContext, url: Url, listing: IntelMatch | None, alerts: list[Alert]) -> tuple[datetime, str]:
    """Return when the URL was found malicious, and where that time comes from.

    A listing's date is a day, and a URL listed before anyone clicked it was known bad by the
    first click, so the verdict time is the later of the two. Without a dated listing the
    alert's time is used.
    """
    alert_time = _utc(alerts[0].occurred)
    added = _listing_date(listing)
    if listing is None or added is None:
        return alert_time, "the time of the alert"
    named = {source_id for alert in alerts for source_id in alert.source_ids}
    targets = _url_forms(url.url) | (_url_forms(url.unwrapped) if url.unwrapped else set())
    named_times = [_utc(click.time) for click in context.clicks if click.id in named and _url_forms(click.url) & targets]
    first_click = min(named_times, default=alert_time)
    if added >= first_click:
        return added, f"listed by {listing.source} on {listing.added}"
    return first_click, f"the first click, after the listing by {listing.source} on {listing.added}"


def _listing_date(listing: IntelMatch | None) -> datetime | None:
    if listing is None or not listing.added:
        return None
    try:
        return datetime.strptime(listing.added[:10], "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


# Clicks -------------------------------------------------------------------------------------


def _url_forms(address: str) -> set[str]:
    """Return the ways a click record can spell the URL: as written, normalised, and unwrapped."""
    forms = {address, normalise_url(address)}
    destination = unwrap(address)
    if destination is not None and not destination.destination_hidden:
        forms |= {destination.url, normalise_url(destination.url)}
    forms.discard("")
    return forms


def _clicks_on(context: PlaybookContext, item: _UrlInScope, named: set[str], now: datetime) -> list[UrlClick]:
    """Return the clicks on the URL or its destination from 48 hours before the verdict time up to now.

    Clicks the alerts name are kept even outside that window, because they are why the
    investigation exists.
    """
    targets = _url_forms(item.url.url)
    if item.url.unwrapped:
        targets |= _url_forms(item.url.unwrapped)
    start = item.verdict_time - CLICK_WINDOW
    found = [
        click
        for click in context.clicks
        if _url_forms(click.url) & targets and (click.id in named or start <= _utc(click.time) <= now)
    ]
    return sorted(found, key=lambda click: (_utc(click.time), click.id))


def _add_clickers(context: PlaybookContext, findings: Findings, scope: list[_UrlInScope]) -> set[str]:
    """Add each click as evidence on its URL, and each user who clicked with their mailbox."""
    users: set[str] = set()
    for item in scope:
        malicious = item.entity.verdict is Verdict.MALICIOUS
        for click in item.clicks:
            address = click.user.lower()
            users.add(address)
            action_words = click.action.replace("_", " ")
            item.entity.evidence.append(
                Evidence(
                    text=f"{click.user} clicked {click.url} at {_utc(click.time):%Y-%m-%d %H:%M} UTC ({action_words}).",
                    verdict=Verdict.MALICIOUS if malicious and click.action != BLOCKED else Verdict.UNKNOWN,
                    source="URL clicks investigation",
                )
            )
            user = _user_entity(context, findings, address, item.entity.id)
            _count_click(user, click)
            mailbox = _mailbox_entity(context, findings, address, user.id)
            if click.mailbox and click.key:
                mailbox.evidence.append(_clicked_copy(context, click))
            if click.action == BLOCKED:
                # Safe Links stopped the page from opening, so the click is shown but not held against the user.
                user.evidence.append(
                    Evidence(
                        text=f"The click on {click.url} at {_utc(click.time):%Y-%m-%d %H:%M} UTC was blocked; the page did not open.",
                        verdict=Verdict.UNKNOWN,
                        source="URL clicks investigation",
                    )
                )
                continue
            if malicious:
                past_warning = " past a warning page" if click.action == CLICKED_THROUGH else ""
                user.evidence.append(
                    Evidence(
                        text=f"Opened the malicious URL {click.url}{past_warning} at {_utc(click.time):%Y-%m-%d %H:%M} UTC.",
                        verdict=Verdict.SUSPICIOUS,
                        source="URL clicks investigation",
                    )
                )
                user.verdict = Verdict.worst([user.verdict, Verdict.SUSPICIOUS])
            else:
                user.evidence.append(
                    Evidence(
                        text=f"Opened {click.url} at {_utc(click.time):%Y-%m-%d %H:%M} UTC; the URL is {verdict_words(item.entity.verdict)}.",
                        verdict=Verdict.UNKNOWN,
                        source="URL clicks investigation",
                    )
                )
    return users


def _user_entity(context: PlaybookContext, findings: Findings, address: str, parent_id: str) -> Entity:
    user = next((user for user in context.users if user.address.lower() == address), None)
    entity = findings.add(
        Entity(
            id=f"user:{address}",
            kind=EntityKind.USER,
            key=address,
            label=f"{user.display_name} <{address}>" if user else address,
            verdict=Verdict.NO_THREATS_FOUND,
            parent_id=parent_id,
            attributes={"clicks": 0, "clicked_through": 0, "blocked": 0},
        )
    )
    if user is not None:
        entity.attributes.update({"display_name": user.display_name, "department": user.department, "title": user.title, "vip": user.vip})
    else:
        entity.attributes["in_directory"] = False
    return entity


def _count_click(user: Entity, click: UrlClick) -> None:
    names = ["clicks"]
    if click.action in (CLICKED_THROUGH, BLOCKED):
        names.append(click.action)
    for name in names:
        so_far = user.attributes.get(name, 0)
        user.attributes[name] = (so_far if isinstance(so_far, int) else 0) + 1
    user.attributes["last_click"] = _utc(click.time).isoformat()


def _mailbox_entity(context: PlaybookContext, findings: Findings, address: str, parent_id: str) -> Entity:
    user = next((user for user in context.users if user.address.lower() == address), None)
    entity = findings.add(
        Entity(
            id=f"mailbox:{address}",
            kind=EntityKind.MAILBOX,
            key=address,
            label=f"{user.display_name} <{address}>" if user else address,
            verdict=Verdict.NO_THREATS_FOUND,
            parent_id=parent_id,
        )
    )
    if user is not None:
        entity.attributes.update({"department": user.department, "vip": user.vip})
    return entity


def _clicked_copy(context: PlaybookContext, click: UrlClick) -> Evidence:
    message_id = message_id_for(click.mailbox, click.key)
    location = context.messages.locations([message_id]).get(message_id)
    where = f"now in {location[1]}" if location else "no longer in the index"
    return Evidence(
        text=f"The click at {_utc(click.time):%Y-%m-%d %H:%M} UTC came from the copy {message_id} in this mailbox, {where}.",
        verdict=Verdict.UNKNOWN,
        source="URL clicks investigation",
    )


# Clusters -----------------------------------------------------------------------------------


def _identify_clusters(context: PlaybookContext, analyzer: MessageAnalyzer, findings: Findings, scope: list[_UrlInScope]) -> str | None:
    """Add the clusters of mail carrying each URL, and return the termination reason when one is too large."""
    limit = context.settings.max_cluster_messages
    for item in scope:
        for address in dict.fromkeys(value for value in (item.url.url, item.url.unwrapped) if value):
            message_ids = context.messages.ids_with_url(address)
            if len(message_ids) > limit:
                return (
                    f"Too much mail to analyse: {len(message_ids)} messages carry {address}, more than the limit of "
                    f"{limit} (investigations.max_cluster_messages)."
                )
            if message_ids:
                cluster = build_cluster(context.messages, CLUSTER_BY_URL, address, message_ids, item.entity.verdict, list(item.entity.threats))
                _add_cluster(findings, cluster, item.entity.id)
        if item.entity.verdict is Verdict.MALICIOUS:
            reason = _hunt_similar(context, analyzer, findings, item)
            if reason:
                return reason
    return None


def _hunt_similar(context: PlaybookContext, analyzer: MessageAnalyzer, findings: Findings, item: _UrlInScope) -> str:
    """Hunt for mail like a clicked copy: same listed domain, similar body, same subject.

    Returns the termination reason when a cluster is too large, else an empty string.
    """
    message = None
    for click in item.clicks:
        if click.mailbox and click.key:
            message = context.messages.load(message_id_for(click.mailbox, click.key))
            if message is not None:
                break
    if message is None:
        return ""
    analysis = analyzer.analyse(message)
    message_entity = findings.add(
        Entity(
            id=f"message:{message.id}",
            kind=EntityKind.MESSAGE,
            key=message.id,
            label=message.subject or "(no subject)",
            verdict=analysis.verdict,
            threats=list(analysis.threats),
            evidence=list(analysis.roll_up.evidence) if analysis.roll_up else [],
            parent_id=item.entity.id,
            attributes={
                "mailbox": message.location.mailbox,
                "folder": message.location.folder,
                "sender": message.sender.address,
                "received": message.received_at.isoformat() if message.received_at else "",
                "clicked_copy": True,
            },
        )
    )
    limit = context.settings.max_cluster_messages
    for cluster in hunt_clusters(context, message, message_entity, [item.entity], []):
        if len(cluster.message_ids) > limit:
            return (
                f"Too much mail to analyse: the cluster {describe_cluster(cluster)} has {len(cluster.message_ids)} messages, "
                f"more than the limit of {limit} (investigations.max_cluster_messages)."
            )
        _add_cluster(findings, cluster, message_entity.id)
    return ""


def _add_cluster(findings: Findings, cluster: Cluster, parent_id: str) -> None:
    if any(existing.id == cluster.id for existing in findings.clusters):
        return
    findings.clusters.append(cluster)
    findings.add(cluster_entity(cluster, parent_id))


# Status -------------------------------------------------------------------------------------


def _status_for(context: PlaybookContext, findings: Findings, scope: list[_UrlInScope], unreachable: list[str]) -> tuple[InvestigationStatus, str]:
    # Actions an earlier run proposed that no analyst has decided yet still wait, though this run does not repeat them.
    waiting = len(findings.actions) + sum(1 for action in context.existing_actions if action.status is ActionStatus.PENDING)
    if waiting:
        return InvestigationStatus.PENDING_ACTION, f"{waiting} remediation {'action waits' if waiting == 1 else 'actions wait'} for approval."
    problems = []
    clickers = sorted(
        entity.key for entity in findings.entities.values() if entity.kind is EntityKind.USER and entity.verdict is Verdict.SUSPICIOUS
    )
    if clickers:
        problems.append(
            f"{count(len(clickers), 'user')} opened a malicious URL ({', '.join(clickers)}), which no remediation action "
            "can undo: check those users' accounts and devices."
        )
    if unreachable:
        problems.append(
            f"{count(len(unreachable), 'malicious copy')} {'sits' if len(unreachable) == 1 else 'sit'} in on-premises mailboxes, "
            "out of reach of any action here: remove them in Exchange on premises."
        )
    if problems:
        return InvestigationStatus.PARTIALLY_INVESTIGATED, " ".join(problems)
    if any(item.entity.verdict is Verdict.MALICIOUS for item in scope):
        return InvestigationStatus.REMEDIATED, "The URL is malicious, but no copy of the mail carrying it is left in a mailbox."
    if any(item.entity.verdict is Verdict.SUSPICIOUS for item in scope):
        # As in Microsoft's AIR, only malicious mail gets a remediation action, so a suspicious URL stays visible as evidence.
        return InvestigationStatus.NO_THREATS_FOUND, "The URL is suspicious but not malicious; its clicks are listed as evidence."
    return InvestigationStatus.NO_THREATS_FOUND, "No analyzer found the URL malicious or suspicious."


def _utc(moment: datetime) -> datetime:
    """Return the time in UTC; a time without a zone is taken as UTC, as tenant logs write them."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
