"""The CI templates validate against their CI system's JSON schema, call the command line with options it
accepts, shard the suite and gate on the merged verdict."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.cli import build_parser
from harness.shard import parse

TEMPLATES = Path(__file__).resolve().parents[2] / "compose" / "ci"
GITHUB = TEMPLATES / "github-actions.yml"
GITLAB = TEMPLATES / "gitlab-ci.yml"
# check-jsonschema's vendored schemas: validation needs no network.
SCHEMAS = {GITHUB.name: "vendor.github-workflows", GITLAB.name: "vendor.gitlab-ci"}
# What the CI system puts in for its expressions and variables, as one job of the matrix would see it.
GITHUB_EXPRESSIONS = {"matrix.shard": "2", "strategy.job-total": "3", "matrix.fleet": "fleets/staging.toml"}
GITLAB_VARIABLES = {"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3", "FLEET": "fleets/staging.toml",
                    "SE_IMAGE": "registry.example/se:1"}  # fmt: skip


def load(path: Path) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return dict(yaml.safe_load(path.read_text()))


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


def substitute(line: str) -> str:
    line = re.sub(r"\$\{\{\s*([\w.-]+)\s*\}\}", lambda m: GITHUB_EXPRESSIONS.get(m.group(1), "X"), line)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: GITLAB_VARIABLES.get(m.group(1), m.group(0)), line)


def parsed_commands(path: Path) -> list[Any]:
    result = []
    for line in commands(load(path)):
        words = shlex.split(substitute(line).split("||")[0])
        argv = words[words.index(next(w for w in words if w.endswith("se-conformance"))) + 1 :]
        result.append(build_parser().parse_args(argv))
    return result


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_template_validates_against_its_ci_schema(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", SCHEMAS[path.name],
                           str(path)], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda p: p.name)
def test_template_commands_parse(path: Path) -> None:
    parsed = parsed_commands(path)
    runs = [a for a in parsed if a.command == "run"]
    assert runs
    for args in runs:
        assert args.quiet
        if getattr(args, "fleet", None) is None:
            assert args.se_target == "docker"
            assert args.shard == parse("2/3")
    assert [a for a in runs if getattr(a, "fleet", None) is not None], "a job verifies fleets"
    assert [a for a in parsed if a.command == "merge"], "a job merges the shards"


def test_github_shards_in_a_matrix_and_gates_on_the_merge() -> None:
    jobs = load(GITHUB)["jobs"]
    shards = jobs["conformance"]
    assert shards["strategy"]["matrix"]["shard"] == [1, 2, 3]
    assert shards["strategy"]["fail-fast"] is False
    gate = jobs["conformance-gate"]
    assert gate["needs"] == "conformance"  # every matrix job of it
    assert gate["if"] == "${{ !cancelled() }}"
    assert not gate.get("continue-on-error")
    assert jobs["deploy"]["needs"] == "conformance-gate"
    assert jobs["fleet"]["strategy"]["matrix"]["fleet"]


def test_gitlab_shards_in_parallel_and_gates_on_the_merge() -> None:
    pipeline = load(GITLAB)
    shards = pipeline["conformance"]
    assert shards["parallel"] == 3
    gate = pipeline["conformance-gate"]
    assert gate["stage"] == "gate"
    assert pipeline["stages"].index("gate") > pipeline["stages"].index("conformance")
    assert gate["needs"] == [{"job": "conformance", "artifacts": True}]
    assert gate["when"] == "always"
    assert not gate.get("allow_failure")
    assert pipeline["deploy"]["needs"] == ["conformance-gate"]
    assert pipeline["fleet"]["parallel"]["matrix"][0]["FLEET"]
