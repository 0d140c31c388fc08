"""The compromised user playbook: suspicious sending, a user restricted from sending, or an analyst's request.

The steps follow the analyzers Microsoft Defender for Office 365 names for it: forwarding and
delegation on the mailbox, new inbox rules, the user's sending against their own history, what
they sent, and their sign-ins. Forwarding, inbox rules and delegations get a removal action;
the rest has no cleanup action and leaves the investigation Partially investigated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise

from air_tui.domain.action import SettingTarget
from air_tui.domain.alert import Alert
from air_tui.domain.investigation import Entity, Evidence, Investigation
from air_tui.domain.message import EmailMessage
from air_tui.domain.tenant import (
    AuditRecord,
    Delegate,
    Forwarding,
    InboxRule,
    MailboxSettings,
    SignIn,
    User,
)
from air_tui.domain.vocab import (
    ActionStatus,
    ActionType,
    EntityKind,
    InvestigationStatus,
    ThreatType,
    Verdict,
)
from air_tui.engine.analyzers import (
    EntityResult,
    MessageAnalysis,
    MessageAnalyzer,
    verdict_words,
)
from air_tui.engine.clustering import CLUSTER_BY_OUTBOUND, build_cluster, describe_cluster
from air_tui.engine.context import PlaybookContext
from air_tui.engine.findings import Findings, Outcome, alert_entity, count
from air_tui.engine.recommendations import recommend_setting_removal
from air_tui.engine.steps import StepLogger

RECENT = timedelta(days=7)
"""Settings created or changed this recently, and sign-ins this recent, are examined as possibly the attacker's."""

SIGNIN_HISTORY = timedelta(days=30)
"""A country or IP address not seen in this long before a sign-in is new to the user."""

BURST_WINDOW = timedelta(hours=24)
BASELINE_MAX_DAYS = 10
BASELINE_MIN_DAYS = 7
"""The daily sending average covers the 10 days before the last 24 hours, or fewer days when the
mailbox's first sent message is younger, but never fewer than 7, as Microsoft compares sending
with the previous 7 to 10 days."""

SENDING_RATIO_THRESHOLD = 3.0
"""Sending more than this many times the daily average is an anomaly.
NOTE: Microsoft does not publish its threshold, so 3 is a judgment, not a measured value."""

MIN_BURST_MESSAGES = 10
"""A burst needs at least this many messages, so a user who sends 4 mails after a quiet week is not flagged."""

MAX_OUTBOUND_ANALYSED = 200
"""Sent messages analysed for malware, phish and spam. The outbound cluster still counts them all."""

FAILED_SIGNINS_BEFORE_SUCCESS = 2
FAILED_SIGNIN_WINDOW = timedelta(hours=24)
TRAVEL_MIN_GAP = timedelta(hours=1)
"""Successful sign-ins from two countries closer together than this are reported as too fast to
travel. It is a heuristic without distances, so neighbouring countries can trip it."""


FORWARDING = "forwarding"
INBOX_RULE = "inbox_rule"
DELEGATION = "delegation"

_RULE_CHANGES = ("New-InboxRule", "Set-InboxRule", "Enable-InboxRule")
_FORWARDING_CHANGES = ("Set-Mailbox",)
_FORWARDING_PARAMETERS = ("ForwardingSmtpAddress", "ForwardingAddress")
_DELEGATION_CHANGES = ("Add-MailboxPermission", "Add-RecipientPermission", "Add-MailboxFolderPermission", "Set-Mailbox")
_DELEGATE_PARAMETERS = ("User", "Trustee", "GrantSendOnBehalfTo")


@dataclass
class _SettingFinding:
    """One forwarding, inbox rule or delegation, with its entity and the action that removes it."""

    entity: Entity
    action_type: ActionType
    target: SettingTarget


