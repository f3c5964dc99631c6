"""Stand-ins for the responder's tests without a broker: a scheduler on a clock the test moves, and a recorder of
what the responder publishes that a test can wait on."""

from __future__ import annotations

import heapq
import itertools
import json
import threading

START = 1000.0


class ManualScheduler:
    """DelayScheduler's interface on a clock that moves only when the test runs it: timetables become exact."""

    def __init__(self):
        self.time = START
        self.heap: list = []
        self.order = itertools.count()
        self.accept = True  # False: behave as a full scheduler

    def start(self) -> None:
        pass

    def stop(self) -> int:
        dropped = len(self.heap)
        self.heap.clear()
        return dropped

    def now(self) -> float:
        return self.time

    def call_later(self, delay, callback) -> bool:
        return self.call_at(self.time + delay, callback)

    def call_at(self, when, callback) -> bool:
        if self.accept:
            heapq.heappush(self.heap, (when, next(self.order), callback))
        return self.accept

    def run(self, until: float | None = None) -> None:
        """Run what is due up to START + `until` seconds (everything when None), moving the clock along."""
        limit = float("inf") if until is None else START + until
        while self.heap and self.heap[0][0] <= limit:
            when, _, callback = heapq.heappop(self.heap)
            self.time = max(self.time, when)
            callback()
        if until is not None:
            self.time = max(self.time, limit)


class Published:
    """Records (time, topic, payload text, qos) of every publish; `time` is on `clock` (seconds from START)."""

    def __init__(self, clock=None):
        self.clock = clock
        self.messages: list[tuple[float | None, str, str, int]] = []
        self._cond = threading.Condition()

    def __call__(self, topic: str, payload: bytes, qos: int) -> None:
        at = round(self.clock.now() - START, 6) if self.clock else None
        with self._cond:
            self.messages.append((at, topic, payload.decode(), qos))
            self._cond.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> list:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.messages), timeout), self.messages
            return list(self.messages)

    def finals(self, topic: str) -> list[str]:
        with self._cond:
            return [payload for _, t, payload, qos in self.messages if t == topic]

    def chunks(self, topic: str) -> list[dict]:
        with self._cond:
            return [json.loads(payload) for _, t, payload, _ in self.messages if t == topic + "/stream"]
