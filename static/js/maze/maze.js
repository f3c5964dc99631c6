// maze.js — controller of the maze page (/maze/): the set-up form, starting a game over the JSON API, keyboard
// and on-screen moves, the game clock and autopilot, hint frames from the socket, template switching, and
// reporting the finished game for its score.
import { ApiError, apiFetch, errorText } from "../api.js";
import { DIRECTIONS, MazeGame } from "./maze-game.js";
import { MazeRenderer } from "./maze-render.js";
import { MazeSocket } from "./maze-socket.js";
import * as panel from "./maze-panel.js";
import { addToHistory, clearHistory } from "./maze-history.js";

const TICK_MS = 100; // game clock: oxygen, germs, effects, autopilot
const AUTO_STEP_MS = 250; // the autopilot takes one step (two while boosted) this often
const REPEAT_MIN_MS = 90; // a held key repeats faster than this: extra repeats are dropped
const AUTO_HINT_IDLE_MS = 1500; // autopilot without a path asks for a hint after this long without a state sent
const HINT_BUTTON_PAUSE_MS = 800; // the server refuses hint requests closer than 200 ms apart
const FINISH_WAIT_MS = 8000; // the finish goes over the game's socket (after every step); then over HTTP

const byId = (id) => document.getElementById(id);
const app = byId("maze-app");
const API = app.dataset.apiBase || "/api/maze";
const ui = {
  setup: byId("maze-setup"), size: byId("maze-size"), germs: byId("maze-germs"), mode: byId("maze-mode"),
  template: byId("maze-template"), fog: byId("maze-fog"), start: byId("maze-start"), setupError: byId("maze-setup-error"),
  game: byId("maze-game"), canvas: byId("maze-canvas"), canvasWrap: byId("maze-canvas-wrap"),
  requestHint: byId("request-hint"), switchSelect: byId("template-switch-select"), switchBtn: byId("template-switch-btn"),
  quit: byId("maze-quit"), playAgain: byId("maze-play-again"), retry: byId("maze-result-retry"),
};

const KEYS = {
  ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
  w: "up", s: "down", a: "left", d: "right", W: "up", S: "down", A: "left", D: "right",
};

function readTemplates() {
  try {
    const data = JSON.parse(byId("maze-templates")?.textContent || "[]");
    return Array.isArray(data) ? data : [];
  } catch {
    return [];
  }
}

const state = {
  templates: readTemplates(),
  info: null, // the "game" object of the API
  game: null, // MazeGame
  renderer: new MazeRenderer(ui.canvas),
  socket: null,
  clock: null,
  frame: null,
  dirty: true,
  lastMoveAt: -Infinity,
  lastAutoAt: 0,
  hintCount: 0, // the server's count of the hints that reached this game (each hint frame carries it)
  awaitingHint: false, // "Request hint" was pressed and no hint came since: the status says so until one does
  latencySum: 0,
  latencyCount: 0,
  report: null,
  finishing: null, // while the finish waits for the server's answer on the socket: its resolver
  switching: false,
  publishedCount: 0, // template.published frames seen: one may arrive before the PATCH answer
};

// ---- set-up -------------------------------------------------------------------------------------------------
function setupValues() {
  const [width, height] = ui.size.value.split("x").map(Number);
  const germs = Number(ui.germs.value);
  const templateId = ui.template.value ? Number(ui.template.value) : null;
  return { width, height, germs, mode: ui.mode.value === "lam" ? "lam" : "manual", template_id: templateId };
}

function showSetupError(text) {
  ui.setupError.textContent = text;
  ui.setupError.hidden = !text;
}

async function startGame(event) {
  event.preventDefault();
  const body = setupValues();
  if (!Number.isInteger(body.germs) || body.germs < 0 || body.germs > 50) {
    showSetupError("Germs must be a whole number from 0 to 50.");
    ui.germs.setAttribute("aria-invalid", "true");
    ui.germs.focus();
    return;
  }
  ui.germs.removeAttribute("aria-invalid");
  showSetupError("");
  ui.start.disabled = true;
  ui.start.textContent = "Starting…";
  try {
    const data = await apiFetch(`${API}/games`, { method: "POST", body });
    beginGame(data.game, data.maze, { fog: ui.fog.checked });
  } catch (err) {
    showSetupError(errorText(err));
    const field = err?.data?.field;
    const input = { width: ui.size, height: ui.size, germs: ui.germs, mode: ui.mode, template_id: ui.template }[field];
    if (input) input.focus();
  } finally {
    ui.start.disabled = false;
    ui.start.textContent = "Start";
  }
}

