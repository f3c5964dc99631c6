"""JSON shapes of chat objects, shared by the API, the WebSocket and the worker's reply events."""

from .models import ChatMessage, ChatSession


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
