"""One maze game played on the server in LAM (autopilot) mode, for template evaluations (pure: no Django import).

A template evaluation plays whole games with a template, without a browser: a runner asks the real LLM for hints
and this module holds the game rules. They mirror static/js/maze/maze-game.js and the tick loop of maze.js, so a
template plays here as it plays in a participant's browser:

- germs take a random step every GERM_STEP_MS (twice as slow while slowed, not at all while frozen) and catch the
  player on contact; oxygen drops by 1 every OXYGEN_DRAIN_MS and the game is lost at 0; a pellet gives 10 back;
- the autopilot follows the latest hint path, one cell per turn (two while a speed boost runs), a turn being due
  AUTO_STEP_MS after the last one and checked every TICK_MS, as in the browser;
- a hint is validated by maze.engine.validate_hint exactly as the game's socket validates it (maze/trial.py), and
  its actions are applied in the browser's order with the browser's reasons for skipping one.

Time is VIRTUAL: `wait(ms)` runs the clock through its ticks at once, so a game that takes minutes in a browser
takes milliseconds here, and the LLM's real latency is spent on the virtual clock with `wait(latency)` (germs move
and oxygen drains while the model thinks, as in the browser). Germs move with random.Random(seed): the same seed
and the same hints give the same game.

Steps and hint effects are recorded in a maze.play.Play, the server's record of a real game, and the score comes
from that record through maze.engine.score, so an evaluation scores exactly as a real game would.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from dataclasses import dataclass
from typing import Any

from . import engine
from .play import MAX_BREAKS, MAX_SPAWNED, Play

AUTO_STEP_MS = 250  # the autopilot's turn is due this long after the last one (maze.js)
AUTO_HINT_IDLE_MS = 1500  # with nothing to follow this long after the last state sent, the browser asks for a hint
GERM_STEP_MS = 600  # germs take one step this often (twice as slow while slowed)
OXYGEN_DRAIN_MS = 2000  # oxygen drops by 1 this often
TICK_MS = 100  # the browser's game clock (setInterval in maze.js)
PELLET_OXYGEN = 10  # a pellet gives back this much oxygen (at most 100)
MAX_EFFECT_MS = 120_000  # maze-game.js caps an effect's duration at this

WON = "Reached the exit."
CAUGHT = "A germ caught the player."
NO_OXYGEN = "Ran out of oxygen."
NO_TOGGLE = "an evaluation always plays on autopilot"
GAME_OVER = "the game is over"

DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
_DIRECTION_NAMES = {delta: name for name, delta in DIRECTIONS.items()}
MODIFIERS = frozenset({"show_path", "highlight_ms", "breaks_remaining"})  # go with their action; no entry of their own
# The server's order, as maze-game.js applies them: breaks first, so a path through a wall broken by the same hint
# is fine.
ACTION_ORDER = tuple(name for name in engine.ACTION_ORDER if name not in MODIFIERS)
_EFFECT_FIELDS = {"speed_boost_ms": "_boost_until", "slow_germs_ms": "_slow_until", "freeze_germs_ms": "_freeze_until"}

Cell = tuple[int, int]


def _is_cell(value: Any) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )


def _adjacent(a: Cell, b: Cell) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1


def _rank(action: str) -> int:
    return ACTION_ORDER.index(action) if action in ACTION_ORDER else len(ACTION_ORDER)


def _duration(value: Any) -> int:
    """maze-game.js duration(): a positive number of ms (capped), else 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return 0
    return int(min(value, MAX_EFFECT_MS))


