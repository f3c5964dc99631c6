"""JSON shapes of chat objects, shared by the API, the WebSocket and the worker's reply events."""

from collections.abc import Iterable

from django.utils import timezone
from django.utils.text import slugify

from .models import ChatMessage, ChatSession

EXPORT_FORMAT = "prompt-portal-chat/1"


def session_json(session: ChatSession) -> dict:
    return {
        "id": session.id,
        "session_key": session.session_key,
        "llm_session_key": session.llm_session_key,  # the LLM service's conversation; new ones get a notice
        "title": session.title,
        "preset": session.preset,
        "system_prompt": session.system_prompt,
        "temperature": session.temperature,
        "top_p": session.top_p,
        "max_tokens": session.max_tokens,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
    }


def message_json(message: ChatMessage) -> dict:
    return {
        "id": message.id,
        "role": message.role,
        "content": message.content,
        "metadata": message.metadata,
        "request_id": message.request_id,
        "created_at": message.created_at.isoformat(),
    }


def session_settings_json(session: ChatSession) -> dict:
    """What an exported chat says about its session: its settings, not its keys (a file gets passed around)."""
    return {
        "id": session.id,
        "title": session.title,
        "preset": session.preset,
        "system_prompt": session.system_prompt,
        "temperature": session.temperature,
        "top_p": session.top_p,
        "max_tokens": session.max_tokens,
        "created_at": session.created_at.isoformat(),
        "updated_at": session.updated_at.isoformat(),
    }


def session_export_json(session: ChatSession, messages: Iterable[ChatMessage]) -> dict:
    return {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now().isoformat(),
        "session": session_settings_json(session),
        "messages": [message_json(m) for m in messages],
    }


def export_filename(session: ChatSession) -> str:
    # slugify leaves ASCII letters, digits and dashes only: safe inside the quoted Content-Disposition filename.
    slug = slugify(session.title)[:60].strip("-")
    return f"chat-{session.id}-{slug}.json" if slug else f"chat-{session.id}.json"
