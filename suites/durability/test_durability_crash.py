"""kill -9 during a burst of uploads, then a restart on the same prefix, database and storage.

Bounded: 4 uploading threads, the kill comes after 12 acknowledged uploads or 4 s, whichever is first.
One more upload streams its body slowly, so that at the kill one upload is certainly half received.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.dbview import DbView
from harness.expect import expect, expect_json, expect_status, fail
from harness.targets.base import Lifecycle
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload, reported_checksum, sha256_hex
from suites.support.files import require_chosen_ids
from suites.support.http import quoted_filename, raw_multipart
from suites.support.inspect import expect_no_leftovers, expect_no_pending, interrupted_leftovers

THREADS = 4
KILL_AFTER_ACKS = 12
BURST_MAX_S = 4.0
FILE_SIZE = 256 * 1024


def _json(resp: httpx.Response) -> object:
    try:
        return resp.json()
    except ValueError:
        return None


class Burst:
    def __init__(self, clients: list[SEClient]) -> None:
        self.clients = clients
        self.attempted: dict[str, bytes] = {}
        self.acked: dict[str, bytes] = {}
        self.reported: dict[str, str] = {}  # checksum each acknowledged upload's answer reported
        self.other: list[str] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def run(self, index: int) -> None:
        client = self.clients[index]
        n = 0
        while not self.stop.is_set():
            fid, content = new_uuid(), payload(FILE_SIZE)
            with self.lock:
                self.attempted[fid] = content
            try:
                resp = client.upload(content, filename=f"crash-{index}-{n}.bin", file_id=fid)
            except httpx.HTTPError:
                return  # the SE is gone
            with self.lock:
                if 200 <= resp.status_code < 300:  # acknowledged (that it is 201 is SE-FILE-001's)
                    self.acked[fid] = content
                    self.reported[fid] = reported_checksum(_json(resp), content)
                else:
                    self.other.append(f"{fid}: {resp.status_code}")
            n += 1


SLOW_SIZE = 1024 * 1024
SLOW_FAST_PART = 512 * 1024


def _slow_upload(base_url: str, token: str, fid: str, content: bytes, half_sent: threading.Event) -> None:
    """Stream an upload: half of the body at once, then 4 KiB every 50 ms until the SE dies.

    A raw httpx client (not ``SEClient``, which buffers request bodies to record them): this request
    only arranges the crash; its outcome is judged through ``burst.attempted``.
    """
    body, headers = raw_multipart(quoted_filename("slow.bin"), content, fields={"file_id": fid})
    headers = {**headers, "Authorization": f"Bearer {token}", "Content-Length": str(len(body))}

    def chunks() -> Iterator[bytes]:
        yield body[:SLOW_FAST_PART]
        half_sent.set()
        for at in range(SLOW_FAST_PART, len(body), 4096):
            time.sleep(0.05)
            yield body[at : at + 4096]

    try:
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0)) as http:
            http.post(f"{base_url}/api/v1/files/upload", content=chunks(), headers=headers)
    except (httpx.HTTPError, OSError):
        pass  # the SE was killed under it, as intended
    finally:
        half_sent.set()


def _served(client: SEClient, fid: str) -> tuple[int, dict[str, Any] | None, bytes | None]:
    resp = client.get(f"/api/v1/files/{fid}")
    if resp.status_code != 200:
        return resp.status_code, None, None
    meta = expect_json(resp, req="SE-DUR-002")
    download = client.get(f"/api/v1/files/{fid}/download")
    return download.status_code, meta, download.content if download.status_code == 200 else None


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-DUR-001", "SE-DUR-002", "SE-DUR-003", "SE-DUR-004")
def test_kill_9_during_uploads_then_restart(
    spawn_se: Any, lifecycle: Lifecycle, client_for: Any, tokens: TokenFactory
) -> None:
    handle = spawn_se()
    require_chosen_ids(client_for(handle, tokens.user))
    before = handle.storage.list_files() if handle.storage is not None else []
    burst = Burst([client_for(handle, tokens.user) for _ in range(THREADS)])
    slow_id, slow_content, half_sent = new_uuid(), payload(SLOW_SIZE), threading.Event()
    burst.attempted[slow_id] = slow_content
    threads = [threading.Thread(target=burst.run, args=(i,), daemon=True) for i in range(THREADS)]
    threads.append(
        threading.Thread(
            target=_slow_upload, args=(handle.base_url, tokens.user, slow_id, slow_content, half_sent), daemon=True
        )
    )
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + BURST_MAX_S
    while time.monotonic() < deadline and (len(burst.acked) < KILL_AFTER_ACKS or not half_sent.is_set()):
        time.sleep(0.02)
    lifecycle.kill_se(handle)
    burst.stop.set()
    for thread in threads:
        thread.join(timeout=30)
    if not burst.acked:
        fail("SE-DUR-001", "no upload was acknowledged before the kill", expected="some 201s", actual=burst.other)

    restarted = lifecycle.restart_se(handle)
    view = DbView(restarted.database, restarted.prefix) if restarted.database else None
    try:
        client = client_for(restarted, tokens.user)
        lost = []
        for fid in burst.acked:
            status, meta, body = _served(client, fid)
            checksum = burst.reported[fid]
            ok = meta is not None and sha256_hex(body or b"") == checksum and meta.get("checksum") == checksum
            if not ok:
                lost.append(
                    f"{fid}: status {status}, {len(body or b'')} bytes, metadata {meta and meta.get('file_size')}"
                )
        expect(
            not lost,
            req="SE-DUR-001",
            what=f"{len(lost)} of {len(burst.acked)} acknowledged uploads after kill -9 and restart",
            actual=lost[:10],
            expected="every acknowledged upload served byte-exact",
        )
        # "Complete" as this SE stores a complete upload: byte-exact where its acknowledged uploads are;
        # where it stores every upload otherwise (SE-FILE-018's business), with none of the sent bytes lost
        # and metadata that describes what it serves.
        faithful = all(burst.reported[fid] == sha256_hex(content) for fid, content in burst.acked.items())
        partial = []
        for fid, content in burst.attempted.items():
            if fid in burst.acked:
                continue
            status, meta, body = _served(client, fid)
            if meta is None and status == 404:
                continue
            served = body or b""
            complete = (served == content) if faithful else served.startswith(content)
            if meta is None or not complete or meta.get("checksum") != sha256_hex(served):
                partial.append(f"{fid}: status {status}, {len(served)} of {len(content)} bytes")
        expect(
            not partial,
            req="SE-DUR-002",
            what="interrupted uploads after the restart",
            actual=partial[:10],
            expected="each 404, or complete and byte-exact",
        )
        if view is not None:
            expect_no_pending(view, req="SE-DUR-003", what="pending WAL rows once the restarted SE is ready")
        if restarted.storage is not None:
            leftovers = interrupted_leftovers(restarted.storage, before=before, ids=burst.attempted, done=burst.acked)
            expect_no_leftovers(leftovers, during="a burst of uploads")
        expect_status(client.get("/health/ready"), 200, req="SE-DUR-004", what="readiness after the restart")
    finally:
        if view is not None:
            view.close()
        lifecycle.stop_se(restarted)
