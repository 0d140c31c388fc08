"""The action center: proposals, decisions, execution slots, undo and who may do what.

Every decision is a ledger event committed before anything runs, so the screen that confirms a
decision shows one that survives a crash. The executor runs actions, and this module decides
whether and when one may run.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from air_tui.domain.action import AUTOMATION, ActionTarget, BlockTarget, Decision, InvestigationTarget, PendingAction, SettingTarget
from air_tui.domain.config import AccessConfig, ActionsConfig
from air_tui.domain.coordination import BeforeCommit, Coordination, CoordinationUnavailable, DecisionTaken, Holder, Solo
from air_tui.domain.event import Event, EventType
from air_tui.domain.ids import Clock, IdFactory
from air_tui.domain.investigation import LogStep
from air_tui.domain.vocab import (
    EMAIL_ACTION_TYPES,
    IN_MAILBOX_FOLDERS,
    ActionPhase,
    ActionSource,
    ActionStatus,
    ActionType,
    BlockKind,
    DecisionKind,
    ManualTarget,
    TargetResult,
)
from air_tui.mail.urlnorm import read_url
from air_tui.remediation import executor
from air_tui.remediation.mail import MailBackend
from air_tui.store import Store, ledger, queries
from air_tui.store.database import file_lock
from air_tui.tenant.demo import DemoTenant, TenantError

log = logging.getLogger(__name__)

_ROLE_RANK = {"reader": 0, "operator": 1, "admin": 2}
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


DECIDE_KEY = "decide"
"""Approve, reject and close share one decision slot per action: whichever comes first takes it."""
UNDO_KEY = "undo"


class ActionError(Exception):
    """A decision or proposal that cannot be taken. The message states why and what to do instead."""


class DecisionConflict(ActionError):
    """Another console decided the action first; `holder` names who and when."""

    def __init__(self, message: str, holder: Holder) -> None:
        super().__init__(message)
        self.holder = holder


class PermissionDenied(ActionError):
    """The analyst's role, read-only mode or the four-eyes rule does not allow it."""


@dataclass(frozen=True)
class Access:
    """One analyst's rights, from `[access]` in the configuration."""

    analyst: str
    role: str
    read_only: bool = False
    four_eyes: frozenset[ActionType] = frozenset()
    listed: bool = True
    """Whether the analyst is named in the configuration, or has the role by default."""

    @classmethod
    def from_config(cls, config: AccessConfig, analyst: str, *, read_only: bool = False) -> Access:
        """Look the analyst up without regard to case; with no analysts configured, everyone is an admin."""
        unknown = [name for name in config.four_eyes if name not in {member.value for member in ActionType}]
        if unknown:
            raise ValueError(
                f"[access] four_eyes names unknown action types: {', '.join(unknown)}. List them with: air-tui actions types"
            )
        roles = {name.strip().lower(): value for name, value in config.analysts.items()}
        listed = not roles or analyst.strip().lower() in roles
        role = roles.get(analyst.strip().lower(), "reader") if roles else "admin"
        return cls(
            analyst=analyst,
            role=role,
            listed=listed,
            read_only=read_only or config.read_only,
            four_eyes=frozenset(ActionType(name) for name in config.four_eyes),
        )

    @property
    def can_change(self) -> bool:
        return not self.read_only and _ROLE_RANK[self.role] >= _ROLE_RANK["operator"]

    def require_change(self, doing: str) -> None:
        """Raise unless the analyst may change anything at all; `doing` names it, e.g. `approving actions`."""
        if self.read_only:
            raise PermissionDenied(f"air-tui runs read-only ([access] read_only, or --read-only): {doing} is turned off.")
        if _ROLE_RANK[self.role] < _ROLE_RANK["operator"]:
            who = f"{self.analyst} has the reader role" if self.listed else f"{self.analyst} is not listed under [access.analysts]"
            raise PermissionDenied(
                f"{who}, so may only view: {doing} needs the operator or admin role. "
                "An admin lists analysts and roles under [access.analysts] in config.toml."
            )

    def require_decision(self, action: PendingAction, action_type: ActionType, doing: str) -> None:
        """Raise unless the analyst may approve (or undo, or retry) this action as `action_type`."""
        self.require_change(doing)
        if action_type.needs_admin and self.role != "admin":
            why = "it cannot be undone" if not action_type.reversible else "it changes the tenant's block list"
            raise PermissionDenied(f"{action_type.value} needs the admin role because {why}; {self.analyst} is an operator.")
        if action_type in self.four_eyes and action.proposed_by.lower() == self.analyst.lower():
            raise PermissionDenied(
                f"{action_type.value} needs a second analyst ([access] four_eyes): {self.analyst} proposed action {action.id} "
                "and cannot approve it. Ask another analyst whose role may decide it."
            )


@dataclass
class DecisionOutcome:
    action: PendingAction
    decision: Decision | None
    status: ActionStatus
    results: dict[str, int] = field(default_factory=dict)
    """Targets by result, for actions that ran."""
    message: str = ""
    """The outcome in one sentence, for the screen or the terminal."""


