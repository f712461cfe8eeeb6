"""The variants (``mutants/mutants.toml``) and the requirement catalogue they are checked against.

A variant is one realistic defect: a name, what it breaks (``catches``, requirement IDs whose tests must
fail) and one or more search/replace edits on a copy of ``reference_service/``::

    [[variant]]
    name = "checksum-md5"
    description = "The upload digest is MD5, not SHA-256."
    catches = ["SE-FILE-002"]

    [[variant.edits]]
    file = "reference_service/storage/receive.py"
    old = "hashlib.sha256()"
    new = "hashlib.md5()"
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
_VARIANT_KEYS = {"name", "description", "catches", "edits"}
_EDIT_KEYS = {"file", "old", "new"}


class VariantError(ValueError):
    """``mutants.toml`` is malformed."""


@dataclass(frozen=True)
class Edit:
    file: str  # relative to the repository root, under reference_service/
    old: str  # must occur exactly once in the file
    new: str


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    catches: tuple[str, ...]
    edits: tuple[Edit, ...]


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


def _variant(raw: Any, index: int) -> Variant:
    where = f"variant #{index + 1}"
    if not isinstance(raw, dict):
        raise VariantError(f"{where}: not a table")
    unknown = sorted(set(raw) - _VARIANT_KEYS)
    missing = sorted(_VARIANT_KEYS - set(raw))
    if unknown or missing:
        raise VariantError(f"{where}: unknown keys {unknown}, missing keys {missing}")
    name = raw["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise VariantError(f"{where}: name {name!r} must be lowercase words joined by '-'")
    where = f"variant {name}"
    catches = raw["catches"]
    if not isinstance(catches, list) or not catches or not all(isinstance(c, str) and ID_RE.match(c) for c in catches):
        raise VariantError(f"{where}: catches must be a non-empty list of SE-<AREA>-<NNN> ids")
    if len(set(catches)) != len(catches):
        raise VariantError(f"{where}: catches lists an id twice")
    edits = raw["edits"]
    if not isinstance(edits, list) or not edits:
        raise VariantError(f"{where}: needs at least one [[variant.edits]]")
    if not isinstance(raw["description"], str) or not raw["description"].strip():
        raise VariantError(f"{where}: needs a description")
    return Variant(
        name=name,
        description=" ".join(raw["description"].split()),
        catches=tuple(catches),
        edits=tuple(_edit(e, f"{where}, edit #{i + 1}") for i, e in enumerate(edits)),
    )


def parse_variants(data: dict[str, Any]) -> list[Variant]:
    entries = data.get("variant", [])
    if not isinstance(entries, list):
        raise VariantError("'variant' must be an array of tables ([[variant]])")
    variants = [_variant(raw, i) for i, raw in enumerate(entries)]
    names = [v.name for v in variants]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise VariantError(f"variant names used twice: {', '.join(twice)}")
    return variants


def load_variants(path: Path = MUTANTS_PATH) -> list[Variant]:
    """Every variant, in file order."""
    return parse_variants(tomllib.loads(path.read_text(encoding="utf-8")))


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
