"""Offline image builds: idempotent, hashed, built without network, clear errors when a tool is missing.

With CI=true a missing engine FAILS the docker tests here: CI must never go green by skipping them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import docker_util
from harness.docker_util import client
from harness.errors import ConfigurationError, DockerUnavailable
from harness.images import ImageSet, ensure_images
from harness.images.common import LABEL_BUILD_NETWORK, build_dockerfile, content_hash, quiet_log, tag_for
from harness.images.rootfs import PYTHON_BASE, RootfsRecipe, _debootstrap_tarball
from harness.images.se import pinned_closure, runtime_requirements
from tests.docker_required import require_docker

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def images() -> ImageSet:
    require_docker()
    return ensure_images(log=quiet_log)


@pytest.mark.docker
def test_second_ensure_is_a_fast_no_op(images: ImageSet) -> None:
    lines: list[str] = []
    started = time.monotonic()
    again = ensure_images(log=lines.append)
    elapsed = time.monotonic() - started
    assert again == images
    assert not [line for line in lines if "building" in line or "debootstrap" in line], lines
    assert elapsed < 5, f"a warm ensure_images() took {elapsed:.1f}s"


@pytest.mark.docker
def test_tags_are_content_hashes(images: ImageSet) -> None:
    assert images.python_base == PYTHON_BASE.tag
    for tag in (images.python_base, images.postgres, images.se):
        repository, _, digest = tag.partition(":")
        assert repository.startswith("se-conformance/")
        assert len(digest) == 12
    assert PYTHON_BASE.tag != RootfsRecipe("python-base", include=("python3",)).tag


@pytest.mark.docker
def test_images_were_built_with_networking_off(images: ImageSet) -> None:
    for tag in (images.postgres, images.se):
        assert client().images.get(tag).labels.get(LABEL_BUILD_NETWORK) == "none", tag


@pytest.mark.docker
def test_build_steps_really_have_no_network(images: ImageSet) -> None:
    """What ``network_mode="none"`` means on this engine: RUN steps see the loopback interface only."""
    tag = tag_for("netcheck", content_hash(time.time()))
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "Dockerfile").write_text(
            "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nRUN echo ifaces: $(ls /sys/class/net)\n"
        )
        build_dockerfile(Path(tmp), tag, buildargs={"BASE_IMAGE": images.python_base}, labels={},
                         log=lines.append)  # fmt: skip
    client().images.remove(tag)
    assert any(line.strip() == "ifaces: lo" for line in lines), lines


@pytest.mark.docker
def test_se_image_has_every_runtime_dependency(images: ImageSet) -> None:
    out = client().containers.run(
        images.se,
        ["python", "-c", "import fastapi, uvicorn, sqlalchemy, psycopg, alembic, jwt, multipart, reference_service;"
         "import os; print(os.getuid())"],
        remove=True, network_mode="none",
    )  # fmt: skip
    assert out.decode().strip() == "10001", "the SE runs as its own non-root user"


@pytest.mark.docker
def test_module_entry_prints_the_tags(images: ImageSet) -> None:
    done = subprocess.run([sys.executable, "-m", "harness.images", "--quiet"], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"SE_CONFORMANCE_PYTHON_BASE_TAG={images.python_base}",
        f"SE_CONFORMANCE_POSTGRES_TAG={images.postgres}",
        f"SE_CONFORMANCE_SE_TAG={images.se}",
    ]


# -- no engine needed ------------------------------------------------------------------------------
def test_wheel_pins_cover_the_runtime_closure() -> None:
    pins = pinned_closure(runtime_requirements())
    names = {pin.split("==")[0].split("[")[0] for pin in pins}
    assert {"fastapi", "starlette", "pydantic-core", "psycopg-binary", "cryptography", "cffi"} <= names
    assert not {"pytest", "docker", "httpx"} & names, "harness-only packages stay out of the SE image"
    assert pins == sorted(pins) == pinned_closure(runtime_requirements()), "stable order, stable hash"


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    docker_util.reset_client()
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    yield
    docker_util.reset_client()


@pytest.mark.usefixtures("no_engine")
def test_no_engine_says_how_to_start_one() -> None:
    with pytest.raises(DockerUnavailable) as caught:
        ensure_images(log=quiet_log)
    message = str(caught.value)
    assert "no Docker engine answers" in message
    assert "unix:///nonexistent/docker.sock" in message
    assert "dockerd" in message
    assert "apt-get install -y docker.io" in message
    assert main_exit_code() == 2


def main_exit_code() -> int:
    from harness.images.__main__ import main

    return main(["--quiet"])


def test_missing_debootstrap_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("harness.images.rootfs.shutil.which", lambda _name: None)
    with pytest.raises(ConfigurationError, match="apt-get install -y debootstrap"):
        _debootstrap_tarball(PYTHON_BASE, tmp_path / "x.tar", quiet_log)
