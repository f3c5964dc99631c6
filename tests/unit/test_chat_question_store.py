"""The worker's hook that stores the question of a request it accepts (chatbot/replies.py)."""
import pytest

from chatbot import services
from chatbot.models import ChatMessage
from chatbot.replies import store_user_question

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_question_is_stored_with_its_request_id_and_bumps_the_session(session):
    before = session.updated_at
    stored = store_user_question(session_id=session.id, content="hello", request_id="r1")
    assert stored["role"] == "user" and stored["content"] == "hello" and stored["request_id"] == "r1"
    session.refresh_from_db()
    assert session.updated_at >= before and session.updated_at.isoformat() == stored["created_at"]


def test_the_same_request_twice_stores_one_message(session):
    first = store_user_question(session_id=session.id, content="hello", request_id="r1")
    again = store_user_question(session_id=session.id, content="hello", request_id="r1")
    assert again["id"] == first["id"] and ChatMessage.objects.count() == 1


def test_a_deleted_session_stores_nothing(session):
    session_id = session.id
    session.delete()
    assert store_user_question(session_id=session_id, content="hello", request_id="r1") is None
    assert ChatMessage.objects.count() == 0


def test_a_reply_with_nul_characters_is_stored_without_them(session):
    from chatbot.replies import store_assistant_reply

    stored = store_assistant_reply(session_key=session.session_key, request_id="r1", text="a\x00b", is_error=False,
                                   metadata={"k\x00": ["v\x00"]})
    assert stored["message"]["content"] == "ab" and stored["message"]["metadata"] == {"k": ["v"]}


def test_many_questions_lock_their_sessions_in_id_order_before_updating_them(django_user_model):
    # Two workers' batches touching the same sessions must lock them in one order (else PostgreSQL deadlocks).
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner = django_user_model.objects.create_user("bob", password="pw-bob-123456")
    sessions = [services.session_create(owner=owner, preset="general") for _ in range(3)]
    questions = [{"session_id": s.id, "content": f"q{n}", "request_id": f"r{n}"} for n, s in enumerate(reversed(sessions))]
    with CaptureQueriesContext(connection) as queries:
        stored = services.user_messages_create(questions)
    assert [m.content for m in stored] == ["q0", "q1", "q2"] and all(m.pk for m in stored)
    statements = [q["sql"].upper() for q in queries.captured_queries]
    lock = next(i for i, sql in enumerate(statements) if "CHATBOT_CHATSESSION" in sql and sql.startswith("SELECT"))
    update = next(i for i, sql in enumerate(statements) if sql.startswith("UPDATE"))
    assert lock < update and "ORDER BY" in statements[lock]
    if connection.features.has_select_for_update:
        assert "FOR NO KEY UPDATE" in statements[lock]
    for s in sessions:
        s.refresh_from_db()
        assert s.updated_at == max(m.created_at for m in stored)
