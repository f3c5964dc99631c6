"""Health endpoints for load balancers and monitoring. They read the workers' shared state; never the broker."""
from datetime import datetime, timezone

from django.http import JsonResponse

from .checks import summary


def _iso_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def health(request):
    report, _ = await summary()
    body = {"status": report["status"], "timestamp": _iso_now(), "mqtt": report["mqtt"], "issues": report["issues"]}
    response = JsonResponse(body, status=503 if report["status"] == "unhealthy" else 200)
    response["Cache-Control"] = "no-store"
    return response
