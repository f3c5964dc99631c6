"""Every endpoint that takes an object id, tried by its owner, another user, staff and an anonymous client.

Owner and staff reach the object to read it; writing into another user's object (a message, an edit, a reset,
a move) takes staff an explicit permission as well: without it 403 and nothing changes. Another user gets 404
exactly as for a missing id (so ids cannot be probed) and changes nothing; anonymous API calls get 401 JSON and
anonymous pages redirect to the login page.
The WebSocket routes get the same matrix against real daphne in tests/integration/test_ws_permissions.py.
"""

import json
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from django.test import Client

from accounts import tokens
from chatbot import services as chat_services
from chatbot.models import ChatMessage, ChatSession
from maze import services as maze_services
from maze.models import MazeGame
from prompts import services as prompt_services
from prompts.models import PromptTemplate

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class Objects:
    session: ChatSession
    template: PromptTemplate
    game: MazeGame
    token_id: int


@pytest.fixture
def users(django_user_model):
    return {
        "owner": django_user_model.objects.create_user("olive", password="pw-olive-123456"),
        "other": django_user_model.objects.create_user("oscar", password="pw-oscar-123456"),
        "staff": django_user_model.objects.create_user("sam", password="pw-sam-123456", is_staff=True),
        "staff_writer": _with_write_permissions(
            django_user_model.objects.create_user("wes", password="pw-wes-123456", is_staff=True)
        ),
    }


def _with_write_permissions(user):
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        *Permission.objects.filter(codename__in=("write_others_chats", "write_others_templates", "write_others_games"))
    )
    return user


@pytest.fixture
def objects(users):
    owner = users["owner"]
    session = chat_services.session_create(owner=owner, title="Olive's chat")
    chat_services.turn_begin(
        session_id=session.id, content="private words", request_id="r1", overrides={}, holder="test|token", hold_for=45
    )
    template = prompt_services.template_create(owner=owner, title="Olive's LAM", content="Secret strategy.")
    game, _ = maze_services.game_create(owner=owner, width=11, height=11, germs=2, mode="lam", template=template)
    token, _ = tokens.token_create(owner=owner, name="olive's script")
    return Objects(session=session, template=template, game=game, token_id=token.id)


# (name, method, path, JSON body or None, status codes that mean "reached") ------------------------------------
def cases(o: Objects):
    s, t, g = o.session.id, o.template.id, o.game.id
    return {
        "chat session get": ("GET", f"/api/chatbot/sessions/{s}", None, {200}),
        "chat session patch": ("PATCH", f"/api/chatbot/sessions/{s}", {"title": "renamed"}, {200}),
        "chat session delete": ("DELETE", f"/api/chatbot/sessions/{s}", None, {204}),
        "chat session reset": ("POST", f"/api/chatbot/sessions/{s}/reset", None, {200}),
        "chat messages list": ("GET", f"/api/chatbot/sessions/{s}/messages", None, {200}),
        "chat export": ("GET", f"/api/chatbot/sessions/{s}/export", None, {200}),
        # No worker runs in unit tests: reaching the session ends in 503 (not 404).
        "chat message send": ("POST", "/api/chatbot/messages", {"session_id": s, "content": "hi"}, {503}),
        "chat session from template": ("POST", "/api/chatbot/sessions", {"template_id": t}, {201}),
        "template get": ("GET", f"/api/templates/{t}", None, {200}),
        "template patch": ("PATCH", f"/api/templates/{t}", {"title": "renamed"}, {200}),
        "template delete": ("DELETE", f"/api/templates/{t}", None, {204}),
        "game get": ("GET", f"/api/maze/games/{g}", None, {200}),
        "game switch template": ("PATCH", f"/api/maze/games/{g}", {"template_id": None}, {200}),
        # An empty report is refused as invalid (400), which still shows the game was found.
        "game finish": ("POST", f"/api/maze/games/{g}/finish", {}, {400}),
        "game last hint": ("GET", f"/api/maze/last_hint?session_id={o.game.session_key}", None, {200}),
        "game from template": ("POST", "/api/maze/games", {"template_id": t}, {201}),
        "template page": ("GET", f"/templates/{t}/", None, {200}),
        "template edit page": ("GET", f"/templates/{t}/edit/", None, {200}),
        "template delete page": ("POST", f"/templates/{t}/delete/", None, {302}),
        "template versions": ("GET", f"/api/templates/{t}/versions", None, {200}),
        "template version": ("GET", f"/api/templates/{t}/versions/1", None, {200}),
        "template restore": ("POST", f"/api/templates/{t}/versions/1/restore", None, {200}),
        "template history page": ("GET", f"/templates/{t}/history/", None, {200}),
        "template version page": ("GET", f"/templates/{t}/history/1/", None, {200}),
        "template restore page": ("POST", f"/templates/{t}/history/1/restore/", None, {302}),
    }


