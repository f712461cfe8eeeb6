"""Plain YAML files of the rendered objects, one file per group, ``---`` between objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class _Literal(str):
    """A multi-line string written as a YAML block (PEM keys, TOML, scripts stay readable)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return _Literal(value)
    return value


def dumps(objects: list[dict[str, Any]]) -> str:
    return yaml.dump_all([_blocks(o) for o in objects], Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def write(files: dict[str, list[dict[str, Any]]], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, objects in files.items():
        path = out / f"{stem}.yaml"
        path.write_text(dumps(objects))
        written.append(path)
    return written


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
