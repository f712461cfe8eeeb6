"""Helpers for the command line's tests: run ``se-conformance`` for real, in a state root of its own.

Each command runs as a subprocess (``python -m harness.cli``) with ``SE_CONFORMANCE_STATE`` pointing at a
fresh directory, so "nothing left running" can be checked exactly: after the command, that directory
holds no run with a live process (the harness removes its run directories on a clean stop).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.runstate import live_processes

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FAKE_SE = HERE / "fake_se.py"
FAKE_SUITE = HERE / "fake_suite" / "check_fake.py"
SLOW_SUITE = HERE / "fake_suite" / "check_slow.py"
STATE_ENV = "SE_CONFORMANCE_STATE"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str
    out: Path

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "report.json").read_text()))

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Cli:
    workdir: Path
    state: Path

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FAKE_"))}
        env.update({STATE_ENV: str(self.state), **(extra or {})})
        return env

    def __call__(self, *args: str, env: dict[str, str] | None = None, timeout: float = 240) -> CliResult:
        done = subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=self.workdir, env=self.env(env),
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        return CliResult(done.returncode, done.stdout, done.stderr, self.workdir / "out")

    def fake_run(self, *args: str, env: dict[str, str] | None = None, suite: Path = FAKE_SUITE) -> CliResult:
        """``run`` of the fake suite against the fake SE on the local target, no xdist."""
        return self("run", "--suite", str(suite), "--target", "local", "--command", f"{sys.executable} {FAKE_SE}",
                    "--profile-file", str(self.write_profile()), "-n", "0", *args, env=env)  # fmt: skip

    def write_profile(self, text: str = 'name = "fake"\ncapabilities = []\n') -> Path:
        path = self.workdir / "fake-profile.toml"
        path.write_text(text)
        return path

    def write_waivers(self, requirement: str = "SE-SVC-010", expires: str = "2099-12-31") -> Path:
        path = self.workdir / "waivers.toml"
        path.write_text(f'[[waivers]]\nrequirement = "{requirement}"\nreason = "capacity lands in 2.0"\n'
                        f"expires = {expires}\n")  # fmt: skip
        return path

    def live(self) -> list[str]:
        """Processes still alive of any run under this state root, and run directories left."""
        left = []
        for run in sorted(self.state.iterdir()):
            if run.is_dir():
                left.append(f"run dir {run.name}")
                os.environ[STATE_ENV] = str(self.state)
                try:
                    left += [f"{name} (pid {pid})" for name, pid in live_processes(run.name)]
                finally:
                    del os.environ[STATE_ENV]
        return left


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    # Not under tmp_path: the postgres system user must traverse to its data directory (0700 parents).
    state = Path(tempfile.mkdtemp(prefix="se-cli-state-", dir="/tmp"))
    state.chmod(0o755)
    yield Cli(tmp_path, state)
    shutil.rmtree(state, ignore_errors=True)
