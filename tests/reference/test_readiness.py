"""Readiness follows the database: 503 ``not_ready`` while it is away (quickly), writes get 503
(never 500), and the SE recovers by itself when the database returns."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from harness.postgres.local import LocalPostgres
from tests.reference.conftest import SEFactory
from tests.reference.helpers import upload
from tests.reference.jwt_helper import Tokens


@pytest.fixture
def private_pg(run_tag: str) -> Iterator[LocalPostgres]:
    server = LocalPostgres(name=f"pg-{run_tag}-ready")
    server.start()
    yield server
    server.destroy()


def wait_status(url: str, status: int, deadline_s: float) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        r = httpx.get(url, timeout=10)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


@pytest.mark.slow
def test_readiness_follows_database(private_pg: LocalPostgres, se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("ready", db=private_pg.info)
    with se.client(tokens.user) as c:
        fid = upload(c, b"before", "before.txt").json()["file_id"]
    assert httpx.get(se.url + "/health/ready").json()["status"] == "ready"

    private_pg.stop()
    started = time.monotonic()
    r = httpx.get(se.url + "/health/ready", timeout=10)
    assert time.monotonic() - started < 5
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["mode"] == "edit"
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["storage"] == "ok"
    assert httpx.get(se.url + "/health/live").status_code == 200
    # Public endpoints still answer (last known counters); capacity says it is degraded.
    assert httpx.get(se.url + "/api/v1/info").status_code == 200
    assert httpx.get(se.url + "/api/v1/capacity").json()["health"] == "degraded"
    with se.client(tokens.admin) as c:
        assert upload(c, b"during", "during.txt").status_code == 503
        assert c.get(f"/api/v1/files/{fid}").status_code == 503
        assert c.patch(f"/api/v1/files/{fid}", json={"version": "x"}).status_code == 503
        assert c.delete(f"/api/v1/files/{fid}").status_code == 503
        assert c.get("/api/v1/files").status_code == 503
    assert not list((se.config.storage / ".incoming").glob("*"))

    private_pg.start()
    assert wait_status(se.url + "/health/ready", 200, 15).json()["status"] == "ready"
    with se.client(tokens.admin) as c:
        assert c.get(f"/api/v1/files/{fid}/download").content == b"before"
        assert upload(c, b"after", "after.txt").status_code == 201
        assert c.get("/api/v1/files").json()["total"] == 2
