"""Health API, detail endpoint, Prometheus metrics, health_check command and status page, from real state."""

import statistics
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from tests.harness.platform import PYTHON, ROOT, Platform
from tests.harness.procs import wait_until

TOKEN = "monitoring-token-for-tests"
PLATFORM_ENV = {"HEALTH_TOKEN": TOKEN, "HEALTH_PENDING_DEGRADED": "0", "CHAT_REPLY_TIMEOUT": "3"}


@pytest.fixture(scope="module")
def staff(platform):
    platform.create_user("root", staff=True)
    return platform.client("root")


def get(platform, path, **headers):
    return requests.get(platform.base_url + path, headers=headers, timeout=5)


def health_check_exit(platform) -> tuple[int, str]:
    result = subprocess.run(
        [PYTHON, "manage.py", "health_check"], cwd=ROOT, env=platform.env(), capture_output=True, text=True, timeout=60
    )
    return result.returncode, result.stdout.strip()


def test_healthy_shape_types_and_speed(platform):
    response = get(platform, "/api/health/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "timestamp", "mqtt", "issues"}
    assert body["status"] == "healthy" and body["issues"] is None
    assert time.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    mqtt = body["mqtt"]
    assert set(mqtt) == {"connected", "last_activity_seconds_ago", "reconnect_attempts", "pending_requests"}
    assert mqtt["connected"] is True and isinstance(mqtt["last_activity_seconds_ago"], float)
    assert isinstance(mqtt["reconnect_attempts"], int) and isinstance(mqtt["pending_requests"], int)
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        get(platform, "/api/health/")
        timings.append(time.perf_counter() - started)
    assert statistics.median(timings) < 0.05
    assert health_check_exit(platform)[0] == 0


def test_detail_and_metrics_refuse_anonymous_and_non_staff(platform):
    platform.create_user("carol")
    carol = platform.client("carol")
    for path in ("/api/health/mqtt", "/metrics"):
        assert get(platform, path).status_code == 401
        assert get(platform, path, Authorization="Bearer wrong").status_code == 401
        assert carol.get(path).status_code == 403
        assert get(platform, path, Authorization=f"Bearer {TOKEN}").status_code == 200
    assert carol.get("/status/").status_code == 404


def test_detail_endpoint_shape(platform, staff):
    body = staff.get("/api/health/mqtt").json()
    assert body["connected"] is True and body["client_id"].startswith("prompt_portal_backend_w")
    assert set(body["last_activity"]) == {"timestamp", "seconds_ago"}
    assert set(body["reconnection"]) == {"attempts", "max_attempts"}
    assert set(body["pending_requests"]) == {"total", "by_session"}
    assert set(body["subscribers"]) == {"hint_sessions", "total_websockets"}
    worker = body["workers"][0]
    assert {"client_id", "host", "pid", "uptime_seconds", "connected", "heartbeat_age_seconds"} <= set(worker)
    assert body["llm_service"]["online"] is True
    assert body["llm_service"]["instances"]["llm_responder"]["online"] is True  # each instance, as last heard
    # The test platform's broker lets anyone in: staff are told, the public health endpoint is not.
    assert "without a user name" in body["warnings"][0]
    assert "warnings" not in get(platform, "/api/health/").json()
    assert body["probe"]["last_rtt_ms"] is not None and body["probe"]["failures"] == 0
    assert {"messages_in", "messages_out", "malformed", "timeouts", "reconnects"} <= set(body["counters"])


def metric_samples(text):
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_parse_and_move_with_traffic(platform, staff):
    before = metric_samples(staff.get("/metrics").text)
    session = staff.new_session()
    with connect(
        staff.ws_url(f"/ws/chat/{session['id']}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": staff.cookie_header},
    ):
        for i in range(3):
            assert (
                staff.post("/api/chatbot/messages", {"session_id": session["id"], "content": f"m{i}"}).status_code
                == 200
            )
        detail = staff.get("/api/health/mqtt").json()
        worker = detail["client_id"]
        sent = ("portal_mqtt_messages_sent_total", (("worker", worker),))
        replies = ("portal_mqtt_messages_received_total", (("kind", "reply"), ("worker", worker)))

        ok = ("portal_chat_requests_total", (("outcome", "ok"),))

        # Worker counters travel in its heartbeat, so /metrics shows them one heartbeat later; the web
        # process's chat counters within portal.telemetry.CHAT_FLUSH_INTERVAL.
        def counters_caught_up():
            samples = metric_samples(staff.get("/metrics").text)
            moved = (
                samples.get(sent, 0) - before.get(sent, 0) >= 3
                and samples.get(replies, 0) - before.get(replies, 0) >= 3
                and samples.get(ok, 0) - before.get(ok, 0) >= 3
            )
            return moved and samples

        after = wait_until(counters_caught_up, 5, what="worker and chat counters in /metrics")
    assert after[ok] - before.get(ok, 0) == 3
    count = ("portal_chat_request_duration_seconds_count", ())
    assert after[count] - before.get(count, 0) == 3
    assert after[("portal_websockets", ())] >= 1 and detail["subscribers"]["total_websockets"] >= 1
    assert after[("portal_mqtt_connected", (("worker", worker),))] == 1
    assert after[("portal_mqtt_probe_rtt_seconds", (("worker", worker),))] > 0


def test_status_page_for_staff(platform, staff):
    page = staff.get("/status/")
    assert page.status_code == 200
    html = page.text
    assert "Platform status" in html and staff.get("/api/health/mqtt").json()["client_id"] in html
    assert html.count('class="chart"') == 2 and "chart-axis-y" in html  # two charts with axes, whatever their data
    assert 'class="status-warnings"' in html and "without a user name" in html  # the anonymous test broker
    assert "llm_responder: online" in html  # each LLM service instance


def test_pending_above_threshold_is_degraded(platform, staff):
    session = staff.new_session()
    import threading

    thread = threading.Thread(
        target=staff.post, args=("/api/chatbot/messages", {"session_id": session["id"], "content": "!noreply"})
    )
    thread.start()
    try:
        body = wait_until(
            lambda: (b := get(platform, "/api/health/").json())["status"] == "degraded" and b, 5, what="degraded"
        )
        assert any("waiting" in issue for issue in body["issues"])
        assert get(platform, "/api/health/").status_code == 200
        assert health_check_exit(platform)[0] == 1
    finally:
        thread.join(10)


def test_llm_offline_is_degraded(platform):
    platform.responder.kill()
    try:
        body = wait_until(
            lambda: (b := get(platform, "/api/health/").json())["status"] == "degraded" and b, 5, what="degraded"
        )
        assert any("LLM service" in issue for issue in body["issues"])
    finally:
        platform.start_responder()


def test_worker_death_is_unhealthy_within_three_heartbeats(platform):
    interval = float(platform.env()["WORKER_HEARTBEAT_INTERVAL"])
    platform.workers[0].kill()
    killed = time.monotonic()
    wait_until(
        lambda: get(platform, "/api/health/").status_code == 503, 3 * interval + 1.0, interval=0.05, what="unhealthy"
    )
    assert time.monotonic() - killed <= 3 * interval + 0.5
    body = get(platform, "/api/health/").json()
    assert body["status"] == "unhealthy" and body["mqtt"]["connected"] is False
    assert any("No MQTT worker is running" in issue for issue in body["issues"])
    code, line = health_check_exit(platform)
    assert code == 2 and line.startswith("unhealthy")
    platform.start_worker()


def test_broker_down_is_unhealthy_with_reconnect_attempts(platform):
    platform.broker.stop()
    try:
        body = wait_until(
            lambda: (b := get(platform, "/api/health/").json())["mqtt"]["reconnect_attempts"] > 0 and b,
            10,
            what="reconnect attempts to show",
        )
        assert body["status"] == "unhealthy" and body["mqtt"]["connected"] is False
    finally:
        platform.broker.start()
    wait_until(platform.health_connected, 10, what="reconnection")


def test_redis_down_is_unhealthy_not_an_error(tmp_path):
    p = Platform(tmp_path)
    try:
        p.start_infra()
        p.start_web()
        p.redis.stop()
        response = get(p, "/api/health/")
        assert response.status_code == 503 and "Redis" in response.json()["issues"][0]
    finally:
        p.stop_all()
