"""Throughput of the reference SE on this machine, against what the machine itself can do.

    .venv/bin/python bench/reference_throughput.py [--size-mib 1024] [--dir /var/tmp] [--seconds 10]

Prints, from one run:
  * raw sequential write: ``dd if=/dev/zero of=... bs=1M count=N conv=fsync``
  * loopback copy: the same file sent over a 127.0.0.1 TCP socket (sendfile) to a reader that drops it
  * SE upload of that file (multipart, streamed, fsynced by the SE) and SE download of it
  * the SE's RSS when idle and its peak during the transfers
  * 4 KiB uploads per second with 8 concurrent clients

Targets from issue 2: upload >= 50 % of raw write, download >= 50 % of loopback copy, RSS growth during
the 1 GiB transfer <= 64 MiB. Traffic goes to 127.0.0.1 only. Nothing here is a test: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
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

from harness.postgres.local import LocalPostgres  # noqa: E402
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp"), help="where data is written")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of the 4 KiB phase")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

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
