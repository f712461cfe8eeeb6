"""The 422 answer to a request that fails validation, which never fails to render.

FastAPI's default handler echoes each error's ``input``. For hostile input that echo cannot be
rendered: ``NaN``/``Infinity``/``1e400`` (JSON has no non-finite numbers, Starlette renders with
``allow_nan=False``), a lone surrogate (no UTF-8 encoding), a non-UTF-8 body (``bytes`` that
``jsonable_encoder`` cannot decode). The default handler then raised while answering and the
client got a 500. Here every error keeps FastAPI's shape (``{"detail": [{type, loc, msg, input?,
ctx?}]}``); only a part that cannot be rendered is left out (``input``, ``ctx``) or escaped
(``loc``, ``msg``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

# What rendering hostile values raises: ValueError (non-finite float, UnicodeDecodeError of bytes,
# an int beyond the str-conversion limit), UnicodeEncodeError (lone surrogates), TypeError (odd
# objects), RecursionError (deep nesting).
RENDER_ERRORS = (ValueError, TypeError, UnicodeError, RecursionError)


def _dumps(value: Any) -> bytes:
    """Exactly what Starlette's JSONResponse does with its content."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


def renderable(value: Any) -> Any | None:
    """``value`` as JSON-ready data, or None if it cannot be rendered."""
    try:
        encoded = jsonable_encoder(value)
        _dumps(encoded)
    except RENDER_ERRORS:
        return None
    return encoded


def _text(value: Any) -> str:
    # backslashreplace turns a lone surrogate into the visible text "\ud800" instead of failing.
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _loc(parts: Sequence[Any]) -> list[int | str]:
    return [p if isinstance(p, int) and not isinstance(p, bool) else _text(p) for p in parts]


def render_error(error: dict[str, Any]) -> dict[str, Any]:
    """One validation error: FastAPI's rendering when it works, else the same keys minus what fails."""
    whole = renderable(error)
    if whole is not None:
        return dict(whole)
    safe: dict[str, Any] = {
        "type": _text(error.get("type", "value_error")),
        "loc": _loc(error.get("loc", ())),
        "msg": _text(error.get("msg", "")),
    }
    if "ctx" in error:
        ctx = renderable(error["ctx"])
        if ctx is not None:
            safe["ctx"] = ctx
    return safe


async def validation_failed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": [render_error(e) for e in exc.errors()]}, status_code=422)