// ---- the game -----------------------------------------------------------------------------------------------
function beginGame(info, maze, { fog }) {
  state.info = info;
  state.game = new MazeGame(maze, { mode: info.mode, fog });
  state.hintCount = 0;
  state.awaitingHint = false;
  state.latencySum = 0;
  state.latencyCount = 0;
  state.report = null;
  state.lastAutoAt = performance.now();
  panel.clearHint();
  clearHistory();
  panel.hideResult();
  panel.showTemplate(info.template);
  ui.switchSelect.value = info.template ? String(info.template.id) : "";
  ui.setup.hidden = true;
  ui.game.hidden = false;
  setPlayingControls(true);
  fitCanvas();
  panel.showCounters(state.game, performance.now(), 0);
  panel.setStatus("Connecting to the hint service…", "connecting");

  const socket = new MazeSocket(info.id, {
    getState: () => (state.game && state.game.playing ? state.game.snapshot() : null),
    onFrame: (frame) => { if (state.socket === socket) onFrame(frame); },
    onConnection: (kind, detail) => { if (state.socket === socket) onConnection(kind, detail); },
    onRefused: (code, text) => { if (state.socket === socket) panel.setStatus(text, "error"); },
  });
  state.socket = socket;
  if (info.mode === "lam") socket.requestHint(); // queued: the first state message asks for the first path
  socket.start();
  state.clock = setInterval(tick, TICK_MS);
  scheduleDraw();
  ui.canvas.scrollIntoView({ block: "nearest" });
}

function setPlayingControls(playing) {
  for (const node of [ui.requestHint, ui.switchBtn, ui.switchSelect, ui.quit, ...document.querySelectorAll(".maze-pad-btn")]) {
    node.disabled = !playing;
  }
}

function onConnection(kind, detail) {
  if (!state.game?.playing) return;
  if (kind === "open") panel.setStatus(state.game.autopilot ? "Connected. The autopilot follows the hint path." : "Connected. Good luck!", "ok");
  else if (kind === "connecting") panel.setStatus(detail.reconnecting ? "Reconnecting to the hint service…" : "Connecting to the hint service…", "connecting");
  else if (kind === "reconnecting") panel.setStatus(`Hint connection lost. Retrying in ${Math.round(detail.delay / 1000)} s…`, "reconnecting");
}

function tick() {
  const { game, socket } = state;
  if (!game) return;
  const now = performance.now();
  if (game.tick(now)) state.dirty = true;
  if (game.playing && game.autopilot && now - state.lastAutoAt >= AUTO_STEP_MS) {
    state.lastAutoAt = now;
    const moved = game.autoStep(now);
    sendSteps();
    if (moved > 0) afterMove();
    else if (socket && socket.isOpen && !socket.hintPending && socket.sinceLastSend > AUTO_HINT_IDLE_MS) {
      socket.requestHint(); // nothing left to follow: ask for a fresh path
    }
  }
  panel.showCounters(game, now, state.hintCount);
  if (state.dirty) scheduleDraw();
  if (!game.playing && !state.report) endGame();
}

function move(direction, { repeat = false } = {}) {
  const { game } = state;
  if (!game || !game.playing) return;
  const now = performance.now();
  if (repeat && now - state.lastMoveAt < REPEAT_MIN_MS) return;
  state.lastMoveAt = now;
  const [dx, dy] = DIRECTIONS[direction];
  const moved = game.move(dx, dy, now, { repeat });
  sendSteps();
  if (moved > 0) afterMove();
  panel.showCounters(game, now, state.hintCount);
}

/** The steps the last move tried go to the server, which scores the game from them (maze/play.py). */
function sendSteps() {
  const steps = state.game ? state.game.takeSteps() : [];
  if (steps.length) state.socket?.sendPlay({ type: "move", steps });
}

function afterMove() {
  state.dirty = true;
  scheduleDraw();
  if (state.game.playing) state.socket?.stateChanged();
  else endGame();
}

function scheduleDraw() {
  if (state.frame !== null) return;
  state.frame = requestAnimationFrame(() => {
    state.frame = null;
    if (!state.game) return;
    state.dirty = false;
    state.renderer.draw(state.game);
  });
}

function fitCanvas() {
  if (!state.game || ui.game.hidden) return;
  const width = ui.canvasWrap.clientWidth || window.innerWidth;
  const height = Math.max(200, window.innerHeight * (window.innerWidth > 900 ? 0.78 : 0.62));
  if (state.renderer.fit(state.game, width, height)) state.dirty = true;
  scheduleDraw();
}

// ---- socket frames ------------------------------------------------------------------------------------------
function onFrame(frame) {
  if (state.finishing && (frame.type === "finished" || (frame.type === "error" && frame.code === "invalid"))) {
    state.finishing(frame);
    return;
  }
  if (!state.game?.playing) return;
  if (frame.type === "hint") onHint(frame);
  else if (frame.type === "error") {
    const text = typeof frame.detail === "string" && frame.detail.trim() ? frame.detail.trim() : "The hint service reported an error.";
    panel.setStatus(text, frame.code === "throttled" ? "notice" : "error");
  } else if (frame.type === "template.published") {
    state.publishedCount += 1;
    panel.showTemplate(frame.template || null, "in use");
    panel.flashStatus(`The LLM now uses ${panel.templateLabel(frame.template || null)}.`);
  }
}

