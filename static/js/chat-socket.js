// chat-socket.js — one WebSocket to /ws/chat/<session id>/ for the chat page: JSON frames in and out, and
// automatic reconnects with backoff (1 s, 2 s, 4 s … at most 15 s) until stopped or refused by the server.

const MAX_DELAY_MS = 15000;

/** Close codes the server uses to refuse a socket for good: reconnecting would not help. */
export const REFUSAL_TEXT = {
  4401: "Your login has expired. Please reload the page and log in again.",
  4403: "This chat belongs to another account, so it cannot be opened here.",
  4404: "This chat no longer exists. It may have been deleted in another tab.",
};

function refusalText(code) {
  if (REFUSAL_TEXT[code]) return REFUSAL_TEXT[code];
  return "The server closed this chat connection. Please reload the page.";
}

export function chatSocketUrl(path, sessionId) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const base = path.endsWith("/") ? path : `${path}/`;
  return `${scheme}//${window.location.host}${base}${encodeURIComponent(sessionId)}/`;
}

export class ChatSocket {
  #ws = null;
  #timer = null;
  #attempt = 0;
  #stopped = false;
  #everOpened = false;

  /**
   * @param {string} url
   * @param {{onState?: Function, onOpen?: Function, onMessage?: Function, onRefused?: Function}} handlers
   *   onState(state, info): state is "connecting" | "open" | "reconnecting" | "refused" | "stopped".
   *   onOpen({reconnected}): after every successful open; reconnected is true after the first.
   *   onRefused(code, text): the server closed with a 44xx code; no more reconnects.
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.handlers = handlers;
  }

  get isOpen() {
    return this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  start() {
    this.#stopped = false;
    this.#connect();
  }

  /** Skip the remaining backoff wait (e.g. the browser came back online). */
  reconnectNow() {
    if (!this.#stopped && this.#timer !== null) this.#connect();
  }

  send(payload) {
    if (!this.isOpen) return false;
    this.#ws.send(JSON.stringify(payload));
    return true;
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = null;
    const ws = this.#ws;
    this.#ws = null;
    if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000, "Closed by the page");
    this.#emit("stopped");
  }

  #emit(state, info = {}) {
    this.handlers.onState?.(state, info);
  }

  #connect() {
    clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#stopped) return;
    this.#emit("connecting", { reconnecting: this.#attempt > 0 });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.#ws) return;
      const reconnected = this.#everOpened;
      this.#attempt = 0;
      this.#everOpened = true;
      this.#emit("open");
      this.handlers.onOpen?.({ reconnected });
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.#ws || typeof event.data !== "string") return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data && typeof data === "object") this.handlers.onMessage?.(data);
    });
    ws.addEventListener("close", (event) => {
      if (ws !== this.#ws) return; // an old socket we already replaced or stopped
      this.#ws = null;
      if (this.#stopped) return;
      if (event.code >= 4400 && event.code < 4500) {
        this.#stopped = true;
        const text = refusalText(event.code);
        this.#emit("refused", { code: event.code, text });
        this.handlers.onRefused?.(event.code, text);
        return;
      }
      this.#scheduleRetry();
    });
  }

  #scheduleRetry() {
    const delay = Math.min(1000 * 2 ** this.#attempt, MAX_DELAY_MS);
    this.#attempt += 1;
    this.#emit("reconnecting", { delay });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }
}
