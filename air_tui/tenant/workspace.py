"""The working copy of a tenant in the user's data directory, so the repository is never changed."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "AIR_TUI_DATA_DIR"
DEMO_TENANT_ENV = "AIR_TUI_DEMO_TENANT"
CONFIG_ENV = "AIR_TUI_CONFIG"
DATABASE_NAME = "air-tui.db"
CONFIG_NAME = "config.toml"


def data_dir() -> Path:
    """Return the data directory: $AIR_TUI_DATA_DIR, else the platform's user data directory."""
    override = os.environ.get(DATA_DIR_ENV)
    return Path(override) if override else Path(platformdirs.user_data_dir("air-tui", appauthor=False))


def config_path() -> Path:
    """Return the configuration file: $AIR_TUI_CONFIG, else `config.toml` in the data directory."""
    override = os.environ.get(CONFIG_ENV)
    return Path(override) if override else data_dir() / CONFIG_NAME


def config_is_explicit() -> bool:
    """Return whether $AIR_TUI_CONFIG names the file, so a missing file is an error, not the defaults."""
    return bool(os.environ.get(CONFIG_ENV))


def pristine_demo_tenant() -> Path:
    """Return the demo tenant shipped in the repository's fixtures folder, or $AIR_TUI_DEMO_TENANT."""
    override = os.environ.get(DEMO_TENANT_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "fixtures" / "demo-tenant"


@dataclass(frozen=True)
class Workspace:
    """A tenant copy and its database."""

    tenant_dir: Path
    database: Path


def demo_workspace(*, reset: bool = False, base: Path | None = None, source: Path | None = None) -> Workspace:
    """Return the demo workspace, copying the pristine demo on first use or when `reset` is set."""
    base = base or data_dir()
    source = source or pristine_demo_tenant()
    root = base / "demo"
    workspace = Workspace(tenant_dir=root / "tenant", database=root / DATABASE_NAME)
    if reset and root.exists():
        shutil.rmtree(root)
    if not workspace.tenant_dir.exists():
        if not (source / "tenant.json").is_file():
            raise FileNotFoundError(
                f"The demo tenant was not found at {source}. Run air-tui from a clone of the "
                f"repository, or set {DEMO_TENANT_ENV} to a tenant directory."
            )
        root.mkdir(parents=True, exist_ok=True)
        staging = root / "tenant.partial"
        if staging.exists():
            shutil.rmtree(staging)
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(".keep"))
        # Rename last, so an interrupted copy is never mistaken for a complete one.
        staging.rename(workspace.tenant_dir)
    return workspace


def tenant_workspace(tenant_dir: Path, *, base: Path | None = None) -> Workspace:
    """Work on a tenant directory in place, with its database in the data directory."""
    base = base or data_dir()
    resolved = tenant_dir.resolve()
    name = f"{resolved.name}-{hashlib.sha256(str(resolved).encode()).hexdigest()[:12]}"
    return Workspace(tenant_dir=resolved, database=base / "tenants" / name / DATABASE_NAME)
