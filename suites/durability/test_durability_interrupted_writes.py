"""Writes stopped half-way while they wait to change their row: cut off from their database (PostgreSQL
stopped, or their connection terminated), or killed with -9 and restarted.

The test holds ``LOCK TABLE <p>_files IN EXCLUSIVE MODE`` on the SE's private PostgreSQL (nobody else's):
reads of the table go on (a plain SELECT's lock is compatible), every change of it waits. A write that reads
its row, records its ``pending`` WAL row, does its disk work and then changes the row is stopped right there,
deterministically: the lock holder's PostgreSQL session sees the SE's backend wait for it
(``pg_blocking_pids``).

* A PATCH and a DELETE waiting, then PostgreSQL stopped (and started again), or their backends terminated
  (the database stays up): no WAL row of theirs may stay ``pending`` (contract §6: "No row stays pending
  once its request has answered: failures end rolled_back with an error_message") - at once when the
  database is up, within 30 s of its return after a stop - and the refused writes changed nothing.
* kill -9 while an upload waits for its row (data file and sidecar placed, row not yet written), or while a
  DELETE waits to remove its row, then a restart: start-up recovery resolves the ``pending`` rows and leaves
  no half-written file and a consistent store. With ``delete-unlinked``, the test removes the file's data
  file and sidecar before the restart - what a crash leaves when it lands after a DELETE has unlinked them
  but before its database transaction ended (the reference's order): the delete cannot be undone, so it
  must be completed.

Bounded: the writes must wait within 10 s; readiness within 30 s of the database's return; the WAL must be
resolved within 30 s of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from harness.dbview import DbView
from harness.expect import arrange, expect, expect_equal, expect_status
from harness.postgres.locks import terminate_waiting, waiting_for
from harness.targets.base import Lifecycle, PostgresHandle, SEHandle
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload
from suites.support.files import Stored, expect_present, file_path, get_meta, upload_ok
from suites.support.held_writes import WAIT_S, Sender, hold_and_cut
from suites.support.inspect import (
    SIDECAR_SUFFIX,
    consistency,
    expect_no_leftovers,
    expect_no_pending,
    interrupted_leftovers,
    private_se,
    sidecar_of,
    wait_until,
    wal_rows_of,
    wal_summary,
)

FILE_SIZE = 64 * 1024
BACK_WITHIN_S = 30.0  # readiness after PostgreSQL's return (SE-DUR-010's bound)
RESOLVED_WITHIN_S = 30.0  # WAL rows of the failed writes resolved after PostgreSQL's return


def served_after_restart(client_for: Any, restarted: SEHandle, tokens: TokenFactory, kept: Stored) -> Any:
    """Prepare: a file stored before the kill is still served after the restart (SE-DUR-001's rule). An SE
    that lost its store on the restart leaves every file without its row - not start-up recovery's failure."""
    user = client_for(restarted, tokens.user)
    with arrange("a file stored before the kill is still served after the restart"):
        expect_present(user, kept, req="SE-DUR-001", what="a file stored before the kill, after the restart")
    return user


def consistent_to_begin_with(service: Any) -> None:
    """Prepare: before the disruption, with every file stored plainly through the API, the report calls the
    store consistent (SE-CACHE-002's rule); where it does not, its is_consistent is no evidence about what
    the disruption left."""
    with arrange("the consistency report calls the store consistent before the disruption"):
        report = consistency(service, req="SE-CACHE-002")
        expect(report.get("is_consistent") is True, req="SE-CACHE-002", actual=report, expected="is_consistent true",
               what="consistency report of a store written through the API only")  # fmt: skip


def expect_recovered(service: Any, leftovers: dict[str, list[str]], during: str, recovered: str) -> None:
    """SE-DUR-004 after kill -9 during ``during`` and a restart: nothing left over, a consistent store."""
    expect_no_leftovers(leftovers, during=during, recovered=recovered)
    report = consistency(service, req="SE-DUR-004")
    expect(report.get("is_consistent") is True, req="SE-DUR-004", actual=report,
           what=f"consistency report after kill -9 during {during}, and a restart",
           expected=f"is_consistent true: {recovered}")  # fmt: skip


class CutWrites:
    """A PATCH and a DELETE of two files of their own, on an SE of the test's own."""

    def __init__(self, handle: SEHandle, pg: PostgresHandle, client_for: Any, tokens: TokenFactory) -> None:
        self.pg, self.tokens = pg, tokens
        self.view = DbView(pg.info, handle.prefix)
        self.user = client_for(handle, tokens.user)
        self.operator = client_for(handle, tokens.operator)
        try:
            self.patched = upload_ok(self.user, payload(FILE_SIZE), filename="patched.bin", description="before")
            self.doomed = upload_ok(self.user, payload(FILE_SIZE), filename="not-deleted.bin")
            consistent_to_begin_with(self.user.with_token(tokens.service))
        except BaseException:
            self.view.close()
            raise
        self.sender = Sender()
        self.calls: dict[str, Callable[[], httpx.Response]] = {
            "PATCH": lambda: self.user.patch(file_path(self.patched.file_id), json={"description": "after"}),
            "DELETE": lambda: self.operator.delete(file_path(self.doomed.file_id)),
        }

    def pending(self) -> list[dict[str, Any]]:
        ids = [self.patched.file_id, self.doomed.file_id]
        return [r for r in wal_rows_of(self.view, file_ids=ids) if r.get("status") == "pending"]

    def check(self, cut: str, *, grace_s: float = 0.0) -> None:
        """No row of theirs pending (after ``grace_s`` at most), failures rolled back, nothing changed."""
        sender = self.sender
        if grace_s:
            wait_until(lambda: not self.pending(), grace_s, 0.25)
        left = self.pending()
        expect(
            not left,
            req="SE-WAL-013",
            what=f"p_wal rows of a PATCH and a DELETE cut off from PostgreSQL ({cut}; answered "
            f"{sender.status('PATCH')} and {sender.status('DELETE')})"
            + (f", {grace_s:.0f}s after its return" if grace_s else ", once answered"),
            actual=wal_summary(left),
            expected="none pending: failures end rolled_back with an error_message",
        )
        writes = (("PATCH", self.patched.file_id, "file_update"), ("DELETE", self.doomed.file_id, "file_delete"))
        for what, fid, op in writes:
            status = sender.status(what)
            if status is None or status < 500:
                continue  # a success is SE-WAL-002/003's; a 4xx is SE-WAL-011's
            rows = [r for r in wal_rows_of(self.view, file_ids=[fid]) if r.get("operation_type") == op]
            expect(
                all(r.get("status") == "rolled_back" and r.get("error_message") for r in rows),
                req="SE-WAL-014",
                what=f"p_wal rows of the {what} answered {status} after it was cut off from PostgreSQL ({cut})",
                actual=wal_summary(rows),
                expected="none, or rolled_back with an error_message",
            )
        if sender.status("PATCH") not in range(200, 300):
            meta = get_meta(self.user, self.patched.file_id, what="the file whose PATCH failed")
            expect_equal(meta.get("description"), "before", req="SE-DUR-008",
                         what=f"description after the PATCH refused when cut off ({cut})")  # fmt: skip
        if sender.status("DELETE") not in range(200, 300):
            expect_present(self.user, self.doomed, req="SE-DUR-008", what=f"the file whose DELETE was refused ({cut})")
        report = consistency(self.user.with_token(self.tokens.service), req="SE-DUR-008")
        expect(
            report.get("is_consistent") is True,
            req="SE-DUR-008",
            what=f"consistency report after the refused PATCH and DELETE ({cut})",
            actual=report,
            expected="is_consistent true: the refused writes left sidecars and rows as they were",
        )


@pytest.mark.needs("db")
@pytest.mark.req("SE-WAL-013", "SE-WAL-014", "SE-DUR-008")
@pytest.mark.parametrize("cut", ["database-stopped", "connection-terminated"])
def test_writes_cut_off_from_their_database_are_rolled_back(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory, cut: str
) -> None:
    pg = lifecycle.private_database()
    writes = CutWrites(spawn_se(database=pg.info), pg, client_for, tokens)
    stop = cut == "database-stopped"
    try:
        try:
            hold_and_cut(pg, writes.view, writes.sender, writes.calls, (lambda _: pg.stop()) if stop else
                         (lambda holder: terminate_waiting(pg.info, holder)),
                         "PostgreSQL stops" if stop else "their backends are terminated")  # fmt: skip
        finally:
            if stop:
                pg.start()
        if stop:
            with arrange(f"the SE ready again within {BACK_WITHIN_S:.0f}s of PostgreSQL's return"):
                ready = writes.user.get
                back = wait_until(lambda: ready("/health/ready").status_code == 200, BACK_WITHIN_S, 0.25)
                expect(back, req="SE-DUR-010", what="readiness after PostgreSQL's return", expected="200",
                       resp=ready("/health/ready"))  # fmt: skip
        writes.check(cut, grace_s=RESOLVED_WITHIN_S if stop else 0.0)
    finally:
        writes.view.close()


@pytest.mark.needs("db")
@pytest.mark.req("SE-WAL-013", "SE-WAL-014", "SE-DUR-008")
def test_writes_cut_off_before_their_wal_commit_change_nothing(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    """The writes pass the files table and wait to mark their pending WAL rows committed (the test holds
    those rows locked, FOR UPDATE); then their backends are terminated. Refused, they must have changed
    nothing: a row change the SE had already committed apart from its WAL commit shows."""
    pg = lifecycle.private_database()
    writes = CutWrites(spawn_se(database=pg.info), pg, client_for, tokens)
    view, sender = writes.view, writes.sender
    ids = [writes.patched.file_id, writes.doomed.file_id]
    rows_lock = psycopg.connect(pg.info.dsn("postgresql"), connect_timeout=10)
    try:
        locked: list[Any] = []

        def lock_pending_rows(_: int) -> None:
            locked.extend(rows_lock.execute(
                sql.SQL("SELECT transaction_id FROM {} WHERE file_id::text = ANY(%s) AND status = 'pending' "
                        "FOR UPDATE").format(sql.Identifier(view.table("wal"))), (ids,)).fetchall())  # fmt: skip

        hold_and_cut(pg, view, sender, writes.calls, lock_pending_rows, "their pending WAL rows are locked", join=False)
        if len(locked) < len(ids):
            pytest.skip(f"inconclusive: {len(locked)} pending WAL rows of 2 writes waiting to change their rows")
        holder = rows_lock.info.backend_pid
        waiting = wait_until(lambda: waiting_for(pg.info, holder) >= len(ids), WAIT_S, 0.05)
        if waiting and not sender.answers:
            terminate_waiting(pg.info, holder)
        rows_lock.rollback()
        sender.join(timeout_s=40)
        if not waiting:  # they finished without their WAL rows (answered or not): nothing was cut
            pytest.skip("inconclusive: the writes did not wait for their locked pending WAL rows")
        writes.check("terminated while waiting to commit the WAL row")
    finally:
        with contextlib.suppress(psycopg.Error):
            rows_lock.close()
        sender.join(timeout_s=40)  # no request of the test outlives it
        view.close()


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-DUR-003", "SE-DUR-004")
def test_kill_9_while_an_upload_waits_for_its_row(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    pg, handle, storage, view = private_se(lifecycle, spawn_se)
    try:
        user = client_for(handle, tokens.user)
        kept = upload_ok(user, payload(FILE_SIZE), filename="before-the-kill.bin")
        consistent_to_begin_with(user.with_token(tokens.service))
        before = frozenset(storage.list_files())
        fid = new_uuid()
        sender = Sender()
        calls = {"upload": lambda: user.upload(payload(FILE_SIZE), filename="waits-for-its-row.bin", file_id=fid)}
        hold_and_cut(pg, view, sender, calls, lambda _: lifecycle.kill_se(handle), "the SE is killed")

        restarted = lifecycle.restart_se(handle)
        user = served_after_restart(client_for, restarted, tokens, kept)
        expect_no_pending(view, req="SE-DUR-003", what="p_wal once the SE restarted after kill -9 during an upload")
        leftovers = interrupted_leftovers(restarted.storage or storage, before=before, ids=(fid,), view=view)
        expect_recovered(
            user.with_token(tokens.service), leftovers, "an upload that waited for its row",
            "the interrupted upload rolled back (or completed) by start-up recovery",
        )  # fmt: skip
    finally:
        view.close()


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-DUR-003", "SE-DUR-004")
@pytest.mark.parametrize("files", ["in-place", "unlinked"])
def test_kill_9_while_a_delete_waits_for_its_row(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory, files: str
) -> None:
    pg, handle, storage, view = private_se(lifecycle, spawn_se)
    try:
        user = client_for(handle, tokens.user)
        kept = upload_ok(user, payload(FILE_SIZE), filename="kept.bin")
        doomed = upload_ok(user, payload(FILE_SIZE), filename="interrupted-delete.bin")
        consistent_to_begin_with(user.with_token(tokens.service))
        sidecar_rel, _, _ = sidecar_of(storage, get_meta(user, doomed.file_id))
        data_rel = sidecar_rel[: -len(SIDECAR_SUFFIX)]
        before = frozenset(storage.list_files()) - {sidecar_rel, data_rel}
        operator = client_for(handle, tokens.operator)
        sender = Sender()
        calls = {"DELETE": lambda: operator.delete(file_path(doomed.file_id))}
        hold_and_cut(pg, view, sender, calls, lambda _: lifecycle.kill_se(handle), "the SE is killed")
        if files == "unlinked":
            logged = [r for r in view.wal_rows(doomed.file_id)
                      if r.get("operation_type") == "file_delete" and r.get("status") == "pending"]  # fmt: skip
            if not logged:
                pytest.skip("inconclusive: the SE had recorded no pending file_delete row before it changes its row")
            with arrange("unlink data file and sidecar, as a crash after the DELETE unlinked them leaves them"):
                storage.remove(sidecar_rel)
                storage.remove(data_rel)

        restarted = lifecycle.restart_se(handle)
        user = served_after_restart(client_for, restarted, tokens, kept)
        expect_no_pending(view, req="SE-DUR-003", what="p_wal once the SE restarted after kill -9 during a DELETE")
        leftovers = interrupted_leftovers(restarted.storage or storage, before=before, ids=(doomed.file_id,),
                                          view=view)  # fmt: skip
        expect_recovered(
            user.with_token(tokens.service), leftovers, f"a DELETE (files {files})",
            "the interrupted DELETE undone or completed by start-up recovery",
        )  # fmt: skip
        resp = user.get(file_path(doomed.file_id))
        if files == "unlinked":
            expect_status(resp, 404, req="SE-DUR-004",
                          what="metadata of the file whose interrupted DELETE had unlinked its files")  # fmt: skip
        elif resp.status_code != 404:  # undone: then whole (completed: gone)
            expect_present(user, doomed, req="SE-DUR-004", what="the file whose interrupted DELETE was undone")
    finally:
        view.close()
