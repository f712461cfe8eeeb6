"""compose/docker-compose.yml, run for real with Compose v1 (Debian's ``docker-compose``, scripts/setup).

The file as users get it, on the offline images (nothing can be pulled), under a project name and host
ports of its own: PostgreSQL and the keys job, then both SEs healthy by their own healthchecks; each SE
answers with its element id; a file uploaded to se-a is not seen by se-b (prefixes apart on one
database); ``down -v`` leaves no container, network or volume of the project.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.docker_util import client
from harness.images import ensure_se_image, resolve_base_image, resolve_postgres_image
from harness.images.common import stderr_log
from harness.net import LOOPBACK, free_port
from harness.tokens import TokenFactory
from tests.docker_required import require_docker

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMPOSE_FILE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
COMPOSE = "docker-compose"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
HEALTHY_DEADLINE_S = 120.0
SES = ("se-a", "se-b")


@dataclass
class Deployment:
    project: str
    env: dict[str, str]
    ports: dict[str, int]

    def compose(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([COMPOSE, "-f", str(COMPOSE_FILE), "-p", self.project, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip

    def url(self, service: str) -> str:
        return f"http://{LOOPBACK}:{self.ports[service]}"

    def containers(self, service: str | None = None) -> list[object]:
        labels = [f"{PROJECT_LABEL}={self.project}"] + ([f"{SERVICE_LABEL}={service}"] if service else [])
        return list(client().containers.list(all=True, filters={"label": labels}))

    def health(self, service: str) -> str:
        found = self.containers(service)
        if not found:
            return "absent"
        attrs = found[0].attrs  # type: ignore[attr-defined]
        return str(attrs["State"].get("Health", {}).get("Status") or attrs["State"]["Status"])

    def private_key(self) -> bytes:
        """The private half the ``keys`` job wrote, read from its (exited) container's volume."""
        keys = self.containers("keys")[0]
        stream, _ = keys.get_archive("/keys/jwt-private.pem")  # type: ignore[attr-defined]
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("jwt-private.pem")
            assert member is not None
            return member.read()


def compose_command() -> str:
    found = shutil.which(COMPOSE)
    if found is None:
        problem = f"no {COMPOSE} on PATH (scripts/setup installs Debian's docker-compose)"
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(problem)
    return str(found)


@pytest.fixture
def deployment() -> Iterator[Deployment]:
    require_docker()
    compose_command()
    ports = {"postgres": free_port(), "se-a": free_port(), "se-b": free_port()}
    env = {
        **os.environ,
        "SE_IMAGE": ensure_se_image(resolve_base_image(None), rebuild=False, log=stderr_log),
        "PG_IMAGE": resolve_postgres_image(None),
        "PG_PORT": str(ports["postgres"]), "SE_A_PORT": str(ports["se-a"]), "SE_B_PORT": str(ports["se-b"]),
    }  # fmt: skip
    deployed = Deployment(f"se-conformance-compose-{secrets.token_hex(3)}", env, ports)
    try:
        yield deployed
    finally:
        down = deployed.compose("down", "-v", "--remove-orphans", "--timeout", "5")
        assert down.returncode == 0, down.stdout + down.stderr
        assert deployed.containers() == []
        assert client().volumes.list(filters={"label": f"{PROJECT_LABEL}={deployed.project}"}) == []


def wait_healthy(deployed: Deployment) -> None:
    deadline = time.monotonic() + HEALTHY_DEADLINE_S
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {name: deployed.health(name) for name in ("postgres", *SES)}
        if all(state == "healthy" for state in states.values()):
            return
        if any(state in ("unhealthy", "exited", "dead") for state in states.values()):
            break
        time.sleep(0.5)
    logs = deployed.compose("logs", "--tail", "30").stdout
    pytest.fail(f"the deployment did not become healthy within {HEALTHY_DEADLINE_S:.0f}s: {states}\n{logs}")


def test_compose_file_runs_two_ses_on_one_database(deployment: Deployment) -> None:
    up = deployment.compose("up", "-d")
    assert up.returncode == 0, up.stdout + up.stderr
    wait_healthy(deployment)
    for name in SES:
        info = httpx.get(deployment.url(name) + "/api/v1/info", timeout=10)
        assert info.status_code == 200, info.text
        assert info.json()["element_id"] == name
    token = TokenFactory(private_pem=deployment.private_key()).user
    auth = {"Authorization": f"Bearer {token}"}
    upload = httpx.post(deployment.url("se-a") + "/api/v1/files/upload", headers=auth, timeout=30,
                        files={"file": ("hello.txt", b"uploaded to se_a only\n", "text/plain")})  # fmt: skip
    assert upload.status_code == 201, upload.text
    file_id = upload.json()["file_id"]
    assert httpx.get(f"{deployment.url('se-a')}/api/v1/files/{file_id}", headers=auth, timeout=10).status_code == 200
    on_b = httpx.get(f"{deployment.url('se-b')}/api/v1/files/{file_id}", headers=auth, timeout=10)
    assert on_b.status_code == 404, f"se-b must not see se-a's file: {on_b.status_code} {on_b.text}"
