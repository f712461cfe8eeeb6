"""/api/v1/capacity at every fill level of a small SE: empty, past 85 %, past 95 %, full (contract §2).

An SE may grade its health at any thresholds it likes (the contract names only the field); what it
must do at every level is answer the capacity document with consistent figures.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_equal
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support import fields
from suites.support.data import payload, unique_name
from suites.support.files import UPLOAD_REQUIREMENT
from suites.support.service import get_object

pytestmark = pytest.mark.needs("lifecycle")

CAPACITY = 100_000
# Uploads that take a fresh SE to 86 %, 96 % and 100 % of CAPACITY (if it counts only file bytes).
FILLS = (86_000, 10_000, 4_000)


def expect_capacity_document(client: SEClient, capacity: int, level: str) -> None:
    """SE-SVC-010's fields and SE-SVC-011's figures of GET /api/v1/capacity, at fill level ``level``."""
    body, resp = get_object(client, "/api/v1/capacity", req="SE-SVC-010")
    fields.expect_fields(body, fields.CAPACITY, req="SE-SVC-010", what=f"/api/v1/capacity {level}", resp=resp)
    figures: Any = fields.expect_fields(body["capacity"], fields.CAPACITY_FIGURES, req="SE-SVC-010",
                                        what=f"/api/v1/capacity capacity {level}", resp=resp)  # fmt: skip
    for name in fields.CAPACITY_FIGURES:
        expect(fields.is_number(figures[name]), req="SE-SVC-010", what=f"capacity.{name} {level}",
               expected="a number", actual=figures[name], resp=resp)  # fmt: skip
    total, used, available = figures["total"], figures["used"], figures["available"]
    expect_equal(total, capacity, req="SE-SVC-011", what=f"capacity.total {level}", resp=resp)
    expect_equal(available, max(total - used, 0), req="SE-SVC-011", what=f"capacity.available = total - used {level}",
                 resp=resp)  # fmt: skip
    percent = figures["percent_used"]
    expect(0 <= percent <= 100, req="SE-SVC-011", what=f"capacity.percent_used {level}",
           expected="a number from 0 to 100", actual=percent, resp=resp)  # fmt: skip


@pytest.mark.req("SE-SVC-010", "SE-SVC-011")
def test_capacity_document_at_every_fill_level(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    small = spawn_se(capacity=CAPACITY)
    api = client_for(small, tokens.user)
    anonymous = api.anonymous()
    expect_capacity_document(anonymous, CAPACITY, "of an empty SE")
    stored = 0
    for size in FILLS:
        resp = api.upload(payload(size), filename=unique_name("fill"))
        if resp.status_code == 507:  # the SE counts more than the file bytes: it is full earlier
            break
        with arrange(f"upload {size} bytes into an SE of {CAPACITY} bytes holding {stored}"):
            expect(200 <= resp.status_code < 300, req=UPLOAD_REQUIREMENT, what="upload", resp=resp,
                   expected="201 (or 507 once the SE is full)")  # fmt: skip
        stored += size
        expect_capacity_document(anonymous, CAPACITY, f"with {stored} of {CAPACITY} bytes stored")
