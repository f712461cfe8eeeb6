"""What every SE launch shares, whatever runs it: the contract environment and the readiness wait."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx

from harness.errors import ConfigurationError, TargetNotReady
from harness.postgres.info import PostgresInfo
from harness.targets.base import MODES

PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
DEFAULT_CAPACITY = 10 * 1024**3  # 10 GiB: plenty for the suite, small enough to report sensibly
READY_DEADLINE_S = 60.0


class SENames:
    """Names and table prefixes of a worker's SEs: ``<run>_<worker>_s<n>``.

    Every prefix ends in ``_s<n>`` so that no prefix plus ``_`` starts another one (``…_s1_`` is not a
    start of ``…_s10_files``): a prefix-aware view of one SE never sees another SE's tables.
    """

    def __init__(self, run_id: str, worker: str) -> None:
        self.run_id = run_id
        self.worker = worker
        self._count = 0

    def next(self) -> tuple[str, str]:
        """(name, prefix) of the next SE."""
        self._count += 1
        name = f"{self.worker}_s{self._count}"
        return name, check_prefix(f"{self.run_id}_{name}")


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise ConfigurationError(
            f"invalid table prefix {prefix!r}",
            expected="[a-z][a-z0-9_]*, at most 32 characters (launch contract, DB_TABLE_PREFIX)",
            hint="pass e.g. --se-table-prefix se_test",
        )
    return prefix


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ConfigurationError(f"invalid mode {mode!r}", expected=f"one of {', '.join(MODES)}")
    return mode


def contract_env(
    *,
    host: str,
    port: int,
    mode: str,
    database: PostgresInfo,
    prefix: str,
    storage_path: str,
    capacity: int,
    element_id: str,
    public_key_path: str,
) -> dict[str, str]:
    """The launch-contract variables (contract §1) under their contract names."""
    return {
        "SERVER_HOST": host,
        "SERVER_PORT": str(port),
        "APP_MODE": check_mode(mode),
        "DB_HOST": database.se_host,
        "DB_PORT": str(database.se_port),
        "DB_USERNAME": database.user,
        "DB_PASSWORD": database.password,
        "DB_DATABASE": database.database,
        "DB_TABLE_PREFIX": check_prefix(prefix),
        "STORAGE_TYPE": "local",
        "STORAGE_LOCAL_BASE_PATH": storage_path,
        "STORAGE_MAX_SIZE": str(capacity),
        "STORAGE_ELEMENT_ID": element_id,
        "JWT_PUBLIC_KEY_PATH": public_key_path,
        "JWT_ALGORITHM": "RS256",
    }


def wait_ready(
    url: str,
    *,
    deadline_s: float = READY_DEADLINE_S,
    alive: Callable[[], bool] = lambda: True,
    logs: Callable[[], str] = lambda: "(no logs)",
    what: str = "the SE",
) -> float:
    """Poll ``url`` until it answers 200; returns seconds waited. Raises ``TargetNotReady`` with logs."""
    start = time.monotonic()
    last = "no answer yet"
    with httpx.Client(timeout=httpx.Timeout(2.0)) as http:
        while time.monotonic() - start < deadline_s:
            if not alive():
                last = "the process/container exited"
                break
            try:
                resp = http.get(url)
                if resp.status_code == 200:
                    return time.monotonic() - start
                last = f"{resp.status_code} {resp.text[:200]}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
    raise TargetNotReady(
        f"{what} did not become ready at {url} within {deadline_s:.0f}s (last: {last})",
        expected="200 from the readiness path",
        hint=f"last log lines:\n{logs()}",
    )
