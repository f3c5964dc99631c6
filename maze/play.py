"""The play the server saw of one maze game, the only source of its score (pure: no Django).

The browser plays the game (germs, oxygen, fog and timers live there) and tells the server over the game's socket
what the score depends on, as it happens: every step it tries (moved, or bumped into a wall), and the effects of
each hint it applied. The server replays them on its own copy of the maze (regenerated from the seed):

- a step moves only onto floor; into a wall it counts a collision when the browser counts one (a held key bumps
  once); a step back onto the cell just left is a backtrack; a pellet on the cell is collected; the exit wins;
- a hint's effects are accepted only when that hint reached this game through the server and its validated
  actions contain them (maze.engine.validate_hint): the walls it breaks (at most MAX_BREAKS a game, inner walls),
  where it teleports the player, the pellets it spawns (at most MAX_SPAWNED), where it moves the exit;
- hints are counted, and their latency measured, by the server as it relays them.

A finished game's report must agree with this record, and the score is computed from the record alone: a report
made up without playing (won in one step) scores nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import engine

MAX_BREAKS = 3  # walls hints may break in one game (static/js/maze/maze-game.js agrees)
MAX_SPAWNED = 20  # pellets hints may add in one game
DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
MAX_STEPS_PER_FRAME = 4  # a move is one cell, two while a speed boost runs


class PlayError(ValueError):
    """What the browser said cannot have happened; the message says why."""


Cell = tuple[int, int]


def _cell(value: Any) -> Cell | None:
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return value[0], value[1]
    return None


@dataclass
class Play:
    width: int
    height: int
    walls: list[list[bool]]  # walls[y][x], with the breaks hints made
    player: Cell
    exit: Cell
    pellets: set[Cell]
    previous: Cell | None = None
    steps: int = 0
    backtracks: int = 0
    collisions: int = 0
    oxygen_collected: int = 0
    breaks_left: int = MAX_BREAKS
    spawned: int = 0
    # One entry per hint relayed to the game: {"applied": validated actions, "latency_ms", "error", "used"}.
    hints: list[dict] = field(default_factory=list)
    status: str = "playing"  # or "won"
    last_ms: int = 0  # ms after the game started of the last step (the server's clock)
    won_ms: int | None = None

    @classmethod
    def new(cls, maze: engine.Maze) -> Play:
        return cls(
            width=maze.width,
            height=maze.height,
            walls=[list(row) for row in maze.walls],
            player=maze.start,
            exit=maze.exit,
            pellets=set(maze.pellets),
        )

    # -- steps -------------------------------------------------------------------------------------------------
    def _floor(self, cell: Cell) -> bool:
        x, y = cell
        return 0 <= x < self.width and 0 <= y < self.height and not self.walls[y][x]

    def step(self, direction: Any, counts: bool, at_ms: int) -> str:
        """One step the browser tried: "moved" or "wall"."""
        if self.status != "playing":
            raise PlayError("the game is already won")
        if direction not in DIRECTIONS:
            raise PlayError("a step's 'dir' must be up, down, left or right")
        dx, dy = DIRECTIONS[direction]
        target = (self.player[0] + dx, self.player[1] + dy)
        self.last_ms = at_ms
        if not self._floor(target):
            if counts:
                self.collisions += 1
            return "wall"
        if target == self.previous:
            self.backtracks += 1
        self.previous, self.player = self.player, target
        self.steps += 1
        self._arrive(at_ms)
        return "moved"

    def _arrive(self, at_ms: int) -> None:
        if self.player in self.pellets:
            self.pellets.discard(self.player)
            self.oxygen_collected += 1
        if self.player == self.exit:
            self.status, self.won_ms = "won", at_ms

    # -- hints -------------------------------------------------------------------------------------------------
    def hint_relayed(self, applied: dict, latency_ms: float | None, error: bool, key: str | None = None) -> int:
        """A hint went to the game's sockets; its id, which the browser names when it reports the effects.

        `key` names the hint (the worker gives each one): every socket of the game relays it, and it counts once."""
        for hint_id, hint in enumerate(self.hints, 1):
            if key is not None and hint.get("key") == key:
                if hint["latency_ms"] is None:  # measured by the socket that asked for it, whichever came first
                    hint["latency_ms"] = latency_ms
                return hint_id
        self.hints.append({"applied": applied, "latency_ms": latency_ms, "error": error, "used": False, "key": key})
        return len(self.hints)

    def hint_effects(self, hint_id: Any, effects: Any, at_ms: int) -> None:
        """The effects the browser applied of hint `hint_id` (it may skip some: a germ in the way...)."""
        if not isinstance(hint_id, int) or isinstance(hint_id, bool) or not 1 <= hint_id <= len(self.hints):
            raise PlayError("no such hint reached this game")
        hint = self.hints[hint_id - 1]
        if hint["used"]:
            raise PlayError(f"the effects of hint {hint_id} were reported already")
        if not isinstance(effects, dict):
            raise PlayError("'effects' must be an object")
        applied = hint["applied"]
        allowed_breaks = {_cell(c) for c in [applied.get("break_wall"), *(applied.get("break_walls") or [])]} - {None}
        breaks = self._cells(effects.get("break"), "break")
        for cell in breaks:
            x, y = cell
            if cell not in allowed_breaks:
                raise PlayError(f"hint {hint_id} did not break the wall at {x}, {y}")
            if self.breaks_left <= 0 or self._floor(cell) or not (0 < x < self.width - 1 and 0 < y < self.height - 1):
                raise PlayError(f"the wall at {x}, {y} cannot be broken")
        teleport = _cell(effects.get("teleport")) if effects.get("teleport") is not None else None
        if effects.get("teleport") is not None and (
            teleport is None or teleport != _cell(applied.get("teleport_player"))
        ):
            raise PlayError(f"hint {hint_id} did not teleport the player there")
        spawn = self._cells(effects.get("spawn"), "spawn")
        allowed_spawn = {_cell(c) for c in applied.get("spawn_oxygen") or []}
        if any(cell not in allowed_spawn for cell in spawn) or self.spawned + len(spawn) > MAX_SPAWNED:
            raise PlayError(f"hint {hint_id} did not spawn those pellets")
        new_exit = _cell(effects.get("exit")) if effects.get("exit") is not None else None
        if effects.get("exit") is not None and (new_exit is None or new_exit != _cell(applied.get("move_exit"))):
            raise PlayError(f"hint {hint_id} did not move the exit there")
        # As the browser applies them: breaks first, then teleport, pellets and the exit.
        for x, y in breaks:
            self.walls[y][x] = False
            self.breaks_left -= 1
        if teleport is not None:
            if not self._floor(teleport):
                raise PlayError("the player cannot be teleported into a wall")
            self.previous, self.player = None, teleport
            self._arrive(at_ms)
        for cell in spawn:
            if not self._floor(cell) or cell == self.player:
                raise PlayError(f"no pellet can be spawned at {cell[0]}, {cell[1]}")
            self.pellets.add(cell)
            self.spawned += 1
        if new_exit is not None:
            if not self._floor(new_exit) or new_exit == self.player:
                raise PlayError("the exit cannot be moved there")
            self.exit = new_exit
        hint["used"] = True

    @staticmethod
    def _cells(value: Any, name: str) -> list[Cell]:
        if value is None:
            return []
        cells = [_cell(c) for c in value] if isinstance(value, list) else [None]
        if None in cells or len(cells) > engine.MAX_BREAK_WALLS + engine.MAX_SPAWN_OXYGEN:
            raise PlayError(f"'{name}' must be a list of [x, y] cells")
        return cells  # type: ignore[return-value]

    # -- the outcome -------------------------------------------------------------------------------------------
    @property
    def hint_count(self) -> int:
        return sum(1 for h in self.hints if not h["error"])

    @property
    def avg_hint_latency_ms(self) -> float | None:
        known = [h["latency_ms"] for h in self.hints if not h["error"] and h["latency_ms"] is not None]
        return round(sum(known) / len(known), 1) if known else None

    def disagreement(self, report: engine.GameReport) -> tuple[str, str] | None:
        """(field, plain words) where the browser's report differs from what the server saw; None when it agrees."""
        seen = {
            "won": self.status == "won",
            "steps": self.steps,
            "backtracks": self.backtracks,
            "collisions": self.collisions,
            "oxygen_collected": self.oxygen_collected,
        }
        for name, value in seen.items():
            if getattr(report, name) != value:
                return name, (
                    f"The report says {name} = {getattr(report, name)}, but the server saw {value} in this game."
                )
        # A hint may reach the socket after the game ended in the browser (which then no longer counts it).
        if report.hint_count > self.hint_count:
            return "hint_count", (
                f"The report says hint_count = {report.hint_count}, but only {self.hint_count} hints reached this game."
            )
        return None

    def report(self, mode: str, claimed: engine.GameReport) -> engine.GameReport:
        """The report the score is computed from: the server's record (time by the server's clock)."""
        duration = self.won_ms if self.won_ms is not None else max(self.last_ms, claimed.duration_ms)
        return engine.GameReport(
            won=self.status == "won",
            duration_ms=max(1, duration),
            steps=self.steps,
            backtracks=self.backtracks,
            collisions=self.collisions,
            oxygen_collected=self.oxygen_collected,
            hint_count=claimed.hint_count,
            avg_hint_latency_ms=self.avg_hint_latency_ms if claimed.hint_count else None,
            mode=mode,
        )

    # -- storage -----------------------------------------------------------------------------------------------
    def to_json(self) -> dict:
        broken = [[x, y] for y, row in enumerate(self.walls) for x, wall in enumerate(row) if not wall]
        return {
            "player": list(self.player),
            "exit": list(self.exit),
            "pellets": sorted(map(list, self.pellets)),
            "floor": broken,
            "previous": list(self.previous) if self.previous else None,
            "steps": self.steps,
            "backtracks": self.backtracks,
            "collisions": self.collisions,
            "oxygen_collected": self.oxygen_collected,
            "breaks_left": self.breaks_left,
            "spawned": self.spawned,
            "hints": self.hints,
            "status": self.status,
            "last_ms": self.last_ms,
            "won_ms": self.won_ms,
        }

    @classmethod
    def from_json(cls, data: dict, maze: engine.Maze) -> Play:
        walls = [[True] * maze.width for _ in range(maze.height)]
        for x, y in data["floor"]:
            walls[y][x] = False
        return cls(
            width=maze.width,
            height=maze.height,
            walls=walls,
            player=tuple(data["player"]),
            exit=tuple(data["exit"]),
            pellets={tuple(p) for p in data["pellets"]},
            previous=tuple(data["previous"]) if data["previous"] else None,
            steps=data["steps"],
            backtracks=data["backtracks"],
            collisions=data["collisions"],
            oxygen_collected=data["oxygen_collected"],
            breaks_left=data["breaks_left"],
            spawned=data["spawned"],
            hints=data["hints"],
            status=data["status"],
            last_ms=data["last_ms"],
            won_ms=data["won_ms"],
        )
