"""Where the sampled mutation run keeps its things, and the engine configuration.

Committed (``mutants/cosmic_ray/``): ``config.toml`` (cosmic-ray's configuration plus our ``sampling``
table), ``survivors.toml`` (the reviewed survivors), ``scores.json`` (what ``report`` wrote last).
Not committed: the session directory (default ``.cache/cosmic-ray/``): ``session.sqlite`` (cosmic-ray's
work database: the resumable state), ``snapshot/reference_service`` (the code the session was made from:
workers mutate a copy of it, so the checkout may change meanwhile) and ``meta.json`` (sample design,
source fingerprint, wall time of every ``run``).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cosmic_ray.config import ConfigDict, load_config

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
SCRIPT = BENCH / "mutation_score.py"
PACKAGE = "reference_service"
ENGINE_DIR = REPO / "mutants" / "cosmic_ray"
CONFIG = ENGINE_DIR / "config.toml"
SURVIVORS = ENGINE_DIR / "survivors.toml"
SCORES = ENGINE_DIR / "scores.json"
DEFAULT_SESSION = REPO / ".cache" / "cosmic-ray"
VERDICT_PREFIX = "se-mutant-verdict: "  # the judge's verdict line in a result's output


@dataclass(frozen=True)
class Sampling:
    seed: int
    size: int
    min_per_module: int


@dataclass(frozen=True)
class Session:
    """A session directory."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / "session.sqlite"

    @property
    def snapshot(self) -> Path:
        """The directory holding ``reference_service/`` as it was at ``init``."""
        return self.root / "snapshot"

    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    def meta(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.meta_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            sys.exit(f"no session in {self.root}: run `bench/mutation_score.py init` first")
        return data

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def engine_config(path: Path = CONFIG) -> ConfigDict:
    return load_config(str(path))


def sampling(config: ConfigDict) -> Sampling:
    raw = config.sub("sampling")
    return Sampling(int(raw.get("seed", 1)), int(raw.get("size", 300)), int(raw.get("min-per-module", 3)))


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def extract(revision: str, dest: Path, *paths: str) -> None:
    """The files of ``revision`` (a commit of this repository) under ``paths`` (all: none given) into ``dest``.

    Snapshots and worker copies come from commits, never from the working tree, which other people may be
    editing at that very moment.
    """
    archive = subprocess.run(["git", "archive", "--format=tar", revision, *paths], cwd=REPO, capture_output=True,
                             check=False)  # fmt: skip
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision} {' '.join(paths)}: {archive.stderr.decode(errors='replace')}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


def rel(path: Path | str) -> str:
    """A module path as the session stores it (``reference_service/...``), whatever form it came in."""
    parts = Path(path).parts
    return "/".join(parts[parts.index(PACKAGE) :]) if PACKAGE in parts else Path(path).as_posix()
