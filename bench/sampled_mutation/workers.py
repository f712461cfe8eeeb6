"""cosmic-ray's HTTP workers, each in its own copy of the repository, and ``run`` (exec, resumable).

cosmic-ray mutates the files under a worker's working directory in place, so every worker needs a copy
of its own: the repository without ``.git``, the venv and caches, with ``reference_service/`` replaced by
the session's snapshot. ``worker`` serves the engine's own mutate-and-test handler from such a copy;
``run`` starts N of them on free ports of 127.0.0.1 (plus any remote ``--worker-url``), runs
``cosmic-ray exec`` on the session's pending items and, whatever happens (Ctrl-C, SIGTERM), stops the
workers and their judges and removes the copies. Copies are temporary directories labelled
``se-cr-worker-``; one whose ``run`` died without cleaning up is cleaned by the next ``run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import aiohttp
import cosmic_ray.commands
import cosmic_ray.distribution.http as engine_http
from aiohttp import web
from cosmic_ray.config import ConfigDict
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkItem, WorkResult

from sampled_mutation.judge import NO_VERDICT, TIMEOUT
from sampled_mutation.operators import register
from sampled_mutation.paths import PACKAGE, REPO, SCRIPT, VERDICT_PREFIX, extract
from sampled_mutation.procs import alive, end, record, stop_judges
from tests.mutation.execution import forget_bytecode

COPY_PREFIX = "se-cr-worker-"
TOOL = ("bench/mutation_score.py", "bench/sampled_mutation")  # from the working tree: the tool in use
READY_S = 60.0
STOP_GRACE_S = 60.0
HTTP_MARGIN_S = 120.0  # the distributor waits this much longer than the engine's test timeout


# -- copies -------------------------------------------------------------------------------------------------
def make_copy(snapshot: Path, index: int | str) -> Path:
    """A labelled temporary copy: the repository at ``HEAD``, this tool, the snapshot's reference."""
    copy = Path(tempfile.mkdtemp(prefix=f"{COPY_PREFIX}{index}-"))
    copy.chmod(0o755)
    extract("HEAD", copy)
    shutil.rmtree(copy / PACKAGE)
    shutil.copytree(snapshot / PACKAGE, copy / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for path in TOOL:
        source, target = REPO / path, copy / path
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    record(copy / "owner.pid")
    return copy


def remove_copy(copy: Path) -> None:
    stop_judges(copy)
    forget_bytecode(copy)
    shutil.rmtree(copy, ignore_errors=True)


def sweep_stale() -> list[Path]:
    """Copies of ``run``\\s that died: end their worker and judges, remove them."""
    removed = []
    for copy in sorted(Path(tempfile.gettempdir()).glob(f"{COPY_PREFIX}*")):
        if not (copy / "owner.pid").exists() or alive(copy / "owner.pid") is not None:
            continue
        worker = alive(copy / "worker.pid")
        if worker is not None:
            end([worker], 5.0)
        remove_copy(copy)
        removed.append(copy)
    return removed


# -- the worker process -------------------------------------------------------------------------------------
def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


async def _serve(host: str, port: int) -> None:
    app = web.Application()
    app.add_routes([web.post("/", engine_http.handle_mutate_and_test)])  # the engine's own handler
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"cosmic-ray HTTP worker on http://{host}:{port}/ in {Path.cwd()}", flush=True)
    await asyncio.Event().wait()


def serve(copy: Path, host: str, port: int) -> int:
    """Serve cosmic-ray's mutate-and-test from ``copy`` until SIGINT/SIGTERM; then end its judges.

    The handler runs the test command synchronously: a signal interrupts it, the engine puts the mutated
    file back (``restore_contents``), and the judge (its own session) is ended by its pid record.
    """
    register()
    os.chdir(copy)
    record(copy / "worker.pid")
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        asyncio.run(_serve(host, port))
    except KeyboardInterrupt:
        pass
    finally:
        stop_judges(copy)
    return 0


def standalone(snapshot: Path, host: str, port: int) -> int:
    """``worker --snapshot``: a worker on a machine of its own, in a copy it makes and removes."""
    copy = make_copy(snapshot, f"p{port}")
    (copy / "owner.pid").unlink()  # this process owns it, not a run
    try:
        return serve(copy, host, port)
    finally:
        remove_copy(copy)


# -- run ----------------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join((str(Path(sys.executable).parent), env.get("PATH", "")))
    return env


def _wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the worker on port {port} exited {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker on port {port} did not listen within {READY_S:.0f}s")


@contextlib.contextmanager
def local_workers(snapshot: Path, count: int) -> Iterator[list[str]]:
    """``count`` workers in their own copies; their URLs. Everything is gone when the block ends."""
    started: list[tuple[Path, subprocess.Popen[bytes], int]] = []
    try:
        for index in range(count):
            copy = make_copy(snapshot, index)
            port = _free_port()
            log = copy / "worker.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, str(copy / SCRIPT.relative_to(REPO)), "worker", "--port", str(port),
                     "--in-place"],
                    cwd=copy, env=_env(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )  # fmt: skip
            started.append((copy, proc, port))
            _wait_listening(port, proc, log)
            print(f"worker {index}: http://127.0.0.1:{port} in {copy}", flush=True)
        yield [f"http://127.0.0.1:{port}" for _, _, port in started]
    finally:
        for _, proc, _ in started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)  # the worker ends its judge, then exits
        deadline = time.monotonic() + STOP_GRACE_S
        for copy, proc, _ in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                end([proc.pid], 1.0)
                proc.wait(timeout=10)
            remove_copy(copy)


