"""The url target against an SE started by hand, as README.md's url section describes.

The SE and its PostgreSQL are started here the way an operator would (not through a harness target);
the suite then runs against the URL with a read-only DSN, the storage path and the private key, and must
leave nothing of its own behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.net import free_port
from harness.postgres.local import LocalPostgres
from harness.runstate import kill_group, new_run_id
from harness.targets.launch import contract_env, wait_ready
from harness.tokens import TokenFactory

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "by_hand"
# A spread over the areas a url target can check: HTTP, database and storage inspection, and a
# lifecycle test that must come out unsupported.
REQS = "SE-FILE-001,SE-FILE-010,SE-FILE-033,SE-DB-004,SE-WAL-001,SE-SIDECAR-001,SE-MODE-003,SE-AUTH-002"


class HandStartedSE:
    def __init__(self, url: str, dsn: str, storage: Path, key: Path, tokens: TokenFactory) -> None:
        self.url, self.dsn, self.storage, self.key, self.tokens = url, dsn, storage, key, tokens


@pytest.fixture(scope="module")
def hand_started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HandStartedSE]:
    tmp = tmp_path_factory.mktemp("url-target")
    server = LocalPostgres(run_id=new_run_id(), name="pg-by-hand")
    database = server.start()
    tokens = TokenFactory()
    key = tmp / "jwt-private.pem"
    key.write_bytes(tokens.private_pem)
    public = tokens.write_public_key(tmp / "jwt-public.pem")
    storage = tmp / "storage"
    storage.mkdir()
    port = free_port()
    env = {**os.environ, **contract_env(host="127.0.0.1", port=port, mode="edit", database=database, prefix=PREFIX,
                                        storage_path=str(storage), capacity=1 << 30, element_id="by-hand",
                                        public_key_path=str(public))}  # fmt: skip
    with (tmp / "se.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "reference_service"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}/health/ready", alive=lambda: proc.poll() is None)
        yield HandStartedSE(f"http://127.0.0.1:{port}", database.dsn("postgresql"), storage, key, tokens)
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=10)
        server.destroy()


def run_suite(se: HandStartedSE, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "suites", "--se-target", "url", "--se-url", se.url,
           "--se-table-prefix", PREFIX, "--se-db-dsn", se.dsn, "--se-storage-path", str(se.storage),
           "--se-private-key", str(se.key), "--se-req", REQS, "-q", "-rs", "-p", "no:cacheprovider",
           *extra]  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_url_run_passes_reports_lifecycle_unsupported_and_leaves_nothing(hand_started: HandStartedSE) -> None:
    done = run_suite(hand_started, "-n", "0")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "unsupported: the url target" in done.stdout, "lifecycle tests are reported unsupported"
    listing = httpx.get(f"{hand_started.url}/api/v1/files", params={"limit": 100},
                        headers={"Authorization": f"Bearer {hand_started.tokens.user}"}).json()  # fmt: skip
    assert listing["total"] == 0, f"the run left files behind: {listing['files'][:3]}"
    data_files = [p for p in hand_started.storage.rglob("*") if p.is_file() and ".incoming" not in p.parts]
    assert data_files == [], f"the run left data on disk: {data_files[:3]}"


def test_url_run_refuses_parallel_workers(hand_started: HandStartedSE) -> None:
    done = run_suite(hand_started, "-n", "2")
    assert done.returncode == 4, done.stdout[-2000:]  # pytest's usage error; the CLI maps it to 2
    assert "shared by every worker" in done.stderr
