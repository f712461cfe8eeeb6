"""File operations every area needs: upload and check, read metadata, list, check a file is gone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import httpx

from harness.client import SEClient, transport_fault
from harness.expect import arrange, covered, expect, expect_equal, expect_json, expect_status, fail
from suites.support.data import new_uuid, payload, reported_checksum, sha256_hex, unique_name

FILES = "/api/v1/files"
UPLOAD = "/api/v1/files/upload"
GC = "/api/v1/gc"
CACHE = "/api/v1/cache"
MAX_LIMIT = 100
NIL_UUID_LIKE = "00000000-0000-4000-8000-000000000000"


def file_path(file_id: str) -> str:
    return f"{FILES}/{file_id}"


def download_path(file_id: str) -> str:
    return f"{FILES}/{file_id}/download"


def gc_path(file_id: str) -> str:
    return f"{GC}/{file_id}"


def gc_exists_path(file_id: str) -> str:
    return f"{GC}/{file_id}/exists"


@dataclass
class Stored:
    """A file this test uploaded: what was sent and what came back."""

    file_id: str
    content: bytes
    filename: str
    content_type: str
    response: dict[str, Any]

    def as_reported(self) -> tuple[str, int]:
        """(checksum, file_size) as the SE reported them when it stored the file.

        "Still there, unchanged" is judged against what the SE said it stored, not against what was sent:
        whether it stored the right bytes is SE-FILE-002/003/018's to judge, once, not every observer's.
        Where the answer lacked them (its own failure, judged elsewhere), the sent bytes stand in."""
        size = self.response.get("file_size")
        return reported_checksum(self.response, self.content), size if isinstance(size, int) else len(self.content)


UPLOAD_REQUIREMENT = "SE-FILE-001"  # covers "an upload answers 201 with a file_id"
CHOSEN_ID_REQUIREMENT = "SE-FILE-007"  # covers "a caller-chosen file_id is the file's id"


def upload_ok(
    api: SEClient,
    content: bytes | None = None,
    *,
    req: str | None = None,
    filename: str | None = None,
    content_type: str = "application/octet-stream",
    **fields: Any,
) -> Stored:
    """Upload and require 201 with a file_id.

    Without ``req`` the upload *prepares* the test: when it fails the test is blocked, and the report
    names SE-FILE-001, whose own tests judge uploads. With ``req`` the upload is the act under test and
    its failure is that requirement's."""
    if req is None:
        with arrange("upload a file"):
            return upload_ok(api, content, req=UPLOAD_REQUIREMENT, filename=filename, content_type=content_type,
                             **fields)  # fmt: skip
    data = payload() if content is None else content
    name = filename if filename is not None else unique_name()
    resp = api.upload(data, filename=name, content_type=content_type, **fields)
    if req != UPLOAD_REQUIREMENT:
        unless_uploads_fail(api, resp)
    # That it is exactly 201 is SE-FILE-001's rule; for any other requirement a stored file is a 2xx.
    expect_status(resp, 201 if req == UPLOAD_REQUIREMENT else range(200, 300), req=req, what="upload")
    file_id = created_id(resp, req=req)
    if "file_id" in fields:  # a test that chose the id goes on to use it
        with covered("the caller-chosen file_id is kept", by=CHOSEN_ID_REQUIREMENT, req=req) as rule:
            expect_equal(
                file_id, str(fields["file_id"]), req=rule, what="file_id of an upload that chose it", resp=resp
            )
    return Stored(file_id, data, name, content_type, resp.json())


def unless_uploads_fail(api: SEClient, resp: httpx.Response) -> None:
    """Call after an upload with particular input (a name, an id, a field) before judging its answer.

    A server error or a broken answer to it is that input's rule's failure only if the SE stores a plain
    file: when a plain upload fails too, uploads fail altogether - SE-FILE-001's failure, once, not every
    input rule's - and the test is blocked naming it. The control costs a request only after a failure."""
    if resp.status_code < 500 and transport_fault(resp) is None:
        return
    plain_upload_works(api)


def plain_upload_works(api: SEClient) -> str:
    """Prepare: a plain upload (64 bytes, default fields) is stored; blocks naming SE-FILE-001 if not.
    The control that tells a failure of particular input (or of a burst) from uploads failing altogether."""
    with arrange("a plain upload, to tell a failure of this input from uploads failing altogether"):
        control = api.upload(payload(64), filename=unique_name("control"), content_type="application/octet-stream")
        expect_status(control, range(200, 300), req=UPLOAD_REQUIREMENT, what="plain upload (control)")
        return created_id(control, req=UPLOAD_REQUIREMENT)


def require_chosen_ids(api: SEClient) -> None:
    """Prepare a test that tracks files by ids it chooses: the SE must keep a caller-chosen file_id
    (SE-FILE-007), or the test cannot find its files and is blocked."""
    upload_ok(api, payload(64), file_id=new_uuid())


def created_id(resp: httpx.Response, *, req: str) -> str:
    """The file_id of an upload answered 201, or a failure naming the answer."""
    body = expect_json(resp, req=req)
    expect(isinstance(body, dict) and isinstance(body.get("file_id"), str), req=req,
           what="upload response carries a file_id", expected="a JSON object with a string file_id",
           resp=resp)  # fmt: skip
    return str(body["file_id"])


METADATA_REQUIREMENT = "SE-FILE-015"  # covers "GET /api/v1/files/{id} answers 200 with the metadata"


