"""Start-up: configuration validation (one clear line, non-zero exit, no traceback), schema by
Alembic under the prefix, concurrent starts on one database."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from harness.net import free_port
from harness.postgres.info import PostgresInfo
from reference_service.db.tables import build_tables
from tests.reference.conftest import SEFactory
from tests.reference.helpers import query
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEConfig, SEProcess, run_once


@pytest.fixture
def good_env(pg: PostgresInfo, tokens: Tokens, tmp_path: Path) -> dict[str, str]:
    return SEConfig(prefix="cfgcheck", storage=tmp_path / "s", key_path=tokens.public_key_path, db=pg,
                    port=free_port()).env()  # fmt: skip


def _not_pem(tmp: Path) -> str:
    path = tmp / "not.pem"
    path.write_text("hello")
    return str(path)


@pytest.mark.parametrize(
    ("variable", "value", "mentions"),
    [
        ("APP_MODE", "readonly", ["edit", "rw", "ro", "ar"]),
        ("APP_MODE", "", ["edit"]),
        ("DB_TABLE_PREFIX", "Bad", ["[a-z][a-z0-9_]*"]),
        ("DB_TABLE_PREFIX", "1abc", ["[a-z][a-z0-9_]*"]),
        ("DB_TABLE_PREFIX", "has-dash", ["[a-z][a-z0-9_]*"]),
        ("DB_TABLE_PREFIX", "a" * 33, ["32"]),
        ("DB_TABLE_PREFIX", "x; drop table y", ["[a-z][a-z0-9_]*"]),
        ("JWT_PUBLIC_KEY_PATH", "/nonexistent/key.pem", ["PEM"]),
        ("JWT_PUBLIC_KEY_PATH", "/", ["PEM"]),
        ("JWT_PUBLIC_KEY_PATH", "NOT_PEM", ["PEM"]),
        ("JWT_ALGORITHM", "HS256", ["RS256"]),
        ("STORAGE_TYPE", "s3", ["local"]),
        ("STORAGE_MAX_SIZE", "lots", []),
        ("SERVER_PORT", "70000", []),
    ],
)
def test_bad_configuration_stops_start(
    good_env: dict[str, str], tmp_path: Path, variable: str, value: str, mentions: list[str]
) -> None:
    env = dict(good_env)
    env[variable] = _not_pem(tmp_path) if value == "NOT_PEM" else value
    result = run_once(env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert variable in lines[0]
    assert repr(env[variable]) in lines[0] or env[variable] in lines[0]
    for word in mentions:
        assert word in lines[0]


def test_missing_variable_named(good_env: dict[str, str]) -> None:
    env = dict(good_env)
    del env["DB_TABLE_PREFIX"]
    result = run_once(env)
    assert result.returncode != 0
    assert "DB_TABLE_PREFIX is required" in result.stderr


def test_unreachable_database_is_one_line(good_env: dict[str, str]) -> None:
    env = dict(good_env, DB_PORT=str(free_port()), DB_CONNECT_TIMEOUT_S="1")
    result = run_once(env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "DB_HOST" in result.stderr
    assert "not reachable" in result.stderr


def _tables(db: psycopg.Connection[Any], prefix: str) -> set[str]:
    rows = query(
        db, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s", prefix + "\\_%"
    )
    return {r["tablename"] for r in rows}


def test_schema_under_prefix(db: psycopg.Connection[Any], se: SEProcess) -> None:
    p = se.config.prefix
    assert _tables(db, p) == {f"{p}_files", f"{p}_wal", f"{p}_config", f"{p}_alembic_version"}
    indexes = query(db, "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE tablename LIKE %s", p + "\\_%")
    assert indexes
    assert all(i["indexname"].startswith(p + "_") for i in indexes), indexes
    gin = {i["indexdef"].split("USING gin ")[1] for i in indexes if "USING gin" in i["indexdef"]}
    assert gin == {"(metadata_json)", "(search_vector)"}
    constraints = query(db, "SELECT conname FROM pg_constraint c JOIN pg_class t ON c.conrelid = t.oid "
                            "WHERE t.relname LIKE %s", p + "\\_%")  # fmt: skip
    assert all(c["conname"].startswith(p + "_") for c in constraints)
    assert query(db, f"SELECT version_num FROM {p}_alembic_version") == [{"version_num": "0001"}]
    config = query(db, f"SELECT * FROM {p}_config")
    assert len(config) == 1
    assert config[0]["mode"] == "edit"
    assert config[0]["capacity_bytes"] == se.config.capacity
    columns = {r["column_name"]: r for r in query(
        db, "SELECT column_name, data_type, character_maximum_length, is_nullable FROM information_schema.columns "
            "WHERE table_name = %s", f"{p}_files")}  # fmt: skip
    assert columns["file_id"]["data_type"] == "uuid"
    assert columns["original_filename"]["character_maximum_length"] == 500
    assert columns["checksum"]["character_maximum_length"] == 64
    assert columns["metadata_json"]["data_type"] == "jsonb"
    assert columns["search_vector"]["data_type"] == "tsvector"
    assert columns["cache_updated_at"]["data_type"] == "timestamp with time zone"


def test_migration_equals_table_definitions(pg: PostgresInfo, se: SEProcess) -> None:
    """The explicit Alembic migration and db/tables.py describe the same schema."""
    prefix = se.config.prefix
    engine = create_engine(pg.dsn())
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={
                "version_table": f"{prefix}_alembic_version",
                "include_name": lambda name, type_, parent: type_ != "table" or (name or "").startswith(prefix + "_"),
                "compare_server_default": True,
            })  # fmt: skip
            diff = compare_metadata(ctx, build_tables(prefix).metadata)
    finally:
        engine.dispose()
    assert diff == []


@pytest.mark.slow
def test_simultaneous_starts_share_one_database(
    db: psycopg.Connection[Any], se_factory: SEFactory, tokens: Tokens
) -> None:
    ses = [se_factory(f"twin{i}", start=False) for i in range(3)]
    ses.append(se_factory("twin0", start=False))
    ses[-1].config.prefix = ses[0].config.prefix  # two processes on the same prefix as well
    ses[-1].config.storage = ses[0].config.storage
    errors: list[Exception] = []

    def start(se: SEProcess) -> None:
        try:
            se.start()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(se,)) for se in ses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for se in ses[:3]:
        assert len(_tables(db, se.config.prefix)) == 4
    from tests.reference.helpers import upload

    with ses[0].client(tokens.user) as c0, ses[1].client(tokens.user) as c1:
        fid = upload(c0, b"mine", "mine.txt").json()["file_id"]
        assert c1.get(f"/api/v1/files/{fid}").status_code == 404
        assert c1.get("/api/v1/files").json()["total"] == 0
    ses[-1].stop()


def test_sigterm_shuts_down_gracefully(se_factory: SEFactory) -> None:
    se = se_factory("term")
    # uvicorn finishes the shutdown, then re-raises SIGTERM so the exit status says what stopped it.
    assert se.stop(timeout=10) in (0, -15)
    assert "Application shutdown complete" in se.logs()
    assert "Finished server process" in se.logs()
