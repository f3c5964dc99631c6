// maze-game.js — the rules and state of one maze game, with no DOM: moves, germs, oxygen, fog, the hint path and
// the effects of the LLM's hint actions. Grids are walls[y][x] with 1 = wall, 0 = floor; cells are [x, y].

export const GERM_STEP_MS = 600; // germs take one random step this often (twice as slow when slowed)
export const OXYGEN_DRAIN_MS = 2000; // oxygen drops by 1 this often
export const PELLET_OXYGEN = 10; // a pellet gives back this much oxygen (at most 100)
export const MAX_BREAKS = 3; // walls the LLM may break in one game (the server announces max_breaks: 3)
export const FOG_RADIUS = 3; // with fog on, the player sees this many cells around itself
export const MAX_SPAWNED = 20; // pellets hints may add in one game (the server allows 20 beyond the maze's own)
// Actions are applied in this order (the server's): breaks first, so a path through a wall broken by the same
// hint is fine; modifiers (show_path, highlight_ms, breaks_remaining) go with their action.
const ACTION_ORDER = ["break_wall", "break_walls", "path", "speed_boost_ms", "slow_germs_ms", "freeze_germs_ms",
  "teleport_player", "spawn_oxygen", "move_exit", "highlight_zone", "reveal_map", "toggle_autopilot"];
const MODIFIERS = new Set(["show_path", "highlight_ms", "breaks_remaining"]);
const DEFAULT_HIGHLIGHT_MS = 4000;

const key = (x, y) => `${x},${y}`;
const rank = (action) => (ACTION_ORDER.includes(action) ? ACTION_ORDER.indexOf(action) : ACTION_ORDER.length);
const same = (a, b) => Boolean(a && b) && a[0] === b[0] && a[1] === b[1];
const adjacent = (a, b) => Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) === 1;

export const DIRECTIONS = { up: [0, -1], down: [0, 1], left: [-1, 0], right: [1, 0] };
const DIRECTION_NAMES = new Map(Object.entries(DIRECTIONS).map(([name, [dx, dy]]) => [`${dx},${dy}`, name]));

function isCell(value) {
  return Array.isArray(value) && value.length === 2 && value.every((n) => Number.isInteger(n));
}

export class MazeGame {
  /**
   * @param {{width:number, height:number, walls:number[][], start:number[], exit:number[], pellets:number[][],
   *          germs:number[][]}} maze  the "maze" object of POST /api/maze/games
   * @param {{mode?: "manual"|"lam", fog?: boolean, now?: number, random?: () => number}} options
   */
  constructor(maze, { mode = "manual", fog = false, now = performance.now(), random = Math.random } = {}) {
    this.width = maze.width;
    this.height = maze.height;
    this.walls = maze.walls.map((row) => row.slice());
    this.player = maze.start.slice();
    this.exit = maze.exit.slice();
    this.pellets = (maze.pellets || []).map((p) => p.slice());
    this.germs = (maze.germs || []).map((g) => ({ pos: g.slice(), prev: null }));
    this.mode = mode;
    this.random = random;
    this.startedAt = now;
    this.endedAt = null;
    this.status = "playing"; // "playing" | "won" | "lost"
    this.endReason = "";
    this.previous = null; // the cell the player just left (a step back onto it is a backtrack)
    this.steps = 0;
    this.backtracks = 0;
    this.collisions = 0;
    this.oxygenCollected = 0;
    this.oxygen = 100;
    this.lastTick = now;
    this.drainClock = 0;
    this.germClock = 0;
    this.breaksLeft = MAX_BREAKS;
    this.spawned = 0;
    this.boostUntil = 0;
    this.slowUntil = 0;
    this.freezeUntil = 0;
    this.highlight = { cells: [], until: 0 };
    this.path = { cells: [], show: true, cursor: 0 }; // the latest hint path; cursor = next cell to step on
    this.autopilot = mode === "lam";
    this.seen = fog ? new Set() : null; // cells ever seen; null when there is no fog
    this.stepsTried = []; // steps since takeSteps(), for the server's record of the play (maze/play.py)
    this.reveal();
  }

