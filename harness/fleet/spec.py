"""The fleet file: one ``[[se]]`` table per deployed SE, parsed strictly.

::

    [[se]]
    name = "se-a"                                   # unique; out/<name>/ holds its results
    url = "http://127.0.0.1:8101"
    table_prefix = "se_a"
    mode = "edit"                                   # the APP_MODE the SE must report
    db_dsn = "postgresql://se:se@127.0.0.1:5432/se" # optional: read-only inspection (profile db)
    storage_path = "/srv/se-a"                      # optional: storage inspection (profile fs)
    profile_file = "my-se.toml"                     # optional target profile
    capabilities = ["range", "etag"]                # optional, in addition to the profile's
    private_key = "jwt-private.pem"                 # the key the SE's public key matches …
    [se.tokens]                                     # … or ready tokens, one per role
    user = "eyJ…"

Unknown keys are an error that names the key: a typo must not silently drop a check. Relative paths are
relative to the fleet file's directory.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ConfigurationError
from harness.profile import check_capabilities
from harness.targets.base import MODES
from harness.targets.launch import check_prefix
from harness.targets.url import check_url, parse_dsn

ROLES = ("user", "operator", "admin", "service")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")  # a directory name and a Kubernetes object name
TOP_KEYS = frozenset({"se"})
REQUIRED = ("name", "url", "table_prefix", "mode")
OPTIONAL = ("db_dsn", "storage_path", "profile_file", "capabilities", "private_key", "tokens")
ENTRY_KEYS = frozenset(REQUIRED + OPTIONAL)
HINT = "see docs/fleet.md for the fleet file format"


@dataclass(frozen=True)
class FleetEntry:
    """One deployed SE of the fleet."""

    name: str
    url: str
    table_prefix: str
    mode: str
    db_dsn: str | None = None
    storage_path: Path | None = None
    profile_file: Path | None = None
    capabilities: tuple[str, ...] = ()
    private_key: Path | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def database_key(self) -> tuple[str, int, str] | None:
        """(host, port, database) of ``db_dsn``; ``None`` without one (the database is not known)."""
        if not self.db_dsn:
            return None
        info = parse_dsn(self.db_dsn)
        host = "127.0.0.1" if info.host == "localhost" else info.host
        return host, info.port, info.database


@dataclass(frozen=True)
class Fleet:
    source: Path
    entries: tuple[FleetEntry, ...]

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def entry(self, name: str) -> FleetEntry:
        return next(e for e in self.entries if e.name == name)


def _bad(source: str, what: str, expected: str) -> ConfigurationError:
    return ConfigurationError(f"fleet file {source}: {what}", expected=expected, hint=HINT)


def _string(raw: dict[str, Any], key: str, where: str, source: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise _bad(source, f"{where}: '{key}' is {value!r}", "a non-empty string")
    return value


def _path(raw: dict[str, Any], key: str, where: str, source: str, base: Path) -> Path | None:
    value = _string(raw, key, where, source)
    return None if value is None else (base / value).resolve()


def _tokens(raw: dict[str, Any], where: str, source: str) -> dict[str, str]:
    value = raw.get("tokens", {})
    if not isinstance(value, dict):
        raise _bad(source, f"{where}: 'tokens' is {type(value).__name__}", f"a table of role = token, roles {ROLES}")
    unknown = sorted(set(value) - set(ROLES))
    if unknown:
        raise _bad(source, f"{where}: unknown token role(s) {', '.join(unknown)}", f"roles {', '.join(ROLES)}")
    for role, token in value.items():
        if not isinstance(token, str) or not token:
            raise _bad(source, f"{where}: token {role} is {token!r}", "a non-empty string (a JWT)")
    return {str(k): str(v) for k, v in value.items()}


def _config(source: str, where: str, call: Any, *args: Any) -> Any:
    """Run a shared validator (URL, DSN, prefix, capabilities), its message prefixed with the entry."""
    try:
        return call(*args)
    except ConfigurationError as exc:
        raise ConfigurationError(f"fleet file {source}: {where}: {exc.what}", expected=exc.expected,
                                 hint=exc.hint or HINT) from None  # fmt: skip


def parse_entry(raw: Any, index: int, source: str, base: Path) -> FleetEntry:
    where = f"[[se]] #{index + 1}"
    if not isinstance(raw, dict):
        raise _bad(source, f"{where} is not a table", "[[se]] tables")
    if isinstance(raw.get("name"), str):
        where = f"[[se]] {raw['name']!r}"
    unknown = sorted(set(raw) - ENTRY_KEYS)
    if unknown:
        raise _bad(source, f"{where}: unknown key(s) {', '.join(unknown)}", f"only {', '.join(sorted(ENTRY_KEYS))}")
    missing = [k for k in REQUIRED if k not in raw]
    if missing:
        raise _bad(source, f"{where}: missing {', '.join(missing)}", f"each [[se]] has {', '.join(REQUIRED)}")
    name = _string(raw, "name", where, source) or ""
    if not NAME_RE.match(name):
        raise _bad(source, f"{where}: name {name!r} is not usable as a directory and object name",
                   "lowercase letters, digits and '-', starting with a letter or digit, at most 40")  # fmt: skip
    mode = _string(raw, "mode", where, source) or ""
    if mode not in MODES:
        raise _bad(source, f"{where}: mode {mode!r} is not an APP_MODE", f"one of {', '.join(MODES)}")
    caps = raw.get("capabilities", [])
    if not isinstance(caps, list):
        raise _bad(source, f"{where}: 'capabilities' is not an array", 'an array of names, e.g. ["range"]')
    _config(source, where, check_capabilities, caps, f"fleet entry {name}")
    dsn = _string(raw, "db_dsn", where, source)
    if dsn is not None:
        _config(source, where, parse_dsn, dsn)
    tokens = _tokens(raw, where, source)
    private_key = _path(raw, "private_key", where, source, base)
    if (private_key is None) == (not tokens):
        raise _bad(source, f"{where}: {'both' if tokens else 'neither'} 'private_key' {'and' if tokens else 'nor'} "
                   "'tokens'", "exactly one: the key the SE's JWT public key matches, or ready tokens")  # fmt: skip
    return FleetEntry(
        name=name,
        url=_config(source, where, check_url, _string(raw, "url", where, source) or ""),
        table_prefix=_config(source, where, check_prefix, _string(raw, "table_prefix", where, source) or ""),
        mode=mode,
        db_dsn=dsn,
        storage_path=_path(raw, "storage_path", where, source, base),
        profile_file=_path(raw, "profile_file", where, source, base),
        capabilities=tuple(str(c) for c in caps),
        private_key=private_key,
        tokens=tokens,
    )


def parse_fleet(data: dict[str, Any], source: str, base: Path) -> Fleet:
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _bad(source, f"unknown top-level key(s) {', '.join(unknown)}", "only [[se]] tables")
    raw = data.get("se")
    if not isinstance(raw, list) or not raw:
        raise _bad(source, "no [[se]] entries", "one [[se]] table per SE of the fleet")
    entries = tuple(parse_entry(item, i, source, base) for i, item in enumerate(raw))
    seen: set[str] = set()
    for entry in entries:
        if entry.name in seen:
            raise _bad(source, f"two [[se]] entries are named {entry.name!r}", "a unique name per SE")
        seen.add(entry.name)
    return Fleet(Path(source), entries)


def load_fleet(path: str | Path) -> Fleet:
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the fleet file {file}: {exc.strerror}",
                                 expected="a TOML file with one [[se]] table per SE", hint=HINT) from None  # fmt: skip
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(str(file), f"not valid TOML ({exc})", "TOML, one [[se]] table per SE") from None
    return parse_fleet(data, str(file), file.resolve().parent)
