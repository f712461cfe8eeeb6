"""``python -m reference_service``: validate the environment, prepare, then serve with uvicorn."""

from __future__ import annotations

import asyncio
import logging
import sys

import uvicorn

from reference_service.settings import SettingsError, load_config


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic announces each of its plugins at INFO; only the migration lines are worth keeping.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def main() -> int:
    try:
        config = load_config()
    except SettingsError as exc:
        print(f"reference_service: configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(config.settings.log_level)
    # Imported late: a configuration error should not pay for importing the whole stack.
    from reference_service.app import create_app
    from reference_service.startup import StartupError, prepare

    try:
        asyncio.run(prepare(config))
    except StartupError as exc:
        print(f"reference_service: start-up failed: {exc}", file=sys.stderr)
        return 1
    s = config.settings
    uvicorn.run(
        create_app(config),
        host=s.server_host,
        port=s.server_port,
        log_config=None,  # keep our one-line format
        access_log=False,  # middleware.AccessLog writes the access lines
        timeout_graceful_shutdown=30,
        server_header=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
