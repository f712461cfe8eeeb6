"""The sidecar JSON Schemas, loaded at fixture setup: a missing schema is a harness error, not a failure."""

from __future__ import annotations

from typing import Any

import pytest

from suites.support.inspect import load_schema


@pytest.fixture(scope="session")
def sidecar_v2_schema() -> dict[str, Any]:
    return load_schema(2)


@pytest.fixture(scope="session")
def sidecar_v1_schema() -> dict[str, Any]:
    return load_schema(1)
