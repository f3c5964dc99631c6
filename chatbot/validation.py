"""Validation of chat API input: one function per request shape, errors name the field."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from portal.http import InvalidInput, int_field, number_field, str_field

from .presets import PRESETS_BY_KEY

MAX_SYSTEM_PROMPT_CHARS = 20000
MAX_TITLE_CHARS = 200


def _sampling(data: dict) -> dict:
    values = {
        "system_prompt": str_field(data, "system_prompt", max_length=MAX_SYSTEM_PROMPT_CHARS),
        "temperature": number_field(data, "temperature", low=0.0, high=2.0),
        "top_p": number_field(data, "top_p", low=0.0, high=1.0),
        "max_tokens": int_field(data, "max_tokens", low=1, high=8192),
    }
    return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class MessagePost:
    session_id: int
    content: str
    overrides: dict


def message_post(data: dict) -> MessagePost:
    session_id = int_field(data, "session_id", low=1, high=2**63 - 1, required=True)
    content = str_field(data, "content", max_length=settings.CHAT_MAX_MESSAGE_CHARS, required=True, allow_blank=False)
    return MessagePost(session_id=session_id, content=content, overrides=_sampling(data))


def chat_content(data: dict) -> str:
    """The text of a chat message sent over the WebSocket."""
    return str_field(data, "content", max_length=settings.CHAT_MAX_MESSAGE_CHARS, required=True, allow_blank=False)


def session_create(data: dict) -> dict:
    preset_key = str_field(data, "preset", max_length=50)
    if preset_key and preset_key not in PRESETS_BY_KEY:
        raise InvalidInput(f"Unknown preset '{preset_key}'.", field="preset")
    values = _sampling(data)
    title = str_field(data, "title", max_length=MAX_TITLE_CHARS)
    if title:
        values["title"] = title
    template_id = int_field(data, "template_id", low=1, high=2**63 - 1)
    return {"preset": preset_key or None, "template_id": template_id, **values}


def session_update(data: dict) -> dict:
    values = _sampling(data)
    if "title" in data:
        # Sent means "change it": null is refused like an empty string (a session always has a title).
        values["title"] = str_field(data, "title", max_length=MAX_TITLE_CHARS, required=True, allow_blank=False)
    if not values:
        raise InvalidInput("Nothing to update: send title, system_prompt, temperature, top_p or max_tokens.")
    return values