def _latency(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


def _joined(reasons: list[str]) -> str:
    return "; ".join(dict.fromkeys(reasons))  # distinct, in order, as [...new Set(reasons)].join("; ")


@dataclass
class _Germ:
    pos: Cell
    prev: Cell | None = None


class AutopilotGame:
    """One game on autopilot with a virtual clock; see the module docstring."""

    def __init__(self, maze: engine.Maze, *, seed: int) -> None:
        self.maze = maze
        self.width, self.height = maze.width, maze.height
        self.walls = [[1 if wall else 0 for wall in row] for row in maze.walls]  # the browser's grid: 1 = wall
        self.player: Cell = tuple(maze.start)
        self.exit: Cell = tuple(maze.exit)
        self.pellets: list[Cell] = [tuple(p) for p in maze.pellets]  # a list: the browser sends them in this order
        self.germs = [_Germ(tuple(g)) for g in maze.germs]
        self.oxygen = 100
        self.status = "playing"
        self.end_reason = ""
        # The server's record of the play: every step and hint effect goes through it, and the score comes from it.
        self.play = Play.new(maze)
        self._random = random.Random(seed)
        self._now = 0
        self._next_tick = TICK_MS  # setInterval(tick, TICK_MS) started with the game
        self._ended_ms: int | None = None
        self._drain_clock = 0
        self._germ_clock = 0
        self._last_auto_ms = 0
        # When the browser last sent a state (a move, a hint request): the autopilot asks for a hint only when
        # AUTO_HINT_IDLE_MS have passed since. The browser asks for the first one at the start.
        self._last_sent_ms = 0
        self._breaks_left = MAX_BREAKS
        self._spawned = 0
        self._boost_until = 0
        self._slow_until = 0
        self._freeze_until = 0
        self._path: list[Cell] = []
        self._cursor = 0  # the next cell of the path to step on
        self._effects: dict[str, Any] = {}
        self._hints: list[dict] = []
        self._trail: list[Cell] = [self.player]

    # -- state ------------------------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.status == "playing"

    @property
    def clock_ms(self) -> int:
        return self._now

    def browser_state(self) -> dict:
        """What maze-game.js snapshot() sends (no fog), for maze.protocol.state_payload."""
        return {
            "player": list(self.player),
            "exit": list(self.exit),
            "walls": [row[:] for row in self.walls],
            "pellets": [list(p) for p in self.pellets],
            "germs": [list(g.pos) for g in self.germs],
            "tick": self._now,
            "health": 100,
            "oxygen": max(0, min(100, round(self.oxygen))),
        }

    def _inside(self, cell: Cell) -> bool:
        return 0 <= cell[0] < self.width and 0 <= cell[1] < self.height

    def _is_wall(self, cell: Cell) -> bool:
        return not self._inside(cell) or self.walls[cell[1]][cell[0]] == 1

    def _germ_at(self, cell: Cell) -> bool:
        return any(g.pos == cell for g in self.germs)

    def _end(self, status: str, reason: str) -> None:
        if not self.playing:
            return
        self.status, self.end_reason, self._ended_ms = status, reason, self._now

    def give_up(self, reason: str) -> None:
        """The runner ends the game (hint budget spent, LLM silent, cancelled...): lost, for `reason`."""
        self._end("lost", reason)

    # -- the clock --------------------------------------------------------------------------------------------
    def wait(self, ms: float) -> None:
        """Run the clock `ms` on (while the LLM thinks): every tick due in that time, then the remainder."""
        target = self._now + max(0, round(ms))
        while self.playing and self._next_tick <= target:
            self._tick()
        if self.playing:
            self._now = target  # a hint arrives between two ticks; a finished game's clock stopped at its end

    def run_until_idle(self) -> None:
        """Run the clock until the game ends or the autopilot would ask for a hint (nothing to follow for
        AUTO_HINT_IDLE_MS). Always at least one tick on, and bounded: oxygen runs out."""
        while self.playing:
            if self._tick():
                return

    def _tick(self) -> bool:
        """maze.js tick() at the next tick: the game's clocks, then the autopilot's turn when due. True when the
        autopilot found nothing to follow and the browser would ask for a hint."""
        self._now = now = self._next_tick
        self._next_tick += TICK_MS
        self._drain_clock += TICK_MS
        while self._drain_clock >= OXYGEN_DRAIN_MS:
            self._drain_clock -= OXYGEN_DRAIN_MS
            self.oxygen = max(0, self.oxygen - 1)
        if self.oxygen <= 0:
            self._end("lost", NO_OXYGEN)
            return False
        if now < self._freeze_until:
            self._germ_clock = 0
        else:
            self._germ_clock += TICK_MS
            interval = GERM_STEP_MS * 2 if now < self._slow_until else GERM_STEP_MS
            if self._germ_clock >= interval:
                self._germ_clock = min(self._germ_clock - interval, interval)  # no burst of catch-up steps
                self._move_germs()
        # The turn is due AUTO_STEP_MS after the last one but only looked at every TICK_MS, so in the browser (and
        # here) it comes every third tick: the same pace as a participant's autopilot.
        if not self.playing or now - self._last_auto_ms < AUTO_STEP_MS:
            return False
        self._last_auto_ms = now
        if self._auto_step():
            self._last_sent_ms = now  # every move sends the state
            return False
        return now - self._last_sent_ms > AUTO_HINT_IDLE_MS

    def _move_germs(self) -> None:
        for germ in self.germs:
            x, y = germ.pos
            options = [(x + dx, y + dy) for dx, dy in DIRECTIONS.values() if not self._is_wall((x + dx, y + dy))]
            if not options:
                continue
            # Wander without turning back unless it is a dead end (maze-game.js: it looks less jittery).
            pool = [c for c in options if c != germ.prev] or options
            nxt = pool[int(self._random.random() * len(pool))]
            germ.prev, germ.pos = germ.pos, nxt
            if nxt == self.player:
                self._end("lost", CAUGHT)
                return

    # -- the player -------------------------------------------------------------------------------------------
    def _next_path_step(self) -> tuple[int, int] | None:
        nxt = self._path[self._cursor] if self._cursor < len(self._path) else None
        if nxt is None or not _adjacent(self.player, nxt) or self._is_wall(nxt):
            return None
        return nxt[0] - self.player[0], nxt[1] - self.player[1]

    def _auto_step(self) -> int:
        """One cell along the path, two while boosted; the cells moved."""
        moved = 0
        for _ in range(2 if self._now < self._boost_until else 1):
            direction = self._next_path_step()
            if direction is None or self._step(direction) != "moved":
                break
            moved += 1
        return moved

    def _step(self, direction: tuple[int, int]) -> str:
        if not self.playing:
            return "over"
        # The autopilot never counts a collision (maze-game.js autoStep: count false).
        seen = self.play.step(_DIRECTION_NAMES[direction], counts=False, at_ms=self._now)
        target = (self.player[0] + direction[0], self.player[1] + direction[1])
        outcome = "wall" if self._is_wall(target) else "moved"
        if seen != outcome:
            raise RuntimeError(f"the play record saw {seen!r} where the game saw {outcome!r}")
        if outcome == "moved":
            self.player = target
            self._trail.append(target)
            self._arrive()
        return outcome

    def _arrive(self) -> None:
        """After the player lands on a cell: pellet, path cursor, germ, exit (maze-game.js #arrive)."""
        if self.player in self.pellets:
            self.pellets.remove(self.player)
            self.oxygen = min(100, self.oxygen + PELLET_OXYGEN)
        self._sync_path_cursor()
        if self._germ_at(self.player):
            self._end("lost", CAUGHT)
        elif self.player == self.exit:
            self._end("won", WON)

    def _sync_path_cursor(self) -> None:
        """Point the cursor just after the player's cell on the path (or at its start when next to it)."""
        cells = self._path
        for i in range(len(cells) - 1, -1, -1):
            if cells[i] == self.player:
                self._cursor = i + 1
                return
        if self._cursor < len(cells) and _adjacent(self.player, cells[self._cursor]):
            return
        self._cursor = 0 if cells and _adjacent(self.player, cells[0]) else len(cells)

    # -- hints ------------------------------------------------------------------------------------------------
    def apply_hint(self, hint: Any, *, latency_ms: float | None) -> dict | None:
        """Apply one answer of the LLM (after `wait(latency_ms)`); its record, or None for a notice."""
        check = engine.validate_hint(hint, self.width, self.height)  # as maze/trial.report and the socket do
        if check.notice:
            return None  # "Template updated": not a hint, never applied or counted
        latency = _latency(latency_ms)
        if self.playing:
            # Relayed (counted, timed) by the server, then applied by the browser, which reports the effects.
            hint_id = self.play.hint_relayed(check.applied, latency, check.error is not None)
            results = self._apply_actions(check.applied)
            if any(self._effects.values()):
                self.play.hint_effects(hint_id, self._effects, self._now)
            # The state that asked for this hint went out `latency` ago; one that changed the board goes out now.
            self._last_sent_ms = max(self._last_sent_ms, self._now - round(latency or 0))
            if any(ok and action != "path" for action, ok, _ in results):
                self._last_sent_ms = self._now
        else:
            results = [(action, False, GAME_OVER) for action in check.applied]
        return self._record(
            latency,
            text=check.text,
            error=check.error,
            declared=check.declared,
            applied=list(dict.fromkeys(action for action, ok, _ in results if ok)),
            ignored=[{"action": a, "reason": r} for a, ok, r in results if not ok] + list(check.ignored),
        )

    def hint_missing(self, *, reason: str, latency_ms: float | None) -> dict:
        """No answer came (a timeout): recorded with `reason` as its error; nothing reached the game."""
        latency = _latency(latency_ms)
        if latency is not None:
            self._last_sent_ms = max(self._last_sent_ms, self._now - round(latency))
        return self._record(latency, text=None, error=reason, declared=[], applied=[], ignored=[])

    def _record(self, latency: float | None, **fields: Any) -> dict:
        record = {"n": len(self._hints) + 1, "at_ms": self._now, "latency_ms": latency, **fields}
        self._hints.append(record)
        return record

    def _apply_actions(self, applied: dict) -> list[tuple[str, bool, str]]:
        """maze-game.js applyActions: (action, took effect, why not) per action; the board effects the server's
        record must accept go to self._effects."""
        self._effects = {"break": [], "spawn": [], "teleport": None, "exit": None}
        results: list[tuple[str, bool, str]] = []

        def done(action: str) -> None:
            results.append((action, True, ""))

        def skip(action: str, reason: str) -> None:
            results.append((action, False, reason))

        remaining = applied.get("breaks_remaining")
        if isinstance(remaining, int) and not isinstance(remaining, bool):
            self._breaks_left = max(0, min(self._breaks_left, remaining))
        for action in sorted((name for name in applied if name not in MODIFIERS), key=_rank):
            value = applied[action]
            if action == "path":
                problem = self._path_problem(value)
                if problem:
                    skip(action, problem)
                    continue
                self._path, self._cursor = [tuple(c) for c in value], 0
                self._sync_path_cursor()
                done(action)
            elif action in ("break_wall", "break_walls"):
                cells = [value] if action == "break_wall" else value if isinstance(value, list) else []
                broken = 0
                reasons = [] if cells else ["no cells given"]
                for cell in cells:
                    problem = self._break_problem(cell)
                    if problem:
                        reasons.append(problem)
                        continue
                    self.walls[cell[1]][cell[0]] = 0
                    self._breaks_left -= 1
                    self._effects["break"].append(list(cell))
                    broken += 1
                if broken:
                    done(action)
                if reasons:
                    skip(action, _joined(reasons))
            elif action in _EFFECT_FIELDS:
                ms = _duration(value)
                if not ms:
                    skip(action, "not a positive duration")
                    continue
                field = _EFFECT_FIELDS[action]
                setattr(self, field, max(getattr(self, field), self._now + ms))
                done(action)
            elif action == "teleport_player":
                problem = self._place_problem(value, allow_pellet=True)
                if problem:
                    skip(action, problem)
                    continue
                self.player = tuple(value)
                self._trail.append(self.player)
                self._effects["teleport"] = list(value)
                done(action)
                self._arrive()
            elif action == "spawn_oxygen":
                cells = value if isinstance(value, list) else []
                added = 0
                reasons = []
                for cell in cells:
                    if self._spawned >= MAX_SPAWNED:
                        problem = f"no more than {MAX_SPAWNED} pellets may be added in a game"
                    else:
                        problem = self._place_problem(cell, allow_germ=True) or (
                            "that is where you stand" if tuple(cell) == self.player else ""
                        )
                    if problem:
                        reasons.append(problem)
                        continue
                    self.pellets.append(tuple(cell))
                    self._spawned += 1
                    self._effects["spawn"].append(list(cell))
                    added += 1
                if added:
                    done(action)
                if reasons or not cells:
                    skip(action, _joined(reasons) or "no cells given")
            elif action == "move_exit":
                problem = (
                    self._place_problem(value, allow_pellet=True, allow_germ=True, allow_exit=True)
                    or ("the exit is already there" if tuple(value) == self.exit else "")
                    or ("that is where you stand" if tuple(value) == self.player else "")
                )
                if problem:
                    skip(action, problem)
                    continue
                self.exit = tuple(value)
                self._effects["exit"] = list(value)
                done(action)
            elif action == "highlight_zone":
                # Accepted as in the browser, but nobody looks at this board: nothing to change.
                cells = [c for c in value if _is_cell(c) and self._inside(tuple(c))] if isinstance(value, list) else []
                if cells:
                    done(action)
                else:
                    skip(action, "no cells on the board")
            elif action == "reveal_map":
                # There is no fog here; the request is accepted and changes nothing.
                if value is True:
                    done(action)
                else:
                    skip(action, "not true")
            elif action == "toggle_autopilot":
                if not isinstance(value, bool):
                    skip(action, "not true or false")
                elif value:
                    done(action)  # it is on already
                else:
                    skip(action, NO_TOGGLE)  # nobody would steer without it
            else:
                skip(action, "this game does not know that action")
        return results

    def _path_problem(self, value: Any) -> str:
        if not isinstance(value, list) or not value:
            return "empty path"
        for i, cell in enumerate(value):
            if not _is_cell(cell) or not self._inside(tuple(cell)):
                return "the path leaves the board"
            if self._is_wall(tuple(cell)):
                return f"the path crosses a wall at {cell[0]}, {cell[1]}"
            if i > 0 and not _adjacent(tuple(value[i - 1]), tuple(cell)):
                return "the path jumps between cells that do not touch"
        return ""

    def _break_problem(self, cell: Any) -> str:
        if not _is_cell(cell) or not self._inside(tuple(cell)):
            return "off the board"
        if cell[0] in (0, self.width - 1) or cell[1] in (0, self.height - 1):
            return "the outer wall cannot be broken"
        if not self._is_wall(tuple(cell)):
            return "already floor"
        if self._breaks_left <= 0:
            return "no wall breaks left"
        return ""

    def _place_problem(
        self, cell: Any, *, allow_pellet: bool = False, allow_germ: bool = False, allow_exit: bool = False
    ) -> str:
        if not _is_cell(cell) or not self._inside(tuple(cell)):
            return "off the board"
        cell = tuple(cell)
        if self._is_wall(cell):
            return "that cell is a wall"
        if not allow_germ and self._germ_at(cell):
            return "a germ is there"
        if not allow_pellet and cell in self.pellets:
            return "a pellet is already there"
        if not allow_exit and cell == self.exit:
            return "that is the exit"
        return ""

    # -- the outcome ------------------------------------------------------------------------------------------
    def result(self) -> dict:
        """The game's outcome (call it once the game has ended or been given up), scored from the play record."""
        play = self.play
        duration = max(1, self._ended_ms if self._ended_ms is not None else self._now)
        hint_count = play.hint_count
        latency = play.avg_hint_latency_ms if hint_count else None
        report = engine.GameReport(
            won=self.status == "won",  # the game's verdict: a germ on the exit catches the player
            duration_ms=duration,
            steps=play.steps,
            backtracks=play.backtracks,
            collisions=play.collisions,
            oxygen_collected=play.oxygen_collected,
            hint_count=hint_count,
            avg_hint_latency_ms=latency,
            mode="lam",
        )
        breakdown = engine.score(report, self.maze)
        used: Counter[str] = Counter()
        ignored: Counter[str] = Counter()
        for record in self._hints:
            used.update(record["applied"])
            ignored.update(entry["action"] for entry in record["ignored"])
        trail = [list(cell) for i, cell in enumerate(self._trail) if i == 0 or cell != self._trail[i - 1]]
        return {
            "won": report.won,
            "end_reason": self.end_reason,
            "duration_ms": duration,
            "steps": report.steps,
            "backtracks": report.backtracks,
            "collisions": report.collisions,
            "oxygen_collected": report.oxygen_collected,
            "hint_count": hint_count,
            "avg_hint_latency_ms": latency,
            "points": breakdown.points,
            "parts": dict(breakdown.parts),
            "path_efficiency": breakdown.path_efficiency,
            "shortest_path": engine.shortest_path_length(self.maze),
            "actions_used": dict(used),
            "actions_ignored": dict(ignored),
            "hints": copy.deepcopy(self._hints),
            "trail": trail,
        }
