"""The `air-tui` command: the console, and headless subcommands over the same core."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import logging
import sys
import time
from pathlib import Path
from typing import Any

from air_tui import __version__, actions_cli
from air_tui.domain.config import ConfigError, load_config
from air_tui.engine.rules import RULES, Scoring
from air_tui.domain.message import EmailMessage
from air_tui.domain.vocab import ActionStatus
from air_tui.intel import IntelError
from air_tui.mail import FailedRead, SourceError, iter_messages, parse_message
from air_tui.mail.invisible import printable as _plain
from air_tui.service import ActionError, AirService, AnalystError, BackendError, IngestSummary, validate_analyst
from air_tui.store import StoreError
from air_tui.store.explorer import QueryError
from air_tui.tenant.demo import TenantError
from air_tui.tenant.workspace import Workspace, config_is_explicit, config_path, data_dir, demo_workspace, pristine_demo_tenant, tenant_workspace

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="air-tui",
        description="Automated investigation and response to email threats, in the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"air-tui {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tenant", type=Path, metavar="DIR", help="tenant directory to work on in place (default: a copy of the demo tenant in the data directory)")
    common.add_argument("--analyst", metavar="NAME", help="name recorded with every decision (default: the operating-system user)")
    common.add_argument("--reset-demo", action="store_true", help="restore the pristine demo tenant and an empty database before starting")
    common.add_argument("--read-only", action="store_true", help="view only: every decision, proposal and change to mail is turned off")
    common.add_argument("--insecure", action="store_true", help="allow team sync over plain HTTP to a server that is not this machine")

    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser("console", parents=[common], help="open the console (the default)")

    investigate = commands.add_parser("investigate", parents=[common], help="ingest, raise alerts and run every investigation")
    investigate.add_argument("--json", action="store_true", help="print the summary as JSON")

    actions_cli.add_parsers(commands, common)

    intel = commands.add_parser("intel", help="download threat-intelligence feeds and show their state")
    intel_commands = intel.add_subparsers(dest="intel_command", metavar="ACTION", required=True)
    refresh = intel_commands.add_parser("refresh", parents=[common], help="download every enabled [[intel.feeds]] of config.toml")
    refresh.add_argument("--json", action="store_true", help="print each feed's outcome as JSON")
    status = intel_commands.add_parser("status", parents=[common], help="show each feed's indicator count, age, last error and skipped lines")
    status.add_argument("--json", action="store_true", help="print each feed's state as JSON")

    rules_command = commands.add_parser("rules", help="list the verdict rules with their weights, as configured")
    rules_command.add_argument("--json", action="store_true", help="print the rules as JSON")

    policies_command = commands.add_parser("policies", parents=[common], help="list the alert policies, their severity, playbook and whether they are on")
    policies_command.add_argument("--json", action="store_true", help="print the policies as JSON")

    alerts_command = commands.add_parser("alerts", help="resolve alerts that start no investigation")
    alert_commands = alerts_command.add_subparsers(dest="alert_command", metavar="ACTION", required=True)
    resolve = alert_commands.add_parser("resolve", parents=[common], help="resolve an alert with a comment on what was checked")
    resolve.add_argument("alert_id", metavar="ID")
    resolve.add_argument("--comment", default="", help="what was checked; required")

    incidents_command = commands.add_parser("incidents", help="list incidents and assign them")
    incident_commands = incidents_command.add_subparsers(dest="incident_command", metavar="ACTION", required=True)
    incident_list = incident_commands.add_parser("list", parents=[common], help="list incidents, most recent first")
    incident_list.add_argument("--json", action="store_true", help="print the incidents as JSON")
    assign = incident_commands.add_parser("assign", parents=[common], help="assign an incident to an analyst")
    assign.add_argument("incident_id", metavar="ID")
    assign.add_argument("assignee", metavar="ANALYST")

    investigations_command = commands.add_parser("investigations", help="list investigations, start one by hand or stop one")
    investigation_commands = investigations_command.add_subparsers(dest="investigation_command", metavar="ACTION", required=True)
    investigation_list = investigation_commands.add_parser("list", parents=[common], help="list investigations with status, type and queue")
    investigation_list.add_argument("--json", action="store_true", help="print the investigations as JSON")
    start = investigation_commands.add_parser("start", parents=[common], help="start a manual investigation of an email, its recipient or its sender")
    start.add_argument("message_id", metavar="MESSAGE_ID", help="as `air-tui explore` lists it")
    start.add_argument("--on", dest="target", choices=["email", "recipient", "sender"], default="email", help="what to investigate (default: email)")
    start.add_argument("--json", action="store_true", help="print the alert and investigation as JSON")
    stop = investigation_commands.add_parser("stop", parents=[common], help="stop an unfinished investigation (Terminated by user)")
    stop.add_argument("investigation_id", metavar="ID")
    stop.add_argument("--comment", default="", help="why; required")

    explore = commands.add_parser("explore", parents=[common], help="search all ingested mail, as the console's explorer does")
    explore.add_argument("query", nargs="*", help='terms such as from:ADDRESS domain:D subject:"WORDS" url:U hash:SHA256 after:DATE before:DATE folder:F mailbox:M verdict:V, and words')
    explore.add_argument("--limit", type=int, default=50, help="rows to print (default: 50)")
    explore.add_argument("--offset", type=int, default=0, help="rows to skip, for the next page")
    explore.add_argument("--json", action="store_true", help="print the count and rows as JSON")

    sync = commands.add_parser("sync", help="team sync through CouchDB: show its state or sync now")
    sync_commands = sync.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    sync_status = sync_commands.add_parser("status", parents=[common], help="events waiting, last success, last error, who runs the automation")
    sync_status.add_argument("--json", action="store_true", help="print the state as JSON")
    sync_now = sync_commands.add_parser("now", parents=[common], help="push this console's new events and pull everyone else's, once")
    sync_now.add_argument("--json", action="store_true", help="print what was sent and received as JSON")
    sync_watch = sync_commands.add_parser(
        "watch", parents=[common], help="keep syncing, and do the automation while this console holds the lease (ctrl+c stops)"
    )
    sync_watch.add_argument("--rounds", type=int, default=0, metavar="N", help="stop after N rounds (default: run until stopped)")
    sync_watch.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="maximum wait for changes between rounds (default: [sync] interval_seconds)")
    sync_watch.add_argument("--json", action="store_true", help="print one JSON object per round")

    ingest = commands.add_parser("ingest", help="parse a .eml file, a folder of them, an mbox or a Maildir")
    ingest.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    ingest.add_argument("--json", action="store_true", help="print one JSON object per message")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging()
    command = args.command or "console"
    try:
        if command == "ingest":
            return _ingest(args)
        if command == "rules":
            return _rules(args)
        if command == "console":
            return _console(args)
        if command == "investigate":
            return _investigate(args)
        if command == "actions":
            return actions_cli.run_actions(args, lambda: _service(args))
        if command == "audit":
            return actions_cli.run_audit(args, lambda: _service(args))
        if command == "intel":
            return _intel(args)
        if command == "policies":
            return _policies(args)
        if command == "explore":
            return _explore(args)
        if command == "incidents":
            return _incidents(args)
        if command == "alerts":
            return _alerts(args)
        if command == "investigations":
            return _investigations(args)
        if command == "sync":
            return _sync(args)
    except (SourceError, TenantError, StoreError, IntelError, ConfigError, FileNotFoundError, PermissionError) as error:
        print(f"air-tui: {error}", file=sys.stderr)
        return EXIT_ERROR
    except (ActionError, AnalystError, BackendError) as error:
        print(f"air-tui: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader (`air-tui rules | head`) closed the pipe: it has what it wanted. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _configure_logging() -> None:
    log_dir = data_dir()
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_dir / "air-tui.log", encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("air_tui")
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(logging.INFO)


def _workspace(args: argparse.Namespace) -> Workspace:
    tenant = getattr(args, "tenant", None)
    if tenant is not None:
        if not tenant.exists():
            raise FileNotFoundError(f"No such tenant directory: {tenant}. Check the path given to --tenant.")
        if tenant.resolve() == pristine_demo_tenant().resolve():
            raise TenantError(
                f"{tenant} is the pristine demo tenant, which air-tui never changes. "
                "Leave out --tenant to work on its copy in the data directory."
            )
        if getattr(args, "reset_demo", False):
            raise TenantError(
                "--reset-demo restores the demo tenant's copy and cannot reset a --tenant directory, "
                "which air-tui changes in place. Leave out one of the two."
            )
        return tenant_workspace(tenant)
    return demo_workspace(reset=getattr(args, "reset_demo", False))


def _analyst(args: argparse.Namespace) -> str:
    name = getattr(args, "analyst", None)
    if name is not None:
        return validate_analyst(str(name))
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "analyst"


def _service(args: argparse.Namespace) -> AirService:
    service = AirService(
        _workspace(args), analyst=_analyst(args), read_only=getattr(args, "read_only", False), insecure_sync=getattr(args, "insecure", False)
    )
    if service.team is not None:
        service.release_lease_on_close = True
        if args.command != "sync":
            _team_ready(service)
    return service


def _team_ready(service: AirService) -> None:
    """Bring a headless command in team mode up to the team's state before it works.

    It syncs, so it works on the team's current state (what it records goes out when the service
    closes), and it indexes the tenant's mail, so actions it runs find their messages. A failed
    sync is recorded for `sync status` and is not fatal.
    """
    if service.team is not None and service.team.replicator.due():
        report = service.sync_now()
        if report.error:
            print(f"air-tui: warning: team sync failed, working on this console's last copy: {report.error}", file=sys.stderr)
    with service.exclusive():
        service.ingest()


def _sync(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.sync_command == "watch":
            return _sync_watch(args, service)
        if args.sync_command == "now":
            report = service.sync_now()
            if args.json:
                print(json.dumps(dataclasses.asdict(report), indent=2))
            elif report.error:
                print(f"air-tui: sync failed: {report.error}", file=sys.stderr)
                print(f"{_plural(report.pushed, 'event')} sent and {_plural(report.pulled, 'event')} received before it failed; the rest is sent with the next sync.", file=sys.stderr)
            else:
                resent = " The server's database was replaced or restored, so every event was sent again." if report.resent else ""
                rebuilt = " Some received events belong before ones already shown, so every view was rebuilt in clock order." if report.rebuilt else ""
                rejected = f" Documents on the server with no valid event: {report.rejected}; see: air-tui sync status." if report.rejected else ""
                print(f"Synced: {_plural(report.pushed, 'event')} sent, {_plural(report.pulled, 'event')} received.{resent}{rebuilt}{rejected}")
            return EXIT_ERROR if report.error else EXIT_OK
        status = service.sync_status()
        lease = service.team.coordination.current_lease() if service.team is not None else None
        if args.json:
            payload = dataclasses.asdict(status) | {"state": status.state}
            payload["automation"] = None if lease is None else {
                "replica": lease.holder, "host": lease.host, "analyst": lease.analyst, "until": lease.until.isoformat(), "this_console": lease.holder == status.replica_id
            }
            print(json.dumps(payload, indent=2))
            return EXIT_OK
        print(f"Team sync:    {status.url} database {status.database}")
        print(f"This console: replica {status.replica_id}")
        print(f"State:        {_sync_state_line(status)}")
        print(f"Last success: {status.last_success or 'never'}")
        if status.last_error:
            print(f"Last error:   {status.last_error}")
        if lease is None:
            print("Automation:   no console holds it now; the next console that syncs takes it")
        else:
            whose = "this console" if lease.holder == status.replica_id else f"{lease.analyst or '?'} on {lease.host or '?'}"
            print(f"Automation:   {whose}, until {lease.until.isoformat()}")
        if status.rejected:
            first = status.rejected[0]
            print(f"Rejected:     documents on the server with no valid event: {len(status.rejected)} (first: {first['doc_id']}: {first['reason']})")
        return EXIT_OK


def _sync_watch(args: argparse.Namespace, service: AirService) -> int:
    """Sync round after round; between rounds, wait for the server to report a change (a long poll).

    While this console holds the automation lease it also reads new mail, raises alerts and
    runs investigations, so a machine without a console can be the team's automation host.
    """
    if args.rounds < 0 or args.wait < 0:
        raise ConfigError("--rounds and --wait take a number of 0 or more.")
    team = service.require_team()
    wait = args.wait or float(service.config.sync.interval_seconds)
    done = 0
    try:
        while not args.rounds or done < args.rounds:
            done += 1
            report = service.sync_now() if team.replicator.due() else None
            automation = service.automation_allowed()
            raised = 0
            if automation:
                with service.exclusive():
                    service.ingest()
                    raised = service.raise_alerts()
                    service.run_investigations()
            ran = service.resume_approved()
            if automation and (raised or ran):
                # What the automation recorded goes out now rather than after the wait.
                service.sync_now()
            _print_round(args, service, report, automation, raised, ran)
            if args.rounds and done >= args.rounds:
                break
            if report is None or report.error:
                time.sleep(wait)
            else:
                team.replicator.wait_for_changes(wait)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _print_round(args: argparse.Namespace, service: AirService, report: Any, automation: bool, raised: int, ran: int) -> None:
    now = service.clock().isoformat(timespec="seconds")
    if args.json:
        body = {"time": now, "sync": None if report is None else dataclasses.asdict(report), "automation": automation, "alerts_raised": raised, "actions_run": ran}
        print(json.dumps(body), flush=True)
        return
    if report is None:
        sync = "waiting for the retry time"
    elif report.error:
        sync = f"sync failed: {report.error}"
    else:
        sync = f"{_plural(report.pushed, 'event')} sent, {_plural(report.pulled, 'event')} received"
    role = f"automation: {_plural(raised, 'alert')} raised" if automation else "automation on another console"
    print(f"{now}  {sync}; {role}; {_plural(ran, 'approved action')} run", flush=True)


def _sync_state_line(status: Any) -> str:
    if status.offline_since:
        retry = f"; next try after {status.next_try}" if status.next_try else ""
        return f"offline since {status.offline_since} ({_plural(status.failures, 'failed attempt')}{retry}); {_plural(status.waiting, 'event')} waiting"
    if status.last_error:
        return f"error ({_plural(status.failures, 'failed attempt')}); {_plural(status.waiting, 'event')} waiting"
    if status.waiting:
        return f"{_plural(status.waiting, 'event')} waiting to be sent"
    return "synced" if status.last_success else "never synced"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _console(args: argparse.Namespace) -> int:
    # Imported here so the headless commands never load Textual.
    from air_tui.tui.app import AirApp

    workspace = _workspace(args)
    insecure = getattr(args, "insecure", False)
    # Opening the service once first turns a bad configuration or tenant into one clear line
    # here, instead of an error inside the running console.
    AirService(workspace, analyst=_analyst(args), read_only=getattr(args, "read_only", False), insecure_sync=insecure).close()
    AirApp(workspace=workspace, analyst=_analyst(args), read_only=getattr(args, "read_only", False), insecure_sync=insecure).run()
    return EXIT_OK


def _investigate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with _service(args) as service, service.exclusive():
        ingest = service.ingest()
        raised = service.raise_alerts()
        service.run_investigations()
        service.resume_approved()
        summary = _investigation_summary(service, ingest, raised, time.perf_counter() - started)
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(summary)
    return EXIT_OK


def _investigation_summary(service: AirService, ingest: IngestSummary | None, raised: int, seconds: float) -> dict[str, Any]:
    investigations = service.investigations()
    by_status: dict[str, int] = {}
    for investigation in investigations:
        by_status[investigation.status.value] = by_status.get(investigation.status.value, 0) + 1
    return {
        "tenant": str(service.tenant.root),
        "database": str(service.workspace.database),
        "messages": service.message_count(),
        "ingested": None if ingest is None else {"total": ingest.total, "with_warnings": ingest.with_warnings, "failed": ingest.failed},
        "alerts": [
            {
                "id": row.alert.id,
                "severity": row.alert.severity.value,
                "policy": row.alert.title,
                "policy_id": row.alert.policy_id,
                "time": row.alert.occurred.isoformat(),
                "subject": row.alert.subject,
                "status": row.investigation_status,
                "investigation_id": row.investigation_id,
                "incident_id": row.alert.incident_id,
                "hit_count": row.alert.hit_count,
                "users": row.alert.users,
            }
            for row in service.alert_queue()
        ],
        "removals": [
            {key: record[key] for key in ("message_id", "mailbox", "policy_id", "threat", "from_folder", "to_folder", "result", "error", "time")}
            for record in service.removals()
        ],
        "alerts_raised_now": raised,
        "investigations": [_investigation_json(service, investigation.id) for investigation in investigations],
        "investigations_by_status": dict(sorted(by_status.items())),
        "verdicts": service.verdict_counts(),
        "pending_actions": [actions_cli.action_json(row) for row in service.actions(ActionStatus.PENDING)],
        "seconds": round(seconds, 3),
    }


def _investigation_json(service: AirService, investigation_id: str) -> dict[str, Any]:
    """Return one investigation with every entity's verdict and evidence, its clusters and its log."""
    detail = service.investigation_detail(investigation_id)
    assert detail is not None
    investigation = detail.investigation
    return {
        "id": investigation.id,
        "status": investigation.status.value,
        "title": investigation.title,
        "reason": investigation.status_reason,
        "alert_id": investigation.alert_id,
        "entities": [
            {
                "kind": entity.kind.value,
                "key": entity.key,
                "label": entity.label,
                "verdict": entity.verdict.value,
                "threats": [threat.value for threat in entity.threats],
                "evidence": [item.model_dump(mode="json") for item in entity.evidence],
                "attributes": entity.attributes,
            }
            for entity in detail.entities
        ],
        "clusters": [
            {
                "id": cluster.id,
                "cluster_by": cluster.cluster_by,
                "value": cluster.value,
                "verdict": cluster.verdict.value,
                "messages": len(cluster.message_ids),
                "mailboxes": cluster.mailboxes,
                "counts_by_folder": cluster.counts_by_folder,
            }
            for cluster in detail.clusters
        ],
        "log": [step.model_dump(mode="json") for step in detail.log],
    }


