"""A private copy of ``reference_service/`` with a variant's search/replace edits applied.

A compound variant's parts (its components, then its own edits) are applied in order. Before anything is
written, the parts are checked against the reference's files: two parts whose snippets cover overlapping
text of a file are an error naming both, because applying one would silently break the other.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.mutation.variants import PACKAGE, REPO, Edit, Part


class EditError(Exception):
    """An edit cannot be applied: its file is missing, its snippet is not there exactly once, or two parts overlap."""


def copy_reference(dest: Path, source: Path = REPO / PACKAGE) -> Path:
    """Copy the reference package to ``dest/reference_service`` (no bytecode); returns ``dest``."""
    shutil.copytree(source, dest / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def _read(root: Path, edit: Edit, where: str) -> str:
    try:
        return (root / edit.file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EditError(f"{where}: {edit.file} does not exist") from None


def apply_edits(root: Path, edits: tuple[Edit, ...], variant: str, *, part: str | None = None) -> None:
    """Apply ``edits`` in order to the files under ``root``; all-or-error per edit."""
    label = f"variant {variant}" + (f", component {part}" if part and part != variant else "")
    for number, edit in enumerate(edits, start=1):
        path = root / edit.file
        text = _read(root, edit, f"{label}, edit #{number}")
        found = text.count(edit.old)
        if found != 1:
            first_line = edit.old.strip().splitlines()[0][:80]
            raise EditError(
                f"{label}, edit #{number}: the 'old' snippet occurs {found} times in {edit.file} "
                f"(expected exactly once; it starts {first_line!r}) - the reference changed, update mutants.toml"
            )
        path.write_text(text.replace(edit.old, edit.new), encoding="utf-8")


def spans(text: str, edits: tuple[Edit, ...], file: str) -> list[tuple[int, int]]:
    """Where the part's snippets for ``file`` lie in the unpatched ``text`` (snippets found exactly once)."""
    found = []
    for edit in edits:
        if edit.file == file and text.count(edit.old) == 1:
            start = text.index(edit.old)
            found.append((start, start + len(edit.old)))
    return found


def check_overlaps(root: Path, parts: tuple[Part, ...], variant: str) -> None:
    """Refuse two parts whose snippets cover overlapping text of the same (unpatched) file."""
    files = sorted({e.file for p in parts for e in p.edits})
    for file in files:
        touching = [p for p in parts if any(e.file == file for e in p.edits)]
        if len(touching) < 2:
            continue
        text = (root / file).read_text(encoding="utf-8") if (root / file).exists() else ""
        regions = [(p, spans(text, p.edits, file)) for p in touching]
        for i, (first, first_spans) in enumerate(regions):
            for second, second_spans in regions[i + 1 :]:
                for a_start, a_end in first_spans:
                    for b_start, b_end in second_spans:
                        if a_start < b_end and b_start < a_end:
                            line = text.count("\n", 0, max(a_start, b_start)) + 1
                            raise EditError(
                                f"variant {variant}: components {first.name} and {second.name} both edit "
                                f"{file} around line {line}; expected components whose edits touch different "
                                "text - combine other variants"
                            )


def prepare(dest: Path, parts: tuple[Part, ...], variant: str, source: Path = REPO / PACKAGE) -> Path:
    """A patched copy under ``dest``; the SE started with ``cwd=dest`` imports it."""
    copy_reference(dest, source)
    check_overlaps(dest, parts, variant)
    for part in parts:
        apply_edits(dest, part.edits, variant, part=part.name)
    return dest
