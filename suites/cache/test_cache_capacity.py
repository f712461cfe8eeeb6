"""Files a full rebuild imports are stored files: they take capacity (contract §2: an upload that would take
the stored bytes past STORAGE_MAX_SIZE is refused with 507, SE-FILE-013).

On a 1 MiB SE: 600 KiB uploaded, 300 KiB planted (data file and sidecar) and imported by a full rebuild;
another 200 KiB would pass the capacity.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect_status
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support.data import payload, unique_name
from suites.support.files import file_path, get_meta, upload_ok
from suites.support.inspect import plant_copy, rebuild, sidecar_of

MIB = 1024 * 1024
UPLOADED, PLANTED, LAST = 600 * 1024, 300 * 1024, 200 * 1024  # the first two fit, all three do not


@pytest.mark.needs("fs")
@pytest.mark.req("SE-FILE-013")
def test_files_a_rebuild_imports_take_capacity(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    small = spawn_se(capacity=MIB)
    storage = small.storage
    assert storage is not None, "needs('fs') guarantees a storage view"
    api = client_for(small, tokens.user)
    first = upload_ok(api, payload(UPLOADED), filename="uploaded.bin")
    with arrange("plant a file's data and sidecar and import it with a full rebuild"):
        meta = get_meta(api, first.file_id)
        _, _, doc = sidecar_of(storage, meta)
        planted = plant_copy(storage, meta, doc, content=payload(PLANTED), original_filename="planted.bin")
        rebuild(api.with_token(tokens.service), "full", req="SE-CACHE-007")
        expect_status(api.get(file_path(planted["file_id"])), 200, req="SE-CACHE-007",
                      what="the planted file after the full rebuild")  # fmt: skip
    resp = api.upload(payload(LAST), filename=unique_name("past-capacity"))
    expect_status(resp, 507, req="SE-FILE-013",
                  what=f"upload of {LAST // 1024} KiB with {UPLOADED // 1024} KiB uploaded and {PLANTED // 1024} KiB "
                  "imported by a rebuild, of 1 MiB")  # fmt: skip
