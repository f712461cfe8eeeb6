"""One SE container: created on the harness network, configured only by environment variables.

Storage is a labelled named volume at ``STORAGE_PATH`` (so a restart in another mode, which is a new
container, finds the same files); the JWT public key is copied into the container before it starts
(``put_archive`` works with a remote engine too, where a bind mount of a host file would not).
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

import docker.errors
from docker.models.containers import Container

from harness.docker_util import client, labels, log_tail, published_port, remove_container, unique_name
from harness.errors import HarnessError
from harness.net import LOOPBACK
from harness.targets.launch import READY_DEADLINE_S, wait_ready

STORAGE_PATH = "/data/storage"
KEY_DIR = "se-conformance"
KEY_PATH = f"/{KEY_DIR}/jwt-public.pem"


@dataclass
class SEContainer:
    container: Container
    volume: str
    container_port: int
    host_port: int

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.host_port}"

    @property
    def name(self) -> str:
        return str(self.container.name)

    def alive(self) -> bool:
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return self.container.status in ("created", "running", "restarting")

    def logs(self, lines: int = 40) -> str:
        return log_tail(self.container, lines)

    def wait_ready(self, ready_path: str, deadline_s: float = READY_DEADLINE_S) -> float:
        """Seconds until ``ready_path`` answers 200; ``TargetNotReady`` with the last 40 log lines."""
        return wait_ready(
            self.base_url + ready_path,
            deadline_s=deadline_s,
            alive=self.alive,
            logs=lambda: self.logs(40),
            what=f"SE container {self.name} ({self.container.attrs['Config']['Image']})",
        )

    def kill(self) -> None:
        """SIGKILL: the SE gets no chance to clean up (what a crash or an OOM kill looks like)."""
        with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
            self.container.kill("SIGKILL")
        self._wait_exited()

    def stop(self, timeout_s: int = 15) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the container stays (its storage stays readable)."""
        with contextlib.suppress(docker.errors.NotFound):
            self.container.stop(timeout=timeout_s)

    def remove(self) -> None:
        remove_container(self.container)

    def _wait_exited(self, deadline_s: float = 10.0) -> None:
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.02)


def key_archive(public_key_pem: bytes) -> bytes:
    """A tar with ``/se-conformance/jwt-public.pem`` readable by any user the image runs as."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folder = tarfile.TarInfo(KEY_DIR)
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        tar.addfile(folder)
        key = tarfile.TarInfo(KEY_PATH.lstrip("/"))
        key.mode, key.size, key.mtime = 0o644, len(public_key_pem), int(time.time())
        tar.addfile(key, io.BytesIO(public_key_pem))
    return buf.getvalue()


def start_se_container(
    *,
    image: str,
    run_id: str,
    role: str,
    network: str,
    env: Mapping[str, str],
    volume: str,
    public_key_pem: bytes,
    container_port: int = 8000,
) -> SEContainer:
    """Create, configure and start an SE container; does not wait for readiness.

    ``env`` is the complete environment (launch contract under the target's names); the container
    port is published on 127.0.0.1 at a port the engine picks.
    """
    try:
        container = client().containers.create(
            image,
            name=unique_name(run_id, role),
            environment=dict(env),
            labels=labels(run_id, "se", {"se-conformance.se": role}),
            network=network,
            ports={f"{container_port}/tcp": (LOOPBACK, None)},
            volumes={volume: {"bind": STORAGE_PATH, "mode": "rw"}},
            # docker-init as PID 1: the SE is an ordinary child, so SIGTERM without a handler still
            # stops it (PID 1 ignores it) and zombies are reaped.
            init=True,
        )
    except docker.errors.ImageNotFound as exc:
        raise HarnessError(
            f"SE image {image} is not on this engine",
            expected="the image built by `python -m harness.images` or given with --se-image",
            hint="python -m harness.images  (or docker load / docker pull your image)",
        ) from exc
    try:
        container.put_archive("/", key_archive(public_key_pem))
        container.start()
    except BaseException:
        remove_container(container)
        raise
    try:
        host_port = published_port(container, f"{container_port}/tcp")
    except HarnessError:
        # The SE exited at once (e.g. a launch-contract variable it rejects): no port was bound.
        # Keep the container, so wait_ready() reports its exit with its log lines.
        host_port = 0
    return SEContainer(container, volume, container_port, host_port)
