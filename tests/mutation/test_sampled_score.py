"""Coverage of the mutation measurements: the hand-written variants and the sampled cosmic-ray score.

* Every MUST requirement of the catalogue is broken by at least one hand-written variant
  (``mutants/mutants.toml``), except the fleet-wide SE-FLEET-* ones, which judge a deployment of several
  SEs rather than one SE's code and must be proven to fail by ``tests/cli/test_fleet_run.py`` instead.
* Every module of ``reference_service/`` with code has a sampled mutation score (or "n/a": every sampled
  mutant of it reviewed equivalent, unobservable or permitted) in the committed results
  of the last real cosmic-ray run (``mutants/cosmic_ray/scores.json``, written by
  ``bench/mutation_score.py report``), the sample is complete and at least 300 mutants, every survivor
  is reviewed and the score is at least 90 %.

Fast, no Docker: it reads files only.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from tests.mutation.variants import PACKAGE, REPO, all_catches, load_catalogue, load_variants, must_ids

SCORES = REPO / "mutants" / "cosmic_ray" / "scores.json"
FLEET_PREFIX = "SE-FLEET-"
FLEET_PROOF = REPO / "tests" / "cli" / "test_fleet_run.py"
MIN_SAMPLE = 300
MIN_SCORE = 0.90


def _trivial(node: ast.stmt) -> bool:
    """Imports, the docstring and string constants (``__version__ = "0.1.0"``): nothing to mutate."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    value = node.value if isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign) else None
    return isinstance(value, ast.Constant) and isinstance(value.value, str)


def modules_with_code(root: Path = REPO / PACKAGE) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(not _trivial(node) for node in tree.body):
            found.append(path.relative_to(root.parent).as_posix())
    return found


@pytest.fixture(scope="module")
def scores() -> dict[str, Any]:
    assert SCORES.exists(), (
        f"{SCORES.relative_to(REPO)} is missing: run the sampled mutation score "
        "(bench/mutation_score.py init, run, report; docs/mutation.md) and commit what report writes"
    )
    data: dict[str, Any] = json.loads(SCORES.read_text(encoding="utf-8"))
    return data


def test_modules_with_code_are_found() -> None:
    modules = modules_with_code()
    assert f"{PACKAGE}/app.py" in modules
    assert f"{PACKAGE}/__init__.py" not in modules  # a docstring and __version__


def test_every_must_requirement_is_broken_by_a_hand_written_variant() -> None:
    covered = set(all_catches(load_variants()))
    fleet_proof = FLEET_PROOF.read_text(encoding="utf-8")
    missing = [
        rid
        for rid in must_ids(load_catalogue())
        if rid not in covered and not (rid.startswith(FLEET_PREFIX) and rid in fleet_proof)
    ]
    assert not missing, (
        "MUST requirements that no variant in mutants/mutants.toml breaks (and, for fleet-wide ones, that "
        f"{FLEET_PROOF.relative_to(REPO)} does not prove either): {', '.join(missing)}"
    )


def _scored(module: dict[str, Any]) -> bool:
    """A score, or none because every sampled mutant of the module was judged and then reviewed out of the
    denominator (equivalent, unobservable, permitted): "n/a" is that module's honest score."""
    if module["sampled"] == 0 or module["pending"] or module["no_verdict"] or module["error"]:
        return False
    excluded = module["equivalent"] + module["unobservable"] + module["permitted"]
    return module["score"] is not None or excluded == module["sampled"]


def test_every_module_has_a_sampled_mutation_score(scores: dict[str, Any]) -> None:
    reported = scores["modules"]
    missing = [m for m in modules_with_code() if m not in reported or not _scored(reported[m])]
    assert not missing, (
        f"modules of {PACKAGE}/ without a sampled mutation score in {SCORES.relative_to(REPO)} "
        f"(new modules need a new sampled run): {', '.join(missing)}"
    )


def test_the_sampled_run_is_complete_and_reviewed(scores: dict[str, Any]) -> None:
    overall = scores["overall"]
    assert overall["sampled"] >= MIN_SAMPLE, f"{overall['sampled']} sampled mutants, expected at least {MIN_SAMPLE}"
    assert overall["pending"] == 0, f"{overall['pending']} sampled mutants were never run: `run` again"
    unreviewed = [
        f"{s['module']}:{s['line']} {s['operator']}" for s in scores["survivors"] if s["review"] == "unreviewed"
    ]
    assert not unreviewed, f"survivors without a review in mutants/cosmic_ray/survivors.toml: {unreviewed}"


def test_the_sampled_mutation_score_is_at_least_90_percent(scores: dict[str, Any]) -> None:
    score = scores["overall"]["score"]
    assert score is not None
    assert score >= MIN_SCORE, f"sampled mutation score {score:.3f}, expected at least {MIN_SCORE}"
