"""The local target talks only to the SE it started: a port taken by another process is noticed.

Real sockets and real processes: a listener of this test process stands for "another run's SE"; a tiny
HTTP server started by the local target stands for the SE (readiness 200 on SERVER_PORT).
"""

from __future__ import annotations

import os
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness import portowner
from harness.net import LOOPBACK, free_port
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.targets import local
from harness.targets.local import LocalLifecycle, PortTaken

# A stand-in SE: answers 200 on every path, on the port the launch contract gives it.
FAKE_SE = """
import os
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
HTTPServer(("127.0.0.1", int(os.environ["SERVER_PORT"])), H).serve_forever()
"""


class Other(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"other")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def other_se() -> Iterator[int]:
    """Somebody else's server, ready on a loopback port (in this process: not the SE's session)."""
    server = ThreadingHTTPServer((LOOPBACK, 0), Other)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_listener_pids_names_the_process_that_listens() -> None:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert portowner.listener_pids(port) == {os.getpid()}
        assert not portowner.port_taken_by_other(port, os.getsid(0))
        assert portowner.port_taken_by_other(port, session=-1)
    assert portowner.listener_pids(port) == set()


def test_without_proc_nobody_can_tell(tmp_path: Path) -> None:
    assert portowner.listener_pids(free_port(), proc=tmp_path) is None


def _lifecycle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalLifecycle:
    monkeypatch.setattr(local, "run_dir", lambda run_id: tmp_path)
    monkeypatch.setattr(local, "record_process", lambda *a: None)
    monkeypatch.setattr(local, "forget_process", lambda *a: None)
    database = PostgresInfo(host=LOOPBACK, port=1, user="u", password="p", database="d")
    return LocalLifecycle(run_id="rport", worker="main", profile=TargetProfile(), database=database,
                          public_key_path=tmp_path / "key.pem", command=[sys.executable, "-c", FAKE_SE])  # fmt: skip


def test_a_taken_port_is_retried_on_a_fresh_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_se: int) -> None:
    ports = iter([other_se])
    monkeypatch.setattr(local, "free_port", lambda: next(ports, None) or free_port())
    life = _lifecycle(tmp_path, monkeypatch)
    try:
        handle = life.start_se()
        assert handle.base_url != f"http://{LOOPBACK}:{other_se}"
        assert portowner.listener_pids(int(handle.private["port"])) == {handle.private["proc"].pid}
    finally:
        life.close()


def test_a_port_taken_every_time_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other_se: int
) -> None:
    monkeypatch.setattr(local, "free_port", lambda: other_se)
    life = _lifecycle(tmp_path, monkeypatch)
    try:
        with pytest.raises(PortTaken, match=f"port {other_se} .* held by a process the harness did not start"):
            life.start_se()
    finally:
        life.close()
