"""A PostgreSQL server from the system binaries, on 127.0.0.1 and a free port.

PostgreSQL refuses to run as root, and CI runs as root: when we are root the server runs as the
``postgres`` system user on a data directory it owns. ``initdb`` costs a second or two, so the first
run makes a template cluster (database ``se``, superuser ``se``) under the cache directory and every
server after that starts from a copy of it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from harness.errors import ConfigurationError, TargetNotReady
from harness.net import free_port
from harness.portowner import PortTaken, port_taken_by_other
from harness.postgres.info import PostgresInfo
from harness.runstate import forget_process, kill_group, new_run_id, record_process, run_dir

PG_BIN_DIRS = ("/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
USER = PASSWORD = DATABASE = "se"


def find_pg_bin() -> Path:
    override = os.environ.get("SE_CONFORMANCE_PG_BIN")
    for candidate in ([override] if override else []) + list(PG_BIN_DIRS):
        if candidate and (Path(candidate) / "postgres").exists():
            return Path(candidate)
    raise ConfigurationError(
        "PostgreSQL server binaries not found",
        expected=f"postgres and initdb in one of {', '.join(PG_BIN_DIRS)} (or SE_CONFORMANCE_PG_BIN)",
        hint="apt-get install -y postgresql",
    )


def _run_as() -> tuple[int, int] | None:
    """The uid/gid to run the server as: the postgres user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ConfigurationError(
            "running as root but there is no 'postgres' system user",
            expected="a postgres user to own the data directory (PostgreSQL refuses to run as root)",
            hint="apt-get install -y postgresql (creates the user)",
        ) from exc
    return entry.pw_uid, entry.pw_gid


def _chown_tree(path: Path, ids: tuple[int, int] | None) -> None:
    if ids is None:
        return
    for dirpath, _dirs, files in os.walk(path):
        os.chown(dirpath, *ids)
        for name in files:
            os.chown(os.path.join(dirpath, name), *ids)


def _check_traversable(path: Path, ids: tuple[int, int] | None) -> None:
    """Fail early, and say why, when the postgres user cannot reach ``path`` (e.g. a dir under /root)."""
    if ids is None:
        return
    uid, gid = ids
    for parent in [path, *path.parents]:
        st = parent.stat()
        mode = st.st_mode
        ok = mode & 0o001 or (st.st_uid == uid and mode & 0o100) or (st.st_gid == gid and mode & 0o010)
        if not ok:
            raise ConfigurationError(
                f"the postgres system user cannot enter {parent} (mode {oct(st.st_mode & 0o777)})",
                expected=f"every directory above {path} searchable by others (PostgreSQL runs as 'postgres' here)",
                hint="set SE_CONFORMANCE_STATE to a directory under /tmp, or chmod o+x the directory",
            )


def _cache_dir() -> Path:
    # Not under $HOME: /root is closed to the postgres user, which must read the template.
    base = Path(os.environ.get("SE_CONFORMANCE_CACHE", "/var/tmp/se-conformance-cache"))
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    return base


PORT_ATTEMPTS = 3  # fresh ports tried when another process takes the chosen one first


