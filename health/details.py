"""The detailed health report (GET /api/health/mqtt): everything an operator needs about every worker."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ago(now: float, ts: float | None) -> float | None:
    return None if ts is None else round(max(0.0, now - ts), 1)


def _worker_entry(s: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "client_id": s["client_id"],
        "host": s.get("host"),
        "pid": s.get("pid"),
        "uptime_seconds": _ago(now, s.get("started_at")),
        "connected": bool(s.get("connected")),
        "connected_since": _iso(s.get("connected_since")),
        "last_disconnect_reason": s.get("last_disconnect_reason") or None,
        "heartbeat_age_seconds": _ago(now, s.get("heartbeat_at")),
        "reconnect_attempts": s.get("reconnect_attempts", 0),
        "pending_requests": s.get("pending", 0),
        "llm": s.get("llm", {}),
        "probe": s.get("probe", {}),
        "breaker": s.get("breaker", {}),
        "counters": s.get("counters", {}),
    }


def build(states: list[dict[str, Any]], web: list[dict[str, Any]], now: float | None = None) -> dict[str, Any]:
    now = now if now is not None else time.time()
    workers = [_worker_entry(s, now) for s in states]
    connected = [s for s in states if s.get("connected")]
    primary = (connected or states or [{}])[0]
    activity = max((s["last_activity_at"] for s in states if s.get("last_activity_at")), default=None)
    by_session: dict[str, int] = {}
    for s in states:
        for key, n in s.get("pending_by_session", {}).items():
            by_session[key] = by_session.get(key, 0) + n
    llm_seen = [s.get("llm", {}) for s in states]
    last_seen = max((seen["last_seen"] for seen in llm_seen if seen.get("last_seen")), default=None)
    instances: dict[str, dict[str, Any]] = {}  # each LLM service instance as the worker that heard it last saw it
    for llm in llm_seen:
        for name, heard in (llm.get("instances") or {}).items():
            if name not in instances or (heard.get("last_seen") or 0) > (instances[name].get("last_seen") or 0):
                instances[name] = heard
    counters: dict[str, int] = {}
    for s in states:
        for key, n in s.get("counters", {}).items():
            counters[key] = counters.get(key, 0) + n
    return {
        "connected": bool(connected),
        "client_id": primary.get("client_id"),
        "last_activity": {"timestamp": _iso(activity), "seconds_ago": _ago(now, activity)},
        "reconnection": {
            "attempts": sum(s.get("reconnect_attempts", 0) for s in states),
            "max_attempts": primary.get("max_reconnect_attempts", 0),
        },
        "pending_requests": {"total": sum(s.get("pending", 0) for s in states), "by_session": by_session},
        "subscribers": {
            "hint_sessions": sum(w.get("hint_sessions", 0) for w in web),
            "total_websockets": sum(w.get("websockets", 0) for w in web),
        },
        "workers": workers,
        "llm_service": {
            "online": any(seen.get("online") for seen in llm_seen),
            "service": next((seen.get("service") for seen in llm_seen if seen.get("service")), None),
            "last_seen": _iso(last_seen),
            "seconds_ago": _ago(now, last_seen),
            "instances": {
                name: {"online": bool(seen.get("online")), "seconds_ago": _ago(now, seen.get("last_seen"))}
                for name, seen in sorted(instances.items())
            },
        },
        "probe": {
            "last_rtt_ms": min(
                (s["probe"]["last_rtt_ms"] for s in connected if s.get("probe", {}).get("last_rtt_ms") is not None),
                default=None,
            ),
            "failures": sum(s.get("counters", {}).get("probe_failures", 0) for s in states),
        },
        "breaker": {s["client_id"]: s.get("breaker", {}).get("state") for s in states},
        "counters": counters,
        "web_processes": len(web),
        "warnings": _warnings(states),
    }


def _warnings(states: list[dict[str, Any]]) -> list[str]:
    """What an operator must fix even while everything works (shown to staff only, never on the public health)."""
    found = []
    anonymous = sorted(s["client_id"] for s in states if s.get("broker_auth") is False)
    if anonymous:
        found.append(
            f"Worker(s) {', '.join(anonymous)} connect to the MQTT broker without a user name: whoever "
            "can reach the broker can read every chat and forge answers. Give it passwords and the ACL "
            "(deploy/mosquitto/) and set MQTT_USERNAME and MQTT_PASSWORD."
        )
    return found
