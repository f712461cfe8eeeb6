"""The variants (``mutants/mutants.toml``) and the requirement catalogue they are checked against.

A **single** variant is one realistic defect: a name, the **exact** set of requirements it breaks
(``catches``: the suite must report exactly these failed, no fewer and no more) and one or more
search/replace edits on a copy of ``reference_service/``::

    [[variant]]
    name = "checksum-md5"
    description = "The upload digest is MD5, not SHA-256."
    catches = ["SE-FILE-002"]

    [[variant.edits]]
    file = "reference_service/storage/receive.py"
    old = "hashlib.sha256()"
    new = "hashlib.md5()"

A **compound** variant is a foreign SE with many defects at once: it names single variants
(``combine``); its edits are theirs in that order and its exact set is the union of their ``catches``.
It may add ``catches`` and ``edits`` of its own. A variant may add options to its suite run
(``pytest_args = ["--se-trace-syscalls"]``: an opt-in facility its defect is caught by); a compound runs with
its components' and its own. Components whose edits touch the same text are refused
(here when two snippets are the same or contain one another, in ``patching`` against the real files).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MUTANTS_PATH = REPO / "mutants" / "mutants.toml"
# The catalogue: requirements.toml, plus part B while it still lives in its own file.
CATALOGUE_PATHS = (REPO / "suites" / "requirements.toml", REPO / "suites" / "requirements_b.toml")
PACKAGE = "reference_service"
NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ID_RE = re.compile(r"^SE-[A-Z]+-\d{3}$")
_VARIANT_KEYS = {"name", "description", "catches", "edits", "combine", "pytest_args"}
#: What ``pytest_args`` may pass: the plugin's own options, never a target or a filter.
PYTEST_ARGS_ALLOWED = ("--se-trace-syscalls",)
_REQUIRED_KEYS = {"name", "description"}
_EDIT_KEYS = {"file", "old", "new"}
MIN_COMPONENTS = 2


class VariantError(ValueError):
    """``mutants.toml`` is malformed."""


@dataclass(frozen=True)
class Edit:
    file: str  # relative to the repository root, under reference_service/
    old: str  # must occur exactly once in the file
    new: str


@dataclass(frozen=True)
class Part:
    """Edits that come from one place: a single variant, or a compound's own edits."""

    name: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    catches: tuple[str, ...]  # exact: the requirements the suite must report failed, and no others
    parts: tuple[Part, ...]  # a single variant: one part, its own edits
    combine: tuple[str, ...] = ()  # a compound: the single variants it combines
    pytest_args: tuple[str, ...] = ()  # extra options of its suite run (an opt-in facility)

    @property
    def edits(self) -> tuple[Edit, ...]:
        return tuple(edit for part in self.parts for edit in part.edits)

    @property
    def compound(self) -> bool:
        return bool(self.combine)


def _edit(raw: Any, where: str) -> Edit:
    if not isinstance(raw, dict) or set(raw) != _EDIT_KEYS:
        keys = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise VariantError(f"{where}: an edit needs exactly the keys {sorted(_EDIT_KEYS)}, got {keys}")
    if not all(isinstance(raw[k], str) for k in _EDIT_KEYS):
        raise VariantError(f"{where}: file, old and new must be strings")
    file = raw["file"]
    parts = Path(file).parts
    if Path(file).is_absolute() or not parts or parts[0] != PACKAGE or ".." in parts:
        raise VariantError(f"{where}: file {file!r} is not a path under {PACKAGE}/")
    if not raw["old"]:
        raise VariantError(f"{where}: empty 'old' snippet in {file}")
    if raw["old"] == raw["new"]:
        raise VariantError(f"{where}: 'old' and 'new' are equal in {file}")
    return Edit(file=file, old=raw["old"], new=raw["new"])


def _ids(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and ID_RE.match(c) for c in raw):
        raise VariantError(f"{where}: catches must be a non-empty list of SE-<AREA>-<NNN> ids")
    if len(set(raw)) != len(raw):
        raise VariantError(f"{where}: catches lists an id twice")
    return tuple(raw)


