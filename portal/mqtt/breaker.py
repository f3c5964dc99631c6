"""A circuit breaker over chat requests to the LLM service (pure; time is passed in).

Why not pybreaker: it wraps a synchronous call that succeeds or raises, while a chat request succeeds or
fails many events later (a reply, a timeout). This keeps the same three states with explicit
`record_success` / `record_failure`.

closed --N consecutive failures--> open --cool-down--> half_open (one trial request) --success--> closed
                                                                  \\--failure--> open
"""

from __future__ import annotations

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, failure_threshold: int, cooldown: float):
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.state = CLOSED
        self.consecutive_failures = 0
        self.opened_at = 0.0
        self._trial_started_at: float | None = None

    def state_at(self, now: float) -> str:
        """The state as time makes it: an open breaker is half-open once its cool-down is over.

        Reporting this (not the last stored state) matters: web processes refuse requests while the breaker
        reads "open", so a breaker that only moved on when a request arrived would stay open forever.
        """
        if self.state == OPEN and now - self.opened_at >= self.cooldown:
            return HALF_OPEN
        return self.state

    def allow(self, now: float) -> bool:
        """May a request go out now? Half-open lets one trial through at a time; a trial that never
        reported back (refused later, cancelled) is replaced after another cool-down."""
        self.state = self.state_at(now)
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and (
            self._trial_started_at is None or now - self._trial_started_at >= self.cooldown
        ):
            self._trial_started_at = now
            return True
        return False

    def retry_after(self, now: float) -> int:
        if self.state_at(now) == OPEN:
            return max(1, int(self.cooldown - (now - self.opened_at)) + 1)
        return 1

    def record_success(self) -> str | None:
        """Returns the new state when it changed (so the caller logs one line per change)."""
        self.consecutive_failures = 0
        self._trial_started_at = None
        if self.state != CLOSED:
            self.state = CLOSED
            return CLOSED
        return None

    def record_failure(self, now: float) -> str | None:
        self.consecutive_failures += 1
        self._trial_started_at = None
        self.state = self.state_at(now)
        if self.state == HALF_OPEN or (self.state == CLOSED and self.consecutive_failures >= self.failure_threshold):
            self.state = OPEN
            self.opened_at = now
            return OPEN
        return None
