"""Durable before the answer, proven from the system calls (opt-in: local target, ``--se-trace-syscalls``).

kill -9 leaves the page cache alive, so a crash test never shows a missing fsync. This test starts an SE
under ``strace -f -yy``, uploads, PATCHes and DELETEs one file, stops the SE (which completes the trace)
and reads, for each request, the order of its durable steps (``harness.write_order``): data written and
fsynced, sidecar temp + fsync + rename, directory fsync, database COMMIT acknowledged, then the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_status
from harness.syscalls import Trace
from harness.targets.base import Lifecycle, SEHandle
from harness.targets.strace import trace_file
from harness.tokens import TokenFactory
from harness.write_order import Endpoints, check
from suites.support.data import payload
from suites.support.files import file_path, get_meta, upload_ok
from suites.support.inspect import expected_data_path

REQ = "SE-DUR-013"
UPLOAD_PATH = "/api/v1/files/upload"
EXPECTED = {
    "upload": "data written + fsynced, sidecar temp written + fsynced + renamed, directory fsynced, COMMIT "
    "acknowledged, then HTTP/1.1 2xx",
    "patch": "sidecar temp written + fsynced + renamed, directory fsynced, COMMIT acknowledged, then HTTP/1.1 2xx",
    "delete": "sidecar and data unlinked, directory fsynced, COMMIT acknowledged, then HTTP/1.1 2xx",
}


@pytest.mark.needs("syscalls")
@pytest.mark.req(REQ)
def test_writes_are_durable_before_the_answer(
    spawn_se: Callable[..., SEHandle], lifecycle: Lifecycle, client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    handle = spawn_se(trace_syscalls=True)
    api = client_for(handle, tokens.user)
    stored = upload_ok(api, payload(96 * 1024))
    rel = expected_data_path(get_meta(api, stored.file_id))
    path = file_path(stored.file_id)
    with arrange("PATCH and DELETE the file on the traced SE"):
        expect_status(api.patch(path, json={"description": "traced"}), 200, req="SE-FILE-028", what="PATCH")
        deleted = client_for(handle, tokens.operator).delete(path)
        expect_status(deleted, 204, req="SE-FILE-033", what="DELETE")
    lifecycle.stop_se(handle)  # strace writes its last lines when the SE exits
    trace = Trace.of(trace_file(handle).read_text(errors="replace"))
    database: Any = handle.database
    endpoints = Endpoints(se_port=int(handle.base_url.rsplit(":", 1)[1]), db_port=int(database.se_port))
    for operation, method, target in (("upload", "POST", UPLOAD_PATH), ("patch", "PATCH", path),
                                      ("delete", "DELETE", path)):  # fmt: skip
        verdict = check(trace, operation, method, target, rel, endpoints)
        expect(verdict.ok, req=REQ, what=f"{operation}: durable steps before the answer ({verdict.problem})",
               actual=verdict.explain(), expected=EXPECTED[operation])  # fmt: skip
