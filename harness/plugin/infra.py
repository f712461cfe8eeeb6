"""Who owns what in a run.

The controller (the xdist controller, or the only process without xdist) owns the expensive, shared
things: the run id, the key pair, images and the PostgreSQL server. It hands their description to the
workers as a plain dict (``workerinput``); each worker then builds its own target with its own SE and
table prefix. Keeping the shared part a dict means a worker never has to import Docker code to run
against a local target, and the same dict serialises into the JSON report.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigurationError
from harness.plugin import options as opt
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile, load_profile
from harness.runstate import new_run_id, run_dir, sweep_local
from harness.targets.base import Target
from harness.tokens import TokenFactory

SHARED_KEY = "se_conformance"


def docker_answers() -> bool:
    try:
        from harness.docker_util import engine_available
    except ImportError:
        return False
    return engine_available()


def resolve_kind(config: pytest.Config) -> str:
    kind = config.getoption(opt.dest(opt.TARGET)) or "auto"
    if kind == "auto":
        if config.getoption(opt.dest(opt.URL)):
            return "url"
        return "docker" if docker_answers() else "local"
    return str(kind)


def profile_of(config: pytest.Config) -> TargetProfile:
    return load_profile(config.getoption(opt.dest(opt.PROFILE_FILE)))


class Controller:
    """Starts and stops the run's shared infrastructure."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.kind = resolve_kind(config)
        self.run_id = new_run_id()
        self.profile = profile_of(config)
        self._postgres: Any = None
        self._docker: Any = None
        self.shared: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        sweep_local()  # leftovers of killed runs (their owner pid is dead)
        directory = run_dir(self.run_id)
        private_key = self.config.getoption(opt.dest(opt.PRIVATE_KEY))
        tokens = TokenFactory(Path(private_key).read_bytes() if private_key else None)
        key_path = directory / "jwt-private.pem"
        key_path.write_bytes(tokens.private_pem)
        key_path.chmod(0o600)
        public_path = tokens.write_public_key(directory / "jwt-public.pem")
        self.shared = {
            "run_id": self.run_id,
            "kind": self.kind,
            "private_key_path": str(key_path),
            "public_key_path": str(public_path),
            "database": None,
            "docker": None,
        }
        if self.kind == "local":
            from harness.postgres.local import LocalPostgres

            self._postgres = LocalPostgres(run_id=self.run_id, name="pg-shared")
            self.shared["database"] = self._postgres.start().to_dict()
        elif self.kind == "docker":
            from harness.targets.docker import DockerRun

            self._docker = DockerRun(
                run_id=self.run_id, image=self.config.getoption(opt.dest(opt.IMAGE)), profile=self.profile
            )
            self.shared["docker"] = self._docker.start()
            self.shared["database"] = self.shared["docker"]["database"]
        elif self.kind == "url" and not self.config.getoption(opt.dest(opt.URL)):
            raise ConfigurationError("--se-target url needs --se-url", expected="e.g. --se-url http://127.0.0.1:8000")
        return self.shared

    def stop(self) -> None:
        if self._docker is not None:
            self._docker.stop()
        if self._postgres is not None:
            self._postgres.destroy()
        sweep_local(self.run_id)


def build_target(config: pytest.Config, shared: dict[str, Any], worker: str) -> Target:
    kind = shared["kind"]
    profile = profile_of(config)
    database = PostgresInfo.from_dict(shared["database"]) if shared.get("database") else None
    public_key = Path(shared["public_key_path"])
    if kind == "local":
        from harness.targets.local import LocalTarget

        command = config.getoption(opt.dest(opt.COMMAND))
        assert database is not None
        return LocalTarget(
            run_id=shared["run_id"], worker=worker, profile=profile, database=database, public_key_path=public_key,
            command=command.split() if command else None, cwd=config.getoption(opt.dest(opt.CWD)),
        )  # fmt: skip
    if kind == "docker":
        from harness.targets.docker import DockerTarget

        return DockerTarget(shared=shared, worker=worker, profile=profile)
    from harness.targets.url import UrlTarget

    return UrlTarget(
        url=config.getoption(opt.dest(opt.URL)), profile=profile,
        prefix=config.getoption(opt.dest(opt.TABLE_PREFIX)), dsn=config.getoption(opt.dest(opt.DB_DSN)),
        storage_path=config.getoption(opt.dest(opt.STORAGE_PATH)),
    )  # fmt: skip


def worker_id(config: pytest.Config) -> str:
    # "gw0" under xdist, "main" without it; both are valid inside a table prefix.
    return str(getattr(config, "workerinput", {}).get("workerid", os.environ.get("PYTEST_XDIST_WORKER", "main")))
