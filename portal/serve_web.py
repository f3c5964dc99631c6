"""daphne on the configured event loop (portal/event_loop.py): `python -m portal.serve_web <daphne's arguments>`.

The same as `python -m daphne ...` (same arguments, same server) except that the loop policy is set first:
daphne builds its loop the moment `daphne.server` is imported, and its command line offers no way to choose one.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from portal import event_loop

    event_loop.use_configured_policy()
    from daphne.cli import CommandLineInterface

    if not any(arg in ("-s", "--no-server-name") or arg.startswith("--server-name") for arg in sys.argv[1:]):
        # No "Server: daphne" header: which server (and so which flaws) answers is nobody else's business.
        sys.argv.insert(1, "--no-server-name")
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
