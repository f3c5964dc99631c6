"""Chat through the JSON API against real daphne, worker, responder, mosquitto and Redis."""

import os
import threading
import time

import pytest

from tests.harness.mqtt import MqttPeer
from tests.harness.procs import wait_until

PLATFORM_ENV = {"CHAT_REPLY_TIMEOUT": "3"}
BASE = "prompt_portal/assistant_response"


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def bob(platform):
    return platform.client("bob")


def post_message(client, session_id, content, **extra):
    return client.post("/api/chatbot/messages", {"session_id": session_id, "content": content, **extra})


def test_round_trip_through_the_llm_service(alice):
    session = alice.new_session()
    response = post_message(alice, session["id"], "How do I escape the maze?")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session"]["id"] == session["id"]
    assert body["user_message"]["content"] == "How do I escape the maze?"
    assert body["assistant_message"]["role"] == "assistant"
    assert "How do I escape the maze?" in body["assistant_message"]["content"]
    assert body["raw_response"] == body["assistant_message"]["content"]
    assert body["assistant_message"]["request_id"] == body["user_message"]["request_id"]

    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert [(m["role"], m["id"]) for m in history] == [
        ("user", body["user_message"]["id"]),
        ("assistant", body["assistant_message"]["id"]),
    ]


def test_each_request_gets_its_own_reply_under_concurrency(alice):
    sessions = [alice.new_session() for _ in range(4)]
    results = {}

    def ask(i):
        session = sessions[i % len(sessions)]
        results[i] = post_message(alice, session["id"], f"question number {i}")

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, response in results.items():
        assert response.status_code == 200, response.text
        assert f"question number {i}" in response.json()["assistant_message"]["content"]


def test_csrf_is_enforced_through_daphne_and_a_refused_request_leaves_nothing(alice):
    # The API's views check CSRF themselves (portal/api.py, so that API tokens need none): prove it bites.
    session = alice.new_session()
    url = alice.base_url + "/api/chatbot/messages"
    body = {"session_id": session["id"], "content": "forged"}
    for headers in ({}, {"X-CSRFToken": "not-the-token"}):
        response = alice.http.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 403 and "CSRF" in response.json()["detail"], response.text
    assert alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"] == []
    assert post_message(alice, session["id"], "with the token").status_code == 200


