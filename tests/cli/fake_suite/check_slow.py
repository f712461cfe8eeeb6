"""One slow test, for the interruption test: it says when it runs ($FAKE_SUITE_MARKER), then waits to be
stopped (at most 30 s)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from harness.client import SEClient
from harness.expect import expect_status

MARKER_ENV = "FAKE_SUITE_MARKER"


@pytest.mark.req("SE-SVC-003")
def test_slow_liveness(api: SEClient) -> None:
    expect_status(api.get("/health/live"), 200, req="SE-SVC-003")
    Path(os.environ[MARKER_ENV]).write_text("running")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.1)
