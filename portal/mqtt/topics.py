"""Pure topic helpers: which topics the worker uses and how reply topics are built and parsed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyAddress:
    """What a reply topic `<base>/<sessionId>[/<clientId>[/<requestId>]]` says about its request."""

    session_key: str
    client_id: str | None = None
    request_id: str | None = None


def _is_plain_segment(segment: str) -> bool:
    return bool(segment) and "+" not in segment and "#" not in segment


def reply_topic(base: str, session_key: str, client_id: str, request_id: str) -> str:
    return f"{base}/{session_key}/{client_id}/{request_id}"


def parse_reply_topic(base: str, topic: str) -> ReplyAddress | None:
    """Parse a reply topic; None when it is not under `base` or has no usable session segment."""
    prefix = base.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return None
    segments = topic[len(prefix) :].split("/")
    if len(segments) > 3 or not all(_is_plain_segment(s) for s in segments):
        return None
    session_key, client_id, request_id = (segments + [None, None])[:3]
    return ReplyAddress(session_key=session_key, client_id=client_id, request_id=request_id)


STREAM_SUFFIX = "stream"


def parse_stream_topic(base: str, topic: str) -> ReplyAddress | None:
    """`<base>/<sessionId>/<clientId>/<requestId>/stream` (a streamed answer's chunks); None for anything else."""
    prefix = base.rstrip("/") + "/"
    if not topic.startswith(prefix):
        return None
    segments = topic[len(prefix) :].split("/")
    if len(segments) != 4 or segments[3] != STREAM_SUFFIX or not all(_is_plain_segment(s) for s in segments):
        return None
    return ReplyAddress(session_key=segments[0], client_id=segments[1], request_id=segments[2])


def reply_session_consistent(address: ReplyAddress, request_session: str | None, claimed_session: object) -> bool:
    """False when a reply contradicts the session it must belong to: the topic's session segment differs from
    the session its request was sent for (when that request is known), or a `sessionId` the payload carries
    differs from the topic's. Such a reply would hand one session's answer to another session's user."""
    if request_session is not None and address.session_key != request_session:
        return False
    return claimed_session is None or str(claimed_session) == address.session_key


def hint_base(hint_topic: str) -> str:
    """`maze/hint/+` -> `maze/hint`: the configured topic is a subscription pattern."""
    return hint_topic[:-2] if hint_topic.endswith("/+") else hint_topic.rstrip("/")


def session_from_hint_topic(hint_topic: str, topic: str) -> str | None:
    prefix = hint_base(hint_topic) + "/"
    if not topic.startswith(prefix):
        return None
    rest = topic[len(prefix) :]
    return rest if _is_plain_segment(rest) and "/" not in rest else None


def session_topic(base: str, session_key: str) -> str:
    """`maze/template` + `g1` -> `maze/template/g1`: messages that must target one session only."""
    return f"{base.rstrip('/')}/{session_key}"


def is_safe_session_key(value: str, max_length: int = 64) -> bool:
    """A session key travels as a topic segment: no wildcards, no separators, bounded length."""
    return 0 < len(value) <= max_length and all(c.isalnum() or c in "-_." for c in value)
