"""A longer run of the hostile-request fuzzer against a reference SE of its own (issue 11).

    .venv/bin/python bench/fuzz_reference.py [--requests 20000] [--max-seconds 600] [--seed N]

Starts PostgreSQL (system binaries) and one reference SE on 127.0.0.1, stores a few seed files, then
sends up to ``--requests`` hostile requests (the strategies and parts of
``tests/reference/test_hostile_fuzz.py``, in the same proportions), stopping early after ``--max-seconds``. Bounded
in count and time; only 127.0.0.1 is ever contacted. A fixed ``--seed`` repeats a run exactly; without
one a random seed is drawn and printed. Exit status 1 if any exchange broke a rule (5xx, CR/LF from the
input in a header, no answer within 5 s) or the SE is not ready / has half-written files afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.postgres.local import LocalPostgres  # noqa: E402
from tests.reference.hostile_fuzz import Fuzzer, TimeUp  # noqa: E402
from tests.reference.jwt_helper import Tokens  # noqa: E402
from tests.reference.seproc import SEConfig, SEProcess  # noqa: E402
from tests.reference.test_hostile_fuzz import EXAMPLES, run_group  # noqa: E402

MAX_REQUESTS = 1_000_000
MAX_SECONDS = 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="requests in total (default 20000)")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop sending after this long (default 600)")
    parser.add_argument("--seed", type=int, default=None, help="repeat a run exactly (default: random, printed)")
    args = parser.parse_args()
    if not 1 <= args.requests <= MAX_REQUESTS or not 0 < args.max_seconds <= MAX_SECONDS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS} and --max-seconds 0..{MAX_SECONDS}")
    run_seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed {run_seed}: up to {args.requests} requests, at most {args.max_seconds:g} s", flush=True)

    total = sum(EXAMPLES.values())
    work = Path(tempfile.mkdtemp(prefix="se-fuzz-"))
    pg = LocalPostgres(name="pg-fuzz")
    pg.start()
    se: SEProcess | None = None
    failed = True
    try:
        tokens = Tokens(work)
        se = SEProcess(SEConfig(prefix="fuzz", storage=work / "storage", key_path=tokens.public_key_path,
                                db=pg.info, capacity=256 * 1024 * 1024), work).start()  # fmt: skip
        fuzzer = Fuzzer(se.url, se.config.storage, tokens)
        fuzzer.seed()
        start = time.monotonic()
        fuzzer.deadline = start + args.max_seconds
        for part, share in EXAMPLES.items():
            with contextlib.suppress(TimeUp):  # time is up: the remaining parts send nothing either
                run_group(fuzzer, part, max(1, args.requests * share // total), run_seed + zlib.crc32(part.encode()))
            print(f"  {part}: {fuzzer.summary()}", flush=True)
        elapsed = time.monotonic() - start
        problems = fuzzer.failures + fuzzer.aftermath()
        print(f"{fuzzer.sent} requests in {elapsed:.1f} s ({fuzzer.sent / elapsed:.0f}/s), {fuzzer.summary()}")
        for problem in problems[:50]:
            print("  FAIL", problem[:2000])
        if problems:
            print(f"{len(problems)} problem(s); SE log and storage kept in {work}")
            return 1
        print("no 5xx, no header injection, every answer within 5 s; SE ready, nothing half-written")
        failed = False
        return 0
    finally:
        if se is not None:
            se.stop()
        pg.destroy()
        if not failed:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