class LocalPostgres:
    """One PostgreSQL server process; ``start`` → ``PostgresInfo``."""

    def __init__(self, workdir: Path | None = None, run_id: str | None = None, name: str = "pg") -> None:
        self.run_id = run_id or new_run_id()
        self.name = name
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix=f"{name}-", dir=run_dir(self.run_id)))
        self.workdir.chmod(0o755)
        self.datadir = self.workdir / "data"
        self.logfile = self.workdir / "postgres.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._bin = find_pg_bin()
        self._ids = _run_as()
        _check_traversable(self.workdir, self._ids)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, deadline_s: float = 30.0) -> PostgresInfo:
        if not self.datadir.exists():
            shutil.copytree(self._template(), self.datadir, symlinks=True)
            _chown_tree(self.datadir, self._ids)
            self.datadir.chmod(0o700)
        fresh = not self.port
        for attempt in range(1, PORT_ATTEMPTS + 1):
            if fresh:
                self.port = free_port()
            self._spawn()
            try:
                self._wait_ready(deadline_s)
                break
            except PortTaken:
                # Another process took the port first. A restart must keep its port (the SEs know it):
                # only a fresh server moves on to another.
                if not fresh or attempt == PORT_ATTEMPTS:
                    raise
        return self.info

    def stop(self) -> None:
        """Fast shutdown (SIGINT): the data directory stays for ``restart``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(2)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)
            proc.wait(timeout=5)
        forget_process(self.run_id, self.name)

    def restart(self, deadline_s: float = 30.0) -> PostgresInfo:
        self.stop()
        return self.start(deadline_s)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def info(self) -> PostgresInfo:
        return PostgresInfo("127.0.0.1", self.port, USER, PASSWORD, DATABASE)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- internals -------------------------------------------------------------------------------
    def _spawn(self) -> None:
        cmd = [
            str(self._bin / "postgres"),
            "-D", str(self.datadir),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
            # Test clusters: durability of the *server* is not what we test, speed is welcome.
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
        ]  # fmt: skip
        log = self.logfile.open("ab")
        if self._ids:
            os.chown(self.logfile, *self._ids)
        self._proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            user=self._ids[0] if self._ids else None,
            group=self._ids[1] if self._ids else None,
        )
        log.close()
        record_process(self.run_id, self.name, self._proc.pid)

    def _wait_ready(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        last_error = ""
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                break
            try:
                with psycopg.connect(self.info.dsn("postgresql"), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
            except psycopg.Error as exc:
                last_error = str(exc).strip()
                time.sleep(0.05)
                continue
            # Every harness server has the same credentials: make sure the one that answered is ours.
            if self._proc is None or not port_taken_by_other(self.port, self._proc.pid):
                return
            break
        exited = self._proc is not None and self._proc.poll() is not None
        tail = self.log_tail()
        taken = self._proc is not None and port_taken_by_other(self.port, self._proc.pid)
        self.stop()
        if taken:
            raise PortTaken(f"PostgreSQL {self.name}", self.port, PORT_ATTEMPTS)
        raise TargetNotReady(
            f"PostgreSQL on 127.0.0.1:{self.port} exited before accepting queries"
            if exited
            else f"PostgreSQL on 127.0.0.1:{self.port} did not accept queries within {deadline_s:.0f}s"
            f" (last error: {last_error})",
            expected="SELECT 1 to succeed",
            hint=f"server log {self.logfile}:\n{tail}",
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _template(self) -> Path:
        """A cluster made once per machine and PostgreSQL version, copied for every server."""
        version = self._bin.parent.name
        template = _cache_dir() / f"pg-template-{version}"
        if (template / "PG_VERSION").exists():
            return template
        staging = Path(tempfile.mkdtemp(prefix="pg-template-", dir=_cache_dir()))
        staging.chmod(0o755)
        data = staging / "data"
        data.mkdir()
        _chown_tree(staging, self._ids)
        subprocess.run(
            [str(self._bin / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            user=self._ids[0] if self._ids else None, group=self._ids[1] if self._ids else None,
        )  # fmt: skip
        # Create the database once, with a throw-away server on the template itself.
        port = free_port()
        server = subprocess.Popen(
            [str(self._bin / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            user=self._ids[0] if self._ids else None, group=self._ids[1] if self._ids else None,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    dsn = f"postgresql://{USER}@127.0.0.1:{port}/postgres"
                    with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
                        conn.execute(f"CREATE DATABASE {DATABASE}")
                        conn.execute(f"ALTER ROLE {USER} PASSWORD '{PASSWORD}'")
                    break
                except psycopg.OperationalError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            server.send_signal(2)
            server.wait(timeout=30)
        if (template / "PG_VERSION").exists():  # another process won the race
            shutil.rmtree(staging, ignore_errors=True)
            return template
        os.replace(data, template)
        shutil.rmtree(staging, ignore_errors=True)
        return template
