"""Hypothesis strategies for hostile HTTP requests over every endpoint of the contract.

Values are drawn from small hand-picked pools of hostile atoms (huge numbers, NaN/Infinity, non-UTF-8
bytes, control characters, broken framing) combined at random: drawing big random text would be slow
and find less. Run-time values (tokens, ids of stored files) appear as placeholders (``@TOKEN:kind@``,
``@ID:n@``) that :mod:`tests.reference.hostile_fuzz` resolves when it sends, so the strategies are static
and a seeded run is the same run every time.
"""

from __future__ import annotations

from hypothesis import strategies as st

from tests.reference.hostile_http import RawRequest

SEED_FILES = 6  # files stored before the run; @ID:0..2@ are never deleted, so downloads have a target
DELETABLE = range(3, SEED_FILES)
VALID_TOKENS = ("user", "operator", "admin", "service")
HOSTILE_TOKENS = ("expired", "not_yet_valid", "wrong_key", "alg_none", "hs256_public_key", "unknown_type",
                  "unknown_role", "garbage", "missing:exp", "missing:sub", "huge", "empty", "basic",
                  "non_ascii", "rs512", "exp_nan", "exp_inf", "exp_1e400", "exp_huge_int", "iat_inf",
                  "nbf_string", "sub_nul", "name_surrogate", "name_long", "payload_list", "payload_not_utf8",
                  "payload_deep", "header_not_json", "kid_hostile", "no_auth")  # fmt: skip
TOKENS = VALID_TOKENS + HOSTILE_TOKENS

HUGE_DIGITS = (19, 300, 1001, 4301, 5000, 5000)
NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400", b"1e-400", b"-0", b"0.1e999999",
           *(b"9" * n for n in HUGE_DIGITS), b"-" + b"9" * 5000, b"1" + b"0" * 5000 + b".5"]  # fmt: skip
STRINGS = [b'""', b'"plain"', b'"\\u0000"', b'"\\ud800"', b'"\\udfff\\ud800"', b'"\xff\xfe"', b'"\xc3\x28"',
           b'"a\r\nX-Injected: 1"', b'"' + b"x" * 5000 + b'"', b'"\\"quoted\\""', b'"caf\xc3\xa9"']  # fmt: skip
ATOMS = NUMBERS + STRINGS + [b"null", b"true", b"[]", b"{}", b"[" * 2000 + b"]" * 2000, b"{" * 50]
FIELDS = [b"description", b"version", b"metadata", b"custom_attributes", b"reason", b"file_id", b"\xff", b""]

# Header values: hostile bytes a client can put on the wire (CTLs other than CR/LF are refused by
# the HTTP parser with 400; CR/LF would split the header, so they only appear inside bodies).
HEADER_VALUES = [b"", b" ", b"\xff\xfe\xfd", b"caf\xc3\xa9", b"a\x0bb", b"a\tb", b"x" * 20000, b"\x7f",
                 b'"quoted"', b"9" * 5000, b"NaN", b"-1", b"W/", b"*", b",,,,", b"\x00"]  # fmt: skip


def _number() -> st.SearchStrategy[bytes]:
    return st.one_of(st.sampled_from(NUMBERS), st.integers(-(2**70), 2**70).map(lambda n: str(n).encode()))


def _digits() -> st.SearchStrategy[bytes]:
    """A byte position: small, around the 18-digit limit, or absurdly long."""
    return st.one_of(
        st.integers(0, 20).map(lambda n: str(n).encode()),
        st.sampled_from([b"", b"-1", b"9" * 18, b"9" * 19, b"0" * 30 + b"1", b"1e3", b"0x10", b" 1", b"\xd9\xa1"]),
        st.sampled_from(HUGE_DIGITS).map(lambda n: b"9" * n),
    )


@st.composite
def json_value(draw: st.DrawFn, depth: int = 0) -> bytes:
    if depth >= 3 or draw(st.booleans()):
        return draw(st.sampled_from(ATOMS))
    if draw(st.booleans()):
        items = draw(st.lists(json_value(depth + 1), max_size=3))
        return b"[" + b",".join(items) + b"]"
    return draw(json_object(depth + 1))


