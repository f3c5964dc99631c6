"""Scores come only from the play the server saw (maze/play.py, maze.services.game_finish): the steps and hint
effects it received and checked; a report that disagrees is refused with a 400 naming the field."""

import pytest

from maze import engine, services
from maze.play import Play, PlayError
from portal.http import InvalidInput

pytestmark = pytest.mark.django_db

NAMES = {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}


def walk(play: Play, cells, start_ms=1000, ms_per_step=250):
    """Step along consecutive cells, as the browser reports them."""
    at = start_ms
    for a, b in zip(cells, cells[1:]):
        at += ms_per_step
        assert play.step(NAMES[(b[0] - a[0], b[1] - a[1])], True, at) == "moved"


def honest_report(play: Play, mode="manual", **overrides):
    report = {
        "won": play.status == "won",
        "duration_ms": play.won_ms or 60000,
        "steps": play.steps,
        "backtracks": play.backtracks,
        "collisions": play.collisions,
        "oxygen_collected": play.oxygen_collected,
        "hint_count": play.hint_count,
        "avg_hint_latency_ms": play.avg_hint_latency_ms,
        "mode": mode,
    }
    report.update(overrides)
    return report


@pytest.fixture
def game(django_user_model):
    owner = django_user_model.objects.create_user("pia", password="pw-pia-123456")
    game, maze = services.game_create(owner=owner, width=21, height=15, germs=0, mode="manual", template=None)
    return game, maze


def test_the_forged_report_of_a_game_never_played_is_refused(game):
    game, _ = game
    forged = {
        "won": True,
        "duration_ms": 1000,
        "steps": 1,
        "backtracks": 0,
        "collisions": 0,
        "oxygen_collected": 0,
        "hint_count": 1,
        "avg_hint_latency_ms": 0,
        "mode": "manual",
    }
    with pytest.raises(InvalidInput) as refused:
        services.game_finish(game=game, report_data=forged)
    assert refused.value.status == 400 and "saw no play" in refused.value.detail


def test_a_played_game_scores_by_the_formula_and_a_disagreeing_report_is_refused(game):
    game, maze = game
    play = Play.new(maze)
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)
    play.step("up", True, 500)  # into the outer wall above the start: a collision, no step
    walk(play, path)
    assert play.status == "won" and play.steps == len(path) - 1 and play.collisions == 1
    with pytest.raises(InvalidInput) as refused:
        services.game_finish(game=game, report_data=honest_report(play, steps=play.steps + 1), play=play.to_json())
    assert refused.value.field == "steps" and f"saw {play.steps}" in refused.value.detail
    with pytest.raises(InvalidInput) as one_hint:  # a hint that never reached the game
        services.game_finish(game=game, report_data=honest_report(play, hint_count=1), play=play.to_json())
    assert one_hint.value.field == "hint_count"
    score = services.game_finish(game=game, report_data=honest_report(play), play=play.to_json())
    expected = engine.score(play.report("manual", engine.validate_report(honest_report(play), maze)), maze)
    assert score.points == expected.points and score.won and score.path_efficiency == 1.0
    assert score.duration_ms == play.won_ms and score.collisions == 1
    with pytest.raises(InvalidInput) as again:  # a report sent twice scores once
        services.game_finish(game=game, report_data=honest_report(play), play=play.to_json())
    assert again.value.status == 409


def test_backtracks_pellets_and_walls_as_the_browser_counts_them(game):
    _, maze = game
    play = Play.new(maze)
    path = engine.shortest_path(maze.walls, maze.start, maze.exit)
    walk(play, path[:3])
    back = NAMES[(path[1][0] - path[2][0], path[1][1] - path[2][1])]
    assert play.step(back, True, 5000) == "moved" and play.backtracks == 1
    collected = play.oxygen_collected  # the random maze may have put a pellet on the first steps already
    play.pellets.add(path[2])
    walk(play, path[1:3])
    assert play.oxygen_collected == collected + 1 and path[2] not in play.pellets
    assert play.step("up", False, 6000) in ("moved", "wall")  # a held key's bump is no new collision
    assert play.collisions == 0


def test_hint_effects_are_accepted_only_as_the_hint_allowed(game):
    _, maze = game
    play = Play.new(maze)
    floor = next(c for c in engine.shortest_path(maze.walls, maze.start, maze.exit)[3:])
    wall = next((x, y) for y in range(1, maze.height - 1) for x in range(1, maze.width - 1) if maze.walls[y][x])
    hint_id = play.hint_relayed({"teleport_player": list(floor), "break_walls": [list(wall)]}, 120.0, False)
    with pytest.raises(PlayError):
        play.hint_effects(hint_id, {"teleport": list(maze.exit)}, 100)  # not where the hint said
    with pytest.raises(PlayError):
        play.hint_effects(hint_id + 1, {"teleport": list(floor)}, 100)  # no such hint
    play.hint_effects(hint_id, {"teleport": list(floor), "break": [list(wall)]}, 100)
    assert play.player == floor and not play.walls[wall[1]][wall[0]] and play.breaks_left == 2
    with pytest.raises(PlayError):
        play.hint_effects(hint_id, {"teleport": list(floor)}, 200)  # reported twice
    assert play.hint_count == 1 and play.avg_hint_latency_ms == 120.0


def test_the_record_survives_storage(game):
    _, maze = game
    play = Play.new(maze)
    walk(play, engine.shortest_path(maze.walls, maze.start, maze.exit)[:4])
    play.hint_relayed({}, None, True)
    again = Play.from_json(play.to_json(), maze)
    assert again.to_json() == play.to_json() and again.player == play.player
