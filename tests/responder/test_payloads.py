import json

import pytest

from responder.payloads import (
    MAX_PAYLOAD_BYTES,
    ChatRequest,
    NotAnObject,
    PayloadError,
    decode_object,
    forget_target,
    parse_maze_state,
    template_prompt,
    template_reset,
)


def test_template_prompt_order():
    full = {"template": "T", "system_prompt": "S", "systemPrompt": "C", "prompt_template": "P"}
    assert template_prompt(full) == "T"
    assert template_prompt({**full, "template": {"content": "TC"}}) == "TC"
    assert template_prompt({**full, "template": ""}) == "S"
    assert template_prompt({"systemPrompt": "C", "prompt_template": "P"}) == "C"
    assert template_prompt({"prompt_template": {"title": "T1", "content": "P"}}) == "P"
    assert template_prompt({"prompt_template": "P"}) == "P"
    assert template_prompt({"template": 5, "title": "x"}) is None


def test_template_reset_defaults_to_true():
    assert template_reset({}) is True
    assert template_reset({"reset": False}) is False
    with pytest.raises(PayloadError):
        template_reset({"reset": "no"})


@pytest.mark.parametrize(
    "payload, error",
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "too large"),
    ],
)
def test_malformed_payloads(payload, error):
    with pytest.raises(PayloadError, match=error):
        decode_object(payload)


def test_json_that_is_not_an_object():
    with pytest.raises(NotAnObject):
        decode_object(b"[1, 2]")


def test_chat_request_fields_and_types():
    request = ChatRequest.parse(
        {
            "sessionId": "s",
            "message": "hi",
            "systemPrompt": "be brief",
            "temperature": 0.7,
            "topP": 0.9,
            "maxTokens": 512,
        }
    )
    assert (request.session_id, request.system_prompt, request.temperature, request.top_p, request.max_tokens) == (
        "s",
        "be brief",
        0.7,
        0.9,
        512,
    )
    with pytest.raises(PayloadError, match="temperature"):
        ChatRequest.parse({"sessionId": "s", "message": "hi", "temperature": "hot"})
    with pytest.raises(PayloadError, match="sessionId"):
        ChatRequest.parse({"sessionId": "a/b", "message": "hi"})


def test_forget_target():
    assert forget_target({"sessionId": "g1"}) == "g1"
    assert forget_target({"target": "all"}) is None
    with pytest.raises(PayloadError):
        forget_target({})


def test_maze_state_accepts_both_point_forms_and_converts_the_grid():
    state = parse_maze_state(
        json.loads(
            '{"sessionId": "g", "player_pos": {"x": 1, "y": 0}, "exit_pos": [0, 1], "visible_map": [[0, 1], [1, 0]],'
            ' "germs": [{"x": 0, "y": 0}], "prompt_template": {"content": "guide me"}}'
        )
    )
    assert state.player == (1, 0) and state.exit == (0, 1)
    assert state.is_floor((1, 0)) and state.is_floor((0, 1))  # 1 = floor
    assert not state.is_floor((0, 0)) and not state.is_floor((5, 5))  # 0 = wall, off the map = wall
    assert state.germs == {(0, 0)} and state.template == "guide me"


@pytest.mark.parametrize(
    "change, error",
    [
        ({"player_pos": None}, "player_pos"),
        ({"exit_pos": [1]}, "exit_pos"),
        ({"visible_map": []}, "visible_map"),
        ({"visible_map": [1, 2]}, r"visible_map\[0\]"),
        ({"player_pos": [9, 9]}, "outside"),
        ({"germs": [{"x": "a", "y": 1}]}, r"germs\[0\]"),
    ],
)
def test_invalid_maze_states(change, error):
    state = {"player_pos": [0, 0], "exit_pos": [1, 0], "visible_map": [[1, 1]], **change}
    with pytest.raises(PayloadError, match=error):
        parse_maze_state(state)
