// chat.js — controller of the chat page (/chat/): loads presets and sessions over the JSON API, opens one
// WebSocket per open session, sends messages, and shows waiting indicators, replies and errors in #messages.
import { apiFetch, errorText } from "./api.js";
import { ChatSocket, chatSocketUrl } from "./chat-socket.js";
import { conversationMarkdown } from "./chat-markdown.js";
import {
  emptyState, errorElement, messageElement, queuedElement, sessionItem, sessionTitle, streamingElement,
  templateOption, waitingElement,
} from "./chat-render.js";
import { createSettingsPanel } from "./chat-settings.js";
import { copyText } from "./clipboard.js";
import { renderMarkdownSoon } from "./markdown.js";

const WAIT_GUARD_MS = 90000; // the server gives up after ~45 s; this only catches events lost on the way
const RECENT_PENDING_MS = 60000; // a stored question this young without an answer may still get one

const ERROR_TEXT = {
  timeout: "The model did not answer in time. Please try again.",
  unavailable: "The language model is offline right now. Please try again in a moment.",
  llm_error: "The language model reported an error. Please try again.",
  invalid: "That message could not be sent. Please check it and try again.",
  busy: "Please wait for the answers to your previous messages.",
  session_busy: "Several messages of this chat are already waiting. Please wait for their answers.",
  not_found: "This chat no longer exists.",
  shutdown: "The chat service is restarting. Please try again in a moment.",
};

const app = document.getElementById("chat-app");
const byId = (id) => document.getElementById(id);
const ui = {
  panel: byId("session-panel"),
  drawerToggle: byId("session-drawer-toggle"),
  drawerCurrent: byId("session-drawer-current"),
  sessionList: byId("session-list"),
  sessionEmpty: byId("session-empty"),
  preset: byId("new-session-preset"),
  presetDescription: byId("new-session-description"),
  newBtn: byId("new-session-btn"),
  template: byId("new-session-template"),
  templateBtn: byId("new-template-session-btn"),
  templateEmpty: byId("new-session-template-empty"),
  copy: byId("copy-markdown-btn"),
  exportLink: byId("export-json-link"),
  title: byId("conversation-title"),
  reset: byId("reset-session-btn"),
  del: byId("delete-session-btn"),
  status: byId("chat-status"),
  messages: byId("messages"),
  composer: byId("composer"),
  input: byId("composer-input"),
  send: byId("composer-send"),
  dialog: byId("confirm-dialog"),
  dialogMessage: byId("confirm-message"),
  dialogOk: byId("confirm-ok"),
};
const API = (app.dataset.apiBase || "/api/chatbot").replace(/\/+$/, "");
const WS_PATH = app.dataset.wsPath || "/ws/chat/";

const settings = createSettingsPanel({
  api: API,
  onSaved(updated) {
    replaceSession(updated);
    renderSessions();
  },
});

const state = {
  presets: [],
  presetsLoaded: false,
  templates: [], // the user's prompt templates, to start a chat from or switch an open one to
  sessions: [], // newest first, as the API lists them
  sessionsLoaded: false,
  currentId: null,
  socket: null,
  socketState: "idle", // idle | connecting | open | reconnecting | waiting-retry | refused
  retryDelay: 0,
  refusal: "",
  view: 0, // bumped on every session switch: async work for an older view is dropped
  shownIds: new Set(), // ids of stored messages on screen
  answered: new Set(), // request ids whose answer (or error) is on screen
  waiting: new Map(), // request id -> {node, timer, text}: its indicator, or the answer streaming in
  unacked: [], // texts this tab sent that the server has not accepted yet
  queued: new Map(), // request id -> the provisional bubble of a question waiting for earlier answers
  notice: "", // the last error, shown in #chat-status until the next action
  busy: false, // a create/reset/delete call is running
};

// ---- status line and controls ---------------------------------------------------------------------------
function setStatus(text, kind) {
  if (ui.status.textContent !== text) ui.status.textContent = text;
  ui.status.dataset.state = kind;
}

