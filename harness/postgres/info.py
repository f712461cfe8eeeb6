"""Connection data of a PostgreSQL server the harness started (or was given)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class PostgresInfo:
    host: str
    port: int
    user: str
    password: str
    database: str
    # Where an SE reaches the server; differs from host/port only on docker networks.
    internal_host: str = ""
    internal_port: int = 0

    def dsn(self, driver: str = "postgresql+psycopg") -> str:
        auth = f"{quote(self.user)}:{quote(self.password)}"
        return f"{driver}://{auth}@{self.host}:{self.port}/{quote(self.database)}"

    @property
    def se_host(self) -> str:
        return self.internal_host or self.host

    @property
    def se_port(self) -> int:
        return self.internal_port or self.port

    def to_dict(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> PostgresInfo:
        return cls(**data)  # type: ignore[arg-type]
