"""The maze game's rules, in pure Python (stdlib only, no Django) so they are tested fast.

Coordinates are `(x, y)`: x = column, y = row, and grids are indexed `grid[y][x]`.

Three grid conventions meet here, so every conversion goes through one named function:

* inside the engine, `walls[y][x]` is True for a wall;
* the browser's grid (`from_client_grid`, `maze_json`) uses 1 = WALL, 0 = floor;
* PROTOCOL.md's `visible_map` (`to_protocol_map`, `from_protocol_map`) uses 1 = FLOOR, 0 = wall.

Generation: a randomised depth-first ("perfect") maze on the odd cells, then about width*height/60 extra
walls opened so there are loops and germs can be dodged. The outer border is always wall, start = (1, 1),
exit = (width-2, height-2), and the same seed always gives the same maze.

Hints from the LLM service are checked by `validate_hint`: actions may go by the earlier platform's names
(maze/hint_aliases.py), invalid actions are dropped with a reason in plain words, unknown keys are reported as
ignored, and nothing ever raises.

Score (`score`), an int that is never below 0, is the sum of these parts:

    win          1000 on a win, 0 on a loss
    efficiency   500 × path_efficiency                       (win only)
    oxygen       50 × oxygen pellets collected
    time         max(0, 300 − seconds) × 2                   (win only)
    germs        20 × germs in the maze                      (win only)
    backtracks   −2 × backtracks
    collisions   −25 × collisions
    hint_latency max(0, 400 − avg_hint_latency_ms) / 4       (win only, and only when the latency is known)

where path_efficiency = shortest path length (steps from start to exit) / steps taken, between 0 and 1
(0 when no step was taken). Fractional parts are rounded down to a whole number of points.
The latency part rewards fast templates: the earlier platform scored hints against a 400 ms budget.
"""

from __future__ import annotations

import json
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import hint_aliases

Cell = tuple[int, int]  # (x, y): x = column, y = row
Walls = tuple[tuple[bool, ...], ...]

MIN_SIZE, MAX_SIZE = 7, 101
DEFAULT_WIDTH, DEFAULT_HEIGHT = 33, 21
MAX_GERMS = 50
GERM_MIN_DISTANCE = 6  # BFS steps from the start: a germ must not sit on the player at the first move
EXTRA_OPENINGS_PER_CELL = 1 / 60  # loops, so there is more than one way round a germ

NOTICE_TEXTS = frozenset({"Template updated"})
MAX_TEXT = 2000


@dataclass(frozen=True)
class Maze:
    width: int
    height: int
    walls: Walls  # walls[y][x] is True for a wall
    start: Cell
    exit: Cell
    pellets: tuple[Cell, ...]
    germs: tuple[Cell, ...]


# -- grids -------------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python; JSON's true/false must never count as 1/0.
    return isinstance(value, int) and not isinstance(value, bool)


def is_floor(walls, cell: Cell) -> bool:
    """In bounds and not a wall."""
    x, y = cell
    if not (0 <= y < len(walls)):
        return False
    row = walls[y]
    return 0 <= x < len(row) and not row[x]


def neighbours(walls, cell: Cell) -> list[Cell]:
    """The 4-neighbour floor cells of `cell` (right, left, down, up)."""
    x, y = cell
    return [c for c in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)) if is_floor(walls, c)]


def shortest_path(walls, start: Cell, goal: Cell, blocked: frozenset[Cell] = frozenset()) -> list[Cell] | None:
    """Breadth-first search; the path includes start and goal. None when there is no way through.

    `blocked` cells (germs, say) cannot be entered, the goal included; the start is where one already stands.
    """
    start, goal = tuple(start), tuple(goal)
    if not is_floor(walls, start) or not is_floor(walls, goal) or goal in blocked:
        return None
    came_from: dict[Cell, Cell | None] = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            return _walk_back(came_from, goal)
        for nxt in neighbours(walls, cell):
            if nxt not in came_from and nxt not in blocked:
                came_from[nxt] = cell
                queue.append(nxt)
    return None


