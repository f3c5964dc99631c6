"""Pure MQTT helpers: reply topics, payload decoding (PROTOCOL.md)."""

import pytest

from portal.mqtt.payloads import MalformedPayload, parse_chat_reply, parse_hint, parse_status
from portal.mqtt.topics import (
    ReplyAddress,
    hint_base,
    is_safe_session_key,
    parse_reply_topic,
    reply_topic,
    session_from_hint_topic,
)

BASE = "prompt_portal/assistant_response"


def test_reply_topic_round_trips():
    topic = reply_topic(BASE, "s1", "w1", "r1")
    assert topic == f"{BASE}/s1/w1/r1"
    assert parse_reply_topic(BASE, topic) == ReplyAddress("s1", "w1", "r1")


@pytest.mark.parametrize(
    "topic, expected",
    [
        (f"{BASE}/s1", ReplyAddress("s1")),
        (f"{BASE}/s1/w1", ReplyAddress("s1", "w1")),
        (f"{BASE}/s1/w1/r1/extra", None),
        (f"{BASE}/", None),
        (f"{BASE}", None),
        (f"{BASE}/s1//r1", None),
        ("other/base/s1", None),
        (f"{BASE}x/s1", None),
    ],
)
def test_parse_reply_topic(topic, expected):
    assert parse_reply_topic(BASE, topic) == expected


def test_hint_topics():
    assert hint_base("maze/hint/+") == "maze/hint"
    assert session_from_hint_topic("maze/hint/+", "maze/hint/game-1") == "game-1"
    assert session_from_hint_topic("maze/hint/+", "maze/hint/a/b") is None
    assert session_from_hint_topic("maze/hint/+", "maze/other/a") is None


@pytest.mark.parametrize(
    "key, ok", [("abc-1_2.3", True), ("", False), ("a/b", False), ("a+b", False), ("#", False), ("x" * 65, False)]
)
def test_session_keys_are_topic_safe(key, ok):
    assert is_safe_session_key(key) is ok


def test_raw_text_reply():
    reply = parse_chat_reply(b"Head east, then north.", 1000)
    assert reply.text == "Head east, then north." and not reply.is_error and reply.metadata == {}


def test_json_reply_takes_first_non_empty_text_field_and_keeps_the_rest():
    reply = parse_chat_reply(b'{"response": "", "content": "hello", "hint": "h", "model": "m"}', 1000)
    assert reply.text == "hello"
    assert reply.metadata == {"response": "", "hint": "h", "model": "m"}


@pytest.mark.parametrize(
    "payload",
    [
        b"Error: rate limit",
        b"Server is overloaded. Please try again in a moment.",
        b'{"error": "model missing"}',
        b'{"response": "Error: boom"}',
    ],
)
def test_llm_errors_are_flagged(payload):
    assert parse_chat_reply(payload, 1000).is_error


def test_a_json_answer_without_a_text_field_is_the_answer_itself():
    # A template asked the model to answer in JSON: the user gets the answer, never a timeout.
    payload = b'{"action": "move", "reason": "the exit is east"}'
    reply = parse_chat_reply(payload, 1000)
    assert reply.text == payload.decode() and not reply.is_error and reply.malformed is None
    assert reply.metadata == {"json": {"action": "move", "reason": "the exit is east"}}


@pytest.mark.parametrize(
    "payload, why", [(b"\xff\xfe", "not UTF-8"), (b"", "empty"), (b"   ", "empty"), (b"x" * 1001, "exceeds")]
)
def test_unreadable_replies_become_an_llm_error_that_says_why(payload, why):
    reply = parse_chat_reply(payload, 1000)
    assert reply.is_error and why in reply.malformed and why in reply.text


def test_status_and_hint_parsing():
    status = parse_status(b'{"service": "llm", "status": "online", "ts": 12}', 1000)
    assert status.online and status.service == "llm" and status.ts == 12
    assert not parse_status(b'{"service": "llm", "status": "offline"}', 1000).online
    with pytest.raises(MalformedPayload):
        parse_status(b'{"status": "maybe"}', 1000)
    assert parse_hint(b"plain words", 1000) == {"raw": "plain words"}
    assert parse_hint(b'{"Error": "bad"}', 1000) == {"error": "bad"}
