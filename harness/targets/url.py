"""The url target: an SE already deployed, found at a URL (127.0.0.1 only).

The harness cannot restart it, so lifecycle tests are reported unsupported. The run creates only
uniquely named files of its own and deletes them at the end (see plugin.cleanup).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url

from harness.errors import ConfigurationError, TargetNotReady
from harness.postgres.info import PostgresInfo
from harness.profile import TargetProfile
from harness.storage_view import LocalStorageView
from harness.targets.base import FACILITY_DB, FACILITY_FS, SEHandle, Target
from harness.targets.launch import check_prefix

ALLOWED_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Comma-separated extra host names the url target may reach: set only where the harness runs inside the
#: SEs' own network (the Kubernetes Job of ``se-conformance k8s render`` names the fleet's Services).
ALLOWED_HOSTS_ENV = "SE_CONFORMANCE_ALLOWED_HOSTS"


def allowed_hosts() -> tuple[str, ...]:
    extra = os.environ.get(ALLOWED_HOSTS_ENV, "")
    return ALLOWED_HOSTS + tuple(h.strip() for h in extra.split(",") if h.strip())


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"--se-url {url!r} is not an http(s) URL", expected="e.g. http://127.0.0.1:8000")
    if parts.hostname not in allowed_hosts():
        raise ConfigurationError(
            f"--se-url host {parts.hostname!r} is not on this machine",
            expected=f"one of {', '.join(allowed_hosts())}: the suite sends traffic only to loopback",
            hint=f"run the suite on the SE's host, or tunnel its port to 127.0.0.1 ({ALLOWED_HOSTS_ENV} "
            "names more hosts, for a run inside the SEs' own network)",
        )
    return url.rstrip("/")


def parse_dsn(dsn: str) -> PostgresInfo:
    try:
        url = make_url(dsn)
    except Exception as exc:
        raise ConfigurationError(f"--se-db-dsn {dsn!r} is not a database URL",
                                 expected="postgresql://user:password@127.0.0.1:5432/db") from exc  # fmt: skip
    if url.host not in allowed_hosts():
        raise ConfigurationError(f"--se-db-dsn host {url.host!r} is not on this machine",
                                 expected="127.0.0.1 or localhost")  # fmt: skip
    return PostgresInfo(url.host or "127.0.0.1", url.port or 5432, url.username or "", url.password or "",
                        url.database or "")  # fmt: skip


class UrlTarget(Target):
    kind = "url"

    def __init__(self, *, url: str, profile: TargetProfile, prefix: str | None, dsn: str | None,
                 storage_path: str | None, ready_deadline_s: float = 10.0) -> None:  # fmt: skip
        self.url = check_url(url)
        self.profile = profile
        self.capabilities = profile.capabilities
        facilities = set()
        self.database = None
        if dsn:
            if not prefix:
                raise ConfigurationError("--se-db-dsn needs --se-table-prefix",
                                         expected="the SE's DB_TABLE_PREFIX, to find its tables")  # fmt: skip
            self.database = parse_dsn(dsn)
            facilities.add(FACILITY_DB)
        storage = None
        if storage_path:
            if not Path(storage_path).is_dir():
                raise ConfigurationError(f"--se-storage-path {storage_path} is not a directory here")
            storage = LocalStorageView(Path(storage_path))
            facilities.add(FACILITY_FS)
        self.facilities = frozenset(facilities)
        self._check_reachable(ready_deadline_s)
        self._main = SEHandle(
            name="deployed", base_url=self.url, prefix=check_prefix(prefix) if prefix else "",
            mode=self._mode(), element_id="", storage=storage, database=self.database,
        )  # fmt: skip

    def _check_reachable(self, deadline_s: float) -> None:
        try:
            resp = httpx.get(self.url + self.profile.ready_path, timeout=deadline_s)
        except httpx.HTTPError as exc:
            raise TargetNotReady(
                f"the SE at {self.url} did not answer ({type(exc).__name__}: {exc})",
                expected=f"200 from {self.profile.ready_path}",
                hint="check that it runs and that --se-url has the right port",
            ) from exc
        if resp.status_code != 200:
            raise TargetNotReady(f"the SE at {self.url} is not ready: {resp.status_code} {resp.text[:200]}",
                                 expected=f"200 from {self.profile.ready_path}")  # fmt: skip

    def _mode(self) -> str:
        try:
            return str(httpx.get(self.url + "/", timeout=5).json().get("mode", ""))
        except (httpx.HTTPError, ValueError):
            return ""

    def main_se(self) -> SEHandle:
        return self._main

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "url": self.url, "profile": self.profile.name}
