"""Checks for user-supplied text and JSON before it reaches PostgreSQL or a sidecar.

PostgreSQL rejects NUL characters in text and jsonb, JSON has no NaN/Infinity, and a lone UTF-16
surrogate cannot be encoded as UTF-8. Each of these would otherwise surface as a 500 deep inside a
write; checking up front turns them into a clear 4xx before anything is touched.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32


class InvalidValue(ValueError):
    pass


def check_text(value: str, what: str) -> str:
    if "\x00" in value:
        raise InvalidValue(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(f"{what} is not valid Unicode (lone surrogate)") from None
    return value


def _check(value: Any, what: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidValue(f"{what} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        check_text(value, what)
    elif isinstance(value, bool) or value is None or isinstance(value, int):
        return
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(f"{what} contains a non-finite number")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidValue(f"{what} has a non-string key")
            check_text(key, what)
            _check(item, what, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, what, depth + 1)
    else:
        raise InvalidValue(f"{what} contains a value of type {type(value).__name__}")


def check_object(value: Any, what: str) -> dict[str, Any]:
    """``value`` must be a JSON object whose content PostgreSQL's jsonb accepts."""
    if not isinstance(value, dict):
        raise InvalidValue(f"{what} must be a JSON object")
    _check(value, what, 0)
    return value


def _reject_constant(name: str) -> Any:
    raise InvalidValue(f"{name} is not valid JSON")


def parse_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise InvalidValue(f"{what} is nested too deeply") from None
    return check_object(value, what)
