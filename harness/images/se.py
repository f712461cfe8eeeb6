"""The reference SE image, built from ``reference_service/Dockerfile`` without network.

Wheels are downloaded on the host (which reaches PyPI) into a cache and copied into a small, temporary
build context with the service's source; the ``RUN pip install --no-index`` step runs with networking
off. The versions are those installed in the harness's own environment, so the image runs exactly what
the local target runs, and the tag (a hash of Dockerfile, source, pinned wheel list and base image)
changes whenever one of them does.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.docker_util import image_exists
from harness.errors import HarnessError
from harness.images.common import (
    LABEL_RECIPE,
    Log,
    build_dockerfile,
    cache_dir,
    content_hash,
    image_id,
    tag_for,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIR = REPO_ROOT / "reference_service"
DOCKERFILE = SOURCE_DIR / "Dockerfile"
PYPROJECT = REPO_ROOT / "pyproject.toml"

# Which of the project's dependencies the reference service needs at run time; the version bounds
# stay in pyproject.toml (the single place for them). The rest (docker, pytest, ...) is harness-only.
RUNTIME_PACKAGES = frozenset({
    "fastapi", "uvicorn", "sqlalchemy", "psycopg", "alembic", "pydantic", "pydantic-settings",
    "pyjwt", "cryptography", "python-multipart",
})  # fmt: skip
# Wheels that run on the image's CPython 3.11 on glibc x86_64 (Debian 12 and python:3.11-slim alike).
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64", "any")
_SKIP_SOURCE = {"__pycache__", "Dockerfile", ".dockerignore", ".pytest_cache", ".mypy_cache"}


def runtime_requirements() -> list[str]:
    """The reference service's run-time dependencies as in pyproject.toml, e.g. ``psycopg[binary]>=3.1``."""
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return sorted(d for d in deps if canonicalize_name(Requirement(d).name) in RUNTIME_PACKAGES)


def pinned_closure(requirements: list[str]) -> list[str]:
    """``name==version`` for the requirements and everything they pull in, as installed here.

    A requirement not installed in this environment stays as written (pip resolves it); markers are
    evaluated for this interpreter, which is the image's (CPython 3.11 on Linux).
    """
    pins: dict[str, str] = {}
    todo: list[tuple[Requirement, frozenset[str]]] = [(Requirement(r), frozenset()) for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req, parent_extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (parent_extras or {""})):
            continue
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            pins.setdefault(name, str(req))
            continue
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        # Keep the widest extras seen for a name: "psycopg[binary]" and "psycopg" become one pin.
        old = pins.get(name, "")
        if extras or not old:
            pins[name] = f"{name}{extras}=={dist.version}"
        for line in dist.requires or []:
            todo.append((Requirement(line), frozenset(req.extras)))
    return sorted(pins.values())


def source_files() -> list[Path]:
    if not SOURCE_DIR.is_dir():
        raise HarnessError(
            f"reference service source not found at {SOURCE_DIR}",
            expected="the reference_service/ package of this repository",
            hint="run from a checkout of se-conformance, or give your own image with --se-image",
        )
    files = []
    for path in sorted(SOURCE_DIR.rglob("*")):
        rel = path.relative_to(SOURCE_DIR)
        if path.is_file() and not _SKIP_SOURCE.intersection(rel.parts) and path.suffix != ".pyc":
            files.append(path)
    return files


def se_tag(base_image: str, pins: list[str]) -> str:
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(str(path.relative_to(SOURCE_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    # The base image's id, not its name: a rebuilt or re-pulled base makes a new SE image.
    base = image_id(base_image) if image_exists(base_image) else base_image
    return tag_for("reference-se", content_hash("se-v1", DOCKERFILE.read_bytes().hex(),
                                                 digest.hexdigest(), pins, base))  # fmt: skip


def download_wheels(pins: list[str], log: Log) -> Path:
    """Wheels for ``pins`` in a cache directory named after them (downloaded once per pin set)."""
    target = cache_dir() / "wheels" / content_hash("wheels-v1", pins, PLATFORMS)
    if (target / "requirements.txt").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # A directory of our own: two processes may download the same set at once; the first rename wins.
    partial = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
           "--dest", str(partial)]  # fmt: skip
    for platform in PLATFORMS:
        cmd += ["--platform", platform]
    log(f"downloading {len(pins)} wheels for the SE image into {target}")
    done = subprocess.run([*cmd, *pins], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise HarnessError(
            "pip download of the reference service's wheels failed",
            expected="PyPI (or the index pip is configured with) to answer on this host",
            hint=(done.stderr or done.stdout).strip()[-2000:],
        )
    (partial / "requirements.txt").write_text("\n".join(pins) + "\n")
    try:
        os.replace(partial, target)
    except OSError:  # another process finished first (target is a non-empty directory now)
        shutil.rmtree(partial, ignore_errors=True)
    return target


def ensure_se_image(base_image: str, *, rebuild: bool, log: Log) -> str:
    pins = pinned_closure(runtime_requirements())
    tag = se_tag(base_image, pins)
    if not rebuild and image_exists(tag):
        log(f"{tag}: present")
        return tag
    wheels = download_wheels(pins, log)
    log(f"{tag}: building on {base_image}")
    with tempfile.TemporaryDirectory(prefix="se-ref-image-") as tmp:
        context = Path(tmp)
        shutil.copy(DOCKERFILE, context / "Dockerfile")
        shutil.copytree(wheels, context / "wheels")
        for path in source_files():
            dest = context / "reference_service" / path.relative_to(SOURCE_DIR)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        build_dockerfile(
            context,
            tag,
            buildargs={"BASE_IMAGE": base_image},
            labels={LABEL_RECIPE: tag.rpartition(":")[2], "se-conformance.base": base_image},
            log=log,
        )
    return tag
