"""Start an SE under ``strace`` (local target, ``--se-trace-syscalls``): the launch wrapper and its trace file.

strace started with a command and ``-o FILE`` blocks fatal signals (its ``-I 3`` default) and exits when
the command does, so the SE is signalled through the process group (``LocalLifecycle``), and the trace is
complete once the SE has stopped.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from harness.errors import ConfigurationError
from harness.syscalls import TRACED_CALLS
from harness.targets.base import SEHandle

STRACE = "strace"
#: Enough of every buffer to see a request line, an HTTP status line and a PostgreSQL message.
STRING_LIMIT = 4096
TRACE_KEY = "syscall_trace"  # SEHandle.private: the trace file of a traced SE


def require_strace() -> str:
    found = shutil.which(STRACE)
    if not found:
        raise ConfigurationError(
            "--se-trace-syscalls needs strace, which is not installed",
            expected="the strace binary on PATH (Debian package strace)",
            hint="apt-get install strace (scripts/setup installs it)",
        )
    return found


def traced_command(command: list[str], trace_file: Path) -> list[str]:
    """``command`` under ``strace -f -tt -yy``, writing the calls the durability check reads to ``trace_file``."""
    calls = ",".join(f"?{name}" for name in TRACED_CALLS)  # '?': a call this architecture lacks is no error
    return [require_strace(), "-f", "-tt", "-yy", "-s", str(STRING_LIMIT), "-e", f"trace={calls}",
            "-o", str(trace_file), "--", *command]  # fmt: skip


def trace_file(handle: SEHandle) -> Path:
    """The trace file of an SE started with ``trace_syscalls=True``."""
    path = handle.private.get(TRACE_KEY)
    if path is None:
        raise ConfigurationError(
            f"SE {handle.name} was not started under strace",
            expected="spawn_se(trace_syscalls=True) on the local target with --se-trace-syscalls",
        )
    return Path(str(path))
