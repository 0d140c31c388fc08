"""A real CouchDB-compatible server for the sync tests: pouchdb-server on 127.0.0.1.

`make test` installs it from `tests/sync/pouchdb/package-lock.json` when npm is present, and
`.ci/run` makes sure npm is. Each server runs in its own temporary directory (it writes a log
file and its configuration into the working directory), in memory unless a test needs data that
survives a kill. Callers stop only the processes they started, by their pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

HOST = "127.0.0.1"
REPOSITORY = Path(__file__).resolve().parents[2]
LOCAL_BINARY = REPOSITORY / "tests" / "sync" / "pouchdb" / "node_modules" / ".bin" / "pouchdb-server"
START_TIMEOUT_SECONDS = 30.0


def missing(message: str) -> NoReturn:
    """Skip a test that needs a missing server, or fail it in CI (CI=true), which must run every test."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; CI must run the sync tests against a real server")
    pytest.skip(message)


def find_pouchdb_server() -> str:
    configured = os.environ.get("AIR_TUI_POUCHDB_SERVER", "")
    for candidate in (configured, str(LOCAL_BINARY), shutil.which("pouchdb-server") or ""):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    missing(
        "pouchdb-server is not installed: run `npm ci --prefix tests/sync/pouchdb` (make test does when npm is present), "
        "or set AIR_TUI_POUCHDB_SERVER"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class CouchServerError(RuntimeError):
    """The server exited at start or did not respond in time; the message contains its standard error."""


class CouchServer:
    """One pouchdb-server process; `kill` and `start` again keep the port, so clients reconnect.

    The tests start it through their fixtures, and benchmarks/bench_sync.py uses it too.
    """

    def __init__(self, directory: Path, *, binary: str | Path, in_memory: bool = True) -> None:
        self.binary = str(binary)
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.in_memory = in_memory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> CouchServer:
        command = [self.binary, "--host", HOST, "--port", str(self.port), "--no-stdout-logs", "--config", str(self.directory / "config.json")]
        if self.in_memory:
            command.append("--in-memory")
        else:
            data = self.directory / "data"
            data.mkdir(exist_ok=True)
            command += ["--dir", str(data)]
        errors_path = self.directory / "stderr.txt"
        # Standard error goes to a file, because a pipe that is never read could fill up and block the server.
        with open(errors_path, "ab") as errors:
            self.process = subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL, stderr=errors)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = errors_path.read_text(errors="replace")
                raise CouchServerError(f"pouchdb-server exited at start with code {self.process.returncode}: {output[-2000:]}")
            try:
                if httpx.get(self.url + "/", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise CouchServerError(f"pouchdb-server did not respond on {self.url} within {START_TIMEOUT_SECONDS:.0f} s; see {errors_path}.")

    def kill(self) -> None:
        """End the server at once (SIGKILL), as a crash or a pulled plug would."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """End the server by its pid: SIGTERM, then SIGKILL when it has not exited within 10 s."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def peak_rss_mb(self) -> float | None:
        """Return the server's peak resident memory in MB (VmHWM from /proc), or None when it is not running."""
        if self.process is None:
            return None
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    # Reading the server directly, to check what the client wrote --------------------------

    def docs(self, database: str) -> list[dict]:
        response = httpx.get(f"{self.url}/{database}/_all_docs", params={"include_docs": "true"}, timeout=30.0)
        response.raise_for_status()
        return [row["doc"] for row in response.json()["rows"]]

    def put(self, database: str, doc_id: str, body: dict) -> httpx.Response:
        return httpx.put(f"{self.url}/{database}/{doc_id}", json=body, timeout=10.0)
