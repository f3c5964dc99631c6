// maze-history.js — the game panel's list of the hints that reached this game, newest first: when each came,
// its latency, the actions the model declared (as it spelled them), what was applied and what was ignored and
// why, and the raw reply behind a <details>. Bounded, so a long game does not grow the page without end.
// Every text goes in through textContent: a reply is the model's words, never markup.

export const HISTORY_LIMIT = 50;

const byId = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function row(label, items, className) {
  const line = el("p", `history-row ${className}`);
  line.append(el("span", "history-label", `${label}: `), items.length ? items.join("; ") : "none");
  return line;
}

function rawText(hint) {
  if (hint && typeof hint === "object" && typeof hint.raw === "string") return hint.raw; // a reply that was not JSON
  try {
    return JSON.stringify(hint, null, 2);
  } catch {
    return String(hint);
  }
}

export function clearHistory() {
  byId("hint-history").replaceChildren();
  byId("hint-history-empty").hidden = false;
}

/**
 * @param {{number: number|null, at: Date, latency: number|null, requested: boolean, text: string|null,
 *          error: string|null, declared: string[], aliases: Object<string, string>,
 *          results: {action: string, ok: boolean, text: string}[], raw: unknown}} entry
 */
export function addToHistory(entry) {
  const list = byId("hint-history");
  const item = el("li", entry.error ? "history-item history-error" : "history-item");
  const head = el("p", "history-head");
  const parts = [entry.number ? `Hint ${entry.number}` : "Hint", entry.at.toLocaleTimeString()];
  parts.push(entry.latency === null ? "latency unknown" : `${Math.round(entry.latency).toLocaleString()} ms`);
  parts.push(entry.requested ? "requested" : "state update"); // the LLM answers every state the game sends
  head.textContent = parts.join(" · ");
  item.append(head);
  if (entry.error) item.append(el("p", "history-text hint-error", `Error: ${entry.error}`));
  else item.append(el("p", "history-text", entry.text || "(no text)"));

  const declared = entry.declared.map((key) => (Object.hasOwn(entry.aliases, key) ? `${key} → ${entry.aliases[key]}` : key));
  item.append(row("Declared", declared, "history-declared"));
  const applied = entry.results.filter((r) => r.ok).map((r) => (r.text ? `${r.action} (${r.text})` : r.action));
  item.append(row("Applied", applied, "history-applied"));
  const ignored = entry.results.filter((r) => !r.ok).map((r) => `${r.action}: ${r.text || "not applicable"}`);
  item.append(row("Ignored", ignored, "history-ignored"));

  const details = el("details", "history-raw");
  details.append(el("summary", "", "Raw reply"), el("pre", "", rawText(entry.raw)));
  item.append(details);

  list.prepend(item);
  while (list.children.length > HISTORY_LIMIT) list.lastElementChild.remove();
  byId("hint-history-empty").hidden = true;
}
