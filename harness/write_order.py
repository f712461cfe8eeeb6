"""The order of the durable steps of one write, read from an SE's system-call trace (``harness.syscalls``).

What SE-DUR-013 promises, before the answer (``HTTP/1.1 2xx`` written to the client's socket):

- upload: the data file written and fsynced (in place, or in a temp file placed by rename/link) before the
  sidecar appears; the sidecar written to a temp file, fsynced, renamed into place; then the directory
  fsynced; then the database COMMIT sent and acknowledged;
- PATCH: the same for the sidecar, the directory and the COMMIT;
- DELETE: sidecar and data file unlinked, then the directory fsynced, then the COMMIT acknowledged (a
  COMMIT before the unlinks would leave, after a crash, a sidecar that a rebuild brings back to life).

Each COMMIT must follow the directory fsync: that also tells the write's COMMIT from a COMMIT of a WAL
row written earlier in the same request.

A step is found in the window from the request (the read of its request line on the client's socket) to
the answer; "A before B" means A finished on an earlier trace line than B began. The first step that is
missing or out of order is the verdict, with the trace lines that show it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.syscalls import RECEIVES, RENAMES, SENDS, SYNCS, UNLINKS, WRITES, Call, Trace

SIDECAR_SUFFIX = ".attr.json"
COMMIT_QUERY = b"COMMIT"  # the simple-query text (psycopg's Q message, or any client's)
COMMIT_DONE = b"COMMIT\0"  # PostgreSQL's CommandComplete tag of a COMMIT
EVIDENCE_LINES = 40


class OrderProblem(Exception):
    """A step of the write is missing or out of order."""


@dataclass(frozen=True)
class Endpoints:
    se_port: int  # the SE's listening port: the client sockets' local port
    db_port: int  # PostgreSQL's port: the database sockets' peer port


@dataclass
class Verdict:
    operation: str
    steps: list[tuple[str, Call]] = field(default_factory=list)
    problem: str | None = None
    evidence: list[Call] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def order(self) -> list[str]:
        """The steps found, in order, one line each."""
        return [f"{name}: {call}" for name, call in sorted(self.steps, key=lambda s: s[1].end)]

    def explain(self) -> str:
        lines = [f"{self.operation}: {self.problem}" if self.problem else f"{self.operation}: in order"]
        lines += ["steps found:", *(f"  {s}" for s in self.order())]
        if self.evidence:
            lines += ["trace lines of this request:", *(f"  {c}" for c in self.evidence[:EVIDENCE_LINES])]
            if len(self.evidence) > EVIDENCE_LINES:
                lines.append(f"  … {len(self.evidence) - EVIDENCE_LINES} more")
        return "\n".join(lines)


def _first(call: Call) -> str | None:
    paths = call.paths()
    return paths[0] if paths else None


def _ends(path: str | None, rel: str) -> bool:
    return bool(path) and (path == rel or str(path).endswith("/" + rel))


class _Walk:
    """The calls of one request's window, and the steps found so far."""

    def __init__(self, trace: Trace, request: Call, answer: Call, verdict: Verdict, endpoints: Endpoints) -> None:
        self.calls = trace.between(request.end, answer.start)
        # Until the next request arrives: what this request still did after its answer.
        later = (c.start for c in trace.calls if c.start > answer.end and c.name in RECEIVES and _is_request(c.data))
        horizon = next(later, trace.calls[-1].end + 1 if trace.calls else answer.end)
        self.everywhere = [c for c in trace.calls if c.start < horizon]
        self.request = request
        self.answer = answer
        self.verdict = verdict
        self.endpoints = endpoints

    def step(self, name: str, call: Call) -> Call:
        self.verdict.steps.append((name, call))
        return call

    def find(self, name: str, match: Callable[[Call], bool], *, after: Call | None = None,
             before: Call | None = None, last: bool = False, why: str = "") -> Call:  # fmt: skip
        """The first (``last``: the last) call matching, finished after ``after`` and before ``before``."""
        lo = after.end if after is not None else self.request.end
        hi = before.start if before is not None else self.answer.start
        found = [c for c in self.calls if match(c) and c.ok]
        inside = [c for c in found if c.start > lo and c.end < hi]
        if inside:
            return self.step(name, inside[-1] if last else inside[0])
        bounds = (f"after {self.label(after)} (line {after.end})" if after is not None else "after the request") + (
            f" and before {self.label(before)} (line {before.start})"
            if before is not None
            else " and before the answer"
        )
        # Out of order: show where it is instead, the calls after the lower bound first (e.g. after the answer).
        elsewhere = [c for c in self.everywhere if match(c) and c.ok and c.start > lo] or found
        if elsewhere:
            lines = ", ".join(str(c.start) for c in elsewhere[:5])
            raise OrderProblem(f"{name} out of order: expected {bounds}{why}, found only at line(s) {lines}")
        raise OrderProblem(f"{name} missing: no such call {bounds}{why} (the answer is line {self.answer.start})")

    def label(self, call: Call) -> str:
        """The step a call was found as ("the sidecar renamed into place"), else its name."""
        return next((f"the {name}" for name, found in self.verdict.steps if found is call), call.name)

    def is_db(self, call: Call) -> bool:
        ports = call.endpoints()
        if ports is not None:
            return ports[1] == self.endpoints.db_port
        return call.data[:1] in (b"Q", b"C", b"Z")  # undecorated socket: PostgreSQL's framing

    def commit(self, after: Call | None) -> Call:
        sent = self.find("database COMMIT sent", lambda c: c.name in SENDS and COMMIT_QUERY in c.data and
                         self.is_db(c), after=after, last=False,
                         why=" (a COMMIT on the database socket)")  # fmt: skip
        return self.find("database COMMIT acknowledged",
                         lambda c: c.name in RECEIVES and c.fd == sent.fd and COMMIT_DONE in c.data, after=sent,
                         why=" (PostgreSQL's CommandComplete COMMIT read back)")  # fmt: skip


