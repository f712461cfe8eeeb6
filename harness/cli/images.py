"""``se-conformance images``: build the docker target's images (offline where no registry answers).

A thin door to ``python -m harness.images``; every flag is passed through (``--rebuild``,
``--base-image IMG``, ``--postgres-image IMG``, ``--quiet``).
"""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "images", add_help=False,
        help="build the SE and PostgreSQL images for the docker target (flags: see `images --help`)",
    )  # fmt: skip
    p.set_defaults(handler=run, passthrough=True)


def run(args: argparse.Namespace) -> int:
    from harness.images.__main__ import main as images_main

    return images_main(list(args.pytest_args))
