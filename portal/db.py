"""Running ORM code from async code on long-lived threads that keep their database connections.

Django's advice under ASGI is CONN_MAX_AGE=0, because sync views run on a new thread per request and a kept
connection would be stranded there. Code run through `run_db` (web processes) or a DbBatcher (the worker)
runs on a few threads that live as long as the process, so those threads keep their connections: opening one
per call costs a millisecond or more, and with SQLite the close of the last connection checkpoints the WAL
file to disk (several ms of fsync on every chat turn). A kept connection is dropped when it broke, when a failed
call left a transaction open, and after POOLED_CONNECTION_MAX_AGE so none lives forever.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from dataclasses import dataclass
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


class PrerequisiteFailed(Exception):
    """The call this one `requires` did not succeed, so this one was not run."""


@dataclass
class _Call:
    lock_order: str
    func: Any
    kwargs: dict
    future: asyncio.Future
    records: str | None = None  # a name under which this call's success is remembered
    requires: str | None = None  # the name of a call that must not have failed for this one to run


class DbBatcher:
    """The worker's database calls, run together on one thread of their own: the calls made while one batch runs
    form the next batch, which the thread starts at once.

    Each batch is one transaction (one commit) instead of one per call: under load the hops and commits, not the
    inserts, were most of the worker's database time. Each call runs in its own savepoint, so one that raises
    undoes only its own writes and gets its own exception.

    A commit can still fail for the whole batch: foreign keys are checked at commit (Django declares them
    deferred), so a row for a session deleted meanwhile fails the batch there. Then every call of that batch
    is run again on its own, as it would have been without batching, and each gets its own outcome. A call that
    meets a database error inside a batch is likewise run again on its own once the batch is committed. Calls
    run sorted by the row they write (`lock_order`), so batches of several workers cannot deadlock.

    Why a thread of its own, fed from a queue, rather than a hop to a thread per batch (asgiref's
    sync_to_async): a call can depend on another (`records`/`requires`: a chat reply is stored only if its
    question was) and be queued before that one has finished; the thread runs it right after, with no round
    trip through the event loop in between. A hop each way costs ~0.15 ms, and at concurrency 1 a chat turn's
    reply store waited for two of them after its question's store.
    """

    def __init__(self, max_batch: int = 200, remember: int = 10_000):
        self.max_batch = max_batch
        self.remember = remember  # how many recorded outcomes are kept (oldest forgotten first)
        self._queue: collections.deque[_Call] = collections.deque()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # Outcomes of calls that `record` one, by name: read and written on the batcher's thread only.
        self._outcomes: collections.OrderedDict[str, bool] = collections.OrderedDict()

    def submit(self, func, *, lock_order: str = "", records: str | None = None, requires: str | None = None,
               **kwargs) -> asyncio.Future:
        """Queue `func(**kwargs)` for the next batch now; the future gets its result or exception.

        `lock_order` names the row the call writes (a session key): a batch runs its calls sorted by it, so two
        workers' batches take row locks in the same order and cannot deadlock on PostgreSQL (they only wait,
        for one batch at most). A call with `records=name` succeeds when it returns something other than None
        without raising; a later call with `requires=name` then runs only if it did, and otherwise fails with
        PrerequisiteFailed without running. Calls run in the order they were submitted (within a batch, by
        `lock_order` and then that order), so a call submitted after the one it requires sees its final outcome.
        """
        future = asyncio.get_running_loop().create_future()
        with self._wakeup:
            if self._closed:
                raise RuntimeError("the database batcher is closed")
            self._queue.append(_Call(lock_order, func, kwargs, future, records, requires))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="db-batcher", daemon=True)
                self._thread.start()
            self._wakeup.notify()
        return future

    async def call(self, func, **kwargs):
        """`func(**kwargs)` in the next batch (see submit), awaited."""
        return await self.submit(func, **kwargs)

    def close(self, timeout: float = 10.0) -> None:
        """Run what is queued, then end the thread (which closes its database connections)."""
        with self._wakeup:
            self._closed = True
            self._wakeup.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _serve(self) -> None:
        try:
            while True:
                with self._wakeup:
                    while not self._queue and not self._closed:
                        self._wakeup.wait()
                    if not self._queue:
                        return  # closed, and everything queued has run
                    batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                try:
                    _recycle_connections()
                    outcomes = _run_batch(batch, self._outcomes)
                except Exception as exc:  # noqa: BLE001 - every caller hears of it; the next batch still runs
                    outcomes = [(False, exc)] * len(batch)
                while len(self._outcomes) > self.remember:
                    self._outcomes.popitem(last=False)
                try:
                    _recycle_connections()
                except Exception:  # noqa: BLE001 - this thread must outlive a database that went away
                    log.exception("could not recycle the database connection")
                _settle_soon(batch, outcomes)
        finally:
            try:
                connections.close_all()
            except Exception:  # noqa: BLE001 - the thread is ending; nothing else to do with it
                log.debug("closing the batcher's connections failed", exc_info=True)


def _settle_soon(batch: list[_Call], outcomes: list[tuple[bool, Any]]) -> None:
    """Hand each caller its outcome on its own event loop (one wake-up per loop, not one per call)."""
    by_loop: dict[asyncio.AbstractEventLoop, list] = {}
    for call, outcome in zip(batch, outcomes):
        by_loop.setdefault(call.future.get_loop(), []).append((call.future, outcome))
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, settled)
        except RuntimeError:
            pass  # that loop is closed: nobody is left to hear of it


def _settle(settled: list[tuple[asyncio.Future, tuple[bool, Any]]]) -> None:
    for future, (ok, value) in settled:
        if future.done():
            continue  # its caller gave up
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _invoke(call: _Call, outcomes: dict[str, bool]):
    """The call itself, minding and recording its dependencies (see DbBatcher.submit)."""
    if call.requires is not None and outcomes.get(call.requires) is False:
        raise PrerequisiteFailed(f"{call.requires} did not succeed")
    try:
        result = call.func(**call.kwargs)
    except Exception:
        _record(call, outcomes, False)
        raise
    _record(call, outcomes, result is not None)
    return result


def _record(call: _Call, outcomes: dict[str, bool], succeeded: bool) -> None:
    if call.records is not None:
        outcomes[call.records] = succeeded
        outcomes.move_to_end(call.records)


def _alone(call: _Call, outcomes: dict[str, bool]) -> tuple[bool, Any]:
    """One call exactly as it runs without batching: its own transactions, its own commits."""
    try:
        return True, _invoke(call, outcomes)
    except Exception as exc:  # noqa: BLE001 - handed to its own caller
        return False, exc


def _in_savepoint(call: _Call, outcomes: dict[str, bool]) -> tuple[bool, Any]:
    try:
        with transaction.atomic():
            return True, _invoke(call, outcomes)
    except Exception as exc:  # noqa: BLE001 - handed to its own caller
        return False, exc


def with_bulk_form(many):
    """Give a batched function a form for many calls at once: `many(list of kwargs) -> list of results`, in order.

    In a batch, two or more calls of the function go to `many` together, in one savepoint: one INSERT for all
    their rows instead of one ORM save, savepoint and statement each (most of the worker's database time).
    Should `many` raise (a duplicate, say), its calls run one by one as usual, each with its own outcome. The calls
    of one row (`lock_order`) keep their order: see _rounds.
    """
    def mark(func):
        func.bulk_form = many
        return func
    return mark


def _rounds(calls: list[_Call]) -> list[list[list[int]]]:
    """The positions of `calls` in rounds of runs: a run is consecutive calls of one function on one row
    (`lock_order`); round k holds the k-th run of every row. Rounds run one after the other, so each row's calls
    keep their order, while the runs of one round, all on different rows, can share a bulk form: the questions
    of many sessions in one INSERT, then their replies in another."""
    runs_by_row: dict[str, list[list[int]]] = {}
    for position, call in enumerate(calls):
        runs = runs_by_row.setdefault(call.lock_order, [])
        if runs and calls[runs[-1][-1]].func is call.func:
            runs[-1].append(position)
        else:
            runs.append([position])
    rounds: list[list[list[int]]] = []
    for runs in runs_by_row.values():
        for k, run in enumerate(runs):
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(run)
    return rounds


def _in_rounds(calls: list[_Call], outcomes: dict[str, bool]) -> list[tuple[bool, Any]]:
    """Every call's outcome, the calls of one function in a round going through its bulk form together when it
    has one (one savepoint); the others, and those whose bulk form failed, one by one in their own savepoints.
    A call whose prerequisite failed is left out of bulk forms: it fails on its own."""
    results: list[tuple[bool, Any] | None] = [None] * len(calls)
    for round_ in _rounds(calls):
        by_func: dict[Any, list[int]] = {}
        for run in round_:
            by_func.setdefault(calls[run[0]].func, []).extend(run)
        for func, positions in by_func.items():
            positions.sort()
            bulk = [p for p in positions
                    if calls[p].requires is None or outcomes.get(calls[p].requires) is not False]
            if getattr(func, "bulk_form", None) is not None and len(bulk) > 1:
                try:
                    with transaction.atomic():
                        ran = func.bulk_form([calls[p].kwargs for p in bulk])
                        together = dict(zip(bulk, ran, strict=True))
                except Exception as exc:  # noqa: BLE001 - one by one instead
                    log.debug("bulk form of %s failed (%s); running its calls one by one", func.__name__, exc)
                else:
                    for p, result in together.items():
                        _record(calls[p], outcomes, result is not None)
                        results[p] = (True, result)
            for p in positions:
                if results[p] is None:
                    results[p] = _in_savepoint(calls[p], outcomes)
    return results


def _run_batch(batch: list[_Call], outcomes: dict[str, bool]) -> list[tuple[bool, Any]]:
    """Each call's (ok, result or exception), in the batch's order."""
    calls = sorted(batch, key=lambda call: call.lock_order)  # stable: calls on the same row keep their order
    if len(calls) == 1:
        return [_alone(calls[0], outcomes)]
    try:
        with transaction.atomic():
            results = _in_rounds(calls, outcomes)
    except DatabaseError:
        # The commit failed (see DbBatcher): everything was rolled back; each call again, alone.
        results = [_alone(call, outcomes) for call in calls]
    else:
        # A call that met a database error inside the batch may have met it for the batch's sake: a deadlock with
        # another worker's batch (each holds the rows its earlier calls locked), a lock wait. Alone, it gets the
        # answer it would have got without batching; and a call refused for its prerequisite's failure there is
        # run after all if that prerequisite, alone, succeeded.
        again = [i for i, (ok, value) in enumerate(results) if not ok and isinstance(value, DatabaseError)]
        if again:
            log.info("running %d of %d batched database calls again alone: %s", len(again), len(calls),
                     type(results[again[0]][1]).__name__)
            for i in again:
                results[i] = _alone(calls[i], outcomes)
            for i, (ok, value) in enumerate(results):
                if not ok and isinstance(value, PrerequisiteFailed) and outcomes.get(calls[i].requires) is True:
                    results[i] = _alone(calls[i], outcomes)
    by_call = {id(call): result for call, result in zip(calls, results)}
    return [by_call[id(call)] for call in batch]
