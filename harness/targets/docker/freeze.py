"""A docker SE's storage made unwritable for root: the immutable flag, set from a helper container.

The SE runs as root in its container, so only the immutable flag (``chattr +i``, see
``harness.immutable``) keeps it from writing its storage, and setting that flag needs
``CAP_LINUX_IMMUTABLE``, which the SE container does not have (and must not be given: the SE would run
with more privileges than in production). So a helper container does it:

* labelled like every object of the run (role ``storage-freeze``, plus the volume it holds), no
  network, root, that one capability added, the SE's volume mounted at ``MOUNT``;
* it sets the flag on the volume's root, which is the SE's base path, and proves it: root in the
  helper cannot create a file there (``Unsupported`` otherwise, the flag cleared again);
* it keeps running while the storage is frozen; ``thaw`` clears the flag through it and removes it.

A helper works on a remote engine too (a volume's host ``Mountpoint`` is only reachable when the engine
runs on this machine, and as root). And it is the record of the freeze: a run killed in between leaves
it behind, and the sweep (``harness.docker_util.sweep``) clears the flag through it before it removes
the container and the volume (a volume whose root is immutable cannot be removed).

The helper runs the harness's PostgreSQL image: an image of the harness (Debian, with ``chattr`` from
e2fsprogs, ``sh``, ``touch`` and ``sleep``), not the SE's, which may have no tools at all.
"""

from __future__ import annotations

import contextlib

import docker.errors
from docker.models.containers import Container

from harness.docker_util import FREEZE_ROLE, client, labels, remove_container, unique_name
from harness.errors import HarnessError, Unsupported

LABEL_VOLUME = "se-conformance.volume"
MOUNT = "/se-conformance-storage"
PROBE = ".se-conformance-unwritable-probe"
CAPABILITY = "LINUX_IMMUTABLE"
# Exit codes of the freeze script.
CHATTR_FAILED, STILL_WRITABLE, NO_CHATTR = 10, 11, 12
FREEZE_SCRIPT = f"""
command -v chattr >/dev/null 2>&1 || exit {NO_CHATTR}
chattr +i {MOUNT} || exit {CHATTR_FAILED}
if touch {MOUNT}/{PROBE} 2>/dev/null; then rm -f {MOUNT}/{PROBE}; chattr -i {MOUNT}; exit {STILL_WRITABLE}; fi
exit 0
"""


def _output(raw: object) -> str:
    return raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else str(raw or "").strip()


def freeze_volume(*, image: str, run_id: str, volume: str) -> Container:
    """Set the immutable flag on ``volume``'s root; returns the helper that holds it (for ``thaw``)."""
    try:
        helper = client().containers.create(
            image, name=unique_name(run_id, "freeze"), entrypoint=["sleep", "infinity"], user="0",
            labels=labels(run_id, FREEZE_ROLE, {LABEL_VOLUME: volume}), cap_add=[CAPABILITY],
            network_mode="none", volumes={volume: {"bind": MOUNT, "mode": "rw"}}, init=True,
        )  # fmt: skip
    except docker.errors.ImageNotFound as exc:
        raise HarnessError(f"the helper image {image} is not on this engine",
                           expected="the run's PostgreSQL image") from exc  # fmt: skip
    try:
        try:
            helper.start()
        except docker.errors.APIError as exc:
            raise Unsupported(
                f"the storage-freeze helper ({image}) did not start: {exc.explanation or exc}",
                expected=f"an engine that grants --cap-add {CAPABILITY} and an image with sleep",
            ) from exc
        code, out = helper.exec_run(["sh", "-c", FREEZE_SCRIPT], user="0")
    except BaseException:
        remove_container(helper)
        raise
    if code == 0:
        return helper
    remove_container(helper)
    detail = _output(out)
    if code == NO_CHATTR or code == 127:
        raise Unsupported(f"the storage-freeze helper image {image} has no chattr",
                          expected="an image with e2fsprogs' chattr")  # fmt: skip
    if code == CHATTR_FAILED:
        raise Unsupported(
            f"cannot set the immutable flag on volume {volume}: {detail}",
            expected="an engine whose volumes live on a filesystem with the immutable flag (ext4, xfs, btrfs)",
        )
    if code == STILL_WRITABLE:
        raise Unsupported(f"volume {volume} is still writable with the immutable flag set",
                          expected="a filesystem that honours the immutable flag")  # fmt: skip
    raise HarnessError(f"the storage-freeze helper failed on volume {volume} (exit {code}): {detail}")


def thaw_volume(helper: Container) -> None:
    """Clear the flag through ``helper`` and remove it; ``HarnessError`` (helper kept) if it cannot."""
    code, out = _clear(helper)
    if code != 0:
        raise HarnessError(
            f"could not clear the immutable flag through {helper.name} (exit {code}): {_output(out)}",
            hint="the run's sweep retries; else: docker exec -u 0 " + str(helper.name) + " chattr -i " + MOUNT,
        )
    remove_container(helper)


def _clear(helper: Container) -> tuple[int, object]:
    helper.reload()
    if helper.status != "running":
        helper.start()  # stopped by an engine restart: the same mounts and capability come back
    code, out = helper.exec_run(["chattr", "-i", MOUNT], user="0")
    return int(code), out


def release(helper: Container) -> None:
    """Sweep of a killed run: clear the flag a leftover helper set, quietly (its removal follows)."""
    with contextlib.suppress(docker.errors.DockerException):
        _clear(helper)