function renderStatus() {
  if (state.currentId === null) {
    if (state.notice) setStatus(state.notice, "error");
    else if (!state.sessionsLoaded) setStatus("Loading…", "idle");
    else setStatus("No chat open. Start a new chat or pick one from the list.", "idle");
  } else if (state.socketState === "refused") {
    setStatus(state.refusal, "error");
  } else if (state.socketState === "waiting-retry") {
    setStatus(`Connection lost. Reconnecting… (next try in ${Math.round(state.retryDelay / 1000)} s)`, "reconnecting");
  } else if (state.socketState === "reconnecting") {
    setStatus("Reconnecting…", "reconnecting");
  } else if (state.socketState !== "open") {
    setStatus(state.notice || "Connecting…", state.notice ? "error" : "connecting");
  } else if (state.notice) {
    setStatus(state.notice, "error");
  } else if (state.waiting.size > 0) {
    setStatus("Waiting for the model…", "waiting");
  } else if (state.unacked.length > 0) {
    setStatus("Sending…", "waiting");
  } else {
    setStatus("Connected.", "open");
  }
}

function updateControls() {
  const hasSession = state.currentId !== null;
  const connected = state.socketState === "open";
  // While a chat is created, reset or deleted the composer waits: a message must not go to the old chat.
  ui.input.disabled = !hasSession || state.socketState === "refused" || state.busy;
  ui.send.disabled = !hasSession || !connected || state.busy;
  ui.reset.disabled = !hasSession || state.busy;
  ui.del.disabled = !hasSession || state.busy;
  ui.newBtn.disabled = !state.presetsLoaded || state.busy;
  ui.newBtn.setAttribute("aria-busy", String(state.busy));
  ui.templateBtn.disabled = !state.templates.length || state.busy;
  ui.copy.disabled = !hasSession;
  // A plain link: the browser downloads the file itself (Content-Disposition), no script holds the data.
  if (hasSession) ui.exportLink.href = `${API}/sessions/${state.currentId}/export`;
  else ui.exportLink.removeAttribute("href");
}

function refresh() {
  updateControls();
  renderStatus();
}

function setNotice(text) {
  state.notice = text;
  renderStatus();
}

// ---- the message list -----------------------------------------------------------------------------------
function scrollToEnd() {
  ui.messages.scrollTop = ui.messages.scrollHeight;
  requestAnimationFrame(() => { ui.messages.scrollTop = ui.messages.scrollHeight; });
}

function clearWaiting() {
  for (const { timer } of state.waiting.values()) clearTimeout(timer);
  state.waiting.clear();
}

function resetConversation(placeholder) {
  clearWaiting();
  state.queued.clear();
  state.shownIds.clear();
  state.answered.clear();
  state.unacked = [];
  ui.messages.replaceChildren(...(placeholder ? [placeholder] : []));
}

function removeEmptyState() {
  for (const node of ui.messages.querySelectorAll(":scope > .empty-state")) node.remove();
}

/** Insert a node in id order (stored ids grow with time); nodes without an id go to the end. */
function insertNode(node, id = null) {
  removeEmptyState();
  if (id !== null && id !== undefined) {
    for (const other of ui.messages.querySelectorAll(":scope > .message[data-message-id]")) {
      if (Number(other.dataset.messageId) > Number(id)) {
        other.before(node);
        return;
      }
    }
  }
  ui.messages.append(node);
}

function messageNode(id) {
  return ui.messages.querySelector(`:scope > .message[data-message-id="${CSS.escape(String(id))}"]`);
}

function addWaiting(requestId, { after = null, guardMs = WAIT_GUARD_MS } = {}) {
  if (!requestId || state.waiting.has(requestId) || state.answered.has(requestId)) return;
  const node = waitingElement(requestId);
  removeEmptyState();
  if (after && after.parentNode === ui.messages) after.after(node);
  else ui.messages.append(node);
  const timer = setTimeout(() => {
    failWaiting(requestId, "No answer arrived. Please try again.");
    renderStatus();
  }, Math.max(guardMs, 1000));
  state.waiting.set(requestId, { node, timer });
}

function removeWaiting(requestId) {
  const pending = state.waiting.get(requestId);
  if (!pending) return;
  clearTimeout(pending.timer);
  pending.node.remove();
  state.waiting.delete(requestId);
}

/** Put an error where the request's waiting indicator is; true if there was one. */
function failWaiting(requestId, text) {
  const pending = state.waiting.get(requestId);
  if (!pending) return false;
  clearTimeout(pending.timer);
  pending.node.replaceWith(errorElement(text, requestId));
  state.waiting.delete(requestId);
  state.answered.add(requestId);
  return true;
}

