"""The fixtures a conformance test uses. Registered as a plugin module by ``harness.plugin``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from harness.client import Exchange, SEClient
from harness.dbview import DbView
from harness.plugin.selection import requirement_ids
from harness.plugin.state import STATE_KEY, WorkerState
from harness.storage_view import StorageView
from harness.targets.base import Lifecycle, SEHandle, Target
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

    def make(handle: SEHandle, token: str | None = None) -> SEClient:
        client = SEClient(handle.base_url, token, ids, journal=journal, on_created=state.note_created)
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


@pytest.fixture
def lifecycle(se_target: Target) -> Lifecycle:
    if se_target.lifecycle is None:
        pytest.skip(f"unsupported: the {se_target.kind} target cannot start or restart SEs")
    return se_target.lifecycle


@pytest.fixture
def spawn_se(request: pytest.FixtureRequest, lifecycle: Lifecycle) -> Iterator[Callable[..., SEHandle]]:
    """``spawn_se(mode="edit", capacity=None, ...)``: a fresh SE for this test, stopped at its end."""
    started: list[SEHandle] = []

    def spawn(**kwargs: Any) -> SEHandle:
        handle = lifecycle.start_se(**kwargs)
        started.append(handle)
        setattr(request.node, SES_ATTR, [*getattr(request.node, SES_ATTR, []), handle])
        return handle

    yield spawn
    for handle in started:
        lifecycle.stop_se(handle)
