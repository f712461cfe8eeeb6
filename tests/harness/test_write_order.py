"""The system-call order check of SE-DUR-013 (harness.syscalls, harness.write_order) — and proof it can fail.

The unit tests read a hand-made trace in strace's own format (the reference's order, as found by
``strace -f -tt -yy``) and break it one step at a time. The ``slow`` test runs the suite test
(suites/durability/test_durability_syscalls.py, ``--se-trace-syscalls``) against a copy of the reference,
which must pass SE-DUR-013, and against a copy broken by the mutation variant that drops the directory
fsync, which must fail it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from harness.plugin import options as opt
from harness.syscalls import Trace, parse, unescape
from harness.write_order import Endpoints, check
from tests.mutation import report as json_report
from tests.mutation.execution import check_import, child_env, forget_bytecode
from tests.mutation.patching import prepare
from tests.mutation.variants import PACKAGE, REPO, load_variants

BASE = "/srv/se"
REL = "2025/01/02/03/a_u_20250102T030405_f1.bin"
DIR = f"{BASE}/2025/01/02/03"
DATA = f"{BASE}/{REL}"
SIDE = f"{DATA}.attr.json"
TMP = f"{SIDE}.tmp-1a2b"
PART = f"{BASE}/.incoming/x.part"
CLIENT = "7<TCP:[127.0.0.1:8000->127.0.0.1:50000]>"
DB = "8<TCP:[127.0.0.1:40000->127.0.0.1:5432]>"
ENDPOINTS = Endpoints(se_port=8000, db_port=5432)
COMMIT = [
    f'10 sendto({DB}, "Q\\0\\0\\0\\vCOMMIT\\0", 12, MSG_NOSIGNAL, NULL, 0) = 12',
    f'10 recvfrom({DB}, "C\\0\\0\\0\\vCOMMIT\\0Z\\0\\0\\0\\5I", 16384, 0, NULL, NULL) = 18',
]
UPLOAD = [
    f'10 recvfrom({CLIENT}, "POST /api/v1/files/upload HTTP/1.1\\r\\n", 262144, 0, NULL, NULL) = 30',
    f'11 write(9<{PART}>, "abc", 3) = 3',
    f"11 fsync(9<{PART}> <unfinished ...>",
    f'10 sendto({DB}, "Q\\0\\0\\0\\vBEGIN\\0", 11, MSG_NOSIGNAL, NULL, 0) = 11',
    "11 <... fsync resumed>) = 0",
    *COMMIT,  # the WAL's pending row: not the write's COMMIT
    f'11 link("{PART}", "{DATA}") = 0',
    f'11 unlink("{PART}") = 0',
    f"11 fsync(9<{DIR}>) = 0",
    f'11 write(9<{TMP}>, "{{}}", 2) = 2',
    f"11 fsync(9<{TMP}>) = 0",
    f'11 rename("{TMP}", "{SIDE}") = 0',
    f"11 fsync(9<{DIR}>) = 0",
    *COMMIT,
    f'10 sendto({CLIENT}, "HTTP/1.1 201 Created\\r\\n", 22, 0, NULL, 0) = 22',
]


def _trace(lines: list[str]) -> Trace:
    return Trace.of("\n".join(line.replace(" ", " 12:00:00.000000 ", 1) for line in lines))


def _without(lines: list[str], needle: str, occurrence: int = -1) -> list[str]:
    hits = [i for i, line in enumerate(lines) if needle in line]
    return [line for i, line in enumerate(lines) if i != hits[occurrence]]


def test_unescape_reads_strace_strings() -> None:
    assert unescape(r"Q\0\0\0\vCOMMIT\0") == b"Q\0\0\0\x0bCOMMIT\0"
    assert unescape(r"\x3e\377\"\\") == b'>\xff"\\'


def test_parse_joins_unfinished_calls_and_reads_decorations() -> None:
    assert parse("") == []
    trace = _trace(UPLOAD)
    fsync = next(c for c in trace.calls if c.name == "fsync")
    assert (fsync.start, fsync.end, fsync.fd, fsync.ok) == (3, 5, PART, True)
    assert trace.calls[0].endpoints() == (8000, 50000)
    assert next(c for c in trace.calls if c.name == "rename").paths() == (TMP, SIDE)


def test_the_reference_order_passes() -> None:
    verdict = check(_trace(UPLOAD), "upload", "POST", "/api/v1/files/upload", REL, ENDPOINTS)
    assert verdict.ok, verdict.explain()
    names = [name for name, _ in sorted(verdict.steps, key=lambda s: s[1].end)]
    assert names == ["request read", "data file written", "data file fsynced", "data file placed",
                     "sidecar temp file written", "sidecar temp file fsynced", "sidecar renamed into place",
                     "directory fsynced", "database COMMIT sent", "database COMMIT acknowledged",
                     "answer sent"]  # fmt: skip


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        # The directory fsync of the data's placement is there; the one after the sidecar's rename is not.
        (_without(UPLOAD, f"fsync(9<{DIR}>)"), "directory fsynced out of order: expected after the sidecar renamed"),
        (_without(UPLOAD, f"fsync(9<{TMP}>)"), "sidecar temp file fsynced missing"),
        (_without(UPLOAD, "unfinished"), "data file fsynced missing"),
        # The write's COMMIT after the answer (a background task): only the WAL's earlier COMMIT is in time.
        ([*UPLOAD[:-3], UPLOAD[-1], *COMMIT], "database COMMIT sent out of order"),
        # The sidecar written in place: no rename onto it.
        (_without(UPLOAD, "rename("), "sidecar renamed into place missing"),
    ],
    ids=["no-directory-fsync", "no-sidecar-fsync", "no-data-fsync", "commit-after-answer", "no-rename"],
)
def test_a_missing_or_late_step_fails_naming_it(broken: list[str], problem: str) -> None:
    verdict = check(_trace(broken), "upload", "POST", "/api/v1/files/upload", REL, ENDPOINTS)
    assert not verdict.ok
    assert verdict.problem is not None
    assert verdict.problem.startswith(problem), verdict.explain()
    assert "trace lines of this request" in verdict.explain()


def test_a_request_not_in_the_trace_is_named() -> None:
    verdict = check(_trace(UPLOAD), "patch", "PATCH", "/api/v1/files/f1", REL, ENDPOINTS)
    assert verdict.problem == "the request PATCH /api/v1/files/f1 is not in the trace (no read of its request line)"


# -- end to end: the suite test against the reference and against a broken copy ----------------------------
REQ = "SE-DUR-013"
SUITE_TEST = REPO / "suites" / "durability" / "test_durability_syscalls.py"
BROKEN = "sidecar-directory-not-fsynced"


def _outcome(copy_dir: Path, work: Path) -> tuple[str, str]:
    state = work / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    work.chmod(0o755)
    env = child_env(copy_dir, state)
    check_import(copy_dir, env)
    report = work / "report.json"
    cmd = [sys.executable, "-m", "pytest", str(SUITE_TEST), opt.TARGET, "local", opt.COMMAND,
           f"{sys.executable} -m {PACKAGE}", opt.CWD, str(copy_dir), opt.TRACE_SYSCALLS, opt.REPORT_JSON,
           str(report), "-n", "0", "-q", "-p", "no:randomly"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert report.exists(), f"no report; pytest exited {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-1000:]}"
    requirement = json_report.load(report).requirements[REQ]
    return requirement.outcome, "\n".join(t.message for t in requirement.tests)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (scripts/setup installs it)")
def test_the_check_passes_the_reference_and_fails_a_copy_without_the_directory_fsync() -> None:
    variant = next(v for v in load_variants() if v.name == BROKEN)
    # Under /tmp, searchable by others: the harness's PostgreSQL runs as the postgres user below it.
    root = Path(tempfile.mkdtemp(prefix="se-trace-check-"))
    root.chmod(0o755)
    try:
        good = _outcome(prepare(root / "good" / "copy", (), "control"), root / "good")
        assert good[0] == "pass", f"the reference should pass {REQ}: {good}"
        bad = _outcome(prepare(root / "bad" / "copy", variant.parts, BROKEN), root / "bad")
        assert bad[0] == "fail", f"a copy without the sidecar's directory fsync should fail {REQ}: {bad}"
        # The reference fsyncs the directory once, after the sidecar's rename (the data's link is covered by
        # it): without that fsync there is none at all.
        assert "directory fsynced missing" in bad[1], bad[1]
    finally:
        for copy in (root / "good" / "copy", root / "bad" / "copy"):
            forget_bytecode(copy)
        shutil.rmtree(root, ignore_errors=True)
