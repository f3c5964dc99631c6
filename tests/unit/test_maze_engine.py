"""maze.engine: generation, grid conventions, hint validation, report validation and the score formula.

Pure Python: no database, no Django. The fuzz tests use hypothesis when it is installed; a seeded stdlib
fuzzer runs in every case, so "never raises" stays tested either way.
"""

import math
import random

import pytest

from maze import engine

try:
    from hypothesis import given
    from hypothesis import strategies as st

    from tests.fuzzing import fuzz_settings as make_fuzz_settings
except ImportError:  # pragma: no cover - hypothesis is a test-only extra
    st = None

needs_hypothesis = pytest.mark.skipif(st is None, reason="hypothesis is not installed")

# A 7×7 board in the browser's convention (1 = WALL, 0 = floor).
CLIENT = [
    [1, 1, 1, 1, 1, 1, 1],
    [1, 0, 0, 0, 1, 0, 1],
    [1, 1, 1, 0, 1, 0, 1],
    [1, 0, 0, 0, 0, 0, 1],
    [1, 0, 1, 1, 1, 0, 1],
    [1, 0, 0, 0, 1, 0, 1],
    [1, 1, 1, 1, 1, 1, 1],
]
WALLS = engine.from_client_grid(CLIENT)


def open_maze(*, germs=((5, 1), (1, 5)), pellets=((3, 3), (2, 2), (4, 4))) -> engine.Maze:
    """7×7: border wall, open 5×5 inside, so the shortest start→exit path is exactly 8 steps."""
    walls = tuple(tuple(x in (0, 6) or y in (0, 6) for x in range(7)) for y in range(7))
    return engine.Maze(7, 7, walls, (1, 1), (5, 5), tuple(pellets), tuple(germs))


# -- generation --------------------------------------------------------------------------------------------

SIZES = [(7, 7), (9, 7), (7, 21), (33, 21), (51, 31), (101, 101)]


@pytest.mark.parametrize("width,height", SIZES)
def test_generated_mazes_are_always_solvable_with_a_wall_border(width, height):
    seeds = range(15) if width * height > 5000 else range(80)
    for seed in seeds:
        maze = engine.generate(width, height, seed=seed)
        assert (maze.width, maze.height) == (width, height)
        assert len(maze.walls) == height and all(len(row) == width for row in maze.walls)
        assert maze.start == (1, 1) and maze.exit == (width - 2, height - 2)
        path = engine.shortest_path(maze.walls, maze.start, maze.exit)
        assert path is not None, f"seed {seed} gave an unsolvable {width}×{height} maze"
        assert path[0] == maze.start and path[-1] == maze.exit
        assert all(maze.walls[0]) and all(maze.walls[-1])
        assert all(row[0] and row[-1] for row in maze.walls)
        assert engine.maze_json(maze)["shortest_path_length"] == len(path) - 1


def test_generation_without_a_seed_is_still_solvable():
    for _ in range(20):
        maze = engine.generate()
        assert engine.shortest_path(maze.walls, maze.start, maze.exit)


def test_same_seed_same_maze_and_seeds_differ():
    assert engine.generate(33, 21, seed=42) == engine.generate(33, 21, seed=42)
    assert engine.generate(33, 21, germ_count=9, seed=7) == engine.generate(33, 21, germ_count=9, seed=7)
    assert len({engine.generate(33, 21, seed=s).walls for s in range(5)}) == 5


def count_loops(walls) -> int:
    """Independent cycles of the floor graph: edges − cells + 1 (0 for a perfect maze)."""
    cells = [(x, y) for y, row in enumerate(walls) for x, wall in enumerate(row) if not wall]
    edges = sum(len(engine.neighbours(walls, c)) for c in cells) // 2
    return edges - len(cells) + 1


def test_extra_walls_are_opened_so_there_are_loops():
    assert count_loops(engine.generate(33, 21, seed=3).walls) == 33 * 21 // 60  # 11
    assert count_loops(engine.generate(7, 7, seed=3).walls) == 0  # 49/60 rounds to no extra opening


