"""Chat over a real WebSocket to daphne, with the real worker and responder behind it."""

import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

PLATFORM_ENV = {"CHAT_REPLY_TIMEOUT": "3"}


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def bob(platform):
    return platform.client("bob")


def open_socket(platform, client, session_id, origin=None):
    return connect(
        client.ws_url(f"/ws/chat/{session_id}/"),
        origin=origin or platform.base_url,
        additional_headers={"Cookie": client.cookie_header} if client else None,
        open_timeout=5,
    )


def receive(ws, timeout=8.0):
    return json.loads(ws.recv(timeout=timeout))


def test_message_round_trip_over_the_socket(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": "hello over websocket"}))
        accepted = receive(ws)
        assert accepted["type"] == "chat.accepted"
        assert accepted["user_message"]["content"] == "hello over websocket"
        reply = receive(ws)
        assert reply["type"] == "chat.reply"
        assert reply["request_id"] == accepted["request_id"]
        assert "hello over websocket" in reply["assistant_message"]["content"]
    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]


def test_a_second_tab_sees_replies_to_requests_sent_elsewhere(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as other_tab:
        response = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "from the API"})
        assert response.status_code == 200
        events = [receive(other_tab), receive(other_tab)]
        assert [e["type"] for e in events] == ["chat.accepted", "chat.reply"]
        assert events[1]["assistant_message"]["id"] == response.json()["assistant_message"]["id"]


def test_timeout_is_reported_in_plain_words(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": "!noreply"}))
        assert receive(ws)["type"] == "chat.accepted"
        error = receive(ws)
        assert error["type"] == "chat.error" and error["code"] == "timeout"
        assert "did not answer" in error["detail"]


def test_invalid_frames_get_an_error_and_the_socket_stays_usable(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        ws.send("not json")
        assert receive(ws)["code"] == "invalid"
        ws.send(json.dumps({"type": "chat.message", "content": ""}))
        assert receive(ws)["code"] == "invalid"
        ws.send(json.dumps({"type": "chat.message", "content": "still here"}))
        assert receive(ws)["type"] == "chat.accepted"
        assert receive(ws)["type"] == "chat.reply"


def test_another_users_session_closes_with_4404(platform, alice, bob):
    session = alice.new_session()
    with open_socket(platform, bob, session["id"]) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4404


def test_anonymous_socket_closes_with_4401(platform, alice):
    session = alice.new_session()
    with connect(alice.ws_url(f"/ws/chat/{session['id']}/"), origin=platform.base_url, open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd.code == 4401


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1"])
def test_foreign_origin_is_refused(platform, alice, origin):
    # Another port on the same host is another site: its page must not open the user's socket (issue 17).
    session = alice.new_session()
    with pytest.raises(InvalidStatus) as refused:
        open_socket(platform, alice, session["id"], origin=origin)
    assert refused.value.response.status_code == 403


def _wire_requests(platform):
    from tests.harness.mqtt import MqttPeer

    return MqttPeer(platform.broker.port, subscribe=("prompt_portal/user_input",))


def _next_request(peer) -> dict:
    message = peer.next_message(timeout=5)
    return json.loads(message[1] if isinstance(message, tuple) else message.payload)


def test_an_open_socket_follows_settings_changes_and_resets(platform, alice):
    """The next question after a PATCH and a reset carries the new system prompt and the new LLM sessionId (the
    LLM forgets the old conversation): the worker reads the session as it is on the question's turn."""
    session = alice.new_session()
    peer = _wire_requests(platform)
    try:
        with open_socket(platform, alice, session["id"]) as ws:
            assert (
                alice.request(
                    "PATCH", f"/api/chatbot/sessions/{session['id']}", {"system_prompt": "Answer in rhymes."}
                ).status_code
                == 200
            )
            reset = alice.post(f"/api/chatbot/sessions/{session['id']}/reset").json()
            assert reset["llm_session_key"] != session["llm_session_key"]
            ws.send(json.dumps({"type": "chat.message", "content": "after the reset"}))
            assert receive(ws)["type"] == "chat.accepted"
            assert receive(ws)["type"] == "chat.reply"
            sent = _next_request(peer)
            assert sent["sessionId"] == reset["llm_session_key"] and sent["systemPrompt"] == "Answer in rhymes."
    finally:
        peer.close()


def test_deleting_the_session_closes_its_sockets_with_4404(platform, alice):
    session = alice.new_session()
    with open_socket(platform, alice, session["id"]) as ws:
        assert alice.request("DELETE", f"/api/chatbot/sessions/{session['id']}").status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            receive(ws, timeout=5)
        assert closed.value.rcvd.code == 4404
