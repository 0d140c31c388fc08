"""Time approving and undoing a large email action, against moving the same files by hand.

Run with `.venv/bin/python benchmarks/bench_actions.py [COUNT]` (default 2,000 messages in 20
mailboxes). Each run builds a tenant of copies of one real phishing message, ingests it, proposes
a soft delete of every copy, then measures:

- approve: the decision, and each message moved with its intent and result recorded in the
  ledger, against a baseline of the demo tenant's own `move_message` on the same number of
  files in the same process (the floor: the renames and directory syncs alone);
- undo: every message moved back to the folder it came from, recorded the same way;
- per-message cost of the record: (approve - baseline) / COUNT.

The figures go to standard output as a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from air_tui.domain.config import ActionsConfig, Config  # noqa: E402
from air_tui.domain.vocab import ActionType, Folder  # noqa: E402
from air_tui.service import AirService  # noqa: E402
from air_tui.tenant.demo import DemoTenant  # noqa: E402
from air_tui.tenant.workspace import Workspace  # noqa: E402

DEMO = REPOSITORY / "fixtures" / "demo-tenant"
SAMPLE = REPOSITORY / "fixtures" / "corpus" / "phishing_pot" / "sample-113.eml"
MAILBOXES = 20


def build_tenant(root: Path, count: int) -> Path:
    tenant = root / "tenant"
    tenant.mkdir(parents=True)
    for name in ("tenant.json", "directory.json"):
        shutil.copy(DEMO / name, tenant / name)
    raw = SAMPLE.read_bytes()
    for index in range(count):
        mailbox = f"user{index % MAILBOXES:02d}@larkspur.example"
        directory = tenant / "mailboxes" / mailbox / "Inbox" / "cur"
        directory.mkdir(parents=True, exist_ok=True)
        # A distinct Message-ID per copy keeps every copy its own message.
        (directory / f"17960{index:05d}.M{index}P1.bench:2,S").write_bytes(raw.replace(b"Message-ID: <", f"Message-ID: <bench{index}.".encode(), 1))
    return tenant


def baseline_moves(root: Path, count: int) -> float:
    tenant = DemoTenant(build_tenant(root, count))
    keys = [(mailbox, path.name.split(":", 1)[0]) for mailbox, _folder, folder_path in tenant.folder_paths() for path in (folder_path / "cur").iterdir()]
    began = time.perf_counter()
    for mailbox, key in keys:
        tenant.move_message(mailbox, key, Folder.RECOVERABLE)
    return time.perf_counter() - began


def measured(root: Path, count: int) -> tuple[float, float, float]:
    tenant = build_tenant(root, count)
    workspace = Workspace(tenant_dir=tenant, database=root / "air-tui.db")
    config = Config(actions=ActionsConfig(max_messages_per_action=max(count, 10000)))
    with AirService(workspace, analyst="bench", config=config) as service:
        began = time.perf_counter()
        service.ingest()
        ingest = time.perf_counter() - began
        ids = [row[0] for row in service.store.db.execute("SELECT id FROM messages")]
        action = service.propose(ActionType.SOFT_DELETE, message_ids=ids)
        began = time.perf_counter()
        outcome = service.approve(action.id)
        approve = time.perf_counter() - began
        assert outcome.results == {"Succeeded": count}, outcome.message
        began = time.perf_counter()
        undone = service.undo(action.id)
        undo = time.perf_counter() - began
        assert undone.results == {"Succeeded": count}, undone.message
    return ingest, approve, undo


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    with tempfile.TemporaryDirectory(prefix="air-tui-bench-actions-") as directory:
        base = Path(directory)
        baseline = baseline_moves(base / "baseline", count)
        ingest, approve, undo = measured(base / "measured", count)
    print(f"{count:,} messages in {MAILBOXES} mailboxes (ingest took {ingest:.2f} s)\n")
    print("| what | seconds | per message | ratio to baseline |")
    print("|---|---|---|---|")
    print(f"| baseline: `move_message` on every file | {baseline:.2f} | {baseline / count * 1000:.2f} ms | 1.00x |")
    print(f"| approve a soft delete of all of them | {approve:.2f} | {approve / count * 1000:.2f} ms | {approve / baseline:.2f}x |")
    print(f"| undo it | {undo:.2f} | {undo / count * 1000:.2f} ms | {undo / baseline:.2f}x |")
    print(f"\nRecording intent and result costs {(approve - baseline) / count * 1000:.2f} ms per message over the bare moves.")


if __name__ == "__main__":
    main()
