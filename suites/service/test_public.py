"""Public endpoints: root, health, info, capacity, metrics, OpenAPI (contract §2), errors and JSON."""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_equal, expect_json, expect_status
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support import fields
from suites.support.data import new_uuid, payload
from suites.support.files import REMOVALS, UPLOAD, file_path, remove_ok, upload_ok
from suites.support.http import media_type, prometheus_problems
from suites.support.service import expect_mode_reported, expected_info_status, get_object

PUBLIC = ("/", "/health/live", "/health/ready", "/api/v1/info", "/api/v1/capacity", "/metrics", "/openapi.json")
PUBLIC_JSON = ("/", "/health/live", "/health/ready", "/api/v1/info", "/api/v1/capacity", "/openapi.json")


def get_json(client: SEClient, path: str, *, req: str) -> dict[str, Any]:
    return get_object(client, path, req=req)[0]


@pytest.mark.req("SE-SVC-001")
@pytest.mark.parametrize("path", PUBLIC)
def test_public_endpoint_needs_no_token(api: SEClient, path: str) -> None:
    expect_status(api.anonymous().get(path), 200, req="SE-SVC-001", what=f"GET {path} without a token")


@pytest.mark.req("SE-SVC-002")
def test_root_describes_the_service(api: SEClient, se: SEHandle) -> None:
    body, resp = get_object(api.anonymous(), "/", req="SE-SVC-002")
    fields.expect_fields(body, fields.ROOT, req="SE-SVC-002", what="GET /", resp=resp)
    expect_equal(body["storage_type"], "local", req="SE-SVC-002", what="GET / storage_type", resp=resp)
    for name in ("service", "version", "status"):
        expect(isinstance(body[name], str) and body[name], req="SE-SVC-002", what=f"GET / {name}",
               expected="a non-empty string", actual=body[name], resp=resp)  # fmt: skip


@pytest.mark.req("SE-SVC-003")
def test_liveness(api: SEClient) -> None:
    body = get_json(api.anonymous(), "/health/live", req="SE-SVC-003")
    expect_equal(body.get("status"), "ok", req="SE-SVC-003", what="/health/live status")


@pytest.mark.req("SE-SVC-004")
def test_readiness(api: SEClient) -> None:
    body = get_json(api.anonymous(), "/health/ready", req="SE-SVC-004")
    expect_equal(body.get("status"), "ready", req="SE-SVC-004", what="/health/ready status")
    expect("checks" in body, req="SE-SVC-004", what="/health/ready has checks", expected="a checks member",
           actual=sorted(body))  # fmt: skip


@pytest.mark.req("SE-SVC-005")
def test_info_fields(api: SEClient) -> None:
    body = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-005")
    fields.expect_fields(body, fields.INFO, req="SE-SVC-005", what="/api/v1/info")
    for name in ("capacity_bytes", "used_bytes", "file_count"):
        expect(fields.is_int(body[name]) and body[name] >= 0, req="SE-SVC-005", what=f"info {name}",
               expected="a non-negative integer", actual=body[name])  # fmt: skip


@pytest.mark.req("SE-SVC-006")
def test_info_capacity_is_configured_capacity(api: SEClient, se: SEHandle) -> None:
    if se.capacity is None:
        pytest.skip("unsupported: the STORAGE_MAX_SIZE of a deployed SE is not known to the harness")
    body = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-006")
    expect_equal(body.get("capacity_bytes"), se.capacity, req="SE-SVC-006", what="info capacity_bytes")


@pytest.mark.req("SE-SVC-007")
def test_info_element_id_is_configured_id(api: SEClient, se: SEHandle) -> None:
    if not se.element_id:
        pytest.skip("unsupported: the STORAGE_ELEMENT_ID of a deployed SE is not known to the harness")
    body = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-007")
    expect_equal(body.get("element_id"), se.element_id, req="SE-SVC-007", what="info element_id")


@pytest.mark.req("SE-SVC-008")
def test_info_status_follows_mode(api: SEClient, se: SEHandle) -> None:
    body = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-008")
    expect_equal(
        body.get("status"),
        expected_info_status(se.mode),
        req="SE-SVC-008",
        what=f"info status in mode {body.get('mode')}",
    )


@pytest.mark.req("SE-SVC-009")
def test_info_counts_follow_uploads(api: SEClient) -> None:
    before = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-009")
    size = 3000
    upload_ok(api, payload(size))
    after = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-009")
    expect_equal(after.get("file_count"), (before.get("file_count") or 0) + 1, req="SE-SVC-009",
                 what="info file_count after one upload")  # fmt: skip
    grown = (after.get("used_bytes") or 0) - (before.get("used_bytes") or 0)
    expect(grown >= size, req="SE-SVC-009", what="info used_bytes after an upload",
           expected=f"at least {size} bytes more", actual=f"{grown} bytes more")  # fmt: skip