@pytest.mark.parametrize(
    "kwargs,problem",
    [
        ({"width": 32}, "width must be odd"),
        ({"height": 20}, "height must be odd"),
        ({"width": 5}, "width must be from 7 to 101"),
        ({"height": 103}, "height must be from 7 to 101"),
        ({"width": True}, "width must be a whole number"),
        ({"width": 33.0}, "width must be a whole number"),
        ({"height": "21"}, "height must be a whole number"),
        ({"germ_count": -1}, "germ count"),
        ({"germ_count": engine.MAX_GERMS + 1}, "germ count"),
        ({"germ_count": True}, "germ count"),
        ({"pellet_count": -1}, "pellet count"),
    ],
)
def test_invalid_sizes_and_counts_are_refused_naming_the_problem(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        engine.generate(**kwargs)


@pytest.mark.parametrize("seed", range(30))
def test_germs_and_pellets_sit_on_distinct_floor_cells_away_from_start(seed):
    maze = engine.generate(33, 21, germ_count=10, pellet_count=8, seed=seed)
    assert len(maze.germs) == 10 and len(maze.pellets) == 8
    placed = maze.germs + maze.pellets
    assert len(set(placed)) == len(placed)
    assert all(engine.is_floor(maze.walls, c) for c in placed)
    assert maze.start not in placed and maze.exit not in placed
    for germ in maze.germs:
        assert len(engine.shortest_path(maze.walls, maze.start, germ)) - 1 >= engine.GERM_MIN_DISTANCE


def test_a_tiny_board_gets_as_many_germs_and_pellets_as_fit():
    maze = engine.generate(7, 7, germ_count=engine.MAX_GERMS, pellet_count=8, seed=1)
    floor = sum(not w for row in maze.walls for w in row)
    placed = maze.germs + maze.pellets
    assert len(placed) == len(set(placed)) == floor - 2  # every floor cell but start and exit
    assert engine.shortest_path(maze.walls, maze.start, maze.exit)


def test_maze_json_uses_the_client_convention():
    maze = engine.generate(9, 7, germ_count=1, pellet_count=2, seed=5)
    data = engine.maze_json(maze)
    assert set(data) == {"width", "height", "walls", "start", "exit", "pellets", "germs", "shortest_path_length"}
    assert data["walls"][0][0] == 1 and data["walls"][1][1] == 0  # border is wall = 1, start is floor = 0
    assert engine.from_client_grid(data["walls"]) == maze.walls
    assert data["start"] == [1, 1] and data["exit"] == [7, 5]
    assert data["pellets"] == [list(c) for c in maze.pellets] and data["germs"] == [list(c) for c in maze.germs]


# -- grids and paths ---------------------------------------------------------------------------------------


def test_protocol_map_marks_floor_with_1_and_round_trips():
    protocol_map = engine.to_protocol_map(WALLS)
    assert protocol_map == [[1 - c for c in row] for row in CLIENT]
    assert protocol_map[1][1] == 1 and protocol_map[0][0] == 0
    assert engine.from_protocol_map(protocol_map) == WALLS
    maze = engine.generate(seed=11)
    assert engine.from_protocol_map(engine.to_protocol_map(maze.walls)) == maze.walls


def test_mixing_up_the_two_conventions_gives_a_different_answer():
    right = engine.shortest_path(engine.from_client_grid(CLIENT), (1, 1), (5, 5))
    assert right == [(1, 1), (2, 1), (3, 1), (3, 2), (3, 3), (4, 3), (5, 3), (5, 4), (5, 5)]
    # Reading the browser's grid as a protocol map turns the start into a wall: no path at all.
    assert engine.shortest_path(engine.from_protocol_map(CLIENT), (1, 1), (5, 5)) is None
    protocol_map = engine.to_protocol_map(WALLS)
    assert engine.shortest_path(engine.from_protocol_map(protocol_map), (1, 1), (5, 5)) == right
    assert engine.shortest_path(engine.from_client_grid(protocol_map), (1, 1), (5, 5)) is None


@pytest.mark.parametrize(
    "grid,problem",
    [
        ("x", "non-empty list of rows"),
        ([], "non-empty list of rows"),
        (None, "non-empty list of rows"),
        ([[0, 1], [1]], "rectangular"),
        ([[0, 1], "01"], "row 1"),
        ([[0, 2]], "only 0 and 1"),
        ([[0, True]], "only 0 and 1"),
        ([[0, 1.0]], "only 0 and 1"),
        ([[]], "row 0"),
        ([[0] * 102], "columns"),
        ([[0]] * 102, "rows"),
    ],
)
def test_malformed_grids_are_refused(grid, problem):
    for convert in (engine.from_protocol_map, engine.from_client_grid):
        with pytest.raises(ValueError, match=problem):
            convert(grid)


def test_shortest_path_is_bfs_including_both_ends():
    assert engine.shortest_path(WALLS, (1, 1), (1, 1)) == [(1, 1)]
    assert engine.shortest_path(WALLS, (1, 1), (1, 5)) == [
        (1, 1),
        (2, 1),
        (3, 1),
        (3, 2),
        (3, 3),
        (2, 3),
        (1, 3),
        (1, 4),
        (1, 5),
    ]
    assert engine.shortest_path(WALLS, (1, 1), (0, 0)) is None  # the goal is a wall
    assert engine.shortest_path(WALLS, (1, 1), (9, 9)) is None  # off the board
    assert engine.shortest_path(WALLS, (1, 1), (5, 5), blocked=frozenset({(4, 3)})) is None
    assert engine.shortest_path(WALLS, (1, 1), (5, 5), blocked=frozenset({(5, 5)})) is None
    # In the open maze a blocked middle cell is walked round, at no extra cost.
    maze = open_maze()
    detour = engine.shortest_path(maze.walls, (1, 1), (5, 5), blocked=frozenset({(3, 3)}))
    assert len(detour) == 9 and (3, 3) not in detour


def test_is_floor_and_neighbours():
    assert engine.is_floor(WALLS, (1, 1)) and not engine.is_floor(WALLS, (0, 0))
    assert not engine.is_floor(WALLS, (-1, 1)) and not engine.is_floor(WALLS, (7, 1))
    assert sorted(engine.neighbours(WALLS, (3, 3))) == [(2, 3), (3, 2), (4, 3)]
    assert engine.neighbours(WALLS, (0, 0)) == []


@pytest.mark.parametrize(
    "value,expected",
    [
        ([2, 3], (2, 3)),
        ((2, 3), (2, 3)),
        ({"x": 2, "y": 3}, (2, 3)),
        ({"x": 0, "y": 0, "z": 9}, (0, 0)),
        ([6, 6], (6, 6)),
        ([7, 3], None),
        ([-1, 3], None),
        ([True, 3], None),
        ([2.0, 3], None),
        ([2], None),
        ([1, 2, 3], None),
        ("2,3", None),
        (None, None),
        ({"x": 2}, None),
        ({"x": "2", "y": 3}, None),
        (5, None),
    ],
)
def test_parse_point(value, expected):
    assert engine.parse_point(value, 7, 7) == expected


# -- hints -------------------------------------------------------------------------------------------------


def check(hint, walls=None):
    return engine.validate_hint(hint, 7, 7, walls)


@pytest.mark.parametrize(
    "name,value,applied",
    [
        ("path", [[1, 1], [2, 1], [3, 1]], [[1, 1], [2, 1], [3, 1]]),
        ("path", [{"x": 3, "y": 3}, {"x": 3, "y": 2}], [[3, 3], [3, 2]]),
        ("path", [], []),
        ("break_wall", [4, 2], [4, 2]),
        ("break_wall", {"x": 1, "y": 5}, [1, 5]),
        ("break_walls", [[4, 2], [2, 4], [4, 2]], [[4, 2], [2, 4]]),  # the duplicate adds nothing
        ("speed_boost_ms", 1500, 1500),
        ("slow_germs_ms", 0, 0),
        ("freeze_germs_ms", 60000, 60000),
        ("highlight_ms", 800, 800),
        ("teleport_player", [5, 5], [5, 5]),
        ("move_exit", [1, 5], [1, 5]),
        ("spawn_oxygen", [[1, 3], [5, 1]], [[1, 3], [5, 1]]),
        ("highlight_zone", [[0, 0], [6, 6]], [[0, 0], [6, 6]]),
        ("reveal_map", True, True),
        ("show_path", False, False),
        ("toggle_autopilot", True, True),
        ("breaks_remaining", 3, 3),
        ("breaks_remaining", 0, 0),
    ],
)
def test_valid_actions_are_applied_normalised(name, value, applied):
    result = check({"hint": "Go", name: value}, walls=WALLS)
    assert result.applied == {name: applied}
    assert result.ignored == []
    assert result.text == "Go" and result.notice is False and result.error is None


@pytest.mark.parametrize(
    "name,value,reason",
    [
        ("path", [[1, 1], [3, 3]], "not next to"),
        ("path", [[1, 1], [1, 1]], "not next to"),
        ("path", [[3, 2], [2, 3]], "not next to"),  # diagonal
        ("path", [[1, 1], [9, 1]], "off the 7×7 board"),
        ("path", [[1, 1], [1, 2]], "is a wall"),
        ("path", [[1, 1], [True, 1]], "whole numbers"),
        ("path", [[1, 1]] * 501, "at most 500"),
        ("path", "east", "list of"),
        ("path", {"x": 1, "y": 1}, "list of"),
        ("break_wall", [0, 3], "outer border"),
        ("break_wall", [3, 6], "outer border"),
        ("break_wall", [7, 3], "off the"),
        ("break_wall", "3,3", "point"),
        ("break_wall", [3.0, 3], "whole numbers"),
        ("break_walls", [[0, 0]], "outer border"),
        ("break_walls", [[2, 2]] * 21, "at most 20"),
        ("break_walls", [2, 2], "whole numbers"),
        ("break_walls", "all", "list of"),
        ("speed_boost_ms", True, "whole number"),
        ("speed_boost_ms", 1500.5, "whole number"),
        ("slow_germs_ms", -1, "0 to 60000"),
        ("freeze_germs_ms", 60001, "0 to 60000"),
        ("highlight_ms", "800", "whole number"),
        ("teleport_player", [0, 0], "is a wall"),
        ("teleport_player", [-1, 3], "off the"),
        ("teleport_player", None, "point"),
        ("move_exit", [4, 1], "is a wall"),
        ("move_exit", [3, 70], "off the"),
        ("spawn_oxygen", [[0, 0]], "is a wall"),
        ("spawn_oxygen", [[1, 1]] * 21, "at most 20"),
        ("highlight_zone", [[1, 1]] * 201, "at most 200"),
        ("highlight_zone", [[8, 8]], "off the"),
        ("reveal_map", 1, "true or false"),
        ("show_path", "yes", "true or false"),
        ("toggle_autopilot", None, "true or false"),
        ("breaks_remaining", 101, "0 to 100"),
        ("breaks_remaining", False, "whole number"),
        ("breaks_remaining", -1, "0 to 100"),
    ],
)
def test_invalid_actions_are_dropped_with_a_reason(name, value, reason):
    result = check({"hint": "Go", name: value}, walls=WALLS)
    assert result.applied == {}
    assert len(result.ignored) >= 1 and all(i["action"] == name for i in result.ignored)
    assert any(reason in i["reason"] for i in result.ignored), result.ignored
    assert result.text == "Go"


def test_point_lists_keep_the_valid_points_and_report_the_others():
    result = check(
        {
            "hint": "h",
            "break_walls": [[4, 2], [0, 0], "x", [2, 4]],
            "spawn_oxygen": [[1, 3], [0, 3], [99, 1]],
            "highlight_zone": [[1, 1], [1, -1]],
        },
        walls=WALLS,
    )
    assert result.applied == {"break_walls": [[4, 2], [2, 4]], "spawn_oxygen": [[1, 3]], "highlight_zone": [[1, 1]]}
    reasons = [(i["action"], i["reason"]) for i in result.ignored]
    assert reasons == [
        ("break_walls", "point 1: (0, 0) is on the outer border, which cannot be broken"),
        ("break_walls", 'point 2: must be a point [x, y] (or {"x": .., "y": ..}) of whole numbers'),
        ("spawn_oxygen", "point 1: (0, 3) is a wall"),
        ("spawn_oxygen", "point 2: (99, 1) is off the 7×7 board"),
        ("highlight_zone", "point 1: (1, -1) is off the 7×7 board"),
    ]


def test_walls_are_only_checked_when_given():
    hint = {"hint": "h", "path": [[1, 1], [1, 2]], "teleport_player": [0, 0], "spawn_oxygen": [[0, 3]]}
    assert set(check(hint).applied) == {"path", "teleport_player", "spawn_oxygen"}
    assert check(hint, walls=WALLS).applied == {}


def test_a_path_may_go_through_a_wall_broken_by_the_same_hint():
    # (1, 2) is the wall between (1, 1) and (1, 3).
    hint = {"hint": "h", "break_wall": [1, 2], "teleport_player": [1, 2]}
    assert check(hint, walls=WALLS).applied == {"break_wall": [1, 2], "teleport_player": [1, 2]}
    hint = {"hint": "h", "break_walls": [[1, 2]], "path": [[1, 1], [1, 2], [1, 3]]}
    assert check(hint, walls=WALLS).applied == {"break_walls": [[1, 2]], "path": [[1, 1], [1, 2], [1, 3]]}
    assert "path" not in check({"hint": "h", "path": [[1, 1], [1, 2], [1, 3]]}, walls=WALLS).applied


def test_a_path_whose_first_step_is_far_from_the_player_is_still_fine():
    # Only consecutive pairs are checked: the hint may be a move or two behind the player.
    assert check({"hint": "h", "path": [[5, 5], [5, 4]]}, walls=WALLS).applied == {"path": [[5, 5], [5, 4]]}


def test_every_action_together_and_unknown_fields_reported():
    hint = {
        "hint": "All",
        "suggestion": "Try east",
        "sessionId": "s",
        "mood": "happy",
        "path": [[1, 1], [2, 1]],
        "break_wall": [4, 2],
        "break_walls": [[2, 4]],
        "speed_boost_ms": 1,
        "slow_germs_ms": 2,
        "freeze_germs_ms": 3,
        "teleport_player": [3, 3],
        "spawn_oxygen": [[5, 1]],
        "move_exit": [5, 5],
        "highlight_zone": [[1, 1]],
        "highlight_ms": 4,
        "reveal_map": True,
        "show_path": True,
        "breaks_remaining": 2,
        "toggle_autopilot": False,
    }
    result = check(hint, walls=WALLS)
    # sessionId is echoed by services, not an action; "mood" is unknown and says so.
    assert result.ignored == [{"action": "mood", "reason": "unknown action 'mood'"}]
    assert set(result.applied) == engine.ACTION_NAMES
    assert result.suggestion == "Try east"


def test_the_bad_hint_of_the_integration_test():
    result = check(
        {
            "hint": "Go east",
            "break_wall": [0, 0],
            "freeze_germs_ms": 2000,
            "teleport_player": [999, 1],
            "path": [[1, 1], [3, 3]],
        }
    )
    assert result.applied == {"freeze_germs_ms": 2000}
    assert {i["action"] for i in result.ignored} == {"break_wall", "teleport_player", "path"}


def test_template_updated_is_a_notice_not_a_hint():
    notice = check({"hint": "Template updated"})
    assert notice.notice is True and notice.applied == {} and notice.text == "Template updated"
    assert check({"hint": "Template updated", "sessionId": "game-1"}).notice is True
    # With an action it is a real hint that happens to say so.
    real = check({"hint": "Template updated", "freeze_germs_ms": 10})
    assert real.notice is False and real.applied == {"freeze_germs_ms": 10}
    assert check({"hint": "Template updated!"}).notice is False


def test_raw_text_and_errors():
    raw = check({"raw": "Sorry, I cannot help <html>"})
    assert raw.text == raw.error == "Sorry, I cannot help <html>"
    assert raw.applied == {} and raw.ignored == [] and raw.notice is False
    assert check({"raw": "x", "path": [[1, 1]]}).applied == {}  # a raw reply carries no actions
    for key in ("error", "Error", "err"):
        failed = check({key: "model overloaded"})
        assert failed.error == "model overloaded" and failed.text is None and failed.applied == {}
    assert check({"hint": "h", "error": None}).error is None
    assert check({"hint": "h", "error": False}).error is None
    assert check({"hint": "h", "error": ""}).error is None
    assert check({"error": {"code": 500}}).error == '{"code": 500}'


def test_texts_are_truncated_and_must_be_strings():
    result = check({"hint": "a" * 5000, "suggestion": "b" * 3000})
    assert len(result.text) == 2000 and len(result.suggestion) == 2000
    assert len(check({"raw": "r" * 9000}).text) == 2000
    odd = check({"hint": 42, "suggestion": ["x"]})
    assert odd.text is None and odd.suggestion is None
    assert {i["action"] for i in odd.ignored} == {"hint", "suggestion"}


@pytest.mark.parametrize("hint", [None, "text", 3, ["hint"], True])
def test_a_hint_that_is_not_an_object_is_an_error_not_a_crash(hint):
    result = engine.validate_hint(hint, 7, 7)
    assert result.error and result.applied == {} and result.notice is False


# -- reports -----------------------------------------------------------------------------------------------


def report(**overrides):
    data = {
        "won": True,
        "duration_ms": 30000,
        "steps": 10,
        "backtracks": 1,
        "collisions": 1,
        "oxygen_collected": 2,
        "hint_count": 3,
        "avg_hint_latency_ms": 100,
        "mode": "lam",
    }
    data.update(overrides)
    return data


def test_a_plausible_report_is_accepted():
    result = engine.validate_report(report(), open_maze())
    assert result == engine.GameReport(
        won=True,
        duration_ms=30000,
        steps=10,
        backtracks=1,
        collisions=1,
        oxygen_collected=2,
        hint_count=3,
        avg_hint_latency_ms=100.0,
        mode="lam",
    )
    assert (
        engine.validate_report(report(avg_hint_latency_ms=None, mode="manual"), open_maze()).avg_hint_latency_ms is None
    )
    # No hints, no latency to reward, whatever the browser computed.
    assert engine.validate_report(report(hint_count=0, avg_hint_latency_ms=0), open_maze()).avg_hint_latency_ms is None
    assert (
        engine.validate_report(
            {k: v for k, v in report().items() if k != "avg_hint_latency_ms"}, open_maze()
        ).avg_hint_latency_ms
        is None
    )


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"steps": 7, "hint_count": 0}, "steps"),  # fewer steps than the 8-step shortest path, with no hint to help
        ({"steps": 0, "hint_count": 2, "backtracks": 0, "collisions": 0}, "steps"),  # even a hinted win takes a step
        ({"steps": 100, "duration_ms": 3999}, "duration_ms"),  # 100 steps need 4000 ms
        ({"duration_ms": 999}, "duration_ms"),
        ({"duration_ms": 24 * 3600 * 1000 + 1}, "duration_ms"),
        ({"steps": 100001}, "steps"),
        ({"steps": -1}, "steps"),
        ({"backtracks": 11}, "backtracks"),
        ({"backtracks": -1}, "backtracks"),
        ({"collisions": 752}, "collisions"),  # more bumps than 30 s allows at one per 40 ms
        ({"oxygen_collected": 3 + 20 + 1}, "oxygen_collected"),
        ({"oxygen_collected": -1}, "oxygen_collected"),
        ({"hint_count": 10001}, "hint_count"),
        ({"avg_hint_latency_ms": -1}, "avg_hint_latency_ms"),
        ({"avg_hint_latency_ms": 120001}, "avg_hint_latency_ms"),
        ({"avg_hint_latency_ms": float("nan")}, "avg_hint_latency_ms"),
        ({"avg_hint_latency_ms": float("inf")}, "avg_hint_latency_ms"),
        ({"avg_hint_latency_ms": "fast"}, "avg_hint_latency_ms"),
        ({"avg_hint_latency_ms": True}, "avg_hint_latency_ms"),
        ({"won": "yes"}, "won"),
        ({"won": 1}, "won"),
        ({"steps": True}, "steps"),
        ({"steps": 10.0}, "steps"),
        ({"duration_ms": "30000"}, "duration_ms"),
        ({"hint_count": None}, "hint_count"),
        ({"mode": "auto"}, "mode"),
        ({"mode": ["lam"]}, "mode"),
        ({"steps": None}, "steps"),
    ],
)
def test_impossible_or_malformed_reports_are_refused_naming_the_field(overrides, field):
    with pytest.raises(engine.ReportError) as refused:
        engine.validate_report(report(**overrides), open_maze())
    assert refused.value.field == field
    assert field in str(refused.value) or "steps" in str(refused.value)


