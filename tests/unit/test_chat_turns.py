"""A chat turn in the database (chatbot/services.py): which LLM conversation a question goes to, one open request
per session, and replies stored once and only with their question."""

import pytest
from django.utils import timezone

from chatbot import services
from chatbot.models import ChatMessage, ChatSession

pytestmark = pytest.mark.django_db

HOLDER = "w1|token"


def begin(session, request_id, content="q", hold_for=45, gone=(), **overrides):
    return services.turn_begin(
        session_id=session.id,
        request_id=request_id,
        content=content,
        overrides=overrides,
        holder=HOLDER,
        hold_for=hold_for,
        gone=gone,
    )


def answer(session, request_id, text="a"):
    return services.reply_store(request_id=request_id, text=text, is_error=False, metadata={}, session_id=session.id)


def test_the_first_turn_keeps_the_conversation_and_records_the_prompt_the_service_got(session):
    fields, question, notice = begin(session, "r1")
    assert notice is None and question.content == "q"
    session.refresh_from_db()
    assert session.llm_system_prompt == session.system_prompt and session.llm_open_request == "r1"
    assert fields["llm_session_key"] == session.llm_session_key


def test_a_changed_prompt_starts_a_new_conversation_with_a_notice(session):
    begin(session, "r1")
    answer(session, "r1")
    first_key = ChatSession.objects.get(pk=session.pk).llm_session_key
    services.session_update(session=session, system_prompt="Be a pirate.")
    fields, _, notice = begin(session, "r2")
    assert notice.role == "notice" and "system prompt changed" in notice.content
    assert fields["llm_session_key"] != first_key and fields["llm_system_prompt"] == "Be a pirate."
    answer(session, "r2")
    _, _, again = begin(session, "r3")
    assert again is None  # same prompt, same conversation
    answer(session, "r3")
    fields, _, override = begin(session, "r4", system_prompt="Only this once.")
    assert override is not None and fields["llm_system_prompt"] == "Only this once."
    roles = list(ChatMessage.objects.filter(session=session).values_list("role", flat=True))
    assert roles == ["user", "assistant", "notice", "user", "assistant", "user", "assistant", "notice", "user"]


def test_one_open_request_per_session_and_a_lost_answer_starts_over(session):
    begin(session, "r1")
    with pytest.raises(services.TurnBusy) as busy:
        begin(session, "r2")
    assert busy.value.holder == f"{HOLDER}|r1"
    assert not ChatMessage.objects.filter(request_id="r2").exists()  # nothing stored while refused
    key = ChatSession.objects.get(pk=session.pk).llm_session_key
    fields, _, notice = begin(session, "r2", gone=(busy.value.holder,))  # its holder is gone
    assert "did not arrive" in notice.content and fields["llm_session_key"] != key


def test_an_open_request_past_its_time_counts_as_lost(session):
    begin(session, "r1", hold_for=0)
    ChatSession.objects.filter(pk=session.pk).update(llm_open_until=timezone.now())
    _, _, notice = begin(session, "r2")
    assert notice is not None and ChatSession.objects.get(pk=session.pk).llm_open_request == "r2"


def test_a_reply_closes_the_turn_once_and_a_late_or_orphan_reply_is_handled(session):
    begin(session, "r1")
    message, created = answer(session, "r1", "hello")
    assert created and message.content == "hello"
    assert ChatSession.objects.get(pk=session.pk).llm_open_request == ""
    again, created_again = answer(session, "r1", "hello")
    assert not created_again and again.pk == message.pk
    begin(session, "r2")
    late = services.reply_store(request_id="r2", text="late", is_error=False, metadata={})  # session not known
    assert late[1] and ChatSession.objects.get(pk=session.pk).llm_open_request == ""
    begin(session, "r3")
    services.session_reset(session=ChatSession.objects.get(pk=session.pk))
    assert answer(session, "r3") is None  # its question went with the reset: no answer without it
    assert not ChatMessage.objects.filter(session=session).exists()


def test_a_stopped_answer_is_kept_and_the_next_turn_goes_to_a_new_conversation(session):
    fields, _, _ = begin(session, "r1", hold_for=300)
    message, created = services.reply_store(
        request_id="r1", text="Half an", is_error=False, metadata={"stopped": True}, session_id=session.id
    )
    assert created and message.content == "Half an" and message.metadata == {"stopped": True}
    # The service may still be writing the stopped answer: the next turn must not overlap it, and need not wait.
    next_fields, _, notice = begin(session, "r2")
    assert notice is not None and "the previous answer was stopped" in notice.content
    assert next_fields["llm_session_key"] != fields["llm_session_key"]
    answer(session, "r2")
    _, _, again = begin(session, "r3")
    assert again is None
