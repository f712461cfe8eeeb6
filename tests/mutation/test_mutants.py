"""The mutation self-test in CI: precision and recall of the suite's verdicts on broken copies of the reference.

The meta-tests are fast. The runs (``slow``) each start a child run of the **whole** suite against a
patched copy of the reference; under ``pytest tests -n 2`` two of them run at a time. CI runs the control,
every compound variant and the singles named in ``ci`` (mutants/mutants.toml); every variant is measured
by ``python -m tests.mutation.runner`` (docs/mutation.md). Parametrized in file order, so collection is
identical on every xdist worker.
"""

from __future__ import annotations

import py_compile
from pathlib import Path

import pytest

from tests.mutation import runner
from tests.mutation.patching import EditError, prepare
from tests.mutation.variants import ci_selection, load_catalogue, load_ci_names, load_variants

VARIANTS = load_variants()
CATALOGUE = load_catalogue()
CI = ci_selection(VARIANTS, load_ci_names())
COMPOUNDS = [v for v in VARIANTS if v.compound]
MIN_COMPOUNDS = 3
MIN_DEFECTS_PER_COMPOUND = 8


def test_catches_name_catalogue_requirements() -> None:
    unknown = {v.name: bad for v in VARIANTS if (bad := [rid for rid in v.catches if rid not in CATALOGUE])}
    assert not unknown, f"variants catching requirements the catalogue does not define: {unknown}"


def test_compounds_look_like_a_foreign_se() -> None:
    """At least three compounds, each combining many defects at once."""
    small = {v.name: len(v.combine) for v in COMPOUNDS if len(v.combine) < MIN_DEFECTS_PER_COMPOUND}
    assert len(COMPOUNDS) >= MIN_COMPOUNDS, (
        f"{len(COMPOUNDS)} compound variants in mutants/mutants.toml, expected at least {MIN_COMPOUNDS}"
    )
    assert not small, f"compounds combining fewer than {MIN_DEFECTS_PER_COMPOUND} variants: {small}"


def test_every_edit_applies_and_compiles(tmp_path: Path) -> None:
    """Each snippet occurs exactly once in today's reference (compounds: no overlap), patched files compile."""
    problems = []
    for variant in VARIANTS:
        root = tmp_path / variant.name
        try:
            prepare(root, variant.parts, variant.name)
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
def test_control_run_is_clean() -> None:
    """The unpatched reference, whole suite: if it fails or errs, a variant's failures prove nothing."""
    outcome = runner.run_control()
    assert outcome.verdict == runner.CLEAN, outcome.describe()


@pytest.mark.slow
@pytest.mark.parametrize("name", [v.name for v in CI])
def test_variant_is_exact(name: str) -> None:
    """The suite reports exactly the declared requirements failed: nothing missing, nothing extra."""
    outcome = runner.run_variant(next(v for v in CI if v.name == name))
    assert outcome.verdict == runner.EXACT, outcome.describe()
