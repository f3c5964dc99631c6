"""Health endpoints and the status page. They read the shared state in Redis; they never touch the broker."""

import time
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render

from portal import telemetry
from portal.api import request_user

from . import details, metrics
from .access import may_read_details
from .charts import chart
from .checks import summary


def _iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


async def health(request):
    """Public: for load balancers and uptime checks. 200 healthy/degraded, 503 unhealthy."""
    report, _ = await summary()
    body = {"status": report["status"], "timestamp": _iso_now(), "mqtt": report["mqtt"], "issues": report["issues"]}
    return _no_store(JsonResponse(body, status=503 if report["status"] == "unhealthy" else 200))


async def _refuse_unless_allowed(request):
    user = await request_user(request)
    if not may_read_details(request, user):
        response = JsonResponse(
            {"detail": "Staff login or a valid HEALTH_TOKEN bearer token is required."},
            status=401 if not user.is_authenticated else 403,
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    return None


async def health_mqtt(request):
    if (refusal := await _refuse_unless_allowed(request)) is not None:
        return refusal
    report, states = await summary()
    try:
        web = await telemetry.web_presence()
    except Exception:  # noqa: BLE001 - Redis down: the summary already says so
        web = []
    body = {
        **details.build(states, web),
        "status": report["status"],
        "issues": report["issues"],
        "timestamp": _iso_now(),
    }
    return _no_store(JsonResponse(body))


async def prometheus_metrics(request):
    if (refusal := await _refuse_unless_allowed(request)) is not None:
        return refusal
    _, states = await summary()
    try:
        web = await telemetry.web_presence()
        outcomes, duration = await telemetry.chat_counters()
    except Exception:  # noqa: BLE001
        web, outcomes, duration = [], {}, {}
    body = metrics.render(states, web, outcomes, duration)
    return _no_store(HttpResponse(body, content_type="text/plain; version=0.0.4; charset=utf-8"))


async def status_page(request):
    user = await request_user(request)
    if not (user.is_authenticated and user.is_staff):
        raise Http404  # the page's existence is not advertised to non-staff
    report, states = await summary()
    now = time.time()
    try:
        web = await telemetry.web_presence()
        chat_chart = chart(await telemetry.latency_samples("chat", now - 3600), now)
        probe_chart = chart(await telemetry.latency_samples("probe", now - 3600), now)
    except Exception:  # noqa: BLE001
        web, chat_chart, probe_chart = [], chart([], now), chart([], now)
    # Template context processors read the session and messages synchronously.
    return await sync_to_async(render)(
        request,
        "health/status.html",
        {
            "report": report,
            "detail": details.build(states, web, now),
            "chat_chart": chat_chart,
            "probe_chart": probe_chart,
        },
    )
