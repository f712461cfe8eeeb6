"""Target kinds: one record per kind, and the registry (``KINDS``) every caller looks behaviour up in.

A ``TargetKind`` says how the controller starts and stops the run's shared infrastructure, how a worker
builds its ``Target`` from the shared description, when the SE the harness runs is the reference itself
(and so runs under the reference's own profile), and the properties the plugin and the command line act
on: one SE for every worker (``single_se``), deleting the files a run created, lifecycle, ``serve``.

The records import their implementation modules only when called: a worker running the local target
never imports Docker code, and ``se-conformance run`` never imports a target to parse its options.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError
from harness.postgres.info import PostgresInfo
from harness.profile import NO_PROFILE, TargetProfile, load_profile
from harness.targets.base import Target

AUTO = "auto"
DOCKER = "docker"
LOCAL = "local"
URL = "url"
#: Where ``--se-capability`` declarations come from, in messages.
CAPABILITY_SOURCE = "--se-capability"
#: ``python -m reference_service``: the local target's default command, and the reference under any Python.
REFERENCE_MODULE = "reference_service"


@dataclass(frozen=True)
class TargetSettings:
    """What the options say about the SE under test, whoever parsed them (the pytest plugin or the CLI)."""

    image: str | None = None
    command: str | None = None
    cwd: str | None = None
    url: str | None = None
    table_prefix: str | None = None
    db_dsn: str | None = None
    storage_path: str | None = None
    profile_file: str | None = None
    capabilities: tuple[str, ...] = ()
    #: Local target: SEs a test asks for start under strace (the ``syscalls`` facility).
    trace_syscalls: bool = False


class Infrastructure(abc.ABC):
    """The controller's share of a kind: what every worker of the run uses (PostgreSQL, images, network)."""

    @abc.abstractmethod
    def start(self) -> dict[str, Any]:
        """Start it; returns entries of the run's shared description (``database``, ``docker``)."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop and remove it; safe after a failed start."""


@dataclass(frozen=True)
class TargetKind:
    name: str
    #: (run id, settings, profile) → the run's shared infrastructure (controller side).
    infrastructure: Callable[[str, TargetSettings, TargetProfile], Infrastructure]
    #: (settings, shared description, worker id, profile) → the worker's target.
    build: Callable[[TargetSettings, Mapping[str, Any], str, TargetProfile], Target]
    #: Checks that take a second, before anything starts (``se-conformance run``): raise a ``HarnessError``.
    preflight: Callable[[TargetSettings, TargetProfile], None]
    #: Whether the SE the harness runs for these settings is the reference SE itself.
    runs_reference: Callable[[TargetSettings], bool]
    #: ``--se-target auto`` picks this kind when the settings imply it (url: ``--se-url`` given) …
    implied_by: Callable[[TargetSettings], bool]
    #: … else the first kind whose ``auto_default()`` holds (docker: an engine answers; local: always).
    auto_default: Callable[[], bool] | None
    #: One SE shared by every worker: parallel workers would see each other's files (-n > 1 forbidden).
    single_se: bool
    #: The run deletes the files it created at the end (the SE is not the harness's to throw away).
    deletes_created_files: bool
    #: The harness can start, restart and kill SEs and stop PostgreSQL.
    lifecycle: bool
    #: ``se-conformance serve --target NAME`` exists (``harness.cli.serve_deploy.DEPLOYMENTS``).
    serve: bool


# -- local -------------------------------------------------------------------------------------------
class _LocalInfrastructure(Infrastructure):
    """PostgreSQL from the system binaries, shared by the workers' SE processes."""

    def __init__(self, run_id: str, settings: TargetSettings, profile: TargetProfile) -> None:
        self.run_id = run_id
        self._postgres: Any = None

    def start(self) -> dict[str, Any]:
        from harness.postgres.local import LocalPostgres

        self._postgres = LocalPostgres(run_id=self.run_id, name="pg-shared")
        return {"database": self._postgres.start().to_dict()}

    def stop(self) -> None:
        if self._postgres is not None:
            self._postgres.destroy()


def _build_local(settings: TargetSettings, shared: Mapping[str, Any], worker: str, profile: TargetProfile) -> Target:
    from harness.targets.local import LocalTarget

    return LocalTarget(
        run_id=shared["run_id"], worker=worker, profile=profile, database=PostgresInfo.from_dict(shared["database"]),
        public_key_path=Path(shared["public_key_path"]),
        command=settings.command.split() if settings.command else None, cwd=settings.cwd,
        trace_syscalls=settings.trace_syscalls,
    )  # fmt: skip


def is_reference_command(command: str | None) -> bool:
    """No command (the default), or ``<python> -m reference_service`` (a copy of it, e.g. the mutation test's)."""
    if not command:
        return True
    argv = command.split()
    return len(argv) == 3 and Path(argv[0]).name.startswith("python") and argv[1:] == ["-m", REFERENCE_MODULE]


def _preflight_local(settings: TargetSettings, profile: TargetProfile) -> None:
    if settings.trace_syscalls:
        from harness.targets.strace import require_strace

        require_strace()


# -- docker ------------------------------------------------------------------------------------------
class _DockerInfrastructure(Infrastructure):
    """Images, the run's network and the PostgreSQL container (``DockerRun``)."""

    def __init__(self, run_id: str, settings: TargetSettings, profile: TargetProfile) -> None:
        from harness.targets.docker import DockerRun

        self._run = DockerRun(run_id=run_id, image=settings.image, profile=profile)

    def start(self) -> dict[str, Any]:
        docker = self._run.start()
        return {"docker": docker, "database": docker["database"]}

    def stop(self) -> None:
        self._run.stop()