def _print_summary(summary: dict[str, Any]) -> None:
    print(f"Tenant {summary['tenant']}: {summary['messages']} messages indexed")
    if summary["ingested"]:
        ingested = summary["ingested"]
        print(f"Ingested {ingested['total']} messages: {ingested['with_warnings']} with warnings, {ingested['failed']} failed")
    print(f"\nAlerts ({len(summary['alerts'])})")
    for alert in summary["alerts"]:
        hits = f" ×{alert['hit_count']}" if alert["hit_count"] > 1 else ""
        print(f"  {alert['severity']:<13} {alert['time'][:16]}  {alert['status']:<22} {alert['policy']}{hits}: {_plain(alert['subject'])[:60]}")
    if summary["removals"]:
        moved = sum(1 for record in summary["removals"] if record["result"] == "Succeeded")
        print(f"\nRemoved after delivery: {moved} moved, {len(summary['removals']) - moved} not moved")
    print(f"\nInvestigations ({len(summary['investigations'])})")
    for status, count in summary["investigations_by_status"].items():
        print(f"  {status:<24} {count}")
    print("\nVerdicts (entities)")
    for verdict, count in summary["verdicts"].items():
        print(f"  {verdict:<24} {count}")
    print(f"\nPending actions ({len(summary['pending_actions'])})")
    for action in summary["pending_actions"]:
        print(f"  {action['id']}  {action['type']}: {action['impact']}  {_plain(action['title'])[:50]}")
    print(f"\nDone in {summary['seconds']:.2f} s")


