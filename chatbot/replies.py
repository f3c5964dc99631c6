"""The worker's hooks into the chat app (settings.WORKER["HOOKS"], portal.mqtt.engine.EngineHooks): begin a turn
(store the question, say what to send the LLM), undo one that could not be sent, store a reply.

They run in the worker process, off its event loop, and return plain JSON so the worker can hand the stored
messages to whoever waits without knowing chat models.
"""

from __future__ import annotations

from . import services
from .serializers import message_json


def _without_nul(value):
    """The LLM's text and metadata minus NUL characters, which PostgreSQL cannot store in text or JSON."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    return value


def begin_chat_turn(
    *, question: dict, request_id: str, holder: str, hold_for: float, gone: tuple[str, ...] = ()
) -> dict | None:
    """{"payload": the PROTOCOL.md request fields, "user_message", "notice"}; {"busy": holder} while another
    request of the session is open; None when the session is gone (see services.turn_begin). `question` is what
    the web side sent (chat_flow.py): session_id, content, overrides, and sent_by when staff write into another
    user's chat.

    The fields come from the session as it is now (not as a socket last saw it): the system prompt and sampling
    settings in effect reach the model on every turn."""
    overrides = dict(question.get("overrides") or {})
    try:
        begun = services.turn_begin(
            session_id=int(question["session_id"]),
            request_id=request_id,
            content=str(question["content"]),
            overrides=overrides,
            holder=holder,
            hold_for=hold_for,
            gone=gone,
            sent_by=question.get("sent_by"),
        )
    except services.TurnBusy as busy:
        return {"busy": busy.holder}
    if begun is None:
        return None
    session, question, notice = begun
    settings = services.effective_settings(session, overrides)
    return {
        "payload": {
            "sessionId": session["llm_session_key"],
            "message": question.content,
            "systemPrompt": settings["system_prompt"],
            "temperature": settings["temperature"],
            "topP": settings["top_p"],
            "maxTokens": settings["max_tokens"],
        },
        "user_message": message_json(question),
        "notice": message_json(notice) if notice is not None else None,
    }


def cancel_chat_turn(*, request_id: str) -> None:
    services.turn_cancel(request_id=request_id)


def store_chat_reply(
    *, request_id: str, text: str, is_error: bool, metadata: dict, session_id: int | None = None
) -> dict | None:
    stored = services.reply_store(
        request_id=request_id,
        text=_without_nul(text),
        is_error=is_error,
        metadata=_without_nul(metadata),
        session_id=session_id,
    )
    if stored is None:
        return None
    message, created = stored
    return {"message": message_json(message), "created": created}
