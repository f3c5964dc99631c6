// maze-socket.js — the game's WebSocket /ws/maze/<game id>/ (reconnecting, through ChatSocket): sends the game
// state at most every STATE_INTERVAL_MS (a hint request at once), and measures hint latency from the state
// message that asked for it (or the last state message sent when none asked).
import { ChatSocket, chatSocketUrl } from "../chat-socket.js";

export const STATE_INTERVAL_MS = 550; // the server holds plain states closer than 500 ms apart until then
const REQUEST_STALE_MS = 15000; // a hint request unanswered this long no longer counts as pending

const REFUSAL_TEXT = {
  4401: "Your login has expired. Please reload the page and log in again.",
  4403: "This game belongs to another account.",
  4404: "This game no longer exists or belongs to another account.",
};

export class MazeSocket {
  #socket;
  #timer = null;
  #queuedRequest = false;
  #lastSentAt = null; // performance.now() of the last state message sent
  #requestAt = null; // … of the last one that asked for a hint, until a hint answers it
  #play = []; // play frames (moves, hint effects, the finish) not sent yet: kept, in order, until the socket is open

  /**
   * @param {number} gameId
   * @param {{getState: () => object, onFrame: (frame: object) => void,
   *          onConnection: (state: string, info: object) => void, onRefused: (code: number, text: string) => void}} handlers
   *   getState() returns the `state` object to send; onConnection gets ChatSocket's states.
   */
  constructor(gameId, handlers) {
    this.handlers = handlers;
    this.#socket = new ChatSocket(chatSocketUrl("/ws/maze/", String(gameId)), {
      onState: (state, info) => handlers.onConnection?.(state, info),
      onOpen: () => {
        this.#sendPlay();
        this.#flush(this.#queuedRequest);
      },
      onMessage: (frame) => handlers.onFrame?.(frame),
      onRefused: (code) => {
        this.#cancelTimer();
        handlers.onRefused?.(code, REFUSAL_TEXT[code] || "The server closed the game connection. Please reload the page.");
      },
    });
  }

  get isOpen() {
    return this.#socket.isOpen;
  }

  /** True while a hint request is waiting for its answer. */
  get hintPending() {
    return this.#requestAt !== null && performance.now() - this.#requestAt < REQUEST_STALE_MS;
  }

  /** Milliseconds since the last state message went out (Infinity before the first). */
  get sinceLastSend() {
    return this.#lastSentAt === null ? Infinity : performance.now() - this.#lastSentAt;
  }

  start() {
    this.#socket.start();
  }

  stop() {
    this.#cancelTimer();
    this.#queuedRequest = false;
    this.#socket.stop();
  }

  reconnectNow() {
    this.#socket.reconnectNow();
  }

  /** The board changed (a move): send the state now, or once STATE_INTERVAL_MS has passed since the last one. */
  stateChanged() {
    if (this.#timer !== null) return; // a send is already scheduled; it reads the state when it fires
    const wait = STATE_INTERVAL_MS - this.sinceLastSend;
    if (wait <= 0) this.#flush(false);
    else this.#timer = setTimeout(() => this.#flush(false), wait);
  }

  /** Ask for a hint now. False when the socket is down: the request is queued for the next open. */
  requestHint() {
    if (!this.isOpen) {
      this.#queuedRequest = true;
      return false;
    }
    return this.#flush(true);
  }

  /** A frame of the play the server scores (a move's steps, a hint's effects, the finish): sent in order, and
   *  kept while the socket is down so none is lost (the server's record must see every step). */
  sendPlay(frame) {
    this.#play.push(frame);
    this.#sendPlay();
  }

  /** True when every play frame has gone out. */
  get playSent() {
    return this.#play.length === 0;
  }

  #sendPlay() {
    while (this.#play.length && this.#socket.send(this.#play[0])) this.#play.shift();
  }

  /** Latency of a hint that just arrived (not a notice), in ms, or null when no state was sent yet. */
  takeLatency() {
    const from = this.#requestAt ?? this.#lastSentAt;
    this.#requestAt = null;
    return from === null ? null : Math.max(0, performance.now() - from);
  }

  #cancelTimer() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }

  #flush(requestHint) {
    this.#cancelTimer();
    const state = this.handlers.getState?.();
    if (!state) return false;
    if (!this.#socket.send({ type: "state", request_hint: Boolean(requestHint), state })) {
      if (requestHint) this.#queuedRequest = true;
      return false;
    }
    const now = performance.now();
    this.#lastSentAt = now;
    if (requestHint) {
      this.#requestAt = now;
      this.#queuedRequest = false;
    }
    return true;
  }
}
