"""Merge the ``report.json`` of a run's shards into the report of the whole run. Pure logic.

Every requirement's outcome is derived again from the union of its test entries, with the same rule a
single run uses (``outcomes.worst`` over what each test showed about the requirement: ``tests[].outcome``
is ``TestRecord.outcome_for``), and the verdict again with ``verdict.decide``. Nothing a shard concluded
on its own (its verdict, its "not checked" list, its outcome of a requirement half of whose tests ran
elsewhere) is carried over.

What makes shards mergeable, checked here: the same suite and report schema, the same target (kind and
identity), the same profile, no test in two shards, and — for shards of ``run --shard K/N`` — one N and
every K from 1 to N exactly once. A missing shard is no configuration error: its tests' verdicts are
missing, so the merged run has no verdict (pytest status 2, "interrupted") unless the shards that ran
prove a failure, exactly as for a run that stopped half-way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigurationError
from harness.report.document import SCHEMA_VERSION, UNKNOWN_AREA, verdict_section
from harness.report.outcomes import OUTCOMES, SKIPPED, WAIVED, worst
from harness.shard import Shard, shard_of_args

PYTEST_INTERRUPTED = 2
PYTEST_NO_TESTS = 5
# Which shard status the merged run takes when the shards disagree: a problem beats a result.
_STATUS_RANK = (3, 4, 2, 1, 0, 5)


@dataclass(frozen=True)
class ShardReport:
    """One input of the merge: where it came from and its document (``None``: no report.json there)."""

    source: str
    document: dict[str, Any] | None

    @property
    def shard(self) -> Shard | None:
        return None if self.document is None else shard_of_args(self.document["run"]["args"])


def merged_status(statuses: Sequence[int]) -> int:
    """pytest's exit status of the whole run: an empty shard (5) is fine when another ran tests."""
    ran = [s for s in statuses if s != PYTEST_NO_TESTS] or list(statuses)
    return min(ran, key=lambda s: _STATUS_RANK.index(s) if s in _STATUS_RANK else -1) if ran else PYTEST_NO_TESTS


def coverage_problems(inputs: Sequence[ShardReport]) -> list[str]:
    """Why the inputs are not one whole run: missing reports, missing shards (never raises)."""
    problems = [f"{i.source}: no report.json (the shard did not finish)" for i in inputs if i.document is None]
    shards = [i.shard for i in inputs if i.document is not None]
    counts = {s.count for s in shards if s is not None}
    if len(counts) == 1 and all(s is not None for s in shards):
        count = counts.pop()
        present = {s.index for s in shards if s is not None}
        problems += [f"shard {k}/{count}: no report among the inputs" for k in range(1, count + 1) if k not in present]
    return problems


def _fail(what: str, expected: str, hint: str) -> ConfigurationError:
    return ConfigurationError(what, expected=expected, hint=hint)


def check_compatible(inputs: Sequence[ShardReport]) -> None:
    """Raise ``ConfigurationError`` when the reports are not parts of one run of one target."""
    present = [i for i in inputs if i.document is not None]
    if not present:
        raise _fail("none of the directories holds a report.json: " + ", ".join(i.source for i in inputs),
                    "the --out directories of `se-conformance run --shard K/N`",
                    "pass the directories the shards wrote (their --out), e.g. out-1 out-2 out-3")  # fmt: skip
    first = present[0]
    assert first.document is not None
    keys = {
        "report schema": lambda d: d["schema_version"],
        "suite version": lambda d: d["suite"]["version"],
        "target kind": lambda d: d["target"]["kind"],
        "profile": lambda d: d["run"]["profile"],
        "target profile": lambda d: d["target"]["profile_name"],
    }
    for what, key in keys.items():
        for other in present[1:]:
            assert other.document is not None
            if key(other.document) != key(first.document):
                raise _fail(
                    f"{other.source} and {first.source} differ in {what}: {key(other.document)!r} vs "
                    f"{key(first.document)!r}",
                    "shards of one run: the same suite, target, image and profile",
                    "merge only the --out directories of one `run --shard K/N` series",
                )
    identity = dict(first.document["target"]["identity"])
    for other in present[1:]:
        assert other.document is not None
        # A shard whose tests never reached the SE knows only the kind: compare what both know.
        theirs = other.document["target"]["identity"]
        differ = sorted(k for k in set(identity) & set(theirs) if identity[k] != theirs[k])
        if differ:
            raise _fail(f"{other.source} and {first.source} tested different SEs ({', '.join(differ)}: "
                        f"{[theirs[k] for k in differ]!r} vs {[identity[k] for k in differ]!r})",
                        "shards of one run: the same image, command or URL",
                        "merge only the --out directories of one `run --shard K/N` series")  # fmt: skip
        identity.update(theirs)
    seen: dict[Shard, str] = {}
    counts = {i.shard.count for i in present if i.shard is not None}
    if len(counts) > 1:
        raise _fail(f"the shards split the run differently: N = {sorted(counts)}",
                    "every shard of one series run with the same N (--shard K/N)",
                    "run all shards with the same N")  # fmt: skip
    if counts and any(i.shard is None for i in present):
        whole = next(i.source for i in present if i.shard is None)
        raise _fail(f"{whole} is a whole run, the others are shards", "only shards of one series",
                    "leave the unsharded run out of the merge")  # fmt: skip
    for item in present:
        shard = item.shard
        if shard is not None and shard in seen:
            raise _fail(f"shard {shard} appears twice: {seen[shard]} and {item.source}",
                        "each shard once", "pass each shard's --out directory once")  # fmt: skip
        if shard is not None:
            seen[shard] = item.source
    owner: dict[str, str] = {}
    for item in present:
        assert item.document is not None
        for nodeid in nodeids_of(item.document):
            if nodeid in owner:
                raise _fail(f"test {nodeid} ran in both {owner[nodeid]} and {item.source}",
                            "disjoint shards (each test in one shard)",
                            "merge shards of one series, each once")  # fmt: skip
            owner[nodeid] = item.source


