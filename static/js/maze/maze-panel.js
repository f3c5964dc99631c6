// maze-panel.js — the maze page's side panel: latest hint, its actions (applied / ignored), hint latency,
// counters, running effects, status line and the game result. Text always goes in through textContent.

const byId = (id) => document.getElementById(id);

const ACTION_NAMES = {
  path: "Path", break_wall: "Break wall", break_walls: "Break walls", speed_boost_ms: "Speed boost",
  slow_germs_ms: "Slow germs", freeze_germs_ms: "Freeze germs", teleport_player: "Teleport",
  spawn_oxygen: "Spawn oxygen", move_exit: "Move exit", highlight_zone: "Highlight zone",
  highlight_ms: "Highlight time", reveal_map: "Reveal map", show_path: "Show path",
  breaks_remaining: "Breaks remaining", toggle_autopilot: "Autopilot",
};

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

export function formatMs(ms) {
  return `${Math.round(ms).toLocaleString()} ms`;
}

// ---- status line --------------------------------------------------------------------------------------------
let noticeTimer = null;

/** The status line (#maze-status). state: "idle" | "ok" | "connecting" | "reconnecting" | "error". */
export function setStatus(text, state = "idle") {
  const node = byId("maze-status");
  clearTimeout(noticeTimer);
  noticeTimer = null;
  node.textContent = text;
  node.dataset.state = state;
}

/** A passing message ("Template updated") shown for a few seconds, then the previous status comes back. */
export function flashStatus(text, ms = 4000) {
  const node = byId("maze-status");
  const previous = { text: node.textContent, state: node.dataset.state || "idle" };
  setStatus(text, "notice");
  noticeTimer = setTimeout(() => setStatus(previous.text, previous.state), ms);
}

// ---- hint ---------------------------------------------------------------------------------------------------
export function clearHint() {
  byId("hint-text").textContent = "";
  byId("hint-suggestion").textContent = "";
  byId("hint-suggestion").hidden = true;
  byId("hint-error").textContent = "";
  byId("hint-error").hidden = true;
  byId("hint-actions").replaceChildren();
  byId("hint-actions-empty").hidden = false;
  byId("hint-latency").textContent = "—";
  byId("hint-empty").hidden = false;
}

/** @param {{text?: string|null, suggestion?: string|null, error?: string|null}} hint */
export function showHint({ text, suggestion, error }) {
  byId("hint-empty").hidden = true;
  const errorNode = byId("hint-error");
  if (error) {
    errorNode.textContent = `The language model reported an error: ${error}`;
    errorNode.hidden = false;
  } else {
    errorNode.textContent = "";
    errorNode.hidden = true;
  }
  const shown = text && text !== error ? text : "";
  byId("hint-text").textContent = shown || (error ? "" : "(The hint has no text.)");
  const suggestionNode = byId("hint-suggestion");
  suggestionNode.textContent = suggestion || "";
  suggestionNode.hidden = !suggestion;
}

/** @param {{action: string, ok: boolean, text: string}[]} results */
export function showActions(results) {
  const list = byId("hint-actions");
  list.replaceChildren(...results.map(({ action, ok, text }) => {
    const item = el("li", ok ? "action-applied" : "action-ignored");
    item.dataset.action = action;
    item.append(el("span", "action-name", ACTION_NAMES[action] || action), " ");
    const detail = ok ? `applied${text ? `: ${text}` : ""}` : `ignored (${text || "not applicable"})`;
    item.append(el("span", "action-detail", detail));
    return item;
  }));
  byId("hint-actions-empty").hidden = results.length > 0;
}

export function showLatency(ms, average, count) {
  const parts = [ms === null ? "—" : formatMs(ms)];
  if (average !== null && count > 1) parts.push(`(average ${formatMs(average)} over ${count} hints)`);
  byId("hint-latency").textContent = parts.join(" ");
}

// ---- counters and effects -----------------------------------------------------------------------------------
export function showCounters(game, now, hintCount) {
  byId("count-steps").textContent = String(game.steps);
  byId("count-oxygen").textContent = String(Math.round(game.oxygen));
  byId("count-pellets").textContent = String(game.oxygenCollected);
  byId("count-time").textContent = formatDuration(game.elapsedMs(now));
  byId("count-hints").textContent = String(hintCount);
  const meter = byId("oxygen-meter");
  meter.value = Math.round(game.oxygen);
  meter.dataset.level = game.oxygen <= 20 ? "low" : game.oxygen <= 50 ? "mid" : "high";

  const { boostMs, slowMs, freezeMs } = game.effects(now);
  const effects = [];
  if (game.autopilot) effects.push("Autopilot on");
  if (boostMs > 0) effects.push(`Speed boost ${Math.ceil(boostMs / 1000)} s`);
  if (freezeMs > 0) effects.push(`Germs frozen ${Math.ceil(freezeMs / 1000)} s`);
  else if (slowMs > 0) effects.push(`Germs slowed ${Math.ceil(slowMs / 1000)} s`);
  if (game.seen !== null) effects.push("Fog");
  byId("maze-effects").textContent = effects.join(" · ");
}

// ---- template -----------------------------------------------------------------------------------------------
export function templateLabel(template) {
  if (!template) return "No template (the default prompt)";
  return `${template.title} (v${template.version})`;
}

export function showTemplate(template, note = "") {
  byId("template-current").textContent = note ? `${templateLabel(template)} — ${note}` : templateLabel(template);
}

// ---- result -------------------------------------------------------------------------------------------------
/** The end-of-game box. score: the server's score object, or null while sending / after a failure. */
export function showResult({ won, reason, score = null, sending = false, error = "" }) {
  const box = byId("maze-result");
  box.hidden = false;
  box.dataset.outcome = won ? "won" : "lost";
  byId("maze-result-title").textContent = won ? "You escaped!" : "Game over";
  byId("maze-result-reason").textContent = reason || "";
  const scoreNode = byId("maze-score");
  if (sending) scoreNode.textContent = "Sending your result…";
  else if (score) {
    const efficiency = score.won && typeof score.path_efficiency === "number" ? ` · path efficiency ${Math.round(score.path_efficiency * 100)}%` : "";
    scoreNode.textContent = `Score: ${Number(score.points).toLocaleString()} points${efficiency}`;
  } else scoreNode.textContent = "";
  const errorNode = byId("maze-result-error");
  errorNode.textContent = error;
  errorNode.hidden = !error;
  byId("maze-result-retry").hidden = !error;
}

export function hideResult() {
  byId("maze-result").hidden = true;
}
