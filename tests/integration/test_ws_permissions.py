"""Every WebSocket route against real daphne: owner and staff get in, another user is closed with 4404,
an anonymous client with 4401, and a foreign or missing Origin is refused before the handshake completes.
Also: a personal API token works end to end through daphne (the async middleware path)."""

import json

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

ROUTES = ["chat", "maze"]


@pytest.fixture(scope="module")
def users(platform):
    platform.create_user("sam", staff=True)
    return {name: platform.client(name) for name in ("alice", "bob", "sam")}


@pytest.fixture(scope="module")
def objects(users):
    owner = users["alice"]
    session = owner.new_session()
    game = owner.post("/api/maze/games", {"width": 11, "height": 11, "germs": 1}).json()["game"]
    return {"chat": session["id"], "maze": game["id"]}


def open_socket(platform, route, object_id, client=None, origin="default"):
    headers = {"Cookie": client.cookie_header} if client else None
    return connect(
        platform.base_url.replace("http://", "ws://") + f"/ws/{route}/{object_id}/",
        origin=platform.base_url if origin == "default" else origin,
        additional_headers=headers,
        open_timeout=5,
    )


def assert_usable(ws):
    """An open, ready socket answers a malformed frame with an error event instead of closing."""
    ws.send("not json")
    event = json.loads(ws.recv(timeout=5))
    assert event["type"] in ("error", "chat.error") and event["code"] == "invalid"


def closed_with(ws) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    return closed.value.rcvd.code


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("who", ["alice", "sam"])
def test_owner_and_staff_get_in(platform, users, objects, route, who):
    with open_socket(platform, route, objects[route], users[who]) as ws:
        assert_usable(ws)


@pytest.mark.parametrize("route", ROUTES)
def test_another_user_is_closed_with_4404_like_a_missing_id(platform, users, objects, route):
    with open_socket(platform, route, objects[route], users["bob"]) as ws:
        assert closed_with(ws) == 4404
    with open_socket(platform, route, 987654, users["bob"]) as ws:
        assert closed_with(ws) == 4404


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_is_closed_with_4401(platform, objects, route):
    with open_socket(platform, route, objects[route]) as ws:
        assert closed_with(ws) == 4401


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("origin", ["http://evil.example", None])
def test_foreign_or_missing_origin_is_refused(platform, users, objects, route, origin):
    with pytest.raises(InvalidStatus) as refused:
        open_socket(platform, route, objects[route], users["alice"], origin=origin)
    assert refused.value.response.status_code == 403


def test_api_token_through_daphne(platform, users):
    alice = users["alice"]
    secret = alice.post("/api/tokens/", {"name": "bench script"}).json()["token"]
    script = requests.Session()
    script.headers["Authorization"] = f"Bearer {secret}"
    session = script.post(platform.base_url + "/api/chatbot/sessions", json={"title": "scripted"}, timeout=10)
    assert session.status_code == 201
    reply = script.post(
        platform.base_url + "/api/chatbot/messages",
        json={"session_id": session.json()["id"], "content": "hello from a script"},
        timeout=30,
    )
    assert reply.status_code == 200 and reply.json()["assistant_message"]["content"]
    token_id = alice.get("/api/tokens/").json()["tokens"][0]["id"]
    assert alice.request("DELETE", f"/api/tokens/{token_id}").status_code == 204
    refused = script.get(platform.base_url + "/api/chatbot/sessions", timeout=10)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]


# -- a client flooding frames is throttled, then disconnected; nobody else notices -----------------------------
def test_a_flooding_socket_is_refused_then_closed_while_others_chat_on(platform, users, objects):
    bob_session = users["bob"].new_session()
    with (
        open_socket(platform, "chat", objects["chat"], users["alice"]) as flood,
        open_socket(platform, "chat", bob_session["id"], users["bob"]) as calm,
    ):
        for _ in range(1000):  # far past WS_FRAME_BURST (60) at wire speed; each would be an "invalid" error
            try:
                flood.send('{"type": "noop"}')
            except ConnectionClosed:
                break
        codes, close_code = [], None
        try:
            while True:
                codes.append(json.loads(flood.recv(timeout=5))["code"])
        except ConnectionClosed as closed:
            close_code = closed.rcvd.code
        assert close_code == 4429
        # The burst was handled; the rest were refused with a notice at most once a second, not one per frame.
        assert 1 <= codes.count("rate_limited") <= 2
        assert 60 <= codes.count("invalid") <= 100, codes.count("invalid")

        calm.send(json.dumps({"type": "chat.message", "content": "still here?"}))
        events = [json.loads(calm.recv(timeout=10)) for _ in range(2)]
        assert [e["type"] for e in events] == ["chat.accepted", "chat.reply"]

    # The flooder is not banned: a new socket works at a person's pace.
    with open_socket(platform, "chat", objects["chat"], users["alice"]) as ws:
        assert_usable(ws)


