"""Running ORM code from async code on long-lived threads that keep their database connections.

Django's advice under ASGI is CONN_MAX_AGE=0, because sync views run on a new thread per request and a kept
connection would be stranded there. Code run through `run_db` (web processes and the worker)
runs on a few threads that live as long as the process, so those threads keep their connections: opening one
per call costs a millisecond or more, and with SQLite the close of the last connection checkpoints the WAL
file to disk (several ms of fsync on every chat turn). A kept connection is dropped when it broke, when a failed
call left a transaction open, and after POOLED_CONNECTION_MAX_AGE so none lives forever.
"""
from __future__ import annotations

import logging
import time

from asgiref.sync import sync_to_async
from django.db import connections

log = logging.getLogger("portal.db")

POOLED_CONNECTION_MAX_AGE = 600.0  # seconds


def _recycle_connections() -> None:
    """Make this thread's connections fit for the next call: broken, dirty or old ones are closed."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        born = getattr(conn, "_portal_opened_at", None)
        if born is None:
            conn._portal_opened_at = born = now
        dirty = conn.in_atomic_block or not conn.get_autocommit()
        if dirty or now - born > POOLED_CONNECTION_MAX_AGE or (conn.errors_occurred and not conn.is_usable()):
            conn.close()
            conn._portal_opened_at = None
            continue
        conn.errors_occurred = False
        # Django checks the connection (CONN_HEALTH_CHECKS) before its next query: a server that dropped it
        # while idle costs one reconnect, not an error.
        conn.health_check_done = False


def _call_kept(func, args, kwargs):
    _recycle_connections()
    try:
        return func(*args, **kwargs)
    finally:
        _recycle_connections()


async def run_db(func, *args, **kwargs):
    """Run `func(*args, **kwargs)` on the shared, bounded thread pool rather than a per-request thread.

    Connections then live only in those few pool threads: a request that waits 45 s for the LLM holds no
    thread and no database connection while it waits (the earlier platform exhausted its pool that way).
    """
    return await sync_to_async(_call_kept, thread_sensitive=False)(func, args, kwargs)
