"""Property-based fuzzing (hypothesis) of every parser that reads MQTT input: the worker's (replies, hints,
status, topics) and the reference responder's (requests, states, templates, forget requests).

The property: any bytes and any topic give either a parsed value or the parser's own error type (which the
caller counts as malformed and skips) -- never another exception, which would be a crash path in a process that
must run for months. Structured JSON is generated too, because random bytes rarely get past json.loads.
"""

import json
import math

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from portal.mqtt import payloads as worker_payloads
from portal.mqtt.payloads import MalformedPayload
from portal.mqtt.topics import parse_reply_topic, reply_session_consistent, session_from_hint_topic
from responder import payloads as responder_payloads
from responder.payloads import PayloadError
from tests.fuzzing import fuzz_settings

MAX_BYTES = 256 * 1024
FUZZ = fuzz_settings(300)

# Numbers JSON can carry but Python handles awkwardly: huge integers, NaN/Infinity (json.loads accepts them).
awkward_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_scalars = st.one_of(st.none(), st.booleans(), awkward_numbers, st.text(max_size=40))
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=12), inner, max_size=6)),
    max_leaves=30,
)
# Objects that use the protocol's own field names, so the parsers' deeper branches are reached.
PROTOCOL_KEYS = [
    "response",
    "content",
    "hint",
    "error",
    "detail",
    "message",
    "sessionId",
    "status",
    "ts",
    "service",
    "temperature",
    "topP",
    "maxTokens",
    "systemPrompt",
    "requestId",
    "replyTopic",
    "reset",
    "target",
    "prompt_template",
    "template",
    "visible_map",
    "player_pos",
    "exit_pos",
    "germs",
    "oxygen",
    "breaks_remaining",
]
protocol_objects = st.dictionaries(st.sampled_from(PROTOCOL_KEYS), json_values, max_size=10)


def encoded(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payload_bytes = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=200).map(str.encode),
    json_values.map(encoded),
    protocol_objects.map(encoded),
)


@FUZZ
@given(payload_bytes)
@example(b'{"status": "online", "ts": 1' + b"0" * 400 + b"}")  # a number float() cannot hold
@example(b'{"response": "hi", "sessionId": NaN}')
@example(b"\xff\xfe")
@example(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")  # nesting deep enough to exhaust the recursion limit
def test_worker_parsers_only_raise_malformed_payload(payload):
    for parse in (worker_payloads.parse_chat_reply, worker_payloads.parse_status, worker_payloads.parse_hint):
        try:
            result = parse(payload, MAX_BYTES)
        except MalformedPayload:
            continue
        assert result is not None


@FUZZ
@given(protocol_objects)
def test_a_parsed_chat_reply_is_text_the_portal_can_store(obj):
    # Never raises: a reply matched to a request is always delivered and stored, whatever its shape.
    reply = worker_payloads.parse_chat_reply(encoded(obj), MAX_BYTES)
    assert isinstance(reply.text, str) and reply.text.strip()
    # Stored in a JSONField and sent to browsers: it must serialise as strict JSON.
    json.dumps(reply.metadata, allow_nan=False)


def test_oversized_payloads_are_refused_before_decoding():
    reply = worker_payloads.parse_chat_reply(b"x" * (MAX_BYTES + 1), MAX_BYTES)
    assert reply.is_error and "exceeds" in reply.malformed
    with pytest.raises(MalformedPayload):
        worker_payloads.decode_text(b"x" * (MAX_BYTES + 1), MAX_BYTES)
    with pytest.raises(PayloadError):
        responder_payloads.decode_object(b" " * (responder_payloads.MAX_PAYLOAD_BYTES + 1))


topics = st.one_of(
    st.text(max_size=80),
    st.lists(
        st.sampled_from(
            ["prompt_portal", "assistant_response", "maze", "hint", "s1", "w1", "r1", "", "+", "#", "a/b", "\x00", "é"]
        ),
        max_size=6,
    ).map("/".join),
)


@FUZZ
@given(topics, json_values)
def test_topic_parsers_never_raise(topic, claimed_session):
    address = parse_reply_topic("prompt_portal/assistant_response", topic)
    if address is not None:
        assert address.session_key and "/" not in address.session_key
        assert isinstance(reply_session_consistent(address, None, claimed_session), bool)
    session = session_from_hint_topic("maze/hint/+", topic)
    assert session is None or (session and "/" not in session)


@FUZZ
@given(payload_bytes)
@example(b'{"sessionId": "s1", "message": "hi", "temperature": 1e400}')
@example(b'{"sessionId": "s1", "message": "hi", "max_tokens": 1' + b"0" * 400 + b"}")
def test_responder_parsers_only_raise_payload_error(payload):
    try:
        obj = responder_payloads.decode_object(payload)
    except PayloadError:
        return
    for parse in (
        responder_payloads.ChatRequest.parse,
        responder_payloads.parse_maze_state,
        responder_payloads.template_prompt,
        responder_payloads.template_reset,
        responder_payloads.forget_target,
        responder_payloads.session_of,
    ):
        try:
            parse(obj)
        except PayloadError:
            pass


@FUZZ
@given(protocol_objects)
def test_responder_chat_request_numbers_are_finite(obj):
    obj.setdefault("sessionId", "s1")
    obj.setdefault("message", "hi")
    try:
        request = responder_payloads.ChatRequest.parse(obj)
    except PayloadError:
        return
    for name in ("temperature", "top_p", "max_tokens"):  # the parsed request's attribute names
        value = getattr(request, name, None)
        assert value is None or math.isfinite(value)
