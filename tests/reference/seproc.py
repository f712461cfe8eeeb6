"""The reference SE as a real process on 127.0.0.1, started the way an operator starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.net import free_port
from harness.postgres.info import PostgresInfo

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
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "SERVER_HOST": "127.0.0.1",
            "SERVER_PORT": str(self.port),
            "APP_MODE": self.mode,
            "DB_HOST": self.db.host,
            "DB_PORT": str(self.db.port),
            "DB_USERNAME": self.db.user,
            "DB_PASSWORD": self.db.password,
            "DB_DATABASE": self.db.database,
            "DB_TABLE_PREFIX": self.prefix,
            "STORAGE_TYPE": "local",
            "STORAGE_LOCAL_BASE_PATH": str(self.storage),
            "STORAGE_MAX_SIZE": str(self.capacity),
            "STORAGE_ELEMENT_ID": self.element_id or f"se-{self.prefix}",
            "JWT_PUBLIC_KEY_PATH": str(self.key_path),
            "JWT_ALGORITHM": "RS256",
            "DB_CONNECT_TIMEOUT_S": "10",
        }
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
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"SE exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(self.url + "/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"SE not live within {deadline_s}s:\n{self.logs()}")

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
