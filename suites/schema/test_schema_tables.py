"""Contract §5: the SE's tables, columns, keys and indexes, all under its prefix.

Column, key and index checks read the worker's main SE through the ``db`` view (exact table names).
What needs a clean database — "exactly these tables", "nothing outside the prefix", two prefixes side by
side — uses a private PostgreSQL with two fresh SEs, shared by this module.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from harness.dbview import DbView
from harness.expect import arrange, expect, expect_equal, expect_status, fail
from harness.targets.base import Lifecycle, SEHandle
from suites.support.data import new_uuid, sha256_hex
from suites.support.files import get_meta, ids_of, list_page, upload_ok
from suites.support.inspect import (
    ROW_CORE_FIELDS,
    ROW_OTHER_FIELDS,
    carries_prefix,
    key_columns,
    relations,
    row_vs_api,
    unique_sub,
    user_types_and_functions,
)

TIMESTAMP_TYPES = frozenset({"timestamp with time zone", "timestamp without time zone"})
ANY = None
# column -> (allowed information_schema data types, character_maximum_length or None)
FILES_COLUMNS: dict[str, tuple[frozenset[str] | None, int | None]] = {
    "file_id": (frozenset({"uuid"}), None),
    "original_filename": (frozenset({"character varying"}), 500),
    "storage_filename": (frozenset({"character varying"}), 500),
    "file_size": (frozenset({"bigint"}), None),
    "content_type": (frozenset({"character varying"}), 255),
    "created_at": (TIMESTAMP_TYPES, None),
    "updated_at": (TIMESTAMP_TYPES, None),
    "cache_updated_at": (frozenset({"timestamp with time zone"}), None),
    "cache_ttl_hours": (frozenset({"integer"}), None),
    "created_by_id": (ANY, None),
    "created_by_username": (frozenset({"character varying"}), 255),
    "created_by_fullname": (frozenset({"character varying"}), 500),
    "description": (frozenset({"text"}), None),
    "version": (frozenset({"character varying"}), 50),
    "storage_path": (frozenset({"character varying"}), 1000),
    "checksum": (frozenset({"character varying"}), 64),
    "search_vector": (frozenset({"tsvector"}), None),
    "metadata_json": (frozenset({"jsonb"}), None),
}
FILES_NULLABLE = ("created_by_fullname", "description", "version", "search_vector", "metadata_json")
FILES_NOT_NULL = (
    "file_id",
    "original_filename",
    "storage_filename",
    "file_size",
    "content_type",
    "created_at",
    "updated_at",
    "cache_updated_at",
    "cache_ttl_hours",
    "created_by_username",
    "storage_path",
    "checksum",
)
WAL_COLUMNS: dict[str, tuple[frozenset[str] | None, int | None]] = {
    "transaction_id": (frozenset({"uuid"}), None),
    "operation_type": (frozenset({"character varying"}), 50),
    "status": (frozenset({"character varying"}), 20),
    "file_id": (frozenset({"uuid"}), None),
    "operation_data": (frozenset({"jsonb"}), None),
    "error_message": (frozenset({"text"}), None),
    "started_at": (TIMESTAMP_TYPES, None),
    "completed_at": (TIMESTAMP_TYPES, None),
    "duration_ms": (frozenset({"integer"}), None),
    "user_id": (frozenset({"character varying"}), 255),
}


def _column_problems(db: DbView, table: str, spec: dict[str, tuple[frozenset[str] | None, int | None]]) -> list[str]:
    cols = db.columns(table)
    problems = []
    for name, (types, length) in spec.items():
        col = cols.get(name)
        if col is None:
            problems.append(f"{name}: missing")
            continue
        if types is not None and col.data_type not in types:
            problems.append(f"{name}: type {col.data_type}, expected {' or '.join(sorted(types))}")
        if length is not None and col.max_length != length:
            problems.append(f"{name}: length {col.max_length}, expected {length}")
    return problems


# -- the main SE's tables --------------------------------------------------------------------------
@pytest.mark.req("SE-DB-004")
def test_files_columns_types_and_lengths(db: DbView) -> None:
    table = db.table("files")
    problems = _column_problems(db, table, FILES_COLUMNS)
    expect(
        not problems,
        req="SE-DB-004",
        what=f"columns of {table}",
        actual=problems,
        expected="the columns, types and lengths of contract §5",
    )


@pytest.mark.req("SE-DB-005")
def test_files_nullability(db: DbView) -> None:
    table = db.table("files")
    cols = db.columns(table)
    problems = [f"{n}: NOT NULL, expected nullable" for n in FILES_NULLABLE if n in cols and not cols[n].nullable]
    problems += [f"{n}: nullable, expected NOT NULL" for n in FILES_NOT_NULL if n in cols and cols[n].nullable]
    problems += [f"{n}: missing" for n in (*FILES_NULLABLE, *FILES_NOT_NULL) if n not in cols]
    expect(
        not problems,
        req="SE-DB-005",
        what=f"nullability of {table}",
        actual=problems,
        expected=f"nullable: {', '.join(FILES_NULLABLE)}; every other typed column NOT NULL",
    )


@pytest.mark.req("SE-DB-006")
def test_files_primary_key(db: DbView) -> None:
    table = db.table("files")
    expect_equal(
        key_columns(db, table, primary=True),
        [["file_id"]],
        req="SE-DB-006",
        what=f"primary key columns of {table}",
    )


@pytest.mark.req("SE-DB-007")
def test_storage_filename_unique(db: DbView) -> None:
    table = db.table("files")
    uniques = key_columns(db, table, primary=False)
    expect(
        ["storage_filename"] in uniques,
        req="SE-DB-007",
        what=f"unique keys of {table}",
        actual=uniques,
        expected="a unique constraint/index on exactly (storage_filename)",
    )


@pytest.mark.req("SE-DB-008")
def test_cache_ttl_hours_default_24(db: DbView, api: Any) -> None:
    table = db.table("files")
    col = db.columns(table).get("cache_ttl_hours")
    expect(col is not None, req="SE-DB-008", what=f"{table}.cache_ttl_hours", expected="the column", actual=None)
    assert col is not None
    default = (col.default or "").strip().strip("()").split("::")[0].strip("'")
    expect_equal(default, "24", req="SE-DB-008", what=f"database default of {table}.cache_ttl_hours")
    body = upload_ok(api, b"ttl", filename="ttl.txt", content_type="text/plain")
    row = db.file_row(body.file_id)
    expect(
        row is not None and row.get("cache_ttl_hours") == 24,
        req="SE-DB-008",
        what="cache_ttl_hours of a fresh row",
        actual=row and row.get("cache_ttl_hours"),
        expected=24,
    )


def _gin_on(db: DbView, column: str) -> list[str]:
    pattern = re.compile(rf"USING gin \(\s*\"?{column}\"?[\s),]", re.IGNORECASE)
    return [ix.name for ix in db.indexes(db.table("files")) if pattern.search(ix.definition)]


@pytest.mark.req("SE-DB-009")
def test_gin_index_on_metadata_json(db: DbView) -> None:
    defs = [ix.definition for ix in db.indexes(db.table("files"))]
    expect(
        _gin_on(db, "metadata_json"),
        req="SE-DB-009",
        what="GIN index on metadata_json",
        actual=defs,
        expected="an index USING gin (metadata_json)",
    )


@pytest.mark.req("SE-DB-010")
def test_gin_index_on_search_vector(db: DbView) -> None:
    defs = [ix.definition for ix in db.indexes(db.table("files"))]
    expect(
        _gin_on(db, "search_vector"),
        req="SE-DB-010",
        what="GIN index on search_vector",
        actual=defs,
        expected="an index USING gin (search_vector)",
    )


@pytest.mark.req("SE-DB-011")
def test_index_names_carry_prefix(db: DbView) -> None:
    names = [ix.name for t in ("files", "wal", "config", "alembic_version") for ix in db.indexes(db.table(t))]
    bad = [n for n in names if not carries_prefix(n, db.prefix)]
    expect(
        names and not bad,
        req="SE-DB-011",
        what="index names without the prefix",
        actual=bad or names,
        expected=f"every index name starts with {db.prefix}_ or contains _{db.prefix}_",
    )


@pytest.mark.req("SE-DB-012")
def test_wal_columns_types_and_lengths(db: DbView) -> None:
    table = db.table("wal")
    problems = _column_problems(db, table, WAL_COLUMNS)
    expect(
        not problems,
        req="SE-DB-012",
        what=f"columns of {table}",
        actual=problems,
        expected="the columns, types and lengths of contract §5",
    )


@pytest.mark.req("SE-DB-013")
def test_wal_primary_key(db: DbView) -> None:
    table = db.table("wal")
    expect_equal(
        key_columns(db, table, primary=True),
        [["transaction_id"]],
        req="SE-DB-013",
        what=f"primary key columns of {table}",
    )


@pytest.mark.req("SE-DB-014")
def test_config_singleton_row(db: DbView) -> None:
    rows = db.config_rows()
    expect_equal(len(rows), 1, req="SE-DB-014", what=f"rows in {db.table('config')}")


@pytest.mark.req("SE-DB-015")
def test_config_records_mode(db: DbView, se: SEHandle) -> None:
    rows = db.config_rows()
    with arrange(f"the {db.table('config')} row"):  # that there is one is SE-DB-014's rule
        expect(len(rows) == 1, req="SE-DB-014", what=f"{db.table('config')} rows", actual=rows, expected="one row")
    values = [str(v).lower() for row in rows for v in row.values() if isinstance(v, str)]
    expect(
        se.mode.lower() in values,
        req="SE-DB-015",
        what=f"{db.table('config')} row",
        actual=rows,
        expected=f"a column holding the current mode {se.mode!r}",
    )


@pytest.mark.req("SE-DB-003")
def test_alembic_version_table(db: DbView) -> None:
    table = db.table("alembic_version")
    expect(
        table in db.prefixed_tables(),
        req="SE-DB-003",
        what="migration version table",
        actual=None,
        expected=f"a table {table}",
    )
    rows = db.query(f'SELECT * FROM "{table}"')
    expect(
        len(rows) == 1 and rows[0].get("version_num"),
        req="SE-DB-003",
        what=f"rows of {table}",
        actual=rows,
        expected="exactly one row with a version_num",
    )


# -- rows against the API --------------------------------------------------------------------------
@pytest.mark.req("SE-DB-016")
def test_one_row_per_stored_file(db: DbView, api: Any, tokens: Any) -> None:
    req = "SE-DB-016"
    first = upload_ok(api, b"row one", filename="row1.txt", content_type="text/plain")
    second = upload_ok(api, b"row two", filename="row2.txt", content_type="text/plain")
    for body in (first, second):
        count = db.scalar(f'SELECT count(*) FROM "{db.table("files")}" WHERE file_id::text = :f', f=body.file_id)
        expect_equal(count, 1, req=req, what=f"{db.table('files')} rows for uploaded {body.file_id}")
    resp = api.with_token(tokens.operator).delete(f"/api/v1/files/{first.file_id}")
    expect_status(resp, 204, req=req, what="DELETE (arrangement)")
    expect(
        db.file_row(first.file_id) is None,
        req=req,
        what="row after DELETE",
        resp=resp,
        actual=db.file_row(first.file_id),
        expected="no row",
    )
    resp = api.with_token(tokens.service).delete(f"/api/v1/gc/{second.file_id}", json={"reason": "conformance"})
    expect_status(resp, 200, req=req, what="GC delete (arrangement)")
    expect(
        db.file_row(second.file_id) is None,
        req=req,
        what="row after GC delete",
        resp=resp,
        actual=db.file_row(second.file_id),
        expected="no row",
    )


@pytest.mark.req("SE-DB-017", "SE-DB-018")
def test_row_matches_api(db: DbView, api: Any, tokens: Any) -> None:
    client = api.with_token(tokens.mint(role="user", sub=unique_sub("row"), name="row_owner"))
    body = upload_ok(
        client,
        b"row matches api",
        filename="Row Match.txt",
        content_type="text/plain",
        description="first",
        version="1.0",
        custom_attributes={"k": "v"},
    )
    fid = body.file_id
    for stage in ("after upload", "after PATCH"):
        meta = get_meta(client, fid)
        row = db.file_row(fid)
        if row is None:
            fail("SE-DB-017", f"no {db.table('files')} row {stage}", expected="one row", actual=None)
        assert row is not None
        core = row_vs_api(row, meta, ROW_CORE_FIELDS)
        expect(not core, req="SE-DB-017", what=f"row vs API {stage}", actual=core, expected="equal values")
        others = row_vs_api(row, meta, ROW_OTHER_FIELDS)
        expect(not others, req="SE-DB-018", what=f"row vs API {stage}", actual=others, expected="equal values")
        if stage == "after upload":
            resp = client.patch(f"/api/v1/files/{fid}", json={"description": "second", "version": "2.0"})
            expect_status(resp, 200, req="SE-DB-018", what="PATCH (arrangement)")


# -- a private database: exactly these tables, nothing outside the prefix, isolation ----------------
def _stray_relations(prefix: str, before: dict[str, str], after: dict[str, str]) -> list[str]:
    stray = []
    for name, kind in sorted(after.items()):
        if name in before:
            continue
        ok = carries_prefix(name, prefix) if kind in "iI" else name.startswith(prefix + "_")
        if not ok:
            stray.append(f"{name} (relkind {kind}) created by the SE with prefix {prefix}")
    return stray


def _check_isolation(a: SEHandle, b: SEHandle, view_a: DbView, view_b: DbView, client_for: Any, tokens: Any) -> None:
    req = "SE-DB-019"
    sub = unique_sub("iso")
    ca = client_for(a, tokens.mint(role="user", sub=sub))
    cb = client_for(b, tokens.mint(role="user", sub=sub))
    fid = new_uuid()
    on_a = upload_ok(ca, b"stored on A only", filename="iso.txt", content_type="text/plain", file_id=fid)
    for path in (f"/api/v1/files/{fid}", f"/api/v1/files/{fid}/download"):
        expect_status(cb.get(path), 404, req=req, what=f"{path} on the other SE")
    listing, listed = list_page(cb, req=req)
    expect(fid not in ids_of(listing), req=req, what="list of the other SE", resp=listed, expected=f"no {fid}")
    expect(view_a.file_row(fid) is not None, req=req, what=f"row in {view_a.table('files')}", expected="present")
    expect(
        view_b.file_row(fid) is None,
        req=req,
        what=f"row in {view_b.table('files')}",
        expected="absent",
        actual=view_b.file_row(fid),
    )
    expect(view_a.wal_rows(fid), req=req, what=f"WAL rows in {view_a.table('wal')}", expected="present", actual=[])
    expect_equal(view_b.wal_rows(fid), [], req=req, what=f"WAL rows in {view_b.table('wal')}")
    # The same caller-chosen id is free on the other SE: B never sees A's file.
    resp = cb.upload(b"stored on B too", filename="iso.txt", content_type="text/plain", file_id=fid)
    expect_status(resp, range(200, 300), req=req, what="upload of the same file_id to the other SE")
    resp = cb.with_token(tokens.operator).delete(f"/api/v1/files/{fid}")
    expect_status(resp, 204, req=req, what="DELETE on the other SE")
    download = ca.get(f"/api/v1/files/{fid}/download")
    expect_status(download, 200, req=req, what="download on the first SE after the other deleted its copy")
    expect_equal(sha256_hex(download.content), on_a.as_reported()[0], req=req, what="bytes on the first SE",
                 resp=download)  # fmt: skip


@pytest.mark.needs("db")
@pytest.mark.req("SE-DB-001", "SE-DB-002", "SE-DB-019", "SE-DB-020")
def test_private_database_two_prefixes(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: Any, se: SEHandle
) -> None:
    """A PostgreSQL of the test's own, snapshotted before and after each of two SEs (prefixes <main>_sa
    and <main>_sb) starts on it: what each SE created, and whether the two stay apart."""
    pg = lifecycle.private_database()
    views: list[DbView] = []
    started: list[SEHandle] = []
    try:
        probe = DbView(pg.info, "probe")
        views.append(probe)
        before, extras_before = relations(probe), user_types_and_functions(probe)
        a = spawn_se(prefix=f"{se.prefix}_sa", database=pg.info)
        started.append(a)
        after_a, extras_after_a = relations(probe), user_types_and_functions(probe)
        b = spawn_se(prefix=f"{se.prefix}_sb", database=pg.info)
        started.append(b)
        after_b, extras_after_b = relations(probe), user_types_and_functions(probe)
        view_a, view_b = DbView(pg.info, a.prefix), DbView(pg.info, b.prefix)
        views += [view_a, view_b]

        p = a.prefix
        new_tables = {n for n, kind in after_a.items() if kind in "rp" and n not in before}
        required = {f"{p}_files", f"{p}_wal", f"{p}_config"}
        missing = sorted(required - new_tables)
        extra = sorted(t for t in new_tables if t.startswith(p + "_") and t not in required | {f"{p}_alembic_version"})
        expect(
            not missing and not extra,
            req="SE-DB-001",
            what=f"tables created by an SE with prefix {p}",
            actual={"missing": missing, "unexpected": extra, "created": sorted(new_tables)},
            expected=f"{sorted(required)} (+ {p}_alembic_version) and nothing else",
        )
        stray = _stray_relations(a.prefix, before, after_a) + _stray_relations(b.prefix, after_a, after_b)
        expect(
            not stray,
            req="SE-DB-002",
            what="relations created outside the prefix",
            actual=stray,
            expected="every new table, view, sequence named <prefix>_…, every index carrying the prefix",
        )
        _check_isolation(a, b, view_a, view_b, client_for, tokens)

        odd = [
            f"{n} (SE {a.prefix})"
            for n in sorted(extras_after_a - extras_before)
            if not n.split(" ", 1)[1].startswith(a.prefix + "_")
        ]
        odd += [
            f"{n} (SE {b.prefix})"
            for n in sorted(extras_after_b - extras_after_a)
            if not n.split(" ", 1)[1].startswith(b.prefix + "_")
        ]
        expect(
            not odd,
            req="SE-DB-020",
            what="types/functions without the prefix",
            actual=odd,
            expected="every user-defined type and function named <prefix>_…",
        )
    finally:
        for handle in started:
            lifecycle.stop_se(handle)
        for view in views:
            view.close()
        pg.destroy()