def get_meta(api: SEClient, file_id: str, *, req: str | None = None, what: str = "metadata") -> dict[str, Any]:
    """The file's metadata object. Without ``req`` a preparation (blocks, naming SE-FILE-015), with
    ``req`` a check of that requirement."""
    if req is None:
        with arrange(f"read the {what}"):
            return get_meta(api, file_id, req=METADATA_REQUIREMENT, what=what)
    resp = api.get(file_path(file_id))
    expect_status(resp, 200, req=req, what=what)
    body = expect_json(resp, req=req)
    expect(isinstance(body, dict), req=req, what=f"{what} is a JSON object", expected="an object", resp=resp)
    return body


def list_page(
    api: SEClient, *, req: str, skip: int = 0, limit: int = MAX_LIMIT
) -> tuple[dict[str, Any], httpx.Response]:
    resp = api.get(FILES, params={"skip": skip, "limit": limit})
    expect_status(resp, 200, req=req, what=f"list skip={skip} limit={limit}")
    body = expect_json(resp, req=req)
    expect(isinstance(body, dict) and isinstance(body.get("files"), list), req=req,
           what="list answers {total, files}", expected="an object with a files list", resp=resp)  # fmt: skip
    return body, resp


def ids_of(listing: dict[str, Any]) -> list[str]:
    return [str(entry.get("file_id")) for entry in listing["files"] if isinstance(entry, dict)]


def newest_ids(api: SEClient, *, req: str) -> list[str]:
    """The ids of the newest 100 files. A file this test just stored is among them, since each worker
    has its own SE and its tests run one at a time."""
    listing, _ = list_page(api, req=req)
    return ids_of(listing)


DOWNLOAD_REQUIREMENT = "SE-FILE-018"  # covers "the download answers 200 with the bytes"


def _read_for(api: SEClient, path: str, *, req: str, covered_by: str, what: str) -> httpx.Response:
    """Read ``path`` to observe a file: 404 fails ``req`` (the file is gone); any other answer but 200
    blocks, since the read itself is broken and ``covered_by``'s own tests judge it."""
    resp = api.get(path)
    if resp.status_code == 404:
        fail(req, f"{what}: the file is gone", expected="200: the file is still stored", resp=resp)
    with arrange(what):
        expect_status(resp, 200, req=covered_by, what=what)
    return resp


def expect_present(api: SEClient, stored: Stored, *, req: str, what: str) -> dict[str, Any]:
    """The file is still there: metadata as uploaded and the exact bytes."""
    resp = _read_for(api, file_path(stored.file_id), req=req, covered_by=METADATA_REQUIREMENT, what=f"{what}: metadata")
    with arrange(f"{what}: metadata"):
        meta = expect_json(resp, req=METADATA_REQUIREMENT)
        expect(isinstance(meta, dict), req=METADATA_REQUIREMENT, what=f"{what}: metadata is a JSON object",
               expected="an object", resp=resp)  # fmt: skip
    checksum, size = stored.as_reported()
    expect(meta.get("checksum") == checksum and meta.get("file_size") == size,
           req=req, what=f"{what}: metadata unchanged", expected=f"checksum {checksum}, file_size {size}",
           actual={"checksum": meta.get("checksum"), "file_size": meta.get("file_size")})  # fmt: skip
    resp = _read_for(api, download_path(stored.file_id), req=req, covered_by=DOWNLOAD_REQUIREMENT,
                     what=f"{what}: download")  # fmt: skip
    got = sha256_hex(resp.content)
    expect(got == checksum and len(resp.content) == size, req=req, what=f"{what}: download returns the stored bytes",
           expected=f"{size} bytes, sha256 {checksum}", actual=f"{len(resp.content)} bytes, sha256 {got}",
           resp=resp)  # fmt: skip
    return cast(dict[str, Any], meta)


def expect_gone(api: SEClient, file_id: str, *, req: str, what: str, download: bool = True) -> None:
    """Metadata 404, download 404, and not among the newest files of the list. ``download=False`` where a
    mode may refuse downloads on its own (a mode's refusal would hide whether the file is gone)."""
    expect_status(api.get(file_path(file_id)), 404, req=req, what=f"{what}: metadata afterwards")
    if download:
        expect_status(api.get(download_path(file_id)), 404, req=req, what=f"{what}: download afterwards")
    listed = newest_ids(api, req=req)
    expect(file_id not in listed, req=req, what=f"{what}: the list still contains the file",
           expected=f"{file_id} absent from the list", actual="present")  # fmt: skip


def total(api: SEClient, *, req: str) -> int:
    listing, resp = list_page(api, req=req, limit=1)
    value = listing.get("total")
    expect(isinstance(value, int), req=req, what="list total is an integer", expected="an integer",
           actual=value, resp=resp)  # fmt: skip
    return cast(int, value)


REMOVALS = ("gc-delete", "delete")  # the two ways a file leaves an SE


def remove_ok(api: SEClient, service: SEClient, operator: SEClient, file_id: str, how: str) -> None:
    """Prepare: remove a stored file by GC delete (``service``) or DELETE (``operator``), and see it gone.

    Each step is its own rule's (SE-GC-001/003, SE-FILE-033/035): a failure blocks the caller's check."""
    with arrange(f"remove the file ({how})"):
        if how == "gc-delete":
            resp = service.delete(gc_path(file_id))
            expect_status(resp, 200, req="SE-GC-001", what="GC delete")
            body = expect_json(resp, req="SE-GC-001")
            expect(isinstance(body, dict) and body.get("status") == "deleted", req="SE-GC-001",
                   what="GC delete status", expected="deleted", resp=resp)  # fmt: skip
        else:
            resp = operator.delete(file_path(file_id))
            expect_status(resp, 204, req="SE-FILE-033", what="DELETE by an operator")
        # A file still served after its removal still takes its space: that is the removal's failure.
        expect_status(api.get(file_path(file_id)), 404, req="SE-GC-003" if how == "gc-delete" else "SE-FILE-035",
                      what="metadata of the removed file")  # fmt: skip
