// maze-render.js — draws a MazeGame on the page's <canvas>: walls, floor, fog, highlighted cells, the hint path,
// pellets, germs, the exit and the player. The canvas is sized to whole-pixel cells that fit its container.

const COLORS = {
  wall: "#2b3440", floor: "#f7f8fa", fog: "#5b6573", highlight: "rgba(240, 163, 10, 0.38)",
  path: "rgba(29, 91, 191, 0.55)", pathDot: "rgba(29, 91, 191, 0.8)",
  exit: "#1e8a3a", exitMark: "#ffffff", pellet: "#17a2c4", pelletRim: "#0b6f87",
  germ: "#c0392b", germSlow: "#d98880", germFrozen: "#7fb3d5", germEye: "#ffffff",
  player: "#1d5bbf", playerRim: "#ffffff", boost: "rgba(240, 163, 10, 0.9)",
};

export class MazeRenderer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.cell = 12;
    this.dpr = 1;
  }

  /** Pick the largest whole cell size that fits `maxWidth` × `maxHeight` CSS pixels. */
  fit(game, maxWidth, maxHeight) {
    const cell = Math.max(4, Math.floor(Math.min(maxWidth / game.width, maxHeight / game.height)));
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const width = cell * game.width;
    const height = cell * game.height;
    if (cell === this.cell && dpr === this.dpr && this.canvas.width === Math.round(width * dpr)) return false;
    this.cell = cell;
    this.dpr = dpr;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    return true;
  }

  draw(game, now = performance.now()) {
    const { ctx, cell } = this;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = COLORS.floor;
    ctx.fillRect(0, 0, game.width * cell, game.height * cell);

    for (let y = 0; y < game.height; y += 1) {
      for (let x = 0; x < game.width; x += 1) {
        if (!game.isVisible(x, y)) {
          ctx.fillStyle = COLORS.fog;
          ctx.fillRect(x * cell, y * cell, cell, cell);
        } else if (game.walls[y][x] === 1) {
          ctx.fillStyle = COLORS.wall;
          ctx.fillRect(x * cell, y * cell, cell, cell);
        }
      }
    }

    if (game.highlight.cells.length && now < game.highlight.until) {
      ctx.fillStyle = COLORS.highlight;
      for (const [x, y] of game.highlight.cells) ctx.fillRect(x * cell, y * cell, cell, cell);
    }

    this.#drawPath(game);
    this.#drawExit(game);
    const visible = ([x, y]) => game.isVisible(x, y);
    for (const pellet of game.pellets.filter(visible)) this.#drawPellet(pellet);
    const effects = game.effects(now);
    const germColor = effects.freezeMs > 0 ? COLORS.germFrozen : effects.slowMs > 0 ? COLORS.germSlow : COLORS.germ;
    for (const germ of game.germs) if (visible(germ.pos)) this.#drawGerm(germ.pos, germColor);
    this.#drawPlayer(game, effects.boostMs > 0);
  }

  #center([x, y]) {
    return [(x + 0.5) * this.cell, (y + 0.5) * this.cell];
  }

  #drawPath(game) {
    const { cells, joined } = game.remainingPath();
    if (!game.path.show || !cells.length) {
      delete this.canvas.dataset.pathLength;
      return;
    }
    const { ctx, cell } = this;
    ctx.save();
    ctx.strokeStyle = COLORS.path;
    ctx.lineWidth = Math.max(2, cell * 0.28);
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    const points = joined ? [game.player, ...cells] : cells;
    points.forEach((c, i) => {
      const [cx, cy] = this.#center(c);
      if (i === 0) ctx.moveTo(cx, cy);
      else ctx.lineTo(cx, cy);
    });
    if (points.length === 1) ctx.lineTo(...this.#center(points[0]));
    ctx.stroke();
    const [ex, ey] = this.#center(cells[cells.length - 1]);
    ctx.fillStyle = COLORS.pathDot;
    ctx.beginPath();
    ctx.arc(ex, ey, Math.max(2, cell * 0.22), 0, Math.PI * 2);
    ctx.fill();
    ctx.restore();
    this.canvas.dataset.pathLength = String(cells.length);
  }

  #drawExit(game) {
    const { ctx, cell } = this;
    const [x, y] = game.exit;
    const pad = Math.max(1, cell * 0.08);
    ctx.fillStyle = COLORS.exit;
    ctx.fillRect(x * cell + pad, y * cell + pad, cell - 2 * pad, cell - 2 * pad);
    if (cell >= 8) {
      ctx.strokeStyle = COLORS.exitMark;
      ctx.lineWidth = Math.max(1, cell * 0.1);
      ctx.beginPath();
      ctx.moveTo(x * cell + cell * 0.3, y * cell + cell * 0.5);
      ctx.lineTo(x * cell + cell * 0.7, y * cell + cell * 0.5);
      ctx.moveTo(x * cell + cell * 0.55, y * cell + cell * 0.33);
      ctx.lineTo(x * cell + cell * 0.72, y * cell + cell * 0.5);
      ctx.lineTo(x * cell + cell * 0.55, y * cell + cell * 0.67);
      ctx.stroke();
    }
  }

  #drawPellet(pellet) {
    const { ctx, cell } = this;
    const [cx, cy] = this.#center(pellet);
    ctx.fillStyle = COLORS.pellet;
    ctx.strokeStyle = COLORS.pelletRim;
    ctx.lineWidth = Math.max(1, cell * 0.06);
    ctx.beginPath();
    ctx.arc(cx, cy, Math.max(1.5, cell * 0.22), 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  }

  #drawGerm(pos, color) {
    const { ctx, cell } = this;
    const [cx, cy] = this.#center(pos);
    const r = Math.max(2, cell * 0.36);
    ctx.fillStyle = color;
    ctx.beginPath();
    for (let i = 0; i < 16; i += 1) { // a spiky blob
      const angle = (i / 16) * Math.PI * 2;
      const radius = i % 2 === 0 ? r : r * 0.72;
      ctx.lineTo(cx + Math.cos(angle) * radius, cy + Math.sin(angle) * radius);
    }
    ctx.closePath();
    ctx.fill();
    if (cell >= 10) {
      ctx.fillStyle = COLORS.germEye;
      ctx.beginPath();
      ctx.arc(cx - r * 0.3, cy - r * 0.15, r * 0.16, 0, Math.PI * 2);
      ctx.arc(cx + r * 0.3, cy - r * 0.15, r * 0.16, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  #drawPlayer(game, boosted) {
    const { ctx, cell } = this;
    const [cx, cy] = this.#center(game.player);
    const r = Math.max(2, cell * 0.38);
    if (boosted) {
      ctx.fillStyle = COLORS.boost;
      ctx.beginPath();
      ctx.arc(cx, cy, r * 1.3, 0, Math.PI * 2);
      ctx.fill();
    }
    ctx.fillStyle = COLORS.player;
    ctx.strokeStyle = COLORS.playerRim;
    ctx.lineWidth = Math.max(1, cell * 0.08);
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  }
}
