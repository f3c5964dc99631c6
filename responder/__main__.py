"""``python -m responder``: parse flags and environment, set up logging, serve until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from .config import Settings
from .service import run


def main(argv: Sequence[str] | None = None) -> int:
    settings = Settings.from_env_and_args(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
