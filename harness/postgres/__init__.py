"""PostgreSQL providers: a local server from the system binaries, or a container."""

from harness.postgres.info import PostgresInfo

__all__ = ["PostgresInfo"]
