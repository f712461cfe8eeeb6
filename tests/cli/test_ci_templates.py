"""The CI templates are valid YAML and call the command line with options it accepts."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from harness.cli import build_parser

TEMPLATES = Path(__file__).resolve().parents[2] / "compose" / "ci"


def commands(node: object) -> list[str]:
    """Every se-conformance command line in a parsed workflow (``run:`` / ``script:`` strings)."""
    found: list[str] = []
    if isinstance(node, dict):
        for value in node.values():
            found += commands(value)
    elif isinstance(node, list):
        for value in node:
            found += commands(value)
    elif isinstance(node, str) and "se-conformance " in node:
        found += [line for line in node.splitlines() if "se-conformance " in line]
    return found


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_template_commands_parse(name: str) -> None:
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((TEMPLATES / name).read_text())
    lines = commands(workflow)
    assert any(" run " in f" {line} " for line in lines), lines
    for line in lines:
        words = shlex.split(line.split("||")[0])
        argv = words[words.index(next(w for w in words if w.endswith("se-conformance"))) + 1 :]
        args = build_parser().parse_args(argv)
        if args.command == "run":
            assert args.quiet
            assert args.se_target == "docker"
