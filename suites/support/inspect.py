"""Helpers of suite part B (schema, wal, sidecars, cache, durability).

Everything here either talks HTTP through an ``SEClient`` or reads through the read-only ``DbView`` and
the ``StorageView``. ``StorageView.write_bytes``/``remove`` are used only to *arrange* a test (plant a
sidecar, make an orphan), never to repair what the SE did.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from harness.client import SEClient
from harness.dbview import DbView
from harness.errors import HarnessError, Unsupported
from harness.expect import arrange, covered, expect, expect_json, expect_status, fail, passed
from harness.storage_view import StorageView
from harness.targets.base import Lifecycle, SEHandle
from suites.support.data import new_uuid, sha256_hex, tag

REPO = Path(__file__).resolve().parents[2]
SCHEMA_DIR = REPO / "fixtures" / "schemas"
SIDECAR_SUFFIX = ".attr.json"
SIDECAR_MAX_BYTES = 4096
STORAGE_FILENAME_MAX = 200
# Metadata fields a v2 sidecar carries (contract §2 metadata minus the cache bookkeeping fields).
SIDECAR_FIELDS = (
    "file_id",
    "original_filename",
    "storage_filename",
    "file_size",
    "content_type",
    "created_at",
    "updated_at",
    "created_by_username",
    "created_by_fullname",
    "description",
    "version",
    "storage_path",
    "checksum",
    "custom_attributes",
)
TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at", "cache_updated_at"})
# Fields that legitimately change when the cache is rebuilt or cleaned.
CACHE_BOOKKEEPING = frozenset({"cache_updated_at", "cache_expired"})
WAL_TYPES = ("file_create", "file_update", "file_delete")
WAL_STATUSES = ("pending", "committed", "rolled_back", "failed")


# -- small things ----------------------------------------------------------------------------------
def unique_sub(label: str) -> str:
    """A token subject nobody else uses, so WAL rows can be matched to one test's requests."""
    return f"cf-{label}-{tag()}"


def as_utc(value: Any) -> dt.datetime | None:
    """An API/sidecar timestamp (ISO 8601 string) or a DB datetime as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.UTC)
    return stamp.astimezone(dt.UTC)


def same_value(field: str, a: Any, b: Any) -> bool:
    if field in TIMESTAMP_FIELDS and a is not None and b is not None:
        ta, tb = as_utc(a), as_utc(b)
        if ta is not None and tb is not None:
            return ta == tb
    return bool(a == b)


def metadata_diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, ignore: Iterable[str] = CACHE_BOOKKEEPING
) -> dict[str, tuple[Any, Any]]:
    """Fields whose values differ (timestamps compared as instants)."""
    skip = set(ignore)
    diff = {}
    for key in sorted((set(before) | set(after)) - skip):
        if not same_value(key, before.get(key), after.get(key)):
            diff[key] = (before.get(key), after.get(key))
    return diff


def sidecar_diff(sidecar: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The SIDECAR_FIELDS in which a sidecar document and the API metadata disagree (timestamps as
    instants); a field the sidecar lacks is reported as missing."""
    problems: dict[str, Any] = {}
    for name in SIDECAR_FIELDS:
        if name not in sidecar:
            problems[name] = "missing from the sidecar"
        elif not same_value(name, sidecar[name], meta.get(name)):
            problems[name] = {"sidecar": sidecar[name], "api": meta.get(name)}
    return problems


# The p_files columns SE-DB-017 ties to the API, and those SE-DB-018 does.
ROW_CORE_FIELDS = ("file_size", "checksum", "storage_path", "storage_filename")
ROW_OTHER_FIELDS = ("original_filename", "content_type", "description", "version", "created_by_username",
                    "created_by_fullname", "cache_ttl_hours", "created_at", "updated_at")  # fmt: skip


