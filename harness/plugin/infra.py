"""Who owns what in a run.

The controller (the xdist controller, or the only process without xdist) owns the expensive, shared
things: the run id, the key pair, images and the PostgreSQL server. It hands their description to the
workers as a plain dict (``workerinput``); each worker then builds its own target with its own SE and
table prefix. Keeping the shared part a dict means a worker never has to import Docker code to run
against a local target, and the same dict serialises into the JSON report.

What differs between kinds (the infrastructure, the worker's target, which profile applies) is looked up
in ``harness.targets.kinds.KINDS``, never compared as a string here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from harness.plugin import options as opt
from harness.profile import TargetProfile
from harness.runstate import new_run_id, run_dir, sweep_local
from harness.targets import kinds
from harness.targets.base import Target
from harness.targets.kinds import Infrastructure, TargetKind, TargetSettings, docker_answers
from harness.tokens import TokenFactory

__all__ = [
    "SHARED_KEY",
    "Controller",
    "build_target",
    "docker_answers",
    "effective_profile",
    "profile_of",
    "resolve_kind",
    "settings_of",
    "worker_id",
]

SHARED_KEY = "se_conformance"
_KIND_KEY = pytest.StashKey[TargetKind]()
_PROFILE_KEY = pytest.StashKey[TargetProfile]()


def settings_of(config: pytest.Config) -> TargetSettings:
    return opt.settings_of(lambda name: config.getoption(name, None))


def resolve_kind(config: pytest.Config) -> TargetKind:
    """The run's target kind: a worker's is the controller's; the controller resolves it once (auto probes)."""
    if _KIND_KEY not in config.stash:
        shared = getattr(config, "workerinput", {}).get(SHARED_KEY)
        if shared and shared.get("kind"):
            config.stash[_KIND_KEY] = kinds.kind_named(str(shared["kind"]))
        else:
            requested = config.getoption(opt.dest(opt.TARGET), None)
            config.stash[_KIND_KEY] = kinds.resolve_kind(requested, settings_of(config))
    return config.stash[_KIND_KEY]


def effective_profile(config: pytest.Config) -> TargetProfile:
    """The profile in force for this run (``kinds.profile_for``): the file's, the reference's, or none."""
    if _PROFILE_KEY not in config.stash:
        config.stash[_PROFILE_KEY] = kinds.profile_for(resolve_kind(config), settings_of(config))
    return config.stash[_PROFILE_KEY]


profile_of = effective_profile  # the name other modules import


class Controller:
    """Starts and stops the run's shared infrastructure, whichever kind's it is."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.kind = resolve_kind(config)
        self.run_id = new_run_id()
        self.profile = effective_profile(config)
        self._infrastructure: Infrastructure | None = None
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
            "kind": self.kind.name,
            "private_key_path": str(key_path),
            "public_key_path": str(public_path),
            "database": None,
            "docker": None,
        }
        self._infrastructure = self.kind.infrastructure(self.run_id, settings_of(self.config), self.profile)
        self.shared.update(self._infrastructure.start())
        return self.shared

    def stop(self) -> None:
        if self._infrastructure is not None:
            self._infrastructure.stop()
        sweep_local(self.run_id)


def build_target(config: pytest.Config, shared: dict[str, Any], worker: str) -> Target:
    kind = kinds.kind_named(str(shared["kind"]))
    return kind.build(settings_of(config), shared, worker, effective_profile(config))


def worker_id(config: pytest.Config) -> str:
    # "gw0" under xdist, "main" without it; both are valid inside a table prefix.
    return str(getattr(config, "workerinput", {}).get("workerid", os.environ.get("PYTEST_XDIST_WORKER", "main")))
