"""Per-user rate limits on chat messages and hint requests: 429 / rate_limited, nothing half-written."""

import json
import time

from websockets.sync.client import connect

from tests.harness.procs import wait_until

PLATFORM_ENV = {"CHAT_RATE_LIMIT": "3/60", "HINT_RATE_LIMIT": "2/60", "WS_MAX_SOCKETS_PER_USER": "3"}


def test_chat_rate_limit_answers_429_and_stores_nothing(platform):
    alice, bob = platform.client("alice"), platform.client("bob")
    session = alice.new_session()
    statuses = [
        alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": f"m{i}"}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = alice.post("/api/chatbot/messages", {"session_id": session["id"], "content": "again"})
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 61
    assert refused.json()["code"] == "rate_limited"
    history = alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]
    assert len(history) == 6  # three questions, three answers; the refused ones left nothing
    other = bob.new_session()
    assert bob.post("/api/chatbot/messages", {"session_id": other["id"], "content": "hi"}).status_code == 200


def test_hint_request_rate_limit(platform):
    alice = platform.client("alice")
    data = alice.post("/api/maze/games", {"width": 21, "height": 15, "germs": 0}).json()
    maze = data["maze"]
    message = json.dumps(
        {
            "type": "state",
            "request_hint": True,
            "state": {"player": maze["start"], "exit": maze["exit"], "walls": maze["walls"]},
        }
    )
    codes = []
    with connect(
        alice.ws_url(f"/ws/maze/{data['game']['id']}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": alice.cookie_header},
    ) as ws:
        for _ in range(3):
            ws.send(message)
            while True:
                event = json.loads(ws.recv(timeout=5))
                if event["type"] == "hint" and not event["notice"]:
                    codes.append("hint")
                    break
                if event["type"] == "error":
                    codes.append(event["code"])
                    break
            time.sleep(0.25)
    assert codes == ["hint", "hint", "rate_limited"]


def test_password_reset_is_throttled_per_address_and_its_link_never_reaches_a_log(platform):
    import requests

    platform.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        "u = get_user_model().objects.get(username='alice'); u.email = 'alice@example.org'; u.save()",
    )
    http = requests.Session()

    def ask(address):
        http.get(platform.base_url + "/accounts/password_reset/", timeout=10)
        return http.post(
            platform.base_url + "/accounts/password_reset/",
            timeout=10,
            allow_redirects=False,
            data={"email": address, "csrfmiddlewaretoken": http.cookies["csrftoken"]},
        )

    statuses = [ask("Alice@Example.org").status_code for _ in range(4)]
    assert statuses == [302, 302, 302, 429]  # three per address per hour (the default); the case does not matter
    refused = ask("alice@example.org")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many reset requests" in refused.text
    assert ask("someone-else@example.org").status_code == 302  # another address is not held up
    mails = list((platform.workdir / "mail").glob("*.log"))
    assert len(mails) == 3 and all("/accounts/reset/" in m.read_text() for m in mails)  # the mail went out...
    assert "/accounts/reset/" not in platform.logs()  # ...and no process logged its link


def test_a_user_has_at_most_so_many_sockets_open(platform):
    from websockets.exceptions import ConnectionClosed

    alice, bob = platform.client("alice"), platform.client("bob")
    session, bobs = alice.new_session(), bob.new_session()

    def open_chat(client, session_id):
        return connect(
            client.ws_url(f"/ws/chat/{session_id}/"),
            origin=platform.base_url,
            additional_headers={"Cookie": client.cookie_header},
            open_timeout=5,
        )

    def usable(ws):
        ws.send("not json")
        return json.loads(ws.recv(timeout=5))["code"] == "invalid"

    sockets = [open_chat(alice, session["id"]) for _ in range(3)]
    try:
        assert all(usable(ws) for ws in sockets)
        with open_chat(alice, session["id"]) as fourth:
            try:
                fourth.recv(timeout=5)
                raise AssertionError("a fourth socket stayed open")
            except ConnectionClosed as closed:
                assert closed.rcvd.code == 4430
        with open_chat(bob, bobs["id"]) as other:  # another user is not held up
            assert usable(other)
        sockets.pop().close()

        def reopened():  # the closed one is given back once daphne has handled its disconnect
            ws = open_chat(alice, session["id"])
            try:
                if usable(ws):
                    sockets.append(ws)
                    return True
            except ConnectionClosed:
                pass
            ws.close()
            return False

        wait_until(reopened, 5, interval=0.1, what="a socket to be allowed again after one closed")
    finally:
        for ws in sockets:
            ws.close()