def test_missing_fields_and_non_objects_are_refused():
    for name in ("won", "duration_ms", "steps", "backtracks", "collisions", "oxygen_collected", "hint_count", "mode"):
        data = report()
        del data[name]
        with pytest.raises(engine.ReportError) as refused:
            engine.validate_report(data, open_maze())
        assert refused.value.field == name
    with pytest.raises(engine.ReportError):
        engine.validate_report(["won"], open_maze())
    assert isinstance(engine.ReportError("steps", "x"), ValueError)


def test_a_lost_game_may_stop_short_of_the_exit():
    lost = engine.validate_report(report(won=False, steps=3), open_maze())
    assert lost.won is False and lost.steps == 3


# -- score -------------------------------------------------------------------------------------------------


def test_score_of_a_won_game_part_by_part():
    result = engine.score(engine.validate_report(report(), open_maze()), open_maze())
    assert result.parts == {
        "win": 1000,
        "efficiency": 400,
        "oxygen": 100,
        "time": 540,
        "germs": 40,
        "backtracks": -2,
        "collisions": -25,
        "hint_latency": 75,
    }
    assert result.points == 2128
    assert result.path_efficiency == pytest.approx(0.8)


def test_score_rounds_fractions_down_and_caps_the_bonuses_at_zero():
    won = engine.GameReport(
        won=True,
        duration_ms=30500,
        steps=12,
        backtracks=0,
        collisions=0,
        oxygen_collected=0,
        hint_count=1,
        avg_hint_latency_ms=101.0,
        mode="lam",
    )
    result = engine.score(won, open_maze())
    # 500 × 8/12 = 333.3 → 333; (300 − 30.5) × 2 = 539; (400 − 101) / 4 = 74.75 → 74
    assert (result.parts["efficiency"], result.parts["time"], result.parts["hint_latency"]) == (333, 539, 74)
    assert result.points == 1000 + 333 + 539 + 40 + 74
    slow = engine.GameReport(
        won=True,
        duration_ms=400_000,
        steps=8,
        backtracks=0,
        collisions=0,
        oxygen_collected=0,
        hint_count=1,
        avg_hint_latency_ms=500.0,
        mode="lam",
    )
    result = engine.score(slow, open_maze(germs=()))
    assert result.parts["time"] == 0 and result.parts["hint_latency"] == 0 and result.parts["germs"] == 0
    assert result.points == 1500 and result.path_efficiency == 1.0


