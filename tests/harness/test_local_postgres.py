"""The local PostgreSQL provider against the real system binaries."""

from __future__ import annotations

import psycopg
import pytest

from harness.net import free_port
from harness.portowner import listener_pids
from harness.postgres import local as local_pg
from harness.postgres.local import LocalPostgres
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
