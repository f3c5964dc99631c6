// evaluations.js — the template evaluation pages. On /maze/evaluations/: the "New evaluation" form (POST
// /api/maze/evaluations, then the new evaluation's page) and the Compare button over two ticked evaluations. On
// /maze/evaluations/<id>/: while the evaluation is queued or running, its progress polled about every second from
// GET /api/maze/evaluations/<id>?games=0, the Cancel button (POST .../cancel), and a reload once it has ended (the
// page renders the results); a link to a game opens its hints. Times in <time class="local-time"> are local.
import { apiFetch, errorText } from "../api.js";

const byId = (id) => document.getElementById(id);
const ACTIVE = new Set(["queued", "running"]);
const POLL_MS = 1000;
const POLL_MAX_MS = 10000;  // a failing poll backs off up to this

function localTimes() {
  for (const node of document.querySelectorAll("time.local-time")) {
    const date = new Date(node.dateTime);
    if (!Number.isNaN(date.getTime())) {
      node.textContent = date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    }
  }
}

// -- the list page: new evaluation and compare ---------------------------------------------------------------------
const FIELDS = ["template_id", "games", "seed", "width", "height", "germs"];

function initForm(form) {
  const error = byId("evaluation-form-error");
  const button = byId("evaluation-start");
  const spinner = byId("evaluation-starting");
  if (!button) return;  // no templates: the form is a link to write one
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    const body = {};
    for (const name of FIELDS) {
      const input = form.elements.namedItem(name);
      input.removeAttribute("aria-invalid");
      const value = input.value.trim();
      // Numbers go as numbers; an empty field is left to the server's default.
      if (value !== "") body[name] = /^\d+$/.test(value) ? Number(value) : value;
    }
    button.disabled = true;
    spinner.hidden = false;
    try {
      const data = await apiFetch(form.dataset.apiUrl, { method: "POST", body });
      window.location.assign(`/maze/evaluations/${data.evaluation.id}/`);
    } catch (err) {
      showError(errorText(err));
      const field = err?.data?.field;
      const input = field && FIELDS.includes(field) ? form.elements.namedItem(field) : null;
      if (input) {
        input.setAttribute("aria-invalid", "true");
        if (input.closest("details")) input.closest("details").open = true;
        input.focus();
      }
      button.disabled = false;
      spinner.hidden = true;
    }
  });
}

function initCompare(button) {
  const picks = [...document.querySelectorAll(".evaluation-pick")];
  const order = [];  // ticked ids, oldest tick first: a third tick drops the first
  const update = () => {
    button.disabled = order.length !== 2;
  };
  for (const box of picks) {
    box.checked = false;  // the browser may restore ticks on Back; the order of ticks is not restored with them
    box.addEventListener("change", () => {
      const index = order.indexOf(box.value);
      if (index >= 0) order.splice(index, 1);
      if (box.checked) {
        order.push(box.value);
        if (order.length > 2) {
          const dropped = order.shift();
          picks.find((p) => p.value === dropped).checked = false;
        }
      }
      update();
    });
  }
  button.addEventListener("click", () => {
    if (order.length !== 2) return;
    // A is the older evaluation (the baseline), B the newer: B − A is what changed.
    const [a, b] = order.map(Number).sort((x, y) => x - y);
    window.location.assign(`/maze/evaluations/compare/?a=${a}&b=${b}`);
  });
  update();
}

// -- one evaluation: live progress and cancel ----------------------------------------------------------------------
function progressText(evaluation) {
  if (evaluation.status === "queued") return "Waiting for a free place…";
  let text = `${evaluation.games_done} of ${evaluation.games} games played`;
  const p = evaluation.progress;
  if (p && Number.isFinite(p.game)) text += ` · game ${p.game + 1}, hint ${p.hints}`;
  if (evaluation.cancel_requested) text += " · cancelling at the next hint";
  return text;
}

function renderLive(evaluation) {
  const progress = byId("evaluation-progress");
  progress.max = evaluation.games;
  progress.value = evaluation.games_done;
  progress.textContent = `${evaluation.games_done} of ${evaluation.games}`;
  byId("evaluation-progress-text").textContent = progressText(evaluation);
  const status = byId("evaluation-status");
  status.textContent = evaluation.status.charAt(0).toUpperCase() + evaluation.status.slice(1);
  status.className = `badge evaluation-status evaluation-status-${evaluation.status}`;
  byId("evaluation-app").dataset.status = evaluation.status;
  const s = evaluation.summary;
  const soFar = byId("evaluation-so-far");
  if (s && s.games) {
    soFar.textContent = `So far: won ${s.wins} of ${s.games}, mean score ${Number(s.points_mean).toFixed(1)}.`;
    soFar.hidden = false;
  }
  if (evaluation.cancel_requested) {
    const cancel = byId("evaluation-cancel");
    cancel.disabled = true;
    cancel.textContent = "Cancelling…";
  }
}

function initLive(app, evaluation) {
  const error = byId("evaluation-live-error");
  const cancel = byId("evaluation-cancel");
  const url = `/api/maze/evaluations/${evaluation.id}`;
  let delay = POLL_MS;
  let ended = false;
  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };
  const end = () => {
    if (ended) return;
    ended = true;
    window.location.reload();  // the page renders the results and the reason it ended
  };
  const poll = async () => {
    if (ended) return;
    try {
      const data = await apiFetch(`${url}?games=0`);
      showError("");
      delay = POLL_MS;
      renderLive(data.evaluation);
      if (!ACTIVE.has(data.evaluation.status)) return end();
    } catch (err) {
      showError(`${errorText(err)} Retrying…`);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
    window.setTimeout(poll, document.hidden ? Math.max(delay, 5000) : delay);
  };
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    cancel.textContent = "Cancelling…";
    try {
      const data = await apiFetch(`${url}/cancel`, { method: "POST" });
      renderLive(data.evaluation);
      if (!ACTIVE.has(data.evaluation.status)) end();
    } catch (err) {
      if (err?.status === 409) return end();  // it ended meanwhile
      showError(errorText(err));
      cancel.disabled = false;
      cancel.textContent = "Cancel";
    }
  });
  window.setTimeout(poll, POLL_MS);
}

/** A link to #game-N opens that game's hints (a closed <details> hides what the link points at). */
function openLinkedGame() {
  const target = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
  if (target instanceof HTMLDetailsElement) {
    target.open = true;
    target.scrollIntoView({ block: "start" });
  }
}

function init() {
  localTimes();
  window.addEventListener("hashchange", openLinkedGame);
  openLinkedGame();
  const form = byId("evaluation-form");
  if (form) initForm(form);
  const compare = byId("evaluation-compare");
  if (compare) initCompare(compare);
  const app = byId("evaluation-app");
  if (app && byId("evaluation-live")) {
    // The page names the evaluation and its status; the poll reads the rest from the API.
    const evaluation = { id: Number(app.dataset.evaluationId), status: app.dataset.status };
    if (ACTIVE.has(evaluation.status)) initLive(app, evaluation);
  }
}

init();
