"""Rules that span the SEs of a fleet: prefixes and tables on a shared database, the mode each SE reports,
element ids (area ``fleet``, SE-FLEET-*)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.client import SEClient
from harness.expect import expect, expect_equal, expect_json, expect_status
from harness.fleet import checks
from harness.fleet.spec import FleetEntry

pytestmark = pytest.mark.needs("fleet")
Pair = tuple[FleetEntry, FleetEntry]


def _both(pair: Pair) -> str:
    a, b = pair
    return f"{a.name} (prefix {a.table_prefix}) and {b.name} (prefix {b.table_prefix})"


@pytest.mark.req("SE-FLEET-001")
def test_prefixes_apart_on_a_shared_database(pair: Pair) -> None:
    a, b = pair
    if not checks.may_share_database(a, b):
        pytest.skip(f"{a.name} and {b.name} use different databases (their db_dsn)")
    expect(a.table_prefix != b.table_prefix, req="SE-FLEET-001", what=f"table prefixes of {_both(pair)}",
           expected="a prefix of its own for each SE on one database", actual="the same prefix")  # fmt: skip
    expect(not checks.namespaces_overlap(a.table_prefix, b.table_prefix), req="SE-FLEET-001",
           what=f"table namespaces of {_both(pair)}",
           expected="neither namespace (<prefix>_…) contains the other's tables",
           actual=f"{checks.namespace(a.table_prefix)}… and {checks.namespace(b.table_prefix)}… overlap")  # fmt: skip


@pytest.mark.req("SE-FLEET-002")
def test_no_table_shared_on_a_shared_database(pair: Pair) -> None:
    a, b = pair
    if not (a.db_dsn and b.db_dsn):
        pytest.skip("unsupported: the fleet file gives no db_dsn for " + " and ".join(
            e.name for e in pair if not e.db_dsn))  # fmt: skip
    if not checks.shares_known_database(a, b):
        pytest.skip(f"{a.name} and {b.name} use different databases (their db_dsn)")
    space_a = checks.tables_of(a.db_dsn, a.table_prefix)
    space_b = checks.tables_of(b.db_dsn, b.table_prefix)
    own_a, own_b = checks.owned_tables(space_a, a.table_prefix), checks.owned_tables(space_b, b.table_prefix)
    shared = sorted(own_a & own_b)
    expect(not shared, req="SE-FLEET-002", what=f"tables of {_both(pair)} in their shared database",
           expected="no table belongs to both", actual=f"both use {', '.join(shared)}")  # fmt: skip
    wal_a, wal_b = f"{a.table_prefix}_wal", f"{b.table_prefix}_wal"
    expect(wal_a != wal_b, req="SE-FLEET-002", what=f"WAL tables of {_both(pair)}",
           expected="a WAL table of its own for each SE", actual=f"both write {wal_a}")  # fmt: skip
    foreign = sorted((space_a & own_b) | (space_b & own_a))
    expect(not foreign, req="SE-FLEET-002", what=f"table namespaces of {_both(pair)} in their shared database",
           expected="no table of one SE is named inside the other's namespace",
           actual=f"{', '.join(foreign)} lie(s) in both namespaces")  # fmt: skip


def _reported_mode(client: SEClient, path: str) -> tuple[Any, Any]:
    resp = expect_status(client.get(path), 200, req="SE-FLEET-003", what=f"GET {path}")
    body = expect_json(resp, req="SE-FLEET-003")
    return (body.get("mode") if isinstance(body, dict) else None), resp


@pytest.mark.req("SE-FLEET-003")
def test_mode_is_the_expected_one(member: FleetEntry) -> None:
    with SEClient(member.url, requirement_ids=("SE-FLEET-003",)) as client:
        for path in ("/", "/api/v1/info"):
            mode, resp = _reported_mode(client, path)
            expect_equal(mode, member.mode, req="SE-FLEET-003",
                         what=f"{member.name}: mode in GET {path} (the fleet file expects {member.mode})",
                         resp=resp)  # fmt: skip


@pytest.mark.req("SE-FLEET-004")
def test_element_ids_apart(pair: Pair) -> None:
    ids = []
    for entry in pair:
        with SEClient(entry.url, requirement_ids=("SE-FLEET-004",)) as client:
            resp = expect_status(client.get("/api/v1/info"), 200, req="SE-FLEET-004",
                                 what=f"{entry.name}: GET /api/v1/info")  # fmt: skip
            body = expect_json(resp, req="SE-FLEET-004")
        ids.append(body.get("element_id") if isinstance(body, dict) else None)
    expect(ids[0] != ids[1], req="SE-FLEET-004", what=f"element ids of {pair[0].name} and {pair[1].name}",
           expected="an element id of its own for each SE", actual=f"both report {ids[0]!r}")  # fmt: skip
