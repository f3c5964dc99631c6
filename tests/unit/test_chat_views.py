"""Chat API behaviour that needs no worker: validation, ownership, and 503 when no worker can be reached."""

import json

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from chatbot import services
from chatbot.models import ChatMessage, ChatSession

pytestmark = pytest.mark.django_db(transaction=True)


def test_session_api_is_scoped_to_the_owner(client, alice, bob):
    session = services.session_create(owner=alice, preset="general")
    client.force_login(bob)
    assert client.get(f"/api/chatbot/sessions/{session.id}").status_code == 404
    assert client.get("/api/chatbot/sessions").json() == {"sessions": []}
    client.force_login(alice)
    assert client.get(f"/api/chatbot/sessions/{session.id}").json()["session_key"] == session.session_key


def test_anonymous_api_gets_401_json(client):
    response = client.get("/api/chatbot/sessions")
    assert response.status_code == 401 and response.json()["detail"]


def test_wrong_method_is_405_json(client, alice):
    client.force_login(alice)
    response = client.put("/api/chatbot/presets")
    assert response.status_code == 405 and response["Allow"] == "GET"


def test_unknown_preset_and_bad_patch(client, alice):
    client.force_login(alice)
    response = client.post("/api/chatbot/sessions", {"preset": "nope"}, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "preset"
    session = services.session_create(owner=alice)
    response = client.patch(f"/api/chatbot/sessions/{session.id}", {}, content_type="application/json")
    assert response.status_code == 400
    response = client.patch(f"/api/chatbot/sessions/{session.id}", {"title": None}, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "title"
    session.refresh_from_db()
    assert session.title  # unchanged


def test_oversized_body_is_413(client, alice):
    client.force_login(alice)
    response = client.post("/api/chatbot/sessions", {"title": "x" * 70000}, content_type="application/json")
    assert response.status_code == 413


def test_message_without_a_reachable_worker_is_503_and_stores_nothing(alice):
    session = services.session_create(owner=alice)
    client = AsyncClient()
    client.force_login(alice)
    response = async_to_sync(client.post)(
        "/api/chatbot/messages",
        json.dumps({"session_id": session.id, "content": "hi"}),
        content_type="application/json",
    )
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["code"] == "unavailable"
    assert ChatMessage.objects.filter(session=session).count() == 0


def test_assistant_reply_is_stored_once_per_request(alice):
    session = services.session_create(owner=alice)
    services.turn_begin(
        session_id=session.id, request_id="r1", content="q", overrides={}, holder="test|token", hold_for=45
    )
    first, created = services.reply_store(request_id="r1", text="a", is_error=False, metadata={})
    again, created_again = services.reply_store(request_id="r1", text="a", is_error=False, metadata={})
    assert created and not created_again and first.id == again.id
    assert ChatMessage.objects.filter(session=session, role="assistant").count() == 1


def test_a_reply_without_its_question_is_not_kept(alice):
    services.session_create(owner=alice)
    assert services.reply_store(request_id="nobody-asked", text="a", is_error=False, metadata={}) is None
    assert ChatMessage.objects.count() == 0


def test_reset_starts_a_new_llm_conversation_and_clears_messages(alice):
    session = services.session_create(owner=alice)
    services.turn_begin(
        session_id=session.id, content="hi", request_id="r1", overrides={}, holder="test|token", hold_for=45
    )
    old_key, old_llm_key = session.session_key, ChatSession.objects.get(pk=session.pk).llm_session_key
    services.session_reset(session=session)
    session.refresh_from_db()
    assert session.llm_session_key != old_llm_key and session.messages.count() == 0
    assert session.session_key == old_key  # its sockets' group stays
    assert session.llm_system_prompt is None and session.llm_open_request == ""


@pytest.mark.parametrize(
    "body, status",
    [
        ({"content": ""}, 400),
        ({"content": 42}, 400),
        ({"content": "hi", "temperature": "hot"}, 400),
        ({"content": "hi", "max_tokens": -1}, 400),
        ({"content": "x" * 70_000}, 413),
    ],
)
def test_refused_messages_leave_nothing_behind(alice, body, status):
    session = services.session_create(owner=alice, system_prompt="be brief")
    before = (ChatSession.objects.values().get(id=session.id), ChatMessage.objects.count())
    client = AsyncClient()
    client.force_login(alice)
    response = async_to_sync(client.post)(
        "/api/chatbot/messages", json.dumps({"session_id": session.id, **body}), content_type="application/json"
    )
    assert response.status_code == status and response.json()["detail"]
    assert (ChatSession.objects.values().get(id=session.id), ChatMessage.objects.count()) == before


def post_message(client, body):
    return async_to_sync(client.post)("/api/chatbot/messages", json.dumps(body), content_type="application/json")


def test_a_chat_message_is_refused_in_order_anonymous_then_invalid_then_not_yours(alice, django_user_model):
    session = services.session_create(owner=alice)
    anonymous = AsyncClient()
    response = post_message(anonymous, {"session_id": "nope"})
    assert response.status_code == 401  # not 400: a stranger learns nothing about the body's checks
    bob = AsyncClient()
    bob.force_login(django_user_model.objects.create_user("bob", password="pw-bob-123456"))
    assert post_message(bob, {"session_id": session.id}).status_code == 400  # no content
    response = post_message(bob, {"session_id": session.id, "content": "hi"})
    assert response.status_code == 404 and response.json()["detail"]  # alice's session is not bob's to find
    response = async_to_sync(bob.get)("/api/chatbot/messages")
    assert response.status_code == 405 and response["Allow"] == "POST"
