"""The earlier platform's action names, and every key a hint carries that the game cannot use, reported."""

import pytest

from maze import engine, hint_aliases

# A 7×7 board in the browser's convention (1 = WALL, 0 = floor), as in test_maze_engine.
WALLS = engine.from_client_grid(
    [
        [1, 1, 1, 1, 1, 1, 1],
        [1, 0, 0, 0, 1, 0, 1],
        [1, 1, 1, 0, 1, 0, 1],
        [1, 0, 0, 0, 0, 0, 1],
        [1, 0, 1, 1, 1, 0, 1],
        [1, 0, 0, 0, 1, 0, 1],
        [1, 1, 1, 1, 1, 1, 1],
    ]
)


def check(hint):
    return engine.validate_hint(hint, 7, 7, WALLS)


@pytest.mark.parametrize(
    "key,value,action,applied",
    [
        ("speed_boost", 1500, "speed_boost_ms", 1500),
        ("speed_boost", True, "speed_boost_ms", hint_aliases.DEFAULT_EFFECT_MS),
        ("speedBoost", 800, "speed_boost_ms", 800),
        ("teleport", [3, 3], "teleport_player", [3, 3]),
        ("tp", {"x": 5, "y": 5}, "teleport_player", [5, 5]),
        ("exit", [1, 5], "move_exit", [1, 5]),
        ("oxygen", [[1, 3], [5, 1]], "spawn_oxygen", [[1, 3], [5, 1]]),
        ("oxygen", [1, 3], "spawn_oxygen", [[1, 3]]),  # one point for a list of one
        ("breakWall", [4, 2], "break_wall", [4, 2]),
        ("breakWalls", [[4, 2], [2, 4]], "break_walls", [[4, 2], [2, 4]]),
        ("bfs", [[1, 1], [2, 1]], "path", [[1, 1], [2, 1]]),
        ("bfs", True, "show_path", True),
        ("bfs_steps", [[1, 1], [2, 1]], "path", [[1, 1], [2, 1]]),
        ("freeze", 2000, "freeze_germs_ms", 2000),
        ("freeze", True, "freeze_germs_ms", hint_aliases.DEFAULT_EFFECT_MS),
        ("slow_germs", 900, "slow_germs_ms", 900),
        ("highlight", [[1, 1]], "highlight_zone", [[1, 1]]),
        ("highlight", 700, "highlight_ms", 700),
        ("reveal", True, "reveal_map", True),
        # camelCase spellings of the documented names
        ("teleportPlayer", [3, 3], "teleport_player", [3, 3]),
        ("freezeGermsMs", 10, "freeze_germs_ms", 10),
        ("spawnOxygen", [[1, 3]], "spawn_oxygen", [[1, 3]]),
        ("showPath", False, "show_path", False),
        ("toggleAutopilot", True, "toggle_autopilot", True),
    ],
)
def test_an_alias_is_applied_as_its_documented_action(key, value, action, applied):
    result = check({"hint": "Go", key: value})
    assert result.applied == {action: applied}
    assert result.ignored == []
    assert result.aliases == {key: action}
    assert result.declared == [key]


def test_every_documented_action_has_a_camel_case_alias():
    for name in engine.ACTION_NAMES:
        camel = hint_aliases.camel_case(name)
        if camel != name:
            assert engine.ALIASES[camel].target(None) == name
    # No alias is itself a documented name, nor a text key: each key means one thing.
    assert not engine.ALIASES.keys() & (engine.ACTION_NAMES | hint_aliases.NOT_ACTIONS)


def test_an_alias_with_a_bad_value_says_which_action_it_was_taken_as():
    result = check({"hint": "Go", "teleport": [0, 0], "breakWall": [0, 3]})
    assert result.applied == {}
    assert result.ignored == [
        {"action": "breakWall", "reason": "as break_wall: (0, 3) is on the outer border, which cannot be broken"},
        {"action": "teleport", "reason": "as teleport_player: (0, 0) is a wall"},
    ]


def test_unknown_keys_are_reported_as_ignored_with_a_reason():
    result = check({"hint": "Go", "sessionId": "game-1", "foo": 1, "dance": True, "path": [[1, 1], [2, 1]]})
    assert result.applied == {"path": [[1, 1], [2, 1]]}
    assert result.ignored == [
        {"action": "foo", "reason": "unknown action 'foo'"},
        {"action": "dance", "reason": "unknown action 'dance'"},
    ]
    assert result.declared == ["foo", "dance", "path"]  # the text and the echoed sessionId are not actions


def test_the_documented_name_wins_over_an_alias_and_the_first_alias_over_later_ones():
    result = check({"hint": "Go", "tp": [5, 5], "teleport_player": [3, 3], "teleport": [1, 1]})
    assert result.applied == {"teleport_player": [3, 3]}
    assert result.ignored == [
        {"action": "tp", "reason": "means teleport_player, which 'teleport_player' already gives"},
        {"action": "teleport", "reason": "means teleport_player, which 'teleport_player' already gives"},
    ]
    result = check({"hint": "Go", "freeze": 100, "freezeGermsMs": 200})
    assert result.applied == {"freeze_germs_ms": 100}
    reason = "means freeze_germs_ms, which 'freeze' already gives"
    assert result.ignored == [{"action": "freezeGermsMs", "reason": reason}]


def test_template_updated_with_an_alias_is_a_real_hint():
    assert check({"hint": "Template updated", "foo": 1}).notice is True  # nothing to apply: still the notice
    real = check({"hint": "Template updated", "freeze": 10})
    assert real.notice is False and real.applied == {"freeze_germs_ms": 10}


def test_resolve_is_pure_and_keeps_the_values_of_documented_names():
    hint = {"hint": "h", "path": [[1, 1]], "bfs": True, "x": 1}
    resolved = hint_aliases.resolve(hint, engine.ACTION_NAMES, engine.ALIASES)
    assert resolved.actions == {"path": ("path", [[1, 1]]), "show_path": ("bfs", True)}
    assert resolved.aliases == {"bfs": "show_path"}
    assert resolved.ignored == [{"action": "x", "reason": "unknown action 'x'"}]
    assert hint == {"hint": "h", "path": [[1, 1]], "bfs": True, "x": 1}
