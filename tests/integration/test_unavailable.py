"""With no worker, or a worker that cannot reach the broker, chat answers 503 at once (never hangs, never 500)."""

import time

import pytest

from tests.harness.platform import Platform
from tests.harness.procs import wait_until


@pytest.fixture(scope="module")
def web_only(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("web-only"))
    try:
        p.start_infra()
        p.start_web()
        p.create_user("alice")
        yield p
    finally:
        p.stop_all()


def test_no_worker_answers_503_within_a_second(web_only):
    alice = web_only.client("alice")
    session = alice.new_session()
    started = time.monotonic()
    response = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "anyone there?"})
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["code"] == "unavailable" and response.json()["detail"]
    assert elapsed < 1.0
    # A refused request leaves no half-written state.
    assert alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"] == []
    health = web_only.health()
    assert health["status"] == "unhealthy" and health["mqtt"]["connected"] is False


def test_worker_without_broker_answers_503_then_recovers(web_only):
    web_only.broker.stop()
    worker = web_only.start_worker(wait_connected=False)
    try:
        alice = web_only.client("alice")
        session = alice.new_session()
        wait_until(lambda: web_only.worker_states(), 10, what="the worker's first heartbeat")
        started = time.monotonic()
        response = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "hello?"})
        assert response.status_code == 503 and time.monotonic() - started < 1.0
        assert web_only.worker_states()[0]["connected"] is False

        web_only.broker.start()
        wait_until(web_only.health_connected, 5, what="the worker to connect once the broker is up")
    finally:
        worker.stop()
    assert worker.popen.returncode == 0