@st.composite
def json_object(draw: st.DrawFn, depth: int = 0) -> bytes:
    keys = draw(st.lists(st.sampled_from(FIELDS), max_size=4))
    members = [b'"' + key + b'":' + draw(json_value(depth + 1)) for key in keys]
    return b"{" + b",".join(members) + b"}"


@st.composite
def json_body(draw: st.DrawFn) -> bytes:
    """Mostly objects with the fields the endpoints know, sometimes anything at all."""
    kind = draw(st.sampled_from(["object", "object", "value", "broken", "bytes"]))
    if kind == "object":
        return draw(json_object())
    if kind == "value":
        return draw(json_value())
    if kind == "broken":
        return draw(json_object())[: draw(st.integers(0, 40))]
    return draw(st.binary(max_size=64))


CONTENT_TYPES = [None, b"application/json", b"text/plain", b"application/x-www-form-urlencoded",
                 b"multipart/form-data; boundary=B", b"multipart/form-data", b"application/octet-stream",
                 b"application/merge-patch+json", b"application/json; charset=latin-1", b"\xff/\xfe",
                 b"application/" + b"x" * 3000 + b"+json", b"text/plain; charset=utf-16"]  # fmt: skip


@st.composite
def any_body(draw: st.DrawFn) -> tuple[bytes | None, bytes]:
    """(content type, body): every content type with every kind of body, UTF-8 or not."""
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    odd = st.sampled_from([b"description=\xe9t\xe9&version=%ff", b"\xff\xfe\x00\x00", b""])
    body = draw(st.one_of(json_body(), st.binary(max_size=256), multipart_body().map(lambda mb: mb[1]), odd))
    return ctype, body


# -- multipart --------------------------------------------------------------------------------------

FILENAMES = [b"a.txt", b"", b"\xff\xfe.bin", b"caf\xc3\xa9.txt", b"..\\..\\x", b"../../etc/passwd", b"a\x00b",
             b"a\rX-Injected: 1", b"a\x0bb\x1f\x7f", b"x" * 600, b"%0D%0AX-Injected: 1", b"\xed\xa0\x80",
             b'q\\"uote']  # fmt: skip
PART_TYPES: list[bytes | None] = [
    None,
    b"text/plain",
    b"text/html\x0bX-Injected: 1",
    b"\xff\xfe/x",
    b"a/" + b"b" * 300,
    b"nonsense",
]
FIELD_VALUES = [b"ok", b"1.0", b"", b"\xff", b"x" * 70000, b"v" * 51, b"not-a-uuid",
                b"6a7b1f0e-2c4d-4e8f-9a0b-1c2d3e4f5a6b", b"{6A7B1F0E2C4D4E8F9A0B1C2D3E4F5A6B}", b"\x00"]  # fmt: skip


@st.composite
def multipart_part(draw: st.DrawFn) -> bytes:
    name = draw(st.sampled_from([b"file", b"file", b"description", b"version", b"file_id", b"custom_attributes",
                                 b"\xff", b"colour"]))  # fmt: skip
    disposition = b'form-data; name="' + name + b'"'
    if name == b"file" or draw(st.booleans()):
        disposition += b'; filename="' + draw(st.sampled_from(FILENAMES)) + b'"'
    headers = [b"Content-Disposition: " + disposition] if draw(st.integers(0, 9)) else [b"Content-Type: text/plain"]
    ctype = draw(st.sampled_from(PART_TYPES))
    if ctype is not None:
        headers.append(b"Content-Type: " + ctype)
    if draw(st.integers(0, 19)) == 0:
        headers.append(b"X-Long: " + b"h" * 9000)  # past the part-header limit
    if name == b"custom_attributes":
        content = draw(json_body())
    elif name == b"file":
        content = draw(st.sampled_from([b"", b"data", b"\x00" * 100, b"--B\r\n", b"z" * 70000]))
    else:
        content = draw(st.one_of(st.sampled_from(FIELD_VALUES), json_body()))
    return b"\r\n".join(headers) + b"\r\n\r\n" + content


