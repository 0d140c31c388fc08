"""Analyse a labelled set of messages: verdict precision and recall, speed against stdlib parsing.

Run with `.venv/bin/python benchmarks/bench_analysis.py` (add `--markdown` for the table in
`docs/benchmarks.md`). The labelled set is:

- the demo tenant's 369 messages, labelled in its `MANIFEST.tsv`: `phish` and `malware` are
  threats, `benign` and `newsletter` are clean, `spam` is counted apart;
- every file of the real-world corpus in `fixtures/corpus/` (169 files), which must analyse with
  zero exceptions; its 90 `phishing_pot` samples are phishing.

Each message is parsed with `parse_message` and analysed with `MessageAnalyzer.analyse`, the code
investigations use. The baseline, measured in the same process on the same bytes, is the standard
library alone: `email.message_from_bytes` with `policy.default`, then a walk over every part that
reads its content. Verdicts are reported twice: with the demo tenant's intelligence lists, and with
empty lists (heuristic rules only), since the demo lists name some of the corpus URLs.
"""

from __future__ import annotations

import argparse
import email
import statistics
import sys
import time
import traceback
from collections import Counter
from email import policy
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from air_tui.domain.vocab import Verdict  # noqa: E402
from air_tui.engine.analyzers import MessageAnalyzer  # noqa: E402
from air_tui.intel import IntelSnapshot  # noqa: E402
from air_tui.mail import parse_message  # noqa: E402
from air_tui.mail.mime import clear_header_cache  # noqa: E402
from air_tui.tenant.demo import DemoTenant  # noqa: E402

DEMO = REPOSITORY / "fixtures" / "demo-tenant"
CORPUS = REPOSITORY / "fixtures" / "corpus"
THREAT_ROLES = {"phish", "malware"}
CLEAN_ROLES = {"benign", "newsletter"}
ROUNDS = 3


