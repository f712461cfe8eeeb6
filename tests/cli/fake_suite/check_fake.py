"""A miniature conformance suite against tests/cli/fake_se.py (named check_* so pytest never collects
it by itself; the command line's tests pass it explicitly). Real catalogue IDs, so the Allure tree and
the report carry real areas, levels and titles.
"""

from __future__ import annotations

import os

import pytest

from harness.client import SEClient
from harness.errors import HarnessError
from harness.expect import arrange, expect, expect_json, expect_status

HARNESS_ERROR_ENV = "FAKE_SUITE_HARNESS_ERROR"


@pytest.mark.req("SE-SVC-005")
def test_info_has_a_version(api: SEClient) -> None:
    body = expect_json(expect_status(api.get("/api/v1/info"), 200, req="SE-SVC-005"), req="SE-SVC-005")
    expect("version" in body, req="SE-SVC-005", what="info names its version", expected="a version field")


@pytest.mark.req("SE-SVC-014")
def test_openapi_lists_file_endpoints(api: SEClient) -> None:
    body = expect_json(expect_status(api.get("/openapi.json"), 200, req="SE-SVC-014"), req="SE-SVC-014")
    expect("/api/v1/files/upload" in body.get("paths", {}), req="SE-SVC-014", what="OpenAPI paths",
           expected="the upload path", actual=sorted(body.get("paths", {})))  # fmt: skip


@pytest.mark.req("SE-SVC-010")
def test_capacity_answers(api: SEClient) -> None:
    expect_status(api.get("/api/v1/capacity"), 200, req="SE-SVC-010")


@pytest.mark.req("SE-FILE-023")
@pytest.mark.capability("range")
def test_ranges_are_announced(api: SEClient) -> None:
    resp = api.get("/api/v1/files/00000000-0000-0000-0000-000000000000/download")
    expect(resp.headers.get("accept-ranges") == "bytes", req="SE-FILE-023", what="Accept-Ranges", expected="bytes")


@pytest.mark.req("SE-SVC-003")
def test_liveness(api: SEClient) -> None:
    if os.environ.get(HARNESS_ERROR_ENV):
        raise HarnessError("simulated harness failure", expected="nothing", hint="unset " + HARNESS_ERROR_ENV)
    expect_status(api.get("/health/live"), 200, req="SE-SVC-003")


@pytest.mark.req("SE-SVC-004")
def test_ready_once_info_answers(api: SEClient) -> None:
    """Blocked, not failed, when /api/v1/info is broken: reading it only prepares the check."""
    with arrange("read the info document"):
        expect_status(api.get("/api/v1/info"), 200, req="SE-SVC-005", what="info")
    expect_status(api.get("/health/ready"), 200, req="SE-SVC-004", what="readiness")
