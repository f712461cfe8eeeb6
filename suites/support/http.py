"""HTTP-level checks: status classes, header parsing, Prometheus text, hand-made multipart bodies."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx

from harness.expect import expect, expect_answered, fail, passed

# -- status classes --------------------------------------------------------------------------------


def expect_not_5xx(resp: httpx.Response, *, req: str, what: str) -> httpx.Response:
    expect(resp.status_code < 500, req=req, what=f"{what}: a server error", expected="a 2xx or 4xx answer",
           resp=resp)  # fmt: skip
    return resp


def media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


# -- Content-Disposition (RFC 6266 / RFC 8187) -----------------------------------------------------

_PARAM_RE = re.compile(r';\s*([^\s=;]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass
class Disposition:
    type: str
    params: dict[str, str] = field(default_factory=dict)
    ext_error: str | None = None

    @property
    def filename(self) -> str | None:
        """The name a browser would save as: ``filename*`` if present and decodable, else ``filename``."""
        return self.params.get("filename*") or self.params.get("filename")


def parse_disposition(value: str) -> Disposition:
    kind, _, rest = value.partition(";")
    disposition = Disposition(kind.strip().lower())
    for name, raw in _PARAM_RE.findall(";" + rest):
        name = name.lower()
        raw = raw.strip()
        if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        if name.endswith("*"):
            parts = raw.split("'", 2)
            if len(parts) != 3:
                disposition.ext_error = f"{name} is not charset'lang'value: {raw!r}"
                continue
            charset = parts[0] or "utf-8"
            try:
                raw = unquote(parts[2], encoding=charset, errors="strict")
            except (LookupError, UnicodeDecodeError) as exc:
                disposition.ext_error = f"{name} does not decode as {charset}: {exc}"
                continue
        disposition.params[name] = raw
    return disposition


# -- Prometheus text exposition format -------------------------------------------------------------

_SAMPLE_RE = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*"  # metric name
    r"(\{.*\})?"  # labels
    r"\s+([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN)"  # value
    r"(\s+-?\d+)?\s*$"  # optional timestamp
)


def prometheus_problems(text: str) -> tuple[int, list[str]]:
    """(number of samples, lines that are neither comments nor samples)."""
    samples, bad = 0, []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if _SAMPLE_RE.match(stripped):
            samples += 1
        else:
            bad.append(line)
    return samples, bad


# -- raw headers -----------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # HTAB is legal in header values


def expect_clean_headers(resp: httpx.Response, *, req: str, forbidden: tuple[str, ...] = ()) -> None:
    """No header value with raw CR/LF/control characters; none of the ``forbidden`` header names.

    A raw CR or LF in a header breaks the HTTP framing itself: the client refuses the answer, so a
    transport fault here is this requirement's failure."""
    expect_answered(resp, req=req, what="response headers")
    for name, value in resp.headers.multi_items():
        if _CONTROL.search(value):
            fail(req, f"response header {name} carries a raw control character", expected="no CR, LF or "
                 "other control character in any header value", actual=value, resp=resp)  # fmt: skip
    for name in forbidden:
        if name in resp.headers:
            fail(req, f"response carries the header {name!r} spelled out by the filename",
                 expected=f"no {name} header", actual=resp.headers[name], resp=resp)  # fmt: skip
    passed(req, "no raw control character and no injected header")


# -- multipart built by hand (httpx percent-encodes what a hostile client would send raw) ----------


def _boundary() -> str:
    return f"seconformance{uuid.uuid4().hex}"


def _file_part_head(boundary: str, filename_param: bytes, content_type: str) -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '.encode()
        + filename_param
        + f"\r\nContent-Type: {content_type}\r\n\r\n".encode()
    )


def _content_type(boundary: str) -> dict[str, str]:
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def raw_multipart(
    filename_param: bytes,
    content: bytes,
    content_type: str = "application/octet-stream",
    fields: Mapping[str, str] | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body whose file part's Content-Disposition ends in ``filename_param``
    exactly as given (raw bytes: control characters, UTF-8, even CR/LF)."""
    boundary = _boundary()
    parts: list[bytes] = []
    for name, value in (fields or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value.encode())
    parts.append(_file_part_head(boundary, filename_param, content_type) + content)
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, _content_type(boundary)


def streamed_multipart(
    chunks: Iterable[bytes], size: int, filename: str, content_type: str = "application/octet-stream"
) -> tuple[Iterator[bytes], dict[str, str]]:
    """An upload body sent chunk by chunk (never held whole), with its exact Content-Length."""
    boundary = _boundary()
    head = _file_part_head(boundary, quoted_filename(filename), content_type)
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from chunks
        yield tail

    return body(), {**_content_type(boundary), "Content-Length": str(len(head) + size + len(tail))}


def quoted_filename(name: str) -> bytes:
    """``filename="<name>"`` with the name as raw UTF-8 (only \\ and " escaped)."""
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return b'filename="' + escaped.encode("utf-8") + b'"'
