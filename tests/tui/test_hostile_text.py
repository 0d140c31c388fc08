"""Mail text reaches the screen as plain characters: no markup, no escape sequences."""

from __future__ import annotations

import base64
import json
import re

from air_tui.tenant.workspace import Workspace
from air_tui.tui.text import HIDDEN_STYLE, plain, safe
from air_tui.tui.widgets.alert_queue import AlertQueue
from tests.conftest import make_service
from tests.tui.conftest import make_app, settle

HOSTILE_SUBJECT = "[bold red]URGENT[/] pay \x1b[2J\x1b]8;;http://x.example\x07now\u202egpj.exe"


def test_safe_keeps_brackets_and_marks_controls() -> None:
    text = safe(HOSTILE_SUBJECT)
    assert "[bold red]URGENT[/]" in text.plain
    assert "\x1b" not in text.plain
    assert "\x07" not in text.plain
    assert "\u202e" not in text.plain
    assert "⟨U+001B⟩[2J" in text.plain
    assert "⟨RLO⟩gpj.exe" in text.plain


def test_safe_subject_markers_and_spans() -> None:
    subject = "Pay \x1b[2J now \u202eexe.pdf\u200b [red]x[/red]"

    text = safe(subject, style="bold")

    assert text.plain == "Pay ⟨U+001B⟩[2J now ⟨RLO⟩exe.pdf⟨ZWSP⟩ [red]x[/red]"
    marked = [text.plain[span.start : span.end] for span in text.spans if span.style == HIDDEN_STYLE]
    assert marked == ["⟨U+001B⟩", "⟨RLO⟩", "⟨ZWSP⟩"]
    assert all(span.style == HIDDEN_STYLE for span in text.spans)
    # Brackets from mail are characters, never markup: no span carries `red`.
    assert text.style == "bold"
    assert not any("\x1b" in piece or "\u202e" in piece or "\u200b" in piece for piece in text.plain)


def test_safe_styles_markers_from_the_model() -> None:
    text = safe("Evil⟨U+0007⟩Bell")
    assert text.plain == "Evil⟨U+0007⟩Bell"
    assert [(span.start, span.end) for span in text.spans] == [(4, 12)]


def test_safe_limit_never_splits_a_marker() -> None:
    assert plain("a\u202ebcdef", 4) == "a…"
    assert plain("abc\u202e", 10) == "abc⟨RLO⟩"


def test_plain_truncates_with_ellipsis() -> None:
    assert plain("abcdef", limit=4) == "abc…"
    assert plain("abc", limit=4) == "abc"


async def test_hostile_subject_shown_literally(workspace: Workspace) -> None:
    submissions = workspace.tenant_dir / "activity" / "submissions.jsonl"
    first = json.loads(submissions.read_text().splitlines()[0])
    folder = workspace.tenant_dir / "mailboxes" / first["mailbox"]
    path = next(p for p in folder.rglob("*") if p.is_file() and p.name.startswith(first["key"]))
    raw = path.read_bytes()
    encoded = "=?utf-8?b?" + base64.b64encode(HOSTILE_SUBJECT.encode()).decode() + "?="
    path.write_bytes(re.sub(rb"(?mi)^Subject:.*(\r?\n[ \t].*)*", b"Subject: " + encoded.encode(), raw, count=1))
    lines = submissions.read_text().splitlines()
    reported = [json.loads(line) for line in lines]
    reported[0]["report_type"] = "Phish"
    submissions.write_text("\n".join(json.dumps(item) for item in reported) + "\n")
    with make_service(workspace) as service:
        service.investigate()

    app = make_app(workspace)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        queue = app.query_one(AlertQueue)
        subjects = [queue.get_row_at(index)[4].plain for index in range(queue.row_count)]
        hostile = [subject for subject in subjects if "URGENT" in subject]
        assert hostile, subjects
        assert "[bold red]URGENT[/]" in hostile[0]
        assert not any(ch in hostile[0] for ch in "\x1b\x07\u202e")
        assert "⟨U+001B⟩[2J" in hostile[0]
        assert "⟨RLO⟩" in hostile[0]
