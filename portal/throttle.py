"""Per-socket frame budget: a token bucket, so a client flooding one WebSocket is slowed, then disconnected,
without costing anyone else anything.

Kept in the socket's own memory on purpose (no Redis round trip per frame, no lock, no timer): a flood is a
property of one connection, and the per-user limits that must hold across processes live in portal/ratelimit.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ACCEPT = "accept"  # handle the frame
REFUSE = "refuse"  # drop it unread
REFUSE_AND_NOTIFY = "refuse_and_notify"  # drop it and tell the client (at most once a second)
DISCONNECT = "disconnect"  # the client keeps flooding: close the socket


class FrameBudget:
    """`rate` frames per second on average, bursts of up to `burst`; `rate` 0 turns the budget off.

    Refused frames fill a second bucket that drains at half the rate: a client that overshoots by up to half the
    rate is only slowed; one that keeps sending faster (another burst's worth of refused frames beyond what
    drained) is disconnected -- at twice the rate after about 2 * burst/rate seconds, at wire speed after two
    bursts.
    """

    NOTICE_INTERVAL = 1.0  # seconds between "slow down" notices, so refusing never costs more than it saves

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._excess = 0.0
        self._updated = clock()
        self._last_notice = float("-inf")

    def take(self) -> str:
        """The verdict on one more frame (ACCEPT, REFUSE, REFUSE_AND_NOTIFY or DISCONNECT)."""
        if not self.rate:
            return ACCEPT
        now = self._clock()
        drained = (now - self._updated) * self.rate
        self._updated = now
        self._tokens = min(self.burst, self._tokens + drained)
        self._excess = max(0.0, self._excess - drained / 2)
        if self._tokens >= 1:
            self._tokens -= 1
            return ACCEPT
        self._excess += 1
        if self._excess > self.burst:
            return DISCONNECT
        if now - self._last_notice >= self.NOTICE_INTERVAL:
            self._last_notice = now
            return REFUSE_AND_NOTIFY
        return REFUSE