def nodeids_of(doc: dict[str, Any]) -> set[str]:
    """Every test a report saw (under a requirement or without one)."""
    ids = {t["nodeid"] for r in doc["requirements"] for t in r["tests"]}
    return ids | {t["nodeid"] for t in doc["unmapped_tests"]}


def _requirements(docs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for req in doc["requirements"]:
            entry = merged.setdefault(req["id"], {**req, "tests": [], "waiver": None})
            entry["tests"] = entry["tests"] + list(req["tests"])
            entry["waiver"] = entry["waiver"] or req.get("waiver")
    for entry in merged.values():
        entry["tests"].sort(key=lambda t: t["nodeid"])
        entry["outcome"] = worst(t["outcome"] for t in entry["tests"]) or SKIPPED
        entry["duration_s"] = round(sum(t["duration_s"] for t in entry["tests"]), 4)
    return [merged[k] for k in sorted(merged)]


def _sum_counts(docs: Sequence[dict[str, Any]], key: str) -> dict[str, int]:
    return {o: sum(int(d["counts"][key].get(o, 0)) for d in docs) for o in OUTCOMES}


def _waivers(docs: Sequence[dict[str, Any]], requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    waived = {r["id"] for r in requirements if r["outcome"] == WAIVED}
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for doc in docs:
        for waiver in doc["waivers"]:
            unique.setdefault((waiver["requirement"], waiver["source"]), dict(waiver))
    return [{**w, "applied": w["requirement"] in waived} for w in unique.values()]


def merge(inputs: Sequence[ShardReport], *, args: Sequence[str] = ()) -> dict[str, Any]:
    """The report of the whole run from its shards' reports (see the module docstring)."""
    check_compatible(inputs)
    docs = [i.document for i in inputs if i.document is not None]
    problems = coverage_problems(inputs)
    status = merged_status([int(d["run"]["pytest_exit_status"]) for d in docs])
    if problems and status in (0, 1, PYTEST_NO_TESTS):
        status = PYTEST_INTERRUPTED
    requirements = _requirements(docs)
    unmapped = sorted((t for d in docs for t in d["unmapped_tests"]), key=lambda t: t["nodeid"])
    areas: dict[str, dict[str, int]] = {}
    for entry in requirements:
        areas.setdefault(entry.get("area") or UNKNOWN_AREA, dict.fromkeys(OUTCOMES, 0))[entry["outcome"]] += 1
    first = docs[0]
    identity: dict[str, Any] = {}
    for doc in docs:
        identity.update(doc["target"]["identity"])
    not_checked = set(first["suite"]["catalogue"]["not_checked"])
    for doc in docs[1:]:
        not_checked &= set(doc["suite"]["catalogue"]["not_checked"])
    run_ids = [str(d["run"]["run_id"]) for d in docs if d["run"]["run_id"]]
    return {
        "schema_version": SCHEMA_VERSION,
        "suite": {**first["suite"], "catalogue": {**first["suite"]["catalogue"], "not_checked": sorted(not_checked)}},
        "run": {
            "run_id": "+".join(run_ids) or None,
            "started_at": min(d["run"]["started_at"] for d in docs),
            "finished_at": max(d["run"]["finished_at"] for d in docs),
            "duration_s": round(max(float(d["run"]["duration_s"]) for d in docs), 3),
            "pytest_exit_status": status,
            "profile": first["run"]["profile"],
            "workers": sum(int(d["run"]["workers"]) for d in docs),
            "args": list(args),
            "collection_errors": [*problems, *(e for d in docs for e in d["run"]["collection_errors"])],
        },
        "target": {
            **first["target"],
            "identity": identity,
            "info": next((d["target"]["info"] for d in docs if d["target"].get("info")), None),
            "version": next((d["target"]["version"] for d in docs if d["target"].get("version")), None),
            "table_prefixes": sorted({p for d in docs for p in d["target"]["table_prefixes"]}),
        },
        "capabilities": {
            "declared": sorted({c for d in docs for c in d["capabilities"]["declared"]}),
            "observed": sorted({c for d in docs for c in d["capabilities"]["observed"]}),
        },
        "verdict": verdict_section(requirements, [t["outcome"] for t in unmapped], status),
        "counts": {
            "requirements": {o: sum(1 for r in requirements if r["outcome"] == o) for o in OUTCOMES},
            "tests": _sum_counts(docs, "tests"),
        },
        "areas": dict(sorted(areas.items())),
        "requirements": requirements,
        "unmapped_tests": unmapped,
        "waivers": _waivers(docs, requirements),
        "environment": first["environment"],
    }
