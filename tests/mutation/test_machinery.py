"""Unit tests of the mutation runner's parts: variant parsing and compounds, edits and overlaps, the
JSON report, verdicts, precision and recall. No suite run: reports are written by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.mutation import report, runner
from tests.mutation.patching import EditError, apply_edits, prepare
from tests.mutation.variants import Edit, Part, VariantError, ci_selection, parse_ci_names, parse_variants

EDIT = {"file": "reference_service/x.py", "old": "a = 1", "new": "a = 2"}


def variant(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {"name": "v", "description": "d", "catches": ["SE-FILE-001"], "edits": [dict(EDIT)]}
    raw.update(overrides)
    return raw


def single(name: str, catches: list[str], old: str, file: str = "reference_service/x.py") -> dict[str, object]:
    return variant(name=name, catches=catches, edits=[{"file": file, "old": old, "new": old + "  # broken"}])


def compound(name: str, combine: list[str], **overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {"name": name, "description": "a foreign SE", "combine": combine}
    raw.update(overrides)
    return raw


def test_parse_variants_in_file_order() -> None:
    parsed = parse_variants({"variant": [variant(name="b-one"), variant(name="a-two")]})
    assert [v.name for v in parsed] == ["b-one", "a-two"]
    assert parsed[0].edits == (Edit("reference_service/x.py", "a = 1", "a = 2"),)
    assert not parsed[0].compound


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Bad Name"}, "lowercase"),
        ({"catches": []}, "non-empty list"),
        ({"catches": ["FILE-1"]}, "SE-<AREA>-<NNN>"),
        ({"catches": ["SE-FILE-001", "SE-FILE-001"]}, "an id twice"),
        ({"edits": []}, "at least one"),
        ({"edits": [{**EDIT, "file": "harness/x.py"}]}, "not a path under reference_service"),
        ({"edits": [{**EDIT, "file": "reference_service/../x.py"}]}, "not a path under reference_service"),
        ({"edits": [{**EDIT, "new": "a = 1"}]}, "equal"),
        ({"edits": [{"file": "reference_service/x.py", "old": "a"}]}, "exactly the keys"),
        ({"colour": "red"}, "unknown keys"),
    ],
)
def test_malformed_variants_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(VariantError, match=message):
        parse_variants({"variant": [variant(**overrides)]})


def test_a_single_variant_needs_catches_and_edits() -> None:
    raw = variant()
    del raw["catches"]
    with pytest.raises(VariantError, match=r"missing keys \['catches'\]"):
        parse_variants({"variant": [raw]})


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(VariantError, match="used twice"):
        parse_variants({"variant": [variant(), variant()]})


SINGLES = [
    single("one", ["SE-FILE-001", "SE-FILE-002"], "a = 1"),
    single("two", ["SE-FILE-002", "SE-WAL-001"], "b = 1"),
    single("three", ["SE-DB-001"], "c = 1", file="reference_service/y.py"),
]


def test_compound_unites_its_components_edits_and_exact_sets() -> None:
    own = {"file": "reference_service/y.py", "old": "d = 1", "new": "d = 2"}
    parsed = parse_variants({"variant": [*SINGLES, compound("foreign", ["three", "one", "two"],
                                                            catches=["SE-CACHE-001"], edits=[own])]})  # fmt: skip
    foreign = parsed[-1]
    assert foreign.compound
    assert foreign.combine == ("three", "one", "two")
    # The union of the components' sets (each id once), then its own.
    assert foreign.catches == ("SE-DB-001", "SE-FILE-001", "SE-FILE-002", "SE-WAL-001", "SE-CACHE-001")
    assert [p.name for p in foreign.parts] == ["three", "one", "two", "foreign (own edits)"]
    assert [e.old for e in foreign.edits] == ["c = 1", "a = 1", "b = 1", "d = 1"]


def test_compound_may_come_before_its_components() -> None:
    parsed = parse_variants({"variant": [compound("foreign", ["one", "three"]), *SINGLES]})
    assert parsed[0].catches == ("SE-FILE-001", "SE-FILE-002", "SE-DB-001")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (compound("foreign", ["one"]), "at least 2"),
        (compound("foreign", ["one", "one"]), "twice"),
        (compound("foreign", ["one", "nope"]), "'nope', which is not a variant"),
        (compound("foreign", ["one", "two"], catches=["SE-WAL-001"]), r"already caught by its components"),
        (compound("foreign", ["one", "two"], edits=[]), "at least one"),
    ],
)
def test_malformed_compounds_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(VariantError, match=message):
        parse_variants({"variant": [*SINGLES, raw]})


def test_compound_of_compounds_is_refused() -> None:
    with pytest.raises(VariantError, match="'inner', a compound"):
        parse_variants(
            {"variant": [*SINGLES, compound("inner", ["one", "two"]), compound("outer", ["inner", "three"])]}
        )


def test_components_with_the_same_snippet_are_refused_naming_both() -> None:
    same = single("same", ["SE-WAL-002"], "a = 1 ")  # contains the snippet of "one"
    with pytest.raises(VariantError, match=r"components one and same both edit reference_service/x.py"):
        parse_variants({"variant": [*SINGLES, same, compound("foreign", ["one", "three", "same"])]})


def test_ci_selection_is_every_compound_and_the_named_singles() -> None:
    variants = parse_variants({"variant": [*SINGLES, compound("foreign", ["one", "three"])]})
    assert [v.name for v in ci_selection(variants, parse_ci_names({"ci": ["two"]}))] == ["foreign", "two"]
    with pytest.raises(VariantError, match="not variants in the file"):
        ci_selection(variants, ("nope",))
    with pytest.raises(VariantError, match="list singles only"):
        ci_selection(variants, ("foreign",))
    with pytest.raises(VariantError, match="each once"):
        parse_ci_names({"ci": ["two", "two"]})
    with pytest.raises(VariantError, match="unknown top-level keys"):
        parse_variants({"variant": [], "selection": []})


def test_edit_must_match_exactly_once(tmp_path: Path) -> None:
    target = tmp_path / "reference_service" / "x.py"
    target.parent.mkdir()
    target.write_text("a = 1\nb = 1\n")
    apply_edits(tmp_path, (Edit("reference_service/x.py", "a = 1", "a = 2"),), "ok")
    assert target.read_text() == "a = 2\nb = 1\n"
    with pytest.raises(EditError, match=r"variant gone.*occurs 0 times in reference_service/x.py"):
        apply_edits(tmp_path, (Edit("reference_service/x.py", "c = 1", "c = 2"),), "gone")
    target.write_text("a = 1\na = 1\n")
    with pytest.raises(EditError, match=r"variant twice.*occurs 2 times"):
        apply_edits(tmp_path, (Edit("reference_service/x.py", "a = 1", "a = 2"),), "twice")
    with pytest.raises(EditError, match=r"variant missing.*reference_service/y.py does not exist"):
        apply_edits(tmp_path, (Edit("reference_service/y.py", "a", "b"),), "missing")


def _prepare_with(tmp_path: Path, text: str, parts: tuple[Part, ...]) -> str:
    """Prepare a copy of a one-file reference package (``x.py`` holding ``text``); the patched text."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "x.py").write_text(text)
    root = prepare(tmp_path / "copy", parts, "foreign", source=source)
    return (root / "reference_service" / "x.py").read_text()


