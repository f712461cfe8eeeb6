"""Where ``se-conformance serve`` runs things: local processes or Docker containers.

A ``Deployment`` starts one PostgreSQL, then SEs on it (``serve`` starts one, ``serve --pair`` two, the
shape of ``compose/docker-compose.yml``), tells whether each still runs, and removes everything. Both
kinds reuse the targets' own classes: ``LocalPostgres`` + ``LocalLifecycle``, ``DockerRun`` +
``DockerLifecycle``. The docker kind labels every container, network and volume with the run id and the
creating process, so ``close()`` removes them by label, and a ``serve`` killed with SIGKILL leaves
objects that the next run or ``se-conformance doctor --sweep`` removes.

``DEPLOYMENTS`` maps each target kind that ``harness.targets.kinds`` marks ``serve`` to its class;
``Deployment.from_args`` checks the options that kind accepts.
"""

from __future__ import annotations

import abc
import argparse
import shlex
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigurationError
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.targets import kinds
from harness.targets.base import Lifecycle, SEHandle
from harness.tokens import TokenFactory

if TYPE_CHECKING:  # imported where used: docker-py and the local parts only load for the kind in use
    from harness.postgres.local import LocalPostgres
    from harness.targets.docker import DockerRun

WORKER_NAME = "serve"


class Deployment(abc.ABC):
    """One PostgreSQL and the SEs started on it, for ``serve``."""

    #: The target kind (``harness.targets.kinds.KINDS``) whose machinery it uses.
    kind = ""
    #: How the SEs run, for the first printed line.
    runs_as = ""
    #: How PostgreSQL runs, for the "starting" line.
    postgres_runs_as = ""
    #: What stopping removes besides the SEs and PostgreSQL, for the last printed line.
    removes_also = ""

    def __init__(self, *, run_id: str, profile: TargetProfile, tokens: TokenFactory, public_key: Path) -> None:
        self.run_id = run_id
        self.profile = profile
        self.tokens = tokens
        self.public_key = public_key
        self.lifecycle: Lifecycle | None = None

    @classmethod
    @abc.abstractmethod
    def from_args(cls, args: argparse.Namespace, **common: Any) -> Deployment:
        """The deployment for ``serve``'s options (``ConfigurationError`` for one this kind does not take);
        ``common``: run_id, profile, tokens, public_key."""

    @abc.abstractmethod
    def preflight(self) -> None:
        """Raise a ``HarnessError`` (what / expected / hint) for what is missing, before anything starts."""

    @abc.abstractmethod
    def start_postgres(self) -> PostgresInfo:
        """Start PostgreSQL (and whatever the SEs need beside it); sets ``lifecycle``."""

    def start_se(self, *, prefix: str, mode: str, element_id: str | None = None) -> SEHandle:
        """Start an SE on the deployment's PostgreSQL and wait until it is ready.

        ``element_id`` replaces the lifecycle's default (``se-<prefix>``), under the profile's variable name.
        """
        if self.lifecycle is None:
            raise RuntimeError("start_postgres() first")
        extra = {self.profile.env_name("STORAGE_ELEMENT_ID"): element_id} if element_id else None
        se = self.lifecycle.start_se(mode=mode, prefix=prefix, extra_env=extra)
        if element_id:
            se.element_id = element_id
        return se

    @abc.abstractmethod
    def postgres_details(self) -> str:
        """Where PostgreSQL runs, one line."""

    @abc.abstractmethod
    def se_details(self, se: SEHandle) -> list[tuple[str, str]]:
        """(label, value) lines about one SE beyond its URL, prefix and element id: storage, container."""

    @abc.abstractmethod
    def host_storage_path(self, se: SEHandle) -> str | None:
        """The SE's storage as a directory of this machine (``run --target url --storage-path``), if it is one."""

    @abc.abstractmethod
    def exit_status(self, se: SEHandle) -> str | None:
        """``None`` while the SE runs, else how it ended (``"code 3"``)."""

    def close(self) -> None:
        """Stop and remove every SE, then PostgreSQL; safe after a failed or interrupted start."""
        try:
            if self.lifecycle is not None:
                self.lifecycle.close()
        finally:
            self._close_postgres()

    @abc.abstractmethod
    def _close_postgres(self) -> None: ...


