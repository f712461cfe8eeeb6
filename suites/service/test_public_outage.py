"""Public info and capacity of an SE whose PostgreSQL is stopped (a private server, no other test disturbed).

An SE may answer them with an error while its database is away (SE-SVC-001 asks for 200 only on a healthy
SE); when it does answer 200, the figures obey the same rules as ever: a count or a byte total it has not
been able to read is never reported as a negative number.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.expect import arrange, expect, expect_equal, expect_json
from harness.targets.base import Lifecycle
from harness.tokens import TokenFactory
from suites.support import fields
from suites.support.inspect import wait_until

pytestmark = pytest.mark.needs("lifecycle")

DOWN_WITHIN_S = 10.0


@pytest.mark.req("SE-SVC-005", "SE-SVC-011")
def test_info_and_capacity_figures_while_the_database_is_down(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    """A fresh SE whose database stops before anything asked for its counters: info and capacity,
    if answered 200, still report non-negative counts and consistent capacity figures."""
    pg = lifecycle.private_database()
    handle = None
    try:
        with arrange("a fresh SE on a private PostgreSQL, then PostgreSQL stopped"):
            handle = spawn_se(database=pg.info)
            client = client_for(handle).anonymous()
            pg.stop()
            # Readiness turning 503 is SE-DUR-005's rule; here it only says the outage has been seen.
            wait_until(lambda: client.get("/health/ready").status_code == 503, DOWN_WITHIN_S, 0.25)
        answered = 0
        info = client.get("/api/v1/info")
        if info.status_code == 200:
            answered += 1
            body = expect_json(info, req="SE-SVC-005")
            expect(isinstance(body, dict), req="SE-SVC-005", what="GET /api/v1/info with PostgreSQL stopped",
                   expected="a JSON object", resp=info)  # fmt: skip
            fields.expect_fields(body, fields.INFO, req="SE-SVC-005", what="/api/v1/info with PostgreSQL stopped")
            for name in ("capacity_bytes", "used_bytes", "file_count"):
                expect(fields.is_int(body[name]) and body[name] >= 0, req="SE-SVC-005",
                       what=f"info {name} with PostgreSQL stopped (GET /api/v1/info)",
                       expected="a non-negative integer", actual=body[name], resp=info)  # fmt: skip
        capacity = client.get("/api/v1/capacity")
        if capacity.status_code == 200:
            answered += 1
            body = expect_json(capacity, req="SE-SVC-011")
            figures: Any = body.get("capacity") if isinstance(body, dict) else None
            expect(isinstance(figures, dict) and all(fields.is_number(figures.get(k)) for k in fields.CAPACITY_FIGURES),
                   req="SE-SVC-011", what="capacity figures with PostgreSQL stopped (GET /api/v1/capacity)",
                   expected="an object of numbers total, used, available, percent_used", resp=capacity)  # fmt: skip
            total, used, available = figures["total"], figures["used"], figures["available"]
            if handle.capacity is not None:
                expect_equal(total, handle.capacity, req="SE-SVC-011", what="capacity.total with PostgreSQL stopped")
            expect_equal(available, max(total - used, 0), req="SE-SVC-011",
                         what="capacity.available = total - used with PostgreSQL stopped")  # fmt: skip
            percent = figures["percent_used"]
            expect(0 <= percent <= 100, req="SE-SVC-011", what="capacity.percent_used with PostgreSQL stopped",
                   expected="a number from 0 to 100", actual=percent, resp=capacity)  # fmt: skip
        if not answered:
            pytest.skip("inconclusive: info and capacity both refused while PostgreSQL was stopped (allowed)")
    finally:
        if handle is not None:
            lifecycle.stop_se(handle)  # before its database goes for good
        pg.destroy()
