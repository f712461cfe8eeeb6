"""Everything a run starts is gone afterwards: after Ctrl-C, after a killed worker, after a killed run.

Each case runs pytest with the plugin in a subprocess, against a throw-away test file whose test starts
an SE and then waits, with its own state directory (SE_CONFORMANCE_STATE) so we can find exactly the
processes that run started: every one of them inherits that variable.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.docker_util import leftovers
from harness.runstate import sweep_local
from tests.docker_required import require_docker

SLOW_TEST = """
import time
from collections.abc import Iterator
import pytest

@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_hold(se, n):
    assert se.base_url.startswith("http://127.0.0.1:")
    time.sleep(60)
"""


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker.encode() in environ:
            found.append(int(entry.name))
    return found


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def run_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    # Under /tmp, not tmp_path: the postgres system user must be able to enter it.
    state = Path(tempfile.mkdtemp(prefix="se-conformance-cleanup-test-"))
    state.chmod(0o755)
    (tmp_path / "test_hold.py").write_text(SLOW_TEST)
    yield {**os.environ, "SE_CONFORMANCE_STATE": str(state)}
    shutil.rmtree(state, ignore_errors=True)


def start_run(tmp_path: Path, env: dict[str, str], target: str = "local") -> subprocess.Popen[bytes]:
    with (tmp_path / "run.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", str(tmp_path / "test_hold.py"), "--se-target", target, "-n", "2",
             "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path)],
            env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def ses_running(state: str) -> bool:
    # Two workers, each with its SE, plus PostgreSQL: wait until both SEs exist.
    return len([p for p in processes_with(state) if b"reference_service" in cmdline(p)]) >= 2


@pytest.mark.slow
def test_ctrl_c_leaves_nothing(tmp_path: Path, run_env: dict[str, str]) -> None:
    state = run_env["SE_CONFORMANCE_STATE"]
    run = start_run(tmp_path, run_env)
    wait_for(lambda: ses_running(state), 60, "the SEs of the run")
    run.send_signal(signal.SIGINT)
    run.wait(timeout=60)
    wait_for(lambda: not processes_with(state), 20, "every process of the run to end")


def xdist_workers(state: str, controller: int) -> list[int]:
    # execnet workers run `python -c <bootstrap>`: the run's pythons that are neither pytest nor an SE.
    return [p for p in processes_with(state) if p != controller and cmdline(p).startswith(sys.executable.encode())
            and b"reference_service" not in cmdline(p)]  # fmt: skip


@pytest.mark.slow
def test_killed_worker_is_cleaned_up_by_the_controller(tmp_path: Path, run_env: dict[str, str]) -> None:
    state = run_env["SE_CONFORMANCE_STATE"]
    run = start_run(tmp_path, run_env)
    wait_for(lambda: ses_running(state), 60, "the SEs of the run")
    workers = xdist_workers(state, run.pid)
    assert workers, "found the xdist workers"
    os.kill(workers[0], signal.SIGKILL)
    run.send_signal(signal.SIGINT)  # don't wait 4 minutes for the sleeping tests
    run.wait(timeout=90)
    wait_for(lambda: not processes_with(state), 20, "every process of the run to end")


@pytest.mark.slow
def test_killed_run_is_swept_by_the_next(
    tmp_path: Path, run_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state = run_env["SE_CONFORMANCE_STATE"]
    run = start_run(tmp_path, run_env)
    wait_for(lambda: ses_running(state), 60, "the SEs of the run")
    run.kill()
    run.wait(timeout=30)
    for pid in processes_with(state):  # kill -9 of a whole job: its workers too, but not the SEs (own sessions)
        if b"reference_service" not in cmdline(pid) and b"postgres" not in cmdline(pid):
            os.kill(pid, signal.SIGKILL)
    monkeypatch.setenv("SE_CONFORMANCE_STATE", state)
    wait_for(lambda: bool(sweep_local()) or not processes_with(state), 30, "the sweep")
    wait_for(lambda: not processes_with(state), 20, "every process of the killed run to end")


def se_containers(run_id: str) -> list[str]:
    return [line for line in leftovers(run_id) if line.startswith("container") and "-se-" in line]


@pytest.mark.slow
@pytest.mark.docker
def test_docker_run_killed_worker_and_ctrl_c_leave_no_container(tmp_path: Path, run_env: dict[str, str]) -> None:
    require_docker()
    state = Path(run_env["SE_CONFORMANCE_STATE"])
    run = start_run(tmp_path, run_env, target="docker")
    wait_for(lambda: any(state.iterdir()), 60, "the run's state directory")
    run_id = next(state.iterdir()).name
    wait_for(lambda: len(se_containers(run_id)) >= 2, 120, "the SE containers of both workers")
    workers = xdist_workers(str(state), run.pid)
    assert workers, "found the xdist workers"
    os.kill(workers[0], signal.SIGKILL)  # its SE container is now the controller's to remove
    run.send_signal(signal.SIGINT)
    run.wait(timeout=120)
    assert leftovers(run_id) == [], "containers, networks or volumes of the run are left"
    wait_for(lambda: not processes_with(str(state)), 20, "every process of the run to end")
