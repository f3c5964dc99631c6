"""What the template form shows a participant: the maze state message the model receives, the hint actions it may
answer with, and a worked example template.

Built from the maze's own code rather than written by hand, so it cannot drift from what the game really sends
and accepts: the example state comes from `maze.protocol.state_payload` on a maze `maze.engine.generate` made from
a fixed seed, the action list follows `maze.engine.ACTION_NAMES` (the actions `validate_hint` checks), and every
example argument is one `validate_hint` applies on that same maze (tests pin this down). The maze modules are pure
Python, so importing them does not tie this app to the maze app's models or views.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from maze import engine, protocol
from portal.mqtt.topics import hint_base

# A small board keeps the example readable; the seed makes it the same maze on every page view.
EXAMPLE_SEED = 20
EXAMPLE_WIDTH, EXAMPLE_HEIGHT = 11, 9
EXAMPLE_GERMS, EXAMPLE_PELLETS = 2, 3
EXAMPLE_SESSION = "game-0123456789ab"
EXAMPLE_TICK = 1730000000000
# What a game of user 5 with a template at version 2 embeds; the content is the template's text itself.
EXAMPLE_PROMPT = {"title": "My maze guide", "content": "<the text of this template>", "version": 2, "user_id": 5}

STATE_FIELDS: dict[str, str] = {
    "sessionId": "The game's id. Hints for it go to replyTopic.",
    "player_pos": "Where the player stands, [x, y]: x = column (grows eastwards), y = row (grows southwards).",
    "exit_pos": "Where the exit is, [x, y].",
    "visible_map": "The board as rows: visible_map[y][x] is 1 for floor, 0 for wall. The outer border is wall.",
    "oxygenPellets": 'Oxygen pellets still on the board, as {"x": .., "y": ..} objects (not [x, y] lists).',
    "germs": 'Germs, as {"x": .., "y": ..} objects. Touching one costs health.',
    "tick": "The browser's clock when the state was sent (milliseconds since 1970).",
    "health": "The player's health, 0 to 100.",
    "oxygen": "The player's oxygen, 0 to 100.",
    "replyTopic": "Where the hint is published (the LLM service does this; the model only writes the JSON).",
    "prompt_template": "The template in effect: title, content (this template's text), version and user_id.",
}


@dataclass(frozen=True)
class Action:
    name: str
    argument: str
    meaning: str


def _actions_text() -> dict[str, tuple[str, str]]:
    # The limits come from the validator's own constants, so the text changes when they do.
    return {
        "path": ("[[x, y], ...]", f"Next steps, each next to the one before, all on floor; at most {engine.MAX_PATH}."),
        "show_path": ("true / false", "Whether the path is drawn (default true); goes with path."),
        "break_wall": ("[x, y]", "Breaks one wall (not the outer border). Each game has a few breaks only."),
        "break_walls": ("[[x, y], ...]", f"Breaks several walls, at most {engine.MAX_BREAK_WALLS}."),
        "breaks_remaining": (
            f"0 to {engine.MAX_BREAKS_REMAINING}",
            "Lowers the number of wall breaks the player has left.",
        ),
        "speed_boost_ms": (f"0 to {engine.MAX_DURATION_MS} ms", "The player moves faster for that long."),
        "slow_germs_ms": (f"0 to {engine.MAX_DURATION_MS} ms", "Germs move slower for that long."),
        "freeze_germs_ms": (f"0 to {engine.MAX_DURATION_MS} ms", "Germs stand still for that long."),
        "teleport_player": ("[x, y]", "Moves the player to a floor cell."),
        "spawn_oxygen": ("[[x, y], ...]", f"Adds oxygen pellets on floor cells, at most {engine.MAX_SPAWN_OXYGEN}."),
        "move_exit": ("[x, y]", "Moves the exit to a floor cell."),
        "highlight_zone": ("[[x, y], ...]", f"Highlights cells on the board, at most {engine.MAX_HIGHLIGHT_ZONE}."),
        "highlight_ms": (
            f"0 to {engine.MAX_DURATION_MS} ms",
            "How long the highlight shows; goes with highlight_zone.",
        ),
        "reveal_map": ("true", "Clears the fog, when the game has fog."),
        "toggle_autopilot": ("true / false", "Switches autopilot (the player follows the path) on or off."),
    }


def hint_actions() -> list[Action]:
    """Every action the game validates, in the order above; one added to the validator but not described here is
    still listed (with a pointer to the protocol document), so the list is never short of what the game accepts."""
    described = _actions_text()
    names = [name for name in described if name in engine.ACTION_NAMES]
    names += sorted(engine.ACTION_NAMES - described.keys())
    missing = ("see docs/protocol.md", "")
    return [Action(name, *described.get(name, missing)) for name in names]


def example_maze() -> engine.Maze:
    return engine.generate(
        EXAMPLE_WIDTH, EXAMPLE_HEIGHT, germ_count=EXAMPLE_GERMS, pellet_count=EXAMPLE_PELLETS, seed=EXAMPLE_SEED
    )


def example_state(maze: engine.Maze) -> dict[str, Any]:
    """The `maze/state` message of a game that has just started on `maze`, built as the game's socket builds it."""
    return protocol.start_state_payload(
        maze=maze,
        session_key=EXAMPLE_SESSION,
        template=EXAMPLE_PROMPT,
        hint_base=hint_base(settings.MQTT["TOPIC_HINT"]),
        tick=EXAMPLE_TICK,
    )


