"""Pure bookkeeping of chat requests waiting for their reply, and of replies already delivered.

The registry is bounded (past the bound new requests are refused at once) and every entry carries a
deadline, so nothing can wait forever or pile up in memory.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class PendingRequest:
    request_id: str
    session_key: str
    deadline: float  # monotonic seconds
    created_at: float  # monotonic seconds
    reply_channel: str | None = None
    group: str | None = None
    extra: dict = field(default_factory=dict)


class PendingRegistry:
    """Waiting requests by request id, in arrival order (the oldest of a session answers a fallback reply)."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._by_id: OrderedDict[str, PendingRequest] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._by_id

    def is_full(self) -> bool:
        return len(self._by_id) >= self.max_size

    def add(self, request: PendingRequest) -> bool:
        """False when the registry is full or the id is already waiting (a duplicate delivery)."""
        if self.is_full() or request.request_id in self._by_id:
            return False
        self._by_id[request.request_id] = request
        return True

    def get(self, request_id: str) -> PendingRequest | None:
        return self._by_id.get(request_id)

    def pop(self, request_id: str) -> PendingRequest | None:
        return self._by_id.pop(request_id, None)

    def session_of(self, request_id: str) -> str | None:
        request = self._by_id.get(request_id)
        return request.session_key if request else None

    def pop_oldest_for_session(self, session_key: str) -> PendingRequest | None:
        for request_id, request in self._by_id.items():
            if request.session_key == session_key:
                return self._by_id.pop(request_id)
        return None

    def pop_expired(self, now: float, max_age: float) -> list[PendingRequest]:
        """Requests past their own deadline or older than the hard maximum age."""
        expired = [
            r for r in self._by_id.values() if r.deadline <= now or now - r.created_at >= max_age
        ]
        for request in expired:
            del self._by_id[request.request_id]
        return expired

    def pop_all(self) -> list[PendingRequest]:
        requests = list(self._by_id.values())
        self._by_id.clear()
        return requests

    def count_by_session(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self._by_id.values():
            counts[request.session_key] = counts.get(request.session_key, 0) + 1
        return counts


class RecentIds:
    """A bounded memory of recent request ids that are no longer waiting: how each ended, and its session (so a
    late reply that names another session can be refused).

    An answered id seen again is a duplicate delivery (dropped); an abandoned one (timed out, cancelled,
    shut down) may still get its late reply, which is then stored for that request and nobody else; a refused
    one (its question could not be stored after it was published) gets its reply dropped: no answer is kept
    without its question.
    """

    ANSWERED, ABANDONED, REFUSED = "answered", "abandoned", "refused"

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
        if self._ends.get(request_id) != self.REFUSED:  # refused stays refused: its replies are never kept
            self._put(request_id, self.ANSWERED, session_key)

    def mark_abandoned(self, request_id: str, session_key: str | None = None) -> None:
        if self._ends.get(request_id) not in (self.ANSWERED, self.REFUSED):
            self._put(request_id, self.ABANDONED, session_key)

    def mark_refused(self, request_id: str, session_key: str | None = None) -> None:
        self._put(request_id, self.REFUSED, session_key)

    def is_answered(self, request_id: str) -> bool:
        return self._ends.get(request_id) == self.ANSWERED

    def is_refused(self, request_id: str) -> bool:
        return self._ends.get(request_id) == self.REFUSED

    def session_of(self, request_id: str) -> str | None:
        return self._sessions.get(request_id)

    def __contains__(self, request_id: str) -> bool:
        return request_id in self._ends
