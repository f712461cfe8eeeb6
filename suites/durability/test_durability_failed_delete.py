"""A DELETE that fails on the storage half-way leaves the file as it was.

The test puts a directory (with a file in it) where a stored file's data file was, so that whatever an
SE does to remove or move the data file fails, also for root, on every filesystem and in a container.
An SE that removes the sidecar first (the reference's order: the sidecar is the truth marker) has done
so by then; when the data file cannot go, the DELETE must be undone, sidecar included: a file left
without its sidecar loses its row at the next full rebuild (contract §7, "the sidecar is the source of
truth"), which is data loss. Then the test puts the data file back and asks: same metadata, same bytes,
sidecar in place, a consistent store.

A DELETE answered 2xx in spite of the directory (an SE that defers removing data files, or leaves them)
proves nothing here: the test is blocked, not passed.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.expect import arrange, expect
from harness.ledger import Blocked
from harness.tokens import TokenFactory
from suites.support.data import payload
from suites.support.files import expect_present, file_path, get_meta, upload_ok
from suites.support.inspect import consistency, locate_data, sidecar_of

REQ = "SE-DUR-015"
BLOCKER = "occupied-by-the-test"


@pytest.mark.needs("fs", "lifecycle")
@pytest.mark.req(REQ)
def test_a_delete_that_cannot_remove_the_data_file_changes_nothing(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    handle = spawn_se()
    storage = handle.storage
    user = client_for(handle, tokens.user)
    stored = upload_ok(user, payload(64 * 1024), filename="undeletable.bin", description="kept")
    service = client_for(handle, tokens.service)
    with arrange("the consistency report calls the store consistent before the DELETE"):
        before = consistency(service, req="SE-CACHE-002")
        expect(before.get("is_consistent") is True, req="SE-CACHE-002", actual=before, expected="is_consistent true",
               what="consistency report of a store written through the API only")  # fmt: skip
    meta = get_meta(user, stored.file_id)
    rel = locate_data(storage, meta, REQ)
    sidecar_rel, _, _ = sidecar_of(storage, meta, REQ)  # where this SE keeps it is SE-SIDECAR-002's rule
    original = storage.read_bytes(rel)
    storage.remove(rel)
    storage.write_bytes(f"{rel}/{BLOCKER}", b"a directory where the data file was")
    try:
        resp = client_for(handle, tokens.operator).delete(file_path(stored.file_id))
    finally:
        storage.remove(rel)
        storage.write_bytes(rel, original)
    if resp.is_success:
        raise Blocked(
            "a DELETE that cannot remove the data file",
            cause=f"answered {resp.status_code} with a directory in place of the data file: nothing failed",
        )
    expect_present(user, stored, req=REQ, what="after a DELETE that failed on its data file")
    expect(
        storage.exists(sidecar_rel),
        req=REQ,
        what="the sidecar after the failed DELETE",
        expected=f"{sidecar_rel} in place, as before the DELETE",
        actual=f"missing; the DELETE answered {resp.status_code}",
    )
    with arrange("the consistency report after the failed DELETE, with its data file back"):
        report = consistency(service, req="SE-CACHE-002")
    expect(report.get("is_consistent") is True, req=REQ, what="consistency report after the failed DELETE",
           expected="is_consistent true: the file as it was", actual=report)  # fmt: skip