  /** The steps tried since the last call, as the server's "move" frame lists them. */
  takeSteps() {
    const steps = this.stepsTried;
    this.stepsTried = [];
    return steps;
  }

  // ---- board queries --------------------------------------------------------------------------------------
  inside(x, y) {
    return x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  isWall(x, y) {
    return !this.inside(x, y) || this.walls[y][x] === 1;
  }

  isVisible(x, y) {
    return this.seen === null || this.seen.has(key(x, y));
  }

  germAt(cell) {
    return this.germs.some((g) => same(g.pos, cell));
  }

  pelletIndex(cell) {
    return this.pellets.findIndex((p) => same(p, cell));
  }

  get playing() {
    return this.status === "playing";
  }

  elapsedMs(now = performance.now()) {
    return Math.max(0, Math.round((this.endedAt ?? now) - this.startedAt));
  }

  effects(now = performance.now()) {
    return {
      boostMs: Math.max(0, this.boostUntil - now),
      slowMs: Math.max(0, this.slowUntil - now),
      freezeMs: Math.max(0, this.freezeUntil - now),
    };
  }

  /** With fog: mark the cells around the player (and the exit, a beacon) as seen. */
  reveal() {
    if (this.seen === null) return;
    const [px, py] = this.player;
    for (let y = py - FOG_RADIUS; y <= py + FOG_RADIUS; y += 1) {
      for (let x = px - FOG_RADIUS; x <= px + FOG_RADIUS; x += 1) {
        if (this.inside(x, y)) this.seen.add(key(x, y));
      }
    }
    this.seen.add(key(this.exit[0], this.exit[1]));
  }

  // ---- the player ---------------------------------------------------------------------------------------
  /** One cell in a direction. Returns "moved", "wall" or "over". A wall counts as a collision if `count`. */
  #step(dx, dy, now, { count = true } = {}) {
    if (!this.playing) return "over";
    this.stepsTried.push({ dir: DIRECTION_NAMES.get(`${dx},${dy}`), counts: count });
    const target = [this.player[0] + dx, this.player[1] + dy];
    if (this.isWall(target[0], target[1])) {
      if (count) this.collisions += 1;
      return "wall";
    }
    if (same(target, this.previous)) this.backtracks += 1;
    this.previous = this.player;
    this.player = target;
    this.steps += 1;
    this.#arrive(now);
    return "moved";
  }

