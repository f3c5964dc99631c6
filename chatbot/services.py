"""Writes of chat objects. Plain sync functions; async callers wrap them with portal.db.run_db."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

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


# No request of the session is open (sent, its reply not come): what a reply, a reset or a cancel leaves behind.
NOTHING_OPEN = {"llm_open_request": "", "llm_open_holder": "", "llm_open_until": None}
# A stopped answer leaves its request open but expired, held by this marker: the service may still be writing it
# (the deployed one knows no cancel), so the next turn must not overlap it under the same sessionId.
STOPPED_HOLDER = "stopped"


@transaction.atomic
def session_reset(*, session: ChatSession) -> ChatSession:
    """Clear the history and forget the conversation on the LLM side.

    The LLM service keeps memory per sessionId and has no reset topic for chat (PROTOCOL.md), so a fresh LLM
    sessionId is what makes it start over. The session's own key (its sockets' group) stays.
    """
    session.messages.all().delete()
    session.llm_session_key = new_session_key()
    session.llm_system_prompt = None
    for name, value in NOTHING_OPEN.items():
        setattr(session, name, value)
    session.save(update_fields=["llm_session_key", "llm_system_prompt", *NOTHING_OPEN, "updated_at"])
    return session


def session_delete(*, session: ChatSession) -> None:
    session.delete()


def new_request_id() -> str:
    return uuid.uuid4().hex


def effective_settings(session: dict, overrides: dict) -> dict:
    """The system prompt and sampling settings a turn is sent with: its overrides, else the session's."""
    return {
        name: overrides.get(name, session[name]) for name in ("system_prompt", "temperature", "top_p", "max_tokens")
    }


NEW_CONVERSATION_REASONS = {
    "prompt_changed": "system prompt changed",
    "answer_lost": "the previous answer did not arrive",
    "answer_stopped": "the previous answer was stopped",
}


