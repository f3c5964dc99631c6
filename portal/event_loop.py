"""The asyncio event loop daphne and the worker run on: uvloop (libuv, written in C) unless EVENT_LOOP=asyncio.

Every chat turn crosses the event loop of daphne and of the worker several times (sockets, Redis, MQTT, timers,
the database pool's hand-backs), and the standard library's loop does that bookkeeping in Python; on uvloop each
spends less CPU per turn (docs/benchmarks.md). EVENT_LOOP=asyncio is the way back should a uvloop release
misbehave; both loops are tested.

daphne creates its loop when `daphne.server` is imported, before it loads the application, so the policy has to
be set by whatever starts daphne: portal/serve_web.py.
"""

from __future__ import annotations

import asyncio

from django.conf import settings


def use_configured_policy() -> None:
    """Make asyncio.new_event_loop() build the configured loop (call before daphne.server is imported)."""
    if settings.EVENT_LOOP == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run(main):
    """asyncio.run(main) on the configured loop."""
    if settings.EVENT_LOOP == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
