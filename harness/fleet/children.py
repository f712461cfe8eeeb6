"""The processes of a fleet run: one ``se-conformance run --target url`` per SE (``-n 0``: one worker
bound to its SE, never two on one SE) and one pytest of the fleet-wide checks, all at once.

Each child runs in its own session; Ctrl-C / SIGTERM are forwarded to each once (each cleans up what it
created), a second signal kills them. Output of each goes to a log file in its directory.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from harness.fleet.spec import Fleet, FleetEntry
from harness.plugin import SUITES_DIR
from harness.plugin import options as opt
from harness.runstate import kill_group

REPO_ROOT = SUITES_DIR.parent
FLEET_DIR = "fleet"  # OUT/fleet/: the fleet-wide checks' JUnit, Allure results and log
POLL_S = 0.2


@dataclass(frozen=True)
class RunOptions:
    """What the fleet run passes on to every SE's run."""

    profile: str = "core"
    strict: bool = False
    keyword: str | None = None
    read_timeout: float | None = None
    pytest_args: tuple[str, ...] = ()


def se_command(entry: FleetEntry, out: Path, options: RunOptions) -> list[str]:
    """``se-conformance run`` against one SE of the fleet (pure)."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--target", "url", "--url", entry.url,
           "--table-prefix", entry.table_prefix, "--profile", options.profile, "-n", "0",
           "--out", str(out), "--quiet"]  # fmt: skip
    for flag, value in (("--db-dsn", entry.db_dsn), ("--storage-path", entry.storage_path),
                        ("--profile-file", entry.profile_file), ("--private-key", entry.private_key)):  # fmt: skip
        if value is not None:
            cmd += [flag, str(value)]
    for name in entry.capabilities:
        cmd += ["--capability", name]
    for role, token in sorted(entry.tokens.items()):
        cmd += [f"--token-{role}", token]
    if options.strict:
        cmd.append("--strict")
    if options.keyword:
        cmd += ["-k", options.keyword]
    if options.read_timeout is not None:
        cmd += ["--read-timeout", str(options.read_timeout)]
    if options.pytest_args:
        cmd += ["--", *options.pytest_args]
    return cmd


def checks_command(fleet: Fleet, out: Path) -> list[str]:
    """pytest of the fleet-wide checks (``suites/fleet``), JUnit and Allure results into ``out`` (pure)."""
    return [sys.executable, "-m", "pytest", str(SUITES_DIR / "fleet"),
            "-c", str(REPO_ROOT / "pyproject.toml"), "--rootdir", str(REPO_ROOT), "-p", "no:xdist",
            opt.FLEET, str(fleet.source.resolve()), "--junitxml", str((out / "junit.xml").resolve()),
            "-o", "junit_suite_name=se-conformance-fleet", "--alluredir", str((out / "allure-results").resolve()),
            "-q", "-rN"]  # fmt: skip


@dataclass
class Child:
    name: str
    cmd: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ended: float | None = None

    @property
    def code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    @property
    def duration_s(self) -> float:
        return (self.ended or time.monotonic()) - self.started


@dataclass
class Children:
    """Start every child at once, forward signals, wait for all; ``on_end(child)`` as each one ends."""

    children: list[Child]
    forwarded: set[int] = field(default_factory=set)

    def _signal(self, signum: int, _frame: FrameType | None) -> None:
        hard = signum in self.forwarded
        self.forwarded.add(signum)
        print(f"\nse-conformance: {signal.Signals(signum).name}: stopping every SE's run"
              f"{' hard' if hard else ' and cleaning up'}…", file=sys.stderr, flush=True)  # fmt: skip
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                if hard:
                    kill_group(child.proc.pid)
                else:
                    child.proc.send_signal(signum)

    def run(self, on_end: Callable[[Child], None]) -> None:
        previous = {s: signal.signal(s, self._signal) for s in (signal.SIGINT, signal.SIGTERM)}
        logs = []
        try:
            for child in self.children:
                child.log.parent.mkdir(parents=True, exist_ok=True)
                log = child.log.open("wb")
                logs.append(log)
                child.started = time.monotonic()
                child.proc = subprocess.Popen(child.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
            waiting = list(self.children)
            while waiting:
                for child in [c for c in waiting if c.code is not None]:
                    child.ended = time.monotonic()
                    waiting.remove(child)
                    on_end(child)
                time.sleep(POLL_S)
        finally:
            for child in self.children:  # only after an exception here: every child is ours to end
                if child.proc is not None and child.proc.poll() is None:
                    kill_group(child.proc.pid)
                    child.proc.wait()
            for log in logs:
                log.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