def test_score_of_a_lost_game_only_counts_oxygen_and_penalties_and_never_goes_below_zero():
    lost = engine.GameReport(
        won=False,
        duration_ms=60000,
        steps=40,
        backtracks=3,
        collisions=1,
        oxygen_collected=2,
        hint_count=2,
        avg_hint_latency_ms=10.0,
        mode="lam",
    )
    result = engine.score(lost, open_maze())
    assert result.parts == {
        "win": 0,
        "efficiency": 0,
        "oxygen": 100,
        "time": 0,
        "germs": 0,
        "backtracks": -6,
        "collisions": -25,
        "hint_latency": 0,
    }
    assert result.points == 69 and result.path_efficiency == pytest.approx(0.2)
    worse = engine.GameReport(
        won=False,
        duration_ms=60000,
        steps=5,
        backtracks=3,
        collisions=4,
        oxygen_collected=1,
        hint_count=0,
        avg_hint_latency_ms=None,
        mode="manual",
    )
    assert engine.score(worse, open_maze()).points == 0  # 50 − 6 − 100 = −56 → 0
    idle = engine.GameReport(
        won=False,
        duration_ms=5000,
        steps=0,
        backtracks=0,
        collisions=0,
        oxygen_collected=0,
        hint_count=0,
        avg_hint_latency_ms=None,
        mode="manual",
    )
    assert engine.score(idle, open_maze()).path_efficiency == 0.0


