"""Throughput of the reference SE on this machine, against what the machine itself can do.

    .venv/bin/python bench/reference_throughput.py [--size-mib 1024] [--dir /var/tmp] [--seconds 10]
    .venv/bin/python bench/reference_throughput.py --only small [--runs 5] [--baseline REV] [--profile OUT]

Prints, from one run:
  * raw sequential write: ``dd if=/dev/zero of=... bs=1M count=N conv=fsync``
  * loopback copy: the same file sent over a 127.0.0.1 TCP socket (sendfile) to a reader that drops it
  * SE upload of that file (multipart, streamed, fsynced by the SE) and SE download of it
  * the SE's RSS when idle and its peak during the transfers
  * 4 KiB uploads per second with 8 concurrent clients

Targets from issue 2: upload >= 50 % of raw write, download >= 50 % of loopback copy, RSS growth during
the 1 GiB transfer <= 64 MiB. Traffic goes to 127.0.0.1 only. Nothing here is a test: it prints figures.

``--only small`` measures the 4 KiB figure alone, ``--runs`` times, each on a fresh SE (own table prefix
and storage directory) against one PostgreSQL. ``--baseline REV`` (a git revision) adds the before/after
of issue 11 in one sitting: the reference package of REV (``git archive``) and of this checkout are run
alternately, baseline first in each round, and the medians and their ratio are printed. ``--profile
OUT`` samples the (current) SE with ``py-spy record`` during its first small run (``.svg``: flame graph,
``.txt``: collapsed stacks, ``.json``: speedscope).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.net import free_port  # noqa: E402
from harness.postgres.local import LocalPostgres  # noqa: E402
from harness.targets.launch import wait_ready  # noqa: E402
from tests.reference.jwt_helper import Tokens  # noqa: E402
from tests.reference.seproc import SEConfig, SEProcess  # noqa: E402

MIB = 1024 * 1024


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_source(path: Path, size: int) -> None:
    """Incompressible-looking data (a random MiB repeated with a counter), written once."""
    block = os.urandom(MIB)
    with open(path, "wb") as fh:
        for i in range(size // MIB):
            fh.write(i.to_bytes(8, "little") + block[8:])


def raw_write(directory: Path, mib: int) -> float:
    target = directory / "dd.bin"
    seconds = timed(lambda: subprocess.run(
        ["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={mib}", "conv=fsync"],
        check=True, capture_output=True,
    ))  # fmt: skip
    target.unlink()
    return seconds


def loopback_copy(source: Path) -> float:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    received = 0

    def drain() -> None:
        nonlocal received
        conn, _ = server.accept()
        buf = bytearray(MIB)
        with conn:
            while n := conn.recv_into(buf):
                received += n

    reader = threading.Thread(target=drain)
    reader.start()

    def send() -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock, open(source, "rb") as fh:
            sock.sendfile(fh)
        reader.join()

    seconds = timed(send)
    server.close()
    assert received == source.stat().st_size
    return seconds


def raw_upload(port: int, token: str, source: Path) -> tuple[float, str]:
    """Multipart upload over a plain socket with sendfile: measures the server, not an HTTP client."""
    size = source.stat().st_size
    head = (b'--BENCH\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n")  # fmt: skip
    tail = b"\r\n--BENCH--\r\n"
    request = (
        f"POST /api/v1/files/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=BENCH\r\nContent-Length: {len(head) + size + len(tail)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = b""

    def run() -> None:
        nonlocal answer
        with socket.create_connection(("127.0.0.1", port)) as sock, open(source, "rb") as fh:
            sock.sendall(request + head)
            sock.sendfile(fh)
            sock.sendall(tail)
            while chunk := sock.recv(65536):
                answer += chunk

    seconds = timed(run)
    status = answer.split(b"\r\n", 1)[0].decode()
    body = answer.split(b"\r\n\r\n", 1)[1].decode()
    if " 201 " not in status:
        raise RuntimeError(f"upload failed: {status} {body}")
    file_id = body.split('"file_id":"', 1)[1].split('"', 1)[0]
    return seconds, file_id


def raw_download(port: int, token: str, file_id: str, size: int) -> float:
    request = (f"GET /api/v1/files/{file_id}/download HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    total = 0

    def run() -> None:
        nonlocal total
        buf = bytearray(MIB)
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(request)
            while n := sock.recv_into(buf):
                total += n

    seconds = timed(run)
    if total < size:
        raise RuntimeError(f"download returned {total} bytes, expected {size} + headers")
    return seconds


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def small_uploads(se: SEProcess, token: str, clients: int, seconds: float) -> tuple[int, float]:
    payload = os.urandom(4096)
    count = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker() -> None:
        nonlocal count
        with httpx.Client(base_url=se.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            while time.monotonic() < deadline:
                r = c.post("/api/v1/files/upload", files={"file": (f"{uuid.uuid4()}.bin", payload)})
                r.raise_for_status()
                with lock:
                    count += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count, time.perf_counter() - start


class CheckoutSE(SEProcess):
    """The reference SE started from another checkout's ``reference_service`` (``cwd`` comes first on
    ``sys.path`` for ``python -m``, so that package is the one imported)."""

    def __init__(self, config: SEConfig, log_dir: Path, cwd: Path) -> None:
        super().__init__(config, log_dir)
        self.cwd = cwd

    def start(self, deadline_s: float = 30) -> SEProcess:
        if self.cwd == REPO:
            return super().start(deadline_s)
        self.config.port = self.config.port or free_port()
        self._starts += 1
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "reference_service"], env=self.config.env(), cwd=self.cwd,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        proc = self.proc
        wait_ready(self.url + "/health/ready", deadline_s=deadline_s, alive=lambda: proc.poll() is None,
                   logs=self.logs, what=f"SE {self.config.prefix}")  # fmt: skip
        return self


def export_reference(rev: str, dest: Path) -> Path:
    """The ``reference_service`` package of git revision ``rev``, unpacked under ``dest``."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "reference_service"],
                             check=True, capture_output=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def start_profiler(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    fmt = {".txt": "raw", ".json": "speedscope"}.get(out.suffix, "flamegraph")
    cmd = [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid), "--output", str(out),
           "--format", fmt, "--rate", "250", "--duration", str(int(seconds)), "--nonblocking"]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def small_only(args: argparse.Namespace) -> int:
    """The 4 KiB figure alone, ``--runs`` times; with ``--baseline``, before and after alternately."""
    work = Path(tempfile.mkdtemp(prefix="se-bench-", dir=args.dir))
    pg = LocalPostgres(name="pg-bench")
    try:
        tokens = Tokens(work)
        db = pg.start()
        sources = {"current": REPO}
        if args.baseline:
            sources = {"baseline": export_reference(args.baseline, work / "baseline"), **sources}
        results: dict[str, list[float]] = {name: [] for name in sources}
        print(f"machine: {os.cpu_count()} CPUs; {args.clients} clients, {args.seconds:g} s per run; "
              f"baseline {args.baseline or '-'}", flush=True)  # fmt: skip
        for run in range(1, args.runs + 1):
            for name, cwd in sources.items():
                prefix = f"bench_{name[0]}{run}"
                se = CheckoutSE(SEConfig(prefix=prefix, storage=work / prefix, key_path=tokens.public_key_path,
                                         db=db, capacity=64 * 1024**3), work, cwd)  # fmt: skip
                try:
                    se.start()
                    assert se.proc is not None
                    small_uploads(se, tokens.admin, args.clients, 1.0)  # warm-up: connections, imports
                    spy = None
                    if args.profile and name == "current" and run == 1:
                        spy = start_profiler(se.proc.pid, args.profile, args.seconds)
                    count, elapsed = small_uploads(se, tokens.admin, args.clients, args.seconds)
                    if spy is not None and spy.wait(timeout=60) != 0:
                        print(f"py-spy failed: {spy.stderr.read().decode() if spy.stderr else ''}")
                finally:
                    se.stop()
                results[name].append(count / elapsed)
                print(f"run {run} {name:8s} {count / elapsed:8.1f} uploads/s  ({count} in {elapsed:.1f} s)",
                      flush=True)  # fmt: skip
        medians = {name: statistics.median(rates) for name, rates in results.items()}
        for name, value in medians.items():
            samples = ", ".join(f"{r:.1f}" for r in results[name])
            print(f"median   {name:8s} {value:8.1f} uploads/s  ({samples})")
        if "baseline" in medians:
            print(f"ratio current / baseline: {medians['current'] / medians['baseline']:.2f}")
        return 0
    finally:
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where data is written")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the 4 KiB phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--only", choices=("all", "small"), default="all", help="small: the 4 KiB figure alone")
    parser.add_argument("--runs", type=int, default=1, help="with --only small: rounds of the 4 KiB figure")
    parser.add_argument("--baseline", metavar="REV", help="with --only small: also run REV's reference, alternately")
    parser.add_argument("--profile", type=Path, metavar="OUT", help="with --only small: py-spy record the SE")
    args = parser.parse_args()
    if args.only == "small":
        return small_only(args)
    if args.baseline or args.profile or args.runs != 1:
        parser.error("--runs, --baseline and --profile go with --only small")

    work = Path(tempfile.mkdtemp(prefix="se-bench-", dir=args.dir))
    pg = LocalPostgres(name="pg-bench")
    se: SEProcess | None = None
    try:
        size = args.size_mib * MIB
        source = work / "source.bin"
        make_source(source, size)
        tokens = Tokens(work)
        se = SEProcess(SEConfig(prefix="bench", storage=work / "storage", key_path=tokens.public_key_path,
                                db=pg.start(), capacity=4 * size), work).start()  # fmt: skip
        assert se.proc is not None
        token = tokens.admin

        dd_s = raw_write(work, args.size_mib)
        loop_s = loopback_copy(source)
        httpx.get(se.url + "/health/ready")
        idle_rss = psutil.Process(se.proc.pid).memory_info().rss
        with RssSampler(se.proc.pid) as rss:
            up_s, file_id = raw_upload(se.config.port, token, source)
            down_s = raw_download(se.config.port, token, file_id, size)
        count, small_s = small_uploads(se, token, args.clients, args.seconds)

        def rate(seconds: float) -> float:
            return size / MIB / seconds

        growth = (rss.peak - idle_rss) / MIB
        print(f"machine: {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.1f} GiB RAM; "
              f"data dir {args.dir}; file {args.size_mib} MiB")  # fmt: skip
        print(f"raw write (dd conv=fsync)     {rate(dd_s):8.1f} MiB/s")
        print(f"loopback copy (sendfile)      {rate(loop_s):8.1f} MiB/s")
        print(f"SE upload                     {rate(up_s):8.1f} MiB/s  ({100 * dd_s / up_s:5.1f} % of raw write; "
              "target >= 50 %)")  # fmt: skip
        print(f"SE download                   {rate(down_s):8.1f} MiB/s  ({100 * loop_s / down_s:5.1f} % of loopback; "
              "target >= 50 %)")  # fmt: skip
        print(f"SE RSS idle / peak            {idle_rss / MIB:8.1f} / {rss.peak / MIB:.1f} MiB  "
              f"(growth {growth:.1f} MiB; target <= 64 MiB)")  # fmt: skip
        print(f"4 KiB uploads, {args.clients} clients     {count / small_s:8.1f} uploads/s  "
              f"({count} in {small_s:.1f} s)")  # fmt: skip
        return 0
    finally:
        if se is not None:
            se.stop()
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
