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
# Python's own int() limit (sys.get_int_max_str_digits) is 4300 and raises a plain ValueError deep
# inside json.loads; bounding the digits ourselves makes the refusal explicit and independent of
# PYTHONINTMAXSTRDIGITS. Any such number would break the 4096-byte sidecar limit anyway.
MAX_INT_DIGITS = 1000


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


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise InvalidValue(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)  # float() has no digit limit; 1e400 becomes inf, which JSON cannot carry
    if not math.isfinite(value):
        raise InvalidValue(f"the number {text[:40]} is out of range")
    return value


def parse_object(text: str, what: str) -> dict[str, Any]:
    """Parse a JSON object from user input: every way it can fail is :class:`InvalidValue` (→ 4xx)."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_int=_bounded_int, parse_float=_finite_float)
    except InvalidValue as exc:
        raise InvalidValue(f"{what} is not acceptable JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise InvalidValue(f"{what} is nested too deeply") from None
    except ValueError as exc:  # anything else json.loads may raise on hostile input is still the input's fault
        raise InvalidValue(f"{what} is not valid JSON ({type(exc).__name__})") from None
    return check_object(value, what)
