"""Target profiles: how an implementer describes their SE to the harness.

A profile is a TOML file::

    name = "my-se"
    image = "registry.example/my-se:1.2"      # docker target
    command = ["./my-se", "--serve"]           # local target
    cwd = "."
    port = 8000                                # port inside the container
    ready_path = "/health/ready"
    capabilities = ["range", "etag"]
    [env]                                      # contract variable -> the target's own name
    DB_TABLE_PREFIX = "MYSE_DB_PREFIX"
    [extra_env]                                # set as is
    LOG_LEVEL = "info"
    [debug]                                    # optional test knobs the SE offers (none required)
    rebuild_delay_env = "MYSE_DEBUG_REBUILD_DELAY_S"
    [[waivers]]
    requirement = "SE-FILE-040"
    reason = "ranges land in 1.3"
    expires = 2027-01-31

Unknown keys are an error: a typo must not silently turn a capability off.

Capabilities are declared, never assumed: a target without a profile file runs under ``NO_PROFILE``
(name "none", no optional capability) unless the harness runs the reference SE itself; which profile a
run uses is decided in one place, ``harness.targets.kinds.profile_for``.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError

CONTRACT_ENV = (
    "SERVER_HOST",
    "SERVER_PORT",
    "APP_MODE",
    "DB_HOST",
    "DB_PORT",
    "DB_USERNAME",
    "DB_PASSWORD",
    "DB_DATABASE",
    "DB_TABLE_PREFIX",
    "STORAGE_TYPE",
    "STORAGE_LOCAL_BASE_PATH",
    "STORAGE_MAX_SIZE",
    "STORAGE_ELEMENT_ID",
    "JWT_PUBLIC_KEY_PATH",
    "JWT_ALGORITHM",
)
KNOWN_CAPABILITIES = ("range", "etag")
NO_PROFILE_NAME = "none"
REFERENCE_PROFILE = Path(__file__).parent / "profiles" / "reference.toml"
_KEYS = {"name", "image", "command", "cwd", "port", "ready_path", "capabilities", "env", "extra_env", "debug",
         "waivers"}  # fmt: skip
# [debug]: variables an SE may offer so that timing-dependent checks provoke their condition on purpose.
# rebuild_delay_env: seconds a cache rebuild holds its lock before working (SE-CACHE-011's second request).
_DEBUG_KEYS = {"rebuild_delay_env"}
_WAIVER_KEYS = {"requirement", "reason", "expires"}


@dataclass(frozen=True)
class Waiver:
    requirement: str
    reason: str
    expires: dt.date

    def expired(self, today: dt.date | None = None) -> bool:
        return (today or dt.date.today()) > self.expires


@dataclass(frozen=True)
class TargetProfile:
    """A target's description. The defaults are the contract's names and no optional capability."""

    name: str = NO_PROFILE_NAME
    image: str | None = None
    command: tuple[str, ...] = ()
    cwd: str | None = None
    port: int = 8000
    ready_path: str = "/health/ready"
    capabilities: frozenset[str] = frozenset()
    env: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    waivers: tuple[Waiver, ...] = ()
    source: str = "(no profile file)"
    rebuild_delay_env: str | None = None  # [debug]: see _DEBUG_KEYS

    def env_name(self, contract_name: str) -> str:
        return self.env.get(contract_name, contract_name)

    def environment(self, values: dict[str, str]) -> dict[str, str]:
        """Launch-contract values under the target's own variable names, plus its extra env."""
        mapped = {self.env_name(k): v for k, v in values.items()}
        mapped.update(self.extra_env)
        return mapped

    def declaring(self, capabilities: Iterable[str], source: str) -> TargetProfile:
        """This profile with ``capabilities`` (checked: known names only) declared in addition to its own."""
        extra = check_capabilities(capabilities, source)
        if extra <= self.capabilities:
            return self
        return replace(self, capabilities=self.capabilities | extra)


NO_PROFILE = TargetProfile()


def check_capabilities(names: Iterable[str], source: str) -> frozenset[str]:
    """``names`` as a set, or a ``ConfigurationError`` naming the unknown ones and listing the known ones."""
    given = [str(n) for n in names]
    unknown = sorted(set(given) - set(KNOWN_CAPABILITIES))
    if unknown:
        raise ConfigurationError(
            f"unknown capability {', '.join(repr(u) for u in unknown)} ({source})",
            expected=f"any of {', '.join(KNOWN_CAPABILITIES)}",
            hint="these are the optional capabilities that requirements in suites/requirements.toml name "
            "(case-sensitive)",
        )
    return frozenset(given)


