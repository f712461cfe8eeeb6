"""Tests that need a Docker engine: skipped on a developer machine without one, FAILED in CI.

CI must never go green by skipping the docker target (CI sets CI=true).
"""

from __future__ import annotations

import os

import pytest

from harness.docker_util import engine_problem


def require_docker() -> None:
    problem = engine_problem()
    if problem:
        (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(problem)