def test_a_perfect_run_on_a_generated_maze_scores_full_efficiency():
    maze = engine.generate(seed=9)
    shortest = engine.maze_json(maze)["shortest_path_length"]
    data = report(steps=shortest, duration_ms=shortest * 200, avg_hint_latency_ms=None, mode="manual")
    result = engine.score(engine.validate_report(data, maze), maze)
    assert result.path_efficiency == 1.0 and result.parts["efficiency"] == 500
    assert result.parts["germs"] == 20 * len(maze.germs)


# -- fuzz: arbitrary JSON-like input never crashes the validators ---------------------------------------

REPORT_KEYS = [
    "won",
    "duration_ms",
    "steps",
    "backtracks",
    "collisions",
    "oxygen_collected",
    "hint_count",
    "avg_hint_latency_ms",
    "mode",
]
HINT_KEYS = sorted(engine.ACTION_NAMES) + ["hint", "suggestion", "raw", "error", "Error", "err", "x", "y"]


def random_json(rng: random.Random, depth: int = 0):
    """A random JSON-like value biased towards what the validators look at (small ints, points, lists)."""
    kind = rng.randrange(10 if depth < 3 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-3, 9)
    if kind == 2:
        return rng.choice([0, -1, 60001, 10**20, 2**63, 1.5, -0.0, float("nan"), float("inf")])
    if kind == 3:
        return rng.choice(["", "Template updated", "x" * 3000, "é", "1"])
    if kind == 4:
        return [rng.randint(-1, 8), rng.randint(-1, 8)]
    if kind == 5:
        return {"x": rng.randint(-1, 8), "y": rng.choice([rng.randint(-1, 8), "3", None])}
    if kind in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(6))]
    keys = HINT_KEYS + REPORT_KEYS
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(6))}


