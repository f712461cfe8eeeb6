"""``serve``, ``list`` and ``doctor`` for real."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest

from harness.net import free_port
from tests.cli.conftest import FAKE_SUITE, Cli

pytestmark = pytest.mark.slow


def test_serve_prints_what_to_paste_and_stops_cleanly(cli: Cli) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--prefix", "manual"], cwd=cli.workdir,
                            env=cli.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout

    def read_lines() -> None:
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read_lines, daemon=True)
    reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not any("Ctrl-C stops" in ln for ln in seen):
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            assert proc.poll() is None, "".join(seen)
    text = "".join(seen)
    try:
        url = re.search(r"URL:\s+(http://127\.0\.0\.1:\d+)", text)
        token = re.search(r"export SE_TOKEN=(\S+)", text)
        assert url, text
        assert token, text
        assert "table prefix: manual" in text
        assert "DSN:          postgresql://" in text
        assert "se-conformance run --target url" in text
        info = httpx.get(url.group(1) + "/api/v1/info", timeout=10)
        assert info.status_code == 200
        listed = httpx.get(url.group(1) + "/api/v1/files", headers={"Authorization": f"Bearer {token.group(1)}"},
                           timeout=10)  # fmt: skip
        assert listed.status_code == 200, listed.text
        assert cli.live(), "the SE and PostgreSQL are running"
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
        reader.join(timeout=10)
        proc.stdout.close()
    rest = "".join(list(lines.queue))
    assert code == 0, text + rest
    assert "nothing left running" in rest
    assert not cli.live()


def test_list_collects_without_starting_anything(cli: Cli) -> None:
    result = cli("list", "--suite", str(FAKE_SUITE), "--json")
    assert result.code == 0, result
    data = json.loads(result.stdout)
    by_name = {t["nodeid"].rsplit("::", 1)[-1]: t for t in data["tests"]}
    assert len(by_name) == 6
    assert by_name["test_ranges_are_announced"]["capabilities"] == ["range"]
    assert by_name["test_info_has_a_version"]["requirements"] == ["SE-SVC-005"]
    assert data["areas"]["service"]["tests"]["core"] == 5
    text = cli("list", "--suite", str(FAKE_SUITE), "--requirements", "--tests")
    assert text.code == 0, text
    assert "SE-SVC-005" in text.stdout
    assert "tests per profile" in text.stdout
    assert not cli.live()


def test_doctor_reports_and_sweeps(cli: Cli) -> None:
    # A run "killed" earlier: its owner is gone, one of its processes still runs.
    dead = subprocess.Popen(["true"])
    dead.wait()
    sleeper = subprocess.Popen(["sleep", "120"], start_new_session=True)
    leftover = cli.state / "rdead01"
    (leftover / "procs").mkdir(parents=True)
    (leftover / "owner.pid").write_text(str(dead.pid))
    (leftover / "procs" / "se-rdead01_gw0.pid").write_text(str(sleeper.pid))
    try:
        result = cli("doctor", "--sweep")
        assert "PostgreSQL server binaries" in result.stdout
        assert "process se-rdead01_gw0" in result.stdout
        assert sleeper.wait(timeout=10) is not None
        assert not leftover.exists()
        assert result.code in (0, 2), result
        assert ("local target: ready" in result.stdout) == (result.code == 0 or "docker target: ready" in result.stdout)
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
    unreachable = cli("doctor", "--url", f"http://127.0.0.1:{free_port()}")
    assert unreachable.code == 2, unreachable
    assert "did not answer" in unreachable.stdout
    assert "url target: NOT ready" in unreachable.stdout
