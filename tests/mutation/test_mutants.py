"""The mutation self-test in CI: every MUST requirement is caught by some variant, and each variant is caught.

The meta-tests are fast. The runs (``slow``) each start a child suite run against a patched copy of the
reference; under ``pytest tests -n 2`` two of them run at a time. Parametrized from mutants.toml in
file order, so collection is identical on every xdist worker.
"""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

from tests.mutation import runner
from tests.mutation.patching import EditError, prepare
from tests.mutation.variants import all_catches, load_catalogue, load_variants, must_ids

VARIANTS = load_variants()
CATALOGUE = load_catalogue()
BY_NAME = {v.name: v for v in VARIANTS}


def test_every_must_requirement_is_caught_by_a_variant() -> None:
    covered = set(all_catches(VARIANTS))
    missing = [rid for rid in must_ids(CATALOGUE) if rid not in covered]
    assert not missing, f"MUST requirements that no variant in mutants/mutants.toml catches: {', '.join(missing)}"


def test_catches_name_catalogue_requirements() -> None:
    unknown = {v.name: bad for v in VARIANTS if (bad := [rid for rid in v.catches if rid not in CATALOGUE])}
    assert not unknown, f"variants catching requirements the catalogue does not define: {unknown}"


def test_every_edit_applies_and_compiles(tmp_path: Path) -> None:
    """Each snippet occurs exactly once in today's reference, and the patched files still compile."""
    problems = []
    for variant in VARIANTS:
        root = tmp_path / variant.name
        try:
            prepare(root, variant.edits, variant.name)
        except EditError as exc:
            problems.append(str(exc))
            continue
        for file in sorted({e.file for e in variant.edits}):
            try:
                py_compile.compile(str(root / file), doraise=True, cfile=str(tmp_path / "compiled.pyc"))
            except py_compile.PyCompileError as exc:
                problems.append(f"variant {variant.name}: {file} does not compile: {exc.msg}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_control_run_passes() -> None:
    """The unpatched reference through the same path: if it fails, a variant's failures prove nothing."""
    outcome = runner.run_control(VARIANTS)
    assert outcome.verdict == runner.PASSED, outcome.describe()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BY_NAME))
def test_variant_is_caught(name: str) -> None:
    outcome = runner.run_variant(BY_NAME[name])
    assert outcome.verdict == runner.CAUGHT, outcome.describe()