def assert_hint_check_is_sane(result):
    assert isinstance(result, engine.HintCheck)
    assert set(result.applied) <= engine.ACTION_NAMES
    assert all(set(i) == {"action", "reason"} and isinstance(i["reason"], str) for i in result.ignored)
    if result.notice:
        assert result.applied == {}


def test_seeded_fuzz_of_validate_hint_and_validate_report():
    rng = random.Random(1234)
    maze = open_maze()
    for _ in range(3000):
        hint = {rng.choice(HINT_KEYS): random_json(rng) for _ in range(rng.randrange(8))}
        for walls in (None, WALLS):
            assert_hint_check_is_sane(engine.validate_hint(hint, 7, 7, walls))
        assert_hint_check_is_sane(engine.validate_hint(random_json(rng), 7, 7))
        data = report(**{rng.choice(REPORT_KEYS): random_json(rng) for _ in range(rng.randrange(3))})
        try:
            result = engine.validate_report(data, maze)
        except engine.ReportError:
            continue
        assert engine.score(result, maze).points >= 0


if st is not None:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
        lambda children: st.lists(children, max_size=8) | st.dictionaries(st.text(max_size=10), children, max_size=8),
        max_leaves=20,
    )
    points = st.lists(st.integers(-2, 9), min_size=2, max_size=2) | st.fixed_dictionaries(
        {"x": st.integers(-2, 9), "y": st.integers(-2, 9)}
    )
    action_values = json_values | points | st.lists(points, max_size=30) | st.integers(-5, 70000)
    hints = st.dictionaries(st.sampled_from(HINT_KEYS), action_values, max_size=10)
    reports = st.fixed_dictionaries({}, optional={k: json_values | st.integers(-5, 200000) for k in REPORT_KEYS})
    fuzz_settings = make_fuzz_settings(200)