def _walk_back(came_from: dict[Cell, Cell | None], goal: Cell) -> list[Cell]:
    path: list[Cell] = []
    cell: Cell | None = goal
    while cell is not None:
        path.append(cell)
        cell = came_from[cell]
    return path[::-1]


def _distances(walls, start: Cell) -> dict[Cell, int]:
    """BFS steps from `start` to every reachable floor cell."""
    dist = {start: 0}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        for nxt in neighbours(walls, cell):
            if nxt not in dist:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return dist


def to_protocol_map(walls) -> list[list[int]]:
    """PROTOCOL.md's `visible_map`: 1 = floor (passable), 0 = wall."""
    return [[0 if wall else 1 for wall in row] for row in walls]


def _read_grid(grid: Any, wall_value: int) -> Walls:
    """A rectangular grid of 0/1 ints as engine walls; `wall_value` says which of 0/1 means wall."""
    if not isinstance(grid, list) or not grid:
        raise ValueError("must be a non-empty list of rows")
    if len(grid) > MAX_SIZE:
        raise ValueError(f"must have at most {MAX_SIZE} rows")
    width = None
    rows = []
    for y, row in enumerate(grid):
        if not isinstance(row, list) or not row:
            raise ValueError(f"row {y} must be a non-empty list of 0/1 cells")
        if width is None:
            width = len(row)
            if width > MAX_SIZE:
                raise ValueError(f"must have at most {MAX_SIZE} columns")
        elif len(row) != width:
            raise ValueError(f"must be rectangular: row {y} has {len(row)} cells, row 0 has {width}")
        if not all(_is_int(v) and v in (0, 1) for v in row):
            raise ValueError(f"row {y} must hold only 0 and 1")
        rows.append(tuple(v == wall_value for v in row))
    return tuple(rows)


def from_protocol_map(grid: list[list[int]]) -> Walls:
    """Engine walls from PROTOCOL.md's `visible_map` (1 = FLOOR). ValueError unless a rectangular 0/1 grid."""
    return _read_grid(grid, wall_value=0)


def from_client_grid(grid: list[list[int]]) -> Walls:
    """Engine walls from the browser's grid (1 = WALL, the opposite of PROTOCOL.md). ValueError if malformed."""
    return _read_grid(grid, wall_value=1)


def parse_point(value: Any, width: int, height: int) -> Cell | None:
    """`[x, y]` or `{"x": .., "y": ..}` with whole numbers inside the board, else None."""
    xy = _point_coords(value)
    if xy is None or not _in_bounds(xy, width, height):
        return None
    return xy


def _point_coords(value: Any) -> Cell | None:
    if isinstance(value, (list, tuple)) and len(value) == 2:
        x, y = value
    elif isinstance(value, dict) and "x" in value and "y" in value:
        x, y = value["x"], value["y"]
    else:
        return None
    return (x, y) if _is_int(x) and _is_int(y) else None


def _in_bounds(cell: Cell, width: int, height: int) -> bool:
    return 0 <= cell[0] < width and 0 <= cell[1] < height


# -- generation --------------------------------------------------------------------------------------------


def _check_size(name: str, value: Any) -> None:
    if not _is_int(value):
        raise ValueError(f"The maze {name} must be a whole number.")
    if not MIN_SIZE <= value <= MAX_SIZE:
        raise ValueError(f"The maze {name} must be from {MIN_SIZE} to {MAX_SIZE} cells (got {value}).")
    if value % 2 == 0:
        # Rooms sit on odd rows and columns, walls between them on even ones: only odd sizes close the border.
        raise ValueError(f"The maze {name} must be odd (got {value}).")


def _check_count(name: str, value: Any, high: int) -> None:
    if not _is_int(value) or not 0 <= value <= high:
        raise ValueError(f"The {name} count must be a whole number from 0 to {high} (got {value!r}).")


