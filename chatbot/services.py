"""Writes of chat objects. Plain sync functions; async callers wrap them with portal.db.run_db."""
from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction

from portal.fast_writes import insert_row, insert_rows, update_columns

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
    session.save()
    return session


@transaction.atomic
def session_reset(*, session: ChatSession) -> ChatSession:
    """Clear the history and forget the conversation on the LLM side.

    The LLM service keeps memory per sessionId and has no reset topic for chat (PROTOCOL.md), so a fresh
    session key is what makes it start over.
    """
    session.messages.all().delete()
    session.session_key = new_session_key()
    session.save()
    return session


def session_delete(*, session: ChatSession) -> None:
    session.delete()


def new_request_id() -> str:
    return uuid.uuid4().hex


def user_message_create(*, session_id: int, content: str, request_id: str) -> ChatMessage:
    """Store a user's message (the worker does, when it accepts the request; see chatbot/replies.py).

    Raises IntegrityError when the session was deleted (its foreign key fails at commit).
    """
    # One transaction: one commit (one WAL write with SQLite) instead of one per statement. Both statements skip
    # the ORM's compiler (portal/fast_writes.py): this runs on every chat turn.
    with transaction.atomic():
        message = insert_row(ChatMessage(
            session_id=session_id, role=ChatMessage.Role.USER, content=content, request_id=request_id
        ))
        update_columns(ChatSession, session_id, updated_at=message.created_at)
    return message


@transaction.atomic
def user_messages_create(questions: list[dict]) -> list[ChatMessage]:
    """Many users' messages at once (the worker's batches, see chatbot/replies.py): one INSERT for all of them
    and one UPDATE of their sessions' activity time. Raises IntegrityError when one was stored already."""
    messages = insert_rows([
        ChatMessage(session_id=q["session_id"], role=ChatMessage.Role.USER, content=q["content"],
                    request_id=q["request_id"])
        for q in questions
    ])
    _require_ids(messages)
    sessions = ChatSession.objects.filter(pk__in={m.session_id for m in messages})
    # Lock the sessions in id order first (PostgreSQL; a no-op on SQLite): an UPDATE of many rows locks them in
    # whatever order its plan visits them, and two workers' batches locking in different orders would deadlock.
    list(sessions.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))
    sessions.update(updated_at=max(m.created_at for m in messages))
    return messages


def _assistant_message(*, session_id: int, request_id: str, text: str, is_error: bool, metadata: dict) -> ChatMessage:
    meta = dict(metadata)
    if is_error:
        meta["error"] = True
    return ChatMessage(session_id=session_id, role=ChatMessage.Role.ASSISTANT, content=text, metadata=meta,
                       request_id=request_id)


def assistant_messages_create(replies: list[dict]) -> list[ChatMessage]:
    """Many replies at once, one INSERT (the worker's batches). Raises IntegrityError when one was stored
    already: then each goes through assistant_message_store, which tells a duplicate from a new reply."""
    messages = insert_rows([_assistant_message(**reply) for reply in replies])
    _require_ids(messages)
    return messages


def _require_ids(messages: list[ChatMessage]) -> None:
    """A bulk insert on a database that cannot return the new ids: refused, so the caller stores one by one."""
    if any(message.pk is None for message in messages):
        raise IntegrityError("bulk insert returned no ids")


def assistant_message_store(
    *, session: ChatSession | None = None, session_id: int | None = None, request_id: str, text: str,
    is_error: bool, metadata: dict,
) -> tuple[ChatMessage, bool]:
    """Store a reply once per request id; (message, created). A duplicate returns the stored one.

    One INSERT on the happy path (this runs on every reply, in the worker): the unique constraint on
    (request_id, role), not a prior SELECT, finds duplicates. Raises ChatSession.DoesNotExist when the
    session was deleted meanwhile.
    """
    sid = session_id if session_id is not None else session.pk
    try:
        # Its own savepoint when the worker runs this inside a batch's transaction (portal.db.DbBatcher): a
        # failed INSERT then undoes only itself, and the duplicate lookup below can still run.
        with transaction.atomic():
            message = insert_row(_assistant_message(session_id=sid, request_id=request_id, text=text,
                                                    is_error=is_error, metadata=metadata))
    except IntegrityError:
        existing = (ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.ASSISTANT).first()
                    if request_id else None)
        if existing is None:  # not a duplicate, so the foreign key failed: the session is gone
            raise ChatSession.DoesNotExist(f"chat session {sid} no longer exists") from None
        return existing, False
    return message, True
