// leaderboard.js — the leaderboard page (/leaderboard/): loads GET /api/leaderboard/?mode=&template_id=&page= into
// #leaderboard-table, with one tab per game mode (LAM, Manual), a template filter, the totals and previous/next
// pages; the choice is kept in the page's URL.
import { apiFetch, errorText } from "../api.js";

const byId = (id) => document.getElementById(id);
const app = byId("leaderboard-app");
const API = app.dataset.apiUrl || "/api/leaderboard/";
const ui = {
  filter: byId("leaderboard-filter"), body: byId("leaderboard-body"), status: byId("leaderboard-status"),
  prev: byId("leaderboard-prev"), next: byId("leaderboard-next"), page: byId("leaderboard-page"),
  participants: byId("leaderboard-participants"), games: byId("leaderboard-games"),
  panel: byId("leaderboard-panel"), tabs: [...document.querySelectorAll("#leaderboard-app [role=tab]")],
};
const MODES = ui.tabs.map((tab) => tab.dataset.mode);
const COLUMNS = 9;
const state = { page: 1, pages: 1, templateId: "", mode: MODES[0], loading: null };

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function formatTime(ms) {
  if (!Number.isFinite(ms)) return "—";
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${(seconds - minutes * 60).toFixed(1).padStart(4, "0")}`;
}

function formatDate(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return "—";
  return date.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function row(result) {
  const tr = document.createElement("tr");
  // Path efficiency means something only for a game that reached the exit.
  const efficiency = result.won && typeof result.path_efficiency === "number" ? `${Math.round(result.path_efficiency * 100)}%` : "—";
  const date = cell("");
  const time = document.createElement("time");
  time.textContent = formatDate(result.created_at);
  if (result.created_at) time.dateTime = result.created_at;
  date.append(time);
  tr.append(
    cell(String(result.rank), "num"),
    cell(result.user || "—"),
    cell(result.template ? result.template.title : "No template"),
    cell(Number(result.points).toLocaleString(), "num"),
    cell(result.won ? "Yes" : "No"),
    cell(formatTime(result.duration_ms), "num"),
    cell(efficiency, "num"),
    cell(result.mode === "lam" ? "LAM" : "Manual"),
    date,
  );
  if (result.won) tr.classList.add("is-won");
  return tr;
}

function messageRow(text) {
  const tr = document.createElement("tr");
  const td = cell(text, "table-empty");
  td.colSpan = COLUMNS;
  tr.append(td);
  return tr;
}

function remember() {
  const url = new URL(window.location.href);
  if (state.mode !== MODES[0]) url.searchParams.set("mode", state.mode);
  else url.searchParams.delete("mode");
  if (state.templateId) url.searchParams.set("template_id", state.templateId);
  else url.searchParams.delete("template_id");
  if (state.page > 1) url.searchParams.set("page", String(state.page));
  else url.searchParams.delete("page");
  window.history.replaceState(null, "", url);
}

function renderCount(element, value, singular, plural) {
  const n = Number(value) || 0;
  const strong = document.createElement("strong");
  strong.textContent = n.toLocaleString();
  element.replaceChildren(strong, ` ${n === 1 ? singular : plural}`);
  element.dataset.count = String(n);  // the number alone, for tests and styles
}

function renderTotals(data) {
  renderCount(ui.participants, data.participants, "participant", "participants");
  renderCount(ui.games, data.games, "game", "games");
}

function selectTab(mode) {
  for (const tab of ui.tabs) {
    const selected = tab.dataset.mode === mode;
    tab.setAttribute("aria-selected", String(selected));
    // Roving tabindex: Tab reaches the selected tab only, the arrow keys move between tabs.
    tab.tabIndex = selected ? 0 : -1;
    if (selected) ui.panel.setAttribute("aria-labelledby", tab.id);
  }
  state.mode = mode;
}

function renderPager(total) {
  ui.prev.disabled = state.page <= 1;
  ui.next.disabled = state.page >= state.pages;
  ui.page.textContent = `Page ${state.page} of ${state.pages}`;
  ui.status.textContent = total === 1 ? "1 score." : `${Number(total).toLocaleString()} scores.`;
}

async function load(page) {
  state.loading?.abort();
  const controller = new AbortController();
  state.loading = controller;
  ui.body.setAttribute("aria-busy", "true");
  ui.prev.disabled = true;
  ui.next.disabled = true;
  ui.status.textContent = "Loading scores…";
  const query = new URLSearchParams({ mode: state.mode, template_id: state.templateId, page: String(page) });
  let data;
  try {
    data = await apiFetch(`${API}?${query}`, { signal: controller.signal });
  } catch (err) {
    if (err?.name === "AbortError") return;
    ui.body.replaceChildren(messageRow("The scores could not be loaded."));
    ui.status.textContent = `${errorText(err)}`;
    ui.body.setAttribute("aria-busy", "false");
    ui.prev.disabled = state.page <= 1;
    ui.next.disabled = state.page >= state.pages;
    return;
  } finally {
    if (state.loading === controller) state.loading = null;
  }
  const results = Array.isArray(data.results) ? data.results : [];
  state.page = Number(data.page) || 1;
  state.pages = Math.max(1, Number(data.pages) || 1);
  ui.body.replaceChildren(...(results.length ? results.map(row)
    : [messageRow(state.templateId ? "No scores with this template in this mode yet." : "No scores in this mode yet. Play a game to be the first!")]));
  ui.body.setAttribute("aria-busy", "false");
  renderTotals(data);
  renderPager(Number(data.total) || 0);
  remember();
}

function init() {
  const params = new URLSearchParams(window.location.search);
  const wanted = params.get("template_id") || "";
  if (wanted && [...ui.filter.options].some((o) => o.value === wanted)) ui.filter.value = wanted;
  state.templateId = ui.filter.value;
  selectTab(MODES.includes(params.get("mode")) ? params.get("mode") : MODES[0]);
  const page = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
  ui.filter.addEventListener("change", () => {
    state.templateId = ui.filter.value;
    load(1);
  });
  ui.tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => {
      if (tab.dataset.mode === state.mode) return;
      selectTab(tab.dataset.mode);
      load(1);
    });
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const target = ui.tabs[(index + step + ui.tabs.length) % ui.tabs.length];
      target.focus();
      target.click();
    });
  });
  ui.prev.addEventListener("click", () => { if (state.page > 1) load(state.page - 1); });
  ui.next.addEventListener("click", () => { if (state.page < state.pages) load(state.page + 1); });
  load(page);
}

init();