@st.composite
def upload_fields(draw: st.DrawFn) -> bytes:
    """A well-formed upload body whose file part and fields carry the hostile values."""
    name = draw(st.sampled_from(FILENAMES[:4] + FILENAMES[7:]))  # mostly storable names
    parts = [b'Content-Disposition: form-data; name="file"; filename="' + name + b'"\r\nContent-Type: '
             + draw(st.sampled_from([b"text/plain", b"text/html\x0bX-Injected: 1", b"\xff\xfe/x", b"a/" + b"b" * 300]))
             + b"\r\n\r\n" + b"data"]  # fmt: skip
    fields = draw(st.lists(st.sampled_from([b"description", b"version", b"file_id"]), max_size=2, unique=True))
    if draw(st.booleans()):
        fields.append(b"custom_attributes")
    for field in fields:
        if field == b"custom_attributes":
            one_number = _number().map(lambda n: b'{"n": ' + n + b"}")
            value = draw(st.one_of(json_body(), one_number))
        else:
            value = draw(st.sampled_from(FIELD_VALUES))
        parts.append(b'Content-Disposition: form-data; name="' + field + b'"\r\n\r\n' + value)
    return b"".join(b"--B\r\n" + part + b"\r\n" for part in draw(st.permutations(parts))) + b"--B--\r\n"


