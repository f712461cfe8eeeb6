"""Capacity exhaustion: 507 on a small-capacity SE (contract §2)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from harness.client import SEClient
from harness.expect import arrange, expect, expect_equal, expect_status
from harness.targets.base import SEHandle
from harness.tokens import TokenFactory
from suites.support.data import payload, unique_name
from suites.support.files import UPLOAD, Stored, created_id, expect_present, total, unless_uploads_fail, upload_ok
from suites.support.http import streamed_multipart

MIB = 1024 * 1024


@pytest.mark.req("SE-FILE-013")
def test_upload_past_capacity_is_507(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    small = spawn_se(capacity=MIB)
    api = client_for(small, tokens.user)
    first = upload_ok(api, payload(600 * 1024))
    resp = api.upload(payload(600 * 1024), filename=unique_name("too-big"))
    expect_status(resp, 507, req="SE-FILE-013", what="upload of 600 KiB with 600 KiB of 1 MiB used")
    expect_equal(total(api, req="SE-FILE-013"), 1, req="SE-FILE-013", what="list total after the 507")
    expect_present(api, first, req="SE-FILE-013", what="the first file after the 507")
    upload_ok(api, payload(100 * 1024), req="SE-FILE-013")


FIRST_BYTES = 1024  # sent before the slow upload pauses
PAUSE_S = 1.0  # after its first bytes: the SE has begun the slow upload before the other one arrives
STALL_LIMIT_S = 30.0


@dataclass
class Race:
    client: SEClient
    contents: dict[str, bytes]
    answers: dict[str, httpx.Response]

    @property
    def statuses(self) -> dict[str, int]:
        return {name: resp.status_code for name, resp in self.answers.items()}

    def stored(self, name: str, *, req: str) -> Stored:
        resp = self.answers[name]
        return Stored(created_id(resp, req=req), self.contents[name], name, "application/octet-stream", resp.json())


def race(spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory,
         size: int) -> Race:  # fmt: skip
    """On a fresh 1 MiB SE: a slow upload of ``size`` bytes sends its first KiB and pauses; another upload
    of ``size`` bytes is sent and answered; then the slow one sends the rest."""
    small = spawn_se(capacity=MIB)
    slow_client, fast_client = client_for(small, tokens.user), client_for(small, tokens.user)
    contents = {"slow": payload(size), "fast": payload(size)}
    began, go = threading.Event(), threading.Event()

    def chunks() -> Iterator[bytes]:
        yield contents["slow"][:FIRST_BYTES]
        began.set()
        go.wait(STALL_LIMIT_S)
        yield contents["slow"][FIRST_BYTES:]

    body, headers = streamed_multipart(chunks(), size, unique_name("slow"))
    answers: dict[str, httpx.Response] = {}
    slow = threading.Thread(target=lambda: answers.update(slow=slow_client.post(UPLOAD, content=body, headers=headers)),
                            daemon=True)  # fmt: skip
    slow.start()
    try:
        with arrange("the slow upload has sent its first bytes"):
            expect(began.wait(STALL_LIMIT_S), req="SE-FILE-001", what="the slow upload's first bytes were sent",
                   expected=f"within {STALL_LIMIT_S:.0f} s", actual="not sent")  # fmt: skip
        time.sleep(PAUSE_S)
        answers["fast"] = fast_client.upload(contents["fast"], filename=unique_name("fast"))
    finally:
        go.set()
        slow.join(STALL_LIMIT_S + 30)
    with arrange("the slow upload was answered"):
        expect("slow" in answers, req="SE-FILE-001", what="the slow upload", expected="an answer",
               actual="none")  # fmt: skip
    for resp in answers.values():  # a 5xx other than 507 is this rule's only if a plain upload is stored
        if resp.status_code != 507:
            unless_uploads_fail(slow_client, resp)
    return Race(slow_client, contents, answers)


@pytest.mark.req("SE-FILE-013")
def test_two_uploads_that_together_pass_capacity(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    """A slow upload has begun (its first KiB sent) when a second one arrives and is stored; then the slow
    one sends its remaining bytes. Each fits alone, both together pass STORAGE_MAX_SIZE: exactly one is
    stored, the other is refused with 507 (whichever: an SE that reserved the slow upload's declared
    length may refuse the second one instead)."""
    req = "SE-FILE-013"
    done = race(spawn_se, client_for, tokens, 600 * 1024)
    # That a stored file is answered exactly 201 is SE-FILE-001's rule; here stored is any 2xx.
    statuses = done.statuses
    stored = sorted(name for name, status in statuses.items() if 200 <= status < 300)
    refused = sorted(name for name, status in statuses.items() if status == 507)
    expect(len(stored) == 1 and len(refused) == 1, req=req,
           what="two 600 KiB uploads on a 1 MiB SE, the second stored while the first was being received",
           expected="one stored (2xx), the other refused with 507", actual=statuses,
           resp=done.answers["slow"] if statuses["slow"] not in range(200, 300) else done.answers["fast"])  # fmt: skip
    expect_equal(total(done.client, req=req), 1, req=req, what="list total after the race")
    name = stored[0]
    expect_present(done.client, done.stored(name, req=req), req=req, what=f"the stored {name} upload")


@pytest.mark.req("SE-FILE-013")
def test_two_uploads_that_together_fit(
    spawn_se: Callable[..., SEHandle], client_for: Callable[..., SEClient], tokens: TokenFactory
) -> None:
    """The same interleaving with two 300 KiB uploads, which fit together (and with their declared
    lengths reserved): both are stored."""
    req = "SE-FILE-013"
    done = race(spawn_se, client_for, tokens, 300 * 1024)
    statuses = done.statuses
    for name, resp in done.answers.items():
        expect_status(resp, range(200, 300), req=req,
                      what=f"the {name} one of two 300 KiB uploads at once on an empty 1 MiB SE")  # fmt: skip
    expect_equal(total(done.client, req=req), 2, req=req, what=f"list total after both uploads (answered {statuses})")
    for name in done.answers:
        expect_present(done.client, done.stored(name, req=req), req=req, what=f"the {name} upload")
