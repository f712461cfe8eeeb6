"""Cache endpoints: consistency report, full/incremental rebuild ("the sidecar wins"), expiry,
concurrent rebuild → 409; and sidecars against the JSON Schemas in fixtures/."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.reference.conftest import SEFactory
from tests.reference.helpers import data_path, file_row, query, upload
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
V1 = FIXTURES / "sidecars" / "v1-example.attr.json"
V2 = FIXTURES / "sidecars" / "v2-example.attr.json"


def schema(version: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        json.loads((FIXTURES / "schemas" / f"sidecar-{version}.schema.json").read_text()),
        format_checker=jsonschema.FormatChecker(),
    )


def plant(se: SEProcess, sidecar_file: Path, content: bytes) -> dict[str, Any]:
    """Put a data file and its sidecar where the sidecar says they belong."""
    meta = json.loads(sidecar_file.read_text())
    target = data_path(se, meta)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    shutil.copy(sidecar_file, target.with_name(target.name + ".attr.json"))
    return meta


@pytest.fixture(scope="module")
def cse(se_factory: SEFactory) -> SEProcess:
    return se_factory("cache")


def report(se: SEProcess, tokens: Tokens) -> dict[str, Any]:
    with se.client(tokens.service) as c:
        r = c.get("/api/v1/cache/consistency")
    assert r.status_code == 200
    return r.json()


def test_written_sidecars_match_v2_schema(cse: SEProcess, tokens: Tokens) -> None:
    with cse.client(tokens.user) as c:
        fid = upload(c, b"s", "s.txt", custom_attributes={"k": [1, 2]}).json()["file_id"]
        meta = c.get(f"/api/v1/files/{fid}").json()
    path = data_path(cse, meta)
    sidecar_file = path.with_name(path.name + ".attr.json")
    schema("v2").validate(json.loads(sidecar_file.read_text()))
    assert sidecar_file.stat().st_size <= 4096
    schema("v1").validate(json.loads(V1.read_text()))
    schema("v2").validate(json.loads(V2.read_text()))


def test_v1_and_v2_sidecars_restored_by_rebuild(db: psycopg.Connection[Any], cse: SEProcess, tokens: Tokens) -> None:
    v1 = plant(cse, V1, b"hello world\n")
    v2 = plant(cse, V2, b"%PDF")
    before = report(cse, tokens)
    assert before["orphan_attr_count"] >= 2
    assert before["is_consistent"] is False
    with cse.client(tokens.service) as c:
        r = c.post("/api/v1/cache/rebuild/incremental")
        assert r.status_code == 200, r.text
        assert r.json()["entries_created"] >= 2
    with cse.client(tokens.user) as c:
        m1 = c.get(f"/api/v1/files/{v1['file_id']}").json()
        m2 = c.get(f"/api/v1/files/{v2['file_id']}").json()
        assert c.get(f"/api/v1/files/{v1['file_id']}/download").content == b"hello world\n"
    # v1 reads as v2 with empty custom attributes; naive timestamps are UTC.
    assert m1["custom_attributes"] == {}
    assert m1["created_at"].startswith("2024-01-15T10:30:00")
    assert m1["description"] == v1["description"]
    assert m1["created_by_fullname"] == "A. Archivist"
    assert m2["custom_attributes"] == v2["custom_attributes"]
    assert m2["updated_at"] == "2025-03-02T08:00:00.000001Z"
    assert m2["original_filename"] == "Отчёт 2024.pdf"
    assert file_row(db, cse, v2["file_id"])["created_by_id"] == "user-1"  # type: ignore[index]
    assert report(cse, tokens)["is_consistent"] is True


def test_full_rebuild_restores_every_field(db: psycopg.Connection[Any], cse: SEProcess, tokens: Tokens) -> None:
    with cse.client(tokens.user) as c:
        fid = upload(
            c, b"truth", "truth.txt", description="d", version="7", custom_attributes={"a": {"b": 1.5}}
        ).json()["file_id"]
        original = c.get(f"/api/v1/files/{fid}").json()
    t = f"{cse.config.prefix}_files"
    row_before = file_row(db, cse, fid)
    # Corrupt every restorable column of the cache row, and add an orphan row.
    db.execute(
        f"UPDATE {t} SET original_filename='x', file_size=1, content_type='x/y', description='tampered', "
        "version='0', created_by_username='eve', created_by_id='eve', created_by_fullname='Eve', "
        "checksum=repeat('0', 64), metadata_json='{\"evil\": true}', storage_path='nowhere', "
        "created_at=now() - interval '3 days', updated_at=now() - interval '2 days' WHERE file_id=%s",
        (fid,),
    )
    orphan = {**row_before, "file_id": "00000000-0000-4000-8000-000000000001", "storage_filename": "orphan.bin"}  # type: ignore[dict-item]
    cols = [k for k in orphan if k != "search_vector"]
    db.execute(
        f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
        [Jsonb(orphan[k]) if k == "metadata_json" else orphan[k] for k in cols],
    )
    broken = report(cse, tokens)
    assert broken["orphan_cache_count"] == 1
    assert broken["details"]["mismatched_count"] == 1
    assert broken["is_consistent"] is False
    with cse.client(tokens.service) as c:
        result = c.post("/api/v1/cache/rebuild").json()
    assert result["entries_removed"] == 1
    with cse.client(tokens.user) as c:
        restored = c.get(f"/api/v1/files/{fid}").json()
        assert c.get("/api/v1/files/00000000-0000-4000-8000-000000000001").status_code == 404
    for name in original:
        if not name.startswith("cache_"):
            assert restored[name] == original[name], name
    row_after = file_row(db, cse, fid)
    for name, value in row_before.items():  # type: ignore[union-attr]
        if not name.startswith("cache_"):
            assert row_after[name] == value, name  # type: ignore[index]
    assert report(cse, tokens)["is_consistent"] is True
    info = httpx.get(cse.url + "/api/v1/info").json()
    assert info["file_count"] == query(db, f"SELECT count(*) AS n FROM {t}")[0]["n"]


def test_orphan_sidecar_counted(cse: SEProcess, tokens: Tokens) -> None:
    with cse.client(tokens.user) as c:
        fid = upload(c, b"o", "o.txt").json()["file_id"]
        meta = c.get(f"/api/v1/files/{fid}").json()
    path = data_path(cse, meta)
    path.with_name(path.name + ".attr.json").unlink()
    r = report(cse, tokens)
    assert r["orphan_cache_count"] == 1
    assert fid in r["details"]["orphan_cache_file_ids"]
    with cse.client(tokens.service) as c:
        assert c.post("/api/v1/cache/rebuild").json()["entries_removed"] == 1
    assert report(cse, tokens)["is_consistent"] is True


def test_cleanup_expired(db: psycopg.Connection[Any], cse: SEProcess, tokens: Tokens) -> None:
    with cse.client(tokens.user) as c:
        keep = upload(c, b"k", "k.txt").json()["file_id"]
        gone = upload(c, b"g", "g.txt").json()["file_id"]
        gone_meta = c.get(f"/api/v1/files/{gone}").json()
    t = f"{cse.config.prefix}_files"
    db.execute(f"UPDATE {t} SET cache_updated_at = now() - interval '25 hours' WHERE file_id IN (%s, %s)", (keep, gone))
    path = data_path(cse, gone_meta)
    path.with_name(path.name + ".attr.json").unlink()
    assert report(cse, tokens)["expired_cache_count"] == 2
    with cse.client(tokens.user) as c:
        assert c.get(f"/api/v1/files/{keep}").json()["cache_expired"] is True
    with cse.client(tokens.service) as c:
        result = c.post("/api/v1/cache/cleanup-expired").json()
    assert (result["expired_found"], result["refreshed"], result["removed"]) == (2, 1, 1)
    with cse.client(tokens.user) as c:
        assert c.get(f"/api/v1/files/{keep}").json()["cache_expired"] is False
        assert c.get(f"/api/v1/files/{gone}").status_code == 404


def test_rebuild_while_locked_is_409(pg_dsn: str, cse: SEProcess, tokens: Tokens) -> None:
    """Hold the SE's rebuild lock from another session (as another SE process would)."""
    key = f"{cse.config.prefix}:cache"
    with psycopg.connect(pg_dsn, autocommit=True) as other:
        assert other.execute("SELECT pg_try_advisory_lock(21317, hashtext(%s))", (key,)).fetchone() == (True,)
        with cse.client(tokens.service) as c:
            for path in ("/api/v1/cache/rebuild", "/api/v1/cache/rebuild/incremental", "/api/v1/cache/cleanup-expired"):
                assert c.post(path).status_code == 409
        other.execute("SELECT pg_advisory_unlock(21317, hashtext(%s))", (key,))
    with cse.client(tokens.service) as c:
        assert c.post("/api/v1/cache/rebuild").status_code == 200


@pytest.mark.slow
def test_concurrent_rebuilds_one_409(se_factory: SEFactory, tokens: Tokens) -> None:
    se = se_factory("race")
    # Enough sidecars that a rebuild takes a noticeable time.
    template = json.loads(V2.read_text())
    for i in range(1500):
        fid = f"6f1c2d3e-4a5b-4c6d-8e7f-{i:012d}"
        meta = {**template, "file_id": fid, "storage_filename": f"f{i}_{fid}.pdf"}
        target = data_path(se, meta)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"%PDF")
        target.with_name(target.name + ".attr.json").write_text(json.dumps(meta))
    statuses: list[int] = []

    def run() -> None:
        with se.client(tokens.service, timeout=120) as c:
            statuses.append(c.post("/api/v1/cache/rebuild").status_code)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses)[0] == 200
    assert 409 in statuses
    assert httpx.get(se.url + "/api/v1/info").json()["file_count"] == 1500
