"""Running ORM code from async code on long-lived threads that keep their database connections.

Code run through `run_db` (web processes) or a DbThread (the worker) runs on a few threads that live as long as the
process, so each keeps its connection, as any management command does: opening one per call would cost a millisecond
or more, and with SQLite the close of the last connection checkpoints its log to disk. (Django's own advice of
CONN_MAX_AGE=0 under ASGI is about the threads it starts per request, which these are not.) A waiting chat request
holds none of them: they are busy only while a query runs.

A kept connection is checked after it sat idle a while (the server may have dropped it: one reconnect, not an
error), and closed when a call failed and left it unusable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, transaction

log = logging.getLogger("portal.db")

IDLE_CHECK_SECONDS = 30.0  # a connection unused this long is checked (is_usable) before the next call
_last_use = threading.local()


def _fit_connections() -> None:
    """Before a call: drop this thread's connections that died while they sat idle."""
    now = time.monotonic()
    if now - getattr(_last_use, "at", now) > IDLE_CHECK_SECONDS:
        _close_unusable()
    _last_use.at = now


def _close_unusable() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.is_usable():
            conn.close()


def _call_kept(func, args, kwargs):
    _fit_connections()
    try:
        return func(*args, **kwargs)
    except DatabaseError:
        _close_unusable()  # a server gone away: the next call opens a fresh connection
        raise


async def run_db(func, *args, **kwargs):
    """Run `func(*args, **kwargs)` on the shared, bounded thread pool rather than a per-request thread.

    Connections then live only in those few pool threads: a request that waits 45 s for the LLM holds no
    database connection while it waits (the earlier platform exhausted its pool that way).
    """
    return await sync_to_async(_call_kept, thread_sensitive=False)(func, args, kwargs)


class DbThread:
    """One thread of its own for a process's database calls (the worker's), with the calls made while it is busy
    run together in one transaction when it is free again ("group commit").

    Under load the worker's calls are many small writes, and each one's transaction (with SQLite: taking the write
    lock, appending to the log, committing) and its hop to the thread and back cost more than the write. Together,
    N calls cost one transaction and one hop each way. Each call runs in its own savepoint, so one that raises undoes
    only its own writes and gets its own exception. Should the commit fail (a constraint checked at commit, a
    deadlock with another worker on PostgreSQL), every call of the batch runs again alone, as it would have without
    batching. Alone, a call runs exactly as through run_db.
    """

    def __init__(self, max_batch: int = 100):
        self.max_batch = max_batch
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        self._lock = threading.Lock()
        self._waiting: list[tuple] = []  # (func, kwargs, future), in the order the calls were made
        self._drain_queued = False

    async def run(self, func, **kwargs):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            self._waiting.append((func, kwargs, future))
            if not self._drain_queued:
                self._drain_queued = True
                self._executor.submit(self._drain, loop)
        return await future

    def _drain(self, loop) -> None:
        with self._lock:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            if self._waiting:
                self._executor.submit(self._drain, loop)  # the rest in a batch of their own, next
            else:
                self._drain_queued = False
        outcomes = _run_together(batch)
        try:
            loop.call_soon_threadsafe(_settle, batch, outcomes)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to hear of it

    def close(self) -> None:
        self._executor.submit(connections.close_all)
        self._executor.shutdown(wait=True)


def _alone(func, kwargs) -> tuple[bool, object]:
    try:
        return True, _call_kept(func, (), kwargs)
    except Exception as exc:  # noqa: BLE001 - handed to its caller
        return False, exc


def _run_together(batch: list[tuple]) -> list[tuple[bool, object]]:
    if len(batch) == 1:
        return [_alone(batch[0][0], batch[0][1])]
    _fit_connections()
    outcomes: list[tuple[bool, object]] = []
    try:
        with transaction.atomic():
            for func, kwargs, _ in batch:
                try:
                    with transaction.atomic():
                        outcomes.append((True, func(**kwargs)))
                except Exception as exc:  # noqa: BLE001 - its own savepoint is undone; handed to its caller
                    outcomes.append((False, exc))
    except DatabaseError:
        _close_unusable()
        outcomes = [_alone(func, kwargs) for func, kwargs, _ in batch]
    # A database error inside the batch may be the batch's doing (a lock held by an earlier call of it): alone, the
    # call gets the answer it would have got without batching.
    return [
        _alone(batch[i][0], batch[i][1]) if not ok and isinstance(value, DatabaseError) else (ok, value)
        for i, (ok, value) in enumerate(outcomes)
    ]


def _settle(batch: list[tuple], outcomes: list[tuple[bool, object]]) -> None:
    for (_, _, future), (ok, value) in zip(batch, outcomes):
        if future.done():
            continue  # its caller gave up
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