@dataclass(frozen=True)
class PreviewRow:
    """One line of a bulk preview: what one action does in one mailbox."""

    mailbox: str
    action_id: str
    action_type: str
    effect: str
    messages: int
    """Messages the action lists in this mailbox (the count frozen at proposal)."""
    present: int
    """Of those, how many are still in the mailbox's Inbox or Junk Email now."""


@dataclass
class BulkPreview:
    action_ids: list[str]
    scope: str
    """The incident or investigation every marked action belongs to, in words."""
    rows: list[PreviewRow]
    problems: list[str]
    """Reasons the bulk decision would be refused, one per action; empty when it can go ahead."""
    irreversible: list[str]
    """Ids of marked actions that cannot be undone."""
    message_ids: frozenset[str] = frozenset()
    """Every message the marked actions list, each counted once however many actions list it."""

    @property
    def mailbox_count(self) -> int:
        return len({row.mailbox for row in self.rows})

    @property
    def message_count(self) -> int:
        return len(self.message_ids)


class ActionCenter:
    def __init__(
        self,
        store: Store,
        tenant: DemoTenant,
        *,
        access: Access,
        settings: ActionsConfig,
        clock: Clock,
        new_id: IdFactory,
        mail: Callable[[], MailBackend],
        start_investigation: Callable[[InvestigationTarget, str], str] | None = None,
        lock_path: Path | None = None,
        coordination: Coordination | None = None,
    ) -> None:
        self.store = store
        self.coordination: Coordination = coordination or Solo()
        self.tenant = tenant
        self.access = access
        self.settings = settings
        self.clock = clock
        self.new_id = new_id
        self._mail_factory = mail
        self._mail: MailBackend | None = None
        self.start_investigation = start_investigation
        self.lock_path = lock_path or store.path.with_name(store.path.name + ".executions-lock")

    @property
    def analyst(self) -> str:
        return self.access.analyst

    def close(self) -> None:
        if self._mail is not None:
            self._mail.close()
            self._mail = None

    @property
    def mail(self) -> MailBackend:
        if self._mail is None:
            self._mail = self._mail_factory()
        return self._mail

    # Proposals ---------------------------------------------------------------------------------

    def propose(
        self,
        action_type: ActionType | str,
        *,
        investigation_id: str = "",
        message_ids: Iterable[str] = (),
        value: str = "",
        expires: datetime | str | None = None,
        user: str = "",
        investigate_on: ManualTarget | str = ManualTarget.EMAIL,
        comment: str = "",
    ) -> PendingAction:
        """Propose an action by hand; it waits for approval like any other.

        Args:
            expires: For block actions, when the entry stops matching: a time, or text (a number of
                days, an ISO date, or `never`); None uses `[actions] block_days`.
            user: For Disable user and revoke sessions, the account's address; for actions on a
                mailbox setting, the mailbox's address.
            value: For block actions, what to block; for Remove inbox rule, the rule's id; for
                Remove delegation, the delegate's address; for Remove forwarding, empty for the
                mailbox's forwarding or the id of a rule that forwards.
            message_ids: The messages of an email action, or the one message a Start investigation
                action investigates.
        """
        try:
            action_type = ActionType(action_type)
        except ValueError:
            raise ActionError(f"Unknown action type {action_type!r}. List them with: air-tui actions types") from None
        self.access.require_change("proposing actions")
        investigation = None
        if investigation_id:
            investigation = queries.investigation_detail(self.store, investigation_id) or queries.investigation_detail(self.store, investigation_id.upper())
            if investigation is None:
                raise ActionError(f"No investigation with id {investigation_id}. List them with: air-tui investigations list")
            investigation_id = investigation.investigation.id
        now = self.clock()
        fields: dict[str, Any] = {}
        ids = [message_id.strip() for message_id in message_ids if message_id.strip()]
        if action_type.on_messages:
            fields["targets"] = self._message_targets(ids)
            title = f"{len(fields['targets'])} selected {'message' if len(fields['targets']) == 1 else 'messages'}"
        elif action_type.block_kind is not None:
            block_value = normalise_block_value(action_type.block_kind, value)
            _check_not_own(action_type.block_kind, block_value, self.tenant.organisation.domains)
            if isinstance(expires, str):
                text = _parse_expiry(expires, now)
                expires = datetime.fromisoformat(text) if text else None
            elif expires is None and self.settings.block_days:
                expires = now + timedelta(days=self.settings.block_days)
            fields["block"] = BlockTarget(kind=action_type.block_kind, value=block_value, expires=expires)
            title = f"{action_type.block_kind.value} {block_value}"
        elif action_type is ActionType.DISABLE_USER:
            account = self.tenant.user(user.strip())
            if account is None:
                raise ActionError(f"No user {user!r} in the tenant's directory. Give the address of an account in the organisation.")
            fields["user"] = account.address
            title = f"account {account.address}"
        elif action_type is ActionType.START_INVESTIGATION:
            if len(ids) != 1:
                raise ActionError("Start investigation takes exactly one message: give its id.")
            found = self.store.db.execute("SELECT sender_address FROM messages WHERE id = ?", [ids[0]]).fetchone()
            if found is None:
                raise ActionError(f"No message with id {ids[0]}. Find one with: air-tui explore QUERY")
            if ManualTarget(investigate_on) is ManualTarget.SENDER and not _in_organisation(found[0] or "", self.tenant.organisation.domains):
                raise ActionError(
                    f"Sender investigations are for senders inside the organisation, and {found[0] or '(no sender)'} is not. "
                    "Investigate the email or its recipient instead."
                )
            fields["investigate"] = InvestigationTarget(message_id=ids[0], on=ManualTarget(investigate_on))
            title = f"{ManualTarget(investigate_on).value} of message {ids[0]}"
        else:
            fields["setting"] = self._setting_target(action_type, user.strip(), value.strip())
            title = f"{fields['setting'].mailbox}: {fields['setting'].description}"
        action = PendingAction(
            id=self.new_id(),
            investigation_id=investigation_id,
            action_type=action_type,
            created=now,
            title=title,
            source=ActionSource.MANUAL,
            proposed_by=self.analyst,
            incident_id=investigation.investigation.incident_id if investigation else "",
            **fields,
        )
        events = [self._event(EventType.ACTION_PROPOSED, {"action": action.model_dump(mode="json"), "comment": comment})]
        if investigation_id:
            remark = f": {comment}" if comment else ""
            events.append(self._log_event(investigation_id, f"Proposal: {action_type.value}", f"{self.analyst} proposed {action_type.value} on {action.scope}{remark}"))
        ledger.append(self.store, events)
        return action

    def _setting_target(self, action_type: ActionType, mailbox: str, item: str) -> SettingTarget:
        """Name a mailbox setting that is there now: forwarding (or a forwarding rule), an inbox rule or a delegate."""
        if not mailbox:
            raise ActionError(f"{action_type.value} needs the mailbox: give its address with --user.")
        if action_type is not ActionType.REMOVE_FORWARDING and not item:
            what = "the rule's id" if action_type is ActionType.REMOVE_INBOX_RULE else "the delegate's address"
            raise ActionError(f"{action_type.value} needs {what}: give it with --value.")
        settings = self.tenant.mailbox_settings()
        if not any(address.lower() == mailbox.lower() for address in settings):
            raise ActionError(f"No mailbox {mailbox} in the tenant's mailbox settings. Give the address of a mailbox in the organisation.")
        kind = executor.setting_kind(action_type, item)
        try:
            current = self.tenant.current_setting(mailbox, kind, item)
        except TenantError as error:
            raise ActionError(str(error)) from error
        if current is None:
            what = {"forwarding": "no forwarding", "inbox_rule": f"no inbox rule with id {item!r}", "delegation": f"no delegate {item!r}"}[kind]
            raise ActionError(
                f"{mailbox} has {what} now, so there is nothing to remove. "
                "The mailbox's rules and delegates are listed in its investigation's Entities view."
            )
        value = current["value"]
        if kind == "forwarding":
            description = f"Forwarding of all mail to {value.get('smtp_address', '?')}"
        elif kind == "inbox_rule":
            targets = [
                target
                for key in ("forward_to", "redirect_to", "forward_as_attachment_to")
                for target in _as_list((value.get("actions") or {}).get(key))
            ]
            if action_type is ActionType.REMOVE_FORWARDING and not targets:
                raise ActionError(f"Inbox rule {item!r} of {mailbox} forwards nothing; remove it with Remove inbox rule instead.")
            forwards = f" that forwards to {', '.join(targets)}" if targets else ""
            description = f"Inbox rule '{value.get('name', item)}' ({item}){forwards}"
        else:
            description = f"{value.get('access', 'Delegate')} access of {value.get('address', item)}"
        return SettingTarget(mailbox=mailbox, item_id=item, description=description)

    def _message_targets(self, ids: list[str]) -> list[ActionTarget]:
        if not ids:
            raise ActionError("An email action needs at least one message id. Find them with: air-tui explore QUERY")
        if len(ids) > self.settings.max_messages_per_action:
            raise ActionError(
                f"{len(ids):,} messages exceed [actions] max_messages_per_action ({self.settings.max_messages_per_action:,}); "
                "propose them in smaller actions or raise the limit."
            )
        rows = {
            row["id"]: row
            for start in range(0, len(ids), 500)
            for row in self.store.db.query(
                f"SELECT id, mailbox, folder FROM messages WHERE id IN ({','.join('?' * len(ids[start:start + 500]))})", ids[start : start + 500]
            )
        }
        missing = [message_id for message_id in ids if message_id not in rows]
        if missing:
            raise ActionError(f"No message with id {missing[0]}{f' (and {len(missing) - 1} more)' if len(missing) > 1 else ''}. Find ids with: air-tui explore QUERY")
        return [ActionTarget(message_id=message_id, mailbox=rows[message_id]["mailbox"], folder=rows[message_id]["folder"]) for message_id in dict.fromkeys(ids)]

    def change_parameters(self, action_id: str, parameters: dict[str, str]) -> PendingAction:
        """Change a pending action's type or expiry without approving it; the analyst becomes its proposer."""
        action = self._find(action_id)
        self._require_pending(action)
        self.access.require_change("changing actions")
        clean = self._check_parameters(action, parameters)
        ledger.append(self.store, [self._event(EventType.ACTION_PARAMETERS_CHANGED, {"action_id": action.id, "parameters": clean})])
        changed = queries.action(self.store, action.id)
        assert changed is not None
        return changed

    def _check_parameters(self, action: PendingAction, parameters: dict[str, str]) -> dict[str, str]:
        """Validate an approver's changes and return them in stored form."""
        clean: dict[str, str] = {}
        for key, value in parameters.items():
            if key == "action_type":
                if action.action_type not in EMAIL_ACTION_TYPES:
                    raise ActionError(f"Only email actions change type before approval; {action.action_type.value} cannot.")
                try:
                    new_type = ActionType(value)
                except ValueError:
                    new_type = None
                if new_type not in EMAIL_ACTION_TYPES:
                    choices = ", ".join(member.value for member in EMAIL_ACTION_TYPES)
                    raise ActionError(f"Cannot change {action.action_type.value} to {value!r}: choose one of {choices}.")
                if new_type is not action.action_type:
                    clean["action_type"] = new_type.value
            elif key == "expires":
                if action.block is None:
                    raise ActionError(f"Only block actions have an expiry; {action.action_type.value} has none.")
                clean["expires"] = _parse_expiry(value, self.clock())
            else:
                raise ActionError(f"Unknown parameter {key!r}: an approver can change action_type (email actions) or expires (block actions).")
        return clean

    # Decisions ---------------------------------------------------------------------------------

    def approve(
        self,
        action_id: str,
        *,
        comment: str = "",
        parameters: dict[str, str] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> DecisionOutcome:
        """Record the approval durably, then run the action when an execution slot is free.

        When the approver changes the action into a type that needs a second analyst, the change
        is recorded instead and the action keeps waiting, for someone else.
        """
        action = self._find(action_id)
        self._require_pending(action)
        clean = self._check_parameters(action, parameters or {})
        new_type = ActionType(clean.get("action_type", action.action_type.value))
        if clean and new_type in self.access.four_eyes and new_type is not action.action_type:
            self.access.require_change("changing actions")
            changed = self.change_parameters(action.id, clean)
            return DecisionOutcome(
                action=changed,
                decision=None,
                status=ActionStatus.PENDING,
                message=f"Changed to {new_type.value}, which needs a second analyst: the action waits for another operator's approval.",
            )
        self.access.require_decision(action, new_type, "approving actions")
        self._check_size(action)
        decision = self._decision(action, DecisionKind.APPROVED, comment, clean)
        self._record_decision(action, decision, DECIDE_KEY)
        return self._run_now_or_wait(action.id, decision, on_progress)

    def reject(self, action_id: str, *, reason: str) -> DecisionOutcome:
        action = self._find(action_id)
        if not reason.strip():
            raise ActionError(f"A rejection needs a reason. Give one with --comment for action {action.id}.")
        self._require_pending(action)
        self.access.require_change("rejecting actions")
        decision = self._decision(action, DecisionKind.REJECTED, reason.strip(), {})
        self._record_decision(action, decision, DECIDE_KEY)
        return DecisionOutcome(action=action, decision=decision, status=ActionStatus.REJECTED, message=f"Rejected {action.action_type.value}: nothing changes.")

    def retry(self, action_id: str, *, comment: str = "", on_progress: Callable[[int, int], None] | None = None) -> DecisionOutcome:
        """Run the failed targets of a finished action again, as a new decision."""
        action = self._find(action_id)
        if action.status not in (ActionStatus.PARTIALLY_FAILED, ActionStatus.FAILED):
            raise ActionError(f"Action {action.id} is {action.status.value.lower()}: only an action with failed targets can be retried.")
        self.access.require_decision(action, action.action_type, "retrying actions")
        decision = self._decision(action, DecisionKind.RETRY, comment, {})
        row = queries.action_row(self.store, action.id)
        key = f"retry-{action.phase.value}-{row.attempt if row is not None else 0}"
        self._record_decision(action, decision, key)
        return self._run_now_or_wait(action.id, decision, on_progress)

    def undo(self, action_id: str, *, comment: str = "", on_progress: Callable[[int, int], None] | None = None) -> DecisionOutcome:
        """Reverse a finished action: messages go back, entries come off the list, settings return."""
        action = self._find(action_id)
        if not action.action_type.reversible:
            why = "the messages were purged" if action.action_type is ActionType.HARD_DELETE else "stop the investigation it started instead"
            raise ActionError(f"Action {action.id} ({action.action_type.value}) cannot be undone: {why}.")
        if action.status is ActionStatus.UNDONE:
            raise ActionError(f"Action {action.id} is undone already.")
        finished_undo_with_failures = action.phase is ActionPhase.UNDO and action.status.is_finished
        if not action.status.is_finished or finished_undo_with_failures:
            hint = " Retry it to finish the undo." if finished_undo_with_failures else ""
            raise ActionError(f"Action {action.id} is {action.status.value.lower()}: only an action that ran can be undone.{hint}")
        done = [row for row in queries.action_results(self.store, action.id) if row["result"] in (TargetResult.SUCCEEDED.value, TargetResult.SUBMITTED.value)]
        if not done:
            raise ActionError(f"Action {action.id} changed nothing, so there is nothing to undo.")
        self.access.require_decision(action, action.action_type, "undoing actions")
        decision = self._decision(action, DecisionKind.UNDO, comment, {})
        self._record_decision(action, decision, UNDO_KEY)
        return self._run_now_or_wait(action.id, decision, on_progress)

    def preview(self, action_ids: list[str], kind: DecisionKind = DecisionKind.APPROVED) -> BulkPreview:
        """Return what deciding the marked actions together does, per mailbox, and what blocks it."""
        actions = [self._find(action_id) for action_id in dict.fromkeys(action_ids)]
        if not actions:
            raise ActionError("Mark at least one action first (space in the action center).")
        scope = self._bulk_scope(actions)
        rows: list[PreviewRow] = []
        problems: list[str] = []
        for action in actions:
            problem = self._bulk_problem(action, kind)
            if problem:
                problems.append(problem)
            rows.extend(self._preview_rows(action))
        irreversible = [action.id for action in actions if not action.action_type.reversible]
        message_ids = frozenset(target.message_id for action in actions for target in action.targets)
        return BulkPreview(
            action_ids=[action.id for action in actions], scope=scope, rows=rows, problems=problems, irreversible=irreversible, message_ids=message_ids
        )

    def decide_many(self, action_ids: list[str], kind: DecisionKind, *, comment: str = "") -> list[DecisionOutcome]:
        """Approve or reject marked actions together, across action types, within one incident or investigation.

        Every decision is checked first and all are recorded in one transaction, so either every
        marked action is decided or none is.
        """
        if kind not in (DecisionKind.APPROVED, DecisionKind.REJECTED):
            raise ActionError("Bulk decisions approve or reject; undo and retry go one action at a time.")
        if kind is DecisionKind.REJECTED and not comment.strip():
            raise ActionError("Rejecting needs a reason, for every marked action.")
        preview = self.preview(action_ids, kind)
        if preview.problems:
            raise ActionError("Nothing was decided: " + " ".join(preview.problems))
        batch_id = self.new_id()
        actions = [self._find(action_id) for action_id in preview.action_ids]
        events: list[Event] = []
        decisions: dict[str, Decision] = {}
        for action in actions:
            decision = self._decision(action, kind, comment.strip(), {}, batch_id=batch_id)
            decisions[action.id] = decision
            events.extend(self._decision_events(action, decision, DECIDE_KEY))
        self._record(events, self.coordination.decision_guards([(action.id, DECIDE_KEY) for action in actions]))
        if kind is DecisionKind.REJECTED:
            return [
                DecisionOutcome(action=action, decision=decisions[action.id], status=ActionStatus.REJECTED, message=f"Rejected {action.action_type.value}.")
                for action in actions
            ]
        return [self._run_now_or_wait(action.id, decisions[action.id], None) for action in actions]

    # Execution ---------------------------------------------------------------------------------

    def resume(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Run approved actions waiting for a slot and finish runs a crash interrupted; return how many ran."""
        ran = 0
        for status in (ActionStatus.RUNNING, ActionStatus.APPROVED):
            for row in queries.action_rows(self.store, status=status):
                if status is ActionStatus.RUNNING and executor.executor_alive(row.executor):
                    continue
                if self._claim(row.action.id) == "claimed":
                    self._execute(row.action.id, on_progress)
                    ran += 1
        return ran

    def running_count(self) -> int:
        """Approved actions that a live process is running now, on this store."""
        return sum(1 for row in queries.action_rows(self.store, status=ActionStatus.RUNNING) if executor.executor_alive(row.executor))

    def _run_now_or_wait(self, action_id: str, decision: Decision, on_progress: Callable[[int, int], None] | None) -> DecisionOutcome:
        claim = self._claim(action_id)
        if claim in ("busy", "unclaimed"):
            action = self._find(action_id)
            cap = self.settings.max_concurrent_executions
            why = (
                f"{cap} of {cap} execution slots are busy ([actions] max_concurrent_executions), so the action starts when one frees."
                if claim == "busy"
                else "The sync server did not answer the claim to run it, so a console runs it once the server answers."
            )
            return DecisionOutcome(action=action, decision=decision, status=ActionStatus.APPROVED, message=f"Approved and recorded. {why}")
        status = self._execute(action_id, on_progress) if claim == "claimed" else self._find(action_id).status
        action = self._find(action_id)
        results: dict[str, int] = {}
        errors: list[str] = []
        for row in queries.action_results(self.store, action_id, undo=action.phase is ActionPhase.UNDO):
            results[row["result"]] = results.get(row["result"], 0) + 1
            if row["error"] and row["error"] not in errors:
                errors.append(row["error"])
        if claim == "claimed":
            # A freed slot lets an action that waited for one run now.
            self.resume()
        return DecisionOutcome(action=action, decision=decision, status=status, results=results, message=_ran_message(action, status, results, errors))

    def _claim(self, action_id: str) -> str:
        """Take an execution slot for the action.

        Returns `claimed`, `busy` when every slot is taken, `gone` when the action no longer
        waits to run (another console ran it or claimed the run), or `unclaimed` when the sync
        server cannot tell whether another console runs it. The check and the claim happen under one lock
        file, so two consoles on the same store never take the last slot both.
        """
        with file_lock(self.lock_path):
            row = queries.action_row(self.store, action_id)
            if row is None or row.action.status not in (ActionStatus.APPROVED, ActionStatus.RUNNING):
                return "gone"
            if row.action.status is ActionStatus.RUNNING and executor.executor_alive(row.executor):
                return "gone"
            busy = sum(
                1
                for other in queries.action_rows(self.store, status=ActionStatus.RUNNING)
                if other.action.id != action_id and executor.executor_alive(other.executor)
            )
            if busy >= self.settings.max_concurrent_executions:
                return "busy"
            run_key = f"{row.action.phase.value}-{row.attempt}"
            try:
                holder = self.coordination.claim_run(action_id, run_key)
            except CoordinationUnavailable:
                return "unclaimed"
            if holder is not None:
                return "gone"
            ledger.append(
                self.store,
                [
                    self._event(
                        EventType.ACTION_EXECUTION_STARTED,
                        {
                            "action_id": action_id,
                            "phase": row.action.phase.value,
                            "attempt": row.attempt,
                            "executor": executor.executor_identity(self.clock),
                            "claim": run_key,
                        },
                    )
                ],
            )
            return "claimed"

    def _execute(self, action_id: str, on_progress: Callable[[int, int], None] | None) -> ActionStatus:
        row = queries.action_row(self.store, action_id)
        assert row is not None
        action = row.action
        execution = executor.Execution(
            store=self.store,
            tenant=self.tenant,
            mail=self.mail if action.action_type.on_messages else _NoMail(),
            actor=row.decided_by or self.analyst,
            clock=self.clock,
            new_id=self.new_id,
            duplicate_window=timedelta(minutes=self.settings.duplicate_window_minutes),
            start_investigation=self.start_investigation,
            on_progress=on_progress,
        )
        return executor.run(execution, action, action.phase, row.attempt)

    # Helpers -----------------------------------------------------------------------------------

    def _record(self, events: list[Event], guard: BeforeCommit | None) -> None:
        """Append decision events; in team mode the sync server first has to take the decision as the only one."""
        try:
            ledger.append(self.store, events, before_commit=guard)
        except DecisionTaken as taken:
            raise DecisionConflict(str(taken), taken.holder) from taken
        except CoordinationUnavailable as error:
            raise ActionError(
                f"Nothing was decided: {error} In team mode a decision needs the sync server, so that two analysts "
                "never decide the same action; try again when it answers."
            ) from error

    def _record_decision(self, action: PendingAction, decision: Decision, claim: str) -> None:
        self._record(self._decision_events(action, decision, claim), self.coordination.decision_guard(action.id, claim))

    def close_pending(self, action_id: str, reason: str) -> Event | None:
        """Record the closing of a pending action (expired, nothing left to do) as its decision, by Automation.

        Returns the event, or None when another console decided the action first or the sync
        server cannot tell: the action then stays as the other decision left it, or waits for
        the next check.
        """
        event = Event(
            id=self.new_id(),
            type=EventType.ACTION_CLOSED,
            actor=AUTOMATION,
            time=self.clock(),
            payload={"action_id": action_id, "status": ActionStatus.EXPIRED.value, "reason": reason, "claim": DECIDE_KEY},
        )
        try:
            self._record([event], self.coordination.decision_guard(action_id, DECIDE_KEY))
        except ActionError:
            return None
        return event

    def _find(self, action_id: str) -> PendingAction:
        # ULIDs are case-insensitive, so an id typed in lower case still finds its action.
        action = queries.action(self.store, action_id) or queries.action(self.store, action_id.upper())
        if action is None:
            raise ActionError(f"No action with id {action_id}. List the ids with: air-tui actions list")
        return action

    def _require_pending(self, action: PendingAction) -> None:
        if action.status is ActionStatus.PENDING:
            return
        decided = queries.decisions(self.store, action.id)
        if decided:
            last = decided[-1]
            by = f" It was {last.kind.verb} by {last.analyst} at {last.time.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC."
        else:
            row = queries.action_row(self.store, action.id)
            by = f" It was closed by {row.decided_by} at {row.decided_at[:19].replace('T', ' ')} UTC." if row and row.decided_by else ""
        raise ActionError(f"Action {action.id} is {action.status.value.lower()}, so it cannot be decided: only pending actions can.{by}")

    def _check_size(self, action: PendingAction) -> None:
        cap = self.settings.max_messages_per_action
        if action.action_type.on_messages and len(action.targets) > cap:
            raise ActionError(
                f"Action {action.id} targets {len(action.targets):,} messages, more than [actions] max_messages_per_action ({cap:,}). "
                "Raise the limit in config.toml to approve it, or reject it."
            )

    def _decision(self, action: PendingAction, kind: DecisionKind, comment: str, parameters: dict[str, str], *, batch_id: str = "") -> Decision:
        return Decision(action_id=action.id, kind=kind, analyst=self.analyst, time=self.clock(), comment=comment, parameters=parameters, batch_id=batch_id)

    def _decision_events(self, action: PendingAction, decision: Decision, claim: str) -> list[Event]:
        """Build the decision event and, for an action of an investigation, its line in the investigation log.

        `claim` names the decision's slot on the action (see DECIDE_KEY), kept so that team sync
        can put the claim back on a sync server that lost it.
        """
        events = [self._event(EventType.ACTION_DECIDED, {"decision": decision.model_dump(mode="json"), "claim": claim})]
        if action.investigation_id:
            remark = f": {decision.comment}" if decision.comment else ""
            changed = f" as {decision.parameters['action_type']}" if "action_type" in decision.parameters else ""
            events.append(
                self._log_event(
                    action.investigation_id,
                    f"Decision: {decision.kind.value} {action.action_type.value}",
                    f"{self.analyst} {decision.kind.verb} '{action.title}' ({action.scope}){changed}{remark}",
                    time=decision.time,
                )
            )
        return events

    def _log_event(self, investigation_id: str, name: str, summary: str, *, time: datetime | None = None) -> Event:
        when = time or self.clock()
        step = LogStep(name=name, started=when, duration_ms=0, outcome="ok", summary=summary)
        position = queries.next_log_position(self.store, investigation_id)
        return self._event(EventType.INVESTIGATION_STEP_LOGGED, {"investigation_id": investigation_id, "position": position, "step": step.model_dump(mode="json")})

    def _event(self, event_type: EventType, payload: dict[str, Any]) -> Event:
        return Event(id=self.new_id(), type=event_type, actor=self.analyst, time=self.clock(), payload=payload)

    def _bulk_scope(self, actions: list[PendingAction]) -> str:
        investigations = {action.investigation_id for action in actions}
        if len(investigations) == 1:
            only = next(iter(investigations))
            return f"investigation {only}" if only else "no investigation (proposed by hand)"
        incidents = {action.incident_id or self._incident_of(action.investigation_id) for action in actions}
        if len(incidents) == 1 and "" not in incidents:
            return f"incident {next(iter(incidents))}"
        cases = _count(len(investigations - {""}), "investigation")
        if "" in investigations:
            cases += " and actions outside any investigation"
        raise ActionError(
            f"The actions belong to {cases}. A bulk decision stays within one investigation or one incident, "
            "so it never reaches past one case: decide the others separately."
        )

    def _incident_of(self, investigation_id: str) -> str:
        if not investigation_id:
            return ""
        row = self.store.db.execute("SELECT incident_id FROM investigations WHERE id = ?", [investigation_id]).fetchone()
        return (row[0] or "") if row else ""

    def _bulk_problem(self, action: PendingAction, kind: DecisionKind) -> str:
        if action.status is not ActionStatus.PENDING:
            return f"Action {action.id} is {action.status.value.lower()} already."
        try:
            if kind is DecisionKind.APPROVED:
                self.access.require_decision(action, action.action_type, "approving actions")
                self._check_size(action)
            else:
                self.access.require_change("rejecting actions")
        except ActionError as error:
            return str(error)
        return ""

    def _preview_rows(self, action: PendingAction) -> list[PreviewRow]:
        if not action.action_type.on_messages:
            mailbox = action.mailboxes[0] if action.mailboxes else "(tenant)"
            return [PreviewRow(mailbox, action.id, action.action_type.value, action.effect, 0, 0)]
        where = queries.locations(self.store, [target.message_id for target in action.targets])
        destination = action.action_type.destination
        effect = f"to {destination.value}" if destination else "purged"
        per_mailbox: dict[str, list[int]] = {}
        for target in action.targets:
            counts = per_mailbox.setdefault(target.mailbox, [0, 0])
            counts[0] += 1
            if where.get(target.message_id, ("", ""))[1] in IN_MAILBOX_FOLDERS:
                counts[1] += 1
        return [PreviewRow(mailbox, action.id, action.action_type.value, effect, counts[0], counts[1]) for mailbox, counts in sorted(per_mailbox.items())]


class _NoMail:
    """Stands in for the mail backend where an action touches no message, so none is opened."""

    label = "none"
    batch_size = 1

    def locate(self, ref: Any) -> str | None:  # pragma: no cover - never called for these actions
        return None

    def apply(self, moves: list[Any]) -> list[Any]:  # pragma: no cover
        raise AssertionError("This action touches no message.")

    def close(self) -> None:
        return None


def _ran_message(action: PendingAction, status: ActionStatus, results: dict[str, int], errors: list[str]) -> str:
    counts = ", ".join(f"{count} {result.lower()}" for result, count in sorted(results.items()))
    what = "Undo of " if action.phase is ActionPhase.UNDO else ""
    message = f"{what}{action.action_type.value}: {status.value.lower()} ({counts or 'nothing to do'})."
    if results and set(results) == {TargetResult.NOT_FOUND.value}:
        message += " Nothing was there to change: every target was gone already."
    if errors:
        more = f" (and {len(errors) - 1} other errors)" if len(errors) > 1 else ""
        message += f" {errors[0]}{more} Retry the action once that is fixed."
    return message


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value else []
    return [str(item) for item in value] if isinstance(value, list) else []


def _in_organisation(address: str, domains: Iterable[str]) -> bool:
    domain = address.rsplit("@", 1)[-1].lower()
    return any(domain == own.lower() or domain.endswith("." + own.lower()) for own in domains)


def _check_not_own(kind: BlockKind, value: str, domains: Iterable[str]) -> None:
    """Refuse a block entry that would junk the organisation's own mail."""
    if kind is BlockKind.SENDER:
        host = value.rsplit("@", 1)[-1]
    elif kind is BlockKind.DOMAIN:
        host = value
    elif kind is BlockKind.URL:
        host = (urlsplit(value).hostname or "").lower()
    else:
        return
    if _in_organisation(f"@{host}", domains):
        raise ActionError(
            f"{value} is in the organisation's own domain, so blocking it would junk internal mail. "
            "For a compromised account, propose Disable user and revoke sessions instead."
        )


def normalise_block_value(kind: BlockKind, value: str) -> str:
    """Return the value as the block list stores and matches it, or raise naming what is wrong."""
    text = value.strip()
    if kind is BlockKind.SENDER:
        text = text.lower()
        if not _ADDRESS.fullmatch(text):
            raise ActionError(f"{value!r} is not an email address; block a sender by its address, e.g. billing@example.com.")
        return text
    if kind is BlockKind.DOMAIN:
        text = text.lower().lstrip("@").rstrip(".")
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            pass
        if not _DOMAIN.fullmatch(text):
            raise ActionError(f"{value!r} is not a domain name; block a sender domain like example.com.")
        return text
    if kind is BlockKind.URL:
        if "://" not in text and not text.lower().startswith(("javascript:", "data:", "mailto:")):
            text = "http://" + text
        reading = read_url(text)
        parts = urlsplit(reading.normalised)
        host = (parts.hostname or "") if reading.host is not None else ""
        if parts.scheme not in ("http", "https") or not host or any(character.isspace() for character in text) or reading.problem:
            raise ActionError(
                f"{value!r} is not a web URL air-tui can match: give an http or https URL with its host, e.g. https://example.com/login."
            )
        return reading.normalised
    text = text.lower()
    if not _SHA256.fullmatch(text):
        raise ActionError(f"{value!r} is not a SHA-256; block a file by the 64 hex digits of its hash.")
    if text == _EMPTY_SHA256:
        raise ActionError(f"{text} is the SHA-256 of an empty file, so blocking it would junk every message with an empty attachment.")
    return text


def _parse_expiry(value: str, now: datetime) -> str:
    """Turn `never`, a number of days, or an ISO date or time into the stored expiry ('' for never)."""
    text = value.strip().lower()
    if text in ("", "never"):
        return ""
    if text.isdigit():
        days = int(text)
        if not 1 <= days <= 3650:
            raise ActionError(f"Expiry {value!r}: give between 1 and 3650 days, a date, or never.")
        return (now + timedelta(days=days)).isoformat()
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ActionError(f"Expiry {value!r} is not a number of days, an ISO date such as 2027-01-31, or never.") from None
    if len(value.strip()) == 10:
        # A bare date means through that day: the entry ends as the next day begins, in UTC.
        when += timedelta(days=1)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    if when <= now:
        raise ActionError(f"Expiry {value!r} is in the past; give a later date, or never.")
    return when.isoformat()


__all__ = [
    "AUTOMATION",
    "Access",
    "ActionCenter",
    "ActionError",
    "BulkPreview",
    "DecisionOutcome",
    "PermissionDenied",
    "PreviewRow",
    "normalise_block_value",
]
