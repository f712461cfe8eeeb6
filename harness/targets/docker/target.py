"""The docker target: the run's PostgreSQL container (controller) and one SE container per worker.

``DockerRun`` is the controller's part: images, the run's network, the shared PostgreSQL container.
Its ``start()`` returns a plain dict that workers receive through xdist's ``workerinput``;
``DockerTarget`` is the worker's part, built from that dict: its own SEs with their own table prefixes
and volumes, started, restarted in another mode, killed and removed by ``DockerLifecycle``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker.errors
from docker.models.containers import Container

from harness.docker_util import client, create_network, create_volume, remove_container, sweep
from harness.errors import HarnessError
from harness.images import ensure_se_image, resolve_base_image, resolve_postgres_image
from harness.images.common import Log, ensure_present, image_id, stderr_log
from harness.postgres.docker import DockerPostgres
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.targets.base import (
    FACILITY_DB,
    FACILITY_FS,
    FACILITY_LIFECYCLE,
    Lifecycle,
    ManagedTarget,
    PostgresHandle,
    SEHandle,
)
from harness.targets.docker.container import KEY_PATH, STORAGE_PATH, SEContainer, start_se_container
from harness.targets.docker.freeze import freeze_volume, release, thaw_volume
from harness.targets.docker.storage import ContainerStorageView
from harness.targets.launch import DEFAULT_CAPACITY, SENames, contract_env


class DockerRun:
    """The run's shared docker objects. ``start()`` → the dict workers build their target from."""

    def __init__(
        self,
        *,
        run_id: str,
        image: str | None = None,
        profile: TargetProfile | None = None,
        postgres_image: str | None = None,
        base_image: str | None = None,
        log: Log = stderr_log,
    ) -> None:
        self.run_id = run_id
        # --se-image, else the profile's image, else the reference image built here.
        self.image = image or (profile.image if profile else None)
        self.postgres_image = postgres_image
        self.base_image = base_image
        self.log = log
        self.network: str | None = None
        self.postgres: DockerPostgres | None = None

    def start(self, deadline_s: float = 60.0) -> dict[str, Any]:
        swept = sweep()  # leftovers of killed runs (their creator process is gone)
        if swept:
            self.log(f"removed {len(swept)} docker object(s) left by ended runs")
        pg_image = resolve_postgres_image(self.postgres_image, log=self.log)
        if self.image:
            se_image = ensure_present(self.image, "--se-image", self.log)
        else:
            se_image = ensure_se_image(resolve_base_image(self.base_image, log=self.log), rebuild=False, log=self.log)
        try:
            self.network = create_network(self.run_id)
            self.postgres = DockerPostgres(image=pg_image, network=self.network, run_id=self.run_id, role="pg")
            info = self.postgres.start(deadline_s)
        except BaseException:
            self.stop()
            raise
        return {
            "network": self.network,
            "database": info.to_dict(),
            "se_image": se_image,
            "se_image_id": image_id(se_image),
            "postgres_image": pg_image,
            "postgres_container": self.postgres.name,
        }

    def stop(self) -> None:
        if self.postgres is not None:
            self.postgres.destroy()
        # Whatever workers could not remove (a killed worker): everything labelled with the run.
        sweep(self.run_id)


