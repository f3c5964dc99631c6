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
        self._trial_in_flight = False

    def allow(self, now: float) -> bool:
        """May a request go out now? In half-open state exactly one trial goes out at a time."""
        if self.state == OPEN and now - self.opened_at >= self.cooldown:
            self.state = HALF_OPEN
            self._trial_in_flight = False
        if self.state == CLOSED:
            return True
        if self.state == HALF_OPEN and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def retry_after(self, now: float) -> int:
        return max(1, int(self.cooldown - (now - self.opened_at)) + 1) if self.state == OPEN else 1

    def record_success(self) -> str | None:
        """Returns the new state when it changed (so the caller logs one line per change)."""
        self.consecutive_failures = 0
        self._trial_in_flight = False
        if self.state != CLOSED:
            self.state = CLOSED
            return CLOSED
        return None

    def record_failure(self, now: float) -> str | None:
        self.consecutive_failures += 1
        self._trial_in_flight = False
        if self.state == HALF_OPEN or (self.state == CLOSED and self.consecutive_failures >= self.failure_threshold):
            self.state = OPEN
            self.opened_at = now
            return OPEN
        return None