def test_another_users_session_is_not_found(alice, bob):
    session = alice.new_session()
    assert bob.get(f"/api/chatbot/sessions/{session['id']}").status_code == 404
    assert bob.get(f"/api/chatbot/sessions/{session['id']}/messages").status_code == 404
    assert bob.request("DELETE", f"/api/chatbot/sessions/{session['id']}").status_code == 404
    response = post_message(bob, session["id"], "let me in")
    assert response.status_code == 404
    assert response.json()["detail"]
    assert alice.get(f"/api/chatbot/sessions/{session['id']}").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"content": "hi"}, "session_id"),
        ({"session_id": "abc", "content": "hi"}, "session_id"),
        ({"session_id": 1, "content": ""}, "content"),
        ({"session_id": 1, "content": "   "}, "content"),
        ({"session_id": 1, "content": 42}, "content"),
        ({"session_id": 1, "content": "x" * 8001}, "content"),
        ({"session_id": 1, "content": "hi", "temperature": "hot"}, "temperature"),
        ({"session_id": 1, "content": "hi", "top_p": 3}, "top_p"),
        ({"session_id": 1, "content": "hi", "max_tokens": True}, "max_tokens"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(alice, body, field):
    response = alice.post("/api/chatbot/messages", body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert response.json()["detail"]


def test_malformed_bodies_and_anonymous_requests(platform, alice):
    response = alice.request(
        "POST", "/api/chatbot/messages", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and "JSON" in response.json()["detail"]
    response = alice.request("POST", "/api/chatbot/messages", data=b"[1, 2]")
    assert response.status_code == 400
    import requests

    anonymous = requests.get(platform.base_url + "/api/chatbot/sessions", timeout=5)
    assert anonymous.status_code == 401 and anonymous.json()["detail"]


def _ask_in_background(client, session_id, content):
    box = {}
    thread = threading.Thread(target=lambda: box.update(response=post_message(client, session_id, content)))
    thread.start()
    return thread, box


def _request_id_of(client, session_id, content):
    def find():
        for m in client.get(f"/api/chatbot/sessions/{session_id}/messages").json()["messages"]:
            if m["role"] == "user" and m["content"] == content:
                return m["request_id"]
        return None

    return wait_until(find, 5, what="the user message to be stored")


def test_duplicate_reply_is_stored_and_delivered_once(platform, alice):
    session = alice.new_session()
    thread, box = _ask_in_background(alice, session["id"], "!noreply duplicate test")
    request_id = _request_id_of(alice, session["id"], "!noreply duplicate test")  # stored right before published
    llm = MqttPeer(platform.broker.port)
    try:
        worker_id = platform.worker_states()[0]["client_id"]
        topic = f"{BASE}/{session['llm_session_key']}/{worker_id}/{request_id}"
        llm.publish(topic, "the one true answer")
        llm.publish(topic, "the one true answer")
        thread.join(10)
        assert box["response"].status_code == 200, box["response"].text
        assert box["response"].json()["assistant_message"]["content"] == "the one true answer"
        duplicates = platform.worker_states()[0]["counters"]["replies_duplicate"]
        llm.publish(topic, "the one true answer")  # a third, late copy
        wait_until(
            lambda: platform.worker_states()[0]["counters"]["replies_duplicate"] > duplicates,
            5,
            what="the late copy to be recognised as a duplicate",
        )
    finally:
        llm.close()
    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]


def test_reply_on_the_fallback_topic_is_matched_to_the_waiting_request(platform, alice):
    session = alice.new_session()
    thread, box = _ask_in_background(alice, session["id"], "!noreply fallback test")
    _request_id_of(alice, session["id"], "!noreply fallback test")  # stored right before it is published
    llm = MqttPeer(platform.broker.port)
    try:
        llm.publish(f"{BASE}/{session['llm_session_key']}", '{"response": "answer via fallback", "model": "m1"}')
        thread.join(10)
    finally:
        llm.close()
    assert box["response"].status_code == 200, box["response"].text
    message = box["response"].json()["assistant_message"]
    assert message["content"] == "answer via fallback"
    assert message["metadata"] == {"model": "m1"}


def test_no_reply_times_out_with_504_and_nothing_left_waiting(platform, alice):
    session = alice.new_session()
    started = time.monotonic()
    response = post_message(alice, session["id"], "!noreply please time out")
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "timeout"
    assert 2.5 <= elapsed <= 5.0
    wait_until(lambda: platform.pending() == 0, 3, what="pending to return to 0")


def test_llm_error_reply_is_a_503_not_an_answer(alice):
    session = alice.new_session()
    response = post_message(alice, session["id"], "!error")
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.json()["code"] == "llm_error"
    assert response.json()["assistant_message"]["metadata"]["error"] is True


def test_reset_gives_a_new_llm_session_and_clears_history(alice):
    session = alice.new_session()
    assert post_message(alice, session["id"], "remember me").status_code == 200
    reset = alice.post(f"/api/chatbot/sessions/{session['id']}/reset")
    assert reset.status_code == 200
    assert reset.json()["llm_session_key"] != session["llm_session_key"]
    assert reset.json()["session_key"] == session["session_key"]  # its sockets' group stays
    assert alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"] == []
    assert post_message(alice, session["id"], "after reset").status_code == 200


def test_session_crud_and_presets(alice):
    presets = alice.get("/api/chatbot/presets").json()["presets"]
    assert {"general", "prompt_portal", "maze_strategist"} <= {p["key"] for p in presets}
    session = alice.new_session("maze_strategist")
    assert session["preset"] == "maze_strategist" and "maze" in session["system_prompt"].lower()
    patched = alice.request("PATCH", f"/api/chatbot/sessions/{session['id']}", {"title": "Renamed", "temperature": 0.1})
    assert patched.status_code == 200 and patched.json()["title"] == "Renamed" and patched.json()["temperature"] == 0.1
    listed = [s["id"] for s in alice.get("/api/chatbot/sessions").json()["sessions"]]
    assert session["id"] in listed
    assert alice.request("DELETE", f"/api/chatbot/sessions/{session['id']}").status_code == 204
    assert alice.get(f"/api/chatbot/sessions/{session['id']}").status_code == 404


def test_the_platform_runs_on_the_requested_database(platform):
    wanted = "postgresql" if os.environ.get("TEST_DATABASE") == "postgres" else "sqlite"
    out = platform.manage("shell", "-c", "from django.db import connection; print(connection.vendor)").stdout
    assert out.strip().splitlines()[-1] == wanted