class DockerLifecycle(Lifecycle):
    """SE containers of one worker. Each SE gets its own volume unless it reuses another's storage."""

    def __init__(
        self,
        *,
        run_id: str,
        worker: str,
        profile: TargetProfile,
        network: str,
        database: PostgresInfo,
        image: str,
        postgres_image: str,
        public_key_pem: bytes,
    ) -> None:
        self.run_id = run_id
        self.worker = worker
        self.profile = profile
        self.network = network
        self.database = database
        self.image = image
        self.postgres_image = postgres_image
        self.public_key_pem = public_key_pem
        self._names = SENames(run_id, worker)
        self._containers: list[SEContainer] = []
        self._volumes: list[str] = []
        self._databases: list[DockerPostgres] = []
        # volume -> the container that mounted it last: storage views follow restarts through it.
        self._holder: dict[str, SEContainer] = {}
        # volume -> the helper container that holds its root immutable (harness.targets.docker.freeze).
        self._freezers: dict[str, Container] = {}

    def start_se(self, *, mode: str = "edit", prefix: str | None = None, capacity: int | None = None,
                 database: PostgresInfo | None = None, storage_of: SEHandle | None = None,
                 extra_env: dict[str, str] | None = None, wait: bool = True) -> SEHandle:  # fmt: skip
        name, default_prefix = self._names.next()
        prefix = prefix or default_prefix
        database = database or self.database
        capacity = capacity or DEFAULT_CAPACITY
        if storage_of is not None:
            volume = str(storage_of.private["volume"])
        else:
            volume = create_volume(self.run_id, f"storage-{name}")
            self._volumes.append(volume)
        env = contract_env(
            host="0.0.0.0", port=self.profile.port, mode=mode, database=database, prefix=prefix,
            storage_path=STORAGE_PATH, capacity=capacity, element_id=f"se-{prefix}", public_key_path=KEY_PATH,
        )  # fmt: skip
        full_env = {**self.profile.environment(env), **(extra_env or {})}
        se = start_se_container(
            image=self.image, run_id=self.run_id, role=f"se-{name}", network=self.network, env=full_env,
            volume=volume, public_key_pem=self.public_key_pem, container_port=self.profile.port,
        )  # fmt: skip
        self._containers.append(se)
        self._holder[volume] = se
        handle = SEHandle(
            name=name, base_url=se.base_url, prefix=prefix, mode=mode, element_id=f"se-{prefix}",
            capacity=capacity, database=database,
            storage=ContainerStorageView(STORAGE_PATH, lambda: self._holder[volume].container),
        )  # fmt: skip
        handle.private.update(container=se, volume=volume, env=env, extra_env=dict(extra_env or {}))
        handle._log_reader = se.logs
        if wait:
            se.wait_ready(self.profile.ready_path)
        return handle

    @staticmethod
    def container_of(se: SEHandle) -> SEContainer:
        container = se.private.get("container")
        if not isinstance(container, SEContainer):
            raise HarnessError(f"SE {se.name} was not started by a docker lifecycle")
        return container

    def restart_se(self, se: SEHandle, *, mode: str | None = None) -> SEHandle:
        self.stop_se(se)
        return self.start_se(
            mode=mode or se.mode, prefix=se.prefix, capacity=se.capacity, database=se.database, storage_of=se,
            extra_env=_str_dict(se.private.get("extra_env")),
        )  # fmt: skip

    def kill_se(self, se: SEHandle) -> None:
        self.container_of(se).kill()

    def stop_se(self, se: SEHandle) -> None:
        self.container_of(se).stop()

    def freeze_storage(self, se: SEHandle) -> None:
        """The immutable flag on the SE's volume root, set by a labelled helper container with
        CAP_LINUX_IMMUTABLE (the SE container has no such capability): see harness.targets.docker.freeze."""
        volume = str(se.private["volume"])
        if volume not in self._freezers:
            self._freezers[volume] = freeze_volume(image=self.postgres_image, run_id=self.run_id, volume=volume)

    def thaw_storage(self, se: SEHandle) -> None:
        volume = str(se.private["volume"])
        helper = self._freezers.get(volume)
        if helper is not None:
            thaw_volume(helper)
            del self._freezers[volume]

    def private_database(self) -> PostgresHandle:
        server = DockerPostgres(image=self.postgres_image, network=self.network, run_id=self.run_id,
                                role=f"pg-{self.worker}-{len(self._databases) + 1}")  # fmt: skip
        self._databases.append(server)
        server.start()
        return server

    def close(self) -> None:
        for helper in self._freezers.values():  # before the volumes: an immutable root cannot be removed
            release(helper)
            remove_container(helper)
        for se in self._containers:
            se.remove()
        for server in self._databases:
            server.destroy()
        for volume in self._volumes:
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                client().volumes.get(volume).remove(force=True)
        self._containers.clear()
        self._databases.clear()
        self._volumes.clear()
        self._holder.clear()
        self._freezers.clear()


def _str_dict(value: object) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


class DockerTarget(ManagedTarget):
    kind = "docker"
    facilities = frozenset({FACILITY_DB, FACILITY_FS, FACILITY_LIFECYCLE})

    def __init__(self, *, shared: Mapping[str, Any], worker: str, profile: TargetProfile) -> None:
        docker_part = shared["docker"]
        self.profile = profile
        self.capabilities = profile.capabilities
        self.database = PostgresInfo.from_dict(shared["database"])
        self.image = str(docker_part["se_image"])
        self.image_id = str(docker_part.get("se_image_id", ""))
        self._lifecycle = DockerLifecycle(
            run_id=shared["run_id"], worker=worker, profile=profile, network=docker_part["network"],
            database=self.database, image=self.image, postgres_image=docker_part["postgres_image"],
            public_key_pem=Path(shared["public_key_path"]).read_bytes(),
        )  # fmt: skip
        super().__init__(self._lifecycle)

    def describe(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "image": self.image,
            "image_id": self.image_id,
            "profile": self.profile.name,
        }