def _bad(source: str, what: str, expected: str) -> ConfigurationError:
    return ConfigurationError(
        f"target profile {source}: {what}",
        expected=expected,
        hint="see README.md, 'Implementer's guide', for the profile format",
    )


def parse_waivers(raw: Any, source: str) -> tuple[Waiver, ...]:
    if not isinstance(raw, list):
        raise _bad(source, "'waivers' must be an array of tables", "[[waivers]] requirement/reason/expires")
    out = []
    for item in raw:
        if not isinstance(item, dict) or set(item) != _WAIVER_KEYS:
            raise _bad(source, f"waiver {item!r} has keys {sorted(item) if isinstance(item, dict) else '?'}",
                       f"exactly {sorted(_WAIVER_KEYS)}")  # fmt: skip
        expires = item["expires"]
        if isinstance(expires, str):
            try:
                expires = dt.date.fromisoformat(expires)
            except ValueError as exc:
                raise _bad(source, f"waiver expiry {expires!r} is not a date", "YYYY-MM-DD") from exc
        if not isinstance(expires, dt.date):
            raise _bad(source, f"waiver expiry {expires!r} is not a date", "YYYY-MM-DD")
        out.append(Waiver(str(item["requirement"]), str(item["reason"]), expires))
    return tuple(out)


def parse_profile(data: dict[str, Any], source: str) -> TargetProfile:
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _bad(source, f"unknown key(s) {', '.join(unknown)}", f"only {', '.join(sorted(_KEYS))}")
    env = data.get("env", {})
    bad_env = sorted(set(env) - set(CONTRACT_ENV))
    if bad_env:
        raise _bad(source, f"[env] maps unknown contract variable(s) {', '.join(bad_env)}",
                   f"names from the launch contract: {', '.join(CONTRACT_ENV)}")  # fmt: skip
    caps = data.get("capabilities", [])
    if not isinstance(caps, list):
        raise _bad(source, "'capabilities' is not an array", 'an array of names, e.g. ["range", "etag"]')
    caps = check_capabilities(caps, f"target profile {source}")
    debug = data.get("debug", {})
    if not isinstance(debug, dict):
        raise _bad(source, "[debug] is not a table", f"a table with {', '.join(sorted(_DEBUG_KEYS))}")
    if set(debug) - _DEBUG_KEYS:
        raise _bad(source, f"[debug] has unknown key(s) {', '.join(sorted(set(debug) - _DEBUG_KEYS))}",
                   f"only {', '.join(sorted(_DEBUG_KEYS))}")  # fmt: skip
    command = data.get("command", [])
    if isinstance(command, str):
        raise _bad(source, "'command' is a string", 'an array of arguments, e.g. ["./my-se", "--serve"]')
    return TargetProfile(
        name=str(data.get("name", Path(source).stem)),
        image=data.get("image"),
        command=tuple(str(c) for c in command),
        cwd=data.get("cwd"),
        port=int(data.get("port", 8000)),
        ready_path=str(data.get("ready_path", "/health/ready")),
        capabilities=caps,
        env={str(k): str(v) for k, v in env.items()},
        extra_env={str(k): str(v) for k, v in data.get("extra_env", {}).items()},
        waivers=parse_waivers(data.get("waivers", []), source),
        source=source,
        rebuild_delay_env=str(debug["rebuild_delay_env"]) if "rebuild_delay_env" in debug else None,
    )


def load_profile(path: Path | str | None) -> TargetProfile:
    """Load a profile file; ``None`` gives the reference SE's own profile (``harness/profiles/reference.toml``).

    Which profile a run uses (the file's, the reference's or none) is ``harness.targets.kinds.profile_for``.
    """
    file = Path(path) if path else REFERENCE_PROFILE
    try:
        data = tomllib.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ConfigurationError(f"target profile {file} does not exist", hint="check --se-profile-file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise _bad(str(file), f"is not valid TOML ({exc})", "a TOML document") from exc
    return parse_profile(data, str(file))