def _build_docker(settings: TargetSettings, shared: Mapping[str, Any], worker: str, profile: TargetProfile) -> Target:
    from harness.targets.docker import DockerTarget

    return DockerTarget(shared=shared, worker=worker, profile=profile)


def docker_answers() -> bool:
    """A Docker engine answers (False when docker-py is not even installed)."""
    try:
        from harness.docker_util import engine_available
    except ImportError:
        return False
    return engine_available()


# -- url ---------------------------------------------------------------------------------------------
class _UrlInfrastructure(Infrastructure):
    """Nothing to start: the SE is deployed already. Only checks that there is a URL."""

    def __init__(self, run_id: str, settings: TargetSettings, profile: TargetProfile) -> None:
        self.settings = settings

    def start(self) -> dict[str, Any]:
        _require_url(self.settings)
        return {}

    def stop(self) -> None:
        pass


def _build_url(settings: TargetSettings, shared: Mapping[str, Any], worker: str, profile: TargetProfile) -> Target:
    from harness.targets.url import UrlTarget

    return UrlTarget(
        url=settings.url or "", profile=profile, prefix=settings.table_prefix, dsn=settings.db_dsn,
        storage_path=settings.storage_path,
    )  # fmt: skip


def _require_url(settings: TargetSettings) -> str:
    if not settings.url:
        raise ConfigurationError("the url target needs the URL of the deployed SE",
                                 expected="--se-url http://127.0.0.1:PORT (se-conformance run: --url)")  # fmt: skip
    return settings.url


def _preflight_url(settings: TargetSettings, profile: TargetProfile) -> None:
    """The URL is there and the SE behind it answers its readiness path (in 5 s)."""
    from harness.targets.url import UrlTarget

    UrlTarget(url=_require_url(settings), profile=profile, prefix=settings.table_prefix, dsn=settings.db_dsn,
              storage_path=settings.storage_path, ready_deadline_s=5.0)  # fmt: skip


def _never(settings: TargetSettings) -> bool:
    return False


def _no_preflight(settings: TargetSettings, profile: TargetProfile) -> None:
    pass


# -- the registry ------------------------------------------------------------------------------------
#: Every target kind, in the order ``--se-target auto`` tries their ``auto_default``.
KINDS: dict[str, TargetKind] = {
    kind.name: kind
    for kind in (
        TargetKind(
            name=DOCKER, infrastructure=_DockerInfrastructure, build=_build_docker, preflight=_no_preflight,
            runs_reference=lambda s: not s.image, implied_by=_never, auto_default=docker_answers,
            single_se=False, deletes_created_files=False, lifecycle=True, serve=True,
        ),
        TargetKind(
            name=LOCAL, infrastructure=_LocalInfrastructure, build=_build_local, preflight=_preflight_local,
            runs_reference=lambda s: is_reference_command(s.command), implied_by=_never, auto_default=lambda: True,
            single_se=False, deletes_created_files=False, lifecycle=True, serve=True,
        ),
        TargetKind(
            name=URL, infrastructure=_UrlInfrastructure, build=_build_url, preflight=_preflight_url,
            runs_reference=_never, implied_by=lambda s: bool(s.url), auto_default=None,
            single_se=True, deletes_created_files=True, lifecycle=False, serve=False,
        ),
    )
}  # fmt: skip
#: ``--se-target`` choices.
CHOICES = (AUTO, *KINDS)
#: ``se-conformance serve --target`` choices.
SERVE_KINDS = tuple(name for name, kind in KINDS.items() if kind.serve)


def kind_named(name: str) -> TargetKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigurationError(f"unknown target kind {name!r}", expected=f"one of {', '.join(KINDS)}") from None


def implied_kind(requested: str | None, settings: TargetSettings) -> TargetKind | None:
    """The kind the options name or imply (``auto`` with ``--se-url``: url); ``None``: the machine decides."""
    if requested and requested != AUTO:
        return kind_named(requested)
    return next((kind for kind in KINDS.values() if kind.implied_by(settings)), None)


def resolve_kind(requested: str | None, settings: TargetSettings) -> TargetKind:
    """The kind a run uses; ``auto``/``None`` without a URL probes the machine (a Docker engine)."""
    kind = implied_kind(requested, settings)
    if kind is not None:
        return kind
    return next(kind for kind in KINDS.values() if kind.auto_default is not None and kind.auto_default())


def reference_profile() -> TargetProfile:
    """The reference SE's own profile, ``harness/profiles/reference.toml``."""
    return load_profile(None)


def profile_for(kind: TargetKind | None, settings: TargetSettings) -> TargetProfile:
    """The profile a run uses: capabilities are declared, never assumed.

    The profile file when there is one; else the reference's own profile when the harness runs the
    reference itself (docker with its default image, local with its default command, see
    ``TargetKind.runs_reference``); else ``none``, which claims no optional capability.
    ``--se-capability`` declares more, on top of either. ``kind=None`` (not known yet: auto, before the
    machine is probed) never assumes the reference; the file and the declared names are checked all the same.
    """
    if settings.profile_file:
        base = load_profile(settings.profile_file)
    elif kind is not None and kind.runs_reference(settings):
        base = reference_profile()
    else:
        base = NO_PROFILE
    return base.declaring(settings.capabilities, CAPABILITY_SOURCE)
