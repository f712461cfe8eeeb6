"""Writes held on their SE's locked files table (a private PostgreSQL of the test's own), sent from threads.

``LOCK TABLE <p>_files IN EXCLUSIVE MODE`` lets reads of the table go on and makes every change of it wait:
a write that reads its row, records its ``pending`` WAL row and then changes the row is stopped right
there, deterministically (harness/postgres/locks.py). What the test does while they wait - cut them off,
kill the SE, or just let time pass - is its ``cut``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from harness.dbview import DbView
from harness.errors import HarnessError
from harness.ledger import Blocked
from harness.postgres.locks import tables_locked, waiting_for
from harness.targets.base import PostgresHandle
from suites.support.inspect import wait_until

WAIT_S = 10.0  # how long the writes get to reach the locked table


class Sender:
    """Requests sent from threads of their own, so that they can wait for the locked table."""

    def __init__(self) -> None:
        self.answers: dict[str, httpx.Response | None] = {}
        self.threads: list[threading.Thread] = []

    def send(self, what: str, call: Callable[[], httpx.Response]) -> None:
        def run() -> None:
            try:
                self.answers[what] = call()
            except Exception:  # the SE was killed under it, or the test ended (its client closed)
                self.answers[what] = None

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()

    def join(self, timeout_s: float) -> None:
        for thread in self.threads:
            thread.join(timeout=timeout_s)

    def status(self, what: str) -> int | None:
        resp = self.answers.get(what)
        return None if resp is None else resp.status_code


def hold_and_cut(
    pg: PostgresHandle, view: DbView, sender: Sender, calls: dict[str, Callable[[], httpx.Response]],
    cut: Callable[[int], object], what: str, *, join: bool = True,
) -> None:  # fmt: skip
    """Lock the files table against writes, send ``calls``, and once all of them wait for the lock (and none
    has answered) ``cut(holder)``; then release the lock (and, with ``join``, wait for the answers). Blocked
    when the writes never wait."""
    try:
        with tables_locked(pg.info, [view.table("files")], mode="EXCLUSIVE") as holder:
            for name, call in calls.items():
                sender.send(name, call)
            waiting = wait_until(lambda: waiting_for(pg.info, holder) >= len(calls), WAIT_S, 0.05)
            premise = waiting and not sender.answers
            cut(holder)
    except HarnessError as exc:
        raise Blocked(f"lock {view.table('files')} against writes", cause=str(exc)) from None
    if join or not premise:
        sender.join(timeout_s=40)
    if not premise:
        raise Blocked(
            f"{' and '.join(calls)} waiting for the locked {view.table('files')} when {what}",
            cause=f"all waiting: {waiting}; answered: { {k: sender.status(k) for k in sender.answers} }",
        )
