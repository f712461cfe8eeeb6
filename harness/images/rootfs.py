"""Base images without a registry: ``debootstrap`` a Debian root filesystem and ``docker import`` it.

The rootfs tarball is cached (keyed by the recipe's hash), so an engine that lost its images gets
them back in seconds; only the first build on a machine downloads packages (about half a minute
each, from the Debian mirror).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.docker_util import LABEL_PROJECT, client, image_exists
from harness.errors import ConfigurationError, HarnessError
from harness.images.common import LABEL_RECIPE, Log, cache_dir, content_hash, tag_for

SUITE = "bookworm"
MIRROR_ENV = "SE_CONFORMANCE_DEBIAN_MIRROR"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# What we strip after debootstrap: package caches and docs nobody reads in a test container.
_ALWAYS_REMOVE = (
    "var/cache/apt/archives/*.deb",
    "var/lib/apt/lists/*",
    "usr/share/doc/*",
    "usr/share/man/*",
    "usr/share/info/*",
    "usr/share/locale/*",
)


@dataclass(frozen=True)
class RootfsRecipe:
    """One debootstrap'ed base image. Changing any field changes the hash, hence the tag."""

    name: str  # image name under se-conformance/, e.g. "python-base"
    include: tuple[str, ...]  # extra packages (debootstrap --include)
    remove: tuple[str, ...] = ()  # globs (relative to the rootfs) deleted before the import
    variant: str = "minbase"
    suite: str = SUITE

    @property
    def digest(self) -> str:
        # The "v1" is the recipe format: bump it when this module changes how a rootfs is made.
        return content_hash("rootfs-v1", self.variant, self.suite, sorted(self.include),
                            _ALWAYS_REMOVE, self.remove)  # fmt: skip

    @property
    def tag(self) -> str:
        return tag_for(self.name, self.digest)


PYTHON_BASE = RootfsRecipe("python-base", include=("python3", "python3-venv", "ca-certificates"))
# The package's postinst makes a "main" cluster; our image makes its own at build time instead.
POSTGRES_ROOTFS = RootfsRecipe(
    "postgres-rootfs",
    include=("postgresql-15",),
    remove=("var/lib/postgresql/15/main", "etc/postgresql/15/main"),
)


def ensure_rootfs_image(recipe: RootfsRecipe, *, rebuild: bool, log: Log) -> str:
    """The recipe's image tag, imported from the cached tarball or debootstrap'ed first."""
    tag = recipe.tag
    if not rebuild and image_exists(tag):
        log(f"{tag}: present")
        return tag
    tarball = cache_dir() / f"{recipe.name}-{recipe.digest}.tar"
    if rebuild or not tarball.exists():
        _debootstrap_tarball(recipe, tarball, log)
    log(f"{tag}: importing {tarball} ({tarball.stat().st_size // 2**20} MiB)")
    repository, _, version = tag.partition(":")
    client().api.import_image_from_file(
        str(tarball),
        repository=repository,
        tag=version,
        changes=[
            "ENV LANG=C.UTF-8",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            'CMD ["/bin/bash"]',
            f"LABEL {LABEL_PROJECT}=1 {LABEL_RECIPE}={recipe.digest}",
        ],
    )
    if not image_exists(tag):
        raise HarnessError(
            f"docker import of {tarball} did not produce {tag}",
            expected="the imported image under that tag",
            hint=f"delete {tarball} and try again with --rebuild",
        )
    return tag


def _debootstrap_tarball(recipe: RootfsRecipe, tarball: Path, log: Log) -> None:
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None:
        raise ConfigurationError(
            "debootstrap is not installed: it builds the offline base images",
            expected="/usr/sbin/debootstrap",
            hint="apt-get install -y debootstrap  (or set SE_CONFORMANCE_BASE_IMAGE / "
            "SE_CONFORMANCE_POSTGRES_IMAGE to images a registry can give you)",
        )
    if os.geteuid() != 0:
        raise ConfigurationError(
            "debootstrap needs root to build the offline base images",
            expected="to run as root (CI and these machines do)",
            hint="run `python -m harness.images` as root once; later runs reuse the images",
        )
    mirror = os.environ.get(MIRROR_ENV, DEFAULT_MIRROR)
    workdir = Path(tempfile.mkdtemp(prefix=f"{recipe.name}-", dir=cache_dir()))
    rootfs = workdir / "rootfs"
    logfile = cache_dir() / f"{recipe.name}-debootstrap.log"
    cmd = [debootstrap, f"--variant={recipe.variant}", f"--include={','.join(recipe.include)}",
           recipe.suite, str(rootfs), mirror]  # fmt: skip
    log(f"{recipe.tag}: {' '.join(cmd)}  (log: {logfile})")
    try:
        with logfile.open("wb") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            tail = "\n".join(logfile.read_text(errors="replace").splitlines()[-20:])
            raise HarnessError(
                f"debootstrap of {recipe.name} failed with exit code {done.returncode}",
                expected=f"a {recipe.suite} root filesystem from {mirror}",
                hint=f"is the Debian mirror reachable? ({MIRROR_ENV} picks another)\n{tail}",
            )
        for pattern in _ALWAYS_REMOVE + recipe.remove:
            for path in rootfs.glob(pattern):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        partial = workdir / "rootfs.tar"  # private to this build: concurrent builds never share it
        # --numeric-owner: ids must stay those of the rootfs, not be mapped through the host's names.
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        os.replace(partial, tarball)  # atomic: a killed build never leaves a half tarball behind
    finally:
        _unmount_below(workdir)
        with contextlib.suppress(OSError):
            shutil.rmtree(workdir)


def _unmount_below(path: Path) -> None:
    """Unmount what an interrupted debootstrap left mounted (proc, sys) before deleting its tree."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = str(path.resolve()) + "/"
    # Deepest first, so nested mounts go before their parents.
    for point in sorted((m.split()[1] for m in mounts if m.split()[1].startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
