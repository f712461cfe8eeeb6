"""A login role whose connections the server checks by password, on a PostgreSQL server the test owns.

The harness's servers trust every connection (``initdb --auth=trust``, ``POSTGRES_HOST_AUTH_METHOD=trust``),
so an SE that never sends ``DB_PASSWORD`` works on them just as well as one that does. To see whether an
SE logs in with ``DB_USERNAME`` and ``DB_PASSWORD``, a test asks for a role of its own that must give its
password (``scram-sha-256``): one rule for that role alone, ahead of the trust rules, written into the
server's ``pg_hba.conf`` through SQL (a superuser's ``COPY ... TO``, then ``pg_reload_conf()``), so the
same code serves a local server and a container. Every other role keeps trust; the harness's own
connections are unchanged.

Only for ``Lifecycle.private_database()``: it rewrites the server's authentication rules, which a
read-only inspection of somebody's database must never do.
"""

from __future__ import annotations

import time
from dataclasses import replace

import psycopg
from psycopg import sql

from harness.errors import HarnessError
from harness.postgres.info import PostgresInfo

RELOAD_DEADLINE_S = 10.0  # pg_reload_conf() only signals the postmaster; the new rule applies shortly after
ROLE_RULE = "host all {user} all scram-sha-256"


def password_checked_role(info: PostgresInfo, user: str, password: str) -> PostgresInfo:
    """Create ``user`` (LOGIN, ``password``, all rights on ``info.database`` and its public schema), make
    the server check that role's password, and return ``info`` with that role's credentials.

    Raises ``HarnessError`` unless, afterwards, the right password logs in and a wrong one is refused:
    otherwise a test relying on the check would pass an SE that ignores its password.
    """
    with psycopg.connect(info.dsn("postgresql"), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        conn.execute(
            sql.SQL("GRANT ALL ON DATABASE {} TO {}").format(sql.Identifier(info.database), sql.Identifier(user))
        )
        # PostgreSQL 15 no longer lets every role create tables in public.
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(user)))
        row = conn.execute("SELECT setting, pg_read_file(setting) FROM pg_settings WHERE name = 'hba_file'").fetchone()
        if row is None:
            raise HarnessError("the server names no hba_file", expected="a pg_settings row 'hba_file'")
        hba_file, text = row
        # COPY's text format writes each row as it is when it holds no tab or backslash (which pg_hba.conf
        # reads as plain whitespace and never needs).
        lines = [ROLE_RULE.format(user=user), *(line.replace("\t", " ") for line in text.splitlines())]
        if any("\\" in line for line in lines):
            raise HarnessError(f"{hba_file} has a backslash", expected="a pg_hba.conf this module can rewrite")
        conn.execute("CREATE TEMPORARY TABLE hba_lines (n integer PRIMARY KEY, line text NOT NULL)")
        with conn.cursor().copy("COPY hba_lines (n, line) FROM STDIN") as copy:
            for number, line in enumerate(lines):
                copy.write_row((number, line))
        conn.execute(sql.SQL("COPY (SELECT line FROM hba_lines ORDER BY n) TO {}").format(sql.Literal(hba_file)))
        conn.execute("SELECT pg_reload_conf()")
    checked = replace(info, user=user, password=password)
    _await_password_check(checked)
    return checked


def _logs_in(info: PostgresInfo) -> bool:
    try:
        with psycopg.connect(info.dsn("postgresql"), connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


def _await_password_check(info: PostgresInfo) -> None:
    wrong = replace(info, password=info.password + "-not-it")
    deadline = time.monotonic() + RELOAD_DEADLINE_S
    while True:
        refused, accepted = not _logs_in(wrong), _logs_in(info)
        if refused and accepted:
            return
        if time.monotonic() >= deadline:
            raise HarnessError(
                f"role {info.user!r} on {info.host}:{info.port}: a wrong password "
                f"{'is refused' if refused else 'logs in'}, the right one {'logs in' if accepted else 'is refused'}",
                expected=f"the server checking the role's password within {RELOAD_DEADLINE_S:g}s of pg_reload_conf()",
                hint="see the server's log: was pg_hba.conf written and reloaded without errors?",
            )
        time.sleep(0.1)