def test_compound_parts_apply_in_order(tmp_path: Path) -> None:
    parts = (Part("one", (Edit("reference_service/x.py", "a = 1", "a = 2"),)),
             Part("two", (Edit("reference_service/x.py", "b = 1", "b = 2"),
                          Edit("reference_service/x.py", "b = 2", "b = 3"))))  # fmt: skip
    assert _prepare_with(tmp_path, "a = 1\nb = 1\n", parts) == "a = 2\nb = 3\n"


def test_parts_touching_overlapping_text_are_refused_naming_both(tmp_path: Path) -> None:
    # Different snippets (the parser cannot tell), overlapping text in the file.
    parts = (Part("one", (Edit("reference_service/x.py", "a = 1\nb", "a = 2\nb"),)),
             Part("two", (Edit("reference_service/x.py", "b = 1", "b = 2"),)))  # fmt: skip
    with pytest.raises(EditError, match=r"variant foreign: components one and two both edit reference_service/x.py "
                                        r"around line 2"):  # fmt: skip
        _prepare_with(tmp_path, "a = 1\nb = 1\n", parts)


def test_variant_whose_edit_does_not_apply_is_an_error() -> None:
    broken = parse_variants({"variant": [variant(edits=[{**EDIT, "file": "reference_service/app.py",
                                                         "old": "no such snippet anywhere"}])]})[0]  # fmt: skip
    outcome = runner.run_variant(broken)
    assert outcome.verdict == runner.ERROR
    assert "variant v" in outcome.detail
    assert "reference_service/app.py" in outcome.detail
    assert not outcome.measured