else:  # pragma: no cover
    json_values = hints = reports = fuzz_settings = None


@needs_hypothesis
def test_hypothesis_validate_hint_never_raises():
    @fuzz_settings
    @given(hint=hints | json_values, with_walls=st.booleans())
    def run(hint, with_walls):
        assert_hint_check_is_sane(engine.validate_hint(hint, 7, 7, WALLS if with_walls else None))

    run()


@needs_hypothesis
def test_hypothesis_validate_report_raises_only_report_errors():
    maze = open_maze()

    @fuzz_settings
    @given(data=reports | json_values, base=st.booleans())
    def run(data, base):
        if base and isinstance(data, dict):
            data = report(**data)
        try:
            result = engine.validate_report(data, maze)
        except engine.ReportError as exc:
            assert str(exc)
            return
        assert isinstance(result.steps, int) and result.mode in ("manual", "lam")
        breakdown = engine.score(result, maze)
        assert breakdown.points >= 0 and 0.0 <= breakdown.path_efficiency <= 1.0
        assert not math.isnan(breakdown.path_efficiency)

    run()


def test_a_hinted_win_may_be_shorter_than_the_maze_shortest_path():
    # teleport_player, move_exit and break_wall hints legitimately shorten the way.
    maze = engine.generate(21, 15, seed=3)
    shortest = engine.shortest_path_length(maze)
    report = engine.validate_report(
        {
            "won": True,
            "duration_ms": 10000,
            "steps": max(1, shortest - 5),
            "backtracks": 0,
            "collisions": 0,
            "oxygen_collected": 0,
            "hint_count": 1,
            "avg_hint_latency_ms": 10,
            "mode": "lam",
        },
        maze,
    )
    assert report.won and report.steps < shortest
