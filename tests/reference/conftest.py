"""Fixtures: one PostgreSQL per session (system binaries), one SE process per test module.

Everything runs for real: the service is started as ``python -m reference_service`` with the
launch-contract variables and spoken to over HTTP on 127.0.0.1; each SE has its own table prefix and
storage directory, so modules cannot see each other's files.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.postgres.info import PostgresInfo
from harness.postgres.local import LocalPostgres
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEConfig, SEProcess

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def run_tag() -> str:
    return "t" + secrets.token_hex(3)


@pytest.fixture(scope="session")
def pg_server(run_tag: str) -> Iterator[LocalPostgres]:
    server = LocalPostgres(name=f"pg-{run_tag}")
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def pg(pg_server: LocalPostgres) -> PostgresInfo:
    return pg_server.info


@pytest.fixture(scope="session")
def db(pg: PostgresInfo) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(pg.dsn("postgresql"), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Tokens:
    return Tokens(tmp_path_factory.mktemp("keys"))


SEFactory = Callable[..., SEProcess]


@pytest.fixture(scope="session")
def se_factory(
    run_tag: str, pg: PostgresInfo, tokens: Tokens, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SEFactory]:
    started: list[SEProcess] = []
    logs = tmp_path_factory.mktemp("se-logs")

    def make(tag: str = "se", *, start: bool = True, db: PostgresInfo | None = None, **options: Any) -> SEProcess:
        prefix = f"{run_tag}_{tag}{next(_counter)}"
        storage = options.pop("storage", None) or tmp_path_factory.mktemp(f"storage-{tag}")
        config = SEConfig(prefix=prefix, storage=Path(storage), key_path=tokens.public_key_path,
                          db=db or pg, **options)  # fmt: skip
        se = SEProcess(config, logs)
        started.append(se)
        return se.start() if start else se

    yield make
    for se in started:
        se.stop()


@pytest.fixture(scope="module")
def se(se_factory: SEFactory, request: pytest.FixtureRequest) -> SEProcess:
    """The module's own SE, mode edit."""
    tag = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")[:10]
    return se_factory(tag)


@pytest.fixture(scope="session")
def pg_dsn(pg: PostgresInfo) -> str:
    return pg.dsn("postgresql")
