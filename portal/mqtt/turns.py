"""One conversation order per chat session (pure bookkeeping; no I/O).

The LLM service keeps one dialog per sessionId and is not safe when two requests of one session overlap: answers
get crossed. So a worker lets at most one request per chat session be in flight to the LLM; the session's later
messages wait here in arrival order, a bounded few of them (past the bound the sender gets a clear 429). Across
workers the same holds through the session's open request in the database (chatbot.services.turn_begin), and the
web sends a session's messages to one worker (gateway.choose_worker), so they wait here rather than there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SessionQueues(Generic[T]):
    def __init__(self, max_waiting: int):
        self.max_waiting = max_waiting
        self._active: dict[Hashable, T] = {}
        self._waiting: dict[Hashable, deque[T]] = {}

    def offer(self, session: Hashable, item: T) -> int | None:
        """0: `item` is the session's turn now; n > 0: n items are ahead of it; None: the queue is full."""
        if session not in self._active:
            self._active[session] = item
            return 0
        waiting = self._waiting.setdefault(session, deque())
        if len(waiting) >= self.max_waiting:
            return None
        waiting.append(item)
        return len(waiting)

    def finish(self, session: Hashable, item: T) -> T | None:
        """`item` (the session's active one) is done: the next waiting item, now active, or None."""
        if self._active.get(session) is not item:
            return None
        waiting = self._waiting.get(session)
        if waiting:
            nxt = self._active[session] = waiting.popleft()
            if not waiting:
                del self._waiting[session]
            return nxt
        del self._active[session]
        return None

    def withdraw(self, session: Hashable, item: T) -> bool:
        """Take a waiting (not active) item out of line; False when it was not waiting."""
        waiting = self._waiting.get(session)
        if not waiting or item not in waiting:
            return False
        waiting.remove(item)
        if not waiting:
            del self._waiting[session]
        return True

    def active(self, session: Hashable) -> T | None:
        return self._active.get(session)

    def waiting(self) -> list[T]:
        return [item for line in self._waiting.values() for item in line]

    def actives(self) -> list[T]:
        return list(self._active.values())

    def __len__(self) -> int:
        return len(self._active) + sum(len(line) for line in self._waiting.values())
