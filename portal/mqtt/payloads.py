"""Pure decoding of what the LLM service publishes (PROTOCOL.md "Chat reply", "Maze hint", status)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

OVERLOADED_TEXT = "Server is overloaded. Please try again in a moment."
TEXT_FIELDS = ("response", "content", "hint")
ERROR_FIELDS = ("error", "Error", "err")


class MalformedPayload(ValueError):
    """The payload cannot be used; the message names what is wrong (logged with the topic)."""


@dataclass(frozen=True)
class ChatReply:
    text: str
    is_error: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def decode_text(payload: bytes, max_bytes: int) -> str:
    if len(payload) > max_bytes:
        raise MalformedPayload(f"payload of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"payload is not UTF-8 ({exc.reason} at byte {exc.start})") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _json_object(text: str) -> dict[str, Any] | None:
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        # Strict JSON only: Python would accept NaN and Infinity, which the database's JSON columns and the
        # browsers' JSON.parse refuse; such a payload is treated as the text it is.
        value = json.loads(stripped, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def is_llm_error_text(text: str) -> bool:
    return text.startswith("Error: ") or text.strip() == OVERLOADED_TEXT


def parse_chat_reply(payload: bytes, max_bytes: int) -> ChatReply:
    """Accept the deployed service's raw text and other services' JSON objects alike."""
    text = decode_text(payload, max_bytes)
    obj = _json_object(text)
    if obj is None:
        if not text.strip():
            raise MalformedPayload("empty reply")
        return ChatReply(text=text, is_error=is_llm_error_text(text))
    for key in ERROR_FIELDS:
        if isinstance(obj.get(key), str) and obj[key].strip():
            metadata = {k: v for k, v in obj.items() if k != key}
            return ChatReply(text=obj[key], is_error=True, metadata=metadata)
    for key in TEXT_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            metadata = {k: v for k, v in obj.items() if k != key}
            return ChatReply(text=value, is_error=is_llm_error_text(value), metadata=metadata)
    raise MalformedPayload("JSON reply has no non-empty response, content or hint")


@dataclass(frozen=True)
class ServiceStatus:
    service: str
    online: bool
    ts: float | None


def parse_status(payload: bytes, max_bytes: int) -> ServiceStatus:
    obj = _json_object(decode_text(payload, max_bytes))
    if obj is None:
        raise MalformedPayload("status is not a JSON object")
    status = obj.get("status")
    if status not in ("online", "offline"):
        raise MalformedPayload("status must be 'online' or 'offline'")
    return ServiceStatus(service=str(obj.get("service", "")), online=status == "online", ts=_timestamp(obj.get("ts")))


def _timestamp(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)  # an integer of 400 digits does not fit: no timestamp, not a crash
    except OverflowError:
        return None


def parse_hint(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """A hint is a JSON object; non-JSON text is kept as `raw`, error spellings are normalised to `error`."""
    text = decode_text(payload, max_bytes)
    obj = _json_object(text)
    if obj is None:
        return {"raw": text}
    for key in ERROR_FIELDS[1:]:
        if key in obj and "error" not in obj:
            obj["error"] = obj.pop(key)
    return obj
