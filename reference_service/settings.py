"""Configuration from the launch-contract environment variables, and nothing else.

Every value is validated before anything is served: a bad value must stop the start with one line
that names the variable, the value and what is allowed (operators read it in a container log).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MODES = ("edit", "rw", "ro", "ar")
PREFIX_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
ALGORITHMS = ("RS256",)
STORAGE_TYPES = ("local",)


class SettingsError(Exception):
    """One human-readable line: what variable is wrong and what would be right."""


class Settings(BaseSettings):
    # Env names are the field names upper-cased (pydantic-settings is case-insensitive on them).
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", env_file=None)

    server_host: str = "0.0.0.0"
    server_port: int = 8000
    app_mode: str = "edit"

    db_host: str = "localhost"
    db_port: int = 5432
    db_username: str = "postgres"
    db_password: str = ""
    db_database: str = "postgres"
    db_table_prefix: str

    storage_type: str = "local"
    storage_local_base_path: Path
    storage_max_size: int
    storage_element_id: str

    jwt_public_key_path: Path
    jwt_algorithm: str = "RS256"

    # Optional extras (not part of the launch contract; every one has a default).
    se_display_name: str = ""
    se_priority: int = 100
    log_level: str = "INFO"
    cache_ttl_hours: int = 24
    # How long the start-up waits for PostgreSQL before giving up (compose starts both at once).
    db_connect_timeout_s: float = 30.0
    # Test knob (the harness's profile [debug] rebuild_delay_env): a cache rebuild holds its lock this
    # long before it starts, so "a second rebuild while one runs" can be provoked deterministically.
    se_debug_rebuild_delay_s: float = 0.0

    @field_validator("app_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if value not in MODES:
            raise ValueError(f"allowed values: {', '.join(MODES)}")
        return value

    @field_validator("db_table_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX_RE.fullmatch(value):
            raise ValueError("allowed: [a-z][a-z0-9_]*, at most 32 characters")
        return value

    @field_validator("storage_type")
    @classmethod
    def _storage_type(cls, value: str) -> str:
        if value not in STORAGE_TYPES:
            raise ValueError(f"allowed values: {', '.join(STORAGE_TYPES)}")
        return value

    @field_validator("jwt_algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        if value not in ALGORITHMS:
            raise ValueError(f"allowed values: {', '.join(ALGORITHMS)}")
        return value

    @field_validator("storage_max_size")
    @classmethod
    def _capacity(cls, value: int) -> int:
        if value <= 0:
            raise ValueError("allowed: a positive number of bytes")
        return value

    @field_validator("server_port", "db_port")
    @classmethod
    def _port(cls, value: int) -> int:
        if not 0 < value < 65536:
            raise ValueError("allowed: 1..65535")
        return value

    @field_validator("storage_element_id")
    @classmethod
    def _element_id(cls, value: str) -> str:
        if not value or len(value) > 255 or any(ord(c) < 32 for c in value):
            raise ValueError("allowed: 1..255 printable characters")
        return value

    @field_validator("cache_ttl_hours")
    @classmethod
    def _ttl(cls, value: int) -> int:
        if not 0 < value <= 24 * 365:
            raise ValueError("allowed: 1..8760")
        return value

    @property
    def display_name(self) -> str:
        return self.se_display_name or f"Storage element {self.storage_element_id}"


@dataclass(frozen=True)
class Config:
    """Validated settings plus the loaded public key (the key file is read exactly once)."""

    settings: Settings
    public_key: RSAPublicKey


def _describe(error: Mapping[str, Any], env: Mapping[str, str]) -> str:
    name = str(error["loc"][0]).upper() if error.get("loc") else "?"
    if error.get("type") == "missing":
        return f"{name} is required but not set"
    value = env.get(name, env.get(name.lower(), error.get("input")))
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    return f"{name}={value!r} is invalid ({message})"


def load_public_key(path: Path) -> RSAPublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"JWT_PUBLIC_KEY_PATH={str(path)!r} is unreadable ({exc.strerror or exc}); "
            "allowed: a readable PEM file with an RSA public key"
        ) from None
    try:
        key = load_pem_public_key(data)
    except ValueError:
        key = None
    if not isinstance(key, RSAPublicKey):
        raise SettingsError(
            f"JWT_PUBLIC_KEY_PATH={str(path)!r} does not hold a PEM RSA public key "
            "(allowed: a PEM file with an RSA public key, for RS256)"
        )
    return key


def load_config() -> Config:
    """Validate the environment; raise :class:`SettingsError` with a one-line message."""
    try:
        settings = Settings()  # type: ignore[call-arg]  # required fields come from the environment
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(e, os.environ) for e in exc.errors())) from None
    return Config(settings=settings, public_key=load_public_key(settings.jwt_public_key_path))
