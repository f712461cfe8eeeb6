"""``se-conformance serve``: the reference SE with its own PostgreSQL, left running for manual use.

Local processes (PostgreSQL from the system binaries, the SE as ``python -m reference_service`` or the
profile's/``--command``'s command). Prints URL, DSN, prefix and ready-to-paste tokens, then waits for
Ctrl-C or SIGTERM and stops everything. The printed ``run --target url`` line runs the suite against it.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from harness.cli import run as run_cmd
from harness.plugin import options as opt
from harness.profile import load_profile
from harness.runstate import new_run_id, run_dir, sweep_local
from harness.targets.base import MODES, SEHandle
from harness.targets.launch import check_prefix
from harness.tokens import TokenFactory

TOKEN_LIFETIME_S = 24 * 3600
WORKER_NAME = "serve"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="start PostgreSQL + the reference SE for manual use (Ctrl-C stops)",
                       description=__doc__)  # fmt: skip
    p.add_argument("--target", choices=("local",), default="local",
                   help="where to run it: local processes (the only kind for now)")  # fmt: skip
    p.add_argument("--prefix", default="se", help="DB_TABLE_PREFIX of the SE (default: se)")
    p.add_argument("--mode", choices=MODES, default="edit", help="APP_MODE (default: edit)")
    p.add_argument(run_cmd.cli_flag(opt.COMMAND), dest=opt.dest(opt.COMMAND), help=run_cmd.HELP[opt.COMMAND])
    p.add_argument(run_cmd.cli_flag(opt.CWD), dest=opt.dest(opt.CWD), help=run_cmd.HELP[opt.CWD])
    p.add_argument(run_cmd.cli_flag(opt.PROFILE_FILE), dest=opt.dest(opt.PROFILE_FILE),
                   help=run_cmd.HELP[opt.PROFILE_FILE])  # fmt: skip
    p.set_defaults(handler=run)


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.reason = signal.Signals(signum).name
        self.event.set()


def describe(se: SEHandle, dsn: str, tokens: TokenFactory, private_key: Path) -> str:
    storage = se.private.get("storage_path", "")
    curl = f'curl -sS -H "Authorization: Bearer $SE_TOKEN" {se.base_url}/api/v1/files'
    upload = (f"curl -sS -H \"Authorization: Bearer $SE_TOKEN\" -F file=@/etc/os-release "
              f"{se.base_url}/api/v1/files/upload")  # fmt: skip
    suite = (f"se-conformance run --target url --url {se.base_url} --table-prefix {se.prefix} "
             f"--db-dsn {shlex.quote(dsn)} --storage-path {storage} --private-key {private_key}")  # fmt: skip
    return "\n".join([
        "reference SE is up",
        f"  URL:          {se.base_url}   (mode {se.mode}; info: {se.base_url}/api/v1/info)",
        f"  DSN:          {dsn}",
        f"  table prefix: {se.prefix}",
        f"  storage path: {storage}",
        f"  private key:  {private_key}   (signs the tokens; the SE has the public key)",
        "",
        "tokens (valid 24 h):",
        f"  export SE_TOKEN={tokens.user}",
        f"  export SE_OPERATOR_TOKEN={tokens.operator}",
        f"  export SE_ADMIN_TOKEN={tokens.admin}",
        f"  export SE_SERVICE_TOKEN={tokens.service}",
        "",
        "try:",
        f"  {upload}",
        f"  {curl}",
        "run the suite against it (in another shell):",
        f"  {suite}",
        "",
        "Ctrl-C stops the SE and PostgreSQL.",
    ])  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from harness.postgres.local import LocalPostgres
    from harness.targets.local import LocalLifecycle

    profile = load_profile(args.se_profile_file)
    check_prefix(args.prefix)
    run_id = new_run_id()
    directory = run_dir(run_id)
    tokens = TokenFactory(lifetime_s=TOKEN_LIFETIME_S)
    private_key = directory / "jwt-private.pem"
    private_key.write_bytes(tokens.private_pem)
    private_key.chmod(0o600)
    public_key = tokens.write_public_key(directory / "jwt-public.pem")
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    postgres = lifecycle = None
    try:
        print("starting PostgreSQL …", flush=True)
        postgres = LocalPostgres(run_id=run_id, name="pg-serve")
        database = postgres.start()
        lifecycle = LocalLifecycle(run_id=run_id, worker=WORKER_NAME, profile=profile, database=database,
                                   public_key_path=public_key,
                                   command=shlex.split(args.se_command) if args.se_command else None,
                                   cwd=args.se_cwd)  # fmt: skip
        print("starting the SE …", flush=True)
        se = lifecycle.start_se(mode=args.mode, prefix=args.prefix)
        print(describe(se, database.dsn("postgresql"), tokens, private_key), flush=True)
        proc = se.private.get("proc")
        while not stop.event.wait(0.5):
            if isinstance(proc, subprocess.Popen) and proc.poll() is not None:
                print(f"\nthe SE exited (code {proc.returncode}); last log lines:\n{se.logs(30)}", file=sys.stderr)
                return 2
        print(f"\n{stop.reason}: stopping …", flush=True)
        return 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if lifecycle is not None:
            lifecycle.close()
        if postgres is not None:
            postgres.destroy()
        sweep_local(run_id)
        print("stopped; nothing left running", flush=True)