function onHint(frame) {
  const raw = frame.hint && typeof frame.hint === "object" ? frame.hint : {};
  if (frame.notice) {
    panel.flashStatus(frame.text || raw.hint || "Notice from the hint service.");
    return;
  }
  const requested = state.socket.hintPending; // read before takeLatency() settles the request
  const latency = state.socket.takeLatency();
  const error = frame.error || null;
  if (!error) {
    // The server's count when it recorded this hint (a watcher's socket records nothing: count here then).
    // Every state message, a move's too, is answered by the LLM: those are hints that arrived and count.
    state.hintCount = Number.isInteger(frame.hint_count) ? frame.hint_count : state.hintCount + 1;
    if (latency !== null) {
      state.latencySum += latency;
      state.latencyCount += 1;
    }
  }
  panel.showCounters(state.game, performance.now(), state.hintCount); // at once, with the status below
  const average = state.latencyCount ? state.latencySum / state.latencyCount : null;
  panel.showLatency(latency, average, state.latencyCount);
  const text = frame.text ?? (typeof raw.raw === "string" ? raw.raw : null);
  panel.showHint({ text, suggestion: frame.suggestion, error });
  if (error) panel.setStatus("The language model reported an error. Try another hint in a moment.", "error");
  else if (state.awaitingHint || byId("maze-status").dataset.state === "error") {
    const shown = text ? (text.length > 160 ? `${text.slice(0, 159)}…` : text) : "(no text)";
    panel.setStatus(`Hint arrived${latency === null ? "" : ` after ${panel.formatMs(latency)}`}: ${shown}`, "ok");
  }
  state.awaitingHint = false;

  const results = state.game.applyActions(frame.applied || {}, performance.now());
  const effects = state.game.lastEffects;
  if (Number.isInteger(frame.hint_id) && effects
      && (effects.break.length || effects.spawn.length || effects.teleport || effects.exit)) {
    state.socket.sendPlay({ type: "hint_effects", hint_id: frame.hint_id, effects });
  }
  for (const entry of Array.isArray(frame.ignored) ? frame.ignored : []) {
    if (entry && typeof entry.action === "string") results.push({ action: entry.action, ok: false, text: entry.reason || "" });
  }
  panel.showActions(results);
  addToHistory({
    number: Number.isInteger(frame.hint_id) ? frame.hint_id : null,
    at: new Date(),
    latency,
    requested,
    text,
    error,
    declared: Array.isArray(frame.declared) ? frame.declared.map(String) : [],
    aliases: frame.aliases && typeof frame.aliases === "object" ? frame.aliases : {},
    results,
    raw: frame.hint,
  });
  if (results.some((r) => r.ok && r.action !== "path")) state.socket.stateChanged(); // the board changed
  state.dirty = true;
  scheduleDraw();
  if (!state.game.playing) endGame();
}

function requestHint() {
  if (!state.socket || !state.game?.playing) return;
  const sent = state.socket.requestHint();
  state.awaitingHint = true;
  panel.setStatus(sent ? "Hint requested…" : "Not connected: the hint will be requested when the connection is back.",
    sent ? "ok" : "reconnecting");
  ui.requestHint.disabled = true;
  setTimeout(() => { if (state.game?.playing) ui.requestHint.disabled = false; }, HINT_BUTTON_PAUSE_MS);
}

// ---- template switching -------------------------------------------------------------------------------------
async function switchTemplate() {
  if (!state.info || state.switching || !state.game?.playing) return;
  const templateId = ui.switchSelect.value ? Number(ui.switchSelect.value) : null;
  const gameId = state.info.id;
  state.switching = true;
  ui.switchBtn.disabled = true;
  panel.setStatus("Switching the template…", "ok");
  const seen = state.publishedCount;
  try {
    const data = await apiFetch(`${API}/games/${gameId}`, { method: "PATCH", body: { template_id: templateId } });
    if (state.info?.id !== gameId) return;
    state.info = data.game;
    if (state.publishedCount === seen) panel.showTemplate(data.game.template, "sent to the LLM");
    panel.setStatus(`Switched to ${panel.templateLabel(data.game.template)}.`, "ok");
  } catch (err) {
    panel.setStatus(errorText(err), "error");
  } finally {
    state.switching = false;
    ui.switchBtn.disabled = !state.game?.playing;
  }
}

