"""Capacity exhaustion: 507 on a small-capacity SE (contract §2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.client import SEClient
from harness.expect import expect_equal, expect_status
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support.data import payload, unique_name
from suites.support.files import expect_present, total, upload_ok

MIB = 1024 * 1024


@pytest.mark.req("SE-FILE-013")
def test_upload_past_capacity_is_507(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    small = spawn_se(capacity=MIB)
    api = client_for(small, tokens.user)
    first = upload_ok(api, payload(600 * 1024))
    resp = api.upload(payload(600 * 1024), filename=unique_name("too-big"))
    expect_status(resp, 507, req="SE-FILE-013", what="upload of 600 KiB with 600 KiB of 1 MiB used")
    expect_equal(total(api, req="SE-FILE-013"), 1, req="SE-FILE-013", what="list total after the 507")
    expect_present(api, first, req="SE-FILE-013", what="the first file after the 507")
    upload_ok(api, payload(100 * 1024), req="SE-FILE-013")