def labelled_demo() -> list[tuple[str, str, bytes]]:
    """Return (name, role, raw bytes) for every message of the demo tenant."""
    rows = []
    for line in (DEMO / "MANIFEST.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        mailbox, folder, key, _, _origin, role = line.split("\t")
        folder_path = DEMO / "mailboxes" / mailbox / folder
        path = next(path for sub in ("cur", "new") for path in (folder_path / sub).glob(f"{key}*"))
        rows.append((f"{mailbox}/{folder}/{key}", role, path.read_bytes()))
    return rows


def corpus_files() -> list[tuple[str, str, bytes]]:
    rows = []
    for path in sorted(CORPUS.rglob("*")):
        if path.suffix.lower() in (".eml", ".msg") and path.is_file():
            role = "phish" if path.parent.name == "phishing_pot" else "corpus"
            rows.append((str(path.relative_to(CORPUS)), role, path.read_bytes()))
    return rows


def stdlib_parse_and_walk(raw: bytes) -> int:
    """Parse a message and read all its parts with the standard library alone: the baseline."""
    message = email.message_from_bytes(raw, policy=policy.default)
    total = 0
    for part in message.walk():
        if part.is_multipart():
            continue
        try:
            content = part.get_content()
        except (LookupError, ValueError, AssertionError):
            content = part.get_payload(decode=True) or b""
        total += len(content)
    return total


def time_baseline(messages: list[tuple[str, str, bytes]]) -> float:
    start = time.perf_counter()
    for _, _, raw in messages:
        stdlib_parse_and_walk(raw)
    return time.perf_counter() - start


def analyse_all(messages: list[tuple[str, str, bytes]], analyzer: MessageAnalyzer) -> tuple[float, dict[str, Verdict], list[str]]:
    verdicts: dict[str, Verdict] = {}
    errors: list[str] = []
    start = time.perf_counter()
    for name, _, raw in messages:
        try:
            message = parse_message(raw)
            verdicts[name] = analyzer.analyse(message).verdict
        except Exception:  # noqa: BLE001 - the benchmark counts every exception as a failure
            errors.append(f"{name}: {traceback.format_exc(limit=3)}")
    return time.perf_counter() - start, verdicts, errors


def precision_recall(messages: list[tuple[str, str, bytes]], verdicts: dict[str, Verdict]) -> list[tuple[str, int, float, float]]:
    """Per verdict: how many, precision (share of them with the right label) and recall."""
    threats = {name for name, role, _ in messages if role in THREAT_ROLES}
    clean = {name for name, role, _ in messages if role in CLEAN_ROLES}
    labelled = threats | clean
    rows = []
    for verdict, truth in (
        (Verdict.MALICIOUS, threats),
        (Verdict.SUSPICIOUS, threats),
        (Verdict.NO_THREATS_FOUND, clean),
    ):
        predicted = {name for name in labelled if verdicts.get(name) is verdict}
        hits = predicted & truth
        rows.append((verdict.value, len(predicted), len(hits) / len(predicted) if predicted else 0.0, len(hits) / len(truth) if truth else 0.0))
    flagged = {name for name in labelled if verdicts.get(name) in (Verdict.MALICIOUS, Verdict.SUSPICIOUS)}
    hits = flagged & threats
    rows.append(("Malicious or Suspicious", len(flagged), len(hits) / len(flagged) if flagged else 0.0, len(hits) / len(threats) if threats else 0.0))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the results as Markdown tables")
    args = parser.parse_args()

    tenant = DemoTenant(DEMO)
    demo = labelled_demo()
    corpus = corpus_files()
    everything = demo + corpus
    with_intel = MessageAnalyzer(tenant.organisation, tenant.users, IntelSnapshot.load(tenant.intel_dir))
    heuristics = MessageAnalyzer(tenant.organisation, tenant.users, IntelSnapshot())

    # The standard library cannot read Outlook .msg files, so the speed ratio covers only the
    # messages it can read. The .msg files are timed on their own.
    internet = [item for item in everything if not item[0].lower().endswith(".msg")]
    outlook = [item for item in everything if item[0].lower().endswith(".msg")]

    # Warm both paths once (imports, the public suffix list, oletools), then alternate rounds.
    time_baseline(internet[:20])
    analyse_all(everything[:20] + outlook, with_intel)
    baseline_times, analysis_times = [], []
    for _ in range(ROUNDS):
        baseline_times.append(time_baseline(internet))
        # Each round starts with an empty header cache, so no round reuses the previous one's work.
        clear_header_cache()
        elapsed, _, _ = analyse_all(internet, with_intel)
        analysis_times.append(elapsed)
    outlook_time, _, _ = analyse_all(outlook, with_intel)
    _, verdicts_intel, errors = analyse_all(everything, with_intel)
    _, verdicts_heuristic, errors_heuristic = analyse_all(everything, heuristics)

    baseline = statistics.median(baseline_times)
    analysis = statistics.median(analysis_times)
    count = len(internet)
    pot = [name for name, role, _ in corpus if role == "phish"]
    benign = [name for name, role, _ in demo if role in CLEAN_ROLES]

    def share(names: list[str], verdicts: dict[str, Verdict], wanted: set[Verdict]) -> float:
        return sum(1 for name in names if verdicts.get(name) in wanted) / len(names)

    flagged = {Verdict.MALICIOUS, Verdict.SUSPICIOUS}
    lines = [
        f"Messages: {len(everything)} ({len(demo)} demo tenant, {len(corpus)} corpus files); exceptions: {len(errors)} with intel, {len(errors_heuristic)} heuristics only",
        f"stdlib parse-and-walk baseline on the {count} .eml messages: {baseline:.3f} s ({baseline / count * 1000:.2f} ms per message)",
        f"full analysis: {analysis:.3f} s ({analysis / count * 1000:.2f} ms per message, {count / analysis:.0f} messages/s), ratio {analysis / baseline:.2f}x",
        f"Outlook .msg files (no stdlib baseline): {len(outlook)} in {outlook_time:.3f} s ({outlook_time / max(len(outlook), 1) * 1000:.0f} ms each)",
    ]
    for label, verdicts in (("demo intel lists", verdicts_intel), ("heuristics only", verdicts_heuristic)):
        lines.append(
            f"[{label}] phishing_pot malicious or suspicious: {share(pot, verdicts, flagged):.1%} of {len(pot)}; "
            f"benign malicious: {share(benign, verdicts, {Verdict.MALICIOUS}):.1%}, suspicious: {share(benign, verdicts, {Verdict.SUSPICIOUS}):.1%} of {len(benign)}"
        )
        spam = [name for name, role, _ in demo if role == "spam"]
        lines.append(f"[{label}] spam (not scored) flagged: {share(spam, verdicts, flagged):.1%} of {len(spam)}; verdicts: {dict(Counter(v.value for v in verdicts.values()))}")
        for verdict, predicted, precision, recall in precision_recall(demo, verdicts):
            lines.append(f"[{label}] {verdict:<24} n={predicted:<4} precision {precision:.1%}  recall {recall:.1%}")
    for error in errors[:5]:
        lines.append("ERROR " + error)
    if args.markdown:
        print("| figure | value |\n|---|---|")
        for line in lines:
            print(f"| {line.replace('|', '/')} |")
    else:
        print("\n".join(lines))
    return 1 if errors or errors_heuristic else 0


if __name__ == "__main__":
    raise SystemExit(main())
