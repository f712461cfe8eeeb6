"""Building response headers from user input without letting any of it break the header syntax."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

# RFC 5987 attr-char minus nothing: what may stay unescaped in filename*=UTF-8''...
_ATTR_CHARS = "!#$&+-.^_`|~"
# At most 18 digits per position (< 10**18 bytes, beyond any file): a longer number is not a byte
# position we parse, so the header is malformed and ignored (whole file). Unbounded, int() of a
# 4300+ digit number raises ValueError, and hostile headers must never reach that.
MAX_POSITION_DIGITS = 18
_RANGE = re.compile(rf"bytes=(\d{{0,{MAX_POSITION_DIGITS}}})-(\d{{0,{MAX_POSITION_DIGITS}}})", re.ASCII)


def ascii_fallback(name: str) -> str:
    """Printable ASCII only, without quote, backslash or percent (some agents decode %XX)."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\%' else "_" for c in text).strip()
    return text or "download"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact name per RFC 6266 / RFC 5987."""
    encoded = quote(name, safe=_ATTR_CHARS, encoding="utf-8", errors="strict")
    return f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"


def etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match semantics (weak comparison): ``*`` or any listed tag equal to ours."""
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return any(t == "*" or t.removeprefix("W/") == etag for t in tags)


class Unsatisfiable(Exception):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """A single byte range as (first, last) inclusive; None to send the whole file.

    Syntactically invalid or multi-range headers, and positions of more than
    ``MAX_POSITION_DIGITS`` digits, are ignored (RFC 9110 §14.2 allows it);
    :class:`Unsatisfiable` when the range starts beyond the end (→ 416).
    """
    if not header or "," in header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(size - suffix, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size - 1)
