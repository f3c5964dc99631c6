"""The server-side autopilot of template evaluations (maze/autopilot.py): the browser's game rules on a virtual
clock, scored from the server's record of the play. Pure Python: no database, no sleeps."""

import json

import pytest

from maze import engine, protocol
from maze.autopilot import (
    AUTO_HINT_IDLE_MS,
    AUTO_STEP_MS,
    CAUGHT,
    GERM_STEP_MS,
    NO_OXYGEN,
    NO_TOGGLE,
    TICK_MS,
    WON,
    AutopilotGame,
)

LATENCY = 300


def open_maze(seed=3):
    return engine.generate(15, 11, germ_count=0, seed=seed)


def best_path(maze):
    return [list(c) for c in engine.shortest_path(maze.walls, maze.start, maze.exit)]


def hinted(game, hint, latency=LATENCY):
    """As the runner plays a hint: the clock runs while the LLM thinks, then the answer is applied."""
    game.wait(latency)
    return game.apply_hint(hint, latency_ms=latency)


def inner_wall_next_to_start(maze):
    x, y = maze.start
    for cell in ((x + 1, y), (x, y + 1)):
        if maze.walls[cell[1]][cell[0]] and 0 < cell[0] < maze.width - 1 and 0 < cell[1] < maze.height - 1:
            return list(cell)
    return None


def corridor(germ=(3, 1)):
    """A 7×3 corridor from (1, 1) to (5, 1): a germ in it cannot be dodged."""
    walls = tuple(tuple(x in (0, 6) or y != 1 for x in range(7)) for y in range(3))
    return engine.Maze(7, 3, walls, (1, 1), (5, 1), (), (germ,) if germ else ())


def test_the_shortest_path_wins_at_the_autopilots_pace():
    maze = open_maze()
    game = AutopilotGame(maze, seed=1)
    record = hinted(game, {"hint": "go", "path": best_path(maze)})
    assert record["applied"] == ["path"] and record["ignored"] == [] and record["at_ms"] == LATENCY
    game.run_until_idle()

    result = game.result()
    assert game.status == "won" and result["won"] and result["end_reason"] == WON
    assert result["steps"] == result["shortest_path"] == engine.shortest_path_length(maze)
    assert result["path_efficiency"] == 1.0 and result["collisions"] == 0 and result["backtracks"] == 0
    report = engine.GameReport(
        True, result["duration_ms"], result["steps"], 0, 0, result["oxygen_collected"], 1, float(LATENCY), "lam"
    )
    assert result["points"] > 1000 and result["points"] == engine.score(report, maze).points
    # One cell a turn: a turn is due AUTO_STEP_MS after the last and looked at every TICK_MS.
    walking = result["duration_ms"] - LATENCY
    assert result["steps"] * AUTO_STEP_MS <= walking <= result["steps"] * (AUTO_STEP_MS + TICK_MS)
    assert result["trail"] == best_path(maze)
    assert result["hint_count"] == 1 and result["avg_hint_latency_ms"] == LATENCY
    assert result["actions_used"] == {"path": 1} and result["actions_ignored"] == {}
    json.dumps(result)  # stored as JSON by the runner


def test_a_speed_boost_walks_two_cells_a_turn():
    maze = open_maze()
    plain, boosted = AutopilotGame(maze, seed=1), AutopilotGame(maze, seed=1)
    hinted(plain, {"path": best_path(maze)})
    hinted(boosted, {"path": best_path(maze), "speed_boost_ms": 60_000})
    for game in (plain, boosted):
        game.run_until_idle()
    assert plain.result()["steps"] == boosted.result()["steps"]
    assert boosted.result()["duration_ms"] - LATENCY <= (plain.result()["duration_ms"] - LATENCY) / 2 + TICK_MS * 3


def test_the_same_seed_and_hints_play_the_same_game():
    maze = engine.generate(21, 15, germ_count=6, seed=11)

    def play(seed):
        game = AutopilotGame(maze, seed=seed)
        hinted(game, {"hint": "run", "path": best_path(maze)[:8]})
        game.run_until_idle()
        if game.playing:
            hinted(game, {"path": best_path(maze), "slow_germs_ms": 3000})
            game.run_until_idle()
        game.give_up("hint budget spent")
        return game.result()

    assert play(5) == play(5)


