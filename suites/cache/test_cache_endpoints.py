"""Contract §2 cache endpoints and §7 "the sidecar is the source of truth, the table is its cache".

Exact counts need an SE of the test's own (``spawn_se``). Orphans are arranged through the storage view:
a planted sidecar + data file (modelled on a sidecar the SE wrote) is an orphan sidecar; a removed
sidecar leaves an orphan cache row.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal, expect_json, expect_status, fail
from harness.storage_view import StorageView
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support.data import payload
from suites.support.fields import is_int
from suites.support.files import get_meta, upload_ok
from suites.support.inspect import (
    SIDECAR_FIELDS,
    SIDECAR_SUFFIX,
    as_utc,
    consistency,
    locate_data,
    metadata_diff,
    plant_copy,
    rebuild,
    same_value,
    sidecar_of,
)

COUNTS = (
    "total_attr_files",
    "total_cache_entries",
    "orphan_cache_count",
    "orphan_attr_count",
    "expired_cache_count",
)
ENDPOINTS = (
    ("GET", "/api/v1/cache/consistency"),
    ("POST", "/api/v1/cache/rebuild"),
    ("POST", "/api/v1/cache/rebuild/incremental"),
    ("POST", "/api/v1/cache/cleanup-expired"),
)
FS = pytest.mark.needs("fs")


def _figures(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report.get(k) for k in (*COUNTS, "is_consistent")}


def _own_se(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> tuple[SEHandle, SEClient, SEClient, StorageView]:
    handle = spawn_se()
    if handle.storage is None:
        pytest.skip("unsupported: no storage view of a spawned SE")
    client = client_for(handle, tokens.user)
    return handle, client, client.with_token(tokens.service), handle.storage


def _planted_vs_api(planted: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        f: {"sidecar": planted.get(f), "api": meta.get(f)}
        for f in SIDECAR_FIELDS
        if not same_value(f, planted.get(f), meta.get(f))
    }


def _expect_bytes(client: SEClient, fid: str, content: bytes, *, req: str, what: str) -> None:
    resp = client.get(f"/api/v1/files/{fid}/download")
    expect_status(resp, 200, req=req, what=f"download of {what}")
    expect(resp.content == content, req=req, what=f"bytes of {what}", resp=resp, expected="the stored bytes")


# -- the worker's SE -------------------------------------------------------------------------------
@pytest.mark.req("SE-CACHE-001")
def test_consistency_report_fields(api: SEClient, tokens: TokenFactory) -> None:
    req = "SE-CACHE-001"
    report = consistency(api.with_token(tokens.service), req=req)
    missing = [k for k in (*COUNTS, "is_consistent", "details") if k not in report]
    expect(
        not missing,
        req=req,
        what="consistency report fields",
        actual=sorted(report),
        expected=f"also {missing}",
    )
    bad = {k: report[k] for k in COUNTS if not (is_int(report[k]) and report[k] >= 0)}
    expect(not bad, req=req, what="consistency report counts", actual=bad, expected="non-negative integers")
    expect(
        isinstance(report["is_consistent"], bool),
        req=req,
        what="is_consistent",
        actual=report["is_consistent"],
        expected="a boolean",
    )


@pytest.mark.req("SE-CACHE-012")
def test_cache_endpoints_need_a_service_account(api: SEClient, tokens: TokenFactory) -> None:
    wrong = []
    for role, token in (("user", tokens.user), ("operator", tokens.operator), ("admin_user", tokens.admin)):
        client = api.with_token(token)
        for method, path in ENDPOINTS:
            resp = client.request(method, path)
            if resp.status_code != 403:
                wrong.append(f"{method} {path} as {role} → {resp.status_code}")
    expect(
        not wrong,
        req="SE-CACHE-012",
        what="cache endpoints with non-service tokens",
        actual=wrong,
        expected="403",
    )


@pytest.mark.req("SE-CACHE-013")
def test_fresh_file_reports_a_fresh_cache(api: SEClient) -> None:
    req = "SE-CACHE-013"
    stored = upload_ok(api, payload(100), req=req, filename="fresh-cache.bin")
    meta = get_meta(api, stored.file_id, req=req)
    got = {k: meta.get(k) for k in ("cache_ttl_hours", "cache_expired")}
    expect_equal(
        got, {"cache_ttl_hours": 24, "cache_expired": False}, req=req, what="cache fields of a fresh file"
    )
    cached, created = as_utc(meta.get("cache_updated_at")), as_utc(meta.get("created_at"))
    expect(
        cached is not None and created is not None and (cached - created).total_seconds() >= -1,
        req=req,
        what="cache_updated_at vs created_at",
        actual=(meta.get("cache_updated_at"), meta.get("created_at")),
        expected="a timestamp not earlier than one second before created_at",
    )


# -- an SE of the test's own -----------------------------------------------------------------------
@FS
@pytest.mark.req("SE-CACHE-002", "SE-CACHE-010")
def test_consistent_store_and_cleanup_expired(spawn_se: Any, client_for: Any, tokens: TokenFactory) -> None:
    _, client, service, _ = _own_se(spawn_se, client_for, tokens)
    stored = [upload_ok(client, payload(300 + i), req="SE-CACHE-002", filename=f"c{i}.bin") for i in range(3)]
    metas = {s.file_id: get_meta(client, s.file_id, req="SE-CACHE-002") for s in stored}
    expected = {
        "total_attr_files": 3,
        "total_cache_entries": 3,
        "orphan_cache_count": 0,
        "orphan_attr_count": 0,
        "expired_cache_count": 0,
        "is_consistent": True,
    }
    report = consistency(service, req="SE-CACHE-002")
    expect_equal(_figures(report), expected, req="SE-CACHE-002", what="report of an SE holding 3 files")
    resp = service.post("/api/v1/cache/cleanup-expired")
    expect_status(resp, range(200, 300), req="SE-CACHE-010", what="cleanup-expired")
    for s in stored:
        after = get_meta(client, s.file_id, req="SE-CACHE-010")
        diff = metadata_diff(metas[s.file_id], after)
        expect(
            not diff,
            req="SE-CACHE-010",
            what="metadata after cleanup-expired",
            resp=resp,
            actual=diff,
            expected="unchanged",
        )
    report = consistency(service, req="SE-CACHE-010")
    expect_equal(_figures(report), expected, req="SE-CACHE-010", what="report after cleanup-expired")


@FS
@pytest.mark.req("SE-CACHE-003", "SE-CACHE-004", "SE-CACHE-005", "SE-CACHE-006", "SE-CACHE-007")
def test_orphans_counted_then_full_rebuild_restores(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    _, client, service, storage = _own_se(spawn_se, client_for, tokens)
    contents = {name: payload(700 + i) for i, name in enumerate("ABCD")}
    rich = {
        "description": "rich «file»",
        "version": "3.1",
        "custom_attributes": {"k": [1, 2], "n": {"x": None}},
    }
    files = {
        name: upload_ok(client, contents[name], req="SE-CACHE-005", filename=f"Файл {name}.dat", **rich)
        for name in "ABCD"
    }
    before = {name: get_meta(client, s.file_id, req="SE-CACHE-005") for name, s in files.items()}
    # P: an orphan sidecar; B: an orphan row (its sidecar removed); C: a sidecar edited on disk.
    _, _, template = sidecar_of(storage, before["A"], "SE-CACHE-003")
    p_content = b"planted next to the cache\n"
    planted = plant_copy(
        storage,
        before["A"],
        template,
        content=p_content,
        original_filename="planted.txt",
        description="planted",
        version="p1",
        custom_attributes={"planted": True},
    )
    storage.remove(locate_data(storage, before["B"], "SE-CACHE-004") + SIDECAR_SUFFIX)
    c_rel, _, c_doc = sidecar_of(storage, before["C"], "SE-CACHE-006")
    edits = {"description": "edited on disk", "version": "disk-2", "custom_attributes": {"disk": 1}}
    storage.write_bytes(c_rel, json.dumps({**c_doc, **edits}, ensure_ascii=False).encode())

    report = consistency(service, req="SE-CACHE-003")
    got = _figures(report)
    expect(
        got["orphan_attr_count"] == 1 and got["total_attr_files"] == 4 and got["is_consistent"] is False,
        req="SE-CACHE-003",
        what="report with one planted sidecar",
        actual=got,
        expected="orphan_attr_count 1, total_attr_files 4, is_consistent false",
    )
    expect(
        got["orphan_cache_count"] == 1 and got["total_cache_entries"] == 4 and got["is_consistent"] is False,
        req="SE-CACHE-004",
        what="report with one removed sidecar",
        actual=got,
        expected="orphan_cache_count 1, total_cache_entries 4, is_consistent false",
    )

    rebuild(service, "full", req="SE-CACHE-005")
    for name in "AD":
        after = get_meta(client, files[name].file_id, req="SE-CACHE-005")
        diff = metadata_diff(before[name], after)
        expect(
            not diff,
            req="SE-CACHE-005",
            what=f"metadata of untouched file {name} after a full rebuild",
            actual=diff,
            expected="unchanged",
        )
        _expect_bytes(client, files[name].file_id, contents[name], req="SE-CACHE-005", what=f"file {name}")
    c_after = get_meta(client, files["C"].file_id, req="SE-CACHE-006")
    expect_equal(
        {k: c_after.get(k) for k in edits},
        edits,
        req="SE-CACHE-006",
        what="the edited sidecar's fields after a full rebuild",
    )
    c_diff = metadata_diff(before["C"], c_after, ignore=("cache_updated_at", "cache_expired", *edits))
    expect(
        not c_diff,
        req="SE-CACHE-005",
        what="other fields of the edited file",
        actual=c_diff,
        expected="unchanged",
    )
    resp = client.get(f"/api/v1/files/{planted['file_id']}")
    expect_status(
        resp, 200, req="SE-CACHE-007", what="metadata of the planted sidecar's file after a full rebuild"
    )
    diff = _planted_vs_api(planted, expect_json(resp, req="SE-CACHE-007"))
    expect(
        not diff,
        req="SE-CACHE-007",
        what="planted file vs its sidecar",
        resp=resp,
        actual=diff,
        expected="equal",
    )
    _expect_bytes(client, planted["file_id"], p_content, req="SE-CACHE-007", what="the planted file")
    expect_status(
        client.get(f"/api/v1/files/{files['B'].file_id}"),
        404,
        req="SE-CACHE-007",
        what="file whose sidecar was removed",
    )
    report = consistency(service, req="SE-CACHE-007")
    expect_equal(
        _figures(report),
        {
            "total_attr_files": 4,
            "total_cache_entries": 4,
            "orphan_cache_count": 0,
            "orphan_attr_count": 0,
            "expired_cache_count": 0,
            "is_consistent": True,
        },
        req="SE-CACHE-007",
        what="report after a full rebuild",
    )


@FS
@pytest.mark.req("SE-CACHE-008", "SE-CACHE-009")
def test_incremental_rebuild_imports_orphan_sidecars(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    _, client, service, storage = _own_se(spawn_se, client_for, tokens)
    files = [
        upload_ok(client, payload(400 + i), req="SE-CACHE-009", filename=f"inc{i}.bin", description=f"d{i}")
        for i in range(2)
    ]
    before = {s.file_id: get_meta(client, s.file_id, req="SE-CACHE-009") for s in files}
    _, _, template = sidecar_of(storage, before[files[0].file_id], "SE-CACHE-008")
    content = b"imported by an incremental rebuild\n"
    planted = plant_copy(
        storage,
        before[files[0].file_id],
        template,
        content=content,
        original_filename="incremental.txt",
        description="incremental",
        version="i1",
        custom_attributes={"inc": [1]},
    )
    rebuild(service, "incremental", req="SE-CACHE-008")
    resp = client.get(f"/api/v1/files/{planted['file_id']}")
    expect_status(resp, 200, req="SE-CACHE-008", what="planted file after an incremental rebuild")
    diff = _planted_vs_api(planted, expect_json(resp, req="SE-CACHE-008"))
    expect(
        not diff,
        req="SE-CACHE-008",
        what="planted file vs its sidecar",
        resp=resp,
        actual=diff,
        expected="equal",
    )
    _expect_bytes(client, planted["file_id"], content, req="SE-CACHE-008", what="the planted file")
    for s in files:
        diff = metadata_diff(before[s.file_id], get_meta(client, s.file_id, req="SE-CACHE-009"))
        expect(
            not diff,
            req="SE-CACHE-009",
            what="cached file after an incremental rebuild",
            actual=diff,
            expected="unchanged",
        )
    report = consistency(service, req="SE-CACHE-008")
    expect_equal(
        report.get("orphan_attr_count"),
        0,
        req="SE-CACHE-008",
        what="orphan_attr_count after incremental rebuild",
    )


PLANTED_FOR_RACE = 300
RACE_ATTEMPTS = 4
PLANT_BUDGET_S = 10.0


def _timed(client: SEClient, path: str, out: dict[str, Any]) -> None:
    start = time.monotonic()
    try:
        out["resp"] = client.post(path)
    except httpx.HTTPError as exc:
        out["error"] = exc
    out["span"] = (start, time.monotonic())


@FS
@pytest.mark.req("SE-CACHE-011")
def test_second_rebuild_while_one_runs_is_409(spawn_se: Any, client_for: Any, tokens: TokenFactory) -> None:
    """Bounded: at most 4 attempts. A 409 passes; two overlapping 2xx rebuilds fail; else inconclusive.

    "Overlapping" is judged from the client side: the second request was sent after the first and
    answered before it, so the SE handled it while the first rebuild was running.
    """
    req = "SE-CACHE-011"
    handle, client, _, storage = _own_se(spawn_se, client_for, tokens)
    stored = upload_ok(client, payload(64), req=req, filename="race-template.bin")
    meta = get_meta(client, stored.file_id, req=req)
    _, _, template = sidecar_of(storage, meta, req)
    deadline = time.monotonic() + PLANT_BUDGET_S
    for i in range(PLANTED_FOR_RACE):
        if time.monotonic() > deadline:
            break
        plant_copy(storage, meta, template, content=f"race {i}".encode(), original_filename=f"race{i}.bin")
    first_client = client_for(handle, tokens.service)
    second_client = client.with_token(tokens.service)
    for attempt in range(RACE_ATTEMPTS):
        second_path = "/api/v1/cache/rebuild" if attempt % 2 == 0 else "/api/v1/cache/rebuild/incremental"
        first: dict[str, Any] = {}
        second: dict[str, Any] = {}
        thread = threading.Thread(target=_timed, args=(first_client, "/api/v1/cache/rebuild", first))
        thread.start()
        time.sleep(0.05)
        _timed(second_client, second_path, second)
        thread.join(timeout=120)
        if "error" in first or "error" in second or thread.is_alive():
            fail(req, "rebuild requests did not complete", expected="two answers", actual=(first, second))
        f_resp, s_resp = first["resp"], second["resp"]
        expect_status(f_resp, (*range(200, 300), 409), req=req, what="first rebuild")
        expect_status(s_resp, (*range(200, 300), 409), req=req, what="second rebuild")
        if 409 in (f_resp.status_code, s_resp.status_code):
            return
        (f0, f1), (s0, s1) = first["span"], second["span"]
        if s0 > f0 and s1 < f1:
            fail(
                req,
                f"two rebuilds succeeded while overlapping (second: POST {second_path})",
                resp=s_resp,
                expected="409 for the rebuild requested while the first ran",
                actual=f"first {f_resp.status_code} in {f1 - f0:.2f}s, second {s_resp.status_code} "
                f"sent {s0 - f0:.2f}s after it and answered {f1 - s1:.2f}s before it",
            )
    pytest.skip(f"inconclusive: no overlap provoked in {RACE_ATTEMPTS} attempts (rebuilds too fast to race)")