@st.composite
def multipart_body(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """(Content-Type, body), well-formed or broken in one of the ways a parser can trip over."""
    if draw(st.booleans()):
        return b"multipart/form-data; boundary=B", draw(upload_fields())
    boundary = draw(st.sampled_from([b"B", b"B", b"x" * 71, b"", b"\xff\xfe", b'"quoted"', b"a b"]))
    parts = draw(st.lists(multipart_part(), min_size=0, max_size=4))
    if draw(st.integers(0, 29)) == 0:
        parts = parts * 12  # more parts than allowed
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    ending = draw(st.sampled_from([b"--" + boundary + b"--\r\n", b"--" + boundary + b"--\r\n",
                                   b"", b"--" + boundary, b"--other--\r\n", b"\r\n\r\n"]))  # fmt: skip
    preamble = draw(st.sampled_from([b"", b"", b"preamble\r\n", b"\xff\xfe\r\n"]))
    ctype = draw(st.sampled_from([b"multipart/form-data; boundary=" + boundary, b"multipart/form-data; boundary=B",
                                  b"multipart/form-data", b"multipart/mixed; boundary=B", b"text/plain"]))  # fmt: skip
    return ctype, preamble + body + ending


# -- requests ---------------------------------------------------------------------------------------


def _file_id(deletable: bool = False) -> st.SearchStrategy[bytes]:
    known = st.sampled_from(DELETABLE if deletable else range(SEED_FILES)).map(lambda n: f"@ID:{n}@".encode())
    others = st.sampled_from([b"00000000-0000-4000-8000-000000000000", b"not-a-uuid", b"%ff%fe", b"%00",
                              b"9" * 5000, b"..%2f..%2fetc", b"6A7B1F0E2C4D4E8F9A0B1C2D3E4F5A6B",
                              b"%0d%0aX-Injected:1"])  # fmt: skip
    return st.one_of(known, known, known, others)


@st.composite
def _query(draw: st.DrawFn) -> bytes:
    pairs = draw(st.lists(st.tuples(st.sampled_from([b"skip", b"limit", b"x", b"%ff"]), _digits()), max_size=3))
    return (b"?" + b"&".join(k + b"=" + v for k, v in pairs)) if pairs else b""


@st.composite
def _auth(draw: st.DrawFn, group: str) -> list[tuple[bytes, bytes]]:
    # Half the requests carry a valid token, so that they get past authentication to the code behind it;
    # gc and cache endpoints are for service accounts, so there that is the valid token offered most.
    valid = VALID_TOKENS + ("service",) * 4 if group in ("gc", "cache") else VALID_TOKENS
    kind = draw(st.sampled_from(valid)) if draw(st.booleans()) else draw(st.sampled_from(TOKENS))
    return [] if kind == "no_auth" else [(b"Authorization", f"@TOKEN:{kind}@".encode())]


@st.composite
def _extra_headers(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    names = [b"Range", b"If-None-Match", b"If-Range", b"If-Match", b"If-Modified-Since", b"Accept",
             b"Expect", b"X-Forwarded-For", b"Cookie"]  # fmt: skip
    out: list[tuple[bytes, bytes]] = []
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        if name == b"Range":
            value = draw(_range_value())
        elif name in (b"If-None-Match", b"If-Range"):
            value = draw(_etag_value())
        else:
            value = draw(st.sampled_from(HEADER_VALUES))
        out.append((name, value))
    return out


@st.composite
def _range_value(draw: st.DrawFn) -> bytes:
    unit = draw(st.sampled_from([b"bytes="] * 5 + [b"bytes = ", b"items=", b"BYTES=", b""]))
    ranges = [draw(_digits()) + b"-" + draw(_digits()) for _ in range(draw(st.sampled_from([1, 1, 1, 1, 2, 3])))]
    return unit + b",".join(ranges)


@st.composite
def _etag_value(draw: st.DrawFn) -> bytes:
    tags = draw(st.lists(st.sampled_from([b"*", b'"abc"', b'W/"abc"', b"W/", b'"', b"\xff", b'"' + b"e" * 5000 + b'"',
                                          b"Tue, 01 Dec 2026 00:00:00 GMT"]), min_size=1, max_size=4))  # fmt: skip
    return b",".join(tags) * draw(st.sampled_from([1, 1, 500]))


@st.composite
def _framing(draw: st.DrawFn, body: bytes) -> tuple[list[tuple[bytes, bytes]], bytes, bool]:
    """(framing headers, wire body, complete?) for ``body``: honest, chunked, or broken."""
    kind = draw(st.sampled_from(["length"] * 6 + ["chunked"] * 2 + ["short", "extra", "bad-chunk", "both", "none"]))
    if kind == "length":
        return [(b"Content-Length", str(len(body)).encode())], body, True
    if kind == "chunked":
        size = draw(st.sampled_from([1, 7, 1000, 65536]))
        chunks = b"".join(b"%x\r\n" % len(body[i : i + size]) + body[i : i + size] + b"\r\n"
                          for i in range(0, len(body), size))  # fmt: skip
        return [(b"Transfer-Encoding", b"chunked")], chunks + b"0\r\n\r\n", True
    if kind == "short":  # promises more than it sends, then half-closes
        return [(b"Content-Length", str(len(body) + draw(st.integers(1, 10**6))).encode())], body, False
    if kind == "extra":  # sends more than it promises: the rest is junk after the request
        return [(b"Content-Length", str(len(body) // 2).encode())], body, True
    if kind == "bad-chunk":
        broken = draw(st.sampled_from([b"zz\r\n", b"-1\r\n", b"f" * 40 + b"\r\n", b"5\r\nab", b"3;\xff=\x00\r\nabc\r\n",
                                       b"3\r\nabcXX", b"%x\r\n" % (len(body) + 9) + body]))  # fmt: skip
        return [(b"Transfer-Encoding", b"chunked")], broken, False
    if kind == "both":
        return [(b"Content-Length", b"3"), (b"Transfer-Encoding", b"chunked")], b"3\r\nabc\r\n0\r\n\r\n", False
    return [], body, not body


ENDPOINTS = {
    "public": [(b"GET", b"/"), (b"GET", b"/health/live"), (b"GET", b"/health/ready"), (b"GET", b"/api/v1/info"),
               (b"GET", b"/api/v1/capacity"), (b"GET", b"/metrics"), (b"HEAD", b"/"), (b"OPTIONS", b"/api/v1/info"),
               (b"GET", b"/openapi.json"), (b"G\xffT", b"/"), (b"GET", b"/\xff\x00"), (b"GET", b"/nowhere%ff")],
    "cache": [(b"GET", b"/api/v1/cache/consistency"), (b"POST", b"/api/v1/cache/rebuild/incremental"),
              (b"POST", b"/api/v1/cache/cleanup-expired"), (b"POST", b"/api/v1/cache/rebuild")],
}  # fmt: skip


@st.composite
def sharp_request(draw: st.DrawFn) -> RawRequest:
    """Valid token, a file that exists, honest framing, and one hostile part: so that the hostile part
    surely reaches the code behind authentication and parsing (in fully random requests something
    else usually fails first)."""
    auth = [(b"Authorization", b"@TOKEN:" + draw(st.sampled_from(VALID_TOKENS)).encode() + b"@")]
    target = b"/api/v1/files/@ID:" + str(draw(st.integers(0, 2))).encode() + b"@"
    kind = draw(st.sampled_from(["range", "upload", "attrs", "patch", "patch-any"]))
    if kind == "range":
        header = draw(st.sampled_from([b"Range", b"Range", b"If-None-Match"]))
        value = draw(_range_value() if header == b"Range" else _etag_value())
        return RawRequest(b"GET", target + b"/download", [*auth, (header, value)], label="sharp range")
    ctype: bytes | None
    if kind in ("upload", "attrs"):
        method, target, ctype = b"POST", b"/api/v1/files/upload", b"multipart/form-data; boundary=B"
        body = draw(upload_fields())
        if kind == "attrs":  # a storable upload whose custom_attributes holds one hostile number
            attrs = b'{"n": ' + draw(st.sampled_from(NUMBERS)) + b"}"
            body = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="n.txt"\r\n\r\nn\r\n'
                    b'--B\r\nContent-Disposition: form-data; name="custom_attributes"\r\n\r\n' + attrs
                    + b"\r\n--B--\r\n")  # fmt: skip
    elif kind == "patch":
        method, ctype, body = b"PATCH", b"application/json", draw(json_body())
    else:
        method = b"PATCH"
        ctype, body = draw(any_body())
    headers = [*auth, (b"Content-Length", str(len(body)).encode())]
    if ctype is not None:
        headers.append((b"Content-Type", ctype))
    return RawRequest(method, target, headers, body, label=f"sharp {kind}")


@st.composite
def request(draw: st.DrawFn, group: str) -> RawRequest:
    """One hostile request to an endpoint of ``group``: public, files, gc or cache."""
    if group == "files" and draw(st.integers(0, 3)) == 0:
        return draw(sharp_request())
    body, ctype = b"", None
    query = b""
    hostile: list[tuple[bytes, bytes]] = []
    if group in ENDPOINTS:
        method, path = draw(st.sampled_from(ENDPOINTS[group]))
        if draw(st.integers(0, 3)) == 0:
            ctype, body = draw(any_body())
    elif group == "gc":
        op = draw(st.sampled_from(["delete", "delete", "exists"]))
        fid = draw(_file_id(deletable=True))
        method, path = (
            (b"DELETE", b"/api/v1/gc/" + fid) if op == "delete" else (b"GET", b"/api/v1/gc/" + fid + b"/exists")
        )
        if op == "delete" and draw(st.booleans()):
            ctype, body = b"application/json", b'{"reason":' + draw(json_value()) + b"}"
        elif draw(st.booleans()):
            ctype, body = draw(any_body())
    else:
        op = draw(st.sampled_from(["upload"] * 4 + ["patch"] * 3 + ["download"] * 3 + ["get", "list", "delete"]))
        if op == "upload":
            method, path = b"POST", b"/api/v1/files/upload"
            ctype, body = draw(multipart_body()) if draw(st.integers(0, 4)) else draw(any_body())
        elif op == "patch":
            method, path = b"PATCH", b"/api/v1/files/" + draw(_file_id())
            ctype, body = (b"application/json", draw(json_body())) if draw(st.booleans()) else draw(any_body())
        elif op == "list":
            method, path, query = b"GET", b"/api/v1/files", draw(_query())
        elif op == "delete":
            method, path = b"DELETE", b"/api/v1/files/" + draw(_file_id(deletable=True))
        else:
            suffix = b"/download" if op == "download" else b""
            method, path = b"GET", b"/api/v1/files/" + draw(_file_id()) + suffix
            if op == "download" and draw(st.booleans()):
                header = draw(st.sampled_from([b"Range", b"Range", b"If-None-Match"]))
                hostile.append((header, draw(_range_value() if header == b"Range" else _etag_value())))
    headers = draw(_auth(group)) + draw(_extra_headers()) + hostile
    if ctype is not None:
        headers.append((b"Content-Type", ctype))
    framing, wire_body, complete = draw(_framing(body))
    label = f"{group} {method.decode('latin-1')} {path[:60].decode('latin-1')}"
    return RawRequest(method, path + query, headers + framing, wire_body, complete, label)