  /** After the player lands on a cell: pellets, germs, exit, fog and the path cursor. */
  #arrive(now) {
    const pellet = this.pelletIndex(this.player);
    if (pellet !== -1) {
      this.pellets.splice(pellet, 1);
      this.oxygenCollected += 1;
      this.oxygen = Math.min(100, this.oxygen + PELLET_OXYGEN);
    }
    this.reveal();
    this.#syncPathCursor();
    if (this.germAt(this.player)) this.#end("lost", "A germ caught you.", now);
    else if (same(this.player, this.exit)) this.#end("won", "You reached the exit!", now);
  }

  /** A move by key or button: twice while a speed boost runs. Returns the cells moved (0–2). `repeat` (a held
   *  key or button) does not count the same wall again: one bump is one collision. */
  move(dx, dy, now = performance.now(), { repeat = false } = {}) {
    let moved = 0;
    if (this.#step(dx, dy, now, { count: !repeat }) !== "moved") return 0;
    moved += 1;
    if (now < this.boostUntil && this.#step(dx, dy, now, { count: false }) === "moved") moved += 1;
    return moved;
  }

  /** The direction [dx, dy] of the next autopilot step along the hint path, or null when there is none. */
  nextPathStep() {
    const { cells, cursor } = this.path;
    const next = cells[cursor];
    if (!next || !adjacent(this.player, next) || this.isWall(next[0], next[1])) return null;
    return [next[0] - this.player[0], next[1] - this.player[1]];
  }

  /** The autopilot's turn: one step along the path (two while boosted). Returns the cells moved. */
  autoStep(now = performance.now()) {
    if (!this.playing || !this.autopilot) return 0;
    let moved = 0;
    const boosted = now < this.boostUntil;
    for (let i = 0; i < (boosted ? 2 : 1); i += 1) {
      const direction = this.nextPathStep();
      if (!direction || this.#step(direction[0], direction[1], now, { count: false }) !== "moved") break;
      moved += 1;
    }
    return moved;
  }

  /** Point the path cursor just after the player's cell on the path (or at its start when next to it). */
  #syncPathCursor() {
    const { cells } = this.path;
    for (let i = cells.length - 1; i >= 0; i -= 1) {
      if (same(cells[i], this.player)) {
        this.path.cursor = i + 1;
        return;
      }
    }
    if (this.path.cursor < cells.length && adjacent(this.player, cells[this.path.cursor])) return;
    this.path.cursor = cells.length && adjacent(this.player, cells[0]) ? 0 : cells.length;
  }

  /** The part of the path still ahead: from the cursor when the player is on or next to the path, else all of it
   *  (a path computed for where the player stood a moment ago is still worth showing). */
  remainingPath() {
    const { cells, cursor } = this.path;
    if (cursor < cells.length) return { cells: cells.slice(cursor), joined: adjacent(this.player, cells[cursor]) };
    const walked = cells.some((c) => same(c, this.player));
    return { cells: walked ? [] : cells, joined: false };
  }

  /** True when the autopilot has nothing left to follow. */
  get pathDone() {
    return this.nextPathStep() === null;
  }

  // ---- time ---------------------------------------------------------------------------------------------
  /** Advance the clocks: oxygen, germs, effect timers. Returns true when anything visible changed. */
  tick(now = performance.now()) {
    if (!this.playing) return false;
    const dt = Math.max(0, Math.min(now - this.lastTick, 5000));
    this.lastTick = now;
    let changed = false;

    this.drainClock += dt;
    while (this.drainClock >= OXYGEN_DRAIN_MS) {
      this.drainClock -= OXYGEN_DRAIN_MS;
      this.oxygen = Math.max(0, this.oxygen - 1);
      changed = true;
    }
    if (this.oxygen <= 0) {
      this.#end("lost", "You ran out of oxygen.", now);
      return true;
    }

    if (now < this.freezeUntil) {
      this.germClock = 0;
    } else {
      this.germClock += dt;
      const interval = now < this.slowUntil ? GERM_STEP_MS * 2 : GERM_STEP_MS;
      if (this.germClock >= interval) {
        this.germClock = Math.min(this.germClock - interval, interval); // no burst of catch-up steps
        this.#moveGerms(now);
        changed = true;
      }
    }
    if (this.highlight.cells.length && now >= this.highlight.until) {
      this.highlight = { cells: [], until: 0 };
      changed = true;
    }
    return changed;
  }

  #moveGerms(now) {
    for (const germ of this.germs) {
      const options = Object.values(DIRECTIONS)
        .map(([dx, dy]) => [germ.pos[0] + dx, germ.pos[1] + dy])
        .filter(([x, y]) => !this.isWall(x, y));
      if (!options.length) continue;
      // Wander without turning back unless it is a dead end: it looks less jittery.
      const forward = options.filter((cell) => !same(cell, germ.prev));
      const pool = forward.length ? forward : options;
      const next = pool[Math.floor(this.random() * pool.length)];
      germ.prev = germ.pos;
      germ.pos = next;
      if (same(next, this.player)) {
        this.#end("lost", "A germ caught you.", now);
        return;
      }
    }
  }

  #end(status, reason, now) {
    if (!this.playing) return;
    this.status = status;
    this.endReason = reason;
    this.endedAt = now;
  }

  /** The player gives up. */
  abandon(now = performance.now()) {
    this.#end("lost", "You gave up.", now);
  }

  // ---- hint actions -------------------------------------------------------------------------------------
  /**
   * Apply the actions the server accepted (`applied` of a hint frame), re-checked against the current board.
   * Returns one entry per action: {action, ok, text} where text says what happened or why it was ignored.
   */
  applyActions(applied, now = performance.now()) {
    const results = [];
    // What changed the board, for the server's record of the play: it accepts only what this hint allowed.
    this.lastEffects = { break: [], spawn: [], teleport: null, exit: null };
    const done = (action, text) => results.push({ action, ok: true, text });
    const skip = (action, text) => results.push({ action, ok: false, text });
    if (!applied || typeof applied !== "object") return results;
    if (!this.playing) {
      for (const action of Object.keys(applied)) skip(action, "the game is over");
      return results;
    }
    const duration = (value) => (Number.isFinite(value) && value > 0 ? Math.min(value, 120000) : 0);

    if ("breaks_remaining" in applied && Number.isInteger(applied.breaks_remaining)) {
      this.breaksLeft = Math.max(0, Math.min(this.breaksLeft, applied.breaks_remaining));
    }
    const names = Object.keys(applied).filter((name) => !MODIFIERS.has(name));
    names.sort((a, b) => rank(a) - rank(b));
    for (const action of names) {
      const value = applied[action];
      switch (action) {
        case "path": {
          const problem = this.#pathProblem(value);
          if (problem) { skip(action, problem); break; }
          this.path = { cells: value.map((c) => c.slice()), show: applied.show_path !== false, cursor: 0 };
          this.#syncPathCursor();
          done(action, `${value.length} step${value.length === 1 ? "" : "s"}${this.path.show ? "" : " (not shown)"}`);
          break;
        }
        case "break_wall":
        case "break_walls": {
          const cells = action === "break_wall" ? [value] : Array.isArray(value) ? value : [];
          let broken = 0;
          const reasons = cells.length ? [] : ["no cells given"];
          for (const cell of cells) {
            const problem = this.#breakProblem(cell);
            if (problem) { reasons.push(problem); continue; }
            this.walls[cell[1]][cell[0]] = 0;
            this.breaksLeft -= 1;
            this.lastEffects.break.push(cell.slice());
            broken += 1;
          }
          if (broken) done(action, `${broken} wall${broken === 1 ? "" : "s"} broken, ${this.breaksLeft} break${this.breaksLeft === 1 ? "" : "s"} left`);
          if (reasons.length) skip(action, [...new Set(reasons)].join("; "));
          break;
        }
        case "speed_boost_ms":
        case "slow_germs_ms":
        case "freeze_germs_ms": {
          const ms = duration(value);
          if (!ms) { skip(action, "not a positive duration"); break; }
          const field = { speed_boost_ms: "boostUntil", slow_germs_ms: "slowUntil", freeze_germs_ms: "freezeUntil" }[action];
          this[field] = Math.max(this[field], now + ms);
          done(action, `${(ms / 1000).toFixed(1)} s`);
          break;
        }
        case "teleport_player": {
          const problem = this.#placeProblem(value, { allowPellet: true });
          if (problem) { skip(action, problem); break; }
          this.previous = null;
          this.player = value.slice();
          this.lastEffects.teleport = value.slice();
          done(action, `to ${value[0]}, ${value[1]}`);
          this.#arrive(now);
          break;
        }
        case "spawn_oxygen": {
          const cells = Array.isArray(value) ? value : [];
          let added = 0;
          const reasons = [];
          for (const cell of cells) {
            const problem = this.spawned >= MAX_SPAWNED ? `no more than ${MAX_SPAWNED} pellets may be added in a game`
              : this.#placeProblem(cell, { allowGerm: true }) || (same(cell, this.player) ? "that is where you stand" : "");
            if (problem) { reasons.push(problem); continue; }
            this.pellets.push(cell.slice());
            this.spawned += 1;
            this.lastEffects.spawn.push(cell.slice());
            added += 1;
          }
          if (added) done(action, `${added} pellet${added === 1 ? "" : "s"}`);
          if (reasons.length || !cells.length) skip(action, [...new Set(reasons)].join("; ") || "no cells given");
          break;
        }
        case "move_exit": {
          const problem = this.#placeProblem(value, { allowPellet: true, allowGerm: true, allowExit: true })
            || (same(value, this.exit) ? "the exit is already there" : "")
            || (same(value, this.player) ? "that is where you stand" : "");
          if (problem) { skip(action, problem); break; }
          this.exit = value.slice();
          this.lastEffects.exit = value.slice();
          this.reveal();
          done(action, `to ${value[0]}, ${value[1]}`);
          break;
        }
        case "highlight_zone": {
          const cells = (Array.isArray(value) ? value : []).filter((c) => isCell(c) && this.inside(c[0], c[1]));
          if (!cells.length) { skip(action, "no cells on the board"); break; }
          const ms = duration(applied.highlight_ms) || DEFAULT_HIGHLIGHT_MS;
          this.highlight = { cells: cells.map((c) => c.slice()), until: now + ms };
          done(action, `${cells.length} cell${cells.length === 1 ? "" : "s"} for ${(ms / 1000).toFixed(1)} s`);
          break;
        }
        case "reveal_map":
          if (value !== true) skip(action, "not true");
          else if (this.seen === null) skip(action, "the map has no fog");
          else { this.seen = null; done(action, "fog cleared"); }
          break;
        case "toggle_autopilot":
          if (typeof value !== "boolean") { skip(action, "not true or false"); break; }
          this.autopilot = value;
          done(action, value ? "autopilot on" : "autopilot off");
          break;
        default:
          skip(action, "this game does not know that action");
      }
    }
    return results;
  }

  #pathProblem(value) {
    if (!Array.isArray(value) || !value.length) return "empty path";
    for (let i = 0; i < value.length; i += 1) {
      const cell = value[i];
      if (!isCell(cell) || !this.inside(cell[0], cell[1])) return "the path leaves the board";
      if (this.isWall(cell[0], cell[1])) return `the path crosses a wall at ${cell[0]}, ${cell[1]}`;
      if (i > 0 && !adjacent(value[i - 1], cell)) return "the path jumps between cells that do not touch";
    }
    return "";
  }

  #breakProblem(cell) {
    if (!isCell(cell) || !this.inside(cell[0], cell[1])) return "off the board";
    if (cell[0] === 0 || cell[1] === 0 || cell[0] === this.width - 1 || cell[1] === this.height - 1) {
      return "the outer wall cannot be broken";
    }
    if (!this.isWall(cell[0], cell[1])) return "already floor";
    if (this.breaksLeft <= 0) return "no wall breaks left";
    return "";
  }

  #placeProblem(cell, { allowPellet = false, allowGerm = false, allowExit = false } = {}) {
    if (!isCell(cell) || !this.inside(cell[0], cell[1])) return "off the board";
    if (this.isWall(cell[0], cell[1])) return "that cell is a wall";
    if (!allowGerm && this.germAt(cell)) return "a germ is there";
    if (!allowPellet && this.pelletIndex(cell) !== -1) return "a pellet is already there";
    if (!allowExit && same(cell, this.exit)) return "that is the exit";
    return "";
  }

  // ---- messages -----------------------------------------------------------------------------------------
  /** The `state` object of a WebSocket state message: fogged cells go out as walls, hidden things are left out. */
  snapshot() {
    const visible = ([x, y]) => this.isVisible(x, y);
    return {
      player: this.player.slice(),
      exit: this.exit.slice(),
      walls: this.walls.map((row, y) => row.map((cell, x) => (this.isVisible(x, y) ? cell : 1))),
      pellets: this.pellets.filter(visible).map((p) => p.slice()),
      germs: this.germs.map((g) => g.pos).filter(visible).map((p) => p.slice()),
      tick: Date.now(),
      health: 100,
      oxygen: Math.max(0, Math.min(100, Math.round(this.oxygen))),
    };
  }

  /** The body of POST /api/maze/games/<id>/finish, without the hint statistics. */
  report() {
    return {
      won: this.status === "won",
      duration_ms: this.elapsedMs(),
      steps: this.steps,
      backtracks: this.backtracks,
      collisions: this.collisions,
      oxygen_collected: this.oxygenCollected,
      mode: this.mode,
    };
  }
}