def test_without_hints_germs_or_oxygen_end_the_game():
    maze = engine.generate(15, 11, germ_count=30, seed=3)
    game = AutopilotGame(maze, seed=2)
    for _ in range(1000):
        if not game.playing:
            break
        game.run_until_idle()
    assert game.status == "lost" and game.end_reason in (CAUGHT, NO_OXYGEN)
    assert game.result()["won"] is False and game.result()["points"] == 0


def test_oxygen_runs_out_after_200_seconds_without_pellets():
    game = AutopilotGame(engine.generate(15, 11, germ_count=0, pellet_count=0, seed=3), seed=1)
    while game.playing:
        game.run_until_idle()
    assert game.end_reason == NO_OXYGEN and game.clock_ms == 200_000
    assert game.result()["duration_ms"] == 200_000


def test_a_germ_in_a_corridor_catches_the_player_and_later_hints_do_nothing():
    game = AutopilotGame(corridor(), seed=1)
    hinted(game, {"path": [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1]]})
    game.run_until_idle()
    assert game.status == "lost" and game.end_reason == CAUGHT
    ended = game.clock_ms
    game.wait(5000)
    assert game.clock_ms == ended  # the clock stopped with the game
    late = game.apply_hint({"path": [[1, 1], [2, 1]]}, latency_ms=100)
    assert late["applied"] == [] and late["ignored"] == [{"action": "path", "reason": "the game is over"}]
    assert game.result()["hint_count"] == 1


def test_frozen_germs_stay_put():
    game = AutopilotGame(corridor(germ=(5, 1)), seed=1)
    hinted(game, {"freeze_germs_ms": 10_000}, latency=0)
    game.wait(9_000)
    assert game.browser_state()["germs"] == [[5, 1]]
    game.wait(1_000 + GERM_STEP_MS)  # the freeze is over: the germ's clock starts again
    assert game.browser_state()["germs"] != [[5, 1]]


def test_a_path_through_a_wall_and_unknown_keys_are_ignored_with_reasons():
    maze = open_maze()
    game = AutopilotGame(maze, seed=1)
    record = hinted(game, {"hint": "through", "path": [[1, 1], [0, 1]], "dance": True})
    assert record["declared"] == ["path", "dance"] and record["applied"] == []
    assert {"action": "path", "reason": "the path crosses a wall at 0, 1"} in record["ignored"]
    assert {"action": "dance", "reason": "unknown action 'dance'"} in record["ignored"]
    game.give_up("enough")
    result = game.result()
    assert result["actions_ignored"] == {"path": 1, "dance": 1} and result["end_reason"] == "enough"
    assert result["hint_count"] == 1  # ignored actions do not make it an error


def test_a_broken_wall_opens_the_way_and_the_play_record_accepts_it():
    maze = next(m for m in (open_maze(seed) for seed in range(50)) if inner_wall_next_to_start(m))
    wall = inner_wall_next_to_start(maze)
    game = AutopilotGame(maze, seed=1)
    record = hinted(game, {"break_wall": wall, "path": [list(maze.start), wall]})
    assert record["applied"] == ["break_wall", "path"] and record["ignored"] == []
    assert game.browser_state()["walls"][wall[1]][wall[0]] == 0
    assert game.play.walls[wall[1]][wall[0]] is False and game.play.breaks_left == 2
    game.run_until_idle()
    assert game.play.player == tuple(wall) and game.result()["steps"] == 1
    assert game.result()["actions_used"] == {"break_wall": 1, "path": 1}


def test_no_more_than_three_walls_break_in_a_game():
    maze = open_maze()
    inner = [
        [x, y] for y in range(1, maze.height - 1) for x in range(1, maze.width - 1) if maze.walls[y][x] and (x + y) % 2
    ][:4]
    game = AutopilotGame(maze, seed=1)
    record = hinted(game, {"break_walls": inner})
    assert record["applied"] == ["break_walls"]
    assert record["ignored"] == [{"action": "break_walls", "reason": "no wall breaks left"}]
    assert game.play.breaks_left == 0