def generate(
    width: int = DEFAULT_WIDTH,
    height: int = DEFAULT_HEIGHT,
    *,
    germ_count: int = 5,
    pellet_count: int = 8,
    seed: int | None = None,
) -> Maze:
    """A new maze; the same arguments and seed always give the same maze.

    On a board too small for every germ and pellet, as many as fit are placed (germs first).
    """
    _check_size("width", width)
    _check_size("height", height)
    _check_count("germ", germ_count, MAX_GERMS)
    _check_count("pellet", pellet_count, width * height)
    rng = random.Random(seed)
    grid = _carve_perfect_maze(width, height, rng)
    _open_extra_walls(grid, rng)
    walls = tuple(tuple(row) for row in grid)
    start, exit_ = (1, 1), (width - 2, height - 2)
    germs = _place_germs(walls, start, exit_, germ_count, rng)
    pellets = _place_pellets(walls, {start, exit_, *germs}, pellet_count, rng)
    return Maze(width, height, walls, start, exit_, pellets, germs)


def _carve_perfect_maze(width: int, height: int, rng: random.Random) -> list[list[bool]]:
    """Iterative randomised depth-first search over the odd cells: every odd cell is reachable, no loops."""
    grid = [[True] * width for _ in range(height)]
    grid[1][1] = False
    stack = [(1, 1)]
    while stack:
        x, y = stack[-1]
        options = [
            (x + dx, y + dy)
            for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2))
            if 0 < x + dx < width - 1 and 0 < y + dy < height - 1 and grid[y + dy][x + dx]
        ]
        if not options:
            stack.pop()
            continue
        nx, ny = rng.choice(options)
        grid[(y + ny) // 2][(x + nx) // 2] = False  # the wall between the two rooms
        grid[ny][nx] = False
        stack.append((nx, ny))
    return grid


def _open_extra_walls(grid: list[list[bool]], rng: random.Random) -> None:
    """Open about width*height/60 walls that sit between two rooms, making loops.

    Only walls with exactly one even coordinate separate two rooms; the even/even pillars stay, so no
    open 2×2 blocks appear. The border is never touched.
    """
    height, width = len(grid), len(grid[0])
    candidates = [
        (x, y) for y in range(1, height - 1) for x in range(1, width - 1) if grid[y][x] and (x % 2) != (y % 2)
    ]
    count = min(len(candidates), int(width * height * EXTRA_OPENINGS_PER_CELL))
    for x, y in rng.sample(candidates, count):
        grid[y][x] = False


def _free_cells(walls: Walls, taken: set[Cell]) -> list[Cell]:
    # Row-major order, so the rng alone decides placement (determinism per seed).
    return [(x, y) for y, row in enumerate(walls) for x, wall in enumerate(row) if not wall and (x, y) not in taken]


def _place_germs(walls: Walls, start: Cell, exit_: Cell, count: int, rng: random.Random) -> tuple[Cell, ...]:
    """Germs at least GERM_MIN_DISTANCE steps from the start; when too few cells are that far, the farthest."""
    dist = _distances(walls, start)
    free = _free_cells(walls, {start, exit_})
    far = [c for c in free if dist.get(c, 0) >= GERM_MIN_DISTANCE]
    near = [c for c in free if dist.get(c, 0) < GERM_MIN_DISTANCE]
    rng.shuffle(far)
    near.sort(key=lambda c: -dist.get(c, 0))
    return tuple((far + near)[:count])


def _place_pellets(walls: Walls, taken: set[Cell], count: int, rng: random.Random) -> tuple[Cell, ...]:
    free = _free_cells(walls, taken)
    return tuple(rng.sample(free, min(count, len(free))))


def maze_json(maze: Maze) -> dict:
    """The maze for the browser: its grid uses 1 = WALL (the client convention)."""
    return {
        "width": maze.width,
        "height": maze.height,
        "walls": [[1 if wall else 0 for wall in row] for row in maze.walls],
        "start": list(maze.start),
        "exit": list(maze.exit),
        "pellets": [list(c) for c in maze.pellets],
        "germs": [list(c) for c in maze.germs],
        "shortest_path_length": shortest_path_length(maze),
    }


def shortest_path_length(maze: Maze) -> int:
    """Steps from start to exit (generate() guarantees a path)."""
    path = shortest_path(maze.walls, maze.start, maze.exit)
    return len(path) - 1 if path else 0


# -- hints from the LLM service (PROTOCOL.md "Maze hint") ------------------------------------------------------


@dataclass
class HintCheck:
    text: str | None  # the `hint` text
    suggestion: str | None
    notice: bool  # the service's {"hint": "Template updated"}: not a real hint, never applied or scored
    error: str | None  # from `error`/`Error`/`err`, or the raw non-JSON text
    applied: dict = field(default_factory=dict)  # validated actions, points as [x, y] lists
    ignored: list[dict] = field(default_factory=list)  # [{"action": key as written, "reason": "plain words"}]
    declared: list[str] = field(default_factory=list)  # the hint's keys other than its text, as written
    aliases: dict[str, str] = field(default_factory=dict)  # key as written -> the action it was taken as


class _Invalid(Exception):
    """One action is unusable; the message says why in plain words."""


MAX_PATH = 500
MAX_BREAK_WALLS = 20
MAX_SPAWN_OXYGEN = 20
MAX_HIGHLIGHT_ZONE = 200
MAX_DURATION_MS = 60_000
MAX_BREAKS_REMAINING = 100
ERROR_KEYS = ("error", "Error", "err")


class _Board:
    """What an action is checked against: the board size and, when known, its walls."""

    def __init__(self, width: int, height: int, walls) -> None:
        self.width, self.height, self.walls = width, height, walls
        self.broken: set[Cell] = set()  # walls this same hint breaks: a path may go through them

    def point(self, value: Any) -> Cell:
        xy = _point_coords(value)
        if xy is None:
            raise _Invalid('must be a point [x, y] (or {"x": .., "y": ..}) of whole numbers')
        if not _in_bounds(xy, self.width, self.height):
            raise _Invalid(f"({xy[0]}, {xy[1]}) is off the {self.width}×{self.height} board")
        return xy

    def floor(self, value: Any) -> Cell:
        xy = self.point(value)
        if self.walls is not None and xy not in self.broken and not is_floor(self.walls, xy):
            raise _Invalid(f"({xy[0]}, {xy[1]}) is a wall")
        return xy

    def inner(self, value: Any) -> Cell:
        xy = self.point(value)
        if not (0 < xy[0] < self.width - 1 and 0 < xy[1] < self.height - 1):
            raise _Invalid(f"({xy[0]}, {xy[1]}) is on the outer border, which cannot be broken")
        return xy


def _check_path(value: Any, board: _Board) -> list[list[int]]:
    # A path is one route: a single bad step spoils all of it, so it is all or nothing.
    if not isinstance(value, list):
        raise _Invalid("must be a list of [x, y] steps")
    if len(value) > MAX_PATH:
        raise _Invalid(f"has {len(value)} steps; at most {MAX_PATH} are allowed")
    steps: list[Cell] = []
    for i, raw in enumerate(value):
        try:
            cell = board.floor(raw)
        except _Invalid as exc:
            raise _Invalid(f"step {i}: {exc}") from None
        # Only consecutive pairs: the first step need not touch the player (the hint may lag a move behind).
        if steps and abs(cell[0] - steps[-1][0]) + abs(cell[1] - steps[-1][1]) != 1:
            raise _Invalid(
                f"step {i} ({cell[0]}, {cell[1]}) is not next to step {i - 1} ({steps[-1][0]}, {steps[-1][1]})"
            )
        steps.append(cell)
    return [list(c) for c in steps]


def _point_list(check: Callable[[Any], Cell], limit: int) -> Callable[[Any, _Board, list[str]], list[list[int]]]:
    """Independent targets (walls to break, pellets to spawn...): keep the valid ones, report the others."""

    def validate(value: Any, board: _Board, problems: list[str]) -> list[list[int]]:
        if not isinstance(value, list):
            raise _Invalid("must be a list of [x, y] points")
        if len(value) > limit:
            raise _Invalid(f"has {len(value)} points; at most {limit} are allowed")
        kept: list[Cell] = []
        for i, raw in enumerate(value):
            try:
                cell = check(board, raw)
            except _Invalid as exc:
                problems.append(f"point {i}: {exc}")
                continue
            if cell not in kept:  # a duplicate adds nothing
                kept.append(cell)
        if not kept and value:
            raise _Invalid("no usable point")
        return [list(c) for c in kept]

    return validate


def _int_in(low: int, high: int, unit: str) -> Callable[[Any, _Board], int]:
    def validate(value: Any, board: _Board) -> int:
        if not _is_int(value) or not low <= value <= high:
            raise _Invalid(f"must be a whole number of {unit} from {low} to {high}")
        return value

    return validate


def _boolean(value: Any, board: _Board) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _single(check: Callable[[_Board, Any], Cell]) -> Callable[[Any, _Board], list[int]]:
    return lambda value, board: list(check(board, value))


_duration = _int_in(0, MAX_DURATION_MS, "milliseconds")

_ACTIONS: dict[str, Callable[[Any, _Board], Any]] = {
    "break_wall": _single(_Board.inner),
    "path": _check_path,
    "speed_boost_ms": _duration,
    "slow_germs_ms": _duration,
    "freeze_germs_ms": _duration,
    "teleport_player": _single(_Board.floor),
    "move_exit": _single(_Board.floor),
    "highlight_ms": _duration,
    "reveal_map": _boolean,
    "show_path": _boolean,
    "toggle_autopilot": _boolean,
    "breaks_remaining": _int_in(0, MAX_BREAKS_REMAINING, "breaks"),
}
_LIST_ACTIONS = {
    "break_walls": _point_list(_Board.inner, MAX_BREAK_WALLS),
    "spawn_oxygen": _point_list(_Board.floor, MAX_SPAWN_OXYGEN),
    "highlight_zone": _point_list(_Board.point, MAX_HIGHLIGHT_ZONE),
}
# Checked in this order: breaks first, so a path or teleport through a wall broken by the same hint is fine.
ACTION_ORDER = (
    "break_wall",
    "break_walls",
    "path",
    "speed_boost_ms",
    "slow_germs_ms",
    "freeze_germs_ms",
    "teleport_player",
    "spawn_oxygen",
    "move_exit",
    "highlight_zone",
    "highlight_ms",
    "reveal_map",
    "show_path",
    "breaks_remaining",
    "toggle_autopilot",
)
ACTION_NAMES = frozenset(ACTION_ORDER)
ALIASES = hint_aliases.alias_table(ACTION_NAMES)


def _text(value: Any) -> str:
    """Any value as display text of at most MAX_TEXT characters."""
    if not isinstance(value, str):
        try:
            value = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):
            value = "unreadable value"
    return value[:MAX_TEXT]


