"""One suite run (a child pytest) against the SE copy in a directory, bounded in time.

The child runs the whole suite, ``pytest suites --se-target local --se-report-json FILE``, with
``--se-cwd`` on the copy, so ``python -m reference_service`` imports the copy (``sys.path[0]`` is the
working directory, ahead of the editable install); ``PYTHONPATH`` names the copy as well. Every child
gets its own harness state directory, so whatever a killed child left running can be found and ended by
its recorded pids.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.plugin import options as opt
from harness.runstate import RUN_ENV, kill_group, pid_alive, process_start
from tests.mutation.variants import PACKAGE, REPO

# Environment of the runner that must not leak into a child run (we may run inside pytest-xdist).
_DROP_ENV_PREFIXES = ("PYTEST_XDIST", "PYTEST_CURRENT_TEST", "COV_CORE")
_DROP_ENV = (RUN_ENV, "PYTEST_ADDOPTS", "PYTHONDONTWRITEBYTECODE")
# Bytecode of the child processes goes here (never into the repository or the copies).
PYCACHE = Path(tempfile.gettempdir()) / "se-mutation-pycache"
TERM_GRACE_S = 20.0
# The child pytest's pid record in the run's work directory ("<pid> <start time>"): the child runs in a
# session of its own, so a runner that is killed outright leaves it running; whoever cleans up after
# such a runner must end it (before sweeping its state: it would start SEs again).
SUITE_PID = "suite.pid"
_LIVE: set[subprocess.Popen[bytes]] = set()  # child runs in progress, for stop_all()
_LIVE_LOCK = threading.Lock()


class RunError(Exception):
    """The child run could not reach a verdict (timeout, crash, no report)."""


@dataclass(frozen=True)
class SuiteRun:
    returncode: int
    seconds: float
    report: Path  # the JSON conformance report
    output: str  # the tail of the child's stdout + stderr


def child_env(copy_dir: Path, state_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROP_ENV and not any(k.startswith(p) for p in _DROP_ENV_PREFIXES)
    }
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(copy_dir), env.get("PYTHONPATH", "")) if p)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env["SE_CONFORMANCE_STATE"] = str(state_dir)
    return env


def check_import(copy_dir: Path, env: dict[str, str]) -> None:
    """Prove that an SE started in ``copy_dir`` imports the copy, not the editable install."""
    probe = subprocess.run(
        [sys.executable, "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"],
        cwd=copy_dir, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    found = Path(probe.stdout.strip() or "?").resolve()
    if probe.returncode != 0 or not found.is_relative_to(copy_dir.resolve()):
        raise RunError(
            f"python -m {PACKAGE} in {copy_dir} would import {found} (exit {probe.returncode}), not the patched "
            f"copy: {probe.stderr.strip()[-300:]}"
        )


def suite_command(copy_dir: Path, report: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """The whole suite (no requirement filter) against the copy, writing the JSON conformance report;
    ``extra``: the variant's own options (``pytest_args``)."""
    return [
        sys.executable, "-m", "pytest", "suites",
        opt.TARGET, "local",
        opt.COMMAND, f"{sys.executable} -m {PACKAGE}",
        opt.CWD, str(copy_dir),
        opt.REPORT_JSON, str(report),
        "-n", "0", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *extra,
    ]  # fmt: skip


def sweep(state_dir: Path) -> list[str]:
    """End the processes a child run recorded in its own state directory (SE, PostgreSQL)."""
    ended = []
    for pid_file in sorted(state_dir.glob("*/procs/*.pid")):
        with contextlib.suppress(OSError, ValueError):
            pid_text, _, start = pid_file.read_text().strip().partition(" ")
            pid = int(pid_text)
            if pid_alive(pid) and (not start or process_start(pid) in ("", start)):
                kill_group(pid)
                ended.append(f"{pid_file.stem} (pid {pid})")
    return ended


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM first (the child's harness cleans up), then SIGKILL for its whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        proc.wait(timeout=10)


def forget_bytecode(directory: Path) -> None:
    """Drop the bytecode of files under ``directory`` (a run's copy) from the shared cache; the venv's stays."""
    shutil.rmtree(PYCACHE.joinpath(*directory.resolve().parts[1:]), ignore_errors=True)


def stop_all() -> None:
    """Stop every child run in progress (the runner was interrupted)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for proc in live:
        _stop(proc)


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode(errors="replace")


def run_suite(copy_dir: Path, work: Path, timeout_s: float, extra: tuple[str, ...] = ()) -> SuiteRun:
    """Run the whole suite against the SE in ``copy_dir``."""
    state_dir = work / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)  # the postgres system user must traverse it
    env = child_env(copy_dir, state_dir)
    check_import(copy_dir, env)
    report = work / "report.json"
    log = work / "pytest.log"
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            suite_command(copy_dir, report, extra), cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        (work / SUITE_PID).write_text(f"{proc.pid} {process_start(proc.pid)}", encoding="utf-8")
        with _LIVE_LOCK:
            _LIVE.add(proc)
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            sweep(state_dir)
            tail = _tail(log, 1500)
            raise RunError(f"the suite run did not finish within {timeout_s:.0f}s; last output:\n{tail}") from None
        except BaseException:  # Ctrl-C: leave nothing running
            _stop(proc)
            sweep(state_dir)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(proc)
    seconds = time.monotonic() - started
    leftovers = sweep(state_dir)
    output = _tail(log)
    if leftovers:
        output += f"\n(ended processes the run left behind: {', '.join(leftovers)})"
    if returncode not in (0, 1) or not report.exists():
        raise RunError(
            f"pytest exited {returncode} (expected 0 or 1) and wrote {'a' if report.exists() else 'no'} conformance "
            f"report; see the output (--keep keeps {work}):\n{_tail(log, 1500)}"
        )
    return SuiteRun(returncode=returncode, seconds=seconds, report=report, output=output)
