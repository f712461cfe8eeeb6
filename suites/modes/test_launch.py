"""Launch contract (§1): an invalid APP_MODE or DB_TABLE_PREFIX stops the start with a clear message; the
SE logs in to PostgreSQL with DB_USERNAME and DB_PASSWORD."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from harness.dbview import DbView
from harness.errors import TargetNotReady
from harness.expect import expect, fail
from harness.postgres.passwords import password_checked_role
from harness.targets.base import Lifecycle, Target
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


@pytest.mark.req("SE-MODE-010")
def test_the_se_logs_in_with_db_username_and_db_password(lifecycle: Lifecycle, spawn_se: Any) -> None:
    # The harness's servers trust every login: only a role whose password the server checks tells an SE
    # that sends DB_PASSWORD from one that never does (harness/postgres/passwords.py).
    database = lifecycle.private_database()
    role = password_checked_role(database.info, "se_login", secrets.token_urlsafe(12))
    try:
        handle = spawn_se(database=role)
    except TargetNotReady as exc:
        fail(
            "SE-MODE-010",
            f"an SE given DB_USERNAME={role.user!r} and that role's DB_PASSWORD never became ready",
            expected="ready: the server checks the role's password, which the SE was given",
            actual=str(exc)[-800:],
        )
    view = DbView(database.info, handle.prefix)
    try:
        owners = {
            r["tablename"]: r["tableowner"]
            for r in view.query("SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")
        }
    finally:
        view.close()
    foreign = {t: o for t, o in owners.items() if t.startswith(handle.prefix + "_") and o != role.user}
    expect(
        not foreign,
        req="SE-MODE-010",
        what="tables of the SE's prefix belong to another role",
        expected=f"every table owned by {role.user!r} (DB_USERNAME)",
        actual=foreign,
    )
