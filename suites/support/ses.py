"""SEs a module starts itself: one per module rather than one per test, to keep the suite fast.

Module-scoped fixtures cannot use the function-scoped ``lifecycle``/``spawn_se`` fixtures, so they reach
the target's lifecycle directly and report "unsupported" the way the plugin does when there is none.
Tests using them must carry ``pytest.mark.needs("lifecycle")`` so profile selection sees it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.errors import TargetNotReady
from harness.expect import fail
from harness.targets.base import Lifecycle, SEHandle, Target
from harness.tokens import TokenFactory
from suites.support.data import payload, unique_name
from suites.support.files import Stored, get_meta, upload_ok

MODES = ("edit", "rw", "ro", "ar")
LIVENESS_PROBE_S = 5.0
SETUP = "setup"  # requirement label of failures while a fixture arranges its SE


def lifecycle_of(target: Target) -> Lifecycle:
    if target.lifecycle is None:
        pytest.skip(f"unsupported: the {target.kind} target cannot start or restart SEs")
    return target.lifecycle


@contextmanager
def module_se(target: Target, **kwargs: Any) -> Iterator[SEHandle]:
    """An SE of the module's own (``Lifecycle.start_se`` arguments), stopped afterwards."""
    lifecycle = lifecycle_of(target)
    handle = lifecycle.start_se(**kwargs)
    try:
        yield handle
    finally:
        lifecycle.stop_se(handle)


@dataclass
class StartOutcome:
    started: bool
    output: str


def try_start(target: Target, contract_overrides: dict[str, str]) -> StartOutcome:
    """Start an SE whose launch variables are overridden (bypassing the harness's own validation).

    ``started`` is True when it became ready (and it is stopped again at once); otherwise ``output`` holds
    what the harness saw: its last log lines.
    """
    lifecycle = lifecycle_of(target)
    env = {target.env_name(name): value for name, value in contract_overrides.items()}
    try:
        handle = lifecycle.start_se(mode="edit", extra_env=env)
    except TargetNotReady as exc:
        return StartOutcome(False, str(exc))
    lifecycle.stop_se(handle)
    return StartOutcome(True, handle.logs(40))


@dataclass
class ModeStation:
    """One SE walked through the modes by restarts on the same prefix, database and storage.

    At its first start (mode edit) it stores a *survivor* (only ever read, in every mode) and a pool of
    files for the tests that change, or try to change, a file. When the pool runs dry in a read-only mode,
    the station restarts into edit, stores more and goes back.
    """

    target: Target
    tokens: TokenFactory
    pool_size: int = 6
    handle: SEHandle | None = None
    survivor: Stored | None = None
    survivor_meta: dict[str, Any] = field(default_factory=dict)
    pool: list[Stored] = field(default_factory=list)
    restarts: int = 0
    refused: dict[str, str] = field(default_factory=dict)

    def enter(self, mode: str) -> SEHandle:
        """The station's SE in ``mode``, restarted into it if needed.

        An SE that does not come back in a valid mode breaks the launch contract (SE-MODE-003): that is a
        conformance failure, remembered so the other tests of that mode fail at once instead of waiting
        for the readiness deadline again.
        """
        if mode in self.refused:
            fail("SE-MODE-003", f"the SE did not start in mode {mode} (earlier attempt)", expected="ready",
                 actual=self.refused[mode])  # fmt: skip
        lifecycle = lifecycle_of(self.target)
        try:
            if self.handle is None:
                self.handle = lifecycle.start_se(mode="edit")
            if self.survivor is None:  # first use, or an earlier seeding was blocked: seed (again) in edit
                if self.handle.mode != "edit":
                    self.handle = lifecycle.restart_se(self.handle, mode="edit")
                self._seed()
            if self.handle.mode != mode or not self._alive():
                # A test may have left the SE dead (a crash it provoked): never hand it on dead.
                self.handle = lifecycle.restart_se(self.handle, mode=mode)
                self.restarts += 1
        except TargetNotReady as exc:
            self.refused[mode] = str(exc)[-1500:]
            fail("SE-MODE-003", f"the SE did not start in mode {mode} on the same prefix, database and storage",
                 expected="ready", actual=self.refused[mode])  # fmt: skip
        assert self.handle is not None
        return self.handle

    def give_back(self, stored: Stored) -> None:
        """Return a file a test only tried to change and found intact."""
        self.pool.append(stored)

    def take(self) -> Stored:
        """A stored file nobody else uses: for GC, and for the refused writes (so an SE that wrongly
        accepts one damages only that file, not the survivor the other tests read)."""
        if not self.pool:
            assert self.handle is not None
            mode = self.handle.mode
            self.enter("edit")
            self._fill_pool()
            self.enter(mode)
        return self.pool.pop()

    def _alive(self) -> bool:
        assert self.handle is not None
        try:
            httpx.get(self.handle.base_url + "/health/live", timeout=LIVENESS_PROBE_S)
        except httpx.TransportError:
            return False
        return True

    def _client(self) -> SEClient:
        assert self.handle is not None
        return SEClient(self.handle.base_url, self.tokens.user, (SETUP,))

    def _seed(self) -> None:
        with self._client() as client:
            self.survivor = upload_ok(
                client, payload(4096), filename=unique_name("überlebender", ".dat"),
                content_type="application/x-conformance", description="stored before the restarts",
                version="1.0", custom_attributes={"kept": True, "n": 7},
            )  # fmt: skip
            self.survivor_meta = get_meta(client, self.survivor.file_id)
        self._fill_pool()

    def _fill_pool(self) -> None:
        with self._client() as client:
            for _ in range(self.pool_size):
                self.pool.append(upload_ok(client, payload(512), filename=unique_name("pool")))

    def close(self) -> None:
        if self.handle is not None and self.target.lifecycle is not None:
            self.target.lifecycle.stop_se(self.handle)
            self.handle = None
