"""The local target: the SE as a process on this machine, PostgreSQL from the system binaries."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.errors import ConfigurationError, HarnessError, TargetNotReady
from harness.immutable import freeze, remove_tree, thaw
from harness.net import LOOPBACK, free_port
from harness.portowner import PortTaken, port_taken_by_other
from harness.postgres.info import PostgresInfo
from harness.postgres.local import LocalPostgres
from harness.profile import TargetProfile
from harness.runstate import RUN_ENV, forget_process, kill_group, record_process, run_dir
from harness.storage_view import LocalStorageView
from harness.targets.base import (
    FACILITY_DB,
    FACILITY_FS,
    FACILITY_LIFECYCLE,
    FACILITY_SYSCALLS,
    Lifecycle,
    ManagedTarget,
    PostgresHandle,
    SEHandle,
)
from harness.targets.launch import DEFAULT_CAPACITY, SENames, contract_env, wait_ready
from harness.targets.strace import TRACE_KEY, require_strace, traced_command

PORT_ATTEMPTS = 3  # fresh ports tried when another process takes the chosen one first


class LocalPostgresHandle(PostgresHandle):
    def __init__(self, server: LocalPostgres) -> None:
        self._server = server
        self._info = server.start()

    @property
    def info(self) -> PostgresInfo:
        return self._info

    def stop(self) -> None:
        self._server.stop()

    def start(self) -> PostgresInfo:
        self._info = self._server.start()
        return self._info

    def destroy(self) -> None:
        self._server.destroy()


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log yet)"


class LocalLifecycle(Lifecycle):
    def __init__(self, *, run_id: str, worker: str, profile: TargetProfile, database: PostgresInfo,
                 public_key_path: Path, command: list[str] | None = None, cwd: str | None = None) -> None:  # fmt: skip
        self.run_id = run_id
        self.worker = worker
        self.profile = profile
        self.database = database
        self.public_key_path = public_key_path
        self.command = command or [a.replace("{python}", sys.executable) for a in profile.command]
        if not self.command:
            raise ConfigurationError(
                "no command to start the SE",
                expected="--se-command or 'command' in the target profile",
            )
        self.cwd = cwd or profile.cwd
        self._names = SENames(run_id, worker)
        self._handles: list[SEHandle] = []
        self._databases: list[LocalPostgres] = []
        self._frozen: set[Path] = set()  # storage paths made immutable by freeze_storage
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{worker}-", dir=run_dir(run_id)))

    def start_se(self, *, mode: str = "edit", prefix: str | None = None, capacity: int | None = None,
                 database: PostgresInfo | None = None, storage_of: SEHandle | None = None,
                 extra_env: dict[str, str] | None = None, wait: bool = True,
                 trace_syscalls: bool = False) -> SEHandle:  # fmt: skip
        """Start an SE; ``trace_syscalls``: under strace (``harness.targets.strace.trace_file(handle)``)."""
        name, default_prefix = self._names.next()
        prefix = prefix or default_prefix
        if storage_of is not None:
            storage = Path(str(storage_of.private["storage_path"]))
        else:
            storage = self.workdir / f"storage-{name}"
            storage.mkdir()
        database = database or self.database
        for attempt in range(1, PORT_ATTEMPTS + 1):
            handle = self._handle(name, prefix, mode, capacity, database, storage, extra_env, trace_syscalls)
            self._spawn(handle)
            if not wait:
                break
            try:
                self.wait(handle)
                break
            except PortTaken:
                # Another process took the port between free_port() and the SE's bind: a fresh port.
                self._end(handle, signal.SIGKILL)
                if attempt == PORT_ATTEMPTS:
                    raise
        self._handles.append(handle)
        return handle

    def _handle(self, name: str, prefix: str, mode: str, capacity: int | None, database: PostgresInfo,
                storage: Path, extra_env: dict[str, str] | None, trace_syscalls: bool) -> SEHandle:  # fmt: skip
        port = free_port()
        env = contract_env(
            host=LOOPBACK, port=port, mode=mode, database=database, prefix=prefix, storage_path=str(storage),
            capacity=capacity or DEFAULT_CAPACITY, element_id=f"se-{prefix}",
            public_key_path=str(self.public_key_path),
        )  # fmt: skip
        handle = SEHandle(
            name=name, base_url=f"http://{LOOPBACK}:{port}", prefix=prefix, mode=mode,
            element_id=f"se-{prefix}", capacity=capacity or DEFAULT_CAPACITY,
            storage=LocalStorageView(storage), database=database,
        )  # fmt: skip
        handle.private.update(storage_path=str(storage), env=env, extra_env=dict(extra_env or {}), port=port)
        if trace_syscalls:
            handle.private[TRACE_KEY] = str(self.workdir / f"strace-{name}-{len(self._handles) + 1}.log")
        return handle

    def _spawn(self, handle: SEHandle) -> None:
        env = dict(os.environ)
        env.update(self.profile.environment(handle.private["env"]))
        env.update(handle.private["extra_env"])
        env[RUN_ENV] = self.run_id
        log_path = self.workdir / f"se-{handle.name}.log"
        trace = handle.private.get(TRACE_KEY)
        command = traced_command(self.command, Path(trace)) if trace else self.command
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                command, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        record_process(self.run_id, f"se-{handle.prefix}", proc.pid)
        handle.private["proc"] = proc
        handle._log_reader = lambda lines: _tail(log_path, lines)

    def wait(self, handle: SEHandle) -> None:
        proc = handle.private["proc"]
        assert isinstance(proc, subprocess.Popen)
        port = int(handle.private["port"])
        try:
            wait_ready(
                handle.base_url + self.profile.ready_path,
                alive=lambda: proc.poll() is None,
                logs=lambda: handle.logs(40),
                what=f"SE {handle.name} ({' '.join(self.command)})",
            )
        except TargetNotReady:
            if port_taken_by_other(port, proc.pid):
                raise PortTaken(f"SE {handle.name}", port, PORT_ATTEMPTS) from None
            raise
        # Ready - but answered by whom? Only a listener of the SE's own session counts (harness.portowner).
        if port_taken_by_other(port, proc.pid):
            raise PortTaken(f"SE {handle.name}", port, PORT_ATTEMPTS)

    def _end(self, handle: SEHandle, sig: int) -> None:
        proc = handle.private.get("proc")
        if not isinstance(proc, subprocess.Popen):
            return
        if sig == signal.SIGKILL:
            kill_group(proc.pid)
        elif handle.private.get(TRACE_KEY):
            # strace ignores the signal and waits for the SE: signal the SE through the group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait(timeout=5)
        forget_process(self.run_id, f"se-{handle.prefix}")

    def kill_se(self, se: SEHandle) -> None:
        self._end(se, signal.SIGKILL)

    def stop_se(self, se: SEHandle) -> None:
        self._end(se, signal.SIGTERM)

    def restart_se(self, se: SEHandle, *, mode: str | None = None) -> SEHandle:
        self.stop_se(se)
        return self.start_se(
            mode=mode or se.mode, prefix=se.prefix, capacity=se.capacity, database=se.database,
            storage_of=se, extra_env=dict(se.private.get("extra_env") or {}),
            trace_syscalls=bool(se.private.get(TRACE_KEY)),
        )  # fmt: skip

    def freeze_storage(self, se: SEHandle) -> None:
        """The immutable flag on the storage directory itself (harness.immutable): root cannot write it either."""
        path = Path(str(se.private["storage_path"]))
        freeze(path)
        self._frozen.add(path)

    def thaw_storage(self, se: SEHandle) -> None:
        path = Path(str(se.private["storage_path"]))
        thaw(path)
        self._frozen.discard(path)

    def private_database(self) -> PostgresHandle:
        server = LocalPostgres(run_id=self.run_id, name=f"pg-{self.worker}-{len(self._databases) + 1}")
        self._databases.append(server)
        return LocalPostgresHandle(server)

    def close(self) -> None:
        for handle in self._handles:
            self._end(handle, signal.SIGTERM)
        for server in self._databases:
            server.destroy()
        for path in sorted(self._frozen):
            with contextlib.suppress(OSError, HarnessError):
                thaw(path)
        self._frozen.clear()
        remove_tree(self.workdir)


class LocalTarget(ManagedTarget):
    kind = "local"
    facilities = frozenset({FACILITY_DB, FACILITY_FS, FACILITY_LIFECYCLE})

    def __init__(self, *, run_id: str, worker: str, profile: TargetProfile, database: PostgresInfo,
                 public_key_path: Path, command: list[str] | None = None, cwd: str | None = None,
                 trace_syscalls: bool = False) -> None:  # fmt: skip
        if trace_syscalls:
            require_strace()
            # An instance attribute: tests that ask for it may start SEs under strace (--se-trace-syscalls).
            self.facilities = LocalTarget.facilities | {FACILITY_SYSCALLS}
        self.capabilities = profile.capabilities
        self.database = database
        self.profile = profile
        self._lifecycle = LocalLifecycle(
            run_id=run_id, worker=worker, profile=profile, database=database,
            public_key_path=public_key_path, command=command, cwd=cwd,
        )  # fmt: skip
        super().__init__(self._lifecycle)

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "command": " ".join(self._lifecycle.command), "profile": self.profile.name}
