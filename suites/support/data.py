"""Test data: unique names, payloads, digests, timestamps."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import random
import uuid
from collections.abc import Iterator

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def tag() -> str:
    """A short random tag that keeps names of parallel tests apart."""
    return uuid.uuid4().hex[:10]


def unique_name(stem: str = "conformance", ext: str = ".bin") -> str:
    return f"{stem}-{tag()}{ext}"


def payload(size: int = 1024) -> bytes:
    """Random bytes (random, so a test can never pass on another file's content by accident)."""
    return os.urandom(size)


GENERATED_CHUNK = 1 << 20


def generated(size: int, seed: int, chunk: int = GENERATED_CHUNK) -> Iterator[bytes]:
    """``size`` pseudo-random bytes from ``seed``, made chunk by chunk: the same bytes every time, so a
    large file can be sent and checked again without ever being held (or shipped) whole."""
    rng = random.Random(seed)
    left = size
    while left > 0:
        n = min(chunk, left)
        yield rng.randbytes(n)
        left -= n


def generated_sha256(size: int, seed: int) -> str:
    digest = hashlib.sha256()
    for block in generated(size, seed):
        digest.update(block)
    return digest.hexdigest()


def reported_checksum(body: object, sent: bytes) -> str:
    """The checksum an upload's answer reports (what the SE says it stored), else that of the bytes sent.

    Tests that observe a stored file judge it against this: whether the SE stored the right bytes at all
    is SE-FILE-002/018's to judge, once, not every observer's."""
    checksum = body.get("checksum") if isinstance(body, dict) else None
    return checksum if isinstance(checksum, str) else hashlib.sha256(sent).hexdigest()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_uuid() -> str:
    return str(uuid.uuid4())


def parse_ts(value: object) -> dt.datetime | None:
    """An ISO 8601 date-time, or ``None`` when ``value`` is not one. Naive values are taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def has_subsecond(value: object) -> bool:
    parsed = parse_ts(value)
    return parsed is not None and parsed.microsecond != 0