def row_vs_api(row: Mapping[str, Any], meta: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """The ``fields`` in which a p_files row and the API metadata differ (timestamps as instants)."""
    diff: dict[str, Any] = {}
    for name in fields:
        got, want = row.get(name), meta.get(name)
        if name in TIMESTAMP_FIELDS:
            if as_utc(got) != as_utc(want):
                diff[name] = {"row": str(got), "api": want}
        elif got != want:
            diff[name] = {"row": got, "api": want}
    return diff


def hour_dir(created_at: Any) -> str:
    """``YYYY/MM/DD/HH`` of the UTC hour of ``created_at`` (contract §7)."""
    stamp = as_utc(created_at)
    if stamp is None:
        raise ValueError(f"not a timestamp: {created_at!r}")
    return stamp.strftime("%Y/%m/%d/%H")


def wait_until(check: Callable[[], bool], timeout_s: float, interval_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)


# -- HTTP ------------------------------------------------------------------------------------------
CONSISTENCY_REQUIREMENT = "SE-CACHE-001"  # the consistency report answers 200 with its fields
REPORT_FIELDS = ("total_attr_files", "total_cache_entries", "orphan_cache_count", "orphan_attr_count",
                 "expired_cache_count", "is_consistent")  # fmt: skip


def consistency(service: SEClient, *, req: str) -> dict[str, Any]:
    """The cache consistency report, readable: 200, a JSON object, every count present. That it can be
    read is SE-CACHE-001's rule; for any other requirement an unreadable report blocks (a requirement
    about its figures, e.g. SE-CACHE-002, is judged only on a report that has them)."""
    resp = service.get("/api/v1/cache/consistency")
    with covered("read the cache consistency report", by=CONSISTENCY_REQUIREMENT, req=req) as rule:
        expect_status(resp, 200, req=rule, what="cache consistency report")
        body = expect_json(resp, req=rule)
        expect(isinstance(body, dict) and all(k in body for k in REPORT_FIELDS), req=rule,
               what="consistency report fields", expected=", ".join(REPORT_FIELDS), actual=body,
               resp=resp)  # fmt: skip
    return dict(body)


def rebuild(service: SEClient, kind: str = "full", *, req: str) -> httpx.Response:
    path = "/api/v1/cache/rebuild" if kind == "full" else "/api/v1/cache/rebuild/incremental"
    resp = service.post(path)
    expect_status(resp, range(200, 300), req=req, what=f"{kind} cache rebuild")
    return resp


# -- storage ---------------------------------------------------------------------------------------
def find_named(storage: StorageView, name: str) -> list[str]:
    """Every relative path in the storage whose last component is ``name``."""
    return [rel for rel in storage.list_files() if rel.rsplit("/", 1)[-1] == name]


def files_mentioning(storage: StorageView, text: str) -> list[str]:
    return [rel for rel in storage.list_files() if text in rel]


LAYOUT_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\d{2}/[^/]+$")
HOUR_DIR_RE = re.compile(r"^\d{4}/\d{2}/\d{2}/\d{2}/")  # anything below an hour directory


def temp_files(storage: StorageView) -> list[str]:
    return [rel for rel in storage.list_files() if ".tmp" in rel.rsplit("/", 1)[-1]]


def stray_files(storage: StorageView, *, before: Iterable[str] = (), ids: Iterable[str] = ()) -> list[str]:
    """Temporary files left in the storage path: any ``.tmp*`` name, and any other file below a directory
    that is neither named after one of ``ids`` (the files the test stored, wherever the SE put them) nor in
    an hour directory of the layout (an upload's spool file, say). Files at the root are allowed (markers),
    and so is every file in ``before`` (a snapshot taken when the test began: another test's files are not
    this test's leftovers)."""
    # Where a file the test stored was put, right or wrong (a day directory, a storage_filename with a
    # slash in it), is the layout rules' business (SE-SIDECAR-001/013): only a file that belongs to no
    # stored file is a spool file left behind.
    known, named = frozenset(before), tuple(ids)
    return [
        rel
        for rel in storage.list_files()
        if rel not in known
        and (
            ".tmp" in rel.rsplit("/", 1)[-1]
            or ("/" in rel and not any(fid in rel for fid in named)
                and not LAYOUT_RE.match(rel) and not HOUR_DIR_RE.match(rel))
        )
    ]  # fmt: skip


UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def has_sidecar(data: str, files: Iterable[str]) -> bool:
    """Whether the data file ``data`` has a sidecar among ``files``: the one the contract names
    (``<data>.attr.json``) or, where the SE names its sidecars otherwise (SE-SIDECAR-002's business), any
    ``*.attr.json`` in its directory carrying the file_id its name carries."""
    present = set(files)
    if data + SIDECAR_SUFFIX in present:
        return True
    found = UUID_RE.search(data.rsplit("/", 1)[-1])
    folder = data.rsplit("/", 1)[0] + "/" if "/" in data else ""
    return found is not None and any(
        rel.startswith(folder) and rel.endswith(SIDECAR_SUFFIX) and found.group() in rel for rel in present
    )


def interrupted_leftovers(
    storage: StorageView,
    *,
    before: Iterable[str],
    ids: Iterable[str],
    done: Iterable[str] = (),
    view: DbView | None = None,
) -> dict[str, list[str]]:
    """What a restarted SE still has of the uploads a kill interrupted (SE-DUR-004), by kind.

    Temporary files, but not those of the completed uploads ``done``: one that outlived a request that
    completed is SE-SIDECAR-010's — and where one did (or ``before`` already holds one), none of ``ids``'
    either (an SE that leaves its temporaries behind leaves them for the interrupted requests too,
    whatever start-up does; the kill landing after such a copy is chance). Data files of the layout
    without their sidecar. With ``view``, data
    files new since ``before`` without the cache row of the file_id their name carries (a name that
    carries none cannot be matched to a row, and is left to the sidecar check).
    """
    known, completed, named = frozenset(before), tuple(done), tuple(ids)
    files = storage.list_files()
    strays = stray_files(storage, before=known, ids=named)
    data = [p for p in files if LAYOUT_RE.match(p) and not p.endswith(SIDECAR_SUFFIX) and p not in strays]
    temporaries = [p for p in strays if not any(fid in p for fid in completed)]
    left_before = any(".tmp" in p.rsplit("/", 1)[-1] for p in known)  # by requests completed before the kill
    if left_before or len(temporaries) < len(strays):
        temporaries = [p for p in temporaries if not any(fid in p for fid in named)]
    found = {
        "temporary files": temporaries,
        "data files without sidecar": [p for p in data if not has_sidecar(p, files)],
    }
    if view is not None:
        carried = {p: UUID_RE.search(p.rsplit("/", 1)[-1]) for p in data if p not in known}
        found["data files without cache row"] = [
            p for p, fid in carried.items() if fid is not None and view.file_row(fid.group()) is None
        ]
    return found


def expect_no_leftovers(leftovers: Mapping[str, list[str]], *, during: str, recovered: str = "") -> None:
    """SE-DUR-004: nothing of ``interrupted_leftovers`` after kill -9 during ``during`` and a restart."""
    expect(not any(leftovers.values()), req="SE-DUR-004", actual=dict(leftovers),
           what=f"leftovers after kill -9 during {during}, and a restart",
           expected=f"none: {recovered}" if recovered else "none")  # fmt: skip


def expected_data_path(meta: Mapping[str, Any]) -> str:
    return f"{hour_dir(meta['created_at'])}/{meta['storage_filename']}"


def read_sidecar(storage: StorageView, rel: str) -> tuple[bytes, Any]:
    raw = storage.read_bytes(rel)
    try:
        return raw, json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return raw, None


LAYOUT_REQUIREMENT = "SE-SIDECAR-001"  # the data file at <base>/<YYYY>/<MM>/<DD>/<HH>/<storage_filename>
SIDECAR_PLACE_REQUIREMENT = "SE-SIDECAR-002"  # the sidecar next to it
SIDECAR_FORMAT_REQUIREMENT = "SE-SIDECAR-004"  # a v2 JSON document


def locate_data(storage: StorageView, meta: Mapping[str, Any], req: str | None = None) -> str:
    """The data file of ``meta`` at its contract path (contract §7), or a failure naming where it is.
    Outside the layout requirement's own test, finding the file prepares the check."""
    with covered("find the data file", by=LAYOUT_REQUIREMENT, req=req) as rule:
        if as_utc(meta.get("created_at")) is None:
            fail(rule, "created_at of the file is not an ISO 8601 date-time", expected="a timestamp", actual=meta)
        rel = expected_data_path(meta)
        if not storage.exists(rel):
            found = find_named(storage, str(meta.get("storage_filename"))) or files_mentioning(storage, meta["file_id"])
            fail(
                rule,
                "data file not at <base>/<YYYY>/<MM>/<DD>/<HH>/<storage_filename> (UTC hour of created_at)",
                expected=rel,
                actual=found or "no file of that name anywhere in the storage path",
            )
        passed(rule, f"data file at {rel}")
    return rel


def sidecar_of(
    storage: StorageView, meta: Mapping[str, Any], req: str | None = None
) -> tuple[str, bytes, dict[str, Any]]:
    """(relative path, raw bytes, parsed document) of the sidecar of ``meta``."""
    rel = locate_data(storage, meta, req) + SIDECAR_SUFFIX
    with covered("find the sidecar", by=SIDECAR_PLACE_REQUIREMENT, req=req) as rule:
        expect(storage.exists(rel), req=rule, what="sidecar next to the data file", expected=rel,
               actual=files_mentioning(storage, meta["file_id"]))  # fmt: skip
    raw, doc = read_sidecar(storage, rel)
    with covered("read the sidecar", by=SIDECAR_FORMAT_REQUIREMENT, req=req) as rule:
        expect(isinstance(doc, dict), req=rule, what=f"sidecar {rel} is a UTF-8 JSON object",
               expected="a JSON object", actual=raw[:300])  # fmt: skip
    return rel, raw, cast(dict[str, Any], doc)


SIDECAR_AGREEMENT_REQUIREMENT = "SE-SIDECAR-007"  # a stored file's sidecar equals its API metadata


def beyond_sidecar_agreement(
    problems: dict[str, Any], storage: StorageView, control: Callable[[], Mapping[str, Any]], *, req: str
) -> dict[str, Any]:
    """The disagreements between a sidecar and the API (``sidecar_diff``) that are ``req``'s to judge.

    A rule about how a sidecar came to be (a PATCH rewrote it, a rebuild imported it) compares it with
    the API; a field in which this SE's API and sidecar disagree for any plainly stored file too (the
    ``control``'s metadata, fetched only when there is a disagreement) is SE-SIDECAR-007's finding, not
    this rule's, and is left out."""
    if not problems or req == SIDECAR_AGREEMENT_REQUIREMENT:
        return problems
    meta = control()
    _, _, doc = sidecar_of(storage, meta)
    always = sidecar_diff(doc, meta)
    return {name: value for name, value in problems.items() if name not in always}


def expect_store_agrees(storage: StorageView, view: DbView, metas: Iterable[Mapping[str, Any]]) -> None:
    """Prepare a check that presumes a consistent store: every file's row and sidecar agree with its API
    metadata. Where they do not, the SE stored it inconsistently - SE-DB-017/018's or SE-SIDECAR-007's
    failure - and a report calling the store inconsistent is right, not this check's failure."""
    for meta in metas:
        with arrange(f"the row and sidecar of {meta.get('file_id')} agree with its metadata"):
            row = view.file_row(str(meta.get("file_id")))
            expect(row is not None, req="SE-DB-017", what="row of a stored file", expected="one row")
            assert row is not None
            for rule, fields in (("SE-DB-017", ROW_CORE_FIELDS), ("SE-DB-018", ROW_OTHER_FIELDS)):
                diff = row_vs_api(row, meta, fields)
                expect(not diff, req=rule, what="row vs API", actual=diff, expected="equal values")
            _, _, doc = sidecar_of(storage, meta)
            diff = sidecar_diff(doc, meta)
            expect(not diff, req=SIDECAR_AGREEMENT_REQUIREMENT, what="sidecar vs API", actual=diff, expected="equal")


def load_schema(version: int) -> dict[str, Any]:
    path = SCHEMA_DIR / f"sidecar-v{version}.schema.json"
    try:
        return dict(json.loads(path.read_text()))
    except FileNotFoundError as exc:
        raise HarnessError(
            f"sidecar JSON Schema {path} is missing",
            expected="fixtures/schemas/sidecar-v1.schema.json and sidecar-v2.schema.json in the repository",
        ) from exc


@pytest.fixture(scope="session")
def sidecar_v2_schema() -> dict[str, Any]:
    """The v2.0 sidecar JSON Schema, loaded at setup: a missing schema is a harness error."""
    return load_schema(2)


@pytest.fixture(scope="session")
def sidecar_v1_schema() -> dict[str, Any]:
    """The v1 sidecar JSON Schema (used to prove a planted v1 sidecar is one)."""
    return load_schema(1)


def schema_errors(schema: Mapping[str, Any], document: Any) -> list[str]:
    from jsonschema.validators import validator_for

    cls = validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(document)]


