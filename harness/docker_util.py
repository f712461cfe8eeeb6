"""Docker plumbing shared by the image builds, the PostgreSQL container and the docker target.

Everything the harness creates in Docker (containers, networks, volumes) carries labels:

* ``se-conformance=1`` — ours, nothing else is ever touched;
* ``se-conformance.run=<run id>`` — which run made it (``sweep(run_id)`` removes a run);
* ``se-conformance.pid=<pid>``, ``se-conformance.pid-start=<its start time>`` and
  ``se-conformance.host=<hostname>`` — which process made it, so that ``sweep()`` can tell leftovers
  of a killed run (creator dead, or its pid now someone else's) from objects of a run still going.

The engine may be shared with other users: we never prune, and we only remove labelled objects.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from harness.errors import DockerUnavailable, HarnessError
from harness.runstate import pid_alive, process_start

LABEL_PROJECT = "se-conformance"
LABEL_RUN = "se-conformance.run"
LABEL_PID = "se-conformance.pid"
LABEL_PID_START = "se-conformance.pid-start"
LABEL_HOST = "se-conformance.host"
LABEL_ROLE = "se-conformance.role"

ENGINE_HINT = (
    "start the engine with: dockerd >/var/log/dockerd.log 2>&1 &  (then wait for `docker info`); "
    "install it with: apt-get install -y docker.io; or run with --target local"
)


@functools.cache
def client() -> docker.DockerClient:
    """The Docker engine from the environment (DOCKER_HOST or the default socket), pinged once.

    Raises ``DockerUnavailable`` with what to do when nothing answers.
    """
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not os.path.exists(host.removeprefix("unix://")):
        # Checked first because docker-py leaks the socket of a failed unix connect.
        raise DockerUnavailable(
            f"no Docker engine answers (no socket at {host.removeprefix('unix://')})",
            expected=f"a Docker engine at {host}",
            hint=ENGINE_HINT,
        )
    engine = None
    try:
        # Long timeout: image builds and imports can stay silent for a while.
        engine = docker.from_env(timeout=600)
        engine.ping()
    except docker.errors.DockerException as exc:
        if engine is not None:
            engine.close()
        raise DockerUnavailable(
            f"no Docker engine answers ({exc.__class__.__name__}: {exc})",
            expected=f"a Docker engine at {host}",
            hint=ENGINE_HINT,
        ) from exc
    return engine


def reset_client() -> None:
    """Close the cached engine connection; the next ``client()`` connects (and pings) again."""
    if client.cache_info().currsize:
        client().close()
    client.cache_clear()


def engine_problem() -> str | None:
    """Why no engine can be used (the ``DockerUnavailable`` message), or ``None`` when one answers."""
    try:
        client()
    except DockerUnavailable as exc:
        return str(exc)
    return None


def engine_available() -> bool:
    return engine_problem() is None


def labels(run_id: str, role: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Labels for a new object of ``run_id``; ``role`` says what it is (``postgres``, ``se``, ...)."""
    result = {
        LABEL_PROJECT: "1",
        LABEL_RUN: run_id,
        LABEL_PID: str(os.getpid()),
        LABEL_PID_START: process_start(os.getpid()),
        LABEL_HOST: socket.gethostname(),
        LABEL_ROLE: role,
    }
    result.update(extra or {})
    return result


def unique_name(run_id: str, role: str) -> str:
    """A name no other run, worker or earlier object uses: ``se-conformance-<run>-<role>-<random>``."""
    return f"se-conformance-{run_id}-{role}-{secrets.token_hex(2)}"


def create_network(run_id: str) -> str:
    """A bridge network for the run's containers; returns its name (containers resolve each other by it)."""
    name = unique_name(run_id, "net")
    client().networks.create(name, driver="bridge", labels=labels(run_id, "network"), check_duplicate=True)
    return name


def create_volume(run_id: str, role: str) -> str:
    name = unique_name(run_id, role)
    client().volumes.create(name, labels=labels(run_id, role))
    return name


def image_exists(tag: str) -> bool:
    try:
        client().images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


