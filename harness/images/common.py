"""Pieces every image build shares: the cache directory, content hashes, Dockerfile builds."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import docker.errors

from harness.docker_util import LABEL_PROJECT, client, image_exists
from harness.errors import HarnessError

Log = Callable[[str], None]

REPO = "se-conformance"
LABEL_RECIPE = "se-conformance.recipe"
LABEL_BUILD_NETWORK = "se-conformance.build-network"


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def quiet_log(line: str) -> None:
    """A ``log`` that drops everything (for callers that only want the tags)."""


def cache_dir() -> Path:
    """Where rootfs tarballs and downloaded wheels are kept between runs (``SE_CONFORMANCE_IMAGE_CACHE``)."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "se-conformance"
    path = Path(os.environ.get("SE_CONFORMANCE_IMAGE_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def content_hash(*parts: Any) -> str:
    """A short, stable hash of JSON-able inputs (12 hex digits: plenty to tell recipes apart)."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def tag_for(name: str, digest: str) -> str:
    return f"{REPO}/{name}:{digest}"


def image_id(ref: str) -> str:
    """The engine's id of a local image (changes whenever the image is rebuilt)."""
    return str(client().images.get(ref).id)


def alias_latest(tag: str) -> None:
    """Also tag a harness-built image ``:latest`` (user-chosen images are left alone)."""
    repository, _, version = tag.partition(":")
    if repository.startswith(f"{REPO}/") and version != "latest":
        client().images.get(tag).tag(repository, "latest")


def ensure_present(ref: str, setting: str, log: Log) -> str:
    """A user-chosen image (e.g. ``python:3.11-slim``): use it when local, else pull it once."""
    if image_exists(ref):
        return ref
    log(f"pulling {ref} ...")
    try:
        client().images.pull(ref)
    except docker.errors.DockerException as exc:
        raise HarnessError(
            f"image {ref} (from {setting}) is not on this engine and cannot be pulled: {exc}",
            expected="the image locally, or a registry that answers",
            hint=f"unset {setting} to use the offline image built by the harness, or `docker load` it",
        ) from exc
    return ref


def build_dockerfile(
    context: Path,
    tag: str,
    *,
    buildargs: Mapping[str, str],
    labels: Mapping[str, str],
    log: Log,
) -> None:
    """``docker build`` of ``context`` with networking off: every input must already be in the context.

    The classic builder (no buildx here) still pulls a missing ``FROM`` image; ``network_mode`` only
    applies to ``RUN`` steps, which is exactly where a build could otherwise fetch things.
    """
    all_labels = {LABEL_PROJECT: "1", LABEL_BUILD_NETWORK: "none", **labels}
    tail: list[str] = []
    try:
        for chunk in client().api.build(
            path=str(context),
            tag=tag,
            buildargs=dict(buildargs),
            labels=all_labels,
            network_mode="none",
            rm=True,
            forcerm=True,
            decode=True,
        ):
            if "error" in chunk:
                raise HarnessError(
                    f"docker build of {tag} failed: {chunk['error'].strip()}",
                    expected="every build step to succeed without network",
                    hint="last build output:\n" + "\n".join(tail[-30:]),
                )
            text = str(chunk.get("stream", "")).rstrip()
            if text:
                tail.append(text)
                log(f"  {text}")
    except docker.errors.APIError as exc:
        raise HarnessError(
            f"docker build of {tag} was refused: {exc.explanation or exc}",
            expected="the engine to accept the build context",
            hint="check `docker info` and the Dockerfile",
        ) from exc
