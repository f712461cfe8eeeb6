"""The fixtures a conformance test uses. Registered as a plugin module by ``harness.plugin``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from harness.client import CONNECT_TIMEOUT_S, DEFAULT_READ_TIMEOUT_S, Exchange, SEClient
from harness.dbview import DbView
from harness.plugin import options as opt
from harness.plugin.selection import requirement_ids
from harness.plugin.state import STATE_KEY, WorkerState
from harness.report.allure_steps import exchange_step
from harness.storage_view import StorageView
from harness.targets.base import Lifecycle, PostgresHandle, SEHandle, Target
from harness.tokens import TokenFactory

JOURNAL_ATTR = "_se_journal"
SES_ATTR = "_se_handles"


def _state(request: pytest.FixtureRequest) -> WorkerState:
    state = request.config.stash.get(STATE_KEY, None)
    if state is None:
        raise pytest.UsageError(
            "the se-conformance plugin is not active in this run\n"
            "  expected: the suite run with --se-target (docker, local or url), or `se-conformance run`"
        )
    return state


def read_timeout(config: pytest.Config) -> httpx.Timeout:
    seconds = float(config.getoption(opt.dest(opt.READ_TIMEOUT), DEFAULT_READ_TIMEOUT_S))
    return httpx.Timeout(seconds, connect=CONNECT_TIMEOUT_S)


@pytest.fixture(scope="session")
def se_target(request: pytest.FixtureRequest) -> Target:
    return _state(request).target()


@pytest.fixture(scope="session")
def se(se_target: Target) -> SEHandle:
    return se_target.main_se()


@pytest.fixture(scope="session")
def tokens(request: pytest.FixtureRequest) -> TokenFactory:
    return _state(request).tokens()


@pytest.fixture
def client_for(request: pytest.FixtureRequest, tokens: TokenFactory) -> Iterator[Callable[..., SEClient]]:
    """``client_for(se, token=None)``: a client whose exchanges land in this test's report."""
    state = _state(request)
    journal: list[Exchange] = getattr(request.node, JOURNAL_ATTR, None) or []
    setattr(request.node, JOURNAL_ATTR, journal)
    made: list[SEClient] = []
    ids = requirement_ids(request.node)
    timeout = read_timeout(request.config)

    def make(handle: SEHandle, token: str | None = None) -> SEClient:
        client = SEClient(handle.base_url, token, ids, journal=journal, on_created=state.note_created,
                          on_exchange=exchange_step, timeout=timeout)  # fmt: skip
        made.append(client)
        setattr(request.node, SES_ATTR, [*getattr(request.node, SES_ATTR, []), handle])
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def api(se: SEHandle, tokens: TokenFactory, client_for: Callable[..., SEClient]) -> SEClient:
    return client_for(se, tokens.user)


@pytest.fixture
def db(request: pytest.FixtureRequest, se_target: Target, se: SEHandle) -> Iterator[DbView]:
    if se_target.database is None:
        pytest.skip("unsupported: the target offers no database view (pass --se-db-dsn)")
    view = DbView(se.database or se_target.database, se.prefix)
    yield view
    view.close()


@pytest.fixture
def storage(se: SEHandle) -> StorageView:
    if se.storage is None:
        pytest.skip("unsupported: the target offers no storage view (pass --se-storage-path)")
    return se.storage


class ScopedLifecycle(Lifecycle):
    """The target's lifecycle as one test sees it.

    Every SE the test starts or restarts is stopped, every storage it froze thawed, and every private
    PostgreSQL destroyed, when the test ends; each SE's log tail goes into the test's failure report.
    """

    def __init__(self, real: Lifecycle, node: pytest.Item) -> None:
        self._real = real
        self._node = node
        self._handles: list[SEHandle] = []
        self._databases: list[PostgresHandle] = []
        self._frozen: list[SEHandle] = []

    def _track(self, handle: SEHandle) -> SEHandle:
        self._handles.append(handle)
        setattr(self._node, SES_ATTR, [*getattr(self._node, SES_ATTR, []), handle])
        return handle

    def start_se(self, **kwargs: Any) -> SEHandle:
        return self._track(self._real.start_se(**kwargs))

    def restart_se(self, se: SEHandle, *, mode: str | None = None) -> SEHandle:
        return self._track(self._real.restart_se(se, mode=mode))

    def kill_se(self, se: SEHandle) -> None:
        self._real.kill_se(se)

    def stop_se(self, se: SEHandle) -> None:
        self._real.stop_se(se)

    def freeze_storage(self, se: SEHandle) -> None:
        self._real.freeze_storage(se)
        self._frozen.append(se)

    def thaw_storage(self, se: SEHandle) -> None:
        self._real.thaw_storage(se)
        self._frozen = [handle for handle in self._frozen if handle is not se]

    def private_database(self) -> PostgresHandle:
        database = self._real.private_database()
        self._databases.append(database)
        return database

    def close(self) -> None:
        for handle in list(self._frozen):  # a test that did not thaw what it froze: its storage stays removable
            self.thaw_storage(handle)
        for handle in self._handles:
            self._real.stop_se(handle)
        for database in self._databases:
            database.destroy()


@pytest.fixture
def lifecycle(request: pytest.FixtureRequest, se_target: Target) -> Iterator[Lifecycle]:
    if se_target.lifecycle is None:
        pytest.skip(f"unsupported: the {se_target.kind} target cannot start or restart SEs")
    scoped = ScopedLifecycle(se_target.lifecycle, request.node)
    yield scoped
    scoped.close()


@pytest.fixture
def spawn_se(lifecycle: Lifecycle) -> Callable[..., SEHandle]:
    """``spawn_se(mode="edit", capacity=None, ...)``: a fresh SE for this test, stopped at its end."""
    return lifecycle.start_se
