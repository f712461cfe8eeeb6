"""Hostile requests at the HTTP level against a running reference SE (issue 11), beyond schemathesis.

Hypothesis generates raw requests (huge numbers, NaN/Infinity, non-UTF-8 bodies under every content
type, broken multipart and chunked framing, hostile Range/If-* headers, hostile tokens) for every
endpoint group of the contract. Every exchange must: never be a 5xx, carry no raw CR/LF from the input in
a response header, answer within 5 s. Afterwards the SE is still ready and nothing is half-written (no
``*.tmp*`` sidecar temp, nothing in ``.incoming``, no pending WAL row).

Seeded (a fixed seed per part: the same requests every run, so a failure reproduces) and bounded: the
parts together send ``sum(EXAMPLES.values())`` requests. A longer, randomly seeded run:
``bench/fuzz_reference.py --requests N``.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from tests.reference.conftest import SEFactory
from tests.reference.helpers import query
from tests.reference.hostile_fuzz import Fuzzer
from tests.reference.hostile_http import RawRequest
from tests.reference.hostile_requests import request
from tests.reference.jwt_helper import Tokens
from tests.reference.seproc import SEProcess

# Requests per part; at least 2000 in total per run (issue 11). A part is "<endpoint group>[-n]": the
# files group is the costliest (uploads fsync), so it is split in two parts with their own seeds, which
# xdist can run on different workers.
EXAMPLES = {"files-1": 500, "files-2": 500, "public": 350, "gc": 350, "cache": 300}
MAX_REPORTED = 15


@pytest.fixture(scope="module")
def hostile_se(se_factory: SEFactory) -> SEProcess:
    # A modest capacity, so that some uploads also take the 507 paths.
    return se_factory("hfuzz", capacity=48 * 1024 * 1024)


@pytest.fixture(scope="module")
def fuzzer(hostile_se: SEProcess, tokens: Tokens) -> Fuzzer:
    fuzzer = Fuzzer(hostile_se.url, hostile_se.config.storage, tokens)
    fuzzer.seed()
    return fuzzer


def pending_rows(db: psycopg.Connection[Any], se: SEProcess) -> int:
    deadline = time.monotonic() + 5
    while True:  # an upload whose client has just gone may still be winding down
        n = int(query(db, f"SELECT count(*) AS n FROM {se.config.prefix}_wal WHERE status = 'pending'")[0]["n"])
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


def run_group(fuzzer: Fuzzer, part: str, examples: int, run_seed: int | None = None) -> None:
    """Send ``examples`` requests of the part's endpoint group, seeded from the part's name by default."""

    @seed(zlib.crc32(part.encode()) if run_seed is None else run_seed)  # fixed: the same requests every run
    @given(req=request(part.split("-")[0]))
    @settings(
        max_examples=examples,
        database=None,  # no .hypothesis/ directory in the repository
        deadline=None,  # the 5 s answer rule is checked per exchange instead
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking against a live server: every violation is recorded
    )
    def run(req: RawRequest) -> None:
        fuzzer.send(req)

    run()


@pytest.mark.slow
@pytest.mark.parametrize("part", list(EXAMPLES))
def test_hostile_requests(db: psycopg.Connection[Any], hostile_se: SEProcess, fuzzer: Fuzzer, part: str) -> None:
    sent_before, failures_before = fuzzer.sent, len(fuzzer.failures)
    run_group(fuzzer, part, EXAMPLES[part])
    sent = fuzzer.sent - sent_before
    failures = fuzzer.failures[failures_before:]
    print(f"{part}: {sent} requests, {fuzzer.summary()}")
    assert sent >= 0.95 * EXAMPLES[part], f"only {sent} requests generated"
    assert failures == [], f"{len(failures)} bad exchanges:\n" + "\n".join(failures[:MAX_REPORTED])
    assert fuzzer.aftermath(pending_rows(db, hostile_se)) == []
