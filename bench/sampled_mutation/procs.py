"""Pid records (``"<pid> <start time>"``, as the harness writes them) and ending what they name.

A worker's copy holds ``worker.pid`` (the HTTP worker) and ``.judge/<run>/judge.pid`` (a judge in
progress, with its suite run's pytest in ``.judge/<run>/suite.pid`` and its harness state in
``.judge/<run>/state``); a copy made by ``run`` also holds
``owner.pid`` (the ``run`` process), so a later ``run`` can end what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from harness.runstate import kill_group, pid_alive, process_start
from tests.mutation.execution import SUITE_PID, TERM_GRACE_S, sweep

JUDGES = ".judge"


def record(path: Path, pid: int | None = None) -> None:
    pid = os.getpid() if pid is None else pid
    path.write_text(f"{pid} {process_start(pid)}", encoding="utf-8")


def alive(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs."""
    try:
        pid_text, _, start = path.read_text(encoding="utf-8").strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if not pid_alive(pid) or (start and process_start(pid) not in ("", start)):
        return None
    return pid


def running(pid: int) -> bool:
    """Alive and not a zombie (a child of ours that exited is reaped here)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    if not pid_alive(pid):
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def end(pids: list[int], grace_s: float) -> None:
    """SIGTERM each process group, wait up to ``grace_s``, then SIGKILL what is left."""
    for pid in pids:
        kill_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(running(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if running(pid):
            kill_group(pid)


def stop_judges(copy: Path, grace_s: float = 40.0) -> None:
    """End the judges running in ``copy`` (they stop their suite run) and whatever their runs left."""
    runs = sorted((copy / JUDGES).glob("*/")) if (copy / JUDGES).exists() else []
    end([pid for run in runs if (pid := alive(run / "judge.pid")) is not None], grace_s)
    # A judge that was killed, or did not stop its suite run in time, leaves that pytest running in a
    # session of its own; swept alone, its state would only lose the SEs it already started, and it would
    # start the next test's SE after the sweep (an SE left behind, its state directory gone).
    end([pid for run in runs if (pid := alive(run / SUITE_PID)) is not None], TERM_GRACE_S)
    for run in runs:
        with contextlib.suppress(OSError):
            sweep(run / "state")
