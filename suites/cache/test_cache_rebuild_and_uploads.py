"""Uploads acknowledged while a full cache rebuild runs are not undone by it (SE-CACHE-016).

A full rebuild makes the table exactly what the sidecars say (contract §7) and removes rows without a
sidecar. An SE that lets uploads run while it rebuilds can scan the sidecars before an upload writes its
own, then read that upload's committed row and remove it as an orphan: the upload was answered 201 and
its file is gone from the API. The test makes the rebuild slow by planting sidecars (1500, or as many
as 10 s allow), sends a full rebuild and, until it answers, uploads small files from four clients at once,
each one after another (bounded in count): the scan is short, and only an upload whose sidecar and row
land inside it is at risk. Every acknowledged upload (2xx, whenever its answer came) must then be served
with its bytes. Against the reference with writers that do not wait for the rebuild, about 35 of ~45
uploads are lost.

An SE may make the uploads wait for the rebuild (the reference does) or refuse them while it runs; a
refusal is judged by the upload's own rules, not here.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from harness.errors import HarnessError
from harness.expect import arrange, expect_status
from harness.tokens import TokenFactory
from suites.support.data import payload
from suites.support.files import UPLOAD_REQUIREMENT, Stored, created_id, expect_present, get_meta, upload_ok
from suites.support.inspect import plant_copy, sidecar_of

REQ = "SE-CACHE-016"
PLANTED = 1500  # sidecars that make the rebuild's scan and import take a while
PLANT_BUDGET_S = 10.0  # planting stops here, wherever it got (a remote storage view is slower)
UPLOADERS = 4  # clients uploading at once: the rebuild's scan is short, every one of them may hit it
MAX_UPLOADS = 15  # per client
REBUILD_LIMIT_S = 120.0


def _rebuild(client: Any, out: dict[str, Any]) -> None:
    try:
        out["resp"] = client.post("/api/v1/cache/rebuild")
    except httpx.HTTPError as exc:
        out["error"] = exc


def _upload_while(client: Any, rebuild: threading.Thread, tag: str, out: list[Any]) -> None:
    """Small uploads one after another until the rebuild has answered (at most ``MAX_UPLOADS``)."""
    for n in range(MAX_UPLOADS):
        content, name = payload(1000 + n), f"during-rebuild-{tag}-{n}.bin"
        try:
            out.append((name, content, client.upload(content, filename=name)))
        except httpx.HTTPError:
            return  # no answer: nothing acknowledged (the transport fault is the upload rules' to judge)
        if not rebuild.is_alive():
            return


@pytest.mark.needs("fs")
@pytest.mark.req(REQ)
def test_uploads_sent_during_a_full_rebuild_are_kept(spawn_se: Any, client_for: Any, tokens: TokenFactory) -> None:
    handle = spawn_se()
    storage = handle.storage
    user = client_for(handle, tokens.user)
    template = upload_ok(user, payload(64), filename="rebuild-template.bin")
    meta = get_meta(user, template.file_id)
    _, _, sidecar = sidecar_of(storage, meta)
    deadline = time.monotonic() + PLANT_BUDGET_S
    for n in range(PLANTED):
        if time.monotonic() > deadline:
            break
        plant_copy(storage, meta, sidecar, content=f"planted {n}".encode(), original_filename=f"planted{n}.bin")
    rebuilt: dict[str, Any] = {}
    thread = threading.Thread(target=_rebuild, args=(client_for(handle, tokens.service), rebuilt), daemon=True)
    answers: list[tuple[str, bytes, httpx.Response]] = []
    uploaders = [
        threading.Thread(target=_upload_while, args=(client_for(handle, tokens.user), thread, f"u{i}", answers))
        for i in range(UPLOADERS)
    ]
    thread.start()
    for uploader in uploaders:
        uploader.start()
    for uploader in uploaders:
        uploader.join(REBUILD_LIMIT_S)
    kept: list[Stored] = []
    for name, content, resp in answers:
        if resp.is_success:
            with arrange("an acknowledged upload names its file_id"):
                file_id = created_id(resp, req=UPLOAD_REQUIREMENT)
            kept.append(Stored(file_id, content, name, "application/octet-stream", resp.json()))
    thread.join(REBUILD_LIMIT_S)
    if thread.is_alive() or "error" in rebuilt:
        raise HarnessError("the full rebuild did not answer", expected=f"an answer within {REBUILD_LIMIT_S:.0f} s",
                           hint=f"{rebuilt.get('error', 'still running')}")  # fmt: skip
    with arrange("the full rebuild succeeded"):
        expect_status(rebuilt["resp"], range(200, 300), req="SE-CACHE-005", what="full rebuild")
    for stored in kept:
        expect_present(user, stored, req=REQ, what=f"{stored.filename}, uploaded while a full rebuild ran")
