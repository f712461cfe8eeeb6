"""``se-conformance serve``: the reference SE with its own PostgreSQL, left running for manual use.

``--target local`` (default): PostgreSQL from the system binaries, the SE as ``python -m reference_service``
(or the profile's/``--command``'s command). ``--target docker``: a PostgreSQL container and SE container(s)
on a network of the run's own, ports on 127.0.0.1 only, everything labelled with the run id. ``--pair``:
one PostgreSQL and two SEs with prefixes ``<prefix>_a`` and ``<prefix>_b`` (``se_a``/``se_b`` by default),
the shape of ``compose/docker-compose.yml``, for machines without Compose.

Prints URLs, DSN, prefixes and ready-to-paste tokens, then waits for Ctrl-C or SIGTERM and removes
everything it started. The printed ``run --target url`` line runs the suite against an SE.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from harness.cli import run as run_cmd
from harness.cli.serve_deploy import DEPLOYMENTS, WORKER_NAME, Deployment
from harness.cli.serve_fleet import write_fleet_file
from harness.errors import ConfigurationError
from harness.plugin import options as opt
from harness.postgres.info import PostgresInfo
from harness.report.verdict import EXIT_NO_VERDICT
from harness.runstate import new_run_id, run_dir, sweep_local
from harness.targets import kinds
from harness.targets.base import MODES, SEHandle
from harness.targets.launch import check_prefix
from harness.tokens import TokenFactory

__all__ = ["TOKEN_LIFETIME_S", "WORKER_NAME", "add_parser", "describe", "run"]

TOKEN_LIFETIME_S = 24 * 3600
TARGETS = kinds.SERVE_KINDS
DEFAULT_TARGET = kinds.LOCAL
PAIR = ("a", "b")  # compose/docker-compose.yml: se-a (prefix se_a), se-b (prefix se_b)
LABELS = "abcdefghijklmnopqrstuvwxyz"  # serve --fleet N / --ses: se-a, se-b, … (prefixes se_a, se_b, …)
FLEET_FILE = "fleet.toml"  # in the run directory unless --fleet-file says where
POLL_S = 0.5
# Ctrl-C, `kill`, and the terminal closing: each stops serve and removes what it started.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="start PostgreSQL + the reference SE(s) for manual use (Ctrl-C stops)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--target", choices=TARGETS, default=DEFAULT_TARGET,
                   help="where to run them: local processes (default) or docker containers")  # fmt: skip
    p.add_argument("--pair", action="store_true",
                   help="two SEs on one PostgreSQL, prefixes <prefix>_a and <prefix>_b: the compose "
                        "deployment without Compose")  # fmt: skip
    p.add_argument("--fleet", type=_count, metavar="N",
                   help="N SEs on one PostgreSQL (prefixes <prefix>_a, <prefix>_b, …, mode --mode), and a fleet "
                        "file for `se-conformance run --fleet`")  # fmt: skip
    p.add_argument("--ses", type=_modes, metavar="MODES",
                   help="like --fleet, one SE per comma-separated APP_MODE, e.g. edit,edit,rw")  # fmt: skip
    p.add_argument("--fleet-file", type=Path, metavar="FILE",
                   help=f"with --fleet/--ses: where to write the fleet file once every SE is ready (default: "
                        f"{FLEET_FILE} in the run's state directory; printed)")  # fmt: skip
    p.add_argument("--prefix", default="se",
                   help="DB_TABLE_PREFIX of the SE (default: se); with --pair the stem of both prefixes")  # fmt: skip
    p.add_argument("--mode", choices=MODES, default="edit", help="APP_MODE (default: edit)")
    p.add_argument(run_cmd.cli_flag(opt.IMAGE), dest=opt.dest(opt.IMAGE), help=run_cmd.HELP[opt.IMAGE])
    p.add_argument(run_cmd.cli_flag(opt.COMMAND), dest=opt.dest(opt.COMMAND), help=run_cmd.HELP[opt.COMMAND])
    p.add_argument(run_cmd.cli_flag(opt.CWD), dest=opt.dest(opt.CWD), help=run_cmd.HELP[opt.CWD])
    p.add_argument(run_cmd.cli_flag(opt.PROFILE_FILE), dest=opt.dest(opt.PROFILE_FILE),
                   help=run_cmd.HELP[opt.PROFILE_FILE])  # fmt: skip
    p.set_defaults(handler=run)


def _count(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= len(LABELS):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of SEs from 1 to {len(LABELS)}")
    return int(value)


def _modes(value: str) -> list[str]:
    modes = [m.strip() for m in value.split(",")]
    bad = [m for m in modes if m not in MODES]
    if bad or not 1 <= len(modes) <= len(LABELS):
        raise argparse.ArgumentTypeError(f"{value!r}: expected 1 to {len(LABELS)} comma-separated modes of "
                                         f"{', '.join(MODES)}")  # fmt: skip
    return modes


@dataclass(frozen=True)
class Planned:
    """One SE to start: its label in the output, prefix, element id (``None``: the lifecycle's default), mode."""

    label: str
    prefix: str
    element_id: str | None = None
    mode: str | None = None  # None: --mode


def plan(prefix: str, pair: bool, modes: list[str] | None = None) -> list[Planned]:
    """``serve``: one SE on ``prefix``; ``serve --pair``: ``<prefix>_a`` / ``<prefix>-a`` and ``_b`` / ``-b``;
    ``modes`` (``--fleet``/``--ses``): one SE per mode, labelled a, b, c, … the same way."""
    check_prefix(prefix)
    labels: list[tuple[str, str | None]] = [(x, None) for x in PAIR] if pair else []
    if modes is not None:
        labels = list(zip(LABELS, modes, strict=False))
    if not labels:
        return [Planned("", prefix)]
    stem = prefix.replace("_", "-")
    return [Planned(x, check_prefix(f"{prefix}_{x}"), f"{stem}-{x}", mode) for x, mode in labels]


def fleet_modes(args: argparse.Namespace) -> list[str] | None:
    """The modes of ``--ses``, or ``--fleet N`` times ``--mode``; ``None`` without either."""
    given = [flag for flag, on in (("--pair", args.pair), ("--fleet", args.fleet), ("--ses", args.ses)) if on]
    if len(given) > 1:
        raise ConfigurationError(f"{' and '.join(given)} both say how many SEs to start",
                                 expected="one of --pair, --fleet N, --ses MODES")  # fmt: skip
    if args.fleet_file is not None and not (args.fleet or args.ses):
        raise ConfigurationError("--fleet-file is written for a fleet", expected="--fleet N or --ses MODES with it")
    if args.ses:
        return list(args.ses)
    return [args.mode] * args.fleet if args.fleet else None


class _Interrupted(Exception):
    pass


class _Stop:
    """SIGINT/SIGTERM/SIGHUP handler: while starting, aborts the start (its clean-up runs); once up, ends the wait."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""
        self.abort_start = True

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.reason = signal.Signals(signum).name
        self.event.set()
        if self.abort_start:
            self.abort_start = False  # a second signal during the clean-up does not cut it short
            raise _Interrupted(self.reason)


def deployment_for(args: argparse.Namespace, run_id: str, tokens: TokenFactory, public_key: Path) -> Deployment:
    """The deployment of ``--target``'s kind, under the profile ``kinds.profile_for`` decides (the reference's
    own for the reference, the file's, or none)."""
    kind = kinds.kind_named(args.target)
    profile = kinds.profile_for(kind, opt.settings_of(lambda name: getattr(args, name, None)))
    return DEPLOYMENTS[kind.name].from_args(args, run_id=run_id, profile=profile, tokens=tokens,
                                            public_key=public_key)  # fmt: skip


def _suite_line(se: SEHandle, dsn: str, storage: str | None, private_key: Path, capabilities: frozenset[str]) -> str:
    """The ``run --target url`` line; it declares the served SE's capabilities (a url target assumes none)."""
    storage_opt = f" --storage-path {storage}" if storage else ""
    flag = run_cmd.cli_flag(opt.CAPABILITY)
    declared = "".join(f" {flag} {name}" for name in sorted(capabilities))
    return (f"se-conformance run --target url --url {se.base_url} --table-prefix {se.prefix} "
            f"--db-dsn {shlex.quote(dsn)}{storage_opt} --private-key {private_key}{declared}")  # fmt: skip


def _se_block(deployment: Deployment, se: SEHandle, indent: str) -> list[str]:
    lines = [
        f"{indent}URL:          {se.base_url}   (mode {se.mode}; info: {se.base_url}/api/v1/info)",
        f"{indent}table prefix: {se.prefix}",
        f"{indent}element id:   {se.element_id}",
    ]
    lines += [f"{indent}{label + ':':<14}{value}" for label, value in deployment.se_details(se)]
    return lines


def describe(deployment: Deployment, database: PostgresInfo, served: list[tuple[Planned, SEHandle]],
             tokens: TokenFactory, private_key: Path) -> str:  # fmt: skip
    """What ``serve`` prints once everything is ready: the same layout for every kind, one SE or a pair."""
    dsn = database.dsn("postgresql")
    key_line = f"private key:  {private_key}   (signs the tokens; the SE has the public key)"
    if len(served) == 1:
        ((_, se),) = served
        url, *rest = _se_block(deployment, se, "  ")
        head = [f"reference SE is up ({deployment.runs_as})", url, f"  DSN:          {dsn}", *rest, f"  {key_line}"]
    else:
        shape = ": the shape of compose/docker-compose.yml" if len(served) == 2 else ""
        head = [f"{len(served)} reference SEs are up on one PostgreSQL ({deployment.runs_as}){shape}",
                f"  DSN:          {dsn}",
                f"  PostgreSQL:   {deployment.postgres_details()}",
                f"  {key_line.replace('the SE has', 'every SE has')}"]  # fmt: skip
        for planned, se in served:
            head += ["", f"SE {planned.label} ({se.prefix}):", *_se_block(deployment, se, "  ")]
    first, last = served[0][1], served[-1][1]
    auth = '-H "Authorization: Bearer $SE_TOKEN"'
    tries = [f"  curl -sS {auth} -F file=@/etc/os-release {first.base_url}/api/v1/files/upload",
             f"  curl -sS {auth} {first.base_url}/api/v1/files"]  # fmt: skip
    if len(served) > 1:
        tries.append(f"  curl -sS {auth} {last.base_url}/api/v1/files    # {last.prefix} does not see "
                     f"{first.prefix}'s files: one database, separate prefixes")  # fmt: skip
    capabilities = deployment.profile.capabilities
    suites = [f"  {_suite_line(se, dsn, deployment.host_storage_path(se), private_key, capabilities)}"
              for _, se in served]  # fmt: skip
    what = "the SE and PostgreSQL" if len(served) == 1 else "the SEs and PostgreSQL"
    what += deployment.removes_also
    return "\n".join([
        *head,
        "",
        f"tokens (valid 24 h{', accepted by every SE' if len(served) > 1 else ''}):",
        f"  export SE_TOKEN={tokens.user}",
        f"  export SE_OPERATOR_TOKEN={tokens.operator}",
        f"  export SE_ADMIN_TOKEN={tokens.admin}",
        f"  export SE_SERVICE_TOKEN={tokens.service}",
        "",
        "try:",
        *tries,
        f"run the suite against {'it' if len(served) == 1 else 'one of them'} (in another shell):",
        *suites,
        "",
        f"Ctrl-C stops {what}.",
    ])  # fmt: skip


def run(args: argparse.Namespace) -> int:
    modes = fleet_modes(args)
    planned = plan(args.prefix, args.pair, modes)
    run_id = new_run_id()
    directory = run_dir(run_id)
    tokens = TokenFactory(lifetime_s=TOKEN_LIFETIME_S)
    private_key = directory / "jwt-private.pem"
    private_key.write_bytes(tokens.private_pem)
    private_key.chmod(0o600)
    public_key = tokens.write_public_key(directory / "jwt-public.pem")
    stop = _Stop()
    previous = {s: signal.signal(s, stop) for s in STOP_SIGNALS}
    deployment: Deployment | None = None
    started = False
    try:
        deployment = deployment_for(args, run_id, tokens, public_key)
        deployment.preflight()
        started = True
        print(f"starting PostgreSQL ({deployment.postgres_runs_as}) …", flush=True)
        database = deployment.start_postgres()
        served: list[tuple[Planned, SEHandle]] = []
        for item in planned:
            print(f"starting {f'SE {item.label}' if item.label else 'the SE'} (prefix {item.prefix}) …", flush=True)
            served.append((item, deployment.start_se(prefix=item.prefix, mode=item.mode or args.mode,
                                                     element_id=item.element_id)))  # fmt: skip
        stop.abort_start = False
        if stop.event.is_set():
            raise _Interrupted(stop.reason)
        text = describe(deployment, database, served, tokens, private_key)
        if modes is not None:
            target = args.fleet_file or directory / FLEET_FILE
            fleet_file = write_fleet_file(target, deployment, database, [se for _, se in served], private_key)
            text = text.replace("\nCtrl-C stops", f"\nfleet file: {fleet_file}\nverify the fleet:\n  se-conformance "
                                f"run --fleet {fleet_file}\n\nCtrl-C stops")  # fmt: skip
        print(text, flush=True)
        while not stop.event.wait(POLL_S):
            for _, se in served:
                ended = deployment.exit_status(se)
                if ended is not None:
                    print(f"\nse-conformance: error: the SE {se.prefix} ({se.base_url}) exited, {ended}\n"
                          "  expected: it runs until Ctrl-C or SIGTERM\n"
                          f"  hint: its last log lines:\n{se.logs(30)}", file=sys.stderr)  # fmt: skip
                    return EXIT_NO_VERDICT
        print(f"\n{stop.reason}: stopping …", flush=True)
        return 0
    except _Interrupted as exc:
        print(f"\n{exc}: interrupted while starting; removing what was started …", flush=True)
        return EXIT_NO_VERDICT
    finally:
        stop.abort_start = False
        try:
            if deployment is not None:
                deployment.close()
            sweep_local(run_id)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if started:
            print("stopped; nothing left running", flush=True)
