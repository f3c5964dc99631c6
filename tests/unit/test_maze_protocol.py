"""Maze messages to the LLM service (PROTOCOL.md): state built from the browser's grid, template updates."""

import pytest

from maze import engine, protocol

# A 5×5 board in the browser's convention: 1 = wall, 0 = floor.
CLIENT_WALLS = [
    [1, 1, 1, 1, 1],
    [1, 0, 0, 0, 1],
    [1, 1, 1, 0, 1],
    [1, 0, 0, 0, 1],
    [1, 1, 1, 1, 1],
]


def browser_state(**overrides):
    state = {
        "player": [1, 1],
        "exit": [1, 3],
        "walls": CLIENT_WALLS,
        "pellets": [[3, 2]],
        "germs": [{"x": 2, "y": 3}],
        "tick": 1730000000000,
        "health": 100,
        "oxygen": 97,
    }
    state.update(overrides)
    return state


def build(state, template=None):
    return protocol.state_payload(
        session_key="game-1", state=state, width=5, height=5, template=template, hint_base="maze/hint"
    )


def test_state_payload_follows_the_protocol_and_inverts_the_grid():
    payload = build(browser_state(), template={"title": "T1", "content": "c", "version": 1, "user_id": 7})
    assert payload["sessionId"] == "game-1"
    assert payload["player_pos"] == [1, 1] and payload["exit_pos"] == [1, 3]
    assert payload["visible_map"] == [[1 - c for c in row] for row in CLIENT_WALLS]
    assert payload["visible_map"][1][1] == 1  # the player's cell is floor: 1 in PROTOCOL.md
    assert payload["oxygenPellets"] == [{"x": 3, "y": 2}]
    assert payload["germs"] == [{"x": 2, "y": 3}]
    assert payload["tick"] == 1730000000000 and payload["oxygen"] == 97 and payload["health"] == 100
    assert payload["prompt_template"] == {"title": "T1", "content": "c", "version": 1, "user_id": 7}
    assert payload["replyTopic"] == "maze/hint/game-1"
    # The shortest path over the converted map matches the browser's own board.
    walls = engine.from_protocol_map(payload["visible_map"])
    assert engine.shortest_path(walls, (1, 1), (1, 3)) == [(1, 1), (2, 1), (3, 1), (3, 2), (3, 3), (2, 3), (1, 3)]


def test_a_game_without_a_template_sends_the_documented_default_prompt():
    # The LLM service applies template updates project-wide: a state without its own prompt would get hints
    # built from whatever template the service heard last, another player's.
    assert build(browser_state())["prompt_template"] == protocol.DEFAULT_TEMPLATE
    assert protocol.DEFAULT_TEMPLATE["content"].strip()


@pytest.mark.parametrize(
    "overrides",
    [
        {"player": [9, 9]},
        {"player": "1,1"},
        {"exit": None},
        {"walls": [[1, 1], [1, 1]]},
        {"walls": "x"},
        {"walls": [[2] * 5] * 5},
        {"pellets": [[1, 1]] * 501},
        {"germs": [[7, 7]]},
        {"tick": -1},
        {"oxygen": 101},
        {"health": True},
    ],
)
def test_unusable_state_is_refused_naming_the_field(overrides):
    with pytest.raises(protocol.StateError):
        build(browser_state(**overrides))


def test_template_update_targets_one_session_and_resets():
    payload = protocol.template_payload(
        session_key="game-7f3a", template={"title": "My LAM", "content": "Be brief.", "version": 2, "user_id": 5}
    )
    assert payload == {
        "sessionId": "game-7f3a",
        "template": "Be brief.",
        "systemPrompt": "Be brief.",
        "title": "My LAM",
        "version": 2,
        "user_id": 5,
        "reset": True,
        "max_breaks": 3,
    }