def document(outcomes: dict[str, str], unmapped: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A JSON conformance report with one test per requirement."""
    return {
        "requirements": [
            {
                "id": rid,
                "outcome": outcome,
                "level": "MUST",
                "tests": [{"nodeid": f"suites/t.py::test_{rid}", "outcome": outcome, "message": f"[{rid}] broke"}],
            }
            for rid, outcome in outcomes.items()
        ],
        "unmapped_tests": unmapped or [],
    }


def test_report_failed_and_errored_requirements() -> None:
    parsed = report.parse(document({"SE-FILE-001": "fail", "SE-FILE-002": "pass", "SE-FILE-003": "blocked",
                                    "SE-FILE-004": "error", "SE-FILE-005": "unsupported"}))  # fmt: skip
    assert parsed.failed == ("SE-FILE-001",)  # anything but "fail" (blocked too) is not failed
    assert parsed.errored == ("SE-FILE-004",)
    assert parsed.evidence("SE-FILE-001")[0].nodeid == "suites/t.py::test_SE-FILE-001"


@pytest.mark.parametrize("bad", [{}, {"requirements": [{"id": 1}]}, {"requirements": [{"id": "SE-X-001"}]}])
def test_malformed_reports_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(report.ReportError, match="requirements"):
        report.parse(bad)


def test_report_file_problems_are_report_errors(tmp_path: Path) -> None:
    with pytest.raises(report.ReportError, match="wrote no conformance report"):
        report.load(tmp_path / "report.json")
    (tmp_path / "report.json").write_text("{")
    with pytest.raises(report.ReportError, match="not JSON"):
        report.load(tmp_path / "report.json")


DECLARED = ("SE-FILE-001", "SE-FILE-002")


def judged(outcomes: dict[str, str], unmapped: list[dict[str, Any]] | None = None) -> runner.Outcome:
    return runner.judge("v", DECLARED, report.parse(document(outcomes, unmapped)), 1.0)


@pytest.mark.parametrize(
    ("outcomes", "verdict", "missing", "extra"),
    [
        ({"SE-FILE-001": "fail", "SE-FILE-002": "fail", "SE-FILE-003": "pass"}, runner.EXACT, (), ()),
        ({"SE-FILE-001": "fail", "SE-FILE-002": "blocked"}, runner.MISSING, ("SE-FILE-002",), ()),
        ({"SE-FILE-001": "fail", "SE-FILE-002": "fail", "SE-FILE-003": "fail"}, runner.EXTRA, (), ("SE-FILE-003",)),
        ({"SE-FILE-001": "pass", "SE-FILE-002": "fail", "SE-FILE-003": "fail"}, runner.BOTH, ("SE-FILE-001",),
         ("SE-FILE-003",)),
        ({"SE-FILE-001": "fail", "SE-FILE-002": "fail", "SE-FILE-003": "error"}, runner.ERROR, (), ()),
        ({}, runner.ERROR, DECLARED, ()),
    ],
)  # fmt: skip
def test_verdicts(outcomes: dict[str, str], verdict: str, missing: tuple[str, ...], extra: tuple[str, ...]) -> None:
    outcome = judged(outcomes)
    assert (outcome.verdict, outcome.missing, outcome.extra) == (verdict, missing, extra)
    assert outcome.ok is (verdict == runner.EXACT)


def test_verdict_describes_missing_and_extra_with_the_failing_test() -> None:
    outcomes = {"SE-FILE-001": "pass", "SE-FILE-002": "fail", "SE-FILE-003": "fail", "SE-FILE-004": "error"}
    text = judged(outcomes).describe()
    assert "missing (blind spot) SE-FILE-001:\n      pass: suites/t.py::test_SE-FILE-001" in text
    assert "extra (false alarm) SE-FILE-003:\n      fail: suites/t.py::test_SE-FILE-003: [SE-FILE-003] broke" in text
    assert "error (no verdict) SE-FILE-004:" in text


def test_a_failed_test_without_requirement_is_an_error() -> None:
    outcome = judged({"SE-FILE-001": "fail", "SE-FILE-002": "fail"},
                     [{"nodeid": "suites/t.py::test_x", "outcome": "fail", "message": "boom"}])  # fmt: skip
    assert outcome.verdict == runner.ERROR
    assert "without a requirement: suites/t.py::test_x: boom" in outcome.describe()


def test_control_verdicts() -> None:
    assert runner.control_verdict(report.parse(document({"SE-FILE-001": "pass", "SE-FILE-002": "unsupported"})), 1).ok
    # Blocked on the reference: a check that never ran, so no variant could fail that requirement through it.
    blocked = runner.control_verdict(report.parse(document({"SE-FILE-001": "pass", "SE-FILE-002": "blocked"})), 1)
    assert blocked.verdict == runner.DIRTY
    failed = runner.control_verdict(report.parse(document({"SE-FILE-001": "fail"})), 1)
    assert failed.verdict == runner.DIRTY
    assert "failed SE-FILE-001" in failed.describe()
    assert runner.control_verdict(report.parse(document({"SE-FILE-001": "error"})), 1).verdict == runner.DIRTY
    assert runner.control_verdict(report.parse(document({})), 1).verdict == runner.ERROR


def test_precision_and_recall_are_summed_over_measured_variants() -> None:
    outcomes = [
        runner.control_verdict(report.parse(document({"SE-FILE-009": "fail"})), 1),  # the control never counts
        # declared 2, reported 3, correct 2
        runner.judge(
            "a",
            DECLARED,
            report.parse(document(dict.fromkeys(("SE-FILE-001", "SE-FILE-002", "SE-FILE-003"), "fail"))),
            1,
        ),
        # declared 2, reported 1, correct 1
        runner.judge("b", DECLARED, report.parse(document({"SE-FILE-001": "fail", "SE-FILE-003": "pass"})), 1),
        runner.Outcome("c", runner.ERROR, DECLARED, detail="timed out"),  # no report: not measured
    ]
    s = runner.score(outcomes)
    assert (s.correct, s.reported, s.declared, s.measured, s.unmeasured) == (3, 4, 4, 2, ("c",))
    assert (s.precision, s.recall) == (0.75, 0.75)
    assert runner.per_requirement(outcomes) == {"SE-FILE-002": ([], ["b"]), "SE-FILE-003": (["a"], [])}
    text = runner.summary(outcomes, 10)
    assert "precision 0.750 (3 of 4" in text
    assert "recall 0.750 (3 of 4" in text
    assert "SE-FILE-003: extra in a" in text
    assert "not measured (no report): c" in text
    assert runner.score([]).precision is None