def test_teleport_pellets_and_exit_go_into_the_play_record():
    maze = open_maze()
    path = best_path(maze)
    free = [c for c in path[3:-3] if tuple(c) not in maze.pellets]
    to, pellet, exit_ = free[0], free[1], free[2]
    game = AutopilotGame(maze, seed=1)
    record = hinted(game, {"teleport_player": to, "spawn_oxygen": [pellet], "move_exit": exit_})
    assert record["applied"] == ["teleport_player", "spawn_oxygen", "move_exit"] and record["ignored"] == []
    assert game.play.player == tuple(to) and tuple(pellet) in game.play.pellets and game.play.exit == tuple(exit_)
    state = game.browser_state()
    assert state["player"] == to and pellet in state["pellets"] and state["exit"] == exit_
    assert game.result()["trail"] == [list(maze.start), to]


def test_turning_the_autopilot_off_is_refused_and_notices_are_not_hints():
    game = AutopilotGame(open_maze(), seed=1)
    assert game.apply_hint({"hint": "Template updated"}, latency_ms=5) is None
    record = hinted(game, {"toggle_autopilot": False, "reveal_map": True, "highlight_zone": [[1, 1]]})
    assert record["n"] == 1
    assert record["ignored"] == [{"action": "toggle_autopilot", "reason": NO_TOGGLE}]
    assert record["applied"] == ["highlight_zone", "reveal_map"]  # accepted; nothing to show here


def test_a_missing_answer_is_recorded_but_not_counted():
    maze = open_maze()
    game = AutopilotGame(maze, seed=1)
    game.wait(10_000)
    missing = game.hint_missing(reason="The model did not answer within 10 s.", latency_ms=10_000)
    assert missing["error"] and missing["n"] == 1 and missing["applied"] == [] and missing["text"] is None
    hinted(game, {"path": best_path(maze)}, latency=200)
    game.run_until_idle()
    result = game.result()
    assert result["won"] and result["hint_count"] == 1 and result["avg_hint_latency_ms"] == 200
    assert [h["n"] for h in result["hints"]] == [1, 2]


def test_an_error_answer_is_not_counted():
    game = AutopilotGame(open_maze(), seed=1)
    record = hinted(game, {"raw": "I cannot help with mazes"})
    assert record["error"] == "I cannot help with mazes" and record["text"] == "I cannot help with mazes"
    game.give_up("LLM silent")
    assert game.result()["hint_count"] == 0 and game.result()["avg_hint_latency_ms"] is None


def test_run_until_idle_stops_when_the_path_runs_out():
    maze = open_maze()
    game = AutopilotGame(maze, seed=1)
    short = best_path(maze)[:4]
    hinted(game, {"path": short})
    game.run_until_idle()
    assert game.playing and game.browser_state()["player"] == short[-1] and game.result()["steps"] == 3
    last_step_ms = game.play.last_ms
    assert game.clock_ms - last_step_ms >= AUTO_HINT_IDLE_MS
    before = game.clock_ms
    game.run_until_idle()  # still nothing to follow: asks again at the next turn
    assert game.playing and before < game.clock_ms <= before + 3 * TICK_MS


@pytest.mark.parametrize("seed", [1, 2])
def test_the_browser_state_builds_a_protocol_state_message(seed):
    maze = engine.generate(15, 11, germ_count=3, seed=seed)
    game = AutopilotGame(maze, seed=seed)
    game.wait(1234)
    state = game.browser_state()
    assert set(state) == {"player", "exit", "walls", "pellets", "germs", "tick", "health", "oxygen"}
    assert state["tick"] == game.clock_ms == 1234
    payload = protocol.state_payload(
        session_key="eval-1", state=state, width=maze.width, height=maze.height, template=None, hint_base="maze/hint"
    )
    assert payload["player_pos"] == list(maze.start) and payload["oxygen"] == 100
    assert payload["visible_map"] == engine.to_protocol_map(maze.walls)
