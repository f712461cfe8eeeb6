"""Merge the shards' Allure results: one directory, as an unsharded run leaves it.

allure-pytest names every result, container and attachment by a UUID, so the shards' files are copied
side by side. ``environment.properties`` is written once: each key's values of all shards (they differ
only where each shard had its own SEs: the table prefixes), and ``categories.json`` once, the harness's.
"""

from __future__ import annotations

import filecmp
import shutil
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ConfigurationError
from harness.report import allure

ENVIRONMENT = "environment.properties"
CATEGORIES = "categories.json"
ONCE = (ENVIRONMENT, CATEGORIES)


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append("\n" if text[i + 1] == "n" else text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _split_property(line: str) -> tuple[str, str] | None:
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "=":
            return _unescape(line[:i]), _unescape(line[i + 1 :])
        i += 1
    return None


def read_properties(path: Path) -> dict[str, str]:
    """``environment.properties`` as written by ``harness.report.allure.write_extras``."""
    pairs = (_split_property(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return dict(p for p in pairs if p is not None)


def merged_environment(files: Sequence[Path]) -> dict[str, str]:
    """One value per key: the shards' common value, else the union of their comma-separated parts."""
    values: dict[str, list[str]] = {}
    for path in files:
        for key, value in read_properties(path).items():
            if value not in values.setdefault(key, []):
                values[key].append(value)
    merged: dict[str, str] = {}
    for key, seen in values.items():
        if len(seen) == 1:
            merged[key] = seen[0]
            continue
        parts = {p.strip() for value in seen for p in value.split(",")} - {"", "-"}
        merged[key] = ", ".join(sorted(parts)) or "-"
    return merged


def merge(dirs: Sequence[Path], out: Path) -> int:
    """Copy every shard's results into ``out`` (which must exist, empty); returns the number of files."""
    copied = 0
    environments: list[Path] = []
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name in ONCE:
                if path.name == ENVIRONMENT:
                    environments.append(path)
                continue
            target = out / path.name
            if target.exists() and not filecmp.cmp(path, target, shallow=False):
                raise ConfigurationError(
                    f"two shards have a different Allure file {path.name} ({target} and {path})",
                    expected="UUID-named result files, unique per shard",
                    hint="merge each shard's directory once; clean a reused --out before a run",
                )
            shutil.copy2(path, target)
            copied += 1
    if environments:
        allure.write_extras(out, merged_environment(environments))
    return copied