def plant_copy(
    storage: StorageView,
    template_meta: Mapping[str, Any],
    template_sidecar: Mapping[str, Any],
    *,
    content: bytes,
    original_filename: str,
    description: str | None = None,
    version: str | None = None,
    custom_attributes: Mapping[str, Any] | None = None,
    v1: bool = False,
) -> dict[str, Any]:
    """Plant a data file and sidecar for a new file_id, modelled on a sidecar the SE itself wrote.

    Every occurrence of the template's file_id (in storage_filename, storage_path, …) becomes the new
    id; size, checksum, name and the given fields are set. ``v1`` drops ``schema_version`` and
    ``custom_attributes``. Returns the planted sidecar document (plus ``_data_rel``/``_sidecar_rel``).
    """
    old_id = str(template_meta["file_id"])
    fid = new_uuid()
    doc = json.loads(json.dumps(template_sidecar).replace(old_id, fid))
    if fid not in str(doc.get("storage_filename", "")):
        doc["storage_filename"] = f"planted_{fid}_{doc.get('storage_filename', 'file')}"
    doc.update(
        file_id=fid,
        original_filename=original_filename,
        file_size=len(content),
        checksum=sha256_hex(content),
    )
    if description is not None:
        doc["description"] = description
    if version is not None:
        doc["version"] = version
    if v1:
        doc.pop("schema_version", None)
        doc.pop("custom_attributes", None)
    elif custom_attributes is not None:
        doc["custom_attributes"] = dict(custom_attributes)
    data_rel = f"{hour_dir(doc['created_at'])}/{doc['storage_filename']}"
    storage.write_bytes(data_rel, content)
    storage.write_bytes(data_rel + SIDECAR_SUFFIX, json.dumps(doc, ensure_ascii=False).encode())
    return {**doc, "_data_rel": data_rel, "_sidecar_rel": data_rel + SIDECAR_SUFFIX}


