"""At LOG_LEVEL=INFO no process writes a secret, a session cookie, a chat session key or message content.

Drives a busy minute of a user's life (sign-in, a failed login, an API token, chat over HTTP and WebSocket,
a maze hint, an LLM error) against the real processes, then reads every byte they logged.
"""

import json
import time

import requests
from websockets.sync.client import connect

from tests.harness.procs import wait_until

SECRET_KEY = "log-hygiene-secret-key-9f8e7d6c5b4a"
PASSWORD = "correct-horse-battery-9"
PLATFORM_ENV = {"SECRET_KEY": SECRET_KEY, "LOG_LEVEL": "INFO"}
CONTENT = "confidential-question-about-zebras-4711"


def test_logs_hold_no_secrets_keys_or_content(platform):
    alice = platform.client("alice")
    # A failed login that reaches the password check (with the CSRF token, as a browser sends it).
    stranger = requests.Session()
    stranger.get(platform.base_url + "/accounts/login/", timeout=10)
    failed = stranger.post(
        platform.base_url + "/accounts/login/",
        timeout=10,
        data={
            "username": "alice",
            "password": "wrong-Passw0rd-xyz",
            "csrfmiddlewaretoken": stranger.cookies["csrftoken"],
        },
    )
    assert failed.status_code == 200 and "Please enter a correct username and password" in failed.text
    token = alice.post("/api/tokens/", {"name": "hygiene"}).json()["token"]
    session = alice.new_session()
    reply = requests.post(
        platform.base_url + "/api/chatbot/messages",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"session_id": session["id"], "content": CONTENT},
    )
    assert reply.status_code == 200
    answer = reply.json()["assistant_message"]["content"]
    with connect(
        alice.ws_url(f"/ws/chat/{session['id']}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": alice.cookie_header},
        open_timeout=5,
    ) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": CONTENT + "-over-ws"}))
        wait_until(lambda: json.loads(ws.recv(timeout=10))["type"] == "chat.reply", 15, what="socket reply")
    error = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "!error " + CONTENT})
    assert error.status_code == 503
    template = alice.post("/api/templates/", {"title": "Hygiene", "content": "Keep to the left wall."}).json()
    game = alice.post(
        "/api/maze/games", {"width": 11, "height": 11, "germs": 1, "mode": "lam", "template_id": template["id"]}
    ).json()
    with connect(
        alice.ws_url(f"/ws/maze/{game['game']['id']}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": alice.cookie_header},
        open_timeout=5,
    ) as ws:
        maze = game["maze"]
        ws.send(
            json.dumps(
                {
                    "type": "state",
                    "request_hint": True,
                    "state": {
                        "player": maze["start"],
                        "exit": maze["exit"],
                        "walls": maze["walls"],
                        "pellets": maze["pellets"],
                        "germs": maze["germs"],
                        "tick": int(time.time() * 1000),
                        "health": 100,
                        "oxygen": 97,
                    },
                }
            )
        )
        wait_until(lambda: json.loads(ws.recv(timeout=10))["type"] == "hint", 15, what="hint")
    reset = alice.post(f"/api/chatbot/sessions/{session['id']}/reset")
    assert reset.status_code == 200
    # The processes write unbuffered (PYTHONUNBUFFERED): the access line of that last request is in the log.
    wait_until(lambda: f"/api/chatbot/sessions/{session['id']}/reset" in platform.web.log(), 5, what="the log")

    logs = "\n".join(proc.log() for proc in [*platform.webs, *platform.workers, platform.responder])
    assert "POST /api/chatbot/messages" in logs or "connected to" in logs  # we are reading real logs
    forbidden = {
        "message content": CONTENT,
        "assistant reply": answer,
        "password": PASSWORD,
        "failed password": "wrong-Passw0rd-xyz",
        "SECRET_KEY": SECRET_KEY,
        "API token": token,
        "session cookie": alice.http.cookies["sessionid"],
        "CSRF token": alice.http.cookies["csrftoken"],
        "chat session key": session["session_key"],
        "LLM session id": session["llm_session_key"],
        "maze session key": game["game"]["session_key"],
    }
    leaked = {what: value for what, value in forbidden.items() if value and value in logs}
    assert not leaked, f"found in the logs: {sorted(leaked)}"
