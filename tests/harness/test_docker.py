"""Docker plumbing against the real engine: PostgreSQL container, SE containers, storage view, sweep.

The SE here is a stub (a 30-line HTTP server on the offline python base), so these tests check the
harness's container mechanics whatever state the reference service is in; the reference image itself
is exercised by the conformance suite on the docker target.

With CI=true a missing engine FAILS these tests: CI must never go green by skipping them.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import httpx
import psycopg
import pytest

from harness.docker_util import (
    FREEZE_ROLE,
    LABEL_PID,
    LABEL_PID_START,
    LABEL_PROJECT,
    LABEL_ROLE,
    LABEL_RUN,
    client,
    create_network,
    create_volume,
    labels,
    leftovers,
    sweep,
)
from harness.errors import TargetNotReady
from harness.images import resolve_base_image, resolve_postgres_image
from harness.images.common import build_dockerfile, content_hash, quiet_log, tag_for
from harness.postgres.docker import DockerPostgres
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.runstate import new_run_id
from harness.targets.base import SEHandle
from harness.targets.docker import STORAGE_PATH, DockerLifecycle, DockerRun, DockerTarget
from harness.targets.docker.freeze import LABEL_VOLUME, freeze_volume
from tests.docker_required import require_docker

pytestmark = pytest.mark.docker

STUB_SE = r"""
import json, os, sys, pathlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
mode = os.environ.get("APP_MODE", "")
if mode not in ("edit", "rw", "ro", "ar"):
    print(f"APP_MODE={mode!r} is invalid: allowed edit, rw, ro, ar", flush=True)
    sys.exit(2)
