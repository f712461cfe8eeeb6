"""JWT minting for a run: one RSA key pair, tokens per role and type, and deliberately broken ones.

The SE verifies with the public key the harness hands it (``JWT_PUBLIC_KEY_PATH``); the private key
never leaves the harness.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REQUIRED_CLAIMS = ("sub", "type", "role", "name", "jti", "iat", "nbf", "exp")
BROKEN_KINDS = (
    "expired",
    "not_yet_valid",
    "wrong_key",
    "alg_none",
    "hs256_public_key",
    "unknown_type",
    "unknown_role",
    "garbage",
    *(f"missing:{claim}" for claim in REQUIRED_CLAIMS),
)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenFactory:
    """Mints RS256 tokens the target accepts, and the broken ones it must reject."""

    def __init__(self, private_pem: bytes | None = None, lifetime_s: int = 3600) -> None:
        if private_pem is None:
            key = _new_key()
        else:
            loaded = serialization.load_pem_private_key(private_pem, password=None)
            if not isinstance(loaded, rsa.RSAPrivateKey):
                raise ValueError("the private key must be an RSA key (the contract uses RS256)")
            key = loaded
        self._key = key
        self.lifetime_s = lifetime_s
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def write_public_key(self, path: Path) -> Path:
        path.write_bytes(self.public_pem)
        path.chmod(0o644)
        return path

    def claims(self, *, role: str = "user", type: str = "access", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        sub = overrides.pop("sub", None) or f"{role.lower()}-{uuid.uuid4().hex[:8]}"
        claims: dict[str, Any] = {
            "sub": sub,
            "type": type,
            "role": role,
            "name": overrides.pop("name", None) or f"conformance_{role.lower()}",
            "jti": uuid.uuid4().hex,
            "iat": now - 5,
            "nbf": now - 5,
            "exp": now + self.lifetime_s,
        }
        claims.update({k: v for k, v in overrides.items() if v is not None})
        return claims

    def mint(self, *, role: str = "user", type: str = "access", **overrides: Any) -> str:
        return self.sign(self.claims(role=role, type=type, **overrides))

    def sign(self, claims: dict[str, Any], *, key: rsa.RSAPrivateKey | None = None) -> str:
        return jwt.encode(claims, key or self._key, algorithm="RS256")

    # The everyday callers. Each access is a fresh token (fresh jti), with a stable subject per role so
    # tests can match `created_by` / WAL `user_id` against `self.subject(role)`.
    def subject(self, role: str) -> str:
        return f"conformance-{role}"

    @property
    def user(self) -> str:
        return self.mint(role="user", sub=self.subject("user"))

    @property
    def operator(self) -> str:
        return self.mint(role="operator", sub=self.subject("operator"))

    @property
    def admin(self) -> str:
        return self.mint(role="admin", type="admin_user", sub=self.subject("admin"))

    @property
    def service(self) -> str:
        return self.mint(role="admin", type="service_account", sub=self.subject("service"))

    def service_client(self, client_id: str = "sa_conformance") -> str:
        """A service account expressed as an access token whose client_id starts with ``sa_``."""
        return self.mint(role="user", type="access", client_id=client_id, sub=self.subject("service"))

    def broken(self, kind: str) -> str:
        """A token the target must reject with 401. ``kind`` is one of ``BROKEN_KINDS``."""
        now = int(time.time())
        if kind == "expired":
            return self.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
        if kind == "not_yet_valid":
            return self.mint(iat=now, nbf=now + 3600, exp=now + 7200)
        if kind == "wrong_key":
            return self.sign(self.claims(), key=_new_key())
        if kind == "alg_none":
            header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64(json.dumps(self.claims()).encode())}."
        if kind == "hs256_public_key":
            # The classic algorithm-confusion attack: HMAC keyed with the (public) verification key.
            header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
            body = _b64(json.dumps(self.claims()).encode())
            import hashlib
            import hmac

            sig = hmac.new(self.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
            return f"{header}.{body}.{_b64(sig)}"
        if kind == "unknown_type":
            return self.mint(type="bogus_type")
        if kind == "unknown_role":
            return self.mint(role="superuser")
        if kind == "garbage":
            return "not-a-jwt"
        if kind.startswith("missing:"):
            claim = kind.split(":", 1)[1]
            claims = self.claims()
            if claim not in claims:
                raise ValueError(f"unknown claim {claim!r}; expected one of {REQUIRED_CLAIMS}")
            del claims[claim]
            return self.sign(claims)
        raise ValueError(f"unknown broken-token kind {kind!r}; expected one of {', '.join(BROKEN_KINDS)}")