# -- database --------------------------------------------------------------------------------------
def wal_rows_of(db: DbView, *, file_ids: Iterable[str] = (), subs: Iterable[str] = ()) -> list[dict[str, Any]]:
    """p_wal rows for any of ``file_ids`` or written by any of ``subs`` (oldest first)."""
    ids, users = list(file_ids), list(subs)
    if not ids and not users:
        return []
    rows = db.query(
        f'SELECT * FROM "{db.table("wal")}" '
        "WHERE file_id::text = ANY(:ids) OR user_id = ANY(:users) ORDER BY started_at, transaction_id",
        ids=ids,
        users=users,
    )
    return rows


def expect_no_pending(view: DbView, *, req: str, what: str) -> None:
    """No WAL row of the SE is ``pending`` (once a request has answered, or once a restarted SE is ready)."""
    pending = view.wal_by_status("pending")
    expect(not pending, req=req, what=what, actual=wal_summary(pending), expected="none")


def wal_summary(rows: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Short form of WAL rows for failure messages."""
    return [
        (
            str(r.get("file_id")),
            r.get("operation_type"),
            r.get("status"),
            r.get("user_id"),
            r.get("error_message"),
        )
        for r in rows
    ]


def relations(db: DbView) -> dict[str, str]:
    """name → relkind of every relation outside the system schemas."""
    rows = db.query(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
        "AND c.relkind IN ('r', 'p', 'i', 'I', 'S', 'v', 'm', 'c', 'f')"
    )
    return {r["relname"]: r["relkind"] for r in rows}


def user_types_and_functions(db: DbView) -> set[str]:
    """Standalone user-defined types (enum, domain, range, multirange) and functions, by name."""
    types = db.query(
        "SELECT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
        "AND t.typtype IN ('e', 'd', 'r', 'm')"
    )
    funcs = db.query(
        "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
    )
    return {f"type {r['name']}" for r in types} | {f"function {r['name']}" for r in funcs}


def carries_prefix(name: str, prefix: str) -> bool:
    """``p_files``, ``p_files_pkey``, ``ix_p_files_x``: the prefix as a leading name component."""
    return name.startswith(prefix + "_") or f"_{prefix}_" in name


def key_columns(db: DbView, table: str, *, primary: bool) -> list[list[str]]:
    """Column lists of the primary key (``primary``) or of every unique index of ``table``."""
    flag = "indisprimary" if primary else "indisunique"
    rows = db.query(
        "SELECT i.indexrelid::regclass::text AS idx, array_agg(a.attname ORDER BY k.ord) AS cols "
        "FROM pg_index i "
        "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        f"WHERE i.indrelid = to_regclass(:t) AND i.{flag} GROUP BY i.indexrelid",
        t=f'"{table}"',
    )
    return sorted(sorted(r["cols"]) for r in rows)


def private_se(lifecycle: Any, spawn_se: Callable[..., Any]) -> tuple[Any, Any, StorageView, DbView]:
    """A fresh SE on a PostgreSQL of the test's own (which the test may lock, stop or cut off without
    disturbing another test): ``(database handle, SE handle, its storage, a read-only view of its tables)``.
    The caller closes the view; the lifecycle stops the SE and destroys the database. Tests using it are
    marked ``needs("fs")``, which guarantees the storage view."""
    database = lifecycle.private_database()
    handle = spawn_se(database=database.info)
    if handle.storage is None:
        raise HarnessError("the SE has no storage view", expected="a target with the fs facility (needs('fs'))")
    return database, handle, handle.storage, DbView(database.info, handle.prefix)


@contextmanager
def storage_unwritable(lifecycle: Lifecycle, handle: SEHandle) -> Iterator[None]:
    """While the block runs, ``handle``'s storage base directory is unwritable, even for root (the immutable
    flag, ``Lifecycle.freeze_storage``); writable again afterwards, whatever happened in the block. Where the
    target or this machine cannot do it, the test is reported unsupported, never passed."""
    try:
        lifecycle.freeze_storage(handle)
    except Unsupported as exc:
        pytest.skip(f"unsupported: the storage cannot be made unwritable: {exc}")
    try:
        yield
    finally:
        lifecycle.thaw_storage(handle)
