"""Health endpoints for load balancers and monitoring. They read the workers' shared state; never the broker."""
import time
from datetime import datetime, timezone

from django.conf import settings
from django.http import JsonResponse

from portal.mqtt.shared_state import read_worker_states, redis_client

from .status import Thresholds, evaluate


def thresholds() -> Thresholds:
    h = settings.HEALTH
    return Thresholds(
        heartbeat_interval=settings.WORKER["HEARTBEAT_INTERVAL"],
        pending_degraded=h["PENDING_DEGRADED"],
        inactivity_degraded=h["INACTIVITY_DEGRADED"],
        probe_slow_ms=h["PROBE_SLOW_MS"],
    )


async def health(request):
    try:
        states = await read_worker_states(redis_client(settings.REDIS_URL))
        report = evaluate(states, time.time(), thresholds())
    except Exception:  # noqa: BLE001 - Redis unreachable: no worker can be reached either
        report = {
            "status": "unhealthy",
            "mqtt": {"connected": False, "last_activity_seconds_ago": None, "reconnect_attempts": 0,
                     "pending_requests": 0},
            "issues": ["The shared state store (Redis) is unreachable."],
        }
    body = {
        "status": report["status"],
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mqtt": report["mqtt"],
        "issues": report["issues"],
    }
    response = JsonResponse(body, status=503 if report["status"] == "unhealthy" else 200)
    response["Cache-Control"] = "no-store"
    return response