class TurnBusy(Exception):
    """Another request of the session is open (in flight, held by a worker that may still get its reply)."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder  # "<client id>|<process token>|<request id>"


def turn_begin(
    *,
    session_id: int,
    request_id: str,
    content: str,
    overrides: dict,
    holder: str,
    hold_for: float,
    gone: tuple[str, ...] = (),
    sent_by: str | None = None,
) -> tuple[dict, ChatMessage, ChatMessage | None] | None:
    """Open the session's turn for this request and store its question, deciding which LLM conversation it goes to:
    (the session's LLM fields and settings as of now, question, notice or None); None when the session is gone.

    One request per session is open at a time, across workers: while another is (its holder may still get its
    reply: until its `llm_open_until`, and not listed in `gone`), TurnBusy names it and nothing is stored. This
    request is then held by `holder` ("<client id>|<process token>") for `hold_for` seconds. `sent_by` names a staff
    member who wrote into another user's chat (kept with the question, shown in the history).

    The LLM service takes a session's system prompt only when it first sees its sessionId, so a turn whose prompt
    differs from the one the service holds starts a new conversation there (a new sessionId), marked in the
    history by a notice. So does a turn after one whose answer never came: the service may still be writing it
    into that conversation.
    """
    try:
        return _turn_begin(session_id, request_id, content, overrides, holder, hold_for, gone, sent_by)
    except IntegrityError:
        # The same request delivered twice: its question went out already (the unique request id says so).
        existing = ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
        if existing is None:
            raise
        return {name: getattr(existing.session, name) for name in _TURN_FIELDS}, existing, None


_TURN_FIELDS = (
    "system_prompt",
    "temperature",
    "top_p",
    "max_tokens",
    "llm_session_key",
    "llm_system_prompt",
    "llm_open_request",
    "llm_open_holder",
    "llm_open_until",
)


@transaction.atomic
def _turn_begin(session_id, request_id, content, overrides, holder, hold_for, gone, sent_by):
    # Plain values, not a model instance: this runs on every chat turn, and only these columns matter here. The
    # row stays locked to the end of the transaction (PostgreSQL; SQLite's writes are serialized anyway).
    session = ChatSession.objects.select_for_update().filter(pk=session_id).values(*_TURN_FIELDS).first()
    if session is None:
        return None
    now = timezone.now()
    reason = None
    if session["llm_open_request"]:
        open_holder = f"{session['llm_open_holder']}|{session['llm_open_request']}"
        if session["llm_open_until"] is not None and session["llm_open_until"] > now and open_holder not in gone:
            raise TurnBusy(open_holder)
        reason = "answer_stopped" if session["llm_open_holder"] == STOPPED_HOLDER else "answer_lost"
    prompt = overrides.get("system_prompt", session["system_prompt"])
    if reason is None and session["llm_system_prompt"] is not None and session["llm_system_prompt"] != prompt:
        reason = "prompt_changed"
    notice = None
    if reason is not None:
        session["llm_session_key"] = new_session_key()
        notice = ChatMessage.objects.create(
            session_id=session_id,
            role=ChatMessage.Role.NOTICE,
            content=f"New conversation with the model: {NEW_CONVERSATION_REASONS[reason]}.",
            metadata={"new_llm_conversation": reason},
        )
    question = ChatMessage.objects.create(
        session_id=session_id,
        role=ChatMessage.Role.USER,
        content=content,
        request_id=request_id,
        metadata={"sent_by": sent_by} if sent_by else {},
    )
    opened = {
        "llm_open_request": request_id,
        "llm_open_holder": holder,
        "llm_open_until": now + timedelta(seconds=hold_for),
    }
    session.update(opened, llm_system_prompt=prompt)
    # One UPDATE of the columns the worker owns (a PATCH meanwhile writes only its own).
    ChatSession.objects.filter(pk=session_id).update(
        llm_session_key=session["llm_session_key"], llm_system_prompt=prompt, updated_at=question.created_at, **opened
    )
    return session, question, notice


@transaction.atomic
def turn_cancel(*, request_id: str) -> None:
    """A question stored by turn_begin whose request could not be published: gone, as if never sent."""
    question = ChatMessage.objects.filter(request_id=request_id, role=ChatMessage.Role.USER).first()
    if question is None:
        return
    ChatSession.objects.filter(pk=question.session_id, llm_open_request=request_id).update(**NOTHING_OPEN)
    question.delete()


def reply_store(
    *, request_id: str, text: str, is_error: bool, metadata: dict, session_id: int | None = None
) -> tuple[ChatMessage, bool] | None:
    """Store the reply to a request once: (message, created); a duplicate returns the stored one. None when its
    question is not stored (never was, or its session was reset or deleted): no answer is kept without it.

    `session_id`, when the caller knows it, allows the common case in two statements: the reply to the session's
    open request (its question is there, unanswered: turn_begin said so, and a reset or a later turn would have
    changed it) closes the turn and is stored without looking its question up."""
    meta = dict(metadata)
    if is_error:
        meta["error"] = True
    try:
        return _reply_store(request_id, text, meta, session_id)
    except IntegrityError:  # a copy stored between our look and our INSERT
        return ChatMessage.objects.get(request_id=request_id, role=ChatMessage.Role.ASSISTANT), False


@transaction.atomic
def _reply_store(request_id, text, meta, session_id):
    closed = NOTHING_OPEN
    if meta.get("stopped"):
        closed = {"llm_open_holder": STOPPED_HOLDER, "llm_open_until": timezone.now()}
    if session_id is None or not ChatSession.objects.filter(pk=session_id, llm_open_request=request_id).update(
        **closed
    ):
        # Late, duplicated, or after a reset: one look at the request's messages decides.
        stored = {
            role: (pk, sid)
            for role, pk, sid in ChatMessage.objects.filter(request_id=request_id)
            .order_by()
            .values_list("role", "pk", "session_id")
        }
        if ChatMessage.Role.ASSISTANT in stored:
            return ChatMessage.objects.get(pk=stored[ChatMessage.Role.ASSISTANT][0]), False
        if ChatMessage.Role.USER not in stored:
            return None
        session_id = stored[ChatMessage.Role.USER][1]
        ChatSession.objects.filter(pk=session_id, llm_open_request=request_id).update(**closed)
    message = ChatMessage.objects.create(
        session_id=session_id, role=ChatMessage.Role.ASSISTANT, content=text, metadata=meta, request_id=request_id
    )
    return message, True
