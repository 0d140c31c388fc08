"""The core imports and investigates with Textual and Rich unavailable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPOSITORY

CORE_MODULES = [
    "air_tui.domain.vocab",
    "air_tui.mail",
    "air_tui.intel",
    "air_tui.engine.runner",
    "air_tui.store",
    "air_tui.tenant.demo",
    "air_tui.remediation.executor",
    "air_tui.service",
    "air_tui.cli",
]

BLOCKER = textwrap.dedent(
    """
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("textual", "rich"):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    """
)


def run_without_textual(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=300,
        env={"AIR_TUI_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"},
    )


def test_core_imports_without_textual(tmp_path: Path) -> None:
    code = "import importlib\n" + "".join(f"importlib.import_module({name!r})\n" for name in CORE_MODULES)
    code += "print('textual' in sys.modules, 'rich' in sys.modules)\n"
    result = run_without_textual(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False False"


def test_core_investigates_without_textual(tenant_copy: Path, tmp_path: Path) -> None:
    code = f"""
    from pathlib import Path
    from air_tui.service import AirService
    from air_tui.tenant.workspace import Workspace
    workspace = Workspace(tenant_dir=Path({str(tenant_copy)!r}), database=Path({str(tmp_path / 'core.db')!r}))
    with AirService(workspace, analyst="headless") as service:
        service.investigate()
        print(len(service.alert_queue()), service.pending_count())
    """
    result = run_without_textual(code, tmp_path)
    assert result.returncode == 0, result.stderr
    alerts, pending = (int(value) for value in result.stdout.split())
    assert alerts >= 6
    assert pending >= 1
