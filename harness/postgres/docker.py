"""PostgreSQL in a container on the harness's docker network.

The SE containers reach it by container name on that network (``PostgresInfo.internal_host``); the
harness reaches it on ``127.0.0.1:<port>``, published on loopback only. The host port is chosen once
and kept, so ``stop`` + ``start`` give the same address (Docker would pick a new random port).

Readiness is ``pg_isready`` inside the container *and* a real query from the host, with a deadline:
a log line proves nothing about the published port.
"""

from __future__ import annotations

import contextlib
import time

import docker.errors
import psycopg
from docker.models.containers import Container

from harness.docker_util import client, labels, log_tail, remove_container, unique_name
from harness.errors import HarnessError, TargetNotReady
from harness.net import LOOPBACK, free_port
from harness.postgres.info import PostgresInfo
from harness.runstate import new_run_id
from harness.targets.base import PostgresHandle

USER = PASSWORD = DATABASE = "se"
PORT = 5432
# Read by the official postgres images (when SE_CONFORMANCE_POSTGRES_IMAGE=postgres:16); the harness's
# own image has the same user/password/database baked in and ignores them.
OFFICIAL_IMAGE_ENV = {
    "POSTGRES_USER": USER,
    "POSTGRES_PASSWORD": PASSWORD,
    "POSTGRES_DB": DATABASE,
    "POSTGRES_HOST_AUTH_METHOD": "trust",
}


class DockerPostgres(PostgresHandle):
    """One PostgreSQL container; ``start`` → ``PostgresInfo``. Also a ``PostgresHandle`` for tests."""

    def __init__(self, *, image: str, network: str, run_id: str | None = None, role: str = "pg") -> None:
        self.image = image
        self.network = network
        self.run_id = run_id or new_run_id()
        self.role = role
        self.name = unique_name(self.run_id, role)
        self.port = 0
        self._container: Container | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, deadline_s: float = 30.0) -> PostgresInfo:
        """Create and start the container (or start it again after ``stop``) and wait until it answers."""
        if self._container is None:
            self.port = free_port()
            try:
                self._container = client().containers.run(
                    self.image,
                    name=self.name,
                    detach=True,
                    environment=OFFICIAL_IMAGE_ENV,
                    labels=labels(self.run_id, self.role),
                    network=self.network,
                    ports={f"{PORT}/tcp": (LOOPBACK, self.port)},
                    # /dev/shm of 64 MiB is PostgreSQL's classic container failure under parallel queries.
                    shm_size="256m",
                )
            except docker.errors.DockerException as exc:
                raise HarnessError(
                    f"could not start PostgreSQL container {self.name} from {self.image}: {exc}",
                    expected="the image present locally and the network " + self.network,
                    hint="build the images with: python -m harness.images",
                ) from exc
        else:
            self._container.start()
        self._wait_ready(deadline_s)
        return self.info

    def stop(self) -> None:
        """Fast shutdown (the image's stop signal is SIGINT); the container and its data stay."""
        if self._container is not None:
            with contextlib.suppress(docker.errors.NotFound):
                self._container.stop(timeout=15)

    def restart(self, deadline_s: float = 30.0) -> PostgresInfo:
        self.stop()
        return self.start(deadline_s)

    def destroy(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            remove_container(container)

    @property
    def info(self) -> PostgresInfo:
        return PostgresInfo(LOOPBACK, self.port, USER, PASSWORD, DATABASE, internal_host=self.name,
                            internal_port=PORT)  # fmt: skip

    @property
    def container(self) -> Container:
        if self._container is None:
            raise HarnessError(f"PostgreSQL container {self.name} is not started", hint="call start() first")
        return self._container

    def logs(self, lines: int = 40) -> str:
        return log_tail(self.container, lines)

    # -- readiness -------------------------------------------------------------------------------
    def _wait_ready(self, deadline_s: float) -> None:
        deadline = time.monotonic() + deadline_s
        last = "no answer yet"
        in_container_ok = False
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                last = f"the container {self.container.status}"
                break
            if not in_container_ok:
                # TCP on purpose: the official image's init server listens on the socket only.
                code, out = self.container.exec_run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(PORT)])
                in_container_ok = code == 0
                last = f"pg_isready exit {code} {out.decode(errors='replace').strip()}"
            if in_container_ok:
                try:
                    with psycopg.connect(self.info.dsn("postgresql"), connect_timeout=2) as conn:
                        conn.execute("SELECT 1")
                    return
                except psycopg.Error as exc:
                    last = f"SELECT 1 from the host: {str(exc).strip()}"
            time.sleep(0.05)
        raise TargetNotReady(
            f"PostgreSQL container {self.name} ({self.image}) did not answer within {deadline_s:.0f}s (last: {last})",
            expected=f"pg_isready inside the container and SELECT 1 on {LOOPBACK}:{self.port}",
            hint=f"last log lines:\n{log_tail(self.container, 40)}",
        )
