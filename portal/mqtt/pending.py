"""Pure bookkeeping of chat turns: the requests a worker holds, those in flight to the LLM, and recent ones.

Everything is bounded (past the bound new requests are refused at once) and every turn carries a deadline, so
nothing can wait forever or pile up in memory.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .stream import StreamAssembler


@dataclass(eq=False)  # compared by identity: a turn is one request's life in this worker
class ChatTurn:
    request_id: str
    session_key: str  # the chat session's stable key: its line in SessionQueues and its turn lock
    deadline: float  # monotonic: for waiting in line, then (once published) for the reply
    created_at: float  # monotonic
    timeout: float = 45.0  # how long its reply may take once published
    question: dict[str, Any] = field(default_factory=dict)  # {"session_id", "content", "overrides"}
    reply_channel: str | None = None
    group: str | None = None
    llm_key: str | None = None  # the MQTT sessionId it was published with
    # Set once the waiter was told "accepted": the reply is delivered only after that.
    announced: asyncio.Event = field(default_factory=asyncio.Event)
    # A streamed answer: its chunks so far (None until the first), the relay scheduled, when it last relayed.
    stream: StreamAssembler | None = None
    flush_handle: asyncio.TimerHandle | None = None
    last_flush: float = float("-inf")


class PendingRegistry:
    """Turns published to the LLM and waiting for their reply, by request id, in publishing order."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._by_id: OrderedDict[str, ChatTurn] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._by_id

    def add(self, turn: ChatTurn) -> bool:
        """False when the registry is full or the id is already waiting (a duplicate delivery)."""
        if len(self._by_id) >= self.max_size or turn.request_id in self._by_id:
            return False
        self._by_id[turn.request_id] = turn
        return True

    def get(self, request_id: str) -> ChatTurn | None:
        return self._by_id.get(request_id)

    def pop(self, request_id: str) -> ChatTurn | None:
        return self._by_id.pop(request_id, None)

    def for_llm_key(self, llm_key: str) -> ChatTurn | None:
        """The turn in flight under this MQTT sessionId (the fallback reply topic names only that); the oldest,
        should there ever be more than one."""
        return next((t for t in self._by_id.values() if t.llm_key == llm_key), None)

    def expired(self, now: float, max_age: float) -> list[ChatTurn]:
        """Turns past their own deadline or older than the hard maximum age (not removed)."""
        return [t for t in self._by_id.values() if t.deadline <= now or now - t.created_at >= max_age]

    def all(self) -> list[ChatTurn]:
        return list(self._by_id.values())


class RecentIds:
    """A bounded memory of recent request ids that are no longer waiting: whether each was answered, and its LLM
    sessionId (so a late reply that names another session can be refused).

    An answered id seen again is a duplicate delivery (dropped); an abandoned one (timed out, LLM gone, shut
    down) may still get its late reply, which is then stored for that request and nobody else.
    """

    ANSWERED, ABANDONED = "answered", "abandoned"

    def __init__(self, max_size: int = 10000):
        self.max_size = max_size
        self._ends: OrderedDict[str, str] = OrderedDict()
        self._sessions: dict[str, str] = {}

    def _put(self, request_id: str, end: str, session_key: str | None) -> None:
        self._ends[request_id] = end
        self._ends.move_to_end(request_id)
        if session_key is not None:
            self._sessions[request_id] = session_key
        while len(self._ends) > self.max_size:
            oldest, _ = self._ends.popitem(last=False)
            self._sessions.pop(oldest, None)

    def mark_answered(self, request_id: str, session_key: str | None = None) -> None:
        self._put(request_id, self.ANSWERED, session_key)

    def mark_abandoned(self, request_id: str, session_key: str | None = None) -> None:
        if self._ends.get(request_id) != self.ANSWERED:
            self._put(request_id, self.ABANDONED, session_key)

    def is_answered(self, request_id: str) -> bool:
        return self._ends.get(request_id) == self.ANSWERED

    def session_of(self, request_id: str) -> str | None:
        return self._sessions.get(request_id)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._ends
