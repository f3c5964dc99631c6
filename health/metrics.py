"""Prometheus exposition built from the shared state of every worker and web process (see portal/telemetry.py)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from portal.telemetry import DURATION_BUCKETS


class SnapshotCollector:
    """Yields metric families from one snapshot (read from Redis just before rendering)."""

    def __init__(
        self,
        states: list[dict[str, Any]],
        web: list[dict[str, Any]],
        outcomes: dict[str, int],
        duration: dict[str, float],
        now: float,
    ):
        self.states, self.web, self.outcomes, self.duration, self.now = states, web, outcomes, duration, now

    def collect(self):
        per_worker = {
            "connected": GaugeMetricFamily(
                "portal_mqtt_connected", "1 if the worker is connected to the broker", labels=["worker"]
            ),
            "reconnects": CounterMetricFamily(
                "portal_mqtt_reconnects", "Reconnections after a lost connection", labels=["worker"]
            ),
            "attempts": GaugeMetricFamily(
                "portal_mqtt_reconnect_attempts", "Consecutive failed reconnect attempts in progress", labels=["worker"]
            ),
            "sent": CounterMetricFamily("portal_mqtt_messages_sent", "MQTT messages published", labels=["worker"]),
            "received": CounterMetricFamily(
                "portal_mqtt_messages_received", "MQTT messages received by kind", labels=["worker", "kind"]
            ),
            "pending": GaugeMetricFamily(
                "portal_chat_pending_requests", "Chat requests waiting for a reply", labels=["worker"]
            ),
            "rtt": GaugeMetricFamily(
                "portal_mqtt_probe_rtt_seconds", "Last broker probe round trip", labels=["worker"]
            ),
            "probe_failures": CounterMetricFamily(
                "portal_mqtt_probe_failures", "Probes that never came back", labels=["worker"]
            ),
            "activity": GaugeMetricFamily(
                "portal_mqtt_last_activity_age_seconds", "Seconds since the last MQTT traffic", labels=["worker"]
            ),
            "heartbeat": GaugeMetricFamily(
                "portal_worker_heartbeat_age_seconds", "Seconds since the worker's heartbeat", labels=["worker"]
            ),
            "breaker": GaugeMetricFamily(
                "portal_llm_breaker_open", "1 while the LLM circuit breaker is open", labels=["worker"]
            ),
            "llm": GaugeMetricFamily(
                "portal_llm_online", "1 if the worker sees the LLM service online", labels=["worker"]
            ),
        }
        for s in self.states:
            w = [s["client_id"]]
            c = s.get("counters", {})
            per_worker["connected"].add_metric(w, 1 if s.get("connected") else 0)
            per_worker["reconnects"].add_metric(w, c.get("reconnects", 0))
            per_worker["attempts"].add_metric(w, s.get("reconnect_attempts", 0))
            per_worker["sent"].add_metric(w, c.get("messages_out", 0))
            for kind, n in s.get("received_by_kind", {}).items():
                per_worker["received"].add_metric(w + [kind], n)
            per_worker["received"].add_metric(w + ["malformed"], c.get("malformed", 0))
            per_worker["pending"].add_metric(w, s.get("pending", 0))
            rtt = s.get("probe", {}).get("last_rtt_ms")
            if rtt is not None:
                per_worker["rtt"].add_metric(w, rtt / 1000)
            per_worker["probe_failures"].add_metric(w, c.get("probe_failures", 0))
            if s.get("last_activity_at"):
                per_worker["activity"].add_metric(w, max(0.0, self.now - s["last_activity_at"]))
            per_worker["heartbeat"].add_metric(w, max(0.0, self.now - s.get("heartbeat_at", 0)))
            per_worker["breaker"].add_metric(w, 1 if s.get("breaker", {}).get("state") == "open" else 0)
            per_worker["llm"].add_metric(w, 1 if s.get("llm", {}).get("online") else 0)
        yield from per_worker.values()

        workers = GaugeMetricFamily("portal_workers", "Live MQTT workers")
        workers.add_metric([], len(self.states))
        yield workers

        requests = CounterMetricFamily("portal_chat_requests", "Chat requests by outcome", labels=["outcome"])
        for outcome, n in sorted(self.outcomes.items()):
            requests.add_metric([outcome], n)
        yield requests

        buckets = [(repr(b), self.duration.get(repr(b), 0.0)) for b in DURATION_BUCKETS]
        buckets.append(("+Inf", self.duration.get("+Inf", 0.0)))
        histogram = HistogramMetricFamily(
            "portal_chat_request_duration_seconds", "Chat request duration, from the web process's view"
        )
        histogram.add_metric([], buckets=buckets, sum_value=self.duration.get("sum", 0.0))
        yield histogram

        sockets = GaugeMetricFamily("portal_websockets", "Open WebSockets across all web processes")
        sockets.add_metric([], sum(w.get("websockets", 0) for w in self.web))
        yield sockets


def render(states, web, outcomes, duration) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(states, web, outcomes, duration, time.time()))
    return generate_latest(registry)
