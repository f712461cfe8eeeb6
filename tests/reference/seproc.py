"""The reference SE as a real process on 127.0.0.1, started the way an operator starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.errors import TargetNotReady
from harness.net import free_port
from harness.postgres.info import PostgresInfo
from harness.targets.launch import contract_env, wait_ready

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SEConfig:
    prefix: str
    storage: Path
    key_path: Path
    db: PostgresInfo
    mode: str = "edit"
    capacity: int = 10 * 1024**3
    element_id: str = ""
    port: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DB_CONNECT_TIMEOUT_S": "10"}
        env.update(contract_env(
            host="127.0.0.1", port=self.port, mode=self.mode, database=self.db, prefix=self.prefix,
            storage_path=str(self.storage), capacity=self.capacity,
            element_id=self.element_id or f"se-{self.prefix}", public_key_path=str(self.key_path),
        ))  # fmt: skip
        env.update(self.extra)
        return env


def run_once(env: dict[str, str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the start command to completion (for start-up failures)."""
    return subprocess.run(
        [sys.executable, "-m", "reference_service"], env=env, cwd=REPO,
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


class SEProcess:
    def __init__(self, config: SEConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self._starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.config.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"se-{self.config.prefix}-{self._starts}.log"

    def start(self, deadline_s: float = 30) -> SEProcess:
        if not self.config.port:
            self.config.port = free_port()
        self._starts += 1
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reference_service"], env=self.config.env(), cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        proc = self.proc
        try:
            # Live, not ready: some tests start the SE while its database is down on purpose.
            wait_ready(self.url + "/health/live", deadline_s=deadline_s, alive=lambda: proc.poll() is None,
                       logs=self.logs, what=f"SE {self.config.prefix}")  # fmt: skip
        except TargetNotReady:
            self.kill()
            raise
        return self

    def stop(self, timeout: float = 15) -> int | None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(timeout=5)

    def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def restart(self, **changes: Any) -> SEProcess:
        self.stop()
        for key, value in changes.items():
            setattr(self.config, key, value)
        return self.start()

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def client(self, token: str | None = None, timeout: float = 30) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
