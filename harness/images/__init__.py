"""Images the docker target needs, built offline and tagged by a hash of their inputs.

``ensure_images()`` returns the tags, building only what is missing:

* ``se-conformance/python-base:<hash>`` — debootstrap'ed Debian 12 with python3 (skipped when
  ``SE_CONFORMANCE_BASE_IMAGE`` names another base, e.g. ``python:3.11-slim``);
* ``se-conformance/postgres:<hash>`` — PostgreSQL 15 with the cluster made at build time (or the image
  named by ``SE_CONFORMANCE_POSTGRES_IMAGE``, e.g. ``postgres:16``, configured through its ``POSTGRES_*``
  variables);
* ``se-conformance/reference-se:<hash>`` — the reference SE on that base, built with networking off.

Each harness-built image is also tagged ``:latest``, for people (and compose/docker-compose.yml) who
want a stable name; the harness itself always uses the hashed tags.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from harness.images.common import Log, alias_latest, ensure_present, stderr_log
from harness.images.postgres import ensure_postgres_image
from harness.images.rootfs import PYTHON_BASE, ensure_rootfs_image
from harness.images.se import ensure_se_image

BASE_IMAGE_ENV = "SE_CONFORMANCE_BASE_IMAGE"
POSTGRES_IMAGE_ENV = "SE_CONFORMANCE_POSTGRES_IMAGE"

__all__ = [
    "BASE_IMAGE_ENV",
    "POSTGRES_IMAGE_ENV",
    "ImageSet",
    "ensure_images",
    "ensure_se_image",
    "resolve_base_image",
    "resolve_postgres_image",
]


@dataclass(frozen=True)
class ImageSet:
    python_base: str
    postgres: str
    se: str


def resolve_base_image(base_image: str | None = None, *, rebuild: bool = False, log: Log = stderr_log) -> str:
    """The SE image's base: ``base_image``, else ``$SE_CONFORMANCE_BASE_IMAGE``, else the offline build."""
    base_image = base_image or os.environ.get(BASE_IMAGE_ENV) or None
    if base_image:
        return ensure_present(base_image, BASE_IMAGE_ENV, log)
    return ensure_rootfs_image(PYTHON_BASE, rebuild=rebuild, log=log)


def resolve_postgres_image(postgres_image: str | None = None, *, rebuild: bool = False,
                           log: Log = stderr_log) -> str:  # fmt: skip
    """``postgres_image``, else ``$SE_CONFORMANCE_POSTGRES_IMAGE``, else the offline build."""
    postgres_image = postgres_image or os.environ.get(POSTGRES_IMAGE_ENV) or None
    if postgres_image:
        return ensure_present(postgres_image, POSTGRES_IMAGE_ENV, log)
    return ensure_postgres_image(rebuild=rebuild, log=log)


def ensure_images(
    *,
    base_image: str | None = None,
    postgres_image: str | None = None,
    rebuild: bool = False,
    log: Log = stderr_log,
) -> ImageSet:
    """Tags of the three images, each built (or pulled, for user-chosen ones) only when missing.

    ``base_image`` / ``postgres_image`` default to the environment variables above, then to the
    offline builds. ``rebuild`` rebuilds the harness's own images even when present.
    """
    started = time.monotonic()
    python_base = resolve_base_image(base_image, rebuild=rebuild, log=log)
    postgres = resolve_postgres_image(postgres_image, rebuild=rebuild, log=log)
    se = ensure_se_image(python_base, rebuild=rebuild, log=log)
    for tag in (python_base, postgres, se):
        alias_latest(tag)
    log(f"images ready in {time.monotonic() - started:.1f}s")
    return ImageSet(python_base=python_base, postgres=postgres, se=se)