def _variant(raw: Any, index: int) -> Variant:
    """One entry as written; a compound's components are resolved by ``parse_variants``."""
    where = f"variant #{index + 1}"
    if not isinstance(raw, dict):
        raise VariantError(f"{where}: not a table")
    unknown = sorted(set(raw) - _VARIANT_KEYS)
    missing = sorted(_REQUIRED_KEYS - set(raw))
    if not unknown and not missing and "combine" not in raw:
        missing = sorted({"catches", "edits"} - set(raw))  # a single variant needs both
    if unknown or missing:
        raise VariantError(
            f"{where}: unknown keys {unknown}, missing keys {missing} (allowed: {sorted(_VARIANT_KEYS)})"
        )
    name = raw["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise VariantError(f"{where}: name {name!r} must be lowercase words joined by '-'")
    where = f"variant {name}"
    if not isinstance(raw["description"], str) or not raw["description"].strip():
        raise VariantError(f"{where}: needs a description")
    combine: tuple[str, ...] = ()
    if "combine" in raw:
        names = raw["combine"]
        if not isinstance(names, list) or len(names) < MIN_COMPONENTS or not all(isinstance(n, str) for n in names):
            raise VariantError(f"{where}: combine must list at least {MIN_COMPONENTS} variant names")
        if len(set(names)) != len(names):
            raise VariantError(f"{where}: combine names a variant twice")
        combine = tuple(names)
    catches = _ids(raw["catches"], where) if "catches" in raw else ()
    edits = raw.get("edits", [])
    if not isinstance(edits, list) or ("edits" in raw and not edits):
        raise VariantError(f"{where}: needs at least one [[variant.edits]]")
    own = tuple(_edit(e, f"{where}, edit #{i + 1}") for i, e in enumerate(edits))
    part_name = f"{name} (own edits)" if combine else name
    return Variant(
        name=name,
        description=" ".join(raw["description"].split()),
        catches=catches,
        parts=(Part(part_name, own),) if own else (),
        combine=combine,
        pytest_args=_pytest_args(raw.get("pytest_args", []), where),
    )


def _pytest_args(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise VariantError(f"{where}: pytest_args must be a list of strings")
    refused = [a for a in raw if a not in PYTEST_ARGS_ALLOWED]
    if refused:
        raise VariantError(
            f"{where}: pytest_args {refused} are not allowed; expected some of {list(PYTEST_ARGS_ALLOWED)} "
            "(options that switch on a facility; the runner chooses target, report and selection)"
        )
    return tuple(dict.fromkeys(raw))


def check_snippets(name: str, parts: tuple[Part, ...]) -> None:
    """Refuse parts whose snippets in the same file are equal or contain one another (they touch the same text)."""
    for i, first in enumerate(parts):
        for second in parts[i + 1 :]:
            for a in first.edits:
                for b in second.edits:
                    if a.file == b.file and (a.old in b.old or b.old in a.old):
                        snippet = min(a.old, b.old, key=len).strip().splitlines()[0][:60]
                        raise VariantError(
                            f"variant {name}: components {first.name} and {second.name} both edit {a.file} at "
                            f"{snippet!r}; expected components whose edits touch different text - combine "
                            "other variants"
                        )


def _resolve(variant: Variant, by_name: dict[str, Variant]) -> Variant:
    if not variant.compound:
        return variant
    where = f"variant {variant.name}"
    parts: list[Part] = []
    catches: list[str] = []
    for component in variant.combine:
        single = by_name.get(component)
        if single is None:
            raise VariantError(f"{where}: combine names {component!r}, which is not a variant in the file")
        if single.compound:
            raise VariantError(f"{where}: combine names {component!r}, a compound; combine single variants only")
        parts += single.parts
        catches += [rid for rid in single.catches if rid not in catches]
    twice = [rid for rid in variant.catches if rid in catches]
    if twice:
        raise VariantError(f"{where}: its own catches {twice} are already caught by its components; drop them")
    all_parts = (*parts, *variant.parts)
    check_snippets(variant.name, all_parts)
    args = tuple(dict.fromkeys(a for name in (*variant.combine,) for a in by_name[name].pytest_args))
    return Variant(variant.name, variant.description, (*catches, *variant.catches), all_parts, variant.combine,
                   tuple(dict.fromkeys((*args, *variant.pytest_args))))  # fmt: skip


def parse_variants(data: dict[str, Any]) -> list[Variant]:
    unknown = sorted(set(data) - {"variant", "ci"})
    if unknown:
        raise VariantError(f"unknown top-level keys {unknown}; expected [[variant]] tables and a 'ci' list")
    entries = data.get("variant", [])
    if not isinstance(entries, list):
        raise VariantError("'variant' must be an array of tables ([[variant]])")
    written = [_variant(raw, i) for i, raw in enumerate(entries)]
    names = [v.name for v in written]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise VariantError(f"variant names used twice: {', '.join(twice)}")
    by_name = {v.name: v for v in written}
    return [_resolve(v, by_name) for v in written]


def load_variants(path: Path = MUTANTS_PATH) -> list[Variant]:
    """Every variant, in file order (compounds resolved: their edits and their exact set)."""
    return parse_variants(tomllib.loads(path.read_text(encoding="utf-8")))


def parse_ci_names(data: dict[str, Any]) -> tuple[str, ...]:
    """The top-level ``ci`` list: the single variants CI runs besides every compound."""
    names = data.get("ci", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise VariantError("'ci' must be a list of variant names, each once")
    return tuple(names)


def load_ci_names(path: Path = MUTANTS_PATH) -> tuple[str, ...]:
    return parse_ci_names(tomllib.loads(path.read_text(encoding="utf-8")))


def ci_selection(variants: list[Variant], ci_names: tuple[str, ...]) -> list[Variant]:
    """What CI runs: every compound, then the single variants named in ``ci`` (file order)."""
    by_name = {v.name: v for v in variants}
    unknown = [n for n in ci_names if n not in by_name]
    if unknown:
        raise VariantError(f"'ci' names {unknown}, which are not variants in the file; see --list")
    compounds = [n for n in ci_names if by_name[n].compound]
    if compounds:
        raise VariantError(f"'ci' names the compounds {compounds}; CI runs every compound anyway, list singles only")
    return [v for v in variants if v.compound] + [v for v in variants if v.name in ci_names]


def load_catalogue(paths: tuple[Path, ...] = CATALOGUE_PATHS) -> dict[str, str]:
    """Requirement id → level (MUST/SHOULD/MAY) over every catalogue file that exists."""
    levels: dict[str, str] = {}
    for path in paths:
        if not path.exists():
            continue
        for raw in tomllib.loads(path.read_text(encoding="utf-8")).get("requirement", []):
            levels[str(raw["id"])] = str(raw["level"])
    return levels


def must_ids(catalogue: dict[str, str]) -> list[str]:
    return sorted(rid for rid, level in catalogue.items() if level == "MUST")


def all_catches(variants: list[Variant]) -> list[str]:
    """Every requirement some variant catches (sorted, once each)."""
    return sorted({rid for v in variants for rid in v.catches})
