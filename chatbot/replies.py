"""The worker's hooks into the chat app (settings.WORKER["CHAT_QUESTION_STORE"] and ["CHAT_REPLY_STORE"]): store
the user's message of a request the worker accepts, and the assistant's reply.

They run in the worker process on its one database thread, and return plain JSON so the worker can hand the
stored message to whoever waits without knowing chat models.
"""
from __future__ import annotations

import logging
from collections import OrderedDict

from django.db import IntegrityError

from portal.db import with_bulk_form

from .models import ChatMessage, ChatSession
from .serializers import message_json
from .services import assistant_message_store, assistant_messages_create, user_message_create, user_messages_create

log = logging.getLogger("chatbot.replies")

# session_key -> session id. A key never moves to another session (a reset makes a new key), so entries only go
# stale when a session is deleted, which the INSERT's foreign key then reports. Saves a query per reply.
_SESSION_IDS: OrderedDict[str, int] = OrderedDict()
SESSION_ID_CACHE_SIZE = 10_000


def _session_id(session_key: str) -> int | None:
    session_id = _SESSION_IDS.get(session_key)
    if session_id is not None:
        _SESSION_IDS.move_to_end(session_key)
        return session_id
    session_id = ChatSession.objects.filter(session_key=session_key).values_list("id", flat=True).first()
    if session_id is not None:
        _SESSION_IDS[session_key] = session_id
        if len(_SESSION_IDS) > SESSION_ID_CACHE_SIZE:
            _SESSION_IDS.popitem(last=False)
    return session_id


def _without_nul(value):
    """The LLM's text and metadata minus NUL characters, which PostgreSQL cannot store in text or JSON."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def _reply_row(*, session_key: str, request_id: str, text: str, is_error: bool, metadata: dict) -> dict | None:
    """The reply as assistant_message_store's arguments; None (logged) when its session is unknown or gone."""
    session_id = _session_id(session_key)
    if session_id is None:
        _log_dropped(request_id)
        return None
    return {"session_id": session_id, "request_id": request_id, "text": _without_nul(text), "is_error": is_error,
            "metadata": _without_nul(metadata)}


def _log_dropped(request_id: str) -> None:
    log.info("reply for unknown or deleted session dropped (request %s)", request_id or "-")


def store_assistant_replies(calls: list[dict]) -> list[dict | None]:
    """store_assistant_reply for many calls at once (its bulk form in the worker's batches)."""
    rows = [_reply_row(**call) for call in calls]
    stored = iter(assistant_messages_create([row for row in rows if row is not None]))
    return [None if row is None else {"message": message_json(next(stored)), "created": True} for row in rows]


def store_user_questions(calls: list[dict]) -> list[dict]:
    """store_user_question for many calls at once (its bulk form in the worker's batches)."""
    return [message_json(message) for message in user_messages_create(calls)]


@with_bulk_form(store_assistant_replies)
def store_assistant_reply(*, session_key: str, request_id: str, text: str, is_error: bool, metadata: dict) -> dict | None:
    row = _reply_row(session_key=session_key, request_id=request_id, text=text, is_error=is_error, metadata=metadata)
    if row is None:
        return None
    try:
        message, created = assistant_message_store(**row)
    except ChatSession.DoesNotExist:
        _SESSION_IDS.pop(session_key, None)
        _log_dropped(request_id)
        return None
    return {"message": message_json(message), "created": created}


@with_bulk_form(store_user_questions)
def store_user_question(*, session_id: int, content: str, request_id: str) -> dict | None:
    """The stored question's JSON; None when its session was deleted meanwhile."""
    try:
        return message_json(user_message_create(session_id=session_id, content=content, request_id=request_id))
    except IntegrityError:
        # The same request delivered twice finds its message stored; otherwise the session is gone.
        existing = ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
        return message_json(existing) if existing is not None else None
