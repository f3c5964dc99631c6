"""Where work runs off the MQTT network thread: a delay heap and a bounded pool for blocking LLM calls.

Delayed replies wait in a heap served by one thread: a thread (or pool slot) per delayed reply would serialize
or exhaust under load, while with a heap 1000 replies delayed by 1 s all go out at about 1 s.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 100_000


class DelayScheduler:
    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING):
        self.max_pending = max_pending
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()  # equal due times run first come, first served
        self._cond = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="responder-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @staticmethod
    def now() -> float:
        """The scheduler's clock (monotonic seconds), for callers that plan with `call_at`."""
        return time.monotonic()

    def call_later(self, delay: float, callback: Callable[[], None]) -> bool:
        """Run `callback` on the scheduler thread after `delay` seconds; False when full or stopping."""
        return self.call_at(self.now() + delay, callback)

    def call_at(self, when: float, callback: Callable[[], None]) -> bool:
        """Run `callback` on the scheduler thread at `when` (on `now()`'s clock); False when full or stopping.

        Planning against absolute times keeps a series of calls (a streamed answer's chunks) on its timetable:
        each step's own lateness does not push back the steps after it."""
        with self._cond:
            if self._stopping or len(self._heap) >= self.max_pending:
                return False
            entry = (when, next(self._order), callback)
            heapq.heappush(self._heap, entry)
            if self._heap[0] is entry:  # only a new earliest deadline changes how long the thread must sleep
                self._cond.notify()
            return True

    def stop(self, timeout: float = 5.0) -> int:
        """Stop the thread; returns how many callbacks were dropped."""
        with self._cond:
            self._stopping = True
            dropped = len(self._heap)
            self._heap.clear()
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return dropped

    def _due(self) -> list[Callable[[], None]]:
        """Wait until something is due (or stop); pop everything that is."""
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    due = []
                    while self._heap and self._heap[0][0] <= now:
                        due.append(heapq.heappop(self._heap)[2])
                    return due
                self._cond.wait(self._heap[0][0] - now if self._heap else None)
            return []

    def _run(self) -> None:
        while True:
            due = self._due()
            if not due:
                return
            for callback in due:
                try:
                    callback()
                except Exception:  # one failing reply must not stop every later one
                    log.exception("scheduled callback failed")


class BoundedPool:
    """A fixed number of worker threads fed by a bounded queue.

    A full queue refuses work (the caller answers "overloaded") instead of growing without limit. The threads
    are daemons so that a hung LLM call cannot hold up shutdown.
    """

    def __init__(self, workers: int, max_queued: int, name: str = "responder-llm"):
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(max_queued)
        self._threads = [threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        self._stopping = False

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable[[], None]) -> bool:
        if self._stopping:
            return False
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def stop(self) -> int:
        """Drop queued jobs and let the threads end after their current job; returns how many were dropped."""
        self._stopping = True
        dropped = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            dropped += 1
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:  # a racing submit refilled the queue; the daemon threads die with the process
                break
        return dropped

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a failing job must not take its worker thread with it
                log.exception("background job failed")
