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
    malformed: str | None = None  # why the payload could not be read as an answer (then `text` says so)


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
    """What a reply says; never raises. The worker calls it only for a reply it matched to a request, and such a
    reply is always delivered and stored (a user must never wait for a timeout because of its shape):

    - the deployed service's raw text is the answer (an `Error: ...` or overload text is an LLM error);
    - a JSON object's first non-empty `response`, `content` or `hint` is the answer, other fields its metadata;
      `error` (`Error`, `err`) makes it an LLM error;
    - a JSON object with none of those (a template asked the model to answer in JSON) is answered by the whole
      payload text, its parsed fields kept in the metadata under `json`;
    - an empty, undecodable or oversized payload is an LLM error saying so (`malformed` tells why).
    """
    try:
        text = decode_text(payload, max_bytes)
    except MalformedPayload as exc:
        return _unreadable(str(exc))
    if not text.strip():
        return _unreadable("empty reply")
    obj = _json_object(text)
    if obj is None:
        return ChatReply(text=text, is_error=is_llm_error_text(text))
    for key in ERROR_FIELDS:
        if isinstance(obj.get(key), str) and obj[key].strip():
            metadata = {k: v for k, v in obj.items() if k != key}
            return ChatReply(text=obj[key], is_error=True, metadata=metadata)
    for key in TEXT_FIELDS:
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            metadata = {k: v for k, v in obj.items() if k not in (key, *ERROR_FIELDS)}
            return ChatReply(text=value, is_error=is_llm_error_text(value), metadata=metadata)
    return ChatReply(text=text, metadata={"json": obj})


def _unreadable(reason: str) -> ChatReply:
    return ChatReply(
        text=f"The language model sent an answer that cannot be shown ({reason}).",
        is_error=True,
        metadata={"malformed": reason},
        malformed=reason,
    )


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


MAX_CHUNK_SEQ = 1_000_000


@dataclass(frozen=True)
class StreamChunk:
    request_id: str
    seq: int
    delta: str


def parse_stream_chunk(payload: bytes, max_bytes: int) -> StreamChunk:
    """`{"requestId", "seq", "delta"}` of docs/protocol.md "Streamed answers"; MalformedPayload for anything else."""
    obj = _json_object(decode_text(payload, max_bytes))
    if obj is None:
        raise MalformedPayload("stream chunk is not a JSON object")
    request_id, seq, delta = obj.get("requestId"), obj.get("seq"), obj.get("delta")
    if not isinstance(request_id, str) or not request_id:
        raise MalformedPayload("stream chunk without a requestId")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_CHUNK_SEQ:
        raise MalformedPayload("stream chunk seq must be an integer from 0")
    if not isinstance(delta, str):
        raise MalformedPayload("stream chunk delta must be text")
    return StreamChunk(request_id=request_id, seq=seq, delta=delta.replace("\x00", ""))