@dataclass
class _UserInScope:
    address: str
    user: User | None
    entity: Entity
    mailbox: Entity
    settings: MailboxSettings | None
    settings_found: list[_SettingFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Suspicious findings with no cleanup action, in words for the status reason."""


def run(context: PlaybookContext, investigation: Investigation, alerts: list[Alert]) -> Outcome:
    """Investigate the users the alerts name and return the status their findings lead to.

    Args:
        context: The playbook inputs.
        investigation: The investigation being run.
        alerts: Every alert in the investigation's scope; the first one started it.
    """
    if not alerts:
        raise ValueError(f"Investigation {investigation.id} has no alert in scope; a compromised user investigation needs at least one.")
    steps = StepLogger(context, investigation.id)
    findings = Findings()
    alert_entities = [findings.add(alert_entity(alert)) for alert in alerts]
    now = _utc(context.tenant_now())
    scope = [_user_in_scope(context, findings, address, alert_entities[0].id) for address in _scope_users(alerts)]
    if not scope:
        return Outcome(InvestigationStatus.NO_THREATS_FOUND, "The alerts name no user to investigate.", findings)

    with steps.step("Mail forwarding rules investigation") as outcome:
        external = sum(_investigate_forwarding(context, item) for item in scope)
        _record_settings(findings, scope)
        outcome.summary = f"{count(external, 'forward')} outside the organisation in {count(len(scope), 'mailbox')}"
        outcome.entities_touched = sum(len(item.settings_found) for item in scope)

    with steps.step("Mail delegation investigation") as outcome:
        flagged = sum(_investigate_delegates(context, item, now) for item in scope)
        _record_settings(findings, scope)
        delegates = sum(len(item.settings.delegates) for item in scope if item.settings)
        outcome.summary = f"{count(delegates, 'delegate')}, {flagged} suspicious"
        outcome.entities_touched = delegates

    with steps.step("Inbox rules investigation") as outcome:
        flagged = sum(_investigate_new_rules(context, item, now) for item in scope)
        rules = sum(len(item.settings.inbox_rules) for item in scope if item.settings)
        outcome.summary = f"{count(rules, 'inbox rule')}, {flagged} recent that {'hides' if flagged == 1 else 'hide'} mail"
        outcome.entities_touched = rules

    burst_ids: dict[str, list[str]] = {}
    with steps.step("Outbound mail anomaly investigation") as outcome:
        summaries = []
        for item in scope:
            burst_ids[item.address], summary = _investigate_sending(context, item, now)
            summaries.append(summary)
        outcome.summary = "; ".join(summaries)
        outcome.entities_touched = len(scope)

    with steps.step("Outbound malware and spam anomaly investigation") as outcome:
        summaries = []
        for item in scope:
            summary, too_large = _investigate_sent_mail(context, findings, item, burst_ids[item.address], now)
            if too_large:
                outcome.summary = summary
                return Outcome(InvestigationStatus.TERMINATED_BY_SYSTEM, summary, findings)
            summaries.append(summary)
        outcome.summary = "; ".join(summaries)
        outcome.entities_touched = len(findings.clusters)

    with steps.step("User activity investigation") as outcome:
        anomalies = sum(_investigate_activity(context, findings, item, now) for item in scope)
        outcome.summary = f"{count(anomalies, 'sign-in or restriction finding')}"
        outcome.entities_touched = len(scope)

    with steps.step("Recommended remediation") as outcome:
        # A rerun after the scope widened proposes nothing an earlier run already proposed, decided or not.
        proposed = {(action.action_type, action.setting.mailbox.lower(), action.setting.item_id) for action in context.existing_actions if action.setting}
        for item in scope:
            for setting in item.settings_found:
                if setting.entity.verdict is not Verdict.SUSPICIOUS:
                    continue
                if (setting.action_type, setting.target.mailbox.lower(), setting.target.item_id) in proposed:
                    continue
                findings.actions.append(recommend_setting_removal(context, investigation.id, setting.action_type, setting.target))
        outcome.summary = count(len(findings.actions), "pending action")
        outcome.entities_touched = len(findings.actions)

    for item in scope:
        suspicious = [setting.entity.label for setting in item.settings_found if setting.entity.verdict is Verdict.SUSPICIOUS]
        if suspicious:
            _flag(item.mailbox, f"{count(len(suspicious), 'setting')} of this mailbox {'is' if len(suspicious) == 1 else 'are'} suspicious: {'; '.join(suspicious)}.", "Verdict roll-up")
    worst = Verdict.worst([entity.verdict for item in scope for entity in (item.entity, item.mailbox)])
    for entity in alert_entities:
        entity.verdict = worst
        entity.evidence.append(Evidence(text=f"The user's account and mailbox are {verdict_words(worst)}.", verdict=worst, source="Verdict roll-up"))
    return Outcome(*_status_for(context, findings, scope), findings)


# Scope --------------------------------------------------------------------------------------


def _scope_users(alerts: list[Alert]) -> list[str]:
    addresses = [address for alert in alerts for address in (alert.user, *alert.users)]
    return list(dict.fromkeys(address.strip().lower() for address in addresses if address.strip()))


def _user_in_scope(context: PlaybookContext, findings: Findings, address: str, parent_id: str) -> _UserInScope:
    user = next((user for user in context.users if user.address.lower() == address), None)
    label = f"{user.display_name} <{address}>" if user else address
    attributes: dict[str, str | int | bool | list[str]] = {"in_directory": user is not None}
    if user is not None:
        attributes.update(
            {"display_name": user.display_name, "department": user.department, "title": user.title, "vip": user.vip, "enabled": user.enabled}
        )
    entity = findings.add(
        Entity(id=f"user:{address}", kind=EntityKind.USER, key=address, label=label, verdict=Verdict.NO_THREATS_FOUND, parent_id=parent_id, attributes=attributes)
    )
    mailbox = findings.add(
        Entity(id=f"mailbox:{address}", kind=EntityKind.MAILBOX, key=address, label=label, verdict=Verdict.NO_THREATS_FOUND, parent_id=entity.id)
    )
    if user is not None:
        mailbox.attributes.update({"department": user.department, "vip": user.vip})
    settings = next((value for key, value in context.mailbox_settings.items() if key.lower() == address), None)
    if settings is None:
        mailbox.evidence.append(
            Evidence(text="The tenant records no forwarding, inbox rules or delegates for this mailbox.", verdict=Verdict.UNKNOWN, source="Mail forwarding rules investigation")
        )
    return _UserInScope(address=address, user=user, entity=entity, mailbox=mailbox, settings=settings)


# Forwarding ---------------------------------------------------------------------------------


def _investigate_forwarding(context: PlaybookContext, item: _UserInScope) -> int:
    """Add the mailbox's forwarding and every inbox rule as settings, and return how many send mail outside."""
    if item.settings is None:
        return 0
    domains = [domain.lower() for domain in context.organisation.domains]
    external = 0
    if item.settings.forwarding is not None:
        external += _forwarding_setting(context, item, item.settings.forwarding, domains)
    for rule in item.settings.inbox_rules:
        setting = _rule_setting(item, rule)
        targets = _forward_targets(rule)
        outside = [target for target in targets if _is_external(target, domains)]
        if outside and rule.enabled:
            external += 1
            _flag(setting.entity, f"Inbox rule '{rule.name}' sends mail outside the organisation to {', '.join(outside)}.", "Mail forwarding rules investigation")
        elif outside:
            setting.entity.evidence.append(
                Evidence(text=f"The rule would send mail outside the organisation to {', '.join(outside)}, but it is disabled.", verdict=Verdict.UNKNOWN, source="Mail forwarding rules investigation")
            )
        elif targets:
            setting.entity.evidence.append(
                Evidence(text=f"The rule forwards inside the organisation only, to {', '.join(targets)}.", verdict=Verdict.NO_THREATS_FOUND, source="Mail forwarding rules investigation")
            )
    return external


def _forwarding_setting(context: PlaybookContext, item: _UserInScope, forwarding: Forwarding, domains: list[str]) -> int:
    target = forwarding.smtp_address
    keeps_copy = " (a copy stays in the mailbox)" if forwarding.deliver_and_forward else " (no copy stays in the mailbox)"
    description = f"Forwarding of all mail to {target}"
    attributes: dict[str, str | int | bool | list[str]] = {
        "setting": FORWARDING,
        "mailbox": item.address,
        "target": target,
        "deliver_and_forward": forwarding.deliver_and_forward,
    }
    changes = _audit_changes(context.audit, item.address, _FORWARDING_CHANGES, lambda record: _names_any(record, _FORWARDING_PARAMETERS))
    set_at = _utc(forwarding.set_at) if forwarding.set_at else _latest_time(changes)
    if set_at is not None:
        attributes["set_at"] = set_at.isoformat()
    entity = _setting_entity(item, f"{item.address}:{FORWARDING}", description, attributes)
    for record in changes:
        entity.evidence.append(_audit_evidence(record, "Mail forwarding rules investigation"))
    item.settings_found.append(
        _SettingFinding(entity, ActionType.REMOVE_FORWARDING, SettingTarget(mailbox=item.address, item_id="", description=description))
    )
    if _is_external(target, domains):
        since = f", set {_when(set_at)}" if set_at else ""
        _flag(entity, f"All mail is forwarded outside the organisation to {target}{keeps_copy}{since}.", "Mail forwarding rules investigation")
        return 1
    entity.evidence.append(
        Evidence(text=f"Mail is forwarded inside the organisation, to {target}.", verdict=Verdict.NO_THREATS_FOUND, source="Mail forwarding rules investigation")
    )
    return 0


def _rule_setting(item: _UserInScope, rule: InboxRule) -> _SettingFinding:
    actions = _rule_actions(rule)
    description = f"Inbox rule '{rule.name}' ({rule.id})" + (f" that {_join(actions)}" if actions else "")
    attributes: dict[str, str | int | bool | list[str]] = {
        "setting": INBOX_RULE,
        "mailbox": item.address,
        "rule_id": rule.id,
        "rule_name": rule.name,
        "enabled": rule.enabled,
        "conditions": _rule_conditions(rule),
        "actions": actions,
        "target": _forward_targets(rule),
    }
    if rule.created is not None:
        attributes["created"] = _utc(rule.created).isoformat()
    entity = _setting_entity(item, f"{item.address}:{INBOX_RULE}:{rule.id}", description, attributes)
    finding = _SettingFinding(entity, ActionType.REMOVE_INBOX_RULE, SettingTarget(mailbox=item.address, item_id=rule.id, description=description))
    item.settings_found.append(finding)
    return finding


def _forward_targets(rule: InboxRule) -> list[str]:
    targets: list[str] = []
    for action in ("forward_to", "redirect_to", "forward_as_attachment_to"):
        targets.extend(_as_list(rule.actions.get(action)))
    return list(dict.fromkeys(targets))


def _rule_actions(rule: InboxRule) -> list[str]:
    """Return what the rule does in words, e.g. `forwards to a@b.example`, `marks mail read`."""
    words = {"forward_to": "forwards to", "redirect_to": "redirects to", "forward_as_attachment_to": "forwards as an attachment to"}
    actions: list[str] = []
    for key, value in rule.actions.items():
        if key in words:
            targets = _as_list(value)
            if targets:
                actions.append(f"{words[key]} {', '.join(targets)}")
        elif key == "move_to_folder":
            if value:
                actions.append(f"moves mail to {value}")
        elif key == "delete":
            if value:
                actions.append("deletes mail")
        elif key == "mark_as_read":
            if value:
                actions.append("marks mail read")
        elif value not in (None, False, "", []):
            actions.append(f"{key} {value}")
    return actions


def _hiding_actions(rule: InboxRule) -> list[str]:
    """Return the rule's actions that keep mail out of the user's sight: delete, move, mark read."""
    hiding: list[str] = []
    if rule.actions.get("delete"):
        hiding.append("deletes mail")
    if rule.actions.get("move_to_folder"):
        hiding.append(f"moves mail to {rule.actions['move_to_folder']}")
    if rule.actions.get("mark_as_read"):
        hiding.append("marks mail read")
    return hiding


def _rule_conditions(rule: InboxRule) -> list[str]:
    conditions = [f"{key.replace('_', ' ')} {' or '.join(repr(value) for value in values)}" for key, values in rule.conditions.items() if values]
    return conditions or ["all mail"]


# Delegation ---------------------------------------------------------------------------------


def _investigate_delegates(context: PlaybookContext, item: _UserInScope, now: datetime) -> int:
    """Add every delegate as a setting, flag those added recently or from outside, and return how many were flagged."""
    if item.settings is None:
        return 0
    domains = [domain.lower() for domain in context.organisation.domains]
    flagged = 0
    for delegate in item.settings.delegates:
        entity, changes = _delegate_setting(context, item, delegate)
        added = _utc(delegate.added) if delegate.added else _latest_time(changes)
        if added is not None:
            entity.attributes["added"] = added.isoformat()
        for record in changes:
            entity.evidence.append(_audit_evidence(record, "Mail delegation investigation"))
        reasons = []
        if added is not None and now - RECENT <= added <= now:
            source = "per the audit log" if delegate.added is None else "per the mailbox settings"
            reasons.append(f"{delegate.address} was given {delegate.access} access {_when(added)}, within the last {RECENT.days} days ({source}).")
        if _is_external(delegate.address, domains):
            reasons.append(f"The delegate {delegate.address} is outside the organisation.")
        if reasons:
            flagged += 1
            _flag(entity, " ".join(reasons), "Mail delegation investigation")
        else:
            when = f"given {_when(added)}" if added else "with no record of when it was given"
            entity.evidence.append(
                Evidence(text=f"{delegate.address} has {delegate.access} access, {when}.", verdict=Verdict.NO_THREATS_FOUND, source="Mail delegation investigation")
            )
    return flagged


def _delegate_setting(context: PlaybookContext, item: _UserInScope, delegate: Delegate) -> tuple[Entity, list[AuditRecord]]:
    description = f"{delegate.access} delegation to {delegate.address}"
    attributes: dict[str, str | int | bool | list[str]] = {
        "setting": DELEGATION,
        "mailbox": item.address,
        "target": delegate.address,
        "access": delegate.access,
    }
    entity = _setting_entity(item, f"{item.address}:{DELEGATION}:{delegate.address.lower()}", description, attributes)
    item.settings_found.append(
        _SettingFinding(entity, ActionType.REMOVE_DELEGATION, SettingTarget(mailbox=item.address, item_id=delegate.address, description=description))
    )
    delegate_address = delegate.address.lower()
    changes = _audit_changes(
        context.audit,
        item.address,
        _DELEGATION_CHANGES,
        lambda record: any(_as_text(record.parameters.get(name)).lower() == delegate_address for name in _DELEGATE_PARAMETERS),
    )
    return entity, changes


# New inbox rules ----------------------------------------------------------------------------


def _investigate_new_rules(context: PlaybookContext, item: _UserInScope, now: datetime) -> int:
    """Flag rules created or changed in the last 7 days that delete, move or mark mail read; return how many."""
    if item.settings is None:
        return 0
    flagged = 0
    by_rule = {setting.target.item_id: setting for setting in item.settings_found if setting.action_type is ActionType.REMOVE_INBOX_RULE}
    for rule in item.settings.inbox_rules:
        entity = by_rule[rule.id].entity
        changes = _audit_changes(context.audit, item.address, _RULE_CHANGES, partial(_names_rule, rule=rule))
        for record in changes:
            entity.evidence.append(_audit_evidence(record, "Inbox rules investigation"))
        changed = _last_change(rule, changes)
        hiding = _hiding_actions(rule)
        if changed is None:
            entity.evidence.append(Evidence(text="No creation time and no audit record for this rule.", verdict=Verdict.UNKNOWN, source="Inbox rules investigation"))
            continue
        when, change = changed
        entity.attributes[change] = when.isoformat()
        recent = now - RECENT <= when <= now
        if recent and hiding and rule.enabled:
            flagged += 1
            _flag(
                entity,
                f"The rule was {change} {_when(when)}, within the last {RECENT.days} days, and {_join(hiding)}, which hides mail from the user.",
                "Inbox rules investigation",
            )
            if not any(character.isalnum() for character in rule.name):
                entity.evidence.append(
                    Evidence(
                        text=f"The rule's name {rule.name!r} has no letters or digits, a way to keep a rule from catching the eye.",
                        verdict=Verdict.SUSPICIOUS,
                        source="Inbox rules investigation",
                    )
                )
        else:
            entity.evidence.append(
                Evidence(text=f"The rule was {change} {_when(when)}.", verdict=Verdict.UNKNOWN, source="Inbox rules investigation")
            )
    return flagged


def _last_change(rule: InboxRule, changes: list[AuditRecord]) -> tuple[datetime, str] | None:
    """Return the latest of the rule's creation time and its audit records, and whether it was `created` or `changed`."""
    moments: list[tuple[datetime, str]] = []
    if rule.created is not None:
        moments.append((_utc(rule.created), "created"))
    for record in changes:
        moments.append((record.time, "created" if record.operation == "New-InboxRule" else "changed"))
    return max(moments, key=lambda moment: moment[0], default=None)


def _names_rule(record: AuditRecord, rule: InboxRule) -> bool:
    """Return whether the audit record is about this rule, by its name or id, also inside an Exchange `mailbox\\rule` identity."""
    names = {rule.id.lower(), rule.name.lower()}
    for parameter in ("Name", "Identity", "RuleId"):
        value = _as_text(record.parameters.get(parameter)).lower()
        if value and (value in names or value.rpartition("\\")[2] in names):
            return True
    return False


# Sending ------------------------------------------------------------------------------------


def _investigate_sending(context: PlaybookContext, item: _UserInScope, now: datetime) -> tuple[list[str], str]:
    """Compare the last 24 hours of Sent Items with the daily average before, and return the burst's ids and a summary."""
    burst_start = now - BURST_WINDOW
    burst = context.messages.sent_messages(item.address, _iso(burst_start), _iso(now))
    burst_ids = [message_id for message_id, _ in burst]
    baseline_start = burst_start - timedelta(days=BASELINE_MAX_DAYS)
    baseline = context.messages.sent_messages(item.address, _iso(baseline_start), _iso(burst_start))
    days = BASELINE_MAX_DAYS
    if baseline:
        first = _utc(datetime.fromisoformat(baseline[0][1]))
        days = min(BASELINE_MAX_DAYS, max(BASELINE_MIN_DAYS, math.ceil((burst_start - first) / timedelta(days=1))))
    average = len(baseline) / days
    item.entity.attributes.update({"sent_last_24_hours": len(burst), "daily_average_sent": f"{average:.1f}", "baseline_days": days})

    numbers = (
        f"Sent {len(burst)} messages in the 24 hours up to {_stamp(now)}, against a daily average of {average:.1f} "
        f"over the previous {days} days ({len(baseline)} messages)"
    )
    ratio = len(burst) / average if average else math.inf
    if average:
        ratio_words = f"{ratio:.1f} times the average"
    else:
        ratio_words = "with nothing sent before" if burst else "nothing sent in either period"

    if len(burst) >= MIN_BURST_MESSAGES and ratio > SENDING_RATIO_THRESHOLD:
        _flag(
            item.entity,
            f"{numbers}: {ratio_words}, above the threshold of {SENDING_RATIO_THRESHOLD:g} times.",
            "Outbound mail anomaly investigation",
        )
        item.problems.append("unusual sending volume")
        return burst_ids, f"{item.address}: {len(burst)} sent, {ratio_words}, an anomaly"
    item.entity.evidence.append(
        Evidence(
            text=f"{numbers}: {ratio_words}; an anomaly needs at least {MIN_BURST_MESSAGES} messages and more than {SENDING_RATIO_THRESHOLD:g} times the average.",
            verdict=Verdict.NO_THREATS_FOUND,
            source="Outbound mail anomaly investigation",
        )
    )
    return burst_ids, f"{item.address}: {len(burst)} sent, {ratio_words}"


def _investigate_sent_mail(context: PlaybookContext, findings: Findings, item: _UserInScope, message_ids: list[str], now: datetime) -> tuple[str, bool]:
    """Analyse what the user sent in the last 24 hours as an outbound cluster.

    The cluster is informational: its mail has left the organisation, so no action targets it.

    Returns:
        A summary, and whether the cluster is too large to analyse, in which case the summary
        is the termination reason.
    """
    if not message_ids:
        return f"{item.address}: nothing sent in the last 24 hours", False
    limit = context.settings.max_cluster_messages
    if len(message_ids) > limit:
        reason = (
            f"Too much mail to analyse: {item.address} sent {len(message_ids)} messages in the last 24 hours, more than "
            f"the limit of {limit} (investigations.max_cluster_messages)."
        )
        return reason, True
    analyzer = MessageAnalyzer(context.organisation, context.users, context.intel, context.scoring)
    verdicts: dict[str, list[str]] = {Verdict.MALICIOUS.value: [], Verdict.SUSPICIOUS.value: []}
    threats: list[ThreatType] = []
    analysed = 0
    for message_id in message_ids[:MAX_OUTBOUND_ANALYSED]:
        message = context.messages.load(message_id)
        if message is None:
            continue
        analysed += 1
        analysis = _analyse_outbound(analyzer, message)
        if analysis.verdict.value in verdicts:
            verdicts[analysis.verdict.value].append(message.subject or "(no subject)")
            threats.extend(threat for threat in analysis.threats if threat not in threats)
    malicious, suspicious = verdicts[Verdict.MALICIOUS.value], verdicts[Verdict.SUSPICIOUS.value]
    verdict = Verdict.NO_THREATS_FOUND
    if malicious:
        verdict = Verdict.MALICIOUS
    elif suspicious:
        verdict = Verdict.SUSPICIOUS
    value = f"{item.address}, sent {_stamp(now - BURST_WINDOW)} to {_stamp(now)}"
    cluster = build_cluster(context.messages, CLUSTER_BY_OUTBOUND, value, message_ids, verdict, threats if verdict is not Verdict.NO_THREATS_FOUND else [])
    findings.clusters.append(cluster)
    entity = findings.add(
        Entity(
            id=f"cluster:{cluster.id}",
            kind=EntityKind.CLUSTER,
            key=cluster.id,
            label=describe_cluster(cluster),
            verdict=verdict,
            threats=list(cluster.threats),
            parent_id=item.mailbox.id,
            attributes={"message_count": len(cluster.message_ids), "analysed": analysed, "outbound": True, "mailboxes": list(cluster.mailboxes)},
        )
    )
    entity.evidence.append(
        Evidence(
            text=(
                f"{count(len(cluster.message_ids), 'message')} in {count(len(cluster.mailboxes), 'mailbox')} "
                f"({', '.join(f'{folder} {number}' for folder, number in cluster.counts_by_folder.items())}). "
                "Informational: this mail has left the organisation, so no remediation action is proposed for it."
            ),
            verdict=Verdict.UNKNOWN,
            source="Outbound malware and spam anomaly investigation",
        )
    )
    if len(message_ids) > analysed:
        entity.evidence.append(
            Evidence(text=f"{analysed} of {len(message_ids)} messages were analysed (at most {MAX_OUTBOUND_ANALYSED}).", verdict=Verdict.UNKNOWN, source="Outbound malware and spam anomaly investigation")
        )
    if malicious or suspicious:
        subjects = ", ".join(repr(subject) for subject in [*malicious, *suspicious][:5])
        text = f"Of {analysed} analysed messages, {len(malicious)} are malicious and {len(suspicious)} suspicious, e.g. {subjects}."
        entity.evidence.append(Evidence(text=text, verdict=verdict, source="Outbound malware and spam anomaly investigation"))
        _flag(item.entity, f"Sent {verdict_words(verdict)} mail in the last 24 hours: {text}", "Outbound malware and spam anomaly investigation")
        item.problems.append("malicious or suspicious mail sent")
    else:
        entity.evidence.append(
            Evidence(text=f"None of {count(analysed, 'analysed message')} is malicious or suspicious.", verdict=Verdict.NO_THREATS_FOUND, source="Outbound malware and spam anomaly investigation")
        )
    return f"{item.address}: {len(message_ids)} sent, {len(malicious)} malicious, {len(suspicious)} suspicious", False


def _analyse_outbound(analyzer: MessageAnalyzer, message: EmailMessage) -> MessageAnalysis:
    """Analyse the content, URLs and files of a sent message.

    The sender checks are left out: they judge whether an inbound sender is who it claims, and
    here the sender is the user under investigation, signed in to their own mailbox.
    """
    analysis = MessageAnalysis(sender=analyzer.finding(), content=analyzer.content(message), subject=message.subject)
    sites = analyzer.sender_sites(message)
    analysis.urls = [EntityResult(analyzer.url(url, sites), url=url) for url in message.urls]
    analysis.attachments = [EntityResult(analyzer.attachment(attachment), attachment=attachment) for attachment in message.attachments]
    analysis.nested = [analyzer.analyse(inner, None, depth=1) for inner in message.attached_messages]
    analysis.roll_up = analyzer.roll_up(analysis)
    return analysis


# Sign-ins and restrictions ------------------------------------------------------------------


def _investigate_activity(context: PlaybookContext, findings: Findings, item: _UserInScope, now: datetime) -> int:
    """Look for sign-in anomalies in the last 7 days and for sending restrictions, and return how many were found."""
    signins = sorted((signin for signin in context.signins if signin.user.lower() == item.address), key=lambda signin: _utc(signin.time))
    recent = [signin for signin in signins if now - RECENT <= _utc(signin.time) <= now]
    item.entity.attributes["signins_examined"] = len(recent)

    found = _signin_findings(findings, item, signins, recent)
    found += _travel_findings(findings, item, [signin for signin in recent if _succeeded(signin)])
    if found:
        item.problems.append("sign-in anomalies")

    for restriction in context.restrictions:
        if restriction.user.lower() != item.address:
            continue
        reason = f": {restriction.reason}" if restriction.reason else ""
        _flag(item.entity, f"Restricted from sending mail {_when(_utc(restriction.time))}{reason}.", "User activity investigation")
        item.problems.append("restricted from sending")
        found += 1
    return found


def _signin_findings(findings: Findings, item: _UserInScope, signins: list[SignIn], recent: list[SignIn]) -> int:
    """Compare each recent successful sign-in with the 30 days before it, and return how many anomalies were flagged."""
    found = 0
    reported: set[str] = set()
    compared = False
    for signin in recent:
        if not _succeeded(signin):
            continue
        moment = _utc(signin.time)
        history = [earlier for earlier in signins if _succeeded(earlier) and moment - SIGNIN_HISTORY <= _utc(earlier.time) < moment]
        known_addresses = {earlier.ip for earlier in history}
        if history:
            compared = True
            found += _new_place_finding(findings, item, signin, history, reported)

        failures = [
            earlier
            for earlier in signins
            if not _succeeded(earlier) and earlier.ip == signin.ip and moment - FAILED_SIGNIN_WINDOW <= _utc(earlier.time) < moment
        ]
        # Someone who mistypes a password does it from a place they sign in from anyway, so
        # failures count only before a success from an address the user had not used.
        if len(failures) >= FAILED_SIGNINS_BEFORE_SUCCESS and signin.ip not in known_addresses:
            _signin_finding(
                findings,
                item,
                signin,
                f"{len(failures)} failed sign-ins from {signin.ip} in the 24 hours before a successful one {_when(moment)}, "
                "from an address the user had not signed in from in the previous 30 days.",
            )
            found += 1

    if recent and not compared:
        item.entity.evidence.append(
            Evidence(text="No successful sign-ins in the 30 days before the recent ones to compare them with.", verdict=Verdict.UNKNOWN, source="User activity investigation")
        )
    return found


def _new_place_finding(findings: Findings, item: _UserInScope, signin: SignIn, history: list[SignIn], reported: set[str]) -> int:
    """Flag a sign-in from a country new to the user, and note one from a new IP address; return 1 when flagged.

    Each new country or address is reported at its first sign-in only; `reported` remembers them.
    """
    moment = _utc(signin.time)
    known_countries = {earlier.country for earlier in history if earlier.country}
    place = signin.ip
    if signin.country:
        place += f" in {signin.country}"
    if signin.app:
        place += f" with {signin.app}"
    if signin.country and signin.country not in known_countries:
        if f"country:{signin.country}" in reported:
            return 0
        reported.add(f"country:{signin.country}")
        seen = ", ".join(sorted(known_countries)) or "none"
        _signin_finding(findings, item, signin, f"Signed in from {place} {_when(moment)}: no sign-in from {signin.country} in the previous 30 days (countries seen: {seen}).")
        return 1
    if signin.ip not in {earlier.ip for earlier in history} and f"ip:{signin.ip}" not in reported:
        reported.add(f"ip:{signin.ip}")
        # A new address in a country the user signs in from is common (mobile networks, home
        # connections), so it is listed without moving the verdict.
        item.entity.evidence.append(
            Evidence(text=f"Signed in from the new IP address {place} {_when(moment)}, not seen in the previous 30 days.", verdict=Verdict.UNKNOWN, source="User activity investigation")
        )
    return 0


def _travel_findings(findings: Findings, item: _UserInScope, successes: list[SignIn]) -> int:
    found = 0
    for earlier, later in pairwise(successes):
        gap = _utc(later.time) - _utc(earlier.time)
        if earlier.country and later.country and earlier.country != later.country and gap < TRAVEL_MIN_GAP:
            minutes = int(gap.total_seconds() // 60)
            _signin_finding(
                findings,
                item,
                later,
                f"Signed in from {earlier.country} ({earlier.ip}) {_when(_utc(earlier.time))} and from {later.country} ({later.ip}) "
                f"{minutes} minutes later: too little time to travel between most countries; a VPN or proxy gives the same pattern.",
            )
            found += 1
    return found


def _signin_finding(findings: Findings, item: _UserInScope, signin: SignIn, text: str) -> None:
    """Flag the user with the anomaly, and the sign-in's IP address as an entity with the same fact."""
    _flag(item.entity, text, "User activity investigation")
    address = findings.add(
        Entity(
            id=f"ip:{signin.ip}",
            kind=EntityKind.IP,
            key=signin.ip,
            label=signin.ip,
            verdict=Verdict.SUSPICIOUS,
            parent_id=item.entity.id,
            attributes={"country": signin.country, "app": signin.app},
        )
    )
    _flag(address, text, "User activity investigation")


def _succeeded(signin: SignIn) -> bool:
    return signin.result.lower() == "success"


# Helpers ------------------------------------------------------------------------------------


def _record_settings(findings: Findings, scope: list[_UserInScope]) -> None:
    for item in scope:
        for setting in item.settings_found:
            findings.add(setting.entity)


def _setting_entity(item: _UserInScope, key: str, label: str, attributes: dict[str, str | int | bool | list[str]]) -> Entity:
    return Entity(
        id=f"mailbox_config:{key}",
        kind=EntityKind.MAILBOX_CONFIG,
        key=key,
        label=label,
        verdict=Verdict.NO_THREATS_FOUND,
        parent_id=item.mailbox.id,
        attributes=attributes,
    )


def _flag(entity: Entity, text: str, source: str) -> None:
    entity.evidence.append(Evidence(text=text, verdict=Verdict.SUSPICIOUS, source=source))
    entity.verdict = Verdict.worst([entity.verdict, Verdict.SUSPICIOUS])


def _audit_changes(
    records: list[AuditRecord], mailbox: str, operations: tuple[str, ...], matches: Callable[[AuditRecord], bool]
) -> list[AuditRecord]:
    """Return the mailbox's audit records of these operations that `matches` accepts, oldest first."""
    found = [record for record in records if record.mailbox.lower() == mailbox and record.operation in operations and matches(record)]
    return sorted(found, key=lambda record: _utc(record.time))


def _latest_time(records: list[AuditRecord]) -> datetime | None:
    return _utc(records[-1].time) if records else None


def _audit_evidence(record: AuditRecord, source: str) -> Evidence:
    origin = f" from {record.client_ip}" if record.client_ip else ""
    return Evidence(
        text=f"Audit log: {record.user} ran {record.operation} {_when(_utc(record.time))}{origin} (record {record.id}).",
        verdict=Verdict.UNKNOWN,
        source=source,
    )


def _names_any(record: AuditRecord, parameters: tuple[str, ...]) -> bool:
    return any(_as_text(record.parameters.get(name)) for name in parameters)


def _is_external(address: str, domains: list[str]) -> bool:
    """Return whether the address's domain is neither one of the organisation's domains nor a subdomain of one."""
    domain = address.strip().rpartition("@")[2].lower().rstrip(".")
    return not any(domain == own or domain.endswith("." + own) for own in domains)


def _as_list(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value if str(item)]
    return [str(value)] if value else []


def _as_text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


def _join(parts: list[str]) -> str:
    if len(parts) < 2:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _when(moment: datetime) -> str:
    """Return `at YYYY-MM-DD HH:MM UTC`, to follow a verb: "was created at …"."""
    return f"at {_stamp(moment)}"


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _iso(moment: datetime) -> str:
    """Return the time as the message index stores delivery times: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat()


def _utc(moment: datetime) -> datetime:
    """Return the time in UTC; a time without a zone is taken as UTC, as tenant logs write them."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _status_for(context: PlaybookContext, findings: Findings, scope: list[_UserInScope]) -> tuple[InvestigationStatus, str]:
    # Actions an earlier run proposed that no analyst has decided yet still wait, though this run does not repeat them.
    waiting = len(findings.actions) + sum(1 for action in context.existing_actions if action.status is ActionStatus.PENDING)
    if waiting:
        return InvestigationStatus.PENDING_ACTION, f"{waiting} remediation {'action waits' if waiting == 1 else 'actions wait'} for approval."
    problems = list(dict.fromkeys(problem for item in scope for problem in item.problems))
    if problems:
        return (
            InvestigationStatus.PARTIALLY_INVESTIGATED,
            f"Suspicious findings that no remediation action can clean up: {_join(problems)}.",
        )
    users = ", ".join(item.address for item in scope)
    return InvestigationStatus.NO_THREATS_FOUND, f"No suspicious settings, sending or sign-ins for {users}."
