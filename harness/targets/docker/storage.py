"""The storage view of a docker SE: its volume, read through a container that mounts it.

A named volume is not readable from the host in general (the engine may be remote, or its data root
private), so every operation goes through the Docker API:

* reads use the archive endpoint (``docker cp``), which needs no tool inside the image and works on a
  stopped or killed container too: a test can look at what a ``kill -9`` left behind;
* listing uses ``find`` in the running container when it has one (no file content crosses the wire),
  else walks the archive;
* writes (test set-up only) put a tar whose entries carry the owner of the base directory, so the SE,
  which may run as non-root, can later rewrite or delete what the test planted;
* removal needs a process: ``rm`` in the running container, or in a throw-away container that shares
  the volumes of the stopped one.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import time
from collections.abc import Callable, Iterator

import docker.errors
from docker.models.containers import Container

from harness.docker_util import client
from harness.errors import HarnessError


class ContainerStorageView:
    """``StorageView`` (harness.storage_view) of ``base_path`` inside ``container()``.

    ``container`` is a callable because restarts replace the container while the volume, and thus
    the view a test holds, stays the same.
    """

    def __init__(self, base_path: str, container: Callable[[], Container]) -> None:
        self.base = posixpath.normpath(base_path)
        self._container = container
        self._owner: tuple[int, int] | None = None

    # -- StorageView -------------------------------------------------------------------------------
    def list_files(self) -> list[str]:
        container = self._container()
        try:
            code, out = container.exec_run(["find", self.base, "-type", "f", "-printf", "%P\\0"], user="0")
        except docker.errors.APIError:
            code, out = -1, b""  # not running: walk the archive instead
        if code == 0:
            return sorted(p for p in out.decode("utf-8", "surrogateescape").split("\0") if p)
        return sorted(rel for rel, member, _tar in self._walk(container, self.base) if member.isfile())

    def read_bytes(self, rel: str) -> bytes:
        path = self._path(rel)
        for _rel, member, tar in self._walk(self._container(), path):
            if not member.isfile():
                raise IsADirectoryError(path)
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()
        raise FileNotFoundError(path)

    def exists(self, rel: str) -> bool:
        container = self._container()
        # HEAD of the archive endpoint: a stat, no content. docker-py has no public call for it.
        api = client().api
        resp = api.head(api._url("/containers/{0}/archive", container.id), params={"path": self._path(rel)})
        if resp.status_code == 404:
            return False
        resp.raise_for_status()
        return True

    def write_bytes(self, rel: str, data: bytes) -> None:
        path = self._path(rel)
        uid, gid = self._base_owner()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            parts = posixpath.relpath(path, self.base).split("/")
            # Explicit parent entries: the engine would otherwise create missing ones owned by root.
            for depth in range(1, len(parts)):
                tar.addfile(_entry("/".join(parts[:depth]), tarfile.DIRTYPE, 0o755, uid, gid))
            tar.addfile(_entry("/".join(parts), tarfile.REGTYPE, 0o644, uid, gid, len(data)), io.BytesIO(data))
        if not self._container().put_archive(self.base, buf.getvalue()):
            raise HarnessError(f"could not write {path} into the SE's storage", hint="see the docker daemon log")

    def remove(self, rel: str) -> None:
        path = self._path(rel)
        container = self._container()
        try:
            code, out = container.exec_run(["rm", "-rf", path], user="0")
        except docker.errors.APIError:
            # Stopped or killed: a one-shot container on the same volumes does it.
            out = client().containers.run(
                container.image, entrypoint=["rm", "-rf", path], user="0", remove=True,
                volumes_from=[container.id], network_mode="none",
            )  # fmt: skip
            code = 0
        if code != 0:
            raise HarnessError(f"could not remove {path}: {out.decode(errors='replace').strip()}")

    # -- internals ---------------------------------------------------------------------------------
    def _path(self, rel: str) -> str:
        path = posixpath.normpath(posixpath.join(self.base, rel))
        if not path.startswith(self.base + "/"):
            raise ValueError(f"{rel!r} points outside the storage path {self.base}")
        return path

    def _walk(self, container: Container, path: str) -> Iterator[tuple[str, tarfile.TarInfo, tarfile.TarFile]]:
        """Members of the archive of ``path`` as (path relative to it, member, open tar)."""
        try:
            stream, _stat = container.get_archive(path)
        except docker.errors.NotFound:
            return
        raw = b"".join(stream)  # test storage is small; a seekable buffer keeps tarfile simple
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
            for member in tar:
                # Entries are named "<basename of path>/...": strip that first component.
                yield member.name.partition("/")[2], member, tar

    def _base_owner(self) -> tuple[int, int]:
        """uid/gid of the base directory: the first header of its archive, fetched without the content."""
        if self._owner is None:
            api = client().api
            resp = api._get(api._url("/containers/{0}/archive", self._container().id),
                            params={"path": self.base}, stream=True)  # fmt: skip
            try:
                resp.raise_for_status()
                header = b""
                # iter_content, not raw: the engine may gzip the stream.
                for chunk in resp.iter_content(chunk_size=tarfile.BLOCKSIZE):
                    header += chunk
                    if len(header) >= tarfile.BLOCKSIZE:
                        break
            finally:
                resp.close()
            info = tarfile.TarInfo.frombuf(header[: tarfile.BLOCKSIZE], tarfile.ENCODING, "surrogateescape")
            self._owner = (info.uid, info.gid)
        return self._owner


def _entry(name: str, kind: bytes, mode: int, uid: int, gid: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.size = size
    info.mtime = int(time.time())
    return info