/** Show a stored message once (deduped by id); an answer replaces its request's waiting indicator. */
function placeMessage(message, { forceError = false } = {}) {
  const requestId = message.request_id || null;
  const isAnswer = message.role !== "user";
  if (isAnswer && requestId) state.answered.add(requestId);
  if (state.shownIds.has(message.id)) {
    if (isAnswer && requestId) removeWaiting(requestId);
    return;
  }
  state.shownIds.add(message.id);
  const node = messageElement(message, { forceError });
  const pending = isAnswer && requestId ? state.waiting.get(requestId) : null;
  if (pending) {
    clearTimeout(pending.timer);
    pending.node.replaceWith(node);
    state.waiting.delete(requestId);
  } else {
    insertNode(node, message.id);
  }
}

function renderHistory(messages) {
  resetConversation(messages.length ? null : emptyState("No messages yet. Ask the model something below."));
  for (const message of messages) placeMessage(message);
  // Questions asked moments ago (another tab, or before a reload) may still be answered: wait for them.
  const now = Date.now();
  for (const message of messages) {
    if (message.role !== "user" || !message.request_id || state.answered.has(message.request_id)) continue;
    const age = now - Date.parse(message.created_at);
    if (age >= 0 && age < RECENT_PENDING_MS) {
      addWaiting(message.request_id, { after: messageNode(message.id), guardMs: WAIT_GUARD_MS - age });
    }
  }
  scrollToEnd();
}

/** After a reconnect: add what arrived while the socket was down, drop indicators that got answers. */
function mergeHistory(messages) {
  for (const message of messages) placeMessage(message);
  for (const requestId of [...state.waiting.keys()]) {
    if (state.answered.has(requestId)) removeWaiting(requestId);
  }
  scrollToEnd();
}

// ---- socket frames --------------------------------------------------------------------------------------
function onQueued(frame) {
  const requestId = frame.request_id || null;
  if (!requestId || state.queued.has(requestId)) return;
  const text = state.unacked.length ? state.unacked.shift() : "";
  const node = queuedElement(text, Number(frame.position) || 1);
  node.dataset.requestId = requestId;
  insertNode(node);
  state.queued.set(requestId, node);
  scrollToEnd();
}

function onAccepted(frame) {
  const requestId = frame.request_id || null;
  const userMessage = frame.user_message && typeof frame.user_message === "object" ? frame.user_message : null;
  const provisional = requestId ? state.queued.get(requestId) : null;
  if (provisional) {
    provisional.remove();
    state.queued.delete(requestId);
  }
  if (frame.notice && typeof frame.notice === "object") placeMessage(frame.notice);
  let anchor = null;
  if (userMessage) {
    if (!provisional) {
      const index = state.unacked.indexOf(String(userMessage.content || "").trim());
      if (index !== -1) state.unacked.splice(index, 1);
    }
    placeMessage(userMessage);
    anchor = messageNode(userMessage.id);
  } else if (!provisional && state.unacked.length) {
    state.unacked.shift();
  }
  addWaiting(requestId, { after: anchor });
  scrollToEnd();
}

/** Streamed text of an answer: appended where the shown text ends (a repeat is skipped, a gap waits for the
 * final reply, which replaces the streamed text in any case). */
function onDelta(frame) {
  const requestId = frame.request_id || null;
  const pending = requestId ? state.waiting.get(requestId) : null;
  if (!pending || state.answered.has(requestId) || typeof frame.delta !== "string") return;
  if (pending.text === undefined) {
    const node = streamingElement(requestId);
    pending.node.replaceWith(node);
    pending.node = node;
    pending.text = "";
  }
  if (Number(frame.offset) !== pending.text.length) return;
  pending.text += frame.delta;
  // Markdown of the whole text so far, once per frame however fast the words come (an unclosed code fence
  // reads as a code block up to the end, so half-written answers look like the finished one will).
  renderMarkdownSoon(pending.node.querySelector(".message-body"), pending.text);
  // A long answer that keeps coming is not "lost": the guard counts from the latest words.
  clearTimeout(pending.timer);
  pending.timer = setTimeout(() => {
    failWaiting(requestId, "No answer arrived. Please try again.");
    renderStatus();
  }, WAIT_GUARD_MS);
  scrollToEnd();
}

function stopAnswer(requestId, button) {
  if (!state.socket || !state.socket.send({ type: "chat.stop", request_id: requestId })) return;
  button.disabled = true;
  button.textContent = "Stopping…";
}

function onReply(frame) {
  let message = frame.assistant_message;
  if (!message || typeof message !== "object") return;
  if (!message.request_id && frame.request_id) message = { ...message, request_id: frame.request_id };
  state.notice = "";
  placeMessage(message, { forceError: Boolean(frame.is_error) });
  scrollToEnd();
}