@pytest.mark.req("SE-SVC-009")
@pytest.mark.parametrize("how", REMOVALS)
def test_info_counts_follow_removals(api: SEClient, tokens: TokenFactory, how: str) -> None:
    size = 3000
    stored = upload_ok(api, payload(size))
    before = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-009")
    remove_ok(api, api.with_token(tokens.service), api.with_token(tokens.operator), stored.file_id, how)
    after = get_json(api.anonymous(), "/api/v1/info", req="SE-SVC-009")
    expect_equal(after.get("file_count"), (before.get("file_count") or 0) - 1, req="SE-SVC-009",
                 what=f"info file_count after one removal ({how})")  # fmt: skip
    shrunk = (before.get("used_bytes") or 0) - (after.get("used_bytes") or 0)
    expect(shrunk >= size, req="SE-SVC-009", what=f"info used_bytes after a removal ({how})",
           expected=f"at least {size} bytes less", actual=f"{shrunk} bytes less")  # fmt: skip


@pytest.mark.req("SE-SVC-010")
def test_capacity_fields(api: SEClient) -> None:
    body = get_json(api.anonymous(), "/api/v1/capacity", req="SE-SVC-010")
    fields.expect_fields(body, fields.CAPACITY, req="SE-SVC-010", what="/api/v1/capacity")
    figures = fields.expect_fields(body["capacity"], fields.CAPACITY_FIGURES, req="SE-SVC-010",
                                   what="/api/v1/capacity capacity")  # fmt: skip
    for name in fields.CAPACITY_FIGURES:
        expect(fields.is_number(figures[name]), req="SE-SVC-010", what=f"capacity.{name}", expected="a number",
               actual=figures[name])  # fmt: skip


@pytest.mark.req("SE-SVC-011")
def test_capacity_figures_are_consistent(api: SEClient, se: SEHandle) -> None:
    body = get_json(api.anonymous(), "/api/v1/capacity", req="SE-SVC-011")
    figures = body.get("capacity")
    expect(isinstance(figures, dict), req="SE-SVC-011", what="capacity object", expected="an object",
           actual=figures)  # fmt: skip
    assert isinstance(figures, dict)
    cap_total: Any = figures.get("total")
    used: Any = figures.get("used")
    available: Any = figures.get("available")
    if se.capacity is not None:
        expect_equal(cap_total, se.capacity, req="SE-SVC-011", what="capacity.total")
    expect(all(fields.is_number(v) for v in (cap_total, used, available)), req="SE-SVC-011",
           what="capacity figures are numbers", expected="numbers", actual=figures)  # fmt: skip
    expect_equal(available, max(cap_total - used, 0), req="SE-SVC-011", what="capacity.available = total - used")
    percent: Any = figures.get("percent_used")
    expect(fields.is_number(percent) and 0 <= percent <= 100, req="SE-SVC-011", what="capacity.percent_used",
           expected="a number from 0 to 100", actual=percent)  # fmt: skip


@pytest.mark.req("SE-SVC-012")
def test_metrics_are_prometheus_text(api: SEClient) -> None:
    resp = api.anonymous().get("/metrics")
    expect_status(resp, 200, req="SE-SVC-012", what="GET /metrics")
    ctype = media_type(resp.headers.get("content-type"))
    expect(ctype in ("text/plain", "application/openmetrics-text"), req="SE-SVC-012",
           what="/metrics Content-Type", expected="text/plain (or application/openmetrics-text)",
           actual=resp.headers.get("content-type"), resp=resp)  # fmt: skip
    samples, bad = prometheus_problems(resp.text)
    expect(not bad, req="SE-SVC-012", what="/metrics has lines that are neither comments nor samples",
           expected="the Prometheus text exposition format", actual=bad[:5], resp=resp)  # fmt: skip
    expect(samples > 0, req="SE-SVC-012", what="/metrics has no sample", expected="at least one sample",
           resp=resp)  # fmt: skip


@pytest.mark.req("SE-SVC-013")
def test_openapi_document(api: SEClient) -> None:
    doc = get_json(api.anonymous(), "/openapi.json", req="SE-SVC-013")
    version = doc.get("openapi")
    expect(isinstance(version, str) and version.startswith("3."), req="SE-SVC-013", what="openapi member",
           expected='"3.x"', actual=version)  # fmt: skip
    expect(isinstance(doc.get("paths"), dict) and doc["paths"], req="SE-SVC-013", what="paths object",
           expected="a non-empty paths object", actual=type(doc.get("paths")).__name__)  # fmt: skip


def _path_shapes(paths: dict[str, Any]) -> set[str]:
    """Paths with every {parameter} renamed to {}, so the parameter name does not matter."""
    return {re.sub(r"\{[^}]*\}", "{}", p.rstrip("/")) for p in paths}


