"""Writes of chat objects. Plain sync functions; async callers wrap them with portal.db.run_db."""
from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from .models import ChatMessage, ChatSession, new_session_key
from .presets import DEFAULT_PRESET, PRESETS_BY_KEY


def session_create(*, owner, preset: str | None = None, **fields) -> ChatSession:
    base = PRESETS_BY_KEY.get(preset or "", DEFAULT_PRESET)
    values = {
        "title": base.title,
        "system_prompt": base.system_prompt,
        "temperature": base.temperature,
        "top_p": base.top_p,
        "max_tokens": base.max_tokens,
        **fields,
    }
    return ChatSession.objects.create(owner=owner, preset=base.key, **values)


def session_update(*, session: ChatSession, **fields) -> ChatSession:
    for name, value in fields.items():
        setattr(session, name, value)
    # Only these columns: the worker writes the llm_* ones meanwhile, and a stale copy must not undo that.
    session.save(update_fields=[*fields, "updated_at"])
    return session


@transaction.atomic
def session_reset(*, session: ChatSession) -> ChatSession:
    """Clear the history and forget the conversation on the LLM side.

    The LLM service keeps memory per sessionId and has no reset topic for chat (PROTOCOL.md), so a fresh LLM
    sessionId is what makes it start over. The session's own key (its sockets' group) stays.
    """
    session.messages.all().delete()
    session.llm_session_key = new_session_key()
    session.llm_system_prompt = None
    session.llm_open_request = ""
    session.save(update_fields=["llm_session_key", "llm_system_prompt", "llm_open_request", "updated_at"])
    return session


def session_delete(*, session: ChatSession) -> None:
    session.delete()


def new_request_id() -> str:
    return uuid.uuid4().hex


def effective_settings(session: ChatSession, overrides: dict) -> dict:
    """The system prompt and sampling settings a turn is sent with: its overrides, else the session's."""
    return {
        "system_prompt": overrides.get("system_prompt", session.system_prompt),
        "temperature": overrides.get("temperature", session.temperature),
        "top_p": overrides.get("top_p", session.top_p),
        "max_tokens": overrides.get("max_tokens", session.max_tokens),
    }


NEW_CONVERSATION_REASONS = {
    "prompt_changed": "system prompt changed",
    "answer_lost": "the previous answer did not arrive",
}


@transaction.atomic
def turn_begin(*, session_id: int, request_id: str, content: str, overrides: dict
               ) -> tuple[ChatSession, ChatMessage, ChatMessage | None] | None:
    """Store the user's message of a request whose turn it is, deciding which LLM conversation it goes to:
    (session, question, notice or None); None when the session is gone.

    The LLM service takes a session's system prompt only when it first sees its sessionId, so a turn whose prompt
    differs from the one the service holds starts a new conversation there (a new sessionId), marked in the
    history by a notice. So does a turn after one whose answer never came: the service may still be writing it
    into that conversation. Runs with the session's row locked, one turn per session at a time (the worker).
    """
    session = ChatSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        return None
    existing = session.messages.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
    if existing is not None:  # the same request delivered twice: it went out already
        return session, existing, None
    prompt = effective_settings(session, overrides)["system_prompt"]
    reason = None
    if session.llm_open_request:
        reason = "answer_lost"
    elif session.llm_system_prompt is not None and session.llm_system_prompt != prompt:
        reason = "prompt_changed"
    notice = None
    if reason is not None:
        session.llm_session_key = new_session_key()
        notice = ChatMessage.objects.create(
            session=session, role=ChatMessage.Role.NOTICE,
            content=f"New conversation with the model: {NEW_CONVERSATION_REASONS[reason]}.",
            metadata={"new_llm_conversation": reason},
        )
    question = ChatMessage.objects.create(session=session, role=ChatMessage.Role.USER, content=content,
                                          request_id=request_id)
    session.llm_system_prompt = prompt
    session.llm_open_request = request_id
    session.save(update_fields=["llm_session_key", "llm_system_prompt", "llm_open_request", "updated_at"])
    return session, question, notice


@transaction.atomic
def turn_cancel(*, request_id: str) -> None:
    """A question stored by turn_begin whose request could not be published: gone, as if never sent."""
    question = ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
    if question is None:
        return
    ChatSession.objects.filter(pk=question.session_id, llm_open_request=request_id).update(llm_open_request="")
    question.delete()


@transaction.atomic
def reply_store(*, request_id: str, text: str, is_error: bool, metadata: dict) -> tuple[ChatMessage, bool] | None:
    """Store the reply to a request once: (message, created); a duplicate returns the stored one. None when its
    question is not stored (never was, or its session was reset or deleted): no answer is kept without it."""
    question = ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
    if question is None:
        return None
    meta = dict(metadata)
    if is_error:
        meta["error"] = True
    try:
        with transaction.atomic():  # a savepoint: a duplicate undoes only its own INSERT
            message = ChatMessage.objects.create(session_id=question.session_id, role=ChatMessage.Role.ASSISTANT,
                                                 content=text, metadata=meta, request_id=request_id)
    except IntegrityError:
        return ChatMessage.objects.get(request_id=request_id, role=ChatMessage.Role.ASSISTANT), False
    ChatSession.objects.filter(pk=question.session_id).update(updated_at=message.created_at)
    ChatSession.objects.filter(pk=question.session_id, llm_open_request=request_id).update(llm_open_request="")
    return message, True
