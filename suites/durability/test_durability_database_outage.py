"""PostgreSQL stopped under a running SE (a private server, so no other test is disturbed), then back.

Bounded: readiness must turn 503 within 10 s of the stop and 200 within 30 s of the return.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from harness.expect import expect, expect_equal, expect_json, expect_status
from harness.targets.base import Lifecycle
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload, sha256_hex
from suites.support.files import get_meta, upload_ok
from suites.support.inspect import files_mentioning, wait_until

DOWN_WITHIN_S = 10.0
BACK_WITHIN_S = 30.0


def _status(resp: httpx.Response) -> int:
    return resp.status_code


@pytest.mark.req("SE-DUR-005", "SE-DUR-006", "SE-DUR-007", "SE-DUR-008", "SE-DUR-009", "SE-DUR-010")
def test_database_outage_and_recovery(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    pg = lifecycle.private_database()
    handle = None
    try:
        handle = spawn_se(database=pg.info)
        client = client_for(handle, tokens.user)
        operator = client.with_token(tokens.operator)
        kept_bytes = payload(10_000)
        kept = upload_ok(client, kept_bytes, filename="kept.bin", description="before")
        doomed = upload_ok(client, payload(500), filename="not-deleted.bin")

        pg.stop()
        went_down = wait_until(lambda: _status(client.get("/health/ready")) == 503, DOWN_WITHIN_S, 0.25)
        ready = client.get("/health/ready")
        expect(went_down, req="SE-DUR-005", what="readiness with PostgreSQL stopped", resp=ready, expected="503")
        body = expect_json(ready, req="SE-DUR-005")
        expect(
            isinstance(body, dict) and body.get("status") == "not_ready" and "checks" in body,
            req="SE-DUR-005",
            what="readiness body with PostgreSQL stopped",
            resp=ready,
            expected='{"status": "not_ready", "checks": ...}',
        )
        live = client.get("/health/live")
        fid = new_uuid()
        writes = {
            "upload": client.upload(payload(2000), filename="during-outage.bin", file_id=fid),
            "PATCH": client.patch(f"/api/v1/files/{kept.file_id}", json={"description": "during outage"}),
            "DELETE": operator.delete(f"/api/v1/files/{doomed.file_id}"),
        }
        for what, resp in writes.items():
            expect(
                resp.status_code >= 400 and resp.status_code != 500,
                req="SE-DUR-006",
                what=f"{what} with PostgreSQL stopped",
                resp=resp,
                expected="refused with an error status other than 500",
            )

        pg.start()
        back = wait_until(lambda: _status(client.get("/health/ready")) == 200, BACK_WITHIN_S, 0.25)
        expect(
            back,
            req="SE-DUR-010",
            what=f"readiness within {BACK_WITHIN_S:.0f}s of PostgreSQL's return",
            resp=client.get("/health/ready"),
            expected="200",
        )
        expect_status(client.get(f"/api/v1/files/{fid}"), 404, req="SE-DUR-008", what="the refused upload")
        if handle.storage is not None:
            left = files_mentioning(handle.storage, fid)
            expect(not left, req="SE-DUR-008", what="files of the refused upload", actual=left, expected="none")
        meta = get_meta(client, kept.file_id)
        expect_equal(meta.get("description"), "before", req="SE-DUR-008", what="description after the refused PATCH")
        get_meta(client, doomed.file_id, what="the file whose DELETE was refused")
        download = client.get(f"/api/v1/files/{kept.file_id}/download")
        expect_status(download, 200, req="SE-DUR-010", what="download of a file stored before the outage")
        expect(
            sha256_hex(download.content) == kept.as_reported()[0],  # the bytes it said it stored
            req="SE-DUR-010",
            what="bytes after the outage",
            resp=download,
            expected="unchanged",
        )
        # Uploads worked before the outage (the two above): one refused now is this rule's failure.
        again = client.upload(payload(1000), filename="after-outage.bin")
        expect_status(again, range(200, 300), req="SE-DUR-010", what="an upload once PostgreSQL is back")

        # SHOULD-level checks last, so a SHOULD never hides a MUST verdict.
        for what, resp in writes.items():
            expect_status(resp, 503, req="SE-DUR-007", what=f"{what} with PostgreSQL stopped")
        expect_status(live, 200, req="SE-DUR-009", what="liveness with PostgreSQL stopped")
    finally:
        if handle is not None:
            lifecycle.stop_se(handle)  # before its database goes for good
        pg.destroy()
