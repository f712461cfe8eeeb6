"""Writes a fleet file (``se-conformance serve --fleet`` and ``k8s render`` produce one). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.fleet.spec import FleetEntry


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string: JSON's escapes are TOML's


def entry_table(entry: FleetEntry) -> dict[str, Any]:
    """The entry as the keys of its ``[[se]]`` table (paths absolute, empty optional keys left out)."""
    table: dict[str, Any] = {"name": entry.name, "url": entry.url, "table_prefix": entry.table_prefix,
                             "mode": entry.mode}  # fmt: skip
    for key in ("db_dsn", "storage_path", "profile_file", "private_key"):
        value = getattr(entry, key)
        if value is not None:
            table[key] = str(value)
    if entry.capabilities:
        table["capabilities"] = list(entry.capabilities)
    if entry.tokens:
        table["tokens"] = dict(entry.tokens)
    return table


def dumps(tables: Sequence[Mapping[str, Any]], header: str = "") -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    for table in tables:
        lines += ["", "[[se]]"]
        nested = {k: v for k, v in table.items() if isinstance(v, Mapping)}
        lines += [f"{key} = {_value(value)}" for key, value in table.items() if key not in nested]
        for key, sub in nested.items():
            lines.append(f"[se.{key}]")
            lines += [f"{k} = {_value(v)}" for k, v in sub.items()]
    return "\n".join(lines).lstrip("\n") + "\n"


def write(path: Path, entries: Sequence[FleetEntry], header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(dumps([entry_table(e) for e in entries], header))
    tmp.replace(path)  # appears complete: a reader waiting for the file never sees half of it
    return path
