"""The requirement catalogue: ``suites/requirements.toml``, the project's normative specification.

Each entry::

    [[requirement]]
    id = "SE-FILE-001"          # SE-<AREA>-<NNN>, stable forever
    level = "MUST"              # MUST | SHOULD | MAY
    area = "files"              # service, auth, files, modes, schema, wal, sidecars, cache, gc, durability,
                                # fleet (checked once per fleet: se-conformance run --fleet)
    title = "Upload returns 201 with the SHA-256 checksum"
    text = "…normative sentence…"
    capability = "range"        # optional: an optional SE capability this needs
    source = "contract §2"      # where in the contract brief it comes from
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "suites" / "requirements.toml"
ID_RE = re.compile(r"^SE-[A-Z]+-\d{3}$")
LEVELS = ("MUST", "SHOULD", "MAY")
AREAS = ("service", "auth", "files", "modes", "schema", "wal", "sidecars", "cache", "gc", "durability", "fleet")


@dataclass(frozen=True)
class Requirement:
    id: str
    level: str
    area: str
    title: str
    text: str
    capability: str | None = None
    source: str = ""


class CatalogueError(ValueError):
    pass


def parse(data: dict[str, object], source: str = "catalogue") -> dict[str, Requirement]:
    entries = data.get("requirement", [])
    if not isinstance(entries, list):
        raise CatalogueError(f"{source}: 'requirement' must be an array of tables")
    found: dict[str, Requirement] = {}
    for raw in entries:
        if not isinstance(raw, dict):
            raise CatalogueError(f"{source}: requirement entry {raw!r} is not a table")
        req = Requirement(**raw)
        if not ID_RE.match(req.id):
            raise CatalogueError(f"{source}: id {req.id!r} does not match SE-<AREA>-<NNN>")
        if req.level not in LEVELS:
            raise CatalogueError(f"{source}: {req.id} has level {req.level!r}; expected one of {LEVELS}")
        if req.area not in AREAS:
            raise CatalogueError(f"{source}: {req.id} has area {req.area!r}; expected one of {AREAS}")
        if req.id in found:
            raise CatalogueError(f"{source}: {req.id} is defined twice")
        found[req.id] = req
    return found


@cache
def load(path: Path = CATALOGUE_PATH) -> dict[str, Requirement]:
    return parse(tomllib.loads(path.read_text()), str(path))
