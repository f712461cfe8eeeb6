"""Parse ``strace -f -tt -yy -s N`` output into system calls, with the path behind every descriptor.

``-yy`` decorates every descriptor argument with what it refers to: a file (``7</srv/se/2025/01/02/03>``)
or a socket with both endpoints (``9<TCP:[127.0.0.1:40312->127.0.0.1:5432]>``). ``-f`` prefixes each
line with the thread id; a call that blocks while another thread runs is split into ``<unfinished ...>``
and ``<... NAME resumed>``, which are joined here. A call's ``start`` is the line it began on and its
``end`` the line it finished on: strace writes lines in the order things happen, so "A finished before
B began" is ``a.end < b.start``.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field

#: What the durability check needs strace to record (``-e trace=``).
TRACED_CALLS = (
    "openat", "open", "creat", "read", "write", "pwrite64", "writev", "pwritev", "pwritev2",
    "send", "sendto", "sendmsg", "recv", "recvfrom", "recvmsg",
    "fsync", "fdatasync", "rename", "renameat", "renameat2", "link", "linkat", "unlink", "unlinkat",
)  # fmt: skip
WRITES = frozenset({"write", "pwrite64", "writev", "pwritev", "pwritev2"})
SENDS = frozenset({"write", "writev", "send", "sendto", "sendmsg"})
RECEIVES = frozenset({"read", "recv", "recvfrom", "recvmsg"})
SYNCS = frozenset({"fsync", "fdatasync"})
RENAMES = frozenset({"rename", "renameat", "renameat2", "link", "linkat"})  # a name appears at a path
UNLINKS = frozenset({"unlink", "unlinkat"})

SHOWN_CHARS = 240  # of a call's line in messages (a data write's buffer is long)

_LINE = re.compile(r"^(?P<pid>\d+)\s+(?P<time>\d\d:\d\d:\d\d\.\d+)\s+(?P<rest>.*)$")
_UNFINISHED = " <unfinished ...>"
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<body>.*)$")
# A descriptor with its -yy decoration: sockets are TYPE:[...] (which may contain '>'), files a path.
_FD = re.compile(r"(?P<fd>-?\d+|AT_FDCWD)<(?P<what>[\w-]+:\[[^\]]*\]|[^>]*)>")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?')
_ESCAPES = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27, '"': 34, "\\": 92, "'": 39}
_TCP = re.compile(r"^TCP(?:v6)?:\[(?P<local>.*):(?P<lport>\d+)->(?P<peer>.*):(?P<pport>\d+)\]$")


def unescape(text: str) -> bytes:
    """The bytes of a C-escaped strace string (``\\0``, ``\\v``, ``\\x3e``, ``\\377``)."""
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\\" or i + 1 == len(text):
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "x" and re.match(r"[0-9a-fA-F]{2}", text[i + 2 : i + 4]):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", text[i + 1 : i + 4])
            assert digits is not None
            out.append(int(digits.group(0), 8) & 0xFF)
            i += 1 + len(digits.group(0))
        else:
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            i += 2
    return bytes(out)


@dataclass(frozen=True)
class Call:
    """One system call as strace recorded it."""

    start: int  # line number (1-based) of the line it began on
    end: int  # line number of the line it finished on (= start unless it was interrupted)
    pid: int
    time: str
    name: str
    text: str  # the call as one line: "fsync(7</srv/se/2025>) = 0"
    fd: str | None = None  # the first argument's decoration: a path or "TCP:[a:p->b:q]"
    strings: tuple[bytes, ...] = ()  # the quoted string arguments, unescaped (truncated ones as far as shown)
    dirs: tuple[str | None, ...] = ()  # for each string argument: the directory descriptor before it, if any
    result: str = ""

    @property
    def ok(self) -> bool:
        return not self.result.startswith(("-1", "?"))

    @property
    def data(self) -> bytes:
        """The buffer of a read/write/send/recv (its first string argument), else b''."""
        return self.strings[0] if self.strings else b""

    def paths(self) -> tuple[str, ...]:
        """The path arguments (rename: source, destination), made absolute with their directory descriptor."""
        found = []
        for raw, base in zip(self.strings, self.dirs, strict=True):
            path = raw.decode("utf-8", "surrogateescape")
            found.append(os.path.normpath(os.path.join(base, path)) if base and not path.startswith("/") else path)
        return tuple(found)

    def endpoints(self) -> tuple[int, int] | None:
        """(local port, peer port) of a TCP socket descriptor."""
        match = _TCP.match(self.fd or "")
        return (int(match.group("lport")), int(match.group("pport"))) if match else None

    def __str__(self) -> str:
        where = f"line {self.start}" if self.start == self.end else f"lines {self.start}-{self.end}"
        text = self.text if len(self.text) <= SHOWN_CHARS else f"{self.text[:SHOWN_CHARS]}…{self.text[-40:]}"
        return f"{where}: [{self.pid}] {self.time} {text}"


def _split_result(text: str) -> tuple[str, str]:
    at = text.rfind(") = ")
    if at < 0:
        return text.rstrip(")"), "?"
    return text[:at], text[at + 4 :]


def _call(start: int, end: int, pid: int, time: str, text: str) -> Call | None:
    match = _CALL.match(text)
    if not match:
        return None
    body, result = _split_result(match.group("body"))
    first = _FD.match(body)
    strings: list[bytes] = []
    dirs: list[str | None] = []
    last_dir: str | None = None
    pos = 0
    # Walk the arguments left to right: a decorated descriptor sets the directory of the next path.
    while pos < len(body):
        fd = _FD.match(body, pos)
        if fd:
            last_dir = fd.group("what") if fd.group("what").startswith("/") else None
            pos = fd.end()
            continue
        string = _STRING.match(body, pos)
        if string:
            strings.append(unescape(string.group(1)))
            dirs.append(last_dir)
            last_dir = None
            pos = string.end()
            continue
        pos += 1
    return Call(
        start=start, end=end, pid=pid, time=time, name=match.group("name"), text=text,
        fd=first.group("what") if first and first.group("fd") != "AT_FDCWD" else None,
        strings=tuple(strings), dirs=tuple(dirs), result=result,
    )  # fmt: skip


def parse(text: str) -> list[Call]:
    """Every complete call of an ``strace -f -tt -yy`` log, in the order they finished."""
    calls: list[Call] = []
    pending: dict[int, tuple[int, str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = _LINE.match(line)
        if not match:
            continue
        pid, time, rest = int(match.group("pid")), match.group("time"), match.group("rest")
        if rest.startswith(("---", "+++")):
            continue
        if rest.endswith(_UNFINISHED):
            pending[pid] = (number, rest[: -len(_UNFINISHED)])
            continue
        resumed = _RESUMED.match(rest)
        if resumed:
            began = pending.pop(pid, None)
            if began is None:
                continue  # began before the trace did
            call = _call(began[0], number, pid, time, began[1] + resumed.group("rest"))
        else:
            call = _call(number, number, pid, time, rest)
        if call is not None:
            calls.append(call)
    return calls


@dataclass
class Trace:
    """A parsed trace, and the calls per descriptor path (``by_fd``) for lookups."""

    calls: list[Call]
    by_fd: dict[str, list[Call]] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> Trace:
        calls = parse(text)
        grouped: dict[str, list[Call]] = defaultdict(list)
        for call in calls:
            if call.fd:
                grouped[call.fd].append(call)
        return cls(calls, dict(grouped))

    def between(self, first: int, last: int) -> list[Call]:
        """Calls that began after line ``first`` and finished before line ``last``."""
        return [c for c in self.calls if c.start > first and c.end < last]
