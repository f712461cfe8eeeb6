"""The JSON conformance report: build it from test records, validate it against its schema, read it back.

The schema ships at ``fixtures/schemas/conformance-report.schema.json`` (``SCHEMA_PATH``); bump
``SCHEMA_VERSION`` on any incompatible change.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import harness
from harness import catalogue
from harness.report.outcomes import OUTCOMES, TestRecord, by_requirement, count
from harness.report.verdict import Checked, Verdict, decide
from harness.report.waivers import SourcedWaiver

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "fixtures" / "schemas" / "conformance-report.schema.json"
UNKNOWN_AREA = "unknown"


@dataclass
class RunFacts:
    """What the plugin learnt about the run besides the test outcomes."""

    run_id: str | None = None
    started_at: str = ""
    finished_at: str = ""
    duration_s: float = 0.0
    pytest_exit_status: int = 0
    profile: str = "full"
    workers: int = 0
    args: list[str] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    declared_capabilities: list[str] = field(default_factory=list)
    observed_capabilities: list[str] = field(default_factory=list)
    waivers: list[SourcedWaiver] = field(default_factory=list)
    environment: dict[str, Any] = field(default_factory=dict)
    collection_errors: list[str] = field(default_factory=list)


def load_catalogue() -> tuple[dict[str, catalogue.Requirement], str | None]:
    """The catalogue, or an empty one and the reason it could not be read (a report is still written)."""
    try:
        return catalogue.load(), None
    except (OSError, ValueError, TypeError) as exc:
        return {}, f"{type(exc).__name__}: {exc}"


def environment(docker_version: str | None = None) -> dict[str, Any]:
    import pytest

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "pytest": pytest.__version__,
        "docker": docker_version,
    }


def _test_entry(record: TestRecord, req: str | None = None) -> dict[str, Any]:
    """A test as one requirement saw it (``req``), or on its own (tests without a requirement)."""
    return {
        "nodeid": record.nodeid,
        "outcome": record.outcome if req is None else record.outcome_for(req),
        "test_outcome": record.outcome,
        "label": None if req is None else record.label_for(req),
        "duration_s": round(record.duration, 4),
        "message": (record.message if req is None else record.message_for(req))[:2000],
        "worker": record.worker,
    }


def build(records: list[TestRecord], facts: RunFacts) -> dict[str, Any]:
    reqs, catalogue_error = load_catalogue()
    grouped, unmapped = by_requirement(records)
    waiver_of = {s.waiver.requirement: s for s in facts.waivers}
    requirements: list[dict[str, Any]] = []
    for req_id, result in grouped.items():
        known = reqs.get(req_id)
        waiver = waiver_of.get(req_id)
        requirements.append({
            "id": req_id,
            "level": known.level if known else "MUST",
            "area": known.area if known else UNKNOWN_AREA,
            "title": known.title if known else "(not in the requirement catalogue)",
            "in_catalogue": known is not None,
            "outcome": result.outcome,
            "duration_s": round(result.duration, 4),
            "waiver": None if waiver is None else {"reason": waiver.waiver.reason,
                                                   "expires": waiver.waiver.expires.isoformat()},
            "tests": [_test_entry(t, req_id) for t in result.tests],
        })  # fmt: skip
    areas: dict[str, dict[str, int]] = {}
    for entry in requirements:
        areas.setdefault(entry["area"], dict.fromkeys(OUTCOMES, 0))[entry["outcome"]] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": {
            "name": "se-conformance",
            "version": harness.__version__,
            "catalogue": {
                "path": str(catalogue.CATALOGUE_PATH),
                "requirements": len(reqs),
                "not_checked": sorted(set(reqs) - set(grouped)),
                "error": catalogue_error,
            },
        },
        "run": {
            "run_id": facts.run_id,
            "started_at": facts.started_at,
            "finished_at": facts.finished_at,
            "duration_s": round(facts.duration_s, 3),
            "pytest_exit_status": facts.pytest_exit_status,
            "profile": facts.profile,
            "workers": facts.workers,
            "args": facts.args,
            "collection_errors": facts.collection_errors,
        },
        "target": facts.target,
        "capabilities": {
            "declared": sorted(facts.declared_capabilities),
            "observed": sorted(facts.observed_capabilities),
        },
        "verdict": verdict_section(requirements, [t.outcome for t in unmapped], facts.pytest_exit_status),
        "counts": {
            "requirements": count(e["outcome"] for e in requirements),
            "tests": count(t.outcome for t in records),
        },
        "areas": dict(sorted(areas.items())),
        "requirements": requirements,
        "unmapped_tests": [_test_entry(t) for t in unmapped],
        "waivers": [
            {
                "requirement": s.waiver.requirement,
                "reason": s.waiver.reason,
                "expires": s.waiver.expires.isoformat(),
                "source": s.source,
                "applied": any(e["id"] == s.waiver.requirement and e["outcome"] == "waived" for e in requirements),
            }
            for s in facts.waivers
        ],
        "environment": facts.environment,
    }


def verdict_section(
    requirements: list[dict[str, Any]], unmapped_outcomes: list[str], pytest_status: int
) -> dict[str, Any]:
    """The report's ``verdict`` member from its requirement entries (also for merged shards)."""
    checked = [Checked(r["id"], r["level"], r["outcome"]) for r in requirements]
    lenient = decide(checked, pytest_status=pytest_status, unmapped_outcomes=unmapped_outcomes)
    strict = decide(checked, pytest_status=pytest_status, unmapped_outcomes=unmapped_outcomes, strict=True)
    return {
        "conformant": lenient.conformant,
        "exit_code": lenient.exit_code,
        "strict_exit_code": strict.exit_code,
        "reasons": lenient.reasons,
        "must_failures": [c.id for c in lenient.failures],
        "other_failures": [c.id for c in lenient.warnings],
        "errors": [c.id for c in lenient.errors],
        "blocked": [c.id for c in lenient.blocked],
    }


def verdict_of(document: dict[str, Any], *, strict: bool, pytest_status: int | None = None) -> Verdict:
    """The verdict again from a written report (the command line applies ``--strict`` here)."""
    checked = [Checked(r["id"], r["level"], r["outcome"]) for r in document["requirements"]]
    status = document["run"]["pytest_exit_status"] if pytest_status is None else pytest_status
    return decide(checked, pytest_status=status, strict=strict,
                  unmapped_outcomes=[t["outcome"] for t in document["unmapped_tests"]])  # fmt: skip


@cache
def schema() -> dict[str, Any]:
    return dict(json.loads(SCHEMA_PATH.read_text()))


def validate(document: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when the document does not match the shipped schema."""
    import jsonschema

    jsonschema.validate(document, schema(), cls=jsonschema.Draft202012Validator)


def write(document: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))