@pytest.mark.req("SE-SVC-014")
def test_openapi_lists_file_endpoints(api: SEClient) -> None:
    doc = get_json(api.anonymous(), "/openapi.json", req="SE-SVC-014")
    shapes = _path_shapes(doc.get("paths") or {})
    wanted = {"/api/v1/files/upload", "/api/v1/files/{}", "/api/v1/files/{}/download", "/api/v1/files"}
    missing = sorted(wanted - shapes)
    expect(not missing, req="SE-SVC-014", what="the OpenAPI document lacks contract paths",
           expected=sorted(wanted), actual=missing)  # fmt: skip


@pytest.mark.req("SE-SVC-015")
def test_mode_reported_identically(api: SEClient, se: SEHandle) -> None:
    expect_mode_reported(api.anonymous(), se.mode)


ERROR_CASE_RULES = {  # each provocation, and the requirement that says which 4xx it gets
    "404-unknown-id": "SE-FILE-041", "401-no-token": "SE-AUTH-001", "422-malformed-id": "SE-FILE-042",
    "400-non-uuid-file-id": "SE-FILE-008", "403-user-delete": "SE-FILE-034", "409-duplicate-file-id": "SE-FILE-009",
}  # fmt: skip
ERROR_CASES = tuple(ERROR_CASE_RULES)


@pytest.mark.req("SE-SVC-016")
@pytest.mark.parametrize("case", ERROR_CASES)
def test_errors_carry_detail(api: SEClient, tokens: TokenFactory, case: str) -> None:
    if case == "404-unknown-id":
        resp = api.get(file_path(new_uuid()))
    elif case == "401-no-token":
        resp = api.anonymous().get(file_path(new_uuid()))
    elif case == "422-malformed-id":
        resp = api.get(file_path("not-a-uuid"))
    elif case == "400-non-uuid-file-id":
        resp = api.upload(payload(10), file_id="not-a-uuid")
    elif case == "403-user-delete":
        stored = upload_ok(api)
        resp = api.delete(file_path(stored.file_id))
    else:
        stored = upload_ok(api)
        resp = api.upload(payload(10), file_id=stored.file_id)
    # Provoking the error prepares the check: a wrong status there is the covering rule's failure
    # (e.g. a 500 for a duplicate id is SE-FILE-009's), and any 4xx must carry a detail.
    with arrange(f"provoke the error case {case}"):
        expect(400 <= resp.status_code < 500, req=ERROR_CASE_RULES[case], what=f"the error case {case}",
               expected=f"a 4xx (the contract says {case[:3]})", resp=resp)  # fmt: skip
    body = expect_json(resp, req="SE-SVC-016")
    detail = body.get("detail") if isinstance(body, dict) else None
    allowed = (str, list) if case.startswith("422") else (str,)
    expect(isinstance(detail, allowed) and detail, req="SE-SVC-016", what="error body detail",
           expected='{"detail": "<message>"}' + (" or FastAPI's list" if case.startswith("422") else ""),
           actual=body, resp=resp)  # fmt: skip


# Each JSON answer, with the requirement that judges the endpoint itself (that it answers at all).
ENDPOINT_RULES = {"/": "SE-SVC-002", "/health/live": "SE-SVC-003", "/health/ready": "SE-SVC-004",
                  "/api/v1/info": "SE-SVC-005", "/api/v1/capacity": "SE-SVC-010", "/openapi.json": "SE-SVC-013",
                  "metadata": "SE-FILE-015", "list": "SE-FILE-036", "upload": "SE-FILE-001"}  # fmt: skip
JSON_CASES = (*PUBLIC_JSON, "metadata", "list", "upload")
CREATED = ("upload",)  # the cases answered 201; every other one 200


@pytest.mark.req("SE-SVC-017")
@pytest.mark.parametrize("case", JSON_CASES)
def test_json_content_type(api: SEClient, case: str) -> None:
    if case.startswith("/"):
        resp = api.anonymous().get(case)
    elif case == "metadata":
        resp = api.get(file_path(upload_ok(api).file_id))
    elif case == "list":
        resp = api.get("/api/v1/files", params={"limit": 1})
    else:
        resp = api.post(UPLOAD, files={"file": ("x.bin", b"x", "application/octet-stream")})
    with arrange(f"{case} answers"):  # an endpoint that does not answer is its own rule's failure
        expect_status(resp, 201 if case in CREATED else 200, req=ENDPOINT_RULES[case], what=f"{case}")
    expect_equal(media_type(resp.headers.get("content-type")), "application/json", req="SE-SVC-017",
                 what=f"{case} Content-Type", resp=resp)  # fmt: skip
    expect_json(resp, req="SE-SVC-017")