def _is_request(data: bytes) -> bool:
    return data.split(b" ", 1)[0] in (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS")


def find_request(trace: Trace, method: str, path: str, endpoints: Endpoints) -> tuple[Call, Call]:
    """(request, answer): the last read of ``METHOD path`` on a client socket and the first answer after it."""
    line = f"{method} {path} ".encode()

    def client(call: Call) -> bool:
        ports = call.endpoints()
        return ports is None or ports[0] == endpoints.se_port

    requests = [c for c in trace.calls if c.name in RECEIVES and c.ok and c.data.startswith(line) and client(c)]
    if not requests:
        raise OrderProblem(f"the request {method} {path} is not in the trace (no read of its request line)")
    request = requests[-1]
    answers = [c for c in trace.by_fd.get(request.fd or "", []) if c.name in SENDS and c.start > request.end
               and c.data.startswith(b"HTTP/1.")]  # fmt: skip
    if not answers:
        raise OrderProblem(f"no answer to {method} {path} in the trace (no HTTP status line written after {request})")
    return request, answers[0]


def _evidence(trace: Trace, request: Call, answer: Call, rel: str, walk_db: Callable[[Call], bool]) -> list[Call]:
    directory = posixpath.dirname(rel)
    relevant = []
    for call in trace.between(request.start - 1, answer.end + 1):
        about_file = any(_ends(p, rel) or _ends(p, rel + SIDECAR_SUFFIX) for p in (call.fd, *call.paths()))
        temp = any(rel.rsplit("/", 1)[-1] in p for p in (call.fd or "", *call.paths()) if ".tmp" in p or ".part" in p)
        about_dir = _ends(call.fd, directory) and call.name in SYNCS
        commit = COMMIT_QUERY in call.data and walk_db(call)
        if call in (request, answer) or about_file or temp or about_dir or commit:
            relevant.append(call)
    return relevant


def check(trace: Trace, operation: str, method: str, path: str, rel: str, endpoints: Endpoints) -> Verdict:
    """The verdict on one write: ``operation`` is upload, patch or delete; ``rel`` the data file's relative path."""
    verdict = Verdict(f"{operation} ({method} {path})")
    try:
        request, answer = find_request(trace, method, path, endpoints)
    except OrderProblem as exc:
        verdict.problem = str(exc)
        return verdict
    walk = _Walk(trace, request, answer, verdict, endpoints)
    verdict.steps.append(("request read", request))
    try:
        status = answer.data[9:12]
        if not status.startswith(b"2"):
            raise OrderProblem(f"the answer is not 2xx: {answer.data[:40]!r}")
        {"upload": _upload, "patch": _patch, "delete": _delete}[operation](walk, rel)
        verdict.steps.append(("answer sent", answer))
    except OrderProblem as exc:
        verdict.problem = str(exc)
        verdict.evidence = _evidence(trace, request, answer, rel, walk.is_db)
    return verdict


def _sidecar(walk: _Walk, rel: str) -> tuple[Call, str]:
    """The sidecar written to a temp file, fsynced and renamed into place: (the rename, the temp path)."""
    sidecar = rel + SIDECAR_SUFFIX
    rename = walk.find("sidecar renamed into place", lambda c: c.name in RENAMES and len(c.paths()) >= 2 and
                       _ends(c.paths()[-1], sidecar), last=True,
                       why=f" (rename of a temp file onto …/{sidecar})")  # fmt: skip
    temp = rename.paths()[0]
    written = walk.find("sidecar temp file written", lambda c: c.name in WRITES and c.fd == temp, before=rename,
                        last=True, why=f" ({temp})")  # fmt: skip
    walk.find("sidecar temp file fsynced", lambda c: c.name in SYNCS and c.fd == temp, after=written, before=rename,
              why=f" (fsync of {temp} between its last write and its rename)")  # fmt: skip
    return rename, temp


def _dir_sync(walk: _Walk, rel: str, after: Call) -> Call:
    directory = posixpath.dirname(rel)
    return walk.find("directory fsynced", lambda c: c.name in SYNCS and _ends(c.fd, directory), after=after,
                     why=f" (fsync of the directory …/{directory})")  # fmt: skip


def _upload(walk: _Walk, rel: str) -> None:
    placed = [c for c in walk.calls if c.name in RENAMES and c.ok and len(c.paths()) >= 2 and _ends(c.paths()[-1], rel)]
    data_paths = {c.paths()[0] for c in placed}

    def on_data(call: Call) -> bool:
        return call.fd in data_paths or _ends(call.fd, rel)

    written = walk.find("data file written", lambda c: c.name in WRITES and on_data(c), last=True,
                        why=f" (…/{rel}, or a temp file placed there)")  # fmt: skip
    rename, _temp = _sidecar(walk, rel)
    walk.find("data file fsynced", lambda c: c.name in SYNCS and on_data(c), after=written, before=rename,
              why=" (fsync of the data between its last write and the sidecar's rename)")  # fmt: skip
    if placed:
        walk.step("data file placed", placed[-1])
    last_placement = max([rename, *placed], key=lambda c: c.end)
    synced = _dir_sync(walk, rel, last_placement)
    walk.commit(after=synced)


def _patch(walk: _Walk, rel: str) -> None:
    rename, _temp = _sidecar(walk, rel)
    synced = _dir_sync(walk, rel, rename)
    walk.commit(after=synced)


def _delete(walk: _Walk, rel: str) -> None:
    sidecar = walk.find("sidecar unlinked", lambda c: c.name in UNLINKS and _ends(_first(c), rel + SIDECAR_SUFFIX),
                        why=f" (…/{rel}{SIDECAR_SUFFIX})")  # fmt: skip
    data = walk.find("data file unlinked", lambda c: c.name in UNLINKS and _ends(_first(c), rel),
                     why=f" (…/{rel})")  # fmt: skip
    synced = _dir_sync(walk, rel, max(sidecar, data, key=lambda c: c.end))
    walk.commit(after=synced)
