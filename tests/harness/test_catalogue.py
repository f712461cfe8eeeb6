"""The requirement catalogue is complete and the suite is tied to it (the meta-test of issue 4)."""

from __future__ import annotations

import pytest

from harness import catalogue, spec

REQS = {
    "SE-A-001": catalogue.Requirement("SE-A-001", "MUST", "files", "t", "x"),
    "SE-A-002": catalogue.Requirement("SE-A-002", "SHOULD", "files", "t", "x"),
}


def item(nodeid: str, *ids: str) -> dict[str, object]:
    return {"nodeid": nodeid, "requirements": list(ids), "needs": [], "capabilities": []}


def test_coverage_finds_every_kind_of_gap() -> None:
    cov = spec.coverage([item("t.py::a[1]", "SE-A-001"), item("t.py::a[2]", "SE-A-001"),
                         item("t.py::b", "SE-A-001", "SE-Z-999"), item("t.py::c")], REQS)  # fmt: skip
    assert cov.tests_of["SE-A-001"] == ["t.py::a", "t.py::b"]
    assert cov.untested == ["SE-A-002"]
    assert cov.unknown == {"t.py::b": ["SE-Z-999"]}
    assert cov.unmarked == ["t.py::c"]
    assert len(cov.gaps) == 3


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"id": "FILE-1", "level": "MUST", "area": "files", "title": "t", "text": "x"}, "SE-<AREA>-<NNN>"),
        ({"id": "SE-A-001", "level": "MUSTNT", "area": "files", "title": "t", "text": "x"}, "level"),
        ({"id": "SE-A-001", "level": "MUST", "area": "moon", "title": "t", "text": "x"}, "area"),
    ],
)
def test_catalogue_entries_are_validated(entry: dict[str, str], message: str) -> None:
    with pytest.raises(catalogue.CatalogueError, match=message):
        catalogue.parse({"requirement": [entry]})


def test_duplicate_ids_are_refused() -> None:
    entry = {"id": "SE-A-001", "level": "MUST", "area": "files", "title": "t", "text": "x"}
    with pytest.raises(catalogue.CatalogueError, match="twice"):
        catalogue.parse({"requirement": [entry, entry]})


def test_every_requirement_has_a_test_and_every_test_a_known_requirement() -> None:
    text, cov = spec.build()
    assert cov.gaps == [], "\n".join(cov.gaps)
    assert spec.SPEC_PATH.read_text() == text, "docs/specification.md is out of date: run python -m harness.spec"


def test_every_contract_area_has_must_requirements() -> None:
    reqs = catalogue.load()
    for area in catalogue.AREAS:
        assert any(r.area == area and r.level == "MUST" for r in reqs.values()), area
