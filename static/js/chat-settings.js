// chat-settings.js — the open chat's settings panel on the chat page: title, system prompt and sampling, saved
// with PATCH /api/chatbot/sessions/<id>, and "switch template" (a template's content becomes the system prompt).
// The API validates; its `detail` is shown and its `field` marked. A changed system prompt makes the model start
// a new conversation on the next message, so the panel says so before and after saving.
import { apiFetch, errorText } from "./api.js";
import { templateOption } from "./chat-render.js";

const byId = (id) => document.getElementById(id);
const NUMBER_FIELDS = ["temperature", "top_p", "max_tokens"];
const PENDING_NOTE = "Saving this system prompt starts a new conversation with the model at your next message; the history stays.";
const NEW_CONVERSATION = "Your next message starts a new conversation with the model; the history stays.";

/** A typed number as JSON: a number when it reads as one, else the text as typed, for the API to refuse by name. */
function numberValue(text) {
  const trimmed = text.trim();
  return trimmed !== "" && Number.isFinite(Number(trimmed)) ? Number(trimmed) : trimmed;
}

/**
 * @param {{api: string, onSaved: (session: object) => void}} options  onSaved gets the session as stored
 */
export function createSettingsPanel({ api, onSaved }) {
  const ui = {
    form: byId("settings-form"),
    fieldset: byId("settings-fields"),
    title: byId("settings-title"),
    system_prompt: byId("settings-system-prompt"),
    temperature: byId("settings-temperature"),
    top_p: byId("settings-top-p"),
    max_tokens: byId("settings-max-tokens"),
    note: byId("settings-prompt-note"),
    error: byId("settings-error"),
    status: byId("settings-status"),
    template: byId("settings-template"),
    templateBtn: byId("settings-template-btn"),
  };
  const defaultNote = ui.note.textContent;
  let saved = null; // the session as the server last answered: what "changed" is measured against
  let templates = [];
  let busy = false;

  function clearErrors() {
    ui.error.hidden = true;
    ui.error.textContent = "";
    for (const name of ["title", "system_prompt", ...NUMBER_FIELDS]) ui[name].removeAttribute("aria-invalid");
  }

  function showError(err) {
    const field = err && err.data && typeof err.data.field === "string" ? err.data.field : "";
    ui.error.textContent = errorText(err);
    ui.error.hidden = false;
    if (ui[field] && field !== "template") {
      ui[field].setAttribute("aria-invalid", "true");
      ui[field].focus({ preventScroll: true });
    }
    // The form scrolls inside its panel: the message is what must come into view.
    ui.error.scrollIntoView({ block: "nearest" });
  }

  function say(text) {
    ui.status.textContent = text;
    if (text) ui.status.scrollIntoView({ block: "nearest" });
  }

  function promptPending() {
    return saved !== null && ui.system_prompt.value.trim() !== String(saved.system_prompt || "").trim();
  }

  function renderNote() {
    const pending = promptPending();
    ui.note.dataset.pending = String(pending);
    ui.note.textContent = pending ? PENDING_NOTE : defaultNote;
  }

  function setBusy(value) {
    busy = value;
    ui.fieldset.disabled = value || saved === null;
    ui.templateBtn.disabled = value || saved === null || !templates.length;
  }

  function fill(session) {
    ui.title.value = session.title || "";
    ui.system_prompt.value = session.system_prompt || "";
    ui.temperature.value = String(session.temperature);
    ui.top_p.value = String(session.top_p);
    ui.max_tokens.value = String(session.max_tokens);
  }

  /** Only what differs from the stored session: an unchanged prompt must not look like a change. */
  function changes() {
    const body = {};
    if (ui.title.value.trim() !== saved.title) body.title = ui.title.value;
    if (promptPending()) body.system_prompt = ui.system_prompt.value;
    for (const name of NUMBER_FIELDS) {
      const value = numberValue(ui[name].value);
      if (value !== saved[name]) body[name] = value;
    }
    return body;
  }

  async function patch(body, doneText) {
    const sessionId = saved.id;
    setBusy(true);
    clearErrors();
    say("Saving…");
    try {
      const updated = await apiFetch(`${api}/sessions/${sessionId}`, { method: "PATCH", body });
      if (saved === null || saved.id !== sessionId) return null; // another chat was opened meanwhile
      saved = updated;
      say(doneText);
      onSaved(updated);
      return updated;
    } catch (err) {
      say("");
      if (saved !== null && saved.id === sessionId) showError(err);
      return null;
    } finally {
      setBusy(false);
    }
  }

  async function save() {
    if (saved === null || busy) return;
    const body = changes();
    if (!Object.keys(body).length) {
      clearErrors();
      say("Nothing to save: no setting changed.");
      return;
    }
    const newPrompt = "system_prompt" in body;
    const updated = await patch(body, newPrompt ? `Saved. ${NEW_CONVERSATION}` : "Saved.");
    if (updated) fill(updated);
    renderNote();
  }

  async function switchTemplate() {
    const template = templates.find((t) => String(t.id) === ui.template.value);
    if (saved === null || busy || !template) return;
    const same = String(template.content).trim() === String(saved.system_prompt || "").trim();
    const updated = await patch(
      { system_prompt: template.content },
      same ? `“${template.title}” is already the system prompt.` : `System prompt set from “${template.title}”. ${NEW_CONVERSATION}`,
    );
    // Only the prompt field: other edits typed but not saved yet stay in the form.
    if (updated) ui.system_prompt.value = updated.system_prompt;
    renderNote();
  }

  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    save();
  });
  ui.system_prompt.addEventListener("input", renderNote);
  ui.templateBtn.addEventListener("click", switchTemplate);

  return {
    /** Show an opened chat's settings (null: no chat open). */
    show(session) {
      saved = session;
      clearErrors();
      ui.status.textContent = "";
      if (session) fill(session);
      else ui.form.reset();
      setBusy(false);
      renderNote();
    },
    setTemplates(list) {
      templates = list;
      const options = list.map(templateOption);
      if (!options.length) options.push(new Option("No templates yet", ""));
      ui.template.replaceChildren(...options);
      ui.template.disabled = !list.length;
      setBusy(busy);
    },
  };
}
