// template-try.js — the template page's Try it panel (/templates/<id>/): POST /api/templates/<id>/try with the
// chosen maze, then show the model's raw answer, the parsed hint and which actions a game would apply or ignore.
// Model text reaches the page only through textContent: it is whatever the model wrote.
import { apiFetch, errorText } from "./api.js";

const panel = document.getElementById("try-panel");

function show(id, text) {
  const node = document.getElementById(id);
  node.textContent = text == null || text === "" ? "—" : String(text);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
}

function actionRows(result) {
  // The name the model wrote, with the action it was taken as when that was an alias (bfs_steps → path).
  const writtenAs = {};
  for (const [written, action] of Object.entries(result.aliases || {})) writtenAs[action] = written;
  const rows = [];
  for (const [action, value] of Object.entries(result.applied || {})) {
    const name = writtenAs[action] ? `${writtenAs[action]} → ${action}` : action;
    rows.push([name, "applied", JSON.stringify(value)]);
  }
  for (const item of result.ignored || []) rows.push([item.action, "ignored", item.reason]);
  return rows;
}

function render(result) {
  const source = result.source.kind === "game" ? `game #${result.source.game_id}` : "the example maze";
  show("try-meta", `Answered in ${result.latency_ms} ms on ${source} (${result.source.width}×${result.source.height}).`);
  show("try-raw", result.raw);
  show("try-text", result.text);
  show("try-suggestion", result.suggestion);
  show("try-error-text", result.error);
  const body = document.querySelector("#try-actions tbody");
  body.replaceChildren();
  const rows = actionRows(result);
  if (!rows.length) {
    const row = body.insertRow();
    const td = document.createElement("td");
    td.colSpan = 3;
    td.className = "table-empty";
    td.textContent = "No actions: the game would show the hint text only.";
    row.appendChild(td);
  }
  for (const [name, outcome, detail] of rows) {
    const row = body.insertRow();
    row.className = `try-${outcome}`;
    cell(row, name);
    cell(row, outcome, `try-outcome-${outcome}`);
    cell(row, detail, "try-detail");
  }
  document.getElementById("try-result").hidden = false;
}

if (panel) {
  const form = document.getElementById("try-form");
  const button = document.getElementById("try-button");
  const spinner = document.getElementById("try-spinner");
  const error = document.getElementById("try-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const choice = document.getElementById("try-source").value;
    const body = choice === "example" ? { source: "example" } : { game_id: Number(choice) };
    button.disabled = true;
    spinner.hidden = false;
    error.hidden = true;
    try {
      render(await apiFetch(`/api/templates/${panel.dataset.templateId}/try`, { method: "POST", body }));
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      button.disabled = false;
      spinner.hidden = true;
    }
  });
}
