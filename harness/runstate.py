"""Run identity and the on-disk record of what a run started.

Every run has a short id. Local processes started by the harness are recorded as pid files under
``<state root>/<run id>/`` next to ``owner.pid``; a later run (or ``se-conformance doctor --sweep``)
kills what a dead owner left behind. Docker objects carry the same run id as a label.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import tempfile
from pathlib import Path

from harness.immutable import remove_tree

RUN_ENV = "SE_CONFORMANCE_RUN"


def new_run_id() -> str:
    # Lowercase letters and digits only: the id becomes part of table prefixes and docker names.
    return "r" + secrets.token_hex(3)


def state_root() -> Path:
    root = Path(os.environ.get("SE_CONFORMANCE_STATE", Path(tempfile.gettempdir()) / "se-conformance"))
    root.mkdir(parents=True, exist_ok=True)
    # The postgres system user must traverse it to reach its data directories.
    root.chmod(0o755)
    return root


def run_dir(run_id: str) -> Path:
    path = state_root() / run_id
    if not path.exists():
        path.mkdir(mode=0o755)
        (path / "owner.pid").write_text(_identity(os.getpid()))
    return path


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc has no answer).

    pids wrap quickly on these machines (pid_max 32768, a test run forks thousands): a pid alone could
    make a dead run's record point at whatever process got the number later, and a sweep would kill it.
    A pid together with its start time names one process for good.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22; the command name (field 2) may contain spaces, so count from its closing ')'.
    return stat.rpartition(")")[2].split()[19]


def _identity(pid: int) -> str:
    return f"{pid} {process_start(pid)}"


def _same_process(record: str) -> int | None:
    """The pid of a ``"<pid> <start>"`` record if that very process still runs, else None."""
    pid_text, _, start = record.strip().partition(" ")
    try:
        pid = int(pid_text)
    except ValueError:
        return None
    if not pid_alive(pid):
        return None
    if start and process_start(pid) not in ("", start):
        return None  # the pid was reused by another process
    return pid


def record_process(run_id: str, name: str, pid: int) -> None:
    procs = run_dir(run_id) / "procs"
    procs.mkdir(exist_ok=True)
    (procs / f"{name}.pid").write_text(_identity(pid))


def forget_process(run_id: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state_root() / run_id / "procs" / f"{name}.pid").unlink()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Kill a process started with ``start_new_session=True`` and everything it spawned."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def live_processes(run_id: str) -> list[tuple[str, int]]:
    procs = state_root() / run_id / "procs"
    found = []
    for pid_file in sorted(procs.glob("*.pid")) if procs.exists() else []:
        with contextlib.suppress(OSError):
            pid = _same_process(pid_file.read_text())
            if pid is not None:
                found.append((pid_file.stem, pid))
    return found


def owner_alive(path: Path) -> bool:
    try:
        return _same_process((path / "owner.pid").read_text()) is not None
    except OSError:
        return False


def sweep_local(run_id: str | None = None) -> list[str]:
    """Kill processes and remove directories of ``run_id``, or of every run whose owner is dead.

    Returns a description of what was removed (for logs and for the CI leftover check).
    """
    removed: list[str] = []
    root = state_root()
    for path in sorted(root.iterdir()):
        if not path.is_dir():
            continue
        if run_id is not None and path.name != run_id:
            continue
        if run_id is None and owner_alive(path):
            continue
        for name, pid in live_processes(path.name):
            kill_group(pid)
            removed.append(f"process {name} (pid {pid}) of run {path.name}")
        remove_tree(path)  # also a storage a killed test left immutable (harness.immutable)
        removed.append(f"state dir {path}")
    return removed
