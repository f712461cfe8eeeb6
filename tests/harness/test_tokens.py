"""Tokens: valid ones verify with the public key; every broken kind is rejected by a strict verifier."""

from __future__ import annotations

import jwt
import pytest

from harness.tokens import BROKEN_KINDS, REQUIRED_CLAIMS, TokenFactory

FACTORY = TokenFactory()


def verify(token: str) -> dict[str, object]:
    return jwt.decode(
        token, FACTORY.public_pem, algorithms=["RS256"],
        options={"require": list(REQUIRED_CLAIMS)},
    )  # fmt: skip


@pytest.mark.parametrize("role", ["user", "operator", "admin", "service"])
def test_role_tokens_verify_and_carry_every_required_claim(role: str) -> None:
    claims = verify(getattr(FACTORY, role))
    assert set(REQUIRED_CLAIMS) <= set(claims)
    assert claims["sub"] == FACTORY.subject(role)


def test_service_tokens_are_service_accounts() -> None:
    assert verify(FACTORY.service)["type"] == "service_account"
    claims = verify(FACTORY.service_client())
    assert claims["type"] == "access"
    assert str(claims["client_id"]).startswith("sa_")


def test_each_token_has_a_fresh_jti() -> None:
    assert verify(FACTORY.user)["jti"] != verify(FACTORY.user)["jti"]


@pytest.mark.parametrize("kind", [k for k in BROKEN_KINDS if k not in ("unknown_type", "unknown_role")])
def test_broken_tokens_fail_strict_verification(kind: str) -> None:
    with pytest.raises(jwt.PyJWTError):
        verify(FACTORY.broken(kind))


@pytest.mark.parametrize(("kind", "claim", "value"), [("unknown_type", "type", "bogus_type"),
                                                      ("unknown_role", "role", "superuser")])  # fmt: skip
def test_semantically_broken_tokens_are_well_signed(kind: str, claim: str, value: str) -> None:
    # Signature-valid on purpose: the SE itself must reject (type) or not privilege (role) them.
    assert verify(FACTORY.broken(kind))[claim] == value


def test_unknown_broken_kind_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="expected one of"):
        FACTORY.broken("nope")


def test_factory_reloads_the_same_key() -> None:
    again = TokenFactory(FACTORY.private_pem)
    assert again.public_pem == FACTORY.public_pem