def published_port(container: Container, container_port: str) -> int:
    """The host port that ``container_port`` (e.g. ``"5432/tcp"``) is published on."""
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(container_port) or []
    if not bindings:
        raise HarnessError(
            f"container {container.name} publishes no host port for {container_port}",
            expected="a 127.0.0.1 binding made by the harness",
            hint="the container may have exited; see `docker logs " + container.name + "`",
        )
    return int(bindings[0]["HostPort"])


def log_tail(container: Container, lines: int = 40) -> str:
    with contextlib.suppress(docker.errors.DockerException):
        return container.logs(tail=lines).decode("utf-8", "replace").rstrip()
    return "(logs unavailable)"


def remove_container(container: Container) -> None:
    """Kill and remove, quietly: used on teardown paths where the container may already be gone."""
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        container.remove(force=True, v=True)


def _owned_by_dead_process(attrs_labels: Mapping[str, str]) -> bool:
    """True when the object's creator ran on this host and is gone (a killed or finished run)."""
    if attrs_labels.get(LABEL_HOST) != socket.gethostname():
        return False  # another machine on a shared engine: its pids mean nothing here
    try:
        pid = int(attrs_labels.get(LABEL_PID, ""))
    except ValueError:
        return True
    if not pid_alive(pid):
        return True
    started = attrs_labels.get(LABEL_PID_START, "")
    return bool(started) and process_start(pid) not in ("", started)


def _objects(run_id: str | None) -> Iterator[tuple[str, Any]]:
    flt = {"label": [f"{LABEL_RUN}={run_id}" if run_id else f"{LABEL_PROJECT}=1"]}
    engine = client()
    # Order matters: containers hold networks and volumes.
    for container in engine.containers.list(all=True, filters=flt):
        yield "container", container
    for network in engine.networks.list(filters=flt):
        yield "network", network
    for volume in engine.volumes.list(filters=flt):
        yield "volume", volume


def _labels_of(obj: Any) -> dict[str, str]:
    # Networks and volumes have top-level "Labels"; containers keep them under "Config".
    return dict(obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {})


# The role of the helper that holds a volume's root immutable (harness.targets.docker.freeze).
FREEZE_ROLE = "storage-freeze"


def _release_freeze(container: Container) -> None:
    from harness.targets.docker.freeze import release  # the docker target's own module, loaded when needed

    release(container)


def sweep(run_id: str | None = None) -> list[str]:
    """Remove the Docker objects of ``run_id``, or (``None``) of every run whose creator is dead.

    Returns a description of each removed object (for logs and the CI leftover check). Objects
    without our project label are never looked at. A storage-freeze helper left by a killed test first
    clears the immutable flag it set (harness.targets.docker.freeze), so that its volume can be removed.
    """
    removed: list[str] = []
    for kind, obj in _objects(run_id):
        obj_labels = _labels_of(obj)
        if obj_labels.get(LABEL_PROJECT) != "1":
            continue
        if run_id is None and not _owned_by_dead_process(obj_labels):
            continue
        with contextlib.suppress(docker.errors.NotFound):
            if kind == "container":
                if obj_labels.get(LABEL_ROLE) == FREEZE_ROLE:
                    _release_freeze(obj)  # before its volume's turn: an immutable root cannot be removed
                obj.remove(force=True, v=True)
            elif kind == "volume":
                obj.remove(force=True)
            else:
                obj.remove()
            removed.append(f"{kind} {obj.name} (run {obj_labels.get(LABEL_RUN, '?')})")
    return removed


def leftovers(run_id: str | None = None) -> list[str]:
    """Labelled objects of ``run_id``, or (``None``) of every ended run, still present.

    For the CI leftover check: objects of a run still in progress (creator alive) are not leftovers.
    No engine means no docker leftovers.
    """
    if not engine_available():
        return []
    found = []
    for kind, obj in _objects(run_id):
        obj_labels = _labels_of(obj)
        if run_id is None and not _owned_by_dead_process(obj_labels):
            continue
        found.append(f"{kind} {obj.name} (run {obj_labels.get(LABEL_RUN, '?')})")
    return found
