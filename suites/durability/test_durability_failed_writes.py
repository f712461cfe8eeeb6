"""A DELETE or PATCH that fails on the storage half-way leaves the file as it was.

Each test puts a directory (with a file in it) where one of a stored file's files was, so that whatever
an SE does to remove, replace or move that file fails, also for root, on every filesystem and in a
container; then it puts the file back and asks: same metadata, same bytes, sidecar in place, a consistent
store (contract §7: the sidecar is the source of truth and the table its cache, so a file whose row and
sidecar disagree, or that lost its sidecar, loses data at the next full rebuild).

- DELETE, a directory where the data file was. An SE that removes the sidecar first (the reference's
  order: the sidecar is the truth marker) has done so by then; the DELETE must be undone, sidecar
  included.
- PATCH, a directory where the sidecar was. An SE that commits the new metadata to its table before the
  new sidecar is in place has a row that says what no sidecar says; the PATCH must be undone, row
  included.

A request answered 2xx in spite of the directory (an SE that defers the removal, or keeps sidecars
elsewhere) proves nothing here: the test is blocked, not passed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from harness.client import SEClient
from harness.expect import arrange, expect
from harness.ledger import Blocked
from harness.storage_view import StorageView
from harness.tokens import TokenFactory
from suites.support.data import payload
from suites.support.files import Stored, expect_present, file_path, get_meta, upload_ok
from suites.support.inspect import consistency, locate_data, sidecar_of

DELETE_REQ = "SE-DUR-015"
PATCH_REQ = "SE-DUR-016"
BLOCKER = "occupied-by-the-test"
TRACKED = ("description", "version", "custom_attributes")  # what a PATCH may change


@dataclass(frozen=True)
class OneFile:
    """A private SE holding one file, its store consistent, and the file's paths in the storage."""

    storage: StorageView
    user: SEClient
    service: SEClient
    operator: SEClient
    stored: Stored
    meta: dict[str, Any]
    data_rel: str
    sidecar_rel: str


def one_consistent_file(spawn_se: Any, client_for: Any, tokens: TokenFactory, req: str) -> OneFile:
    handle = spawn_se()
    user = client_for(handle, tokens.user)
    stored = upload_ok(user, payload(64 * 1024), filename="failing-write.bin", description="kept", version="v1",
                       custom_attributes='{"kept": true}')  # fmt: skip
    service = client_for(handle, tokens.service)
    with arrange("the consistency report calls the store consistent before the failing request"):
        before = consistency(service, req="SE-CACHE-002")
        expect(before.get("is_consistent") is True, req="SE-CACHE-002", actual=before, expected="is_consistent true",
               what="consistency report of a store written through the API only")  # fmt: skip
    meta = get_meta(user, stored.file_id)
    data_rel = locate_data(handle.storage, meta, req)
    sidecar_rel, _, _ = sidecar_of(handle.storage, meta, req)  # where this SE keeps it is SE-SIDECAR-002's rule
    operator = client_for(handle, tokens.operator)
    return OneFile(handle.storage, user, service, operator, stored, meta, data_rel, sidecar_rel)


def failed_with_a_directory_at(
    storage: StorageView, rel: str, send: Callable[[], httpx.Response], *, act: str
) -> httpx.Response:
    """``send()`` while a directory occupies ``rel`` (the file is back afterwards, whatever happened); its
    answer, which must not be a success: a request that did not fail proves nothing here (blocked)."""
    original = storage.read_bytes(rel)
    storage.remove(rel)
    storage.write_bytes(f"{rel}/{BLOCKER}", b"a directory where a file of the SE was")
    try:
        resp = send()
    finally:
        storage.remove(rel)
        storage.write_bytes(rel, original)
    if resp.is_success:
        raise Blocked(act, cause=f"answered {resp.status_code} with a directory in place of {rel}: nothing failed")
    return resp


def expect_consistent_again(one: OneFile, *, req: str, act: str) -> None:
    with arrange(f"the consistency report after the {act}, with its file back"):
        report = consistency(one.service, req="SE-CACHE-002")
    expect(report.get("is_consistent") is True, req=req, what=f"consistency report after the {act}",
           expected="is_consistent true: the file as it was", actual=report)  # fmt: skip


@pytest.mark.needs("fs", "lifecycle")
@pytest.mark.req(DELETE_REQ)
def test_a_delete_that_cannot_remove_the_data_file_changes_nothing(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    one = one_consistent_file(spawn_se, client_for, tokens, DELETE_REQ)
    delete = partial(one.operator.delete, file_path(one.stored.file_id))
    resp = failed_with_a_directory_at(
        one.storage, one.data_rel, delete, act="a DELETE that cannot remove the data file"
    )
    expect_present(one.user, one.stored, req=DELETE_REQ, what="after a DELETE that failed on its data file")
    expect(
        one.storage.exists(one.sidecar_rel),
        req=DELETE_REQ,
        what="the sidecar after the failed DELETE",
        expected=f"{one.sidecar_rel} in place, as before the DELETE",
        actual=f"missing; the DELETE answered {resp.status_code}",
    )
    expect_consistent_again(one, req=DELETE_REQ, act="failed DELETE")


@pytest.mark.needs("fs", "lifecycle")
@pytest.mark.req(PATCH_REQ)
def test_a_patch_that_cannot_replace_the_sidecar_changes_nothing(
    spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    one = one_consistent_file(spawn_se, client_for, tokens, PATCH_REQ)
    change = {"description": "changed", "version": "v2", "custom_attributes": {"changed": True}}
    patch = partial(one.user.patch, file_path(one.stored.file_id), json=change)
    resp = failed_with_a_directory_at(
        one.storage, one.sidecar_rel, patch, act="a PATCH that cannot replace the sidecar"
    )
    after = expect_present(one.user, one.stored, req=PATCH_REQ, what="after a PATCH that failed on its sidecar")
    expect(
        {k: after.get(k) for k in TRACKED} == {k: one.meta.get(k) for k in TRACKED},
        req=PATCH_REQ,
        what="metadata after the failed PATCH",
        expected={k: one.meta.get(k) for k in TRACKED},
        actual={k: after.get(k) for k in TRACKED},
        resp=resp,
    )
    expect_consistent_again(one, req=PATCH_REQ, act="failed PATCH")
