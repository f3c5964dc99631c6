"""The worker's hook into the chat app (settings.WORKER["CHAT_REPLY_STORE"]): store an assistant reply.

It runs in the worker process, off the MQTT thread, and returns plain JSON so the worker can hand the stored
message to whoever waits without knowing chat models.
"""
from __future__ import annotations

import logging

from .models import ChatSession
from .serializers import message_json
from .services import assistant_message_store

log = logging.getLogger("chatbot.replies")


def store_assistant_reply(*, session_key: str, request_id: str, text: str, is_error: bool, metadata: dict) -> dict | None:
    session = ChatSession.objects.filter(session_key=session_key).first()
    if session is None:
        log.info("reply for unknown or deleted session dropped (request %s)", request_id or "-")
        return None
    message, created = assistant_message_store(
        session=session, request_id=request_id, text=text, is_error=is_error, metadata=metadata
    )
    return {"message": message_json(message), "created": created}