@pytest.mark.parametrize("route", ROUTES)
def test_a_session_from_before_a_password_change_is_closed_with_4401(platform, route):
    # The socket's login lookup (Channels' AuthMiddleware) is Django's: the session must carry the current password's
    # hash, so a password change signs out every socket opened with an older cookie.
    name = f"pat{route}"
    platform.create_user(name)
    client = platform.client(name)
    owned = (
        client.new_session()["id"]
        if route == "chat"
        else client.post("/api/maze/games", {"width": 11, "height": 11, "germs": 1}).json()["game"]["id"]
    )
    with open_socket(platform, route, owned, client) as ws:
        assert_usable(ws)
    code = (
        f"from django.contrib.auth import get_user_model\n"
        f"u = get_user_model().objects.get(username={name!r}); u.set_password('another-horse-battery-7'); u.save()"
    )
    assert platform.manage("shell", "-c", code).returncode == 0
    with open_socket(platform, route, owned, client) as ws:
        assert closed_with(ws) == 4401


@pytest.mark.parametrize("route", ROUTES)
def test_logging_out_closes_the_sockets_of_that_login_at_once(platform, objects, route):
    session_a, session_b = platform.client("alice"), platform.client("alice")  # two logins of one user
    with (
        open_socket(platform, route, objects[route], session_a) as ws_a,
        open_socket(platform, route, objects[route], session_b) as ws_b,
    ):
        assert_usable(ws_a)
        assert_usable(ws_b)
        assert session_a.post("/accounts/logout/").status_code in (200, 302)
        assert closed_with(ws_a) == 4401
        assert_usable(ws_b)  # the other login goes on


def test_a_password_change_closes_the_users_other_sockets(platform, objects):
    platform.create_user("carla")
    elsewhere, here = platform.client("carla"), platform.client("carla")
    session = elsewhere.new_session()
    with open_socket(platform, "chat", session["id"], elsewhere) as ws:
        assert_usable(ws)
        page = here.get("/accounts/password_change/")
        assert page.status_code == 200
        changed = here.http.post(
            here.base_url + "/accounts/password_change/",
            data={
                "old_password": "correct-horse-battery-9",
                "new_password1": "another-Horse-battery-77",
                "new_password2": "another-Horse-battery-77",
                "csrfmiddlewaretoken": here.http.cookies["csrftoken"],
            },
            headers={"Referer": here.base_url + "/accounts/password_change/"},
            allow_redirects=False,
        )
        assert changed.status_code == 302, changed.text[:500]
        assert closed_with(ws) == 4401


def test_staff_read_other_users_chats_and_write_into_them_only_with_the_permission_signed(platform, users, objects):
    alice = users["alice"]
    # Staff, not superusers (who have every permission).
    for name in ("sue", "wes"):
        platform.create_user(name)
    platform.manage(
        "shell",
        "-c",
        "from django.contrib.auth.models import Permission, User; "
        "User.objects.filter(username__in=['sue', 'wes']).update(is_staff=True); "
        "User.objects.get(username='wes').user_permissions.add("
        "Permission.objects.get(codename='write_others_chats'))",
    )
    sue = platform.client("sue")
    with open_socket(platform, "chat", objects["chat"], sue) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": "staff writing"}))
        event = json.loads(ws.recv(timeout=5))
        assert event["type"] == "chat.error" and event["code"] == "read_only"
    refused = sue.post("/api/chatbot/messages", {"session_id": objects["chat"], "content": "via the API"})
    assert refused.status_code == 403 and "permission" in refused.json()["detail"]
    wes = platform.client("wes")
    sent = wes.post("/api/chatbot/messages", {"session_id": objects["chat"], "content": "hello from support"})
    assert sent.status_code == 200, sent.text
    history = alice.get(f"/api/chatbot/sessions/{objects['chat']}/messages").json()["messages"]
    question = next(m for m in history if m["content"] == "hello from support")
    assert question["metadata"] == {"sent_by": "wes"}  # the owner sees who wrote it
