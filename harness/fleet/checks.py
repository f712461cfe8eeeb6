"""What the fleet-wide requirements (area ``fleet``) look at, as plain functions the suite's
``suites/fleet`` tests call: which SEs share a database, whose table namespaces overlap, which tables
of a shared database lie in an SE's namespace (read-only), and the mode an SE reports.
"""

from __future__ import annotations

import itertools

import sqlalchemy as sa

from harness.fleet.spec import Fleet, FleetEntry
from harness.targets.url import parse_dsn

#: The tables the contract gives an SE with prefix p (SE-DB-001): p_files, p_wal, p_config, p_alembic_version.
CONTRACT_TABLES = ("files", "wal", "config", "alembic_version")


def pairs(fleet: Fleet) -> list[tuple[FleetEntry, FleetEntry]]:
    return list(itertools.combinations(fleet.entries, 2))


def pair_id(a: FleetEntry, b: FleetEntry) -> str:
    return f"{a.name}+{b.name}"


def may_share_database(a: FleetEntry, b: FleetEntry) -> bool:
    """Their DSNs name the same database, or one has none: a fleet is one database unless the DSNs say not."""
    key_a, key_b = a.database_key(), b.database_key()
    return key_a is None or key_b is None or key_a == key_b


def shares_known_database(a: FleetEntry, b: FleetEntry) -> bool:
    key_a = a.database_key()
    return key_a is not None and key_a == b.database_key()


def namespace(prefix: str) -> str:
    """Every table of an SE is named ``<prefix>_…`` (SE-DB-001)."""
    return prefix + "_"


def namespaces_overlap(a: str, b: str) -> bool:
    """One prefix's table namespace contains the other's tables (equal prefixes, or ``se`` and ``se_a``)."""
    return namespace(a).startswith(namespace(b)) or namespace(b).startswith(namespace(a))


def tables_of(dsn: str, prefix: str) -> set[str]:
    """The tables of the database whose names lie in ``prefix``'s namespace; read-only connection."""
    info = parse_dsn(dsn)
    engine = sa.create_engine(info.dsn("postgresql+psycopg"), poolclass=sa.pool.NullPool,
                              connect_args={"options": "-c default_transaction_read_only=on",
                                            "connect_timeout": 5})  # fmt: skip
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                        "AND starts_with(table_name, :ns)"),
                {"ns": namespace(prefix)},
            )  # fmt: skip
            return {str(r[0]) for r in rows}
    finally:
        engine.dispose()


def contract_tables(prefix: str) -> set[str]:
    return {f"{prefix}_{suffix}" for suffix in CONTRACT_TABLES}


def owned_tables(present: set[str], prefix: str) -> set[str]:
    """Of the tables in ``prefix``'s namespace, those the contract names for it (its own, if any SE's)."""
    return present & contract_tables(prefix)
