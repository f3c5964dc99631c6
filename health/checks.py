"""Reading the workers' shared state for the health endpoints and the health_check command."""

from __future__ import annotations

import time

from django.conf import settings

from portal.mqtt.shared_state import read_worker_states, redis_client

from .status import Thresholds, evaluate

REDIS_DOWN_REPORT = {
    "status": "unhealthy",
    "mqtt": {"connected": False, "last_activity_seconds_ago": None, "reconnect_attempts": 0, "pending_requests": 0},
    "issues": ["The shared state store (Redis) is unreachable."],
}


def thresholds() -> Thresholds:
    h = settings.HEALTH
    return Thresholds(
        heartbeat_interval=settings.WORKER["HEARTBEAT_INTERVAL"],
        pending_degraded=h["PENDING_DEGRADED"],
        inactivity_degraded=h["INACTIVITY_DEGRADED"],
        probe_slow_ms=h["PROBE_SLOW_MS"],
    )


async def worker_states() -> list[dict] | None:
    """Every live worker's state, or None when Redis cannot be read."""
    try:
        return await read_worker_states(redis_client(settings.REDIS_URL))
    except Exception:  # noqa: BLE001 - any Redis failure means the same thing here
        return None


async def summary() -> tuple[dict, list[dict]]:
    states = await worker_states()
    if states is None:
        return dict(REDIS_DOWN_REPORT), []
    return evaluate(states, time.time(), thresholds()), states