def _error_of(hint: dict) -> str | None:
    for key in ERROR_KEYS:
        value = hint.get(key)
        # null/false/"" mean "no error" in some services' replies.
        if value is not None and value is not False and value != "":
            return _text(value)
    return None


def validate_hint(hint: dict, width: int, height: int, walls=None) -> HintCheck:
    """Check one hint from the LLM service. Never raises; invalid actions are dropped with a reason.

    With `walls`, points the player moves onto (path steps, teleport, exit, spawned oxygen) must be floor.
    """
    if not isinstance(hint, dict):
        return HintCheck(text=None, suggestion=None, notice=False, error="the hint is not a JSON object")
    if "raw" in hint:
        # The worker keeps a non-JSON reply as {"raw": text}: show it, but there is nothing to apply.
        raw = _text(hint["raw"])
        return HintCheck(text=raw, suggestion=None, notice=False, error=raw)
    check = HintCheck(text=None, suggestion=None, notice=False, error=_error_of(hint))
    check.text = _optional_text(hint, "hint", check)
    check.suggestion = _optional_text(hint, "suggestion", check)
    resolved = hint_aliases.resolve(hint, ACTION_NAMES, ALIASES)
    if check.text in NOTICE_TEXTS and not resolved.actions:
        check.notice = True
        return check
    check.declared = [str(key) for key in hint if key not in hint_aliases.NOT_ACTIONS]
    check.aliases = resolved.aliases
    board = _Board(width, height, walls)
    for name in ACTION_ORDER:
        if name in resolved.actions:
            key, value = resolved.actions[name]
            _apply_one(name, value, board, check, key)
    check.ignored.extend(resolved.ignored)
    return check


