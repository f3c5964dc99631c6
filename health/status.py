"""Pure evaluation of the workers' shared state into healthy / degraded / unhealthy (no Django import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    heartbeat_interval: float = 2.0
    pending_degraded: int = 50
    inactivity_degraded: float = 300.0
    probe_slow_ms: float = 1000.0


def _age(now: float, ts: float | None) -> float | None:
    return None if ts is None else max(0.0, now - ts)


def evaluate(states: list[dict[str, Any]], now: float, t: Thresholds) -> dict[str, Any]:
    alive = [s for s in states if now - float(s.get("heartbeat_at", 0)) < 3 * t.heartbeat_interval]
    connected = [s for s in alive if s.get("connected")]
    activity = [s["last_activity_at"] for s in connected if s.get("last_activity_at")]
    last_activity_ago = _age(now, max(activity)) if activity else None
    reconnects = sum(int(s.get("reconnect_attempts", 0)) for s in alive)
    pending = sum(int(s.get("pending", 0)) for s in alive)
    mqtt = {
        "connected": bool(connected),
        "last_activity_seconds_ago": None if last_activity_ago is None else round(last_activity_ago, 1),
        "reconnect_attempts": reconnects,
        "pending_requests": pending,
    }

    unhealthy, degraded = [], []
    if not alive:
        unhealthy.append("No MQTT worker is running.")
    elif not connected:
        unhealthy.append("No MQTT worker is connected to the broker.")
    if reconnects:
        degraded.append(f"{reconnects} reconnect attempt(s) in progress.")
    if pending > t.pending_degraded:
        degraded.append(f"{pending} requests are waiting (threshold {t.pending_degraded}).")
    if connected and (last_activity_ago is None or last_activity_ago > t.inactivity_degraded):
        degraded.append(f"No MQTT activity for over {int(t.inactivity_degraded)} s.")
    if connected and all(s.get("llm", {}).get("online") is not True for s in connected):
        degraded.append("The LLM service is offline or has not announced itself.")
    for s in connected:
        if s.get("breaker", {}).get("state") == "open":
            degraded.append(f"Worker {s['client_id']}: the LLM circuit breaker is open (repeated timeouts).")
        probe = s.get("probe", {})
        if probe.get("consecutive_failures"):
            degraded.append(f"Worker {s['client_id']}: the broker probe is failing.")
        elif probe.get("last_rtt_ms") is not None and probe["last_rtt_ms"] > t.probe_slow_ms:
            degraded.append(f"Worker {s['client_id']}: the broker probe is slow ({probe['last_rtt_ms']:.0f} ms).")

    status = "unhealthy" if unhealthy else "degraded" if degraded else "healthy"
    issues = unhealthy + degraded
    return {"status": status, "mqtt": mqtt, "issues": issues or None}