_PLACEHOLDER = SimpleNamespace(id=1, session_key="k")
CASE_NAMES = list(cases(Objects(_PLACEHOLDER, _PLACEHOLDER, _PLACEHOLDER, 1)))
# What writes into the owner's object (the rest reads it, or makes the caller's own object from it).
WRITES = {
    "chat session patch",
    "chat session delete",
    "chat session reset",
    "chat message send",
    "template patch",
    "template delete",
    "game switch template",
    "game finish",
    "template edit page",
    "template delete page",
    "template restore",
    "template restore page",
}


def snapshot():
    """Everything another user could have changed."""
    return (
        list(ChatSession.objects.values_list("id", "title", "updated_at")),
        ChatMessage.objects.count(),
        list(PromptTemplate.objects.values_list("id", "title", "version")),
        list(MazeGame.objects.values_list("id", "template_id", "status")),
    )


def call(client, method, path, body):
    data = json.dumps(body) if body is not None else ""
    return client.generic(method, path, data, content_type="application/json")


@pytest.mark.parametrize("who", ["owner", "staff", "staff_writer"])
@pytest.mark.parametrize("name", CASE_NAMES)
def test_owner_and_staff_reach_it(name, who, users, objects, client):
    method, path, body, reached = cases(objects)[name]
    if who == "staff" and name in WRITES:
        return  # test_staff_write_only_with_the_permission
    client.force_login(users[who])
    response = call(client, method, path, body)
    assert response.status_code in reached, (response.status_code, response.content[:200])


@pytest.mark.parametrize("name", sorted(WRITES))
def test_staff_write_only_with_the_permission(name, users, objects, client):
    method, path, body, _ = cases(objects)[name]
    before = snapshot()
    client.force_login(users["staff"])
    response = call(client, method, path, body)
    assert response.status_code == 403
    if path.startswith("/api/"):
        assert "permission" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("name", CASE_NAMES)
def test_another_user_gets_404_and_changes_nothing(name, users, objects, client):
    method, path, body, _ = cases(objects)[name]
    before = snapshot()
    client.force_login(users["other"])
    response = call(client, method, path, body)
    assert response.status_code == 404
    if path.startswith("/api/"):
        assert response.json()["detail"]
    # And a missing id looks exactly the same.
    assert snapshot() == before


@pytest.mark.parametrize("name", CASE_NAMES)
def test_anonymous_is_refused(name, objects):
    method, path, body, _ = cases(objects)[name]
    before = snapshot()
    response = call(Client(), method, path, body)
    if path.startswith("/api/"):
        assert response.status_code == 401 and response.json()["detail"]
    else:
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert snapshot() == before


def test_a_missing_id_answers_like_someone_elses(users, objects, client):
    client.force_login(users["other"])
    theirs = client.get(f"/api/chatbot/sessions/{objects.session.id}")
    missing = client.get("/api/chatbot/sessions/999999")
    assert (theirs.status_code, theirs.json()) == (missing.status_code, missing.json())


def test_lists_show_only_your_own_even_for_staff(users, objects, client):
    for who in ("other", "staff"):
        client.force_login(users[who])
        assert client.get("/api/chatbot/sessions").json()["sessions"] == []
        assert client.get("/api/templates/").json()["templates"] == []
        assert "Olive" not in client.get("/templates/").content.decode()
    client.force_login(users["owner"])
    assert len(client.get("/api/chatbot/sessions").json()["sessions"]) == 1


def test_api_tokens_are_personal_even_for_staff(users, objects, client):
    for who in ("other", "staff"):
        client.force_login(users[who])
        assert client.delete(f"/api/tokens/{objects.token_id}").status_code == 404
        assert client.get("/api/tokens/").json()["tokens"] == []
    client.force_login(users["owner"])
    assert client.delete(f"/api/tokens/{objects.token_id}").status_code == 204


def test_leaderboard_shows_template_titles_but_never_their_content(users, objects, client):
    client.force_login(users["other"])
    body = client.get("/api/leaderboard/").content.decode()
    assert "Secret strategy." not in body