def _intel(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.intel_command == "status":
            statuses = service.intel_status()
            max_age = service.config.intel.max_age_days
            if args.json:
                print(json.dumps([status.to_json() for status in statuses], indent=2, ensure_ascii=False))
            else:
                _print_intel_status(statuses)
            for status in statuses:
                if status.stale:
                    if status.age_seconds is None:
                        print(f"air-tui: warning: intel feed {status.name} has never been fetched; run: air-tui intel refresh", file=sys.stderr)
                    else:
                        print(f"air-tui: warning: intel feed {status.name} was last fetched {status.age}, longer ago than max_age_days ({max_age}); run: air-tui intel refresh", file=sys.stderr)
            return EXIT_OK
        outcomes = service.refresh_intel()
        if any(outcome.status.value == "updated" for outcome in outcomes):
            # New indicators can make delivered mail malicious: move it, raise the alerts, investigate.
            with service.exclusive():
                service.ingest()
                earlier = {record["message_id"] for record in service.removals()}
                # Raising alerts moves newly malicious mail first, then raises the alerts for it.
                raised = service.raise_alerts()
                removed = [record for record in service.removals() if record["message_id"] not in earlier]
                service.run_investigations()
            if removed and not args.json:
                moved = sum(1 for record in removed if record["result"] == "Succeeded")
                print(f"Removal after delivery: {moved} moved, {len(removed) - moved} not moved; {raised} alerts raised.")
    failed = [outcome for outcome in outcomes if outcome.status.value == "failed"]
    if args.json:
        print(json.dumps([outcome.to_json() for outcome in outcomes], indent=2, ensure_ascii=False))
    elif not outcomes:
        print(f"No enabled feeds. Add [[intel.feeds]] to {config_path()}; docs/intel.md has an example.")
    else:
        _print_intel_refresh(outcomes)
    for outcome in outcomes:
        if outcome.status.value == "failed":
            print(f"air-tui: intel feed {outcome.name} ({outcome.url}) failed: {_plain(outcome.error)}", file=sys.stderr)
        elif outcome.skipped:
            print(f"air-tui: warning: intel feed {outcome.name} ({outcome.url}) {_plain(outcome.describe_skipped())}", file=sys.stderr)
    # Exit 1 only when nothing could be refreshed, so a single flaky feed does not fail a cron job.
    attempted = [outcome for outcome in outcomes if outcome.status.value != "removed"]
    return EXIT_ERROR if attempted and len(failed) == len(attempted) else EXIT_OK


def _print_intel_refresh(outcomes: list[Any]) -> None:
    for outcome in outcomes:
        if outcome.status.value == "failed":
            kept = f"Keeping the previous {_indicators(outcome.count)}." if outcome.count else "No previous indicators to keep."
            print(f"{'FAILED':<13} {outcome.name}: {_plain(outcome.error)}. {kept}")
            continue
        if outcome.status.value == "removed":
            print(f"{'removed':<13} {outcome.name}: no longer in the configuration; its {_indicators(outcome.count)} were deleted")
            continue
        skipped = f", {_plain(outcome.describe_skipped())}" if outcome.skipped else ""
        print(f"{outcome.status.value:<13} {outcome.name}: {_indicators(outcome.count)}{skipped}")


def _print_intel_status(statuses: list[Any]) -> None:
    if not statuses:
        print(f"No intel feeds: the tenant has no intel files and {config_path()} configures no [[intel.feeds]].")
        return
    for status in statuses:
        state = "ok"
        if not status.enabled:
            state = "disabled"
        elif status.stale:
            state = "STALE"
        error = f"  last error: {_plain(status.last_error)}" if status.last_error else ""
        print(f"{state:<9} {status.name:<28} {_indicators(status.count):>18}  {status.age:<16} {status.format}{error}")
        if status.skipped:
            print(f"{'':<9} {_plain(status.describe_skipped())}")


def _ingest(args: argparse.Namespace) -> int:
    counts = {"parsed": 0, "parsed with warnings": 0, "failed": 0}
    for item in (item for path in args.paths for item in iter_messages(path)):
        if isinstance(item, FailedRead):
            record = {"path": str(item.path), "status": "failed", "error": item.reason}
        else:
            message = parse_message(item.raw, location=item.location, received_at=item.received_at)
            record = {
                "path": message.location.path,
                "key": message.location.key,
                "status": message.parse_status.value,
                "id": message.id,
                "subject": message.subject,
                "from": message.sender.address,
                "urls": len(message.urls),
                "attachments": [{"filename": a.filename, "sha256": a.sha256} for a in message.attachments],
                "warnings": message.parse_warnings,
                "error": message.parse_error,
                # Every fact the parser read, nested messages included; the body is summarised by length.
                "facts": _message_facts(message),
            }
        counts[record["status"]] = counts.get(record["status"], 0) + 1
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            _print_ingest_record(record)
    if not args.json:
        total = sum(counts.values())
        print(f"{total} {'message' if total == 1 else 'messages'}: {counts['parsed']} parsed, {counts['parsed with warnings']} with warnings, {counts['failed']} failed")
    # Exit 1 when a message could not be parsed, so scripts notice; every result is printed either way.
    return EXIT_ERROR if counts["failed"] else EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    """Print every rule with its built-in and configured weight, so a noisy rule is easy to find and tune."""
    config = load_config(config_path(), required=config_is_explicit())
    scoring = Scoring(config.analysis)
    rows = [
        {"id": rule.id, "title": rule.title, "default": rule.weight, "weight": scoring.weight(rule), "threat": rule.threat.value if rule.threat else ""}
        for rule in RULES.values()
    ]
    if args.json:
        print(json.dumps({"malicious_score": config.analysis.malicious_score, "suspicious_score": config.analysis.suspicious_score, "rules": rows}, indent=2))
        return EXIT_OK
    print(f"Malicious from {config.analysis.malicious_score} points, suspicious from {config.analysis.suspicious_score}. Configuration: {config_path()}")
    for row in rows:
        changed = f" (default {row['default']})" if row["weight"] != row["default"] else ""
        print(f"{row['weight']:>5}{changed:<14} {row['id']:<36} {row['title']}")
    return EXIT_OK


def _message_facts(message: EmailMessage) -> dict[str, Any]:
    facts = message.model_dump(mode="json", exclude={"body_text", "attached_messages"})
    facts["body_chars"] = len(message.body_text)
    facts["attached_messages"] = [_message_facts(inner) for inner in message.attached_messages]
    return facts


def _print_ingest_record(record: dict[str, Any]) -> None:
    status = record["status"]
    if status == "failed":
        print(f"FAILED  {record['path']}: {_plain(record['error'])}")
        return
    mark = "WARN" if record["warnings"] else "ok"
    print(f"{mark:<7} {record['path']}: {_plain(record['subject'])[:70]}")
    for warning in record["warnings"]:
        print(f"        warning: {_plain(warning)}")


def _indicators(count: int) -> str:
    return f"{count} indicator" if count == 1 else f"{count} indicators"



def _explore(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    if args.limit <= 0 or args.offset < 0:
        print(f"air-tui: --limit must be positive and --offset not negative, not {args.limit} and {args.offset}.", file=sys.stderr)
        return EXIT_USAGE
    with _service(args) as service:
        with service.exclusive():
            service.ingest()
        try:
            found = service.explore_count(query)
            rows = service.explore_window(query, args.offset, args.limit)
        except QueryError as error:
            print(f"air-tui: {error}", file=sys.stderr)
            return EXIT_USAGE
    if args.json:
        print(json.dumps({"count": found.count, "capped": found.capped, "rows": [dataclasses.asdict(row) for row in rows]}, indent=2, ensure_ascii=False, default=str))
        return EXIT_OK
    print(found.label)
    for row in rows:
        received = row.received_at[:16].replace("T", " ") if row.received_at else "(no date)"
        print(f"{row.id}  {received}  {row.verdict or 'none':<10} {row.folder:<12} {_plain(row.sender)[:30]:<30} {_plain(row.subject)[:60]}")
    if found.count > args.offset + len(rows):
        print(f"More with --offset {args.offset + len(rows)}.")
    return EXIT_OK


def _policies(args: argparse.Namespace) -> int:
    with _service(args) as service:
        in_force = list(service.policies.values())
    if args.json:
        print(json.dumps([policy.model_dump(mode="json") for policy in in_force], indent=2, ensure_ascii=False))
        return EXIT_OK
    for policy in in_force:
        state = "on " if policy.enabled else "OFF"
        playbook = policy.playbook or "no investigation"
        fold = "" if policy.aggregate else ", never aggregated"
        print(f"{state} {policy.severity.value:<13} {policy.id:<24} {policy.name} -> {playbook}{fold}")
    print("Turn a policy off with its id in [alerts] disabled = [...] in config.toml.")
    return EXIT_OK


def _alerts(args: argparse.Namespace) -> int:
    with _service(args) as service:
        alert = service.resolve_alert(args.alert_id, args.comment)
    print(f"Alert {alert.id} ({alert.title}) resolved.")
    return EXIT_OK


def _incidents(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.incident_command == "assign":
            incident = service.assign_incident(args.incident_id, args.assignee)
            print(f"Incident {incident.id} assigned to {_plain(incident.assigned_to)}.")
            return EXIT_OK
        found = service.incidents()
    if args.json:
        print(json.dumps([incident.model_dump(mode="json") for incident in found], indent=2, ensure_ascii=False))
        return EXIT_OK
    if not found:
        print("No incidents yet. Run: air-tui investigate")
    for incident in found:
        moved = f" -> {incident.redirect_id}" if incident.redirect_id else ""
        owner = f" · {_plain(incident.assigned_to)}" if incident.assigned_to else ""
        print(
            f"{incident.id} {incident.status.value:<10}{moved} {incident.severity.value:<13} {len(incident.alert_ids):>3} alerts "
            f"{len(incident.entity_keys):>3} entities{owner} · {_plain(incident.title)}"
        )
    return EXIT_OK


def _investigations(args: argparse.Namespace) -> int:
    with _service(args) as service:
        if args.investigation_command == "start":
            alert = service.start_manual_investigation(args.message_id, args.target)
            detail = service.investigation_detail(alert.investigation_id) if alert.investigation_id else None
            status = detail.investigation.status.value if detail else "not started"
            if args.json:
                print(json.dumps({"alert": alert.model_dump(mode="json"), "investigation_id": alert.investigation_id, "status": status}, indent=2, ensure_ascii=False))
            else:
                print(f"Alert {alert.id} ({alert.title}) raised; investigation {alert.investigation_id or '(none)'}: {status}.")
            return EXIT_OK
        if args.investigation_command == "stop":
            service.terminate_investigation(args.investigation_id, args.comment)
            print(f"Investigation {args.investigation_id} stopped: Terminated by user.")
            return EXIT_OK
        rows = service.investigations()
        now = service.clock()
        listing = [
            {
                "id": item.id,
                "status": item.status.value,
                "playbook": item.playbook,
                "title": item.title,
                "alerts": len(item.scope_alert_ids()),
                "incident_id": item.incident_id,
                "created": item.created.isoformat(),
                "ended": item.ended.isoformat() if item.ended else None,
                "pending_seconds": item.pending_seconds + (int((now - item.pending_since).total_seconds()) if item.pending_since else 0),
                "runs": item.runs,
            }
            for item in rows
        ]
    if args.json:
        print(json.dumps(listing, indent=2, ensure_ascii=False))
        return EXIT_OK
    for item in listing:
        print(f"{item['id']} {item['status']:<24} {item['playbook']:<38} {item['alerts']:>2} alerts · {_plain(item['title'])[:80]}")
    return EXIT_OK
