"""Allure: what the results directory gets besides allure-pytest's own files, and the offline HTML.

* ``environment.properties`` — target, kind, prefix, profile, suite version (the report's first page);
* ``categories.json`` — product defects (an assertion failed: ``ConformanceFailure``/``AssertionError``,
  Allure status *failed*) apart from harness errors (``HarnessError``, ``TargetNotReady``, connection
  errors, ...: status *broken*).

The HTML comes from Allure 3 (npm package ``allure``, needs Node ≥ 20), installed into the project's
``.cache/allure`` by ``scripts/setup`` or ``se-conformance report --html --install``. It renders one
self-contained ``index.html`` (works from ``file://``), with the tree grouped by area (epic) and
requirement (story).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness.errors import ConfigurationError, HarnessError

ALLURE_NPM_PACKAGE = "allure@3.18.0"
ALLURE_ENV = "SE_CONFORMANCE_ALLURE"  # path to an `allure` executable (Allure 3)
REPO_ROOT = Path(__file__).resolve().parents[2]
ALLURE_CACHE = REPO_ROOT / ".cache" / "allure"
INSTALL_COMMAND = f"npm install --prefix {ALLURE_CACHE} --no-audit --no-fund {ALLURE_NPM_PACKAGE}"
TREE_GROUP_BY = ["epic", "story"]  # area → "SE-XXX-NNN title" (labels set by harness.plugin.reporting)

HARNESS_ERROR_TYPES = (
    "HarnessError", "ConfigurationError", "TargetNotReady", "DockerUnavailable", "ConnectError",
    "ConnectTimeout", "PoolTimeout", "OperationalError",
)  # fmt: skip
# Allure 3 evaluates these as JavaScript regular expressions: no inline flags such as (?s) — JavaScript
# rejects them and the whole report fails to render. [\s\S] matches across lines in both Java and JS.
_ANY = r"[\s\S]*"
CATEGORIES: list[dict[str, object]] = [
    {
        "name": "Product defects (a requirement failed)",
        "matchedStatuses": ["failed"],
    },
    {
        "name": "Blocked (a preparation failed: no verdict for the requirement under test)",
        "matchedStatuses": ["broken"],
        "traceRegex": f"{_ANY}Blocked{_ANY}",
    },
    {
        "name": "Harness errors (no verdict)",
        "matchedStatuses": ["broken"],
        "traceRegex": f"{_ANY}({'|'.join(HARNESS_ERROR_TYPES)}){_ANY}",
    },
    {
        "name": "Other errors in test code (no verdict)",
        "matchedStatuses": ["broken"],
    },
    {
        "name": "Waived or unsupported",
        "matchedStatuses": ["skipped"],
    },
]


def _escape(text: str, key: bool = False) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace("=", "\\=").replace(":", "\\:").replace(" ", "\\ ") if key else text


def write_extras(results_dir: Path, environment: dict[str, str]) -> None:
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [f"{_escape(k, key=True)}={_escape(v)}" for k, v in environment.items()]
    (results_dir / "environment.properties").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (results_dir / "categories.json").write_text(json.dumps(CATEGORIES, indent=2) + "\n", encoding="utf-8")


def allure_version(executable: str) -> str | None:
    try:
        done = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def find_allure() -> str | None:
    """An Allure 3 ``allure`` executable: $SE_CONFORMANCE_ALLURE, the project cache, then PATH."""
    candidates = [os.environ.get(ALLURE_ENV), str(ALLURE_CACHE / "node_modules" / ".bin" / "allure"),
                  shutil.which("allure")]  # fmt: skip
    for candidate in candidates:
        if candidate and Path(candidate).exists():
            version = allure_version(candidate)
            if version and version.startswith("3"):
                return candidate
    return None


def install_allure() -> str:
    """``npm install`` Allure 3 into the project cache (seconds; needs the npm registry)."""
    if shutil.which("npm") is None:
        raise ConfigurationError("npm is not installed", expected="Node.js ≥ 20 with npm for Allure 3",
                                 hint="apt-get install -y nodejs npm")  # fmt: skip
    ALLURE_CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(INSTALL_COMMAND.split(), capture_output=True, text=True, timeout=600, check=False)
    found = find_allure()
    if done.returncode != 0 or found is None:
        raise HarnessError(f"installing Allure failed (npm exit {done.returncode})",
                           expected="an allure 3 executable in " + str(ALLURE_CACHE),
                           hint=(done.stderr or done.stdout)[-1500:])  # fmt: skip
    return found


def allure_or_error(install: bool = False) -> str:
    found = find_allure()
    if found:
        return found
    if install:
        return install_allure()
    raise ConfigurationError(
        "Allure 3 is not installed",
        expected=f"an `allure` 3.x executable in {ALLURE_CACHE} or on PATH (or ${ALLURE_ENV})",
        hint=f"run: {INSTALL_COMMAND}   (or: se-conformance report --html --install)",
    )


def render_html(results_dir: Path, out_dir: Path, *, install: bool = False, name: str = "SE conformance") -> Path:
    """Render ``results_dir`` into ``out_dir/index.html`` (one self-contained file); returns its path."""
    if not results_dir.is_dir() or not any(results_dir.glob("*-result.json")):
        raise ConfigurationError(f"no Allure results in {results_dir}",
                                 expected="a directory with *-result.json files (se-conformance run --out DIR)",
                                 hint="run the suite first, or pass --results DIR")  # fmt: skip
    executable = allure_or_error(install)
    results_dir, out_dir = results_dir.resolve(), out_dir.resolve()
    config = {
        "name": name,
        "categories": CATEGORIES,
        "plugins": {"awesome": {"options": {"reportName": name, "singleFile": True, "groupBy": TREE_GROUP_BY}}},
    }
    if out_dir.exists():
        shutil.rmtree(out_dir)
    with tempfile.TemporaryDirectory(prefix="se-allure-") as tmp:
        config_path = Path(tmp) / "allurerc.json"
        config_path.write_text(json.dumps(config))
        done = subprocess.run(
            [executable, "generate", str(results_dir), "--output", str(out_dir), "--config", str(config_path)],
            capture_output=True, text=True, timeout=600, check=False, cwd=tmp,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )  # fmt: skip
    index = out_dir / "index.html"
    if done.returncode != 0 or not index.exists():
        raise HarnessError(f"allure generate failed (exit {done.returncode})", expected=f"{index}",
                           hint=(done.stderr or done.stdout)[-2000:])  # fmt: skip
    return index
