"""Test data: unique names, payloads, digests, timestamps."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def tag() -> str:
    """A short random tag that keeps names of parallel tests apart."""
    return uuid.uuid4().hex[:10]


def unique_name(stem: str = "conformance", ext: str = ".bin") -> str:
    return f"{stem}-{tag()}{ext}"


def payload(size: int = 1024) -> bytes:
    """Random bytes (random, so a test can never pass on another file's content by accident)."""
    return os.urandom(size)


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
