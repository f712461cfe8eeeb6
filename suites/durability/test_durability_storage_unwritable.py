"""The storage base path made unwritable under a running SE (a fresh SE of the test's own), then writable again.

The SE runs as root in the managed targets, and root ignores permission bits: the harness sets the
immutable flag on the base directory instead (``Lifecycle.freeze_storage``: ``harness.immutable`` on the
local target, a labelled helper container with CAP_LINUX_IMMUTABLE on docker), so that not even root can
create a file in it. A target or machine that cannot do that reports the test unsupported.

Bounded: readiness must turn 503 within 5 s of the freeze and 200 within 5 s of the thaw.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_json, expect_status
from harness.targets.base import Lifecycle
from suites.support.inspect import storage_unwritable, wait_until

REQ = "SE-DUR-014"
READY = "/health/ready"
DOWN_WITHIN_S = 5.0
BACK_WITHIN_S = 5.0


def _poll(client: SEClient, status: int, within_s: float) -> httpx.Response:
    """Ask for readiness until it answers ``status`` or ``within_s`` passed; the last answer."""
    last: list[httpx.Response] = []

    def answered() -> bool:
        last[:] = [client.get(READY)]
        return last[0].status_code == status

    wait_until(answered, within_s, 0.25)
    return last[0]


@pytest.mark.needs("fs")
@pytest.mark.req(REQ)
def test_readiness_while_the_storage_is_not_writable(lifecycle: Lifecycle, spawn_se: Any, client_for: Any) -> None:
    handle = spawn_se()
    client = client_for(handle)  # readiness is public: no token
    with arrange("a fresh SE answers ready before its storage is made unwritable"):
        expect_status(client.get(READY), 200, req="SE-SVC-004", what="readiness of the fresh SE")

    with storage_unwritable(lifecycle, handle):
        down = _poll(client, 503, DOWN_WITHIN_S)
        what = f"readiness within {DOWN_WITHIN_S:.0f}s of the storage base path becoming unwritable"
        expect_status(down, 503, req=REQ, what=what)
        body = expect_json(down, req=REQ)
        expect(
            isinstance(body, dict) and body.get("status") == "not_ready" and "checks" in body,
            req=REQ,
            what="readiness body while the storage base path is not writable",
            resp=down,
            expected='{"status": "not_ready", "checks": ...}',
        )

    back = _poll(client, 200, BACK_WITHIN_S)
    what = f"readiness within {BACK_WITHIN_S:.0f}s of the storage base path becoming writable again"
    expect_status(back, 200, req=REQ, what=what)
    body = expect_json(back, req=REQ)
    expect(
        isinstance(body, dict) and body.get("status") == "ready",
        req=REQ,
        what="readiness body once the storage base path is writable again",
        resp=back,
        expected='{"status": "ready", ...}',
    )