function onError(frame) {
  const requestId = frame.request_id || null;
  const provisional = requestId ? state.queued.get(requestId) : null;
  if (provisional) {
    // It never reached the model: show it as not sent, with the reason.
    provisional.replaceWith(errorElement(frame.detail || ERROR_TEXT[frame.code] || "Not sent.", requestId));
    state.queued.delete(requestId);
    state.answered.add(requestId);
    state.notice = frame.detail || "";
    scrollToEnd();
    return;
  }
  const detail = typeof frame.detail === "string" ? frame.detail.trim() : "";
  const text = detail || ERROR_TEXT[frame.code] || "Something went wrong. Please try again.";
  if (requestId && failWaiting(requestId, text)) {
    // shown in place of its waiting indicator
  } else if (requestId && state.answered.has(requestId)) {
    return; // this request already has its answer or error on screen
  } else {
    // Refused before it was accepted (offline, busy, invalid): give the text back to edit and resend.
    const unsent = state.unacked.shift();
    if (unsent !== undefined && !ui.input.value.trim()) {
      ui.input.value = unsent;
      autosize();
    }
    insertNode(errorElement(text, requestId));
    if (requestId) state.answered.add(requestId);
  }
  state.notice = text;
  scrollToEnd();
}

function onFrame(frame) {
  if (frame.type === "chat.queued") onQueued(frame);
  else if (frame.type === "chat.accepted") onAccepted(frame);
  else if (frame.type === "chat.delta") onDelta(frame);
  else if (frame.type === "chat.reply") onReply(frame);
  else if (frame.type === "chat.error") onError(frame);
  else return;
  renderStatus();
}

// ---- the socket for the open session --------------------------------------------------------------------
function closeSocket() {
  const socket = state.socket;
  state.socket = null;
  state.socketState = "idle";
  if (socket) socket.stop();
}

function connectSocket(sessionId, view) {
  closeSocket();
  const socket = new ChatSocket(chatSocketUrl(WS_PATH, sessionId), {
    onState(kind, info) {
      if (state.socket !== socket) return;
      if (kind === "connecting") state.socketState = info.reconnecting ? "reconnecting" : "connecting";
      else if (kind === "reconnecting") {
        state.socketState = "waiting-retry";
        state.retryDelay = info.delay;
        state.unacked = []; // the server drops requests of a closed socket before accepting them
      } else state.socketState = kind;
      refresh();
    },
    onOpen({ reconnected }) {
      if (state.socket !== socket || !reconnected) return;
      apiFetch(`${API}/sessions/${sessionId}/messages`)
        .then((data) => { if (view === state.view) mergeHistory(data.messages || []); renderStatus(); })
        .catch(() => {}); // the next reply or reconnect brings the view up to date
    },
    onMessage(frame) {
      if (state.socket === socket) onFrame(frame);
    },
    onRefused(code, text) {
      if (state.socket !== socket) return;
      state.refusal = text;
      clearWaiting();
      if (code === 4404) loadSessions().catch(() => {});
      refresh();
    },
  });
  state.socket = socket;
  state.socketState = "connecting";
  socket.start();
}

// ---- sessions -------------------------------------------------------------------------------------------
function currentSession() {
  return state.sessions.find((s) => s.id === state.currentId) || null;
}

function renderHeader() {
  const session = currentSession();
  const title = session ? sessionTitle(session) : "Chat";
  ui.title.textContent = title;
  ui.drawerCurrent.textContent = session ? title : "";
  document.title = `${title} · Prompt Portal`;
}