base = pathlib.Path(os.environ["STORAGE_LOCAL_BASE_PATH"])
(base / "marks").mkdir(exist_ok=True)
(base / "marks" / f"started-{mode}").write_text(os.environ["DB_TABLE_PREFIX"])
key = pathlib.Path(os.environ["JWT_PUBLIC_KEY_PATH"]).read_text()
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"status": "ready", "mode": mode, "key": key, "env": dict(os.environ)}).encode()
        self.send_response(200 if self.path == "/health/ready" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("stub SE listening", flush=True)
ThreadingHTTPServer((os.environ["SERVER_HOST"], int(os.environ["SERVER_PORT"])), H).serve_forever()
"""
STUB_DOCKERFILE = """
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY stub.py /stub.py
RUN echo "se:x:10001:10001::/:/usr/sbin/nologin" >> /etc/passwd \\
 && mkdir -p /data/storage && chown 10001:10001 /data/storage
USER 10001:10001
CMD ["python3", "/stub.py"]
"""
SE_UID = 10001
PUBLIC_KEY = b"-----BEGIN PUBLIC KEY-----\nstub\n-----END PUBLIC KEY-----\n"


@pytest.fixture(scope="module", autouse=True)
def _docker_engine() -> None:
    require_docker()


@pytest.fixture(scope="module")
def stub_image() -> str:
    base = resolve_base_image(log=quiet_log)
    tag = tag_for("stub-se", content_hash(base, STUB_SE, STUB_DOCKERFILE))
    try:
        client().images.get(tag)
    except docker.errors.ImageNotFound:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "stub.py").write_text(STUB_SE)
            Path(tmp, "Dockerfile").write_text(STUB_DOCKERFILE)
            build_dockerfile(Path(tmp), tag, buildargs={"BASE_IMAGE": base}, labels={}, log=quiet_log)
    return tag


@pytest.fixture(scope="module")
def run() -> Iterator[dict[str, object]]:
    """A run's shared part, as the controller makes it (network + PostgreSQL container)."""
    run_id = new_run_id()
    docker_run = DockerRun(run_id=run_id, image="unused", log=quiet_log)
    docker_run.network = create_network(run_id)
    docker_run.postgres = DockerPostgres(image=resolve_postgres_image(log=quiet_log), network=docker_run.network,
                                         run_id=run_id)  # fmt: skip
    info = docker_run.postgres.start()
    yield {"run_id": run_id, "network": docker_run.network, "database": info, "pg": docker_run.postgres}
    docker_run.stop()
    assert not leftovers(run_id), "DockerRun.stop() removes everything labelled with the run"


@pytest.fixture
def lifecycle(run: dict[str, object], stub_image: str) -> Iterator[DockerLifecycle]:
    database = run["database"]
    assert isinstance(database, PostgresInfo)
    cycle = DockerLifecycle(
        run_id=str(run["run_id"]), worker="gw9", profile=TargetProfile(), network=str(run["network"]),
        database=database, image=stub_image, postgres_image=resolve_postgres_image(log=quiet_log),
        public_key_pem=PUBLIC_KEY,
    )  # fmt: skip
    yield cycle
    cycle.close()


def ready(se: SEHandle) -> dict[str, object]:
    resp = httpx.get(se.base_url + "/health/ready", timeout=5)
    assert resp.status_code == 200
    body = resp.json()
    assert isinstance(body, dict)
    return body


# -- PostgreSQL ------------------------------------------------------------------------------------
def test_postgres_answers_sql_and_keeps_data_and_port_across_restart(run: dict[str, object]) -> None:
    pg = run["pg"]
    assert isinstance(pg, DockerPostgres)
    info = pg.info
    assert info.host == "127.0.0.1"
    assert info.internal_host == pg.name
    assert info.internal_port == 5432
    with psycopg.connect(info.dsn("postgresql")) as conn:
        row = conn.execute("SHOW server_encoding").fetchone()
        assert row == ("UTF8",), "a SQL_ASCII database makes drivers return bytes"
        conn.execute("CREATE TABLE IF NOT EXISTS kept (x int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    pg.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(info.dsn("postgresql"), connect_timeout=2)
    started = time.monotonic()
    again = pg.start()
    assert time.monotonic() - started < 10
    assert again == info, "same address after a restart: SEs and the DB view reconnect by themselves"
    with psycopg.connect(again.dsn("postgresql")) as conn:
        assert conn.execute("SELECT x FROM kept").fetchone() == (42,)


def test_postgres_port_is_published_on_loopback_only(run: dict[str, object]) -> None:
    pg = run["pg"]
    assert isinstance(pg, DockerPostgres)
    pg.container.reload()
    bindings = pg.container.attrs["NetworkSettings"]["Ports"]["5432/tcp"]
    assert {b["HostIp"] for b in bindings} == {"127.0.0.1"}


# -- SE containers ---------------------------------------------------------------------------------
def test_se_gets_the_launch_contract_and_the_key(lifecycle: DockerLifecycle, run: dict[str, object]) -> None:
    se = lifecycle.start_se(mode="edit", capacity=12345)
    body = ready(se)
    env = body["env"]
    assert isinstance(env, dict)
    assert body["key"] == PUBLIC_KEY.decode()
    assert env["DB_HOST"] == run["pg"].name  # type: ignore[attr-defined]
    assert env["DB_PORT"] == "5432"
    assert env["DB_TABLE_PREFIX"] == se.prefix == f"{run['run_id']}_gw9_s1"
    assert env["STORAGE_MAX_SIZE"] == "12345"
    assert env["STORAGE_LOCAL_BASE_PATH"] == STORAGE_PATH
    assert se.base_url.startswith("http://127.0.0.1:")
    assert "stub SE listening" in se.logs()


def test_restart_in_another_mode_keeps_the_storage(lifecycle: DockerLifecycle) -> None:
    se = lifecycle.start_se(mode="edit")
    assert se.storage is not None
    se.storage.write_bytes("2026/01/02/03/planted.bin", b"\x00v1 sidecar")
    again = lifecycle.restart_se(se, mode="ro")
    assert again.mode == "ro"
    assert again.prefix == se.prefix
    assert ready(again)["mode"] == "ro"
    assert again.storage is not None
    expected = ["2026/01/02/03/planted.bin", "marks/started-edit", "marks/started-ro"]
    assert again.storage.list_files() == expected
    assert se.storage.list_files() == expected, "a view held before the restart follows the volume"
    assert again.storage.read_bytes("marks/started-ro") == se.prefix.encode()


def test_storage_view_plants_files_the_se_user_owns(lifecycle: DockerLifecycle) -> None:
    se = lifecycle.start_se()
    view = se.storage
    assert view is not None
    view.write_bytes("a/b/c/x.attr.json", b'{"v": 1}')
    assert view.exists("a/b/c/x.attr.json")
    assert not view.exists("a/b/c/missing")
    assert view.read_bytes("a/b/c/x.attr.json") == b'{"v": 1}'
    container = lifecycle.container_of(se).container
    code, out = container.exec_run(["stat", "-c", "%u:%g", f"{STORAGE_PATH}/a", f"{STORAGE_PATH}/a/b/c/x.attr.json"])
    assert code == 0
    assert out.decode().split() == [f"{SE_UID}:{SE_UID}"] * 2, "the SE can rewrite what we plant"
    view.remove("a/b/c/x.attr.json")
    assert not view.exists("a/b/c/x.attr.json")
    with pytest.raises(FileNotFoundError):
        view.read_bytes("a/b/c/x.attr.json")
    with pytest.raises(ValueError, match="outside"):
        view.read_bytes("../../etc/passwd")


def test_kill_is_sigkill_and_storage_stays_readable(lifecycle: DockerLifecycle) -> None:
    se = lifecycle.start_se()
    assert se.storage is not None
    se.storage.write_bytes("half-written.tmp123", b"x")
    lifecycle.kill_se(se)
    container = lifecycle.container_of(se).container
    container.reload()
    assert container.status == "exited"
    assert container.attrs["State"]["ExitCode"] == 137
    # No process runs now: listing walks the archive, removal uses a throw-away container.
    assert "half-written.tmp123" in se.storage.list_files()
    assert se.storage.read_bytes("half-written.tmp123") == b"x"
    se.storage.remove("half-written.tmp123")
    assert not se.storage.exists("half-written.tmp123")


WRITE_PROBE = ["python3", "-c", f"open('{STORAGE_PATH}/probe.bin', 'w').close()"]


def _freezers(run_id: str) -> list[Any]:
    found = client().containers.list(all=True, filters={"label": [f"{LABEL_RUN}={run_id}",
                                                                  f"{LABEL_ROLE}={FREEZE_ROLE}"]})  # fmt: skip
    return list(found)


def test_frozen_storage_is_unwritable_until_thawed(lifecycle: DockerLifecycle, run: dict[str, object]) -> None:
    se = lifecycle.start_se()
    container = lifecycle.container_of(se).container
    lifecycle.freeze_storage(se)
    try:
        code, out = container.exec_run(WRITE_PROBE)
        assert code != 0, out
        assert b"Operation not permitted" in out, out
        (helper,) = _freezers(str(run["run_id"]))
        assert helper.labels[LABEL_VOLUME] == se.private["volume"]
        assert helper.attrs["HostConfig"]["NetworkMode"] == "none"
        assert "CAP_LINUX_IMMUTABLE" not in str(container.attrs["HostConfig"].get("CapAdd")), "the SE gets no cap"
    finally:
        lifecycle.thaw_storage(se)
    assert _freezers(str(run["run_id"])) == [], "the helper goes with the freeze"
    code, out = container.exec_run(WRITE_PROBE)
    assert code == 0, out


def test_sweep_removes_a_volume_a_killed_run_left_frozen() -> None:
    run_id = new_run_id()
    volume = create_volume(run_id, "storage")
    freeze_volume(image=resolve_postgres_image(log=quiet_log), run_id=run_id, volume=volume)
    with pytest.raises(docker.errors.APIError):
        client().volumes.get(volume).remove(force=True)  # what the flag does to a plain removal
    removed = sweep(run_id)
    assert any(line.startswith("volume ") for line in removed), removed
    assert not leftovers(run_id)


def test_not_ready_error_carries_the_log_tail(lifecycle: DockerLifecycle) -> None:
    with pytest.raises(TargetNotReady) as caught:
        lifecycle.start_se(extra_env={"APP_MODE": "bogus"})
    message = str(caught.value)
    assert "exited" in message
    assert "APP_MODE='bogus' is invalid" in message, "the SE's own complaint is in the error"


def test_private_database_is_separate_and_restartable(lifecycle: DockerLifecycle, run: dict[str, object]) -> None:
    private = lifecycle.private_database()
    assert private.info.internal_host != run["pg"].name  # type: ignore[attr-defined]
    with psycopg.connect(private.info.dsn("postgresql")) as conn:
        conn.execute("CREATE TABLE mine (x int)")
    private.stop()
    private.start()
    with psycopg.connect(private.info.dsn("postgresql")) as conn:
        assert conn.execute("SELECT count(*) FROM mine").fetchone() == (0,)


def test_target_from_the_controllers_dict(run: dict[str, object], stub_image: str, tmp_path: Path) -> None:
    key = tmp_path / "jwt-public.pem"
    key.write_bytes(PUBLIC_KEY)
    database = run["database"]
    assert isinstance(database, PostgresInfo)
    shared = {
        "run_id": run["run_id"],
        "public_key_path": str(key),
        "database": database.to_dict(),
        "docker": {"network": run["network"], "se_image": stub_image,
                   "postgres_image": resolve_postgres_image(log=quiet_log)},
    }  # fmt: skip
    target = DockerTarget(shared=shared, worker="gw7", profile=TargetProfile())
    try:
        assert target.kind == "docker"
        assert target.facilities == {"db", "fs", "lifecycle"}
        main = target.main_se()
        assert target.main_se() is main
        assert ready(main)["mode"] == "edit"
        assert target.describe()["image"] == stub_image
    finally:
        target.close()
    assert not [c for c in client().containers.list(all=True, filters={"label": f"{LABEL_RUN}={run['run_id']}"})
                if c.labels.get("se-conformance.se", "").startswith("se-gw7")]  # fmt: skip


# -- labels and sweep ------------------------------------------------------------------------------
def test_everything_is_labelled_and_sweep_removes_a_run(stub_image: str) -> None:
    run_id = new_run_id()
    network = create_network(run_id)
    volume = create_volume(run_id, "storage")
    container = client().containers.create(stub_image, labels=labels(run_id, "se"), network=network,
                                           volumes={volume: {"bind": STORAGE_PATH}})  # fmt: skip
    found = leftovers(run_id)
    assert len(found) == 3, found
    for obj_labels in (container.labels, client().networks.get(network).attrs["Labels"],
                       client().volumes.get(volume).attrs["Labels"]):  # fmt: skip
        assert obj_labels[LABEL_PROJECT] == "1"
        assert obj_labels[LABEL_RUN] == run_id
        assert obj_labels[LABEL_PID] == str(os.getpid())
    assert sweep() == [] or all(run_id not in line for line in sweep()), "a live run is not a leftover"
    removed = sweep(run_id)
    assert len(removed) == 3
    assert not leftovers(run_id)


@pytest.mark.parametrize(
    "creator",
    [{LABEL_PID: "999999999"}, {LABEL_PID: str(os.getpid()), LABEL_PID_START: "1"}],
    ids=["pid-gone", "pid-reused"],
)
def test_sweep_without_run_removes_what_a_dead_process_left(creator: dict[str, str]) -> None:
    run_id = new_run_id()
    client().networks.create(f"se-conformance-{run_id}-dead", labels=labels(run_id, "network", creator))
    assert any(run_id in line for line in leftovers())
    removed = sweep()
    assert any(run_id in line for line in removed)
    assert not leftovers(run_id)
