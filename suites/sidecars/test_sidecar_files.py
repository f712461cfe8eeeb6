"""Contract §7: data files and attribute sidecars on disk, read through the storage view.

Layout: ``<base>/<YYYY>/<MM>/<DD>/<HH>/<storage_filename>`` (UTC hour of created_at) and the sidecar at
the same path + ``.attr.json``, Template Schema v2.0, at most 4096 bytes, written atomically.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_equal, expect_status, fail
from harness.storage_view import StorageView
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload, sha256_hex
from suites.support.files import Stored, created_id, get_meta, upload_ok
from suites.support.http import quoted_filename, raw_multipart
from suites.support.inspect import (
    SIDECAR_MAX_BYTES,
    SIDECAR_SUFFIX,
    STORAGE_FILENAME_MAX,
    UUID_RE,
    as_utc,
    beyond_sidecar_agreement,
    files_mentioning,
    locate_data,
    same_value,
    schema_errors,
    sidecar_diff,
    sidecar_of,
    stray_files,
)

RICH: dict[str, Any] = {
    "filename": "Отчёт-データ 2024.pdf",
    "content_type": "application/pdf",
    "description": 'Quarterly "figures" — ünïcødé',
    "version": "1.2.3-rc1",
    "custom_attributes": {
        "project": "ArtStore",
        "tags": ["a", "b"],
        "nested": {"n": 1, "ok": True, "none": None},
    },
}
OVERSIZED = {"blob": "x" * 6000}
REFUSALS = (400, 413, 422)


def _upload(api: SEClient, req: str, content: bytes | None = None, **fields: Any) -> tuple[Stored, dict[str, Any]]:
    stored = upload_ok(api, payload(2048) if content is None else content, **fields)
    return stored, get_meta(api, stored.file_id)


@pytest.mark.req("SE-SIDECAR-001", "SE-SIDECAR-002", "SE-SIDECAR-003")
def test_data_file_and_sidecar_at_utc_hour_path(api: SEClient, storage: StorageView) -> None:
    content = payload(5000)
    stored, meta = _upload(api, "SE-SIDECAR-001", content, filename="layout.bin")
    rel = locate_data(storage, meta, "SE-SIDECAR-001")
    expect(
        storage.exists(rel + SIDECAR_SUFFIX),
        req="SE-SIDECAR-002",
        what="sidecar next to the data file",
        expected=rel + SIDECAR_SUFFIX,
        actual=files_mentioning(storage, stored.file_id),
    )
    on_disk = storage.read_bytes(rel)
    expect(
        on_disk == content,
        req="SE-SIDECAR-003",
        what=f"bytes of {rel}",
        expected=f"the {len(content)} uploaded bytes (sha256 {sha256_hex(content)})",
        actual=f"{len(on_disk)} bytes, sha256 {sha256_hex(on_disk)}",
    )


@pytest.mark.req("SE-SIDECAR-004", "SE-SIDECAR-005")
def test_sidecar_is_valid_v2_within_4096_bytes(
    api: SEClient, storage: StorageView, sidecar_v2_schema: dict[str, Any]
) -> None:
    _, meta = _upload(api, "SE-SIDECAR-004", **RICH)
    rel, raw, doc = sidecar_of(storage, meta, "SE-SIDECAR-004")
    errors = schema_errors(sidecar_v2_schema, doc)
    expect(
        not errors,
        req="SE-SIDECAR-004",
        what=f"{rel} against sidecar-v2.schema.json",
        actual=errors,
        expected="valid",
    )
    expect_equal(doc.get("schema_version"), "2.0", req="SE-SIDECAR-004", what="schema_version of the sidecar")
    expect(
        isinstance(doc.get("custom_attributes"), dict),
        req="SE-SIDECAR-004",
        what="custom_attributes of the sidecar",
        actual=doc.get("custom_attributes"),
        expected="an object",
    )
    expect(
        len(raw) <= SIDECAR_MAX_BYTES,
        req="SE-SIDECAR-005",
        what=f"size of {rel}",
        actual=len(raw),
        expected=f"<= {SIDECAR_MAX_BYTES} bytes",
    )


@pytest.mark.req("SE-SIDECAR-007")
def test_sidecar_equals_metadata(api: SEClient, storage: StorageView) -> None:
    _, meta = _upload(api, "SE-SIDECAR-007", **RICH)
    rel, _, doc = sidecar_of(storage, meta, "SE-SIDECAR-007")
    problems = sidecar_diff(doc, meta)
    expect(
        not problems,
        req="SE-SIDECAR-007",
        what=f"{rel} vs GET metadata",
        actual=problems,
        expected="equal fields",
    )


@pytest.mark.req("SE-SIDECAR-008", "SE-SIDECAR-004")
def test_patch_rewrites_sidecar(api: SEClient, storage: StorageView, sidecar_v2_schema: dict[str, Any]) -> None:
    stored, _ = _upload(api, "SE-SIDECAR-008", filename="patch.txt", description="old", version="1")
    change = {"description": "new description", "version": "2", "custom_attributes": {"patched": True}}
    resp = api.patch(f"/api/v1/files/{stored.file_id}", json=change)
    expect_status(resp, 200, req="SE-SIDECAR-008", what="PATCH")
    meta = get_meta(api, stored.file_id)
    rel, _, doc = sidecar_of(storage, meta, "SE-SIDECAR-008")
    sent = {k: doc.get(k) for k in change}
    expect_equal(sent, change, req="SE-SIDECAR-008", what=f"patched fields in {rel}", resp=resp)
    # The sidecar carries the updated_at the API now reports; whether the PATCH advanced it is the PATCH
    # rules' business (at a coarse clock it may legitimately equal the upload's).
    expect(
        same_value("updated_at", doc.get("updated_at"), meta.get("updated_at")),
        req="SE-SIDECAR-008",
        what=f"updated_at in {rel}",
        actual=doc.get("updated_at"),
        expected=f"the updated_at the API reports after the PATCH, {meta.get('updated_at')}",
    )
    problems = beyond_sidecar_agreement(
        sidecar_diff(doc, meta), storage, lambda: get_meta(api, upload_ok(api).file_id), req="SE-SIDECAR-008"
    )
    expect(
        not problems,
        req="SE-SIDECAR-008",
        what=f"{rel} vs metadata after PATCH",
        actual=problems,
        expected="equal",
    )
    errors = schema_errors(sidecar_v2_schema, doc)
    expect(
        not errors,
        req="SE-SIDECAR-004",
        what=f"{rel} after PATCH vs v2 schema",
        actual=errors,
        expected="valid",
    )


@pytest.mark.req("SE-SIDECAR-009")
def test_delete_and_gc_remove_data_file_and_sidecar(api: SEClient, storage: StorageView, tokens: TokenFactory) -> None:
    req = "SE-SIDECAR-009"
    for how in ("DELETE", "GC"):
        stored, meta = _upload(api, req, filename=f"gone-{how.lower()}.bin")
        rel = locate_data(storage, meta, req)
        if how == "DELETE":
            resp = api.with_token(tokens.operator).delete(f"/api/v1/files/{stored.file_id}")
            expect_status(resp, 204, req=req, what="DELETE")
        else:
            resp = api.with_token(tokens.service).delete(f"/api/v1/gc/{stored.file_id}", json={"reason": "conformance"})
            expect_status(resp, 200, req=req, what="GC delete")
        left = [p for p in (rel, rel + SIDECAR_SUFFIX) if storage.exists(p)]
        # A temporary file of the file's is SE-SIDECAR-010's (no temp file outlives its request), not this rule's.
        left += [p for p in files_mentioning(storage, stored.file_id) if p not in left and ".tmp" not in p]
        expect(not left, req=req, what=f"files left after {how}", resp=resp, actual=left, expected="none")


@pytest.mark.req("SE-SIDECAR-010")
def test_no_temp_file_survives_a_request(api: SEClient, storage: StorageView, tokens: TokenFactory) -> None:
    req = "SE-SIDECAR-010"
    before = storage.list_files()
    stored, _ = _upload(api, req, filename="tmp-check.bin")
    doomed, _ = _upload(api, req, filename="tmp-doomed.bin")
    ids = [stored.file_id, doomed.file_id]
    # Whatever each answer (judged by the rules of PATCH, DELETE and duplicate ids), no temporary file may
    # outlive its request: a PATCH, a DELETE, and an upload that fails once its body is received.
    api.patch(f"/api/v1/files/{stored.file_id}", json={"description": "tmp"})
    api.with_token(tokens.operator).delete(f"/api/v1/files/{doomed.file_id}")
    duplicate = api.upload(payload(2048), filename="tmp-duplicate.bin", file_id=stored.file_id)
    if duplicate.is_success:  # an SE that took it anyway stored a file of its own: not a temporary one
        ids += UUID_RE.findall(duplicate.text)
    # The worker's tests run one at a time on its SE: every request to it has been answered.
    left = stray_files(storage, before=before, ids=ids)
    expect(not left, req=req, what="temporary files in the storage path", actual=left, expected="none")


@pytest.mark.req("SE-SIDECAR-010")
def test_no_temp_file_survives_a_failed_sidecar_write(api: SEClient, storage: StorageView) -> None:
    """A PATCH whose new sidecar cannot take the old one's place (a directory of the test's occupies the
    path, so a rename onto it fails) leaves no temporary file behind, whatever it answers."""
    req = "SE-SIDECAR-010"
    before = storage.list_files()
    stored, meta = _upload(api, req, filename="tmp-blocked.bin")
    sidecar_rel, original, _ = sidecar_of(storage, meta, req)
    storage.remove(sidecar_rel)
    storage.write_bytes(f"{sidecar_rel}/occupied-by-the-test", b"a directory where the sidecar was")
    try:
        resp = api.patch(f"/api/v1/files/{stored.file_id}", json={"description": "blocked"})
    finally:
        storage.remove(sidecar_rel)
        storage.write_bytes(sidecar_rel, original)
    left = stray_files(storage, before=before, ids=[stored.file_id])
    expect(not left, req=req, what=f"temporary files after a PATCH whose sidecar was blocked (answered "
           f"{resp.status_code})", actual=left, expected="none", resp=resp)  # fmt: skip


def _part(boundary: bytes, name: str, content: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    head = f"Content-Disposition: {disposition}\r\nContent-Type: application/octet-stream\r\n\r\n"
    return b"--" + boundary + b"\r\n" + head.encode() + content + b"\r\n"


def _refused_body(case: str) -> tuple[bytes, dict[str, str]]:
    """A multipart upload whose file part has begun (and its bytes arrived) before the body turns out
    unacceptable."""
    boundary = f"seconformance{new_uuid().replace('-', '')}".encode()
    file_part = _part(boundary, "file", payload(100_000), "spool.bin")
    closing = b"--" + boundary + b"--\r\n"
    if case == "no-closing-boundary":
        body = file_part
    elif case == "second-file-part":
        body = file_part + _part(boundary, "file", payload(1000), "again.bin") + closing
    else:  # a form field after the file, far beyond any sidecar
        body = file_part + _part(boundary, "description", b"d" * 200_000) + closing
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


@pytest.mark.req("SE-SIDECAR-010")
@pytest.mark.parametrize("case", ["no-closing-boundary", "second-file-part", "oversized-field-after-file"])
def test_no_spool_file_survives_a_refused_upload(api: SEClient, storage: StorageView, case: str) -> None:
    """An upload refused after its file bytes were received (whatever the answer: how such a body is
    refused is the files area's business) leaves no spool file behind."""
    req = "SE-SIDECAR-010"
    before = storage.list_files()
    body, headers = _refused_body(case)
    resp = api.post("/api/v1/files/upload", content=body, headers=headers)
    ids = UUID_RE.findall(resp.text) if resp.is_success else []  # an SE that took it stored a file of its own
    left = stray_files(storage, before=before, ids=ids)
    expect(not left, req=req, what=f"files left by the upload with {case} (answered {resp.status_code})",
           actual=left, expected="none", resp=resp)  # fmt: skip


def _largest_accepted(accepts: Callable[[int], bool], ceiling: int) -> int | None:
    """Bisect for the largest size ``accepts`` takes (sizes 0 … ``ceiling``); ``None`` if even 0 is refused.

    Only a search: the verdict is whatever ``accepts`` judges on each accepted request, so an SE whose
    refusals are not monotonic in the size is still judged on every request it accepted."""
    if not accepts(0):
        return None
    if accepts(ceiling):
        return ceiling
    lo, hi = 0, ceiling
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if accepts(mid) else (lo, mid)
    return lo


LADDER_CEILING = 8000  # bytes of metadata text, far beyond the 4096-byte sidecar


@pytest.mark.req("SE-SIDECAR-005")
def test_metadata_near_the_limit_never_makes_an_oversized_sidecar(api: SEClient, storage: StorageView) -> None:
    """Upload custom_attributes (ASCII, then 2-byte UTF-8 text) and PATCH a description of growing size,
    bisecting to the largest request the SE accepts: every accepted request's sidecar is judged, so an SE
    that refuses too late (a limit above 4096, or one counted in characters) is caught at the boundary."""
    req = "SE-SIDECAR-005"
    accepted: list[str] = []

    def judge(meta: dict[str, Any], resp: httpx.Response, what: str) -> None:
        rel, raw, _ = sidecar_of(storage, meta, req)
        expect(len(raw) <= SIDECAR_MAX_BYTES, req=req, what=f"size of {rel} after accepting {what}", resp=resp,
               actual=len(raw), expected=f"<= {SIDECAR_MAX_BYTES} bytes (or refuse the request)")  # fmt: skip
        accepted.append(what)

    def upload_attrs(char: str) -> Callable[[int], bool]:
        def accepts(size: int) -> bool:
            text = char * (size // len(char.encode()))
            resp = api.upload(payload(64), filename="big-attrs.bin", custom_attributes={"blob": text})
            if resp.status_code != 201:
                return False
            meta = get_meta(api, created_id(resp, req=req))
            judge(meta, resp, f"custom_attributes of {len(text.encode())} UTF-8 bytes")
            return True

        return accepts

    target, _ = _upload(api, req, filename="big-patch.bin")

    def patch_description(size: int) -> bool:
        resp = api.patch(f"/api/v1/files/{target.file_id}", json={"description": "d" * size})
        if resp.status_code != 200:
            return False
        judge(get_meta(api, target.file_id), resp, f"a PATCH of a {size}-byte description")
        return True

    for accepts in (upload_attrs("x"), upload_attrs("ü"), patch_description):
        _largest_accepted(accepts, LADDER_CEILING)
    if not accepted:
        pytest.skip("inconclusive: every request with metadata was refused; no sidecar to measure")


@pytest.mark.req("SE-SIDECAR-006")
def test_oversized_metadata_is_refused(api: SEClient) -> None:
    req = "SE-SIDECAR-006"
    stored = upload_ok(api, payload(64), filename="patch-target.bin", description="kept")
    fid = new_uuid()
    resp = api.upload(payload(64), filename="big-attrs.bin", custom_attributes=OVERSIZED, file_id=fid)
    expect_status(resp, REFUSALS, req=req, what="upload whose sidecar would exceed 4096 bytes")
    expect_status(api.get(f"/api/v1/files/{fid}"), 404, req=req, what="the refused upload afterwards")
    resp = api.patch(f"/api/v1/files/{stored.file_id}", json={"description": "d" * 6000})
    expect_status(resp, REFUSALS, req=req, what="PATCH whose sidecar would exceed 4096 bytes")
    meta = get_meta(api, stored.file_id)
    expect_equal(meta.get("description"), "kept", req=req, what="description after the refused PATCH", resp=resp)


@pytest.mark.req("SE-SIDECAR-011")
def test_storage_filename_pattern(api: SEClient, tokens: TokenFactory) -> None:
    req = "SE-SIDECAR-011"
    client = api.with_token(tokens.mint(role="user", name="pattern_user"))
    _, meta = _upload(client, req, filename="report.txt", content_type="text/plain")
    name = str(meta.get("storage_filename"))
    pattern = rf"^report_pattern_user_(\d{{8}}T\d{{6}})_{re.escape(meta['file_id'])}\.txt$"
    match = re.match(pattern, name)
    if match is None:
        fail(
            req,
            "storage_filename",
            expected=f"report_pattern_user_<YYYYMMDDTHHMMSS>_{meta['file_id']}.txt",
            actual=name,
        )
    assert match is not None
    stamp = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    created = as_utc(meta.get("created_at"))
    expect(
        created is not None and abs((stamp - created).total_seconds()) <= 2,
        req=req,
        what="timestamp in storage_filename vs created_at (UTC)",
        actual=(match.group(1), meta.get("created_at")),
        expected="within 2 s",
    )


@pytest.mark.req("SE-SIDECAR-012", "SE-SIDECAR-013")
def test_long_original_filename_gives_short_storage_filename(api: SEClient, storage: StorageView) -> None:
    original = "long-" + "n" * 300 + ".txt"
    stored = upload_ok(api, payload(2048), req="SE-SIDECAR-012", filename=original, content_type="text/plain")
    meta = get_meta(api, stored.file_id)
    name = str(meta.get("storage_filename"))
    expect(
        len(name) <= STORAGE_FILENAME_MAX and stored.file_id in name,
        req="SE-SIDECAR-012",
        what="storage_filename of a 309-character original name",
        actual=f"{len(name)} characters: {name}",
        expected=f"<= {STORAGE_FILENAME_MAX} characters, containing the file_id",
    )
    expect_equal(meta.get("original_filename"), original, req="SE-SIDECAR-012", what="original_filename kept")
    locate_data(storage, meta, "SE-SIDECAR-013")


HOSTILE = (
    "../../../etc/passwd",
    "..",
    "dir/sub\\evil.txt",
    "line\r\nbreak.txt",
    "tab\tand\x01ctl\x7f.txt",
    ".hidden",
    "   ",
)
UNSAFE = re.compile(r"[/\\\x00-\x1f\x7f]")


@pytest.mark.req("SE-SIDECAR-013")
def test_hostile_filenames_give_safe_storage_filenames(api: SEClient, storage: StorageView) -> None:
    req = "SE-SIDECAR-013"
    accepted = 0
    for original in HOSTILE:
        body, headers = raw_multipart(quoted_filename(original), b"hostile", "text/plain")
        resp = api.post("/api/v1/files/upload", content=body, headers=headers)
        if 400 <= resp.status_code < 500:
            continue  # refusing a hostile name is allowed (files area); nothing stored to inspect
        with arrange(f"store a file named {original!r}"):  # a 5xx there is SE-FILE-043's (never 5xx)
            expect_status(resp, range(200, 300), req="SE-FILE-043", what=f"upload named {original!r}")
        accepted += 1
        fid = created_id(resp, req=req)
        meta = get_meta(api, fid)
        name = str(meta.get("storage_filename"))
        expect(
            not UNSAFE.search(name) and name not in (".", "..") and fid in name,
            req=req,
            what=f"storage_filename for original {original!r}",
            resp=resp,
            actual=name,
            expected="no / \\ or control character, not . or .., containing the file_id",
        )
        rel = locate_data(storage, meta, req)
        # Only the directory is this rule's: how files in it are named is SE-SIDECAR-001/002's.
        folder = rel.rsplit("/", 1)[0] + "/"
        strays = [p for p in files_mentioning(storage, fid) if not p.startswith(folder) or "/" in p[len(folder) :]]
        expect(
            not strays,
            req=req,
            what=f"files of {fid} outside its hour directory",
            actual=strays,
            expected="none",
        )
    if not accepted:
        pytest.skip("inconclusive: every hostile filename was refused with 4xx; no storage_filename to inspect")
