"""Health evaluation from worker state: each status and each cause (pure, no processes)."""

import pytest

from health.status import Thresholds, evaluate

NOW = 1_000_000.0
T = Thresholds(heartbeat_interval=2.0, pending_degraded=50, inactivity_degraded=300.0, probe_slow_ms=1000.0)


def worker(**overrides):
    state = {
        "client_id": "w1",
        "heartbeat_at": NOW - 1,
        "connected": True,
        "last_activity_at": NOW - 15.3,
        "reconnect_attempts": 0,
        "pending": 2,
        "llm": {"online": True},
        "probe": {"last_rtt_ms": 1.2, "consecutive_failures": 0},
    }
    state.update(overrides)
    return state


def test_healthy():
    report = evaluate([worker()], NOW, T)
    assert report == {
        "status": "healthy",
        "mqtt": {"connected": True, "last_activity_seconds_ago": 15.3, "reconnect_attempts": 0, "pending_requests": 2},
        "issues": None,
    }


@pytest.mark.parametrize(
    "states, fragment",
    [
        ([], "No MQTT worker is running"),
        ([worker(heartbeat_at=NOW - 6.5)], "No MQTT worker is running"),
        ([worker(connected=False)], "No MQTT worker is connected"),
    ],
)
def test_unhealthy(states, fragment):
    report = evaluate(states, NOW, T)
    assert report["status"] == "unhealthy"
    assert any(fragment in issue for issue in report["issues"])


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"reconnect_attempts": 2}, "reconnect"),
        ({"pending": 51}, "waiting"),
        ({"last_activity_at": NOW - 301}, "No MQTT activity"),
        ({"llm": {"online": False}}, "LLM service"),
        ({"llm": {"online": None}}, "LLM service"),
        ({"probe": {"last_rtt_ms": None, "consecutive_failures": 1}}, "probe is failing"),
        ({"probe": {"last_rtt_ms": 1500.0, "consecutive_failures": 0}}, "probe is slow"),
        ({"breaker": {"state": "open"}}, "circuit breaker"),
    ],
)
def test_degraded(overrides, fragment):
    report = evaluate([worker(**overrides)], NOW, T)
    assert report["status"] == "degraded"
    assert any(fragment in issue for issue in report["issues"])


def test_one_connected_worker_is_enough():
    report = evaluate([worker(client_id="w1", connected=False), worker(client_id="w2")], NOW, T)
    assert report["status"] == "healthy" and report["mqtt"]["pending_requests"] == 4