def _optional_text(hint: dict, key: str, check: HintCheck) -> str | None:
    value = hint.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        check.ignored.append({"action": key, "reason": "must be text"})
        return None
    return value[:MAX_TEXT]


def _apply_one(name: str, value: Any, board: _Board, check: HintCheck, key: str) -> None:
    """Validate action `name`, which the hint gave as `key` (an alias, or the name itself)."""
    problems: list[str] = []
    try:
        if name in _LIST_ACTIONS:
            result = _LIST_ACTIONS[name](value, board, problems)
        else:
            result = _ACTIONS[name](value, board)
    except _Invalid as exc:
        problems.append(str(exc))
        result = None
    prefix = "" if key == name else f"as {name}: "
    check.ignored.extend({"action": key, "reason": prefix + reason} for reason in problems)
    if result is None:
        return
    check.applied[name] = result
    if name in ("break_wall", "break_walls"):
        cells = [result] if name == "break_wall" else result
        board.broken.update(tuple(c) for c in cells)


# -- game reports and scores -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GameReport:
    won: bool
    duration_ms: int
    steps: int
    backtracks: int
    collisions: int
    oxygen_collected: int
    hint_count: int
    avg_hint_latency_ms: float | None
    mode: str  # "manual" | "lam"


class ReportError(ValueError):
    """An impossible or malformed game report; `.field` names the offending field."""

    def __init__(self, field_name: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field_name


MODES = ("manual", "lam")
MIN_DURATION_MS = 1000
MAX_DURATION_GAME_MS = 24 * 60 * 60 * 1000
MAX_STEPS = 100_000
MIN_MS_PER_STEP = 40  # nobody moves faster than 25 cells per second
SPAWNED_PELLETS_ALLOWANCE = 20  # hints may spawn extra oxygen
MAX_HINT_COUNT = 10_000
MAX_HINT_LATENCY_MS = 120_000


def _report_int(data: dict, name: str, low: int, high: int) -> int:
    if name not in data:
        raise ReportError(name, f"'{name}' is required.")
    value = data[name]
    if not _is_int(value):
        raise ReportError(name, f"'{name}' must be a whole number.")
    if not low <= value <= high:
        raise ReportError(name, f"'{name}' must be from {low} to {high} (got {value}).")
    return value


def _report_latency(data: dict) -> float | None:
    value = data.get("avg_hint_latency_ms")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReportError("avg_hint_latency_ms", "'avg_hint_latency_ms' must be a number of milliseconds or null.")
    if not 0 <= value <= MAX_HINT_LATENCY_MS:
        raise ReportError(
            "avg_hint_latency_ms", f"'avg_hint_latency_ms' must be from 0 to {MAX_HINT_LATENCY_MS} (got {value})."
        )
    return float(value)


def validate_report(data: dict, maze: Maze) -> GameReport:
    """The browser's end-of-game metrics, checked against the server's own maze. ReportError if impossible."""
    if not isinstance(data, dict):
        raise ReportError(None, "The report must be a JSON object.")
    won = data.get("won")
    if not isinstance(won, bool):
        raise ReportError("won", "'won' must be true or false.")
    mode = data.get("mode")
    if mode not in MODES:  # `in` on a tuple of str is safe for any value, even unhashable ones
        raise ReportError("mode", "'mode' must be 'manual' or 'lam'.")
    duration_ms = _report_int(data, "duration_ms", MIN_DURATION_MS, MAX_DURATION_GAME_MS)
    steps = _report_int(data, "steps", 0, MAX_STEPS)
    backtracks = _report_int(data, "backtracks", 0, steps)
    # Bumping into walls takes no step, only time: bound collisions by what the clock allows.
    collisions = _report_int(data, "collisions", 0, max(steps + 1, duration_ms // MIN_MS_PER_STEP + 1))
    oxygen = _report_int(data, "oxygen_collected", 0, len(maze.pellets) + SPAWNED_PELLETS_ALLOWANCE)
    hint_count = _report_int(data, "hint_count", 0, MAX_HINT_COUNT)
    latency = _report_latency(data)
    if won:
        _check_win_is_possible(maze, steps, duration_ms, hinted=hint_count > 0)
    return GameReport(
        won=won,
        duration_ms=duration_ms,
        steps=steps,
        backtracks=backtracks,
        collisions=collisions,
        oxygen_collected=oxygen,
        hint_count=hint_count,
        # With no hint there is no latency to reward, whatever the browser computed for 0/0.
        avg_hint_latency_ms=latency if hint_count > 0 else None,
        mode=mode,
    )


def _check_win_is_possible(maze: Maze, steps: int, duration_ms: int, *, hinted: bool) -> None:
    # Hints may teleport the player, move the exit or break walls, so a hinted win can be shorter than the
    # maze's own shortest path; it still takes at least one step.
    shortest = 1 if hinted else shortest_path_length(maze)
    if steps < shortest:
        raise ReportError("steps", f"A win takes at least {shortest} steps in this maze (got {steps}).")
    if duration_ms < steps * MIN_MS_PER_STEP:
        raise ReportError(
            "duration_ms",
            f"{steps} steps take at least {steps * MIN_MS_PER_STEP} ms "
            f"(nobody moves faster than {1000 // MIN_MS_PER_STEP} cells per second).",
        )


@dataclass(frozen=True)
class ScoreBreakdown:
    points: int
    path_efficiency: float  # shortest / steps, 0..1 (0 when steps == 0)
    parts: dict  # name -> points, for display


WIN_BONUS = 1000
EFFICIENCY_POINTS = 500
OXYGEN_POINTS = 50
TIME_BUDGET_S = 300
TIME_POINTS_PER_S = 2
GERM_POINTS = 20
BACKTRACK_POINTS = -2
COLLISION_POINTS = -25
LATENCY_BUDGET_MS = 400
LATENCY_DIVISOR = 4


def score(report: GameReport, maze: Maze) -> ScoreBreakdown:
    """The formula in this module's docstring. Integer arithmetic, so the numbers are exact."""
    shortest = shortest_path_length(maze)
    efficiency = min(1.0, shortest / report.steps) if report.steps > 0 else 0.0
    won = report.won
    parts = {
        "win": WIN_BONUS if won else 0,
        # min(): a reported step count can only equal or exceed the shortest path, but never reward beyond 500.
        "efficiency": min(EFFICIENCY_POINTS, EFFICIENCY_POINTS * shortest // report.steps)
        if won and report.steps > 0
        else 0,
        "oxygen": OXYGEN_POINTS * report.oxygen_collected,
        "time": max(0, TIME_BUDGET_S * 1000 - report.duration_ms) * TIME_POINTS_PER_S // 1000 if won else 0,
        "germs": GERM_POINTS * len(maze.germs) if won else 0,
        "backtracks": BACKTRACK_POINTS * report.backtracks,
        "collisions": COLLISION_POINTS * report.collisions,
        "hint_latency": _latency_points(report.avg_hint_latency_ms) if won else 0,
    }
    return ScoreBreakdown(points=max(0, sum(parts.values())), path_efficiency=efficiency, parts=parts)


def _latency_points(latency_ms: float | None) -> int:
    if latency_ms is None:
        return 0
    return math.floor(max(0.0, LATENCY_BUDGET_MS - latency_ms) / LATENCY_DIVISOR)