class LocalDeployment(Deployment):
    """PostgreSQL from the system binaries and the SE(s) as processes of this machine."""

    kind = kinds.LOCAL
    runs_as = "local processes"
    postgres_runs_as = "a local process"

    def __init__(self, *, run_id: str, profile: TargetProfile, tokens: TokenFactory, public_key: Path,
                 command: list[str] | None = None, cwd: str | None = None) -> None:  # fmt: skip
        super().__init__(run_id=run_id, profile=profile, tokens=tokens, public_key=public_key)
        self.command = command
        self.cwd = cwd
        self._postgres: LocalPostgres | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, **common: Any) -> LocalDeployment:
        if args.se_image:
            raise ConfigurationError(
                "--image is for serve --target docker",
                expected="--command CMD (or 'command' in the profile) with --target local",
                hint="add --target docker, or drop --image",
            )
        return cls(command=shlex.split(args.se_command) if args.se_command else None, cwd=args.se_cwd, **common)

    def preflight(self) -> None:
        from harness.postgres.local import find_pg_bin

        find_pg_bin()  # ConfigurationError naming the package to install

    def start_postgres(self) -> PostgresInfo:
        from harness.postgres.local import LocalPostgres
        from harness.targets.local import LocalLifecycle

        self._postgres = LocalPostgres(run_id=self.run_id, name="pg-serve")
        database = self._postgres.start()
        self.lifecycle = LocalLifecycle(run_id=self.run_id, worker=WORKER_NAME, profile=self.profile,
                                        database=database, public_key_path=self.public_key,
                                        command=self.command, cwd=self.cwd)  # fmt: skip
        return database

    def postgres_details(self) -> str:
        return "local process (system binaries), data removed on stop"

    def se_details(self, se: SEHandle) -> list[tuple[str, str]]:
        return [("storage path", str(se.private.get("storage_path", "")))]

    def host_storage_path(self, se: SEHandle) -> str | None:
        path = se.private.get("storage_path")
        return str(path) if path else None

    def exit_status(self, se: SEHandle) -> str | None:
        proc = se.private.get("proc")
        if isinstance(proc, subprocess.Popen) and proc.poll() is not None:
            return f"code {proc.returncode}"
        return None

    def _close_postgres(self) -> None:
        if self._postgres is not None:
            self._postgres.destroy()


class DockerDeployment(Deployment):
    """A PostgreSQL container and SE container(s) on a network of the run's own; ports on 127.0.0.1."""

    kind = kinds.DOCKER
    runs_as = "docker containers"
    postgres_runs_as = "a container"
    removes_also = " and removes their containers, network and volumes"

    def __init__(self, *, run_id: str, profile: TargetProfile, tokens: TokenFactory, public_key: Path,
                 image: str | None = None) -> None:  # fmt: skip
        super().__init__(run_id=run_id, profile=profile, tokens=tokens, public_key=public_key)
        self.image = image
        self.se_image = ""
        self.network = ""
        self._run: DockerRun | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, **common: Any) -> DockerDeployment:
        if args.se_command or args.se_cwd:
            raise ConfigurationError(
                "--command/--cwd start a local process; serve --target docker starts an image",
                expected="--image IMG (or 'image' in the profile) with --target docker",
                hint="drop --command/--cwd, or use --target local",
            )
        return cls(image=args.se_image, **common)

    def preflight(self) -> None:
        from harness.docker_util import client

        client()  # DockerUnavailable when no engine answers

    def start_postgres(self) -> PostgresInfo:
        from harness.targets.docker import DockerLifecycle, DockerRun

        run = DockerRun(run_id=self.run_id, image=self.image, profile=self.profile)
        self._run = run
        shared = run.start()
        database = PostgresInfo.from_dict(shared["database"])
        self.se_image = str(shared["se_image"])
        self.network = str(shared["network"])
        self.lifecycle = DockerLifecycle(run_id=self.run_id, worker=WORKER_NAME, profile=self.profile,
                                         network=self.network, database=database, image=self.se_image,
                                         postgres_image=str(shared["postgres_image"]),
                                         public_key_pem=self.tokens.public_pem)  # fmt: skip
        return database

    def postgres_details(self) -> str:
        run = self._run
        if run is not None and run.postgres is not None:
            return f"container {run.postgres.name} ({run.postgres.image}), network {self.network}"
        return "container (not started)"

    def se_details(self, se: SEHandle) -> list[tuple[str, str]]:
        from harness.targets.docker import STORAGE_PATH, DockerLifecycle

        container = DockerLifecycle.container_of(se)
        return [
            ("container", f"{container.name}   ({self.se_image}; logs: docker logs {container.name})"),
            ("storage", f"volume {container.volume}, at {STORAGE_PATH} in the container"),
        ]

    def host_storage_path(self, se: SEHandle) -> str | None:
        return None  # a volume: not a host directory in general (the engine may be remote)

    def exit_status(self, se: SEHandle) -> str | None:
        from harness.targets.docker import DockerLifecycle

        container = DockerLifecycle.container_of(se)
        if container.alive():
            return None
        state = (container.container.attrs or {}).get("State") or {}
        return f"code {state.get('ExitCode', '?')} ({state.get('Status', 'gone')})"

    def _close_postgres(self) -> None:
        from harness.docker_util import engine_problem, sweep

        if engine_problem() is not None:
            return  # no engine: nothing of ours can be there (and the start already said why)
        if self._run is not None:
            self._run.stop()  # the PostgreSQL container, then everything labelled with the run
        else:
            sweep(self.run_id)


#: ``serve --target NAME`` → its deployment: one per kind the registry marks ``serve``.
DEPLOYMENTS: dict[str, type[Deployment]] = {cls.kind: cls for cls in (LocalDeployment, DockerDeployment)}
if set(DEPLOYMENTS) != set(kinds.SERVE_KINDS):  # pragma: no cover - a programming error, caught by any import
    raise RuntimeError(f"serve deployments {sorted(DEPLOYMENTS)} != kinds marked serve {sorted(kinds.SERVE_KINDS)}")
