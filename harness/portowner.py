"""Who listens on a loopback port: so the local target knows it talks to the SE it started.

``free_port()`` asks the kernel for a free port and lets it go again before the SE binds it; another
process (another run of the harness on this machine, a parallel CI job) may take it in between. The SE
we started then fails to bind and exits, while readiness polls answer 200 — from the *other* process.
A run that went on would send its requests, with its tokens, to somebody else's SE. Linux tells the
owner of a listening socket through ``/proc``: its inode in ``/proc/net/tcp*``, that inode among a
process's file descriptors.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from harness.errors import HarnessError

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


def _listening_inodes(port: int, proc: Path) -> set[str]:
    inodes: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (proc / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def listener_pids(port: int, proc: Path = PROC) -> set[int] | None:
    """PIDs of the processes holding a listening TCP socket on ``port``; ``None`` where this machine
    cannot tell (no ``/proc``: not Linux), an empty set when nobody listens."""
    if not (proc / "net" / "tcp").exists():
        return None
    wanted = {f"socket:[{inode}]" for inode in _listening_inodes(port, proc)}
    if not wanted:
        return set()
    pids: set[int] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        pids.add(int(entry.name))
                        break
    return pids


def in_session(pid: int, session: int) -> bool:
    """Whether ``pid`` belongs to the session ``session`` (an SE started with ``start_new_session``:
    the command itself, or a child of a wrapper script or of strace)."""
    try:
        return os.getsid(pid) == session
    except OSError:
        return False


def port_taken_by_other(port: int, session: int) -> bool:
    """Someone outside ``session`` listens on ``port`` (False when nobody does, or when /proc can't say)."""
    pids = listener_pids(port)
    return bool(pids) and not any(in_session(pid, session) for pid in pids or ())


class PortTaken(HarnessError):
    """A port chosen for a process the harness starts was taken by another process first."""

    def __init__(self, what: str, port: int, attempts: int) -> None:
        self.port = port
        super().__init__(
            f"{what}: port {port} on 127.0.0.1 is held by a process the harness did not start",
            expected=f"{what} listening on the port chosen for it",
            hint="another program took the port between its choice and the bind; the harness tried "
            f"{attempts} fresh ports - if this persists, look for port-hungry processes on this machine",
        )
