"""The local PostgreSQL provider against the real system binaries."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest

from harness.errors import HarnessError
from harness.net import free_port
from harness.portowner import listener_pids
from harness.postgres import local as local_pg
from harness.postgres.local import LocalPostgres
from harness.postgres.locks import tables_locked
from harness.postgres.passwords import password_checked_role
from harness.runstate import live_processes, new_run_id, sweep_local


def test_start_query_stop_restart_destroy() -> None:
    server = LocalPostgres(run_id=new_run_id())
    info = server.start()
    try:
        with psycopg.connect(info.dsn("postgresql")) as conn:
            assert conn.execute("SHOW server_encoding").fetchone() == ("UTF8",)
            conn.execute("CREATE TABLE kept (x int)")
            conn.execute("INSERT INTO kept VALUES (42)")
        server.stop()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(info.dsn("postgresql"), connect_timeout=2)
        again = server.start()
        assert again.port == info.port  # same address after a restart: the SE reconnects by itself
        with psycopg.connect(again.dsn("postgresql")) as conn:
            assert conn.execute("SELECT x FROM kept").fetchone() == (42,)
    finally:
        server.destroy()
    assert not server.workdir.exists()


def test_sweep_kills_what_a_run_left_running() -> None:
    run_id = new_run_id()
    server = LocalPostgres(run_id=run_id)
    server.start()
    assert live_processes(run_id), "the server is recorded under its run"
    removed = sweep_local(run_id)
    assert any("process" in line for line in removed)
    assert not live_processes(run_id)
    proc = server._proc
    assert proc is not None
    assert proc.wait(timeout=10) == -9


def test_a_taken_port_moves_a_fresh_server_to_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another harness's server on the chosen port has the same credentials: only ours may be used."""
    other = LocalPostgres(run_id=new_run_id(), name="pg-other")
    taken = other.start().port
    ports = iter([taken])
    monkeypatch.setattr(local_pg, "free_port", lambda: next(ports, None) or free_port())
    server = LocalPostgres(run_id=new_run_id(), name="pg-mine")
    try:
        info = server.start()
        assert info.port != taken
        assert listener_pids(info.port) == {server._proc.pid if server._proc else -1}
    finally:
        server.destroy()
        other.destroy()


def test_tables_locked_makes_statements_on_them_wait_until_released() -> None:
    server = LocalPostgres(run_id=new_run_id())
    info = server.start()
    try:
        with psycopg.connect(info.dsn("postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE p_files (x int)")
            conn.execute("CREATE TABLE other (x int)")
            with tables_locked(info, ["p_files"]):
                conn.execute("SET lock_timeout = '300ms'")
                assert conn.execute("SELECT 1").fetchone() == (1,), "the server still answers"
                assert conn.execute("SELECT count(*) FROM other").fetchone() == (0,), "other tables are free"
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    conn.execute("SELECT count(*) FROM p_files")
            assert conn.execute("SELECT count(*) FROM p_files").fetchone() == (0,), "released at the block's end"
            with pytest.raises(HarnessError, match="no table to lock"), tables_locked(info, []):
                pass
            with psycopg.connect(info.dsn("postgresql")) as holder:
                holder.execute("LOCK TABLE other IN ACCESS SHARE MODE")  # a transaction that stays open
                with (
                    pytest.raises(HarnessError, match="could not lock other"),
                    tables_locked(info, ["other"], timeout_s=0.3),
                ):
                    pass
    finally:
        server.destroy()


def test_password_checked_role_needs_its_password_and_leaves_other_roles_trusted() -> None:
    server = LocalPostgres(run_id=new_run_id())
    info = server.start()
    try:
        role = password_checked_role(info, "se_login", "s3cret")
        assert (role.user, role.password, role.port) == ("se_login", "s3cret", info.port)
        with psycopg.connect(role.dsn("postgresql"), autocommit=True) as conn:
            conn.execute("CREATE TABLE owned (x int)")  # the role may create its tables in public
            assert conn.execute("SELECT current_user").fetchone() == ("se_login",)
        for password in ("", "wrong"):
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(dataclasses.replace(role, password=password).dsn("postgresql"), connect_timeout=5)
        with psycopg.connect(dataclasses.replace(info, password="anything").dsn("postgresql")) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,), "the superuser is still trusted"
    finally:
        server.destroy()
