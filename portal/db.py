"""Running ORM code from async code on long-lived threads that keep their database connections.

Django's advice under ASGI is CONN_MAX_AGE=0, because sync views run on a new thread per request and a kept
connection would be stranded there. Code run through `run_db` (web processes) or `in_db_thread` (the worker)
runs on a few threads that live as long as the process, so those threads keep their connections: opening one
per call costs a millisecond or more, and with SQLite the close of the last connection checkpoints the WAL
file to disk (several ms of fsync on every chat turn). A kept connection is dropped when it broke, when a failed
call left a transaction open, and after POOLED_CONNECTION_MAX_AGE so none lives forever.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections, transaction

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


async def in_db_thread(func, *args, **kwargs):
    """Run `func` on the process's one thread-sensitive thread (the worker's database thread), keeping its
    connection between calls."""
    return await sync_to_async(_call_kept, thread_sensitive=True)(func, args, kwargs)


class DbBatcher:
    """The worker's database calls, run together: the calls made while one batch runs form the next batch.

    Each batch is one hop to the database thread and one transaction (one commit) instead of one of each per
    call: under load the hops and commits, not the inserts, were most of the worker's database time. Each call
    runs in its own savepoint, so one that raises undoes only its own writes and gets its own exception.

    A commit can still fail for the whole batch: foreign keys are checked at commit (Django declares them
    deferred), so a row for a session deleted meanwhile fails the batch there. Then every call of that batch
    is run again on its own, as it would have been without batching, and each gets its own outcome. A call that
    meets a database error inside a batch is likewise run again on its own once the batch is committed. Calls
    run sorted by the row they write (`lock_order`), so batches of several workers cannot deadlock.
    """

    def __init__(self, max_batch: int = 200):
        self.max_batch = max_batch
        self._calls: list[tuple[str, Any, dict, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def call(self, func, *, lock_order: str = "", **kwargs):
        """`func(**kwargs)` in the next batch. `lock_order` names the row the call writes (a session key): a batch
        runs its calls sorted by it, so two workers' batches take row locks in the same order and cannot
        deadlock on PostgreSQL (they only wait, for one batch at most)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._calls.append((lock_order, func, kwargs, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run_batches())
        return await future

    async def _run_batches(self) -> None:
        while self._calls:
            batch, self._calls = self._calls[: self.max_batch], self._calls[self.max_batch:]
            batch.sort(key=lambda call: call[0])  # stable: calls on the same row keep their order
            try:
                outcomes = await in_db_thread(_run_batch, [(key, func, kwargs) for key, func, kwargs, _ in batch])
            except asyncio.CancelledError:
                for *_, future in batch + self._calls:
                    future.cancel()
                raise
            except Exception as exc:  # noqa: BLE001 - every caller hears of it; the next batch still runs
                outcomes = [(False, exc)] * len(batch)
            for (*_, future), (ok, value) in zip(batch, outcomes):
                if future.done():
                    continue  # its caller gave up
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)


def _alone(func, kwargs) -> tuple[bool, Any]:
    """One call exactly as it runs without batching: its own transactions, its own commits."""
    try:
        return True, func(**kwargs)
    except Exception as exc:  # noqa: BLE001 - handed to its own caller
        return False, exc


def _in_savepoint(func, kwargs) -> tuple[bool, Any]:
    try:
        with transaction.atomic():
            return True, func(**kwargs)
    except Exception as exc:  # noqa: BLE001 - handed to its own caller
        return False, exc


def with_bulk_form(many):
    """Give a batched function a form for many calls at once: `many(list of kwargs) -> list of results`, in order.

    In a batch, two or more calls of the function go to `many` together, in one savepoint: one INSERT for all
    their rows instead of one ORM save, savepoint and statement each (most of the worker's database time).
    Should `many` raise (a duplicate, say), its calls run one by one as usual, each with its own outcome. A call
    whose row (`lock_order`) another function also writes in the same batch runs one by one too, in its order.
    """
    def mark(func):
        func.bulk_form = many
        return func
    return mark


def _in_bulk(calls: list[tuple[str, Any, dict]]) -> dict[int, tuple[bool, Any]]:
    """Outcomes of the calls that ran together through their function's bulk form, by position in `calls`.

    Only calls whose row no other function writes in this batch: the bulk forms run first, and a session's
    question and another request's reply arriving together must still be stored in the order they came."""
    writers: dict[str, set] = {}
    for key, func, _ in calls:
        writers.setdefault(key, set()).add(func)
    by_func: dict[Any, list[int]] = {}
    for position, (key, func, _) in enumerate(calls):
        if getattr(func, "bulk_form", None) is not None and len(writers[key]) == 1:
            by_func.setdefault(func, []).append(position)
    outcomes: dict[int, tuple[bool, Any]] = {}
    for func, positions in by_func.items():
        if len(positions) < 2:
            continue
        try:
            with transaction.atomic():
                results = func.bulk_form([calls[p][2] for p in positions])
                together = {p: (True, result) for p, result in zip(positions, results, strict=True)}
        except Exception as exc:  # noqa: BLE001 - one by one instead
            log.debug("bulk form of %s failed (%s); running its calls one by one", func.__name__, exc)
            continue
        outcomes.update(together)
    return outcomes


def _run_batch(keyed_calls: list[tuple[str, Any, dict]]) -> list[tuple[bool, Any]]:
    calls = [(func, kwargs) for _, func, kwargs in keyed_calls]
    if len(calls) == 1:
        return [_alone(*calls[0])]
    try:
        with transaction.atomic():
            bulk = _in_bulk(keyed_calls)
            outcomes = [bulk.get(p) or _in_savepoint(func, kwargs) for p, (func, kwargs) in enumerate(calls)]
    except DatabaseError:
        # The commit failed (see DbBatcher): everything was rolled back; each call again, alone.
        return [_alone(func, kwargs) for func, kwargs in calls]
    # A call that met a database error inside the batch may have met it for the batch's sake: a deadlock with
    # another worker's batch (each holds the rows its earlier calls locked), a lock wait. Alone, it gets the
    # answer it would have got without batching.
    again = [i for i, (ok, value) in enumerate(outcomes) if not ok and isinstance(value, DatabaseError)]
    if again:
        log.info("running %d of %d batched database calls again alone: %s", len(again), len(calls),
                 type(outcomes[again[0]][1]).__name__)
        for i in again:
            outcomes[i] = _alone(*calls[i])
    return outcomes
