"""Pure offline answers: a labelled echo for chat (with test hooks) and a shortest-path hint for the maze.

The chat hooks are message prefixes that let tests make the offline "model" misbehave on purpose: the reply hooks
(!error, !overload, !noreply, !sleep) shape the final reply; the stream hooks (!stall, !partial, !streamfail,
!dupchunks, !shufflechunks, !dropchunks) shape only the chunks of a streamed answer (offline_stream.py plays them),
so a request without streaming gets the plain echo for them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from .payloads import MazeState, Point

MAX_ECHO_CHARS = 500
MAX_SLEEP_SECONDS = 120.0
PATH_STEPS = 12
DESCRIBED_RUNS = 3

OVERLOADED = "Server is overloaded. Please try again in a moment."
SIMULATED_FAILURE = "Error: simulated model failure"


# Stream hooks, matched on the message's first word; offline_stream.py says what each does to the chunks.
STREAM_HOOKS = ("!stall", "!partial", "!streamfail", "!dupchunks", "!shufflechunks", "!dropchunks")


@dataclass(frozen=True)
class ChatAnswer:
    """`text` None means: never reply. `wait` is extra seconds before replying (before the first chunk when
    streamed). `streamable` is False for error answers, which are only ever a final reply. `stream_hook` is the
    stream hook the message asked for, `stall` its pause in seconds (!stall)."""

    text: str | None
    wait: float = 0.0
    streamable: bool = True
    stream_hook: str | None = None
    stall: float = 0.0


def _seconds_argument(message: str) -> float:
    parts = message.split(maxsplit=2)
    try:
        seconds = float(parts[1])
    except (IndexError, ValueError):
        return 0.0
    if not seconds > 0:  # also NaN
        return 0.0
    return min(seconds, MAX_SLEEP_SECONDS)


def chat_answer(message: str) -> ChatAnswer:
    """The offline reply. Hooks let tests simulate a failing, overloaded, slow, silent or badly streaming model;
    the echo always quotes the whole message, hook included, so a test can tell which request a reply answers."""
    text = message.strip()
    if text.startswith("!error"):
        return ChatAnswer(SIMULATED_FAILURE, streamable=False)
    if text.startswith("!overload"):
        return ChatAnswer(OVERLOADED, streamable=False)
    if text.startswith("!noreply"):
        return ChatAnswer(None, streamable=False)
    echo = f"[offline] You said: {text[:MAX_ECHO_CHARS]}"
    if text.startswith("!sleep"):
        return ChatAnswer(echo, wait=_seconds_argument(text))
    hook = text.split(maxsplit=1)[0] if text else ""
    if hook in STREAM_HOOKS:
        stall = _seconds_argument(text) if hook == "!stall" else 0.0
        return ChatAnswer(echo, stream_hook=hook, stall=stall)
    return ChatAnswer(echo)


_STEPS = ((1, 0, "east"), (-1, 0, "west"), (0, 1, "south"), (0, -1, "north"))  # y grows downwards (rows)
_DIRECTION = {(dx, dy): name for dx, dy, name in _STEPS}


def _neighbours(point: Point):
    x, y = point
    for dx, dy, _ in _STEPS:
        yield x + dx, y + dy


def _bfs(state: MazeState, blocked: set[Point]) -> list[Point] | None:
    """Shortest floor path from player to exit (both ends included), never entering `blocked`."""
    start, goal = state.player, state.exit
    came_from: dict[Point, Point | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if current == goal:
            path = []
            node: Point | None = current
            while node is not None:
                path.append(node)
                node = came_from[node]
            return path[::-1]
        for nxt in _neighbours(current):
            if nxt not in came_from and state.is_floor(nxt) and nxt not in blocked:
                came_from[nxt] = current
                queue.append(nxt)
    return None


def _safest_path(state: MazeState) -> tuple[list[Point] | None, str]:
    """Try avoiding germs and their neighbours, then germs only, then ignore germs; say which one worked."""
    near_germs = set(state.germs)
    for germ in state.germs:
        near_germs.update(_neighbours(germ))
    endpoints = {state.player, state.exit}  # never block where the player stands or must arrive
    attempts = (
        (near_germs - endpoints, "clear"),
        (set(state.germs) - endpoints, "near_germs"),
        (set(), "through_germs"),
    )
    for blocked, risk in attempts:
        path = _bfs(state, blocked)
        if path is not None:
            return path, risk
    return None, "unreachable"


def _runs(path: list[Point]) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        name = _DIRECTION[(x1 - x0, y1 - y0)]
        if runs and runs[-1][0] == name:
            runs[-1] = (name, runs[-1][1] + 1)
        else:
            runs.append((name, 1))
    return runs


def _describe(runs: list[tuple[str, int]]) -> str:
    words = [f"{name} {count}" for name, count in runs[:DESCRIBED_RUNS]]
    text = "Head " + ", then ".join(words)
    if len(runs) > DESCRIBED_RUNS:
        text += ", then follow the path"
    return text + "."


def _general_direction(src: Point, dst: Point) -> str:
    dx, dy = dst[0] - src[0], dst[1] - src[1]
    vertical = "south" if dy > 0 else "north" if dy < 0 else ""
    horizontal = "east" if dx > 0 else "west" if dx < 0 else ""
    return "-".join(part for part in (vertical, horizontal) if part)


_SUGGESTIONS = {
    "clear": "The route keeps clear of germs.",
    "near_germs": "The only route passes next to a germ: time your move or slow the germs.",
    "through_germs": "Germs block every route: wait for them to move, or freeze them first.",
}


def maze_hint(state: MazeState) -> dict:
    """The hint object of PROTOCOL.md "Maze hint"; `path` holds the next steps, without the current cell."""
    if state.player == state.exit:
        return {"hint": "You are on the exit!", "suggestion": "Step through to finish the maze."}
    path, risk = _safest_path(state)
    if path is None:
        direction = _general_direction(state.player, state.exit)
        return {
            "hint": f"No path to the exit is visible yet; explore {direction} to reveal more of the maze.",
            "suggestion": "Look for openings toward the exit and collect oxygen on the way.",
        }
    steps = len(path) - 1
    return {
        "hint": _describe(_runs(path)),
        "path": [[x, y] for x, y in path[1 : PATH_STEPS + 1]],
        "show_path": True,
        "suggestion": f"The exit is {steps} step{'s' if steps != 1 else ''} away. {_SUGGESTIONS[risk]}",
    }
