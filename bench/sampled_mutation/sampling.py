"""``init``: a cosmic-ray session over a snapshot of the reference, filtered, then sampled.

1. Extract ``reference_service/`` of a commit (default ``HEAD``) into the session's snapshot: the
   workers mutate copies of *that*, so the session stays valid while the checkout changes.
2. ``cosmic-ray init`` over the snapshot with the core operators and ours (``operators.register``).
3. The engine's operators filter (``[cosmic-ray.filters.operators-filter]`` of the config).
4. Our filters: (a) annotations: a binary operator inside a type annotation (``str | None``) is not behaviour —
   where annotations are never evaluated the mutant is equivalent, where pydantic evaluates them the
   module fails to import; either way it says nothing about the suite; (b) stillborn mutants: the
   mutated module does not compile (cosmic-ray reads the ``*`` of ``def f(a, *, b)`` as an operator).
5. A stratified sample: every module gets ``max(min-per-module, its proportional share)`` of ``size``
   (capped at what it has), the largest remainders top the total up to ``size``; within a module the
   items are drawn with ``random.Random(f"{seed}:{module}")`` from a fixed order, so the same seed and
   code give the same sample. Every item outside it is marked SKIPPED, as the engine's filters do.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import random
import shutil
import warnings
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cosmic_ray.commands
import cosmic_ray.modules
import cosmic_ray.plugins
import parso
from cosmic_ray.config import ConfigDict
from cosmic_ray.mutating import mutate_code
from cosmic_ray.tools.filters.operators_filter import OperatorsFilter
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult

from sampled_mutation.operators import register
from sampled_mutation.paths import PACKAGE, REPO, Sampling, Session, extract, git, rel

BINARY_OPERATORS = "core/ReplaceBinaryOperator_"
SKIPPED_ANNOTATION = "Filtered: a binary operator in a type annotation"
SKIPPED_STILLBORN = "Filtered: the mutated module does not compile"


def _in_annotation(tree: Any, position: tuple[int, int]) -> bool:
    """Whether the leaf at ``position`` lies in an annotation (variable, parameter or return)."""
    node = tree.get_leaf_for_position(tuple(position), include_prefixes=False)
    while node is not None and node.parent is not None:
        parent = node.parent
        before = node.get_previous_sibling()
        if parent.type == "annassign" and parent.children[1] is node:
            return True
        if parent.type in ("param", "tfpdef") and getattr(before, "value", None) == ":":
            return True
        if parent.type == "funcdef" and getattr(before, "value", None) == "->":
            return True
        node = parent
    return False


def skip_annotations(db: WorkDB, root: Path) -> int:
    """Mark binary-operator items inside annotations SKIPPED; returns how many."""
    trees: dict[str, Any] = {}
    skipped = []
    for item in db.pending_work_items:
        (mutation,) = item.mutations
        if not mutation.operator_name.startswith(BINARY_OPERATORS):
            continue
        module = str(mutation.module_path)
        if module not in trees:
            trees[module] = parso.parse((root / module).read_text(encoding="utf-8"))
        if _in_annotation(trees[module], mutation.start_pos):
            skipped.append(item.job_id)
    if skipped:
        db.set_multiple_results(skipped, WorkResult(output=SKIPPED_ANNOTATION, worker_outcome=WorkerOutcome.SKIPPED))
    return len(skipped)


def skip_stillborn(db: WorkDB, root: Path) -> int:
    """Mark items whose mutated module does not compile SKIPPED (e.g. ``*`` of ``def f(a, *, b)`` read as an
    operator): a syntax error is no test of the suite. Returns how many."""
    sources: dict[str, str] = {}
    skipped = []
    for item in db.pending_work_items:
        (m,) = item.mutations
        module = str(m.module_path)
        if module not in sources:
            sources[module] = (root / module).read_text(encoding="utf-8")
        operator = cosmic_ray.plugins.get_operator(m.operator_name)(**(m.operator_args or {}))
        code = mutate_code(sources[module], operator, m.occurrence)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "is not" with a literal: compiles, and is a mutant
                compile(code or "", module, "exec", dont_inherit=True)
        except SyntaxError:
            skipped.append(item.job_id)
    if skipped:
        db.set_multiple_results(skipped, WorkResult(output=SKIPPED_STILLBORN, worker_outcome=WorkerOutcome.SKIPPED))
    return len(skipped)


def allocate(population: dict[str, int], plan: Sampling) -> dict[str, int]:
    """How many items each module gets: the minimum, else its share of ``size``; remainders top up."""
    total = sum(population.values())
    shares = {m: plan.size * n / total for m, n in population.items()} if total else {}
    counts = {m: min(n, max(plan.min_per_module, math.floor(shares[m]))) for m, n in population.items()}
    by_remainder = sorted(population, key=lambda m: (-(shares[m] - math.floor(shares[m])), m))
    while sum(counts.values()) < min(plan.size, total):
        grown = False
        for module in by_remainder:
            if sum(counts.values()) >= plan.size:
                break
            if counts[module] < population[module]:
                counts[module] += 1
                grown = True
        if not grown:
            break
    return counts


def draw(db: WorkDB, plan: Sampling) -> tuple[dict[str, int], dict[str, int]]:
    """Keep the stratified sample pending, mark the rest SKIPPED; returns (population, sample) per module."""
    by_module: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
    for item in db.pending_work_items:
        (mutation,) = item.mutations
        by_module[str(mutation.module_path)].append((mutation.operator_name, mutation.occurrence, item.job_id))
    population = {m: len(items) for m, items in sorted(by_module.items())}
    counts = allocate(population, plan)
    skipped: list[str] = []
    for module, items in sorted(by_module.items()):
        ordered = sorted(items)
        chosen = set(random.Random(f"{plan.seed}:{module}").sample(range(len(ordered)), counts[module]))
        skipped += [job for i, (_, _, job) in enumerate(ordered) if i not in chosen]
    note = f"Not in the sample (seed {plan.seed}, size {plan.size}, min {plan.min_per_module} per module)"
    db.set_multiple_results(skipped, WorkResult(output=note, worker_outcome=WorkerOutcome.SKIPPED))
    return population, counts


def fingerprint(root: Path) -> dict[str, str]:
    return {
        rel(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted((root / PACKAGE).rglob("*.py"))
    }


def init(session: Session, config: ConfigDict, config_path: Path, plan: Sampling, *, revision: str,
         force: bool) -> dict[str, Any]:  # fmt: skip
    session.root.mkdir(parents=True, exist_ok=True)
    if session.database.exists() and not force:
        with use_db(str(session.database), WorkDB.Mode.open) as db:
            done = sum(1 for _, r in db.results if r.worker_outcome != WorkerOutcome.SKIPPED)
        if done:
            raise SystemExit(f"{session.database} already has {done} results; `init --force` starts over")
    shutil.rmtree(session.snapshot, ignore_errors=True)
    session.database.unlink(missing_ok=True)
    commit = git("rev-parse", "--short", revision)
    if not commit:
        raise SystemExit(f"{revision!r} is not a commit of {REPO}")
    extract(commit, session.snapshot, PACKAGE)
    register()
    with contextlib.chdir(session.snapshot), use_db(str(session.database)) as db:
        paths = [Path(config["module-path"])] if isinstance(config["module-path"], str) else config["module-path"]
        found = cosmic_ray.modules.find_modules([Path(p) for p in paths])
        modules = sorted(cosmic_ray.modules.filter_paths(found, config.get("excluded-modules", ())))
        cosmic_ray.commands.init(modules, db, config.operators_config)
        generated = db.num_work_items
        OperatorsFilter().filter(db, argparse.Namespace(config=str(config_path)))
        after_operators = sum(1 for _ in db.pending_work_items)
        in_annotations = skip_annotations(db, session.snapshot)
        stillborn = skip_stillborn(db, session.snapshot)
        population, sample = draw(db, plan)
    meta: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "sampling": {"seed": plan.seed, "size": plan.size, "min_per_module": plan.min_per_module},
        "generated": generated,
        "filtered_operators": generated - after_operators,
        "filtered_annotations": in_annotations,
        "filtered_stillborn": stillborn,
        "population": population,
        "sample": sample,
        "sources": fingerprint(session.snapshot),
        "runs": [],
    }
    session.write_meta(meta)
    return meta