async def _send_request(url: str, work_item: WorkItem, test_command: str, timeout: float) -> WorkResult:
    """The engine's ``send_request`` with a client timeout above the test timeout.

    cosmic-ray 8.7 leaves aiohttp's default (5 minutes in total): a suite run longer than that would come
    back as an abnormal result while the worker still runs it.
    """
    parameters = {
        "mutations": [
            {"module_path": str(m.module_path), "operator": m.operator_name, "occurrence": m.occurrence}
            for m in work_item.mutations
        ],
        "test_command": test_command,
        "timeout": timeout,
    }
    client_timeout = aiohttp.ClientTimeout(total=timeout + HTTP_MARGIN_S)
    async with aiohttp.request("POST", url, json=parameters, timeout=client_timeout) as resp:
        result = await resp.json()
        return WorkResult(worker_outcome=result["worker_outcome"], output=result["output"],
                          test_outcome=result["test_outcome"], diff=result["diff"])  # fmt: skip


def verdict_of(output: str | None) -> str | None:
    for line in (output or "").splitlines():
        if line.startswith(VERDICT_PREFIX):
            return line[len(VERDICT_PREFIX) :].strip()
    return None


def recorded(result: WorkResult) -> WorkResult:
    """A judge's *no verdict* is stored as the engine's *incompetent*, never as killed; so is a non-zero exit
    without a verdict line (the judge itself crashed). The engine's own timeout (output ``timeout``) stays."""
    verdict = verdict_of(result.output)
    unjudged = verdict == NO_VERDICT or (verdict is None and (result.output or "").strip() != "timeout")
    if result.test_outcome == TestOutcome.KILLED and unjudged:
        return WorkResult(worker_outcome=result.worker_outcome, output=result.output,
                          test_outcome=TestOutcome.INCOMPETENT, diff=result.diff)  # fmt: skip
    return result


def requeue(
    database: Path, *, no_verdict: bool, survivors: bool, jobs: Collection[str] = (), timeouts: bool = False
) -> int:
    """Drop results so ``exec`` runs those items again: transport failures always (no test ran); the
    no-verdict items, every survivor, the survivors among ``jobs`` (those reviewed test-added), the
    timeouts (the judge's, and the engine's own: output ``timeout``)."""
    # SQLAlchemy's Enum columns of the session store the members' names.
    outcomes = [WorkerOutcome.ABNORMAL.name, WorkerOutcome.EXCEPTION.name]
    tests = [TestOutcome.INCOMPETENT.name] if no_verdict else []
    tests += [TestOutcome.SURVIVED.name] if survivors else []
    with contextlib.closing(sqlite3.connect(database)) as db, db:
        marks = ",".join("?" * len(outcomes))
        cur = db.execute(f"DELETE FROM work_results WHERE worker_outcome IN ({marks})", outcomes)
        count = cur.rowcount
        if tests:
            marks = ",".join("?" * len(tests))
            count += db.execute(f"DELETE FROM work_results WHERE test_outcome IN ({marks})", tests).rowcount
        for job in jobs:
            sql = "DELETE FROM work_results WHERE job_id = ? AND test_outcome = ?"
            count += db.execute(sql, (job, TestOutcome.SURVIVED.name)).rowcount
        if timeouts:
            sql = "DELETE FROM work_results WHERE output = 'timeout' OR instr(output, ?) > 0"
            count += db.execute(sql, (f"{VERDICT_PREFIX}{TIMEOUT}\n",)).rowcount
    return count


def execute(db: WorkDB, config: ConfigDict, urls: list[str], progress: Callable[[str, WorkResult], None]) -> None:
    """``cosmic-ray exec`` on ``db`` with the HTTP distributor over ``urls``."""
    cfg = ConfigDict(config)
    cfg["distributor"] = ConfigDict({"name": "http", "http": ConfigDict({"worker-urls": list(urls)})})
    engine_http.send_request = _send_request
    store = db.set_result

    def set_result(job_id: str, result: WorkResult) -> None:
        result = recorded(result)
        store(job_id, result)
        progress(job_id, result)

    db.set_result = set_result
    try:
        cosmic_ray.commands.execute(db, cfg)
    finally:
        db.set_result = store


def baseline(config: ConfigDict, urls: list[str], scratch: Path) -> WorkResult:
    """The test command on the unmutated snapshot, through a worker (the engine's ``baseline``)."""
    path = scratch / "baseline.sqlite"
    path.unlink(missing_ok=True)
    with use_db(str(path)) as db:
        db.add_work_item(WorkItem(mutations=[], job_id="baseline"))
        execute(db, config, urls[:1], lambda _job, _result: None)
        result: WorkResult = next(iter(db.results))[1]
    path.unlink(missing_ok=True)
    return result


def describe(result: WorkResult) -> str:
    test = result.test_outcome.value if result.test_outcome else ""
    return verdict_of(result.output) or test or str(result.worker_outcome.value)


def pending_count(db: WorkDB) -> int:
    return db.num_work_items - db.num_results


def job_label(db: WorkDB) -> dict[str, str]:
    labels = {}
    for item in db.work_items:
        (m,) = item.mutations
        labels[item.job_id] = f"{m.module_path}:{m.start_pos[0]} {m.operator_name}#{m.occurrence}"
    return labels