def example_hint(maze: engine.Maze) -> dict[str, Any]:
    """A hint using every action once, with arguments that are right for `maze` (validate_hint applies them all)."""
    route = engine.shortest_path(maze.walls, maze.start, maze.exit) or [maze.start]
    inner_walls = [
        (x, y)
        for y in range(1, maze.height - 1)
        for x in range(1, maze.width - 1)
        if maze.walls[y][x] and any(engine.is_floor(maze.walls, c) for c in ((x + 1, y), (x - 1, y)))
    ]
    hint = {
        "hint": "Go east along the corridor; the exit is south-east.",
        "suggestion": "Keep clear of the germ ahead.",
        "path": [_xy(c) for c in route[1:5]],  # the next steps: the first is next to the player
        "show_path": True,
        "break_wall": _xy(inner_walls[0]),
        "break_walls": [_xy(c) for c in inner_walls[1:3]],
        "breaks_remaining": 2,
        "speed_boost_ms": 5000,
        "slow_germs_ms": 5000,
        "freeze_germs_ms": 3000,
        "teleport_player": _xy(route[len(route) // 2]),
        "spawn_oxygen": [_xy(c) for c in route[2:4]],
        "move_exit": _xy(route[-2]),
        "highlight_zone": [_xy(c) for c in route[-3:]],
        "highlight_ms": 3000,
        "reveal_map": True,
        "toggle_autopilot": False,
    }
    return hint


def _xy(cell: engine.Cell) -> list[int]:
    return [cell[0], cell[1]]


EXAMPLE_TEMPLATE = """\
You are the guide of a maze game. Each message you get is the game's state as JSON.

How to read the state:
- player_pos and exit_pos are [x, y]: x is the column (grows eastwards), y is the row (grows southwards).
- visible_map[y][x] is 1 for floor and 0 for wall (note: y first). The outer border is always wall.
- germs and oxygenPellets are lists of {"x": .., "y": ..} objects. Touching a germ costs health.
- health and oxygen go from 0 to 100. When oxygen is low, lead the player past a pellet.

How to answer: reply with ONE JSON object and nothing else (no prose, no code fence):
{"hint": "<one short sentence for the player>", "path": [[x, y], ...]}
- path: the next 5 to 10 steps from player_pos towards exit_pos. Every step must be floor (visible_map[y][x] == 1)
  and next to the step before it (x or y changes by exactly 1). Do not step on a germ.
- Only when no path reaches the exit, you may add "break_wall": [x, y] for one wall next to the path
  (never on the outer border).
- When a germ is 2 steps away or closer, you may add "freeze_germs_ms": 3000.
- Say directions as north (y - 1), south (y + 1), east (x + 1), west (x - 1).

Example answer:
{"hint": "Go east, then south past the germ.", "path": [[2, 1], [3, 1], [3, 2], [3, 3]]}
"""


@functools.cache
def form_reference() -> dict[str, Any]:
    """Everything the form's reference panel shows; the same for every request, so it is built once."""
    maze = example_maze()
    state = example_state(maze)
    return {
        "state_fields": [{"name": name, "meaning": STATE_FIELDS.get(name, "")} for name in state],
        "state_json": pretty_json(state),
        "actions": hint_actions(),
        "hint_json": pretty_json(example_hint(maze)),
        "example_template": EXAMPLE_TEMPLATE,
        "maze_size": f"{maze.width}×{maze.height}",
        "seed": EXAMPLE_SEED,
    }


def pretty_json(data: dict[str, Any], grids: tuple[str, ...] = ("visible_map",)) -> str:
    """One field a line, and a grid one row a line: readable where json.dumps(indent=2) puts every cell on a line."""
    lines = []
    for i, (key, value) in enumerate(data.items()):
        comma = "," if i < len(data) - 1 else ""
        if key in grids and isinstance(value, list) and value:
            rows = [f"    {json.dumps(row, separators=(',', ':'))}" for row in value]
            lines.append(f'  "{key}": [\n' + ",\n".join(rows) + f"\n  ]{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    return "{\n" + "\n".join(lines) + "\n}"
