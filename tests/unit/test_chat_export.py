"""GET /api/chatbot/sessions/<id>/export: a chat's settings and whole history as a JSON file to download."""

import json

import pytest

from chatbot import services
from chatbot.models import ChatMessage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat(alice):
    session = services.session_create(
        owner=alice, title="Maze bench: ünïcode", system_prompt="Be terse.", temperature=0.2, top_p=0.5, max_tokens=64
    )
    for role, content in [("user", "hi"), ("assistant", "**hello**"), ("notice", "New conversation"), ("user", "more")]:
        ChatMessage.objects.create(session=session, role=role, content=content)
    return session


def test_the_owner_downloads_settings_and_the_whole_history_in_order(client, alice, chat):
    # More than the 500 the messages endpoint shows: an export holds everything.
    ChatMessage.objects.bulk_create(
        ChatMessage(session=chat, role="user", content=f"bulk {i}", request_id="") for i in range(510)
    )
    client.force_login(alice)
    response = client.get(f"/api/chatbot/sessions/{chat.id}/export")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="chat-{chat.id}-maze-bench-unicode.json"'
    assert "no-store" in response["Cache-Control"]
    body = json.loads(response.content)
    assert body["format"] == "prompt-portal-chat/1" and body["exported_at"]
    assert body["session"] == {
        "id": chat.id,
        "title": "Maze bench: ünïcode",
        "preset": "general",
        "system_prompt": "Be terse.",
        "temperature": 0.2,
        "top_p": 0.5,
        "max_tokens": 64,
        "created_at": body["session"]["created_at"],
        "updated_at": body["session"]["updated_at"],
    }
    assert "session_key" not in body["session"] and "llm_session_key" not in body["session"]
    messages = body["messages"]
    assert len(messages) == 514
    assert [(m["role"], m["content"]) for m in messages[:4]] == [
        ("user", "hi"),
        ("assistant", "**hello**"),
        ("notice", "New conversation"),
        ("user", "more"),
    ]
    assert messages[-1]["content"] == "bulk 509"
    assert set(messages[0]) == {"id", "role", "content", "metadata", "request_id", "created_at"}


def test_a_title_without_letters_still_gives_a_file_name(client, alice):
    session = services.session_create(owner=alice, title="???")
    client.force_login(alice)
    response = client.get(f"/api/chatbot/sessions/{session.id}/export")
    assert response["Content-Disposition"] == f'attachment; filename="chat-{session.id}.json"'
    assert json.loads(response.content)["messages"] == []


def test_only_get_and_a_missing_session_is_a_json_404(client, alice, chat):
    client.force_login(alice)
    response = client.post(f"/api/chatbot/sessions/{chat.id}/export")
    assert response.status_code == 405 and response["Allow"] == "GET"
    response = client.get("/api/chatbot/sessions/999999/export")
    assert response.status_code == 404 and response.json()["detail"]
    assert "Content-Disposition" not in response
