// chat-render.js — builds the DOM for the chat page's messages, waiting indicators and session list items.
// User text, notices and errors go in through textContent; only the model's answers are Markdown, and those go
// through markdown.js, which sanitizes what it renders.
import { renderMarkdown } from "./markdown.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function timeElement(iso) {
  const date = iso ? new Date(iso) : null;
  if (!date || Number.isNaN(date.getTime())) return null;
  const time = el("time", "message-time", date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  return time;
}

function bubble(classes, author, text, iso, { markdown = false } = {}) {
  const node = el("article", `message ${classes}`);
  const meta = el("p", "message-meta");
  meta.append(el("span", "message-author", author));
  const time = timeElement(iso);
  if (time) meta.append(" ", time);
  const body = el("div", "message-body", markdown ? null : text);
  if (markdown) renderMarkdown(body, text);
  node.append(meta, body);
  return node;
}

/** True when a stored assistant message is an LLM error rather than an answer. */
export function isErrorMessage(message) {
  return Boolean(message && message.metadata && message.metadata.error);
}

/** A stored Message from the API or the socket. */
export function messageElement(message, { forceError = false } = {}) {
  let node;
  if (message.role === "notice") {
    // Said by the portal, not the model: e.g. "New conversation with the model: system prompt changed."
    node = el("p", "message message-notice", message.content);
    node.setAttribute("role", "note");
  } else if (message.role === "user") {
    // Written into this chat by a staff member (with the permission to): say who, never "You".
    const sentBy = message.metadata && typeof message.metadata.sent_by === "string" ? message.metadata.sent_by : "";
    node = bubble("message-user", sentBy ? `Staff: ${sentBy}` : "You", message.content, message.created_at);
  } else if (forceError || isErrorMessage(message)) {
    const text = message.content ? `The language model reported an error: ${message.content}` :
      "The language model reported an error. Please try again.";
    node = bubble("message-error", "Error", text, message.created_at);
    node.dataset.role = "assistant";
  } else if (message.metadata && message.metadata.stopped) {
    // The user stopped it: what the model had written by then, said to be partial.
    const text = message.content || "(stopped before the model wrote anything)";
    node = bubble("message-assistant message-stopped", "Assistant", text, message.created_at, { markdown: true });
    node.append(el("p", "message-stopped-note", "Stopped."));
  } else {
    node = bubble("message-assistant", "Assistant", message.content, message.created_at, { markdown: true });
  }
  if (message.id !== undefined && message.id !== null) node.dataset.messageId = String(message.id);
  if (message.request_id) node.dataset.requestId = message.request_id;
  return node;
}

/** A question the server holds until the answers to earlier ones are in (a chat.queued frame). */
export function queuedElement(text, position) {
  const node = bubble("message-user message-queued", "You", text, new Date().toISOString());
  const ahead = position > 1 ? `${position} messages are` : "1 message is";
  node.append(el("p", "message-queued-note", `Waiting: ${ahead} answered first.`));
  return node;
}

/** An error that is not stored (a chat.error frame or a client-side failure). */
export function errorElement(text, requestId = null) {
  const node = bubble("message-error", "Error", text, new Date().toISOString());
  node.setAttribute("role", "alert");
  if (requestId) node.dataset.requestId = requestId;
  return node;
}

function stopButton(requestId) {
  const button = el("button", "btn btn-small stop-btn", "Stop");
  button.type = "button";
  button.dataset.requestId = requestId;
  button.title = "Stop the answer here (what was written so far is kept)";
  return button;
}

/** The "Waiting for the model…" placeholder for one request, with a Stop button. */
export function waitingElement(requestId) {
  const node = el("div", "waiting-indicator");
  if (requestId) node.dataset.requestId = requestId;
  node.append(el("span", "waiting-text", "Waiting for the model"));
  const dots = el("span", "waiting-dots");
  dots.setAttribute("aria-hidden", "true");
  for (let i = 0; i < 3; i += 1) dots.append(el("span", "dot", "."));
  node.append(dots);
  if (requestId) node.append(" ", stopButton(requestId));
  return node;
}

/** An answer as the model writes it (chat.delta frames; chat.js renders the text so far into .message-body); the
 * stored answer replaces it. */
export function streamingElement(requestId) {
  const now = new Date().toISOString();
  const node = bubble("message-assistant message-streaming", "Assistant", "", now, { markdown: true });
  node.dataset.requestId = requestId;
  node.setAttribute("aria-busy", "true");
  node.append(stopButton(requestId));
  return node;
}

export function emptyState(text) {
  return el("p", "empty-state", text);
}

export function sessionTitle(session) {
  return (session && session.title && session.title.trim()) || "Untitled chat";
}

/** One entry of #session-list: a button that opens the session. */
export function sessionItem(session, current) {
  const li = el("li", "session-entry");
  li.dataset.sessionId = String(session.id);
  const button = el("button", "session-item");
  button.type = "button";
  button.dataset.sessionId = String(session.id);
  if (current) button.setAttribute("aria-current", "true");
  button.append(el("span", "session-title", sessionTitle(session)));
  const stamp = new Date(session.updated_at || session.created_at);
  if (!Number.isNaN(stamp.getTime())) {
    const time = el("time", "session-date", stamp.toLocaleDateString([], { month: "short", day: "numeric" }));
    time.dateTime = stamp.toISOString();
    button.append(time);
  }
  li.append(button);
  return li;
}

/** One of the user's prompt templates as an <option> (its version too: a template's content changes over time). */
export function templateOption(template) {
  const inactive = template.is_active === false ? ", inactive" : "";
  return new Option(`${template.title} (v${template.version}${inactive})`, String(template.id));
}
