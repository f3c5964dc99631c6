"""Building the maze messages of PROTOCOL.md from what the browser sends (pure: no Django import).

The browser's grid marks walls with 1; PROTOCOL.md's `visible_map` marks FLOOR with 1. The conversion goes
through maze.engine explicitly, and tests pin it down, because the earlier platform got it wrong.
"""

from __future__ import annotations

from typing import Any

from . import engine

MAX_LIST = 500

# The system prompt of a game without a template, sent in every state message like a template's. The LLM service
# applies a template update to its whole maze project (docs/protocol.md), so a game that sent no prompt of its own
# would get hints from whatever template it heard last, someone else's.
DEFAULT_TEMPLATE = {
    "title": "Default maze guide",
    "content": (
        "You are the guide of a maze game. The player must reach the exit while avoiding germs. "
        "visible_map[y][x] is 1 for floor and 0 for wall; positions are [x, y]; y grows southwards. "
        'Answer with one JSON object: {"hint": "<short advice>", "suggestion": "<optional>", '
        '"path": [[x, y], ...] (optional next steps)}.'
    ),
    "version": 0,
    "user_id": None,
}


class StateError(ValueError):
    """The browser's state message is unusable; the message says which field."""


def _point(value: Any, width: int, height: int, name: str) -> list[int]:
    cell = engine.parse_point(value, width, height)
    if cell is None:
        raise StateError(f"'{name}' must be [x, y] inside the {width}×{height} board")
    return [cell[0], cell[1]]


def _points(value: Any, width: int, height: int, name: str) -> list[dict[str, int]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise StateError(f"'{name}' must be a list of at most {MAX_LIST} points")
    return [{"x": p[0], "y": p[1]} for p in (_point(v, width, height, name) for v in value)]


def _int(value: Any, name: str, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise StateError(f"'{name}' must be a whole number from {low} to {high}")
    return value


def start_state_payload(
    *, maze: engine.Maze, session_key: str, template: dict | None, hint_base: str, tick: int = 0
) -> dict[str, Any]:
    """The `maze/state` message of a game that has just started on `maze`, built as the game's socket builds it:
    from what the browser would send (its grid, 1 = wall) through `state_payload`."""
    board = engine.maze_json(maze)
    browser_state = {
        "walls": board["walls"],
        "player": board["start"],
        "exit": board["exit"],
        "pellets": board["pellets"],
        "germs": board["germs"],
        "tick": tick,
        "health": 100,
        "oxygen": 100,
    }
    return state_payload(
        session_key=session_key,
        state=browser_state,
        width=maze.width,
        height=maze.height,
        template=template,
        hint_base=hint_base,
    )


def state_payload(
    *, session_key: str, state: Any, width: int, height: int, template: dict | None, hint_base: str
) -> dict[str, Any]:
    """The `maze/state` message for one game from the browser's state; StateError when it is unusable."""
    if not isinstance(state, dict):
        raise StateError("'state' must be an object")
    try:
        walls = engine.from_client_grid(state.get("walls"))
    except (ValueError, TypeError) as exc:
        raise StateError(f"'walls' {exc}") from None
    if len(walls) != height or any(len(row) != width for row in walls):
        raise StateError(f"'walls' must be {height} rows of {width} cells")
    payload = {
        "sessionId": session_key,
        "player_pos": _point(state.get("player"), width, height, "player"),
        "exit_pos": _point(state.get("exit"), width, height, "exit"),
        "visible_map": engine.to_protocol_map(walls),  # 1 = floor here
        "oxygenPellets": _points(state.get("pellets"), width, height, "pellets"),
        "germs": _points(state.get("germs"), width, height, "germs"),
        "tick": _int(state.get("tick"), "tick", 0, 2**53, 0),
        "health": _int(state.get("health"), "health", 0, 100, 100),
        "oxygen": _int(state.get("oxygen"), "oxygen", 0, 100, 100),
        "replyTopic": f"{hint_base}/{session_key}",
    }
    # Always the prompt in effect for this game: no game may depend on what the service last heard elsewhere.
    payload["prompt_template"] = template if template is not None else DEFAULT_TEMPLATE
    return payload


def template_payload(*, session_key: str, template: dict, reset: bool = True, max_breaks: int = 3) -> dict[str, Any]:
    """A template update for ONE game session (`maze/template/<sessionId>`): never the all-sessions form."""
    return {
        "sessionId": session_key,
        "template": template["content"],
        "systemPrompt": template["content"],
        "title": template["title"],
        "version": template["version"],
        "user_id": template["user_id"],
        "reset": reset,
        "max_breaks": max_breaks,
    }
