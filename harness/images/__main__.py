"""``python -m harness.images [--rebuild] [--base-image IMG] [--postgres-image IMG] [--quiet]``.

Builds what is missing and prints the three tags as ``KEY=tag`` lines on stdout (progress goes to
stderr), so a shell can ``eval`` them. Exit code 2 with a message when Docker or debootstrap is missing.
"""

from __future__ import annotations

import argparse
import sys

from harness.errors import HarnessError
from harness.images import ensure_images
from harness.images.common import quiet_log, stderr_log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.images", description=__doc__)
    parser.add_argument("--rebuild", action="store_true", help="rebuild the harness's images even if present")
    parser.add_argument("--base-image", help="base for the SE image (default: offline python-base)")
    parser.add_argument("--postgres-image", help="PostgreSQL image (default: offline build)")
    parser.add_argument("--quiet", action="store_true", help="print only the tags")
    args = parser.parse_args(argv)
    try:
        images = ensure_images(
            base_image=args.base_image,
            postgres_image=args.postgres_image,
            rebuild=args.rebuild,
            log=quiet_log if args.quiet else stderr_log,
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"SE_CONFORMANCE_PYTHON_BASE_TAG={images.python_base}")
    print(f"SE_CONFORMANCE_POSTGRES_TAG={images.postgres}")
    print(f"SE_CONFORMANCE_SE_TAG={images.se}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