// ---- the end ------------------------------------------------------------------------------------------------
function endGame() {
  const { game } = state;
  if (!game || state.report) return;
  clearInterval(state.clock);
  state.clock = null;
  setPlayingControls(false);
  panel.showCounters(game, performance.now(), state.hintCount);
  state.dirty = true;
  scheduleDraw();
  state.report = {
    ...game.report(),
    hint_count: state.hintCount,
    avg_hint_latency_ms: state.latencyCount ? Math.round((state.latencySum / state.latencyCount) * 10) / 10 : null,
  };
  panel.setStatus(game.status === "won" ? "You won!" : `Game over: ${game.endReason}`, game.status === "won" ? "ok" : "error");
  sendReport();
}

/** The report over the game's socket, after the last step on the same socket; the answer is the score or the
 *  reason it was refused. null when the socket gave no answer in time. */
function finishOverSocket(socket, report) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { state.finishing = null; resolve(null); }, FINISH_WAIT_MS);
    state.finishing = (frame) => { clearTimeout(timer); state.finishing = null; resolve(frame); };
    socket.sendPlay({ type: "finish", report });
  });
}

async function sendReport() {
  const { game, report, info } = state;
  if (!game || !report || !info) return;
  panel.showResult({ won: report.won, reason: game.endReason, sending: true });
  ui.retry.disabled = true;
  try {
    const socket = state.socket;
    let data = null;
    if (socket) {
      const frame = await finishOverSocket(socket, report);
      if (frame?.type === "error") throw new ApiError(frame.detail, { status: frame.status || 400 });
      if (frame) data = { score: frame.score };
    }
    // No answer over the socket (it is down): the server scores what it stored of the play.
    if (!data) data = await apiFetch(`${API}/games/${info.id}/finish`, { method: "POST", body: report });
    if (socket && state.socket === socket) {
      socket.stop();
      state.socket = null;
    }
    if (state.info !== info) return;
    panel.showResult({ won: data.score?.won ?? report.won, reason: game.endReason, score: data.score });
  } catch (err) {
    if (state.info !== info) return;
    const text = `The score was not recorded: ${errorText(err)}`;
    panel.showResult({ won: report.won, reason: game.endReason, error: text });
    ui.retry.hidden = !(err.status === 0 || err.status >= 500 || err.status === 429); // a 400/409 will not change
  } finally {
    ui.retry.disabled = false;
  }
  ui.playAgain.focus({ preventScroll: true });
  byId("maze-result").scrollIntoView({ block: "nearest" });
}

function quit() {
  if (!state.game?.playing) return;
  state.game.abandon(performance.now());
  endGame();
}

function playAgain() {
  state.finishing = null;
  state.socket?.stop();
  state.socket = null;
  clearInterval(state.clock);
  state.clock = null;
  state.game = null;
  state.info = null;
  state.report = null;
  delete ui.canvas.dataset.pathLength;
  panel.hideResult();
  ui.game.hidden = true;
  ui.setup.hidden = false;
  ui.start.focus();
}

// ---- input --------------------------------------------------------------------------------------------------
function onKey(event) {
  if (!state.game?.playing || event.altKey || event.ctrlKey || event.metaKey) return;
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]")) return;
  const direction = KEYS[event.key];
  if (!direction) return;
  event.preventDefault(); // no page scrolling with the arrows while playing
  move(direction, { repeat: event.repeat });
}

function bindPad() {
  let repeat = null;
  const stop = () => { clearInterval(repeat); repeat = null; };
  for (const button of document.querySelectorAll(".maze-pad-btn")) {
    const direction = button.dataset.move;
    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      stop();
      move(direction);
      repeat = setInterval(() => move(direction, { repeat: true }), 180); // hold to keep walking
    });
    for (const type of ["pointerup", "pointerleave", "pointercancel"]) button.addEventListener(type, stop);
    button.addEventListener("click", (event) => { if (event.detail === 0) move(direction); }); // keyboard "click"
    button.addEventListener("contextmenu", (event) => event.preventDefault());
  }
  window.addEventListener("blur", stop);
}

function init() {
  ui.setup.addEventListener("submit", startGame);
  ui.requestHint.addEventListener("click", requestHint);
  ui.switchBtn.addEventListener("click", switchTemplate);
  ui.quit.addEventListener("click", quit);
  ui.playAgain.addEventListener("click", playAgain);
  ui.retry.addEventListener("click", sendReport);
  document.addEventListener("keydown", onKey);
  bindPad();
  let resizeFrame = null;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(resizeFrame);
    resizeFrame = requestAnimationFrame(fitCanvas);
  });
  window.addEventListener("online", () => state.socket?.reconnectNow());
  window.addEventListener("pagehide", () => state.socket?.stop());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && state.game?.playing) state.socket?.start(); // back from the back/forward cache
  });
  // The ids of templates offered here come from json_script; the selects are rendered by the server.
  if (!state.templates.length) ui.switchSelect.title = "You have no active templates yet.";
}

init();
