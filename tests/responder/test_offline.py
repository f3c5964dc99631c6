from responder.offline import MAX_SLEEP_SECONDS, OVERLOADED, PATH_STEPS, SIMULATED_FAILURE, chat_answer, maze_hint
from responder.payloads import parse_maze_state


def state(grid, player, exit_, germs=()):
    return parse_maze_state(
        {
            "player_pos": list(player),
            "exit_pos": list(exit_),
            "visible_map": grid,
            "germs": [{"x": x, "y": y} for x, y in germs],
        }
    )


def assert_walkable(grid, start, path):
    previous = start
    for x, y in path:
        assert grid[y][x] == 1, f"path enters wall {[x, y]}"
        assert abs(x - previous[0]) + abs(y - previous[1]) == 1, "path jumps"
        previous = (x, y)


# -- chat ---------------------------------------------------------------------------------------------
def test_offline_chat_echoes_the_message_with_a_label():
    assert chat_answer("  How do I escape?  ").text == "[offline] You said: How do I escape?"


def test_offline_chat_truncates_long_messages():
    assert chat_answer("x" * 2000).text == "[offline] You said: " + "x" * 500


def test_offline_chat_hooks():
    assert chat_answer("!error please").text == SIMULATED_FAILURE == "Error: simulated model failure"
    assert chat_answer("!overload").text == OVERLOADED
    assert chat_answer("!noreply anything").text is None
    slow = chat_answer("!sleep 2 answer me later")
    assert slow.wait == 2 and slow.text == "[offline] You said: !sleep 2 answer me later"
    assert chat_answer("!sleep 9999").wait == MAX_SLEEP_SECONDS
    assert chat_answer("!sleep soon").wait == 0
    assert chat_answer("hello").wait == 0


def test_offline_stream_hooks_keep_the_echo_and_say_how_to_stream():
    for hook in ("!partial", "!streamfail", "!dupchunks", "!shufflechunks", "!dropchunks"):
        answer = chat_answer(f"{hook} some text")
        assert answer.text == f"[offline] You said: {hook} some text" and answer.stream_hook == hook
        assert answer.streamable and answer.wait == 0
    stall = chat_answer("!stall 2.5 some text")
    assert (stall.stream_hook, stall.stall, stall.text) == ("!stall", 2.5, "[offline] You said: !stall 2.5 some text")
    assert chat_answer("!stall 9999 x").stall == MAX_SLEEP_SECONDS
    assert chat_answer("!partially not a hook").stream_hook is None  # hooks are whole first words
    assert not chat_answer("!error").streamable and not chat_answer("!overload").streamable


# -- maze ---------------------------------------------------------------------------------------------
def test_hint_reaches_the_exit_and_describes_the_route():
    grid = [[1, 1, 1], [0, 0, 1], [0, 0, 1]]
    hint = maze_hint(state(grid, (0, 0), (2, 2)))
    assert hint["path"] == [[1, 0], [2, 0], [2, 1], [2, 2]]
    assert hint["hint"] == "Head east 2, then south 2."
    assert hint["show_path"] is True and "4 steps" in hint["suggestion"]


def test_one_is_floor_and_zero_is_wall():
    # With the inverse convention (0 = floor) the direct cells (0, 1) would be open and the exit one step away;
    # with 1 = floor the only way round is the U of ones.
    grid = [[1, 1, 1], [0, 0, 1], [1, 1, 1]]
    hint = maze_hint(state(grid, (0, 0), (0, 2)))
    assert hint["path"] == [[1, 0], [2, 0], [2, 1], [2, 2], [1, 2], [0, 2]]
    assert hint["hint"] == "Head east 2, then south 2, then west 2."


def test_hint_keeps_clear_of_germs_when_another_route_exists():
    grid = [
        [1, 1, 1, 1, 1],
        [1, 0, 1, 0, 1],  # the germ waits in the pocket at (2, 1), next to the short top route
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 1],
    ]
    hint = maze_hint(state(grid, (0, 0), (4, 0), germs=[(2, 1)]))
    full = maze_hint(state(grid, (0, 0), (4, 0)))
    assert full["path"] == [[1, 0], [2, 0], [3, 0], [4, 0]]  # without the germ: straight along the top
    assert [2, 0] not in hint["path"] and hint["path"][:3] == [[0, 1], [0, 2], [0, 3]]
    assert "clear of germs" in hint["suggestion"]


def test_hint_passes_a_germ_only_when_there_is_no_other_way():
    corridor = [[1, 1, 1, 1, 1]]
    near = maze_hint(state([[1, 1, 1, 1, 1], [0, 0, 1, 0, 0]], (0, 0), (4, 0), germs=[(2, 1)]))
    assert near["path"] == [[1, 0], [2, 0], [3, 0], [4, 0]] and "next to a germ" in near["suggestion"]
    through = maze_hint(state(corridor, (0, 0), (4, 0), germs=[(2, 0)]))
    assert through["path"] == [[1, 0], [2, 0], [3, 0], [4, 0]] and "block every route" in through["suggestion"]


def test_path_holds_at_most_the_next_steps():
    grid = [[1] * 30]
    hint = maze_hint(state(grid, (0, 0), (29, 0)))
    assert len(hint["path"]) == PATH_STEPS == 12
    assert hint["path"][0] == [1, 0] and hint["hint"] == "Head east 29."


def test_long_route_hint_names_the_first_turns():
    grid = [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1]]
    hint = maze_hint(state(grid, (0, 0), (3, 3)))
    assert_walkable(grid, (0, 0), hint["path"])
    assert hint["hint"] == "Head east 1, then south 1, then east 1, then follow the path."


def test_unreachable_exit():
    grid = [[1, 0, 1], [1, 0, 1]]
    hint = maze_hint(state(grid, (0, 0), (2, 1)))
    assert hint["hint"].startswith("No path to the exit is visible yet; explore south-east")
    assert "path" not in hint


def test_exit_outside_the_visible_map_is_unreachable_not_an_error():
    hint = maze_hint(state([[1, 1]], (0, 0), (5, 0)))
    assert hint["hint"].startswith("No path to the exit is visible yet") and "path" not in hint


def test_player_on_the_exit():
    hint = maze_hint(state([[1]], (0, 0), (0, 0)))
    assert "exit" in hint["hint"] and "path" not in hint
