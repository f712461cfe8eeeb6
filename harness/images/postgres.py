"""The harness's PostgreSQL image: the debootstrap'ed rootfs plus a cluster made at build time."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from harness.docker_util import image_exists
from harness.images.common import LABEL_RECIPE, Log, build_dockerfile, content_hash, tag_for
from harness.images.rootfs import POSTGRES_ROOTFS, ensure_rootfs_image

DOCKERFILE = Path(__file__).with_name("Dockerfile.postgres")


def postgres_tag() -> str:
    return tag_for("postgres", content_hash("postgres-v1", POSTGRES_ROOTFS.digest, DOCKERFILE.read_text()))


def ensure_postgres_image(*, rebuild: bool, log: Log) -> str:
    tag = postgres_tag()
    if not rebuild and image_exists(tag):
        log(f"{tag}: present")
        return tag
    rootfs = ensure_rootfs_image(POSTGRES_ROOTFS, rebuild=rebuild, log=log)
    log(f"{tag}: building on {rootfs}")
    with tempfile.TemporaryDirectory(prefix="se-pg-image-") as tmp:
        # The context holds the Dockerfile only: everything else is in the rootfs image.
        shutil.copy(DOCKERFILE, Path(tmp) / "Dockerfile")
        build_dockerfile(
            Path(tmp),
            tag,
            buildargs={"ROOTFS_IMAGE": rootfs},
            labels={LABEL_RECIPE: tag.rpartition(":")[2]},
            log=log,
        )
    return tag
