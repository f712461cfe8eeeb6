"""``report``: the session's results, the reviewed survivors, the score per module and overall.

Every sampled item gets one status: **killed**, **survived**, **timeout**, **no-verdict** (the judge
reached none: recorded as incompetent), **error** (the engine or the transport failed: no test ran),
**pending**. A survivor is looked up in the reviewed list (``mutants/cosmic_ray/survivors.toml``) by
module, operator and occurrence (its line must match too, else the entry is stale):
**equivalent** (no behaviour changes), **unobservable** (behaviour changes that no client of the SE's
interface can see), **permitted** (a client can see the change, but the contract allows both behaviours:
a conformance suite that failed it would be wrong), **test-added** (a test was written: re-run the item
to count it killed).

    score = killed / (killed + timeout + survived - equivalent - unobservable - permitted)

Timeouts count against the suite (a hang is no verdict). ``report`` prints the tables and writes them
to ``mutants/cosmic_ray/scores.json``, which the project's meta-test reads.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

from sampled_mutation.judge import KILLED, NO_VERDICT, SURVIVED, TIMEOUT
from sampled_mutation.paths import Session
from sampled_mutation.workers import verdict_of

PENDING, ERROR = "pending", "error"
EQUIVALENT, UNOBSERVABLE, PERMITTED, TEST_ADDED = "equivalent", "unobservable", "permitted", "test-added"
REVIEW_VERDICTS = (EQUIVALENT, UNOBSERVABLE, PERMITTED, TEST_ADDED)
EXCLUDED = (EQUIVALENT, UNOBSERVABLE, PERMITTED)  # not in the score's denominator
STATUSES = (KILLED, SURVIVED, TIMEOUT, NO_VERDICT, ERROR, PENDING)
SESSION_KEYS = ("created", "commit", "sampling", "generated", "filtered_operators", "filtered_annotations",
                "filtered_stillborn")  # fmt: skip
_REVIEW_KEYS = {"module", "line", "operator", "occurrence", "verdict", "reason"}
FAMILIES = (
    ("core/ReplaceBinaryOperator_", "arithmetic"),
    ("core/ReplaceComparisonOperator_", "comparison"),
    ("core/ReplaceUnaryOperator_", "unary"),
    ("core/NumberReplacer", "constant"),
    ("core/Replace", "boolean"),  # True/False, and/or
    ("core/AddNot", "boolean"),
    ("se/RemoveCall", "removed call"),
    ("se/ReturnNone", "return value"),
)


class ReviewError(ValueError):
    """The reviewed survivors file is malformed."""


@dataclass(frozen=True)
class Review:
    module: str
    line: int
    operator: str
    occurrence: int
    verdict: str
    reason: str


@dataclass
class Item:
    job_id: str
    module: str
    line: int
    operator: str
    occurrence: int
    definition: str
    status: str
    seconds: float | None = None
    requirements: str = ""
    why: str = ""
    diff: str = ""
    review: Review | None = None

    @property
    def family(self) -> str:
        return next((name for prefix, name in FAMILIES if self.operator.startswith(prefix)), "other")

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.module, self.operator, self.occurrence)


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, item: Item) -> None:
        self.counts[item.status] += 1
        if item.status == SURVIVED and item.review is not None:
            self.counts[item.review.verdict] += 1

    @property
    def denominator(self) -> int:
        c = self.counts
        return c[KILLED] + c[TIMEOUT] + c[SURVIVED] - sum(c[v] for v in EXCLUDED)

    @property
    def score(self) -> float | None:
        return self.counts[KILLED] / self.denominator if self.denominator else None

    def as_dict(self) -> dict[str, Any]:
        keys = (*STATUSES, *REVIEW_VERDICTS)
        unreviewed = self.counts[SURVIVED] - sum(self.counts[v] for v in REVIEW_VERDICTS)
        score = self.score
        return {
            "sampled": sum(self.counts[s] for s in STATUSES),
            **{k.replace("-", "_"): self.counts[k] for k in keys},
            "unreviewed": unreviewed,
            "score": None if score is None else round(score, 4),
        }


def load_reviews(path: Path) -> list[Review]:
    if not path.exists():
        return []
    raw = tomllib.loads(path.read_text(encoding="utf-8")).get("survivor", [])
    reviews = []
    for index, entry in enumerate(raw):
        where = f"{path.name}: survivor #{index + 1}"
        if not isinstance(entry, dict) or set(entry) != _REVIEW_KEYS:
            raise ReviewError(f"{where}: needs exactly the keys {sorted(_REVIEW_KEYS)}")
        if entry["verdict"] not in REVIEW_VERDICTS:
            raise ReviewError(f"{where}: verdict {entry['verdict']!r} is not one of {', '.join(REVIEW_VERDICTS)}")
        if not str(entry["reason"]).strip():
            raise ReviewError(f"{where}: the reason is empty")
        reason = " ".join(str(entry["reason"]).split())
        reviews.append(Review(str(entry["module"]), int(entry["line"]), str(entry["operator"]),
                              int(entry["occurrence"]), str(entry["verdict"]), reason))  # fmt: skip
    return reviews


def _status(result: WorkResult | None) -> str:
    if result is None:
        return PENDING
    if result.worker_outcome in (WorkerOutcome.ABNORMAL, WorkerOutcome.EXCEPTION, WorkerOutcome.NO_TEST):
        return ERROR
    verdict = verdict_of(result.output)
    if result.test_outcome == TestOutcome.SURVIVED:
        return SURVIVED
    if result.test_outcome == TestOutcome.KILLED:
        if verdict in (KILLED, TIMEOUT):
            return verdict
        if (result.output or "").strip() == "timeout":  # the engine's backstop
            return TIMEOUT
    return NO_VERDICT


def field_of(output: str | None, name: str) -> str:
    match = re.search(rf"^{name}: (.*)$", output or "", re.MULTILINE)
    return match.group(1).strip() if match else ""


def load_items(db: WorkDB) -> list[Item]:
    """The sampled items (everything not SKIPPED), with their status."""
    results = dict(db.results)
    items = []
    for work in db.work_items:
        result = results.get(work.job_id)
        if result is not None and result.worker_outcome == WorkerOutcome.SKIPPED:
            continue
        (m,) = work.mutations
        seconds = field_of(result.output if result else None, "seconds")
        items.append(Item(
            job_id=work.job_id, module=str(m.module_path), line=m.start_pos[0], operator=m.operator_name,
            occurrence=m.occurrence, definition=m.definition_name or "", status=_status(result),
            seconds=float(seconds) if seconds else None,
            requirements=field_of(result.output if result else None, "requirements").strip("- "),
            why=field_of(result.output if result else None, "why"), diff=(result.diff or "") if result else "",
        ))  # fmt: skip
    return sorted(items, key=lambda i: (i.module, i.line, i.operator, i.occurrence))


def attach_reviews(items: list[Item], reviews: list[Review]) -> list[str]:
    """Give each survivor its review; returns warnings (stale or duplicate entries)."""
    by_key = {i.key: i for i in items}
    warnings = []
    seen: set[tuple[str, str, int]] = set()
    for review in reviews:
        key = (review.module, review.operator, review.occurrence)
        if key in seen:
            warnings.append(f"reviewed twice: {review.module} {review.operator}#{review.occurrence}")
        seen.add(key)
        item = by_key.get(key)
        if item is None or item.line != review.line:
            warnings.append(f"stale review (no such sampled mutant in this session): {review.module}:"
                            f"{review.line} {review.operator}#{review.occurrence}")  # fmt: skip
            continue
        if item.status == SURVIVED:
            item.review = review
        elif review.verdict != TEST_ADDED:
            warnings.append(f"reviewed as {review.verdict} but {item.status}: {item.module}:{item.line}")
    return warnings


def tallies(items: list[Item], attribute: str) -> dict[str, Tally]:
    found: dict[str, Tally] = {}
    for item in items:
        found.setdefault(str(getattr(item, attribute)), Tally()).add(item)
    return dict(sorted(found.items()))


def _survivor(item: Item) -> dict[str, Any]:
    entry: dict[str, Any] = {"module": item.module, "line": item.line, "operator": item.operator,
                             "occurrence": item.occurrence, "definition": item.definition,
                             "review": item.review.verdict if item.review else "unreviewed"}  # fmt: skip
    if item.review:
        entry["reason"] = item.review.reason
    entry["diff"] = [line for line in item.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("---", "+++")]
    return entry


def _unjudged(item: Item) -> dict[str, Any]:
    return {"module": item.module, "line": item.line, "operator": item.operator, "occurrence": item.occurrence,
            "status": item.status, "why": item.why}  # fmt: skip


def scores(session: Session, items: list[Item], command: str) -> dict[str, Any]:
    meta = session.meta()
    overall = Tally()
    for item in items:
        overall.add(item)
    timed = [i.seconds for i in items if i.seconds is not None]
    population: dict[str, int] = meta.get("population", {})
    by_module = tallies(items, "module")
    return {
        "engine": f"cosmic-ray {version('cosmic-ray')}",
        "command": command,
        "session": {k: meta.get(k) for k in SESSION_KEYS},
        "population": sum(population.values()),
        "wall_seconds": round(sum(r.get("seconds", 0) for r in meta.get("runs", [])), 1),
        "runs": meta.get("runs", []),
        "seconds_per_mutant": round(sum(timed) / len(timed), 1) if timed else None,
        "overall": overall.as_dict(),
        "modules": {m: {"population": population.get(m, 0), **t.as_dict()} for m, t in by_module.items()},
        "operators": {f: t.as_dict() for f, t in tallies(items, "family").items()},
        "survivors": [_survivor(i) for i in items if i.status == SURVIVED],
        "no_verdict": [_unjudged(i) for i in items if i.status in (NO_VERDICT, ERROR)],
    }


def collect(session: Session, reviews_path: Path) -> tuple[list[Item], list[str]]:
    with use_db(str(session.database), WorkDB.Mode.open) as db:
        items = load_items(db)
    return items, attach_reviews(items, load_reviews(reviews_path))


def _pct(score: float | None) -> str:
    return "n/a" if score is None else f"{100 * score:.1f}%"


def _row(name: str, t: dict[str, Any]) -> str:
    return (f"| {name} | {t['sampled']} | {t['killed']} | {t['survived']} | {t['equivalent']} | "
            f"{t['unobservable']} | {t['permitted']} | {t['timeout']} | {t['no_verdict'] + t['error']} | "
            f"{t['pending']} | {_pct(t['score'])} |")  # fmt: skip


def markdown(data: dict[str, Any]) -> str:
    head = ("| | sampled | killed | survived | equivalent | unobservable | permitted | timeout | no verdict | pending "
            "| score |\n|---|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    lines = [head, _row("**all**", data["overall"])]
    lines += [_row(f"`{m}`", t) for m, t in data["modules"].items()]
    lines += ["", head.replace("| |", "| operator family |", 1)]
    lines += [_row(f, t) for f, t in data["operators"].items()]
    if data["survivors"]:
        lines += ["", "| survivor | operator | review | reason |", "|---|---|---|---|"]
        for s in data["survivors"]:
            lines.append(f"| `{s['module']}:{s['line']}` | {s['operator']}#{s['occurrence']} | {s['review']} | "
                         f"{s.get('reason', '')} |")  # fmt: skip
    return "\n".join(lines)


def text(data: dict[str, Any], items: list[Item], warnings: list[str]) -> str:
    o = data["overall"]
    lines = [
        f"{data['engine']}: {o['sampled']} sampled of {data['population']} mutants "
        f"(seed {data['session']['sampling']['seed']}); wall time {data['wall_seconds']:.0f}s over "
        f"{len(data['runs'])} run(s); {data['seconds_per_mutant'] or 'n/a'} s per mutant (judge time)",
        f"killed {o['killed']}, survived {o['survived']} (equivalent {o['equivalent']}, unobservable "
        f"{o['unobservable']}, permitted {o['permitted']}, test added {o['test_added']}, "
        f"unreviewed {o['unreviewed']}), timeout {o['timeout']}, "
        f"no verdict {o['no_verdict']}, error {o['error']}, pending {o['pending']}",
        f"sampled mutation score: {_pct(o['score'])} (killed / non-equivalent)",
        "",
        markdown(data),
    ]
    for item in items:
        if item.status == SURVIVED and item.review is None:
            lines += ["", f"unreviewed survivor {item.module}:{item.line} {item.operator}#{item.occurrence} "
                      f"in {item.definition or '?'}:", *(f"    {d}" for d in _survivor(item)["diff"])]  # fmt: skip
        elif item.status in (NO_VERDICT, ERROR):
            lines += ["", f"{item.status} {item.module}:{item.line} {item.operator}#{item.occurrence}: {item.why}"]
    lines += [f"warning: {w}" for w in warnings]
    return "\n".join(lines)


def write(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
