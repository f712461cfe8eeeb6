"""A private copy of ``reference_service/`` with a variant's search/replace edits applied."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.mutation.variants import PACKAGE, REPO, Edit


class EditError(Exception):
    """An edit cannot be applied: its file is missing or its snippet is not there exactly once."""


def copy_reference(dest: Path, source: Path = REPO / PACKAGE) -> Path:
    """Copy the reference package to ``dest/reference_service`` (no bytecode); returns ``dest``."""
    shutil.copytree(source, dest / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def apply_edits(root: Path, edits: tuple[Edit, ...], variant: str) -> None:
    """Apply ``edits`` in order to the files under ``root``; all-or-error per edit."""
    for number, edit in enumerate(edits, start=1):
        path = root / edit.file
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise EditError(f"variant {variant}, edit #{number}: {edit.file} does not exist") from None
        found = text.count(edit.old)
        if found != 1:
            first_line = edit.old.strip().splitlines()[0][:80]
            raise EditError(
                f"variant {variant}, edit #{number}: the 'old' snippet occurs {found} times in {edit.file} "
                f"(expected exactly once; it starts {first_line!r}) - the reference changed, update mutants.toml"
            )
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def prepare(dest: Path, edits: tuple[Edit, ...], variant: str) -> Path:
    """A patched copy under ``dest``; the SE started with ``cwd=dest`` imports it."""
    copy_reference(dest)
    apply_edits(dest, edits, variant)
    return dest
