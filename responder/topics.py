"""Pure topic logic of PROTOCOL.md: where a reply goes and which session a topic names."""

from __future__ import annotations

CHAT_PROJECT = "prompt_portal"
MAZE_PROJECT = "maze"

# Fixed by PROTOCOL.md (not configurable in the deployed service).
CLEAR_HISTORY_BASE = "maze/clear_history"
DELETE_SESSION_BASE = "maze/delete_session"

_FORBIDDEN_IN_SESSION = ("/", "+", "#", "\x00")
MAX_SESSION_ID_LENGTH = 256


def base_of(topic_filter: str) -> str:
    """`maze/hint/+` -> `maze/hint`: the base a per-session topic hangs under."""
    for suffix in ("/+", "/#"):
        if topic_filter.endswith(suffix):
            return topic_filter[: -len(suffix)]
    return topic_filter.rstrip("/")


def valid_session_id(value: object) -> str | None:
    """The session id as a topic segment, or None when it cannot be one (not text, empty, wildcard, slash)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value or len(value) > MAX_SESSION_ID_LENGTH:
        return None
    if any(ch in value for ch in _FORBIDDEN_IN_SESSION):
        return None
    return value


def valid_reply_topic(topic: object, base: str) -> bool:
    """A requested reply topic is honoured when it is `<base>/<session>[/...]` without wildcards."""
    if not isinstance(topic, str) or not topic.startswith(base + "/"):
        return False
    if "+" in topic or "#" in topic or "\x00" in topic:
        return False
    return topic[len(base) + 1 :].split("/", 1)[0] != ""


def resolve_reply_topic(reply_topic: object, base: str, session_id: str | None) -> str | None:
    """The requested topic when valid, else `<base>/<sessionId>`; None when neither is usable."""
    if valid_reply_topic(reply_topic, base):
        return reply_topic  # type: ignore[return-value]
    if session_id is None:
        return None
    return f"{base}/{session_id}"


def split_session_topic(topic: str, base: str) -> tuple[bool, str | None]:
    """`base` -> (True, None); `base/<sid>` -> (True, sid); anything else -> (False, None)."""
    if topic == base:
        return True, None
    prefix = base + "/"
    if topic.startswith(prefix):
        session_id = valid_session_id(topic[len(prefix) :])
        if session_id is not None:
            return True, session_id
    return False, None
