"""The space of a deleted file is free again (contract §2: an upload that would pass STORAGE_MAX_SIZE is
refused with 507; SE-FILE-013: "uploads that fit are still accepted"), and the info counters stay counts.

On a 1 MiB SE: 600 KiB stored, then removed (GC delete or DELETE); another 600 KiB fits only if the first
one's bytes were given back.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.client import SEClient
from harness.expect import expect, expect_status
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support.data import payload
from suites.support.files import REMOVALS, remove_ok, unless_uploads_fail, upload_ok
from suites.support.service import get_object

MIB = 1024 * 1024
SIZE = 600 * 1024  # two of them pass the capacity, one alone fits


@pytest.mark.req("SE-FILE-013", "SE-SVC-005")
@pytest.mark.parametrize("how", REMOVALS)
def test_a_removed_file_frees_its_capacity(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory, how: str
) -> None:
    small = spawn_se(capacity=MIB)
    api = client_for(small, tokens.user)
    first = upload_ok(api, payload(SIZE), filename="removed.bin")
    remove_ok(api, api.with_token(tokens.service), api.with_token(tokens.operator), first.file_id, how)
    info, resp = get_object(api.anonymous(), "/api/v1/info", req="SE-SVC-005")
    counts = {name: info.get(name) for name in ("used_bytes", "file_count")}
    expect(
        all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()),
        req="SE-SVC-005",
        what=f"info used_bytes and file_count after the only file was removed ({how})",
        expected="non-negative integers",
        actual=counts,
        resp=resp,
    )
    resp = api.upload(payload(SIZE), filename="fits-again.bin")
    if resp.status_code != 507:  # 507 is this rule's own answer; any other failure may be uploads failing at all
        unless_uploads_fail(api, resp)
    what = f"upload of {SIZE // 1024} KiB into 1 MiB once the other {SIZE // 1024} KiB were removed ({how})"
    expect_status(resp, range(200, 300), req="SE-FILE-013", what=what)
