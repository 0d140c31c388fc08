"""`air-tui actions` and `air-tui audit`: the action center and the ledger's audit from a plain shell.

The same rules, roles and records apply as in the console: every command here calls the service,
which checks the analyst's role, records the decision and runs the action.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from air_tui.domain.event import EventType
from air_tui.domain.vocab import ActionStatus, ActionType, DecisionKind, ManualTarget
from air_tui.mail.invisible import printable as _plain
from air_tui.service import ActionError, AirService, DecisionOutcome
from air_tui.store import ledger, queries

EXIT_OK = 0
EXIT_ERROR = 1

_LIST_STATUSES = [status.value for status in ActionStatus]


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the `actions` and `audit` commands to the top-level parser."""
    actions = commands.add_parser("actions", help="list, show, propose, decide and undo actions")
    sub = actions.add_subparsers(dest="action_command", metavar="ACTION", required=True)

    listing = sub.add_parser("list", parents=[common], help="list actions: pending ones, unless --all, --status or --decided-by is given")
    listing.add_argument("--all", action="store_true", help="every action, decided ones included")
    listing.add_argument("--status", type=_choice(_LIST_STATUSES, "status"), metavar="STATUS", help=f"only this status: {', '.join(_LIST_STATUSES)}")
    listing.add_argument("--type", dest="action_type", type=_choice([kind.value for kind in ActionType], "action type"), metavar="TYPE", help="only this action type, as `actions types` names it")
    listing.add_argument("--investigation", metavar="ID", help="only actions of this investigation")
    listing.add_argument("--incident", metavar="ID", help="only actions of this incident")
    listing.add_argument("--decided-by", metavar="NAME", help="only actions this analyst (or Automation) decided")
    listing.add_argument("--json", action="store_true", help="print the actions as JSON")

    show = sub.add_parser("show", parents=[common], help="show one action: impact, targets, decisions and results")
    show.add_argument("action_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="print the action as JSON")

    approve = sub.add_parser("approve", parents=[common], help="approve actions and run them; several ids are decided together")
    approve.add_argument("action_ids", metavar="ID", nargs="+")
    approve.add_argument("--comment", default="", help="why (optional)")
    approve.add_argument("--as", dest="as_type", metavar="TYPE", help="run an email action as another email action, e.g. 'Soft delete'")
    approve.add_argument("--expires", metavar="WHEN", help="for a block action: days, an ISO date, or never")
    approve.add_argument("--yes", action="store_true", help="do not ask: needed for several ids or an irreversible action when no one can answer a prompt")
    approve.add_argument("--json", action="store_true", help="print the outcomes as JSON")

    reject = sub.add_parser("reject", parents=[common], help="reject actions with a reason; several ids are decided together")
    reject.add_argument("action_ids", metavar="ID", nargs="+")
    reject.add_argument("--comment", default="", help="why; required")
    reject.add_argument("--yes", action="store_true", help="do not ask before rejecting several ids")
    reject.add_argument("--json", action="store_true", help="print the outcomes as JSON")

    for name, text in (("undo", "undo an action that ran: messages go back, settings and entries return"), ("retry", "run the failed targets of an action again")):
        command = sub.add_parser(name, parents=[common], help=text)
        command.add_argument("action_id", metavar="ID")
        command.add_argument("--comment", default="", help="why (optional)")
        command.add_argument("--json", action="store_true", help="print the outcome as JSON")

    preview = sub.add_parser("preview", parents=[common], help="show what deciding several actions together would do, per mailbox")
    preview.add_argument("action_ids", metavar="ID", nargs="+")
    preview.add_argument("--reject", action="store_true", help="preview a rejection instead of an approval")
    preview.add_argument("--json", action="store_true", help="print the preview as JSON")

    propose = sub.add_parser("propose", parents=[common], help="propose an action by hand; it waits for approval")
    propose.add_argument("action_type", metavar="TYPE", help="as `actions types` names it, e.g. 'Block sender'")
    propose.add_argument("--investigation", default="", metavar="ID", help="the investigation it belongs to")
    propose.add_argument("--message", dest="message_ids", action="append", default=[], metavar="ID", help="a message of an email action, or the one a Start investigation investigates; repeat for more")
    propose.add_argument("--value", default="", help="block actions: the address, domain, URL or SHA-256; Remove inbox rule: the rule id; Remove delegation: the delegate; Remove forwarding: a forwarding rule's id, or nothing for the mailbox's forwarding")
    propose.add_argument("--expires", metavar="WHEN", help="for a block action: days, an ISO date (through that day), or never (default: [actions] block_days)")
    propose.add_argument("--user", default="", help="Disable user and revoke sessions: the account; Remove forwarding, inbox rule or delegation: the mailbox")
    propose.add_argument("--on", dest="investigate_on", choices=[target.value for target in ManualTarget], default="email", help="for Start investigation: what to investigate")
    propose.add_argument("--comment", default="", help="why (optional)")
    propose.add_argument("--json", action="store_true", help="print the new action as JSON")

    types = sub.add_parser("types", help="list the action types, what each changes and whether it can be undone")
    types.add_argument("--json", action="store_true", help="print the types as JSON")

    audit = commands.add_parser("audit", help="check the ledger's hash chain, or export it")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_sub.add_parser("verify", parents=[common], help="report any event that was edited, removed or reordered")
    export = audit_sub.add_parser("export", parents=[common], help="write the ledger as JSON Lines or CSV")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl", help="output format (default: jsonl)")
    export.add_argument("--output", type=Path, metavar="FILE", help="file to write (default: standard output)")
    export.add_argument("--since", metavar="TIME", help="only events at or after this ISO time")
    export.add_argument("--type", dest="event_types", action="append", default=[], choices=[kind.value for kind in EventType], metavar="TYPE", help="only this event type; repeat for more")


def run_actions(args: argparse.Namespace, open_service: Callable[[], AirService]) -> int:
    command = args.action_command
    if command == "types":
        return _types(args)
    with open_service() as service:
        if command == "list":
            return _list(args, service)
        if command == "show":
            return _show(args, service)
        if command == "preview":
            preview = service.preview(args.action_ids, DecisionKind.REJECTED if args.reject else DecisionKind.APPROVED)
            _print_preview(preview, as_json=args.json, kind=DecisionKind.REJECTED if args.reject else DecisionKind.APPROVED)
            return EXIT_ERROR if preview.problems else EXIT_OK
        if command == "propose":
            action = service.propose(
                args.action_type,
                investigation_id=args.investigation,
                message_ids=args.message_ids,
                value=args.value,
                expires=args.expires,
                user=args.user,
                investigate_on=args.investigate_on,
                comment=args.comment,
            )
            if args.json:
                print(json.dumps(action.model_dump(mode="json"), indent=2, ensure_ascii=False))
            else:
                print(f"Proposed {action.id}: {action.action_type.value} on {_plain(action.scope)}. {action.impact}")
            return EXIT_OK
        if command in ("approve", "reject"):
            return _decide(args, service)
        if command == "undo":
            outcome = service.undo(args.action_id, comment=args.comment)
        else:
            outcome = service.retry(args.action_id, comment=args.comment)
        _print_outcomes([outcome], as_json=args.json)
        return _exit_for([outcome])


def run_audit(args: argparse.Namespace, open_service: Callable[[], AirService]) -> int:
    with open_service() as service:
        if args.audit_command == "verify":
            problems = ledger.verify_chain(service.store)
            tables = ledger.verify_projections(service.store)
            count = service.ledger_position()
            if not problems and not tables:
                print(f"The ledger is intact: {_count(count, 'event')}, every hash and link matches, and every table agrees with it.")
                return EXIT_OK
            for problem in problems:
                where = f"event {problem.seq}" + (f" ({problem.event_id})" if problem.event_id else "")
                print(f"{where}: {problem.problem}")
            for table in tables:
                print(
                    f"table {table.table}: {_count(table.extra, 'row')} the ledger does not explain and {_count(table.missing, 'row')} "
                    f"it records are missing, for example {table.sample}: the table was changed outside air-tui"
                )
            total = len(problems) + len(tables)
            print(f"{_count(total, 'problem')} in {_count(count, 'event')}.", file=sys.stderr)
            return EXIT_ERROR
        return _export(args, service)


def _types(args: argparse.Namespace) -> int:
    rows = [
        {
            "type": kind.value,
            "reversible": kind.reversible,
            "needs_admin": kind.needs_admin,
            "undo": kind.undo_note,
        }
        for kind in ActionType
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    for row in rows:
        admin = "  (admin)" if row["needs_admin"] else ""
        print(f"{row['type']:<34}{admin:<9} {row['undo']}")
    return EXIT_OK


def _list(args: argparse.Namespace, service: AirService) -> int:
    # A question about who decided is about decided actions, so --decided-by lists every status.
    if args.status:
        status: ActionStatus | None = ActionStatus(args.status)
    elif args.all or args.decided_by:
        status = None
    else:
        status = ActionStatus.PENDING
    rows = service.actions(status)
    if args.action_type:
        rows = [row for row in rows if row.action.action_type.value == args.action_type]
    if args.investigation:
        rows = [row for row in rows if row.action.investigation_id.upper() == args.investigation.upper()]
    if args.incident:
        incidents = {investigation.id: investigation.incident_id for investigation in service.investigations()}
        rows = [row for row in rows if (row.action.incident_id or incidents.get(row.action.investigation_id, "")).upper() == args.incident.upper()]
    if args.decided_by:
        rows = [row for row in rows if row.decided_by.lower() == args.decided_by.lower()]
    if args.json:
        print(json.dumps([action_json(row) for row in rows], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("No pending actions." if status is ActionStatus.PENDING else "No actions match.")
        return EXIT_OK
    for row in rows:
        action = row.action
        status = action.status.value + (" (undo)" if action.phase.value == "undo" and action.status is not ActionStatus.UNDONE else "")
        who = f"by {_plain(row.decided_by)}" if row.decided_by else f"from {_plain(action.proposed_by)}"
        print(f"{action.id}  {status:<16} {action.action_type.value:<22} {_plain(action.scope)[:40]:<40}  {who}")
        print(f"    {_plain(action.title)[:76]}")
    return EXIT_OK


def action_json(row: queries.ActionRow) -> dict[str, Any]:
    action = row.action
    return {
        "id": action.id,
        "type": action.action_type.value,
        "status": action.status.value,
        "phase": action.phase.value,
        "title": action.title,
        "message_count": len(action.targets),
        "mailboxes": action.mailboxes,
        "impact": action.impact,
        "reversible": action.action_type.reversible,
        "source": action.source.value,
        "proposed_by": action.proposed_by,
        "investigation_id": action.investigation_id,
        "incident_id": action.incident_id,
        "investigation": row.investigation_title,
        "created": action.created.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at,
        "comment": row.comment,
        "block": action.block.model_dump(mode="json") if action.block else None,
        "user": action.user,
        "setting": action.setting.model_dump(mode="json") if action.setting else None,
    }


def _show(args: argparse.Namespace, service: AirService) -> int:
    row = service.action_row(args.action_id)
    if row is None:
        raise ActionError(f"No action with id {args.action_id}. List the ids with: air-tui actions list --all")
    action = row.action
    decisions = service.decisions(action.id)
    results = service.action_results(action.id)
    undo_results = service.action_results(action.id, undo=True)
    changes = service.parameter_changes(action.id)
    blocked = service.blocked_by(action.id) if action.block is not None else []
    if args.json:
        document = action_json(row)
        document["targets"] = [target.model_dump(mode="json") for target in action.targets]
        document["decisions"] = [decision.model_dump(mode="json") for decision in decisions]
        document["parameter_changes"] = changes
        document["results"] = results
        document["undo_results"] = undo_results
        document["blocked_messages"] = blocked
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{action.id}  {action.action_type.value}  {action.status.value}")
    print(f"  Target:   {_plain(action.title)} ({_plain(action.scope)})")
    print(f"  Impact:   {_plain(action.impact)}")
    print(f"  Source:   {action.source.value}, proposed by {_plain(action.proposed_by)} at {action.created:%Y-%m-%d %H:%M} UTC")
    if row.investigation_title:
        print(f"  Case:     {_plain(row.investigation_title)} ({action.investigation_id})")
    if action.targets and not results:
        print("  Messages:")
        for target in action.targets[:50]:
            print(f"    {target.message_id}  {_plain(target.mailbox)}  {_plain(target.folder)}")
        if len(action.targets) > 50:
            print(f"    and {_count(len(action.targets) - 50, 'more message')}; --json lists them all")
    for change in changes:
        print(f"  Changed:  {change['time'][:16].replace('T', ' ')} {_plain(change['actor'])} changed {_describe(change['parameters'])}, becoming its proposer")
    for decision in decisions:
        changed = f" as {decision.parameters['action_type']}" if "action_type" in decision.parameters else ""
        expiry = f", expiry {decision.parameters['expires'] or 'never'}" if "expires" in decision.parameters else ""
        remark = f": {_plain(decision.comment)}" if decision.comment else ""
        bulk = f" [bulk {decision.batch_id}]" if decision.batch_id else ""
        print(f"  Decision: {decision.time:%Y-%m-%d %H:%M} {_plain(decision.analyst)} {decision.kind.verb}{changed}{expiry}{remark}{bulk}")
    if action.status is ActionStatus.EXPIRED:
        print(f"  Closed:   {row.decided_at[:16].replace('T', ' ')} by {_plain(row.decided_by)}: {_plain(row.comment)}")
    for title, rows in (("Results", results), ("Undo results", undo_results)):
        if rows:
            print(f"  {title} (latest per target; the ledger keeps earlier attempts):")
            for result in rows:
                if result["result"] == "Failed":
                    where = f"still in {result['from_folder']}" if result["from_folder"] else ""
                else:
                    where = f"{result['from_folder']} -> {result['to_folder'] or 'purged'}" if result["from_folder"] or result["to_folder"] else ""
                extra = _plain(result["error"] or result["note"] or "")
                print(f"    {result['result']:<23} {_plain(result['mailbox'])}  {result['message_id']}  {where}  {extra}".rstrip())
    if action.block is not None:
        print(f"  Junked at ingest: {_count(len(blocked), 'new message')}")
        for hit in blocked[:50]:
            print(f"    {hit['time'][:16].replace('T', ' ')}  {_plain(hit['mailbox'])}  {hit['message_id']}  {hit['from_folder']} -> {hit['to_folder']}  {hit['result']}")
    return EXIT_OK


def _describe(parameters: dict[str, str]) -> str:
    parts = []
    if "action_type" in parameters:
        parts.append(f"the type to {parameters['action_type']}")
    if "expires" in parameters:
        parts.append(f"the expiry to {parameters['expires'] or 'never'}")
    return " and ".join(parts) or "nothing"


def _decide(args: argparse.Namespace, service: AirService) -> int:
    approving = args.action_command == "approve"
    if len(args.action_ids) == 1:
        if approving:
            parameters: dict[str, str] = {}
            if args.as_type:
                parameters["action_type"] = args.as_type
            if args.expires is not None:
                parameters["expires"] = args.expires
            _confirm_irreversible(service, args.action_ids[0], parameters, args.yes)
            outcome = service.approve(args.action_ids[0], comment=args.comment, parameters=parameters)
        else:
            outcome = service.reject(args.action_ids[0], reason=args.comment)
        _print_outcomes([outcome], as_json=args.json)
        return _exit_for([outcome])
    if approving and (args.as_type or args.expires):
        raise ActionError("--as and --expires change one action; approve it on its own, then the others together.")
    kind = DecisionKind.APPROVED if approving else DecisionKind.REJECTED
    preview = service.preview(args.action_ids, kind)
    if preview.problems:
        _print_preview(preview, as_json=args.json, kind=kind)
        return EXIT_ERROR
    if not args.yes:
        _print_preview(preview, as_json=False, kind=kind)
        verb = "Approve" if approving else "Reject"
        if not _confirm(f"{verb} these {_count(len(preview.action_ids), 'action')}?"):
            print("Nothing was decided. Answer y at the prompt, or give --yes when no one can answer one.", file=sys.stderr)
            return EXIT_ERROR
    outcomes = service.decide_many(args.action_ids, kind, comment=args.comment)
    _print_outcomes(outcomes, as_json=args.json, bulk=True)
    return _exit_for(outcomes)


def _confirm_irreversible(service: AirService, action_id: str, parameters: dict[str, str], yes: bool) -> None:
    """Say that an action cannot be undone before approving it, and go on only when confirmed."""
    row = service.action_row(action_id)
    if row is None:
        return
    action_type = ActionType(parameters.get("action_type", row.action.action_type.value)) if parameters.get("action_type") in {kind.value for kind in ActionType} else row.action.action_type
    if action_type.reversible or yes:
        return
    print(f"{action_type.value} of {_plain(row.action.scope)} cannot be undone. {action_type.undo_note}", file=sys.stderr)
    if not _confirm(f"Approve {action_type.value} of {_plain(row.action.scope)}?"):
        raise ActionError(f"Action {row.action.id} was not approved: {action_type.value} cannot be undone. Answer y at the prompt, or give --yes.")


def _print_preview(preview: Any, *, as_json: bool, kind: DecisionKind = DecisionKind.APPROVED) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "decision": kind.value,
                    "scope": preview.scope,
                    "rows": [row.__dict__ for row in preview.rows],
                    "problems": preview.problems,
                    "irreversible": preview.irreversible,
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return
    verb = "Approving" if kind is DecisionKind.APPROVED else "Rejecting (nothing changes in the mailboxes)"
    print(
        f"{verb} {_count(len(preview.action_ids), 'action')} in {preview.scope}: "
        f"{_count(preview.message_count, 'message')} in {_count(preview.mailbox_count, 'mailbox', 'mailboxes')}"
    )
    for row in preview.rows:
        counts = f"{row.messages} listed, {row.present} in Inbox or Junk Email when last indexed" if row.messages else ""
        print(f"  {row.action_id}  {_plain(row.mailbox)[:36]:<36} {row.action_type:<22} {_plain(row.effect)[:50]}  {counts}".rstrip())
    for action_id in preview.irreversible:
        print(f"  {action_id} cannot be undone.")
    for problem in preview.problems:
        print(f"  Refused: {_plain(problem)}")


def _print_outcomes(outcomes: list[DecisionOutcome], *, as_json: bool, bulk: bool = False) -> None:
    """Print each outcome's sentence, or JSON: one object for one action, a list for a bulk decision."""
    if as_json:
        documents = [
            {
                "action_id": outcome.action.id,
                "decision": outcome.decision.kind.value if outcome.decision else None,
                "analyst": outcome.decision.analyst if outcome.decision else None,
                "batch_id": outcome.decision.batch_id if outcome.decision else "",
                "status": outcome.status.value,
                "results": outcome.results,
                "message": outcome.message,
            }
            for outcome in outcomes
        ]
        print(json.dumps(documents if bulk else documents[0], indent=2))
        return
    for outcome in outcomes:
        print(f"{outcome.action.id}  {outcome.message}")


def _exit_for(outcomes: list[DecisionOutcome]) -> int:
    """Return exit status 1 when a decision ran with failures, so scripts notice, and 0 otherwise."""
    failed = (ActionStatus.FAILED, ActionStatus.PARTIALLY_FAILED)
    return EXIT_ERROR if any(outcome.status in failed for outcome in outcomes) else EXIT_OK


_EXPORT_COLUMNS = ("seq", "id", "type", "actor", "time", "payload", "prev_hash", "hash")


def _export(args: argparse.Namespace, service: AirService) -> int:
    conditions, params = [], []
    if args.since:
        conditions.append("time >= ?")
        params.append(_utc_text(args.since))
    if args.event_types:
        conditions.append(f"type IN ({','.join('?' * len(args.event_types))})")
        params.extend(args.event_types)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = service.store.db.query(f"SELECT {', '.join(_EXPORT_COLUMNS)} FROM events {where} ORDER BY seq", params)
    target = args.output.open("w", encoding="utf-8", newline="") if args.output else nullcontext(sys.stdout)
    count = 0
    with target as handle:
        count = _write_events(handle, rows, args.format)
    if args.output:
        print(f"Wrote {count} events to {args.output}.", file=sys.stderr)
    return EXIT_OK


def _utc_text(value: str) -> str:
    """Turn an ISO date or time into the UTC text events are stored with, so they compare in order."""
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ActionError(f"--since {value!r} is not an ISO date or time; write e.g. 2026-12-01 or 2026-12-01T08:00:00+01:00.") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def _write_events(handle: IO[str], rows: Any, form: str) -> int:
    count = 0
    if form == "csv":
        writer = csv.writer(handle)
        writer.writerow(_EXPORT_COLUMNS)
        for row in rows:
            writer.writerow([_cell(row[column]) for column in _EXPORT_COLUMNS])
            count += 1
        return count
    for row in rows:
        record = {column: row[column] for column in _EXPORT_COLUMNS}
        record["payload"] = json.loads(record["payload"])
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def _cell(value: object) -> object:
    """Keep a spreadsheet from reading a cell as a formula: payloads carry text from mail.

    A leading apostrophe is the spreadsheet convention for "this is text"; `audit export
    --format jsonl` keeps the values untouched.
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _choice(choices: list[str], what: str) -> Callable[[str], str]:
    """An argparse type that accepts one of `choices` in any letter case and returns its proper spelling."""
    by_lower = {choice.lower(): choice for choice in choices}

    def convert(text: str) -> str:
        try:
            return by_lower[text.strip().lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(f"unknown {what} {text!r}; use one of: {', '.join(choices)}") from None

    return convert


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


def _confirm(question: str) -> bool:
    """Ask at the terminal; without a terminal no one can answer, so the answer is no."""
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


