"""Drives hostile requests against a running reference SE and checks what must hold afterwards.

Shared by ``tests/reference/test_hostile_fuzz.py`` (seeded, bounded, in CI) and
``bench/fuzz_reference.py`` (longer runs). Only 127.0.0.1 is contacted (see :mod:`hostile_http`).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from harness.tokens import TokenFactory
from tests.reference.hostile_http import RawRequest, exchange, violations
from tests.reference.hostile_requests import SEED_FILES


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _signed(key: rsa.RSAPrivateKey, header: bytes, payload: bytes) -> bytes:
    """An RS256 token over raw header/payload bytes: valid signature, hostile content, so the claim
    checks behind the signature check are reached too."""
    signing_input = _b64(header) + b"." + _b64(payload)
    return signing_input + b"." + _b64(key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))


def hostile_tokens(factory: TokenFactory) -> dict[str, bytes]:
    """Every token kind of :data:`hostile_requests.TOKENS` → the Authorization header value."""
    loaded = serialization.load_pem_private_key(factory.private_pem, password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    key = loaded
    rs256 = json.dumps({"alg": "RS256", "typ": "JWT"}).encode()
    claims = factory.claims()
    payload = json.dumps(claims).encode()

    def with_claims(**raw: bytes) -> bytes:
        """Claims JSON with some values spliced in as raw JSON text (NaN, 5000 digits, ...)."""
        text = json.dumps({k: v for k, v in claims.items() if k not in raw})[:-1].encode()
        return text + b"".join(b', "' + k.encode() + b'": ' + v for k, v in raw.items()) + b"}"

    def bearer(token: bytes | str) -> bytes:
        return b"Bearer " + (token.encode() if isinstance(token, str) else token)

    tokens = {
        "user": bearer(factory.mint(role="user")),
        "operator": bearer(factory.mint(role="operator")),
        "admin": bearer(factory.mint(role="admin")),
        "service": bearer(factory.mint(role="admin", type="service_account")),
        "huge": bearer(factory.mint(role="user") + "." + "A" * 60000),
        "empty": b"Bearer ",
        "basic": b"Basic dXNlcjpwYXNz",
        "non_ascii": b"Bearer \xff\xfe\xc3\x28",
        "rs512": bearer(_signed(key, json.dumps({"alg": "RS512", "typ": "JWT"}).encode(), payload)),
        "exp_nan": bearer(_signed(key, rs256, with_claims(exp=b"NaN"))),
        "exp_inf": bearer(_signed(key, rs256, with_claims(exp=b"Infinity"))),
        "exp_1e400": bearer(_signed(key, rs256, with_claims(exp=b"1e400"))),
        "exp_huge_int": bearer(_signed(key, rs256, with_claims(exp=b"9" * 5000))),
        "iat_inf": bearer(_signed(key, rs256, with_claims(iat=b"-Infinity"))),
        "nbf_string": bearer(_signed(key, rs256, with_claims(nbf=b'"yesterday"'))),
        "sub_nul": bearer(_signed(key, rs256, with_claims(sub=b'"a\\u0000b"'))),
        "name_surrogate": bearer(_signed(key, rs256, with_claims(name=b'"\\ud800"'))),
        "name_long": bearer(_signed(key, rs256, with_claims(name=b'"' + b"n" * 5000 + b'"'))),
        "payload_list": bearer(_signed(key, rs256, b"[1, 2]")),
        "payload_not_utf8": bearer(_signed(key, rs256, b'{"sub": "\xff"}')),
        "payload_deep": bearer(_signed(key, rs256, b"[" * 20000 + b"]" * 20000)),
        "header_not_json": bearer(_signed(key, b"\xff{", payload)),
        "kid_hostile": bearer(_signed(key, json.dumps({"alg": "RS256", "kid": "../\u0000"}).encode(), payload)),
    }
    for kind in ("expired", "not_yet_valid", "wrong_key", "alg_none", "hs256_public_key", "unknown_type",
                 "unknown_role", "garbage", "missing:exp", "missing:sub"):  # fmt: skip
        tokens[kind] = bearer(factory.broken(kind))
    return tokens


class TimeUp(Exception):
    """The fuzzer's ``deadline`` has passed: stop sending (raised out of the hypothesis run)."""


@dataclass
class Fuzzer:
    url: str
    storage: Path
    factory: TokenFactory
    deadline: float | None = None  # time.monotonic() after which send() raises TimeUp
    sent: int = 0
    statuses: dict[int | None, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    slowest_s: float = 0.0

    def __post_init__(self) -> None:
        self.port = int(self.url.rsplit(":", 1)[1])
        assert self.url.startswith("http://127.0.0.1:"), "the fuzzer only ever talks to 127.0.0.1"
        self.tokens = hostile_tokens(self.factory)
        self.ids: list[bytes] = []

    def seed(self) -> None:
        """Files for the id placeholders to point at (ids 0..2 are never offered to DELETE)."""
        auth = {"Authorization": self.tokens["user"].decode()}
        with httpx.Client(base_url=self.url, headers=auth, timeout=30) as client:
            for n in range(SEED_FILES):
                r = client.post("/api/v1/files/upload", files={"file": (f"seed{n}.bin", b"0123456789" * (n + 1))})
                assert r.status_code == 201, r.text
                self.ids.append(r.json()["file_id"].encode())

    def resolve(self, request: RawRequest) -> RawRequest:
        target = request.target
        for n, file_id in enumerate(self.ids):
            target = target.replace(f"@ID:{n}@".encode(), file_id)
        headers = [(name, self._token(value)) for name, value in request.headers]
        return RawRequest(request.method, target, headers, request.body, request.complete, request.label)

    def _token(self, value: bytes) -> bytes:
        if value.startswith(b"@TOKEN:") and value.endswith(b"@"):
            return self.tokens[value[7:-1].decode()]
        return value

    def send(self, request: RawRequest) -> list[str]:
        """One exchange; returns (and records) the rules it broke."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeUp
        resolved = self.resolve(request)
        response = exchange(self.port, resolved)
        self.sent += 1
        self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
        self.slowest_s = max(self.slowest_s, response.seconds)
        problems = violations(resolved, response)
        if problems:
            self.failures.append(f"{'; '.join(problems)} <- {resolved.describe()}")
        return problems

    def aftermath(self, db_pending: int | None = None, settle_s: float = 5.0) -> list[str]:
        """What must hold once the run is over: the SE is ready and nothing is half-written."""
        problems: list[str] = []
        ready = httpx.get(self.url + "/health/ready", timeout=10)
        if ready.status_code != 200:
            problems.append(f"/health/ready answered {ready.status_code}: {ready.text[:300]}")
        # Aborted uploads clean up as soon as the SE notices the closed connection: give it a moment.
        deadline = time.monotonic() + settle_s
        while (leftovers := half_written(self.storage)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if leftovers:
            problems.append(f"half-written files left in the storage path: {leftovers[:10]}")
        if db_pending:
            problems.append(f"{db_pending} WAL row(s) still pending")
        return problems

    def summary(self) -> dict[str, Any]:
        by_status = {str(k): v for k, v in sorted(self.statuses.items(), key=lambda kv: kv[0] or 0)}
        return {"requests": self.sent, "statuses": by_status, "slowest_s": round(self.slowest_s, 3)}


def half_written(storage: Path) -> list[str]:
    """Temp files of sidecar writes (``*.tmp*``) and anything in the upload staging area."""
    found = [p for p in storage.rglob("*") if p.is_file() and (".tmp" in p.name or ".incoming" in p.parts)]
    return sorted(str(p.relative_to(storage)) for p in found)
