"""One slow test, for the interruption test: the run is stopped while this sleeps."""

from __future__ import annotations

import time

import pytest

from harness.client import SEClient
from harness.expect import expect_status


@pytest.mark.req("SE-SVC-003")
def test_slow_liveness(api: SEClient) -> None:
    expect_status(api.get("/health/live"), 200, req="SE-SVC-003")
    time.sleep(60)
