"""The message contract between the web side (views, consumers) and the MQTT worker.

Both sides speak only through the channel layer using these names and event shapes; nobody outside
portal/mqtt/client.py touches paho. Keeping every type string here means a typo is an import error,
not a message that silently goes nowhere.
"""

from __future__ import annotations

import re
from typing import Any

# Each worker receives on a channel of its own, named after its client id (worker_channel below): the channel
# layer is Redis pub/sub (a message reaches every subscriber of a channel, at once), so the web side chooses the
# worker for each request from the state the workers share (gateway.py) and sends it there.

# web -> worker
CHAT_REQUEST = "chat.request"  # publish a chat request and route its reply back
MQTT_PUBLISH = "mqtt.publish"  # fire-and-forget publish (maze state, templates, clear/delete)
CHAT_CANCEL = "chat.cancel"  # the waiter went away (client disconnected): stop waiting for it
CHAT_STOP = "chat.stop"  # a user stopped the answer: keep what was streamed, tell the LLM service to stop

# worker -> web
CHAT_QUEUED = "chat.queued"  # the worker holds it; earlier messages of its chat session are answered first
CHAT_ACCEPTED = "chat.accepted"  # the worker stored the question and published the request
CHAT_DELTA = "chat.delta"  # streamed text of an answer: a preview, replaced by the chat.reply
CHAT_REPLY = "chat.reply"  # the assistant's answer, already stored
CHAT_ERROR = "chat.error"  # a clear failure: see ERROR_* below
MAZE_HINT = "maze.hint"  # a hint for one maze game session

# chat.error codes, each with the HTTP status the API answers with.
ERROR_TIMEOUT = "timeout"  # no reply before the deadline -> 504
ERROR_UNAVAILABLE = "unavailable"  # no worker / broker / LLM -> 503
ERROR_BUSY = "busy"  # too many requests waiting -> 503
ERROR_LLM = "llm_error"  # the LLM service answered with an error -> 503
ERROR_SHUTDOWN = "shutdown"  # the worker is stopping -> 503
ERROR_RATE_LIMITED = "rate_limited"  # this user sent too much too fast -> 429
ERROR_GONE = "not_found"  # the chat session was deleted while the request was on its way -> 404
ERROR_SESSION_BUSY = "session_busy"  # too many messages of this chat session already wait -> 429
ERROR_STOPPED = "stopped"  # a user stopped it while it still waited for its turn (never sent) -> 409

HTTP_STATUS_FOR_ERROR = {
    ERROR_TIMEOUT: 504,
    ERROR_UNAVAILABLE: 503,
    ERROR_BUSY: 503,
    ERROR_LLM: 503,
    ERROR_SHUTDOWN: 503,
    ERROR_RATE_LIMITED: 429,
    ERROR_GONE: 404,
    ERROR_SESSION_BUSY: 429,
    ERROR_STOPPED: 409,
}

_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _group(prefix: str, key: str) -> str:
    # Channels group names allow only ASCII letters, digits, '-', '_' and '.', under 100 characters.
    return f"{prefix}.{_GROUP_UNSAFE.sub('_', key)}"[:99]


def worker_channel(client_id: str) -> str:
    """The channel one worker reads its requests from."""
    return _group("mqtt-worker", client_id)


def chat_group(session_key: str) -> str:
    """Every open chat socket of one session listens here."""
    return _group("chat", session_key)


def hint_group(session_key: str) -> str:
    """Every open maze socket of one game session listens here."""
    return _group("hint", session_key)


def chat_request_event(
    *,
    request_id: str,
    session_key: str,
    question: dict[str, Any],
    timeout: float,
    accept_by: float,
    reply_channel: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """A chat request. `question` ({"session_id", "content", "overrides"}) is the user's message and the sampling
    settings sent with it; on the request's turn the worker has the chat app store it and build the PROTOCOL.md
    fields from the session as it is then (settings.WORKER["CHAT_TURN_BEGIN"]).

    `accept_by` is a wall-clock deadline: a request still queued after it (its sender already gave up
    with a 503) is dropped by the worker instead of being published late.
    """
    return {
        "type": CHAT_REQUEST,
        "request_id": request_id,
        "session_key": session_key,
        "question": question,
        "timeout": timeout,
        "accept_by": accept_by,
        "reply_channel": reply_channel,
        "group": group,
    }


def publish_event(*, topic: str, payload: dict[str, Any], qos: int, retain: bool = False) -> dict[str, Any]:
    return {"type": MQTT_PUBLISH, "topic": topic, "payload": payload, "qos": qos, "retain": retain}


def cancel_event(*, request_id: str) -> dict[str, Any]:
    return {"type": CHAT_CANCEL, "request_id": request_id}


def stop_event(*, request_id: str, session_key: str) -> dict[str, Any]:
    """Stop the answer to `request_id`, which must belong to the chat session `session_key` (the sender's)."""
    return {"type": CHAT_STOP, "request_id": request_id, "session_key": session_key}


def delta_event(*, request_id: str, offset: int, delta: str) -> dict[str, Any]:
    """`delta` is the answer's text from `offset` on: a client showing `offset` characters appends it."""
    return {"type": CHAT_DELTA, "request_id": request_id, "offset": offset, "delta": delta}


def error_event(*, request_id: str | None, code: str, detail: str, retry_after: int | None = None) -> dict[str, Any]:
    event = {"type": CHAT_ERROR, "request_id": request_id, "code": code, "detail": detail}
    if retry_after is not None:
        event["retry_after"] = retry_after
    return event
