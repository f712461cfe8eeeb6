"""Launch contract: an invalid APP_MODE or DB_TABLE_PREFIX stops the start with a clear message (§1)."""

from __future__ import annotations

import pytest

from harness.expect import expect
from harness.targets.base import Target
from suites.support.ses import try_start

pytestmark = pytest.mark.needs("lifecycle")


def expect_refused(target: Target, variable: str, value: str, *, req: str) -> None:
    outcome = try_start(target, {variable: value})
    expect(not outcome.started, req=req, what=f"an SE started with {variable}={value!r} became ready",
           expected="the start stopped", actual=outcome.output[-800:])  # fmt: skip
    names = {variable, target.env_name(variable), value}
    expect(any(n and n.lower() in outcome.output.lower() for n in names), req=req,
           what="the refusal does not say why", expected=f"output naming {variable} or {value!r}",
           actual=outcome.output[-800:])  # fmt: skip


@pytest.mark.req("SE-MODE-001")
def test_invalid_mode_stops_the_start(se_target: Target) -> None:
    expect_refused(se_target, "APP_MODE", "turbo", req="SE-MODE-001")


@pytest.mark.req("SE-MODE-002")
@pytest.mark.parametrize("prefix", ["Bad-Prefix", "p" * 33], ids=["uppercase-hyphen", "33-chars"])
def test_invalid_prefix_stops_the_start(se_target: Target, prefix: str) -> None:
    expect_refused(se_target, "DB_TABLE_PREFIX", prefix, req="SE-MODE-002")
