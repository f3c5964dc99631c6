"""The score formula as rows for people (the leaderboard page, docs/api.md), built from the engine's constants.

Built, not written out, so the table a player reads cannot drift from what `engine.score` computes: change a
constant there and the page follows; add a part there and tests/unit/test_leaderboard.py fails until it is here.
"""

from __future__ import annotations

from . import engine


def _signed(points: int) -> str:
    # A typographic minus, as docs/api.md writes it: a hyphen reads as a dash in running text.
    return f"−{-points}" if points < 0 else str(points)


def formula_parts() -> list[dict]:
    """[{key, part, points}]: `key` names the part in a score's `parts`, `points` says how it is counted."""
    e = engine
    rows = [
        ("win", "win", f"{e.WIN_BONUS} on a win, 0 on a loss"),
        (
            "efficiency",
            "efficiency",
            f"{e.EFFICIENCY_POINTS} × path efficiency (shortest path ÷ steps taken, at most 1), win only",
        ),
        ("oxygen", "oxygen", f"{e.OXYGEN_POINTS} per pellet collected"),
        ("time", "time", f"max(0, {e.TIME_BUDGET_S} − seconds) × {e.TIME_POINTS_PER_S}, win only"),
        ("germs", "germs", f"{e.GERM_POINTS} per germ in the maze, win only"),
        ("backtracks", "backtracks", f"{_signed(e.BACKTRACK_POINTS)} each"),
        ("collisions", "collisions", f"{_signed(e.COLLISION_POINTS)} each (a move into a wall)"),
        (
            "hint_latency",
            "hint latency",
            f"max(0, {e.LATENCY_BUDGET_MS} − average hint latency in ms) ÷ {e.LATENCY_DIVISOR}, "
            "win only, when hints were used",
        ),
    ]
    return [{"key": key, "part": part, "points": points} for key, part, points in rows]
