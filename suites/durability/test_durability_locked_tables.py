"""kill -9 while the SE's tables are locked, then a restart: the crash lands where an upload waits for its
database — deterministically.

The burst of ``test_durability_crash`` kills an SE wherever its uploads happen to be. An SE that places
an upload's files *before* it records anything (no pending WAL row, no cache row) leaves files that its
start-up recovery cannot know of, but only when the kill lands in that window. Here the test holds ACCESS
EXCLUSIVE locks on every table carrying the SE's prefix (its private PostgreSQL, nobody else's), sends one
upload and waits until the SE stops changing the storage: every statement of the SE on its tables waits,
so the upload is stopped right where it needs its database first. A correct SE has stored nothing it
cannot account for (at most a temporary file, which start-up removes); a disk-first SE has placed the
files. Then kill -9, the locks released, a restart on the same prefix, database and storage.

Bounded: the storage is watched for at most 3 s; locks wait at most 10 s.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import httpx
import pytest

from harness.errors import HarnessError
from harness.ledger import Blocked
from harness.postgres.locks import tables_locked
from harness.storage_view import StorageView
from harness.targets.base import Lifecycle
from harness.tokens import TokenFactory
from suites.support.data import new_uuid, payload
from suites.support.inspect import expect_no_leftovers, interrupted_leftovers, private_se

FILE_SIZE = 256 * 1024
WATCH_S = 3.0  # how long the storage is watched for the waiting upload's files
QUIET_S = 0.5  # ... and how long it must stay unchanged to count as settled


def _settle(storage: StorageView, before: frozenset[str]) -> None:
    """Wait until files appeared and stayed unchanged for ``QUIET_S``, or ``WATCH_S`` passed.

    A correct SE writes nothing while it waits for its tables (or just a temporary file): the full
    ``WATCH_S`` is spent. A disk-first SE has placed its files within milliseconds.
    """
    deadline = time.monotonic() + WATCH_S
    seen, since = frozenset[str](), time.monotonic()
    while time.monotonic() < deadline:
        now = frozenset(storage.list_files()) - before
        if now != seen:
            seen, since = now, time.monotonic()
        elif seen and time.monotonic() - since >= QUIET_S:
            return
        time.sleep(0.05)


@pytest.mark.needs("db", "fs")
@pytest.mark.req("SE-DUR-004")
def test_kill_9_while_an_upload_waits_for_its_tables(
    lifecycle: Lifecycle, spawn_se: Any, client_for: Any, tokens: TokenFactory
) -> None:
    pg, handle, storage, view = private_se(lifecycle, spawn_se)
    try:
        tables = view.prefixed_tables()
        before = frozenset(storage.list_files())
        fid = new_uuid()
        answered = threading.Event()

        def upload() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the SE was killed under it, as intended
                client_for(handle, tokens.user).upload(payload(FILE_SIZE), filename="locked-out.bin", file_id=fid)
            answered.set()

        try:
            with tables_locked(pg.info, tables):
                sender = threading.Thread(target=upload, daemon=True)
                sender.start()
                _settle(storage, before)
                premise = not answered.is_set()
                lifecycle.kill_se(handle)
        except HarnessError as exc:
            raise Blocked(f"lock the SE's tables {', '.join(tables)}", cause=str(exc)) from None
        sender.join(timeout=30)
        if not premise:
            # It answered without its tables (say, a lock timeout and an error): nothing was interrupted, so
            # what it left is the rules' of refused uploads (SE-DUR-008), not start-up recovery's.
            raise Blocked("an upload still waiting for the SE's locked tables when the SE is killed")

        restarted = lifecycle.restart_se(handle)
        leftovers = interrupted_leftovers(restarted.storage or storage, before=before, ids=(fid,), view=view)
        expect_no_leftovers(
            leftovers,
            during="an upload that waited for its tables",
            recovered="the interrupted upload rolled back (or completed) by start-up recovery",
        )
    finally:
        view.close()