function markCurrent() {
  for (const button of ui.sessionList.querySelectorAll("button[data-session-id]")) {
    if (Number(button.dataset.sessionId) === state.currentId) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

function renderSessions() {
  ui.sessionList.replaceChildren(...state.sessions.map((s) => sessionItem(s, s.id === state.currentId)));
  ui.sessionList.setAttribute("aria-busy", "false");
  ui.sessionEmpty.hidden = state.sessions.length > 0;
  ui.drawerToggle.querySelector(".drawer-toggle-label").textContent = `Chats (${state.sessions.length})`;
  renderHeader();
}

async function loadSessions() {
  const data = await apiFetch(`${API}/sessions`);
  state.sessions = Array.isArray(data.sessions) ? data.sessions : [];
  state.sessionsLoaded = true;
  renderSessions();
}

function rememberSession(id) {
  const url = new URL(window.location.href);
  if (id === null) url.searchParams.delete("session");
  else url.searchParams.set("session", String(id));
  window.history.replaceState(null, "", url);
}

async function openSession(id) {
  if (!state.sessions.some((s) => s.id === id)) return;
  closeSocket();
  const view = ++state.view;
  state.currentId = id;
  state.notice = "";
  state.refusal = "";
  rememberSession(id);
  markCurrent();
  renderHeader();
  settings.show(currentSession());
  resetConversation(emptyState("Loading messages…"));
  refresh();
  let data;
  try {
    data = await apiFetch(`${API}/sessions/${id}/messages`);
  } catch (err) {
    if (view !== state.view) return;
    resetConversation(errorElement(`${errorText(err)} Pick the chat again to retry.`));
    setNotice(errorText(err));
    return;
  }
  if (view !== state.view) return;
  renderHistory(Array.isArray(data.messages) ? data.messages : []);
  connectSocket(id, view);
  refresh();
}

function showNoSession() {
  closeSocket();
  state.view += 1;
  state.currentId = null;
  rememberSession(null);
  markCurrent();
  renderHeader();
  settings.show(null);
  resetConversation(emptyState("No chat open. Choose a preset and press “New chat” to start one."));
  if (!state.sessions.length) setDrawer(true);
  refresh();
}

function replaceSession(updated) {
  state.sessions = state.sessions.map((s) => (s.id === updated.id ? updated : s));
}

async function withBusy(action) {
  if (state.busy) return;
  state.busy = true;
  updateControls();
  try {
    await action();
  } catch (err) {
    setNotice(errorText(err));
  } finally {
    state.busy = false;
    updateControls();
  }
}

async function createSession(templateId = null) {
  await withBusy(async () => {
    // From a prompt template page (/chat/?template=<id>): the template's content becomes the system prompt.
    const body = templateId ? { template_id: templateId } : ui.preset.value ? { preset: ui.preset.value } : {};
    const session = await apiFetch(`${API}/sessions`, { method: "POST", body });
    state.sessions = [session, ...state.sessions.filter((s) => s.id !== session.id)];
    renderSessions();
    setDrawer(false);
    state.notice = "";
    openSession(session.id);
  });
  if (!ui.input.disabled) ui.input.focus();
}

async function resetSession() {
  const session = currentSession();
  if (!session || state.busy) return;
  const ok = await confirmAction(`Clear every message in “${sessionTitle(session)}”? This cannot be undone.`, "Reset");
  if (!ok) return;
  await withBusy(async () => {
    const updated = await apiFetch(`${API}/sessions/${session.id}/reset`, { method: "POST" });
    replaceSession(updated);
    renderSessions();
    // A reset gives the session a new key: a fresh socket listens to the right place.
    if (state.currentId === updated.id) await openSession(updated.id);
  });
}

async function deleteSession() {
  const session = currentSession();
  if (!session || state.busy) return;
  const ok = await confirmAction(`Delete “${sessionTitle(session)}” and all its messages? This cannot be undone.`, "Delete");
  if (!ok) return;
  await withBusy(async () => {
    try {
      await apiFetch(`${API}/sessions/${session.id}`, { method: "DELETE" });
    } catch (err) {
      if (err.status !== 404) throw err; // already gone: remove it here too
    }
    state.sessions = state.sessions.filter((s) => s.id !== session.id);
    if (state.currentId === session.id) closeSocket();
    renderSessions();
    if (state.sessions.length) openSession(state.sessions[0].id);
    else showNoSession();
  });
}

// ---- presets --------------------------------------------------------------------------------------------
function describePreset() {
  const preset = state.presets.find((p) => p.key === ui.preset.value);
  ui.presetDescription.textContent = preset ? preset.description || "" : "";
}

async function loadPresets() {
  try {
    const data = await apiFetch(`${API}/presets`);
    state.presets = Array.isArray(data.presets) ? data.presets : [];
  } catch {
    state.presets = [];
  }
  const options = state.presets.map((p) => new Option(p.title || p.key, p.key));
  if (!options.length) options.push(new Option("Default assistant", ""));
  ui.preset.replaceChildren(...options);
  ui.preset.disabled = false;
  state.presetsLoaded = true;
  describePreset();
  updateControls();
}

// ---- prompt templates -----------------------------------------------------------------------------------
async function loadTemplates() {
  try {
    const data = await apiFetch("/api/templates/");
    state.templates = Array.isArray(data.templates) ? data.templates : [];
  } catch {
    state.templates = []; // chats still start from presets
  }
  const options = state.templates.map(templateOption);
  if (!options.length) options.push(new Option("No templates yet", ""));
  ui.template.replaceChildren(...options);
  ui.template.disabled = !state.templates.length;
  ui.templateEmpty.hidden = state.templates.length > 0;
  settings.setTemplates(state.templates);
  updateControls();
}

// ---- copy as Markdown -----------------------------------------------------------------------------------
const COPIED_MS = 1500;
let copyLabelTimer = 0;

async function copyConversation() {
  const session = currentSession();
  if (!session) return;
  // The export, not the screen: the whole history with its settings, also what scrolled out of the page.
  const markdown = apiFetch(`${API}/sessions/${session.id}/export`).then(conversationMarkdown);
  let label = "Copied";
  try {
    if (!(await copyText(markdown))) {
      label = "Copy";
      setNotice("This browser would not let the page copy. Use Export to download the chat instead.");
    }
  } catch (err) {
    label = "Copy";
    setNotice(errorText(err));
  }
  ui.copy.textContent = label;
  clearTimeout(copyLabelTimer);
  copyLabelTimer = setTimeout(() => { ui.copy.textContent = "Copy"; }, COPIED_MS);
}

// ---- composer, drawer, dialog ---------------------------------------------------------------------------
function autosize() {
  ui.input.style.height = "auto";
  ui.input.style.height = `${ui.input.scrollHeight + 2}px`;
}

function sendMessage() {
  const text = ui.input.value;
  if (!text.trim()) {
    ui.input.focus();
    return;
  }
  if (!state.socket || !state.socket.send({ type: "chat.message", content: text })) {
    setNotice("Not connected right now, so the message was not sent. Please wait for the connection.");
    return;
  }
  state.unacked.push(text.trim());
  state.notice = "";
  ui.input.value = "";
  autosize();
  ui.input.focus();
  renderStatus();
}

function setDrawer(open) {
  ui.panel.classList.toggle("is-open", open);
  ui.drawerToggle.setAttribute("aria-expanded", String(open));
}

function confirmAction(message, okLabel) {
  const { dialog } = ui;
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve(window.confirm(message));
  if (dialog.open) return Promise.resolve(false);
  ui.dialogMessage.textContent = message;
  ui.dialogOk.textContent = okLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

function bindEvents() {
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      if (!ui.send.disabled) sendMessage();
    }
  });
  ui.input.addEventListener("input", autosize);
  ui.messages.addEventListener("click", (event) => {
    const button = event.target.closest("button.stop-btn[data-request-id]");
    if (button && !button.disabled) stopAnswer(button.dataset.requestId, button);
  });
  ui.newBtn.addEventListener("click", () => createSession());
  ui.preset.addEventListener("change", describePreset);
  ui.templateBtn.addEventListener("click", () => {
    const templateId = Number(ui.template.value);
    if (templateId > 0) createSession(templateId);
  });
  ui.copy.addEventListener("click", copyConversation);
  ui.reset.addEventListener("click", resetSession);
  ui.del.addEventListener("click", deleteSession);
  ui.drawerToggle.addEventListener("click", () => setDrawer(!ui.panel.classList.contains("is-open")));
  ui.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.panel.classList.contains("is-open")) {
      setDrawer(false);
      ui.drawerToggle.focus();
    }
  });
  ui.sessionList.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-session-id]");
    if (!button) return;
    const id = Number(button.dataset.sessionId);
    setDrawer(false);
    if (id !== state.currentId || state.socketState === "refused" || state.socket === null) openSession(id);
    ui.input.focus({ preventScroll: true });
  });
  window.addEventListener("online", () => state.socket?.reconnectNow());
  window.addEventListener("pagehide", () => closeSocket());
  window.addEventListener("pageshow", (event) => {
    if (event.persisted && state.currentId !== null) openSession(state.currentId);
  });
}

async function init() {
  bindEvents();
  refresh();
  loadPresets();
  loadTemplates();
  try {
    await loadSessions();
  } catch (err) {
    ui.sessionList.setAttribute("aria-busy", "false");
    resetConversation(errorElement(`${errorText(err)} Reload the page to try again.`));
    setNotice(errorText(err));
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const templateId = Number(params.get("template"));
  if (templateId > 0) {
    const url = new URL(window.location.href);
    url.searchParams.delete("template");
    window.history.replaceState(null, "", url);
    await createSession(templateId);
    return;
  }
  const wanted = Number(params.get("session"));
  const first = state.sessions.find((s) => s.id === wanted) || state.sessions[0];
  if (first) openSession(first.id);
  else showNoSession();
}

init();
