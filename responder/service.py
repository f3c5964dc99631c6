"""The MQTT side of the responder: connect, subscribe, dispatch each message, publish replies and status.

Nothing slow runs on paho's network thread: offline answers take microseconds, delays and offline streams wait in
the scheduler's heap and LLM calls run on a bounded pool. Every paho callback is wrapped so that an exception is
logged and cannot end the network thread.

A chat request with `"stream": true` and a valid replyTopic of its own gets its answer in chunks on
`<replyTopic>/stream` (QoS 0) before the whole answer on replyTopic (QoS 1), unless it is cancelled first
(PROTOCOL.md "Streamed answers", "Cancel"); streams.py keeps the streams in flight.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import ssl
import threading
import time
from collections.abc import Callable
from contextlib import closing
from functools import partial

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from .config import Settings
from .llm import LLMClient, LLMError, hint_from_answer
from .memory import SessionMemory, Snapshot
from .offline import OVERLOADED, chat_answer, maze_hint
from .offline_stream import StreamPlayer, plan
from .payloads import (
    ChatRequest,
    MazeState,
    NotAnObject,
    PayloadError,
    decode_object,
    forget_target,
    parse_maze_state,
    session_of,
    template_prompt,
    template_reset,
)
from .scheduler import BoundedPool, DelayScheduler
from .streams import ActiveStream, Coalescer, StreamRegistry
from .topics import (
    CHAT_PROJECT,
    CLEAR_HISTORY_BASE,
    DELETE_SESSION_BASE,
    MAZE_PROJECT,
    resolve_reply_topic,
    split_session_topic,
    valid_reply_topic,
)

log = logging.getLogger("responder")

KEEPALIVE_SECONDS = 30
MAX_QUEUED_LLM_CALLS = 1024
MAX_QUEUED_PUBLISHES = 10_000  # QoS 1 replies kept while the broker is away; beyond that they are dropped
MAX_INFLIGHT_PUBLISHES = 100
SHUTDOWN_PUBLISH_TIMEOUT = 5.0
# Reconnect like the portal's worker: every half second through the first minute of an outage (users are waiting
# through a broker restart), then backing off to RECONNECT_MAX_DELAY (a broker that is really down is left alone).
RECONNECT_INTERVAL = 0.5
RECONNECT_FAST_PERIOD = 60.0
RECONNECT_MAX_DELAY = 30.0
# A model's deltas that arrive within this window of the last chunk sent go out together as one chunk.
COALESCE_SECONDS = 0.02

DEFAULT_MAZE_PROMPT = (
    "You are the guide of a maze game. The player must reach the exit while avoiding germs. "
    "visible_map[y][x] is 1 for floor and 0 for wall; positions are [x, y]; y grows southwards."
)
MAZE_ANSWER_FORMAT = (
    'Answer with one JSON object: {"hint": "<short advice>", "suggestion": "<optional>", '
    '"path": [[x, y], ...] (optional next steps)}.'
)
TEMPLATE_NOTICE = json.dumps({"hint": "Template updated"})
# Fields of a maze state that are not part of the game position the model should reason about.
_STATE_FIELDS_NOT_FOR_MODEL = ("prompt_template", "replyTopic", "sessionId")


def tls_context(ca_file: str = "", cert_file: str = "", key_file: str = "") -> ssl.SSLContext:
    """Verify the broker's certificate and host name, always: there is deliberately no switch to skip that.
    (The same as portal/mqtt/client.py; the responder imports nothing from the portal.)"""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(cert_file, key_file or None)
    return context


def _conversation(snapshot: Snapshot, user_content: str, default_system: str | None = None) -> list[dict]:
    system = snapshot.system_prompt or default_system
    messages = [{"role": "system", "content": system}] if system else []
    for user, assistant in snapshot.turns:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    messages.append({"role": "user", "content": user_content})
    return messages


Publish = Callable[[str, bytes, int], None]  # (topic, payload, qos)


class Responder:
    def __init__(self, settings: Settings, *, publish: Publish | None = None, scheduler: DelayScheduler | None = None):
        """`publish` and `scheduler` replace the MQTT client's publish and the real-time scheduler (in tests)."""
        self.settings = settings
        self.memory = SessionMemory(settings.history_turns)
        self.scheduler = scheduler or DelayScheduler()
        self.streams = StreamRegistry(self._publish)
        self.llm: LLMClient | None = None
        self.pool: BoundedPool | None = None
        if not settings.offline:
            self.llm = LLMClient(
                settings.llm_base_url,
                model=settings.llm_model,
                api_key=settings.llm_api_key,
                timeout=settings.llm_timeout,
                max_retries=settings.llm_max_retries,
            )
            self.pool = BoundedPool(settings.max_concurrency, MAX_QUEUED_LLM_CALLS)
        self._stopping = False
        self._failed_connects = 0
        self._outage_since: float | None = None  # monotonic; None while connected
        self._backing_off = False
        self.client = self._make_client()
        self._send: Publish = publish or self._publish_to_broker

    # -- lifecycle -----------------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=s.client_id, clean_session=False, protocol=mqtt.MQTTv311
        )
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            # A certificate that does not verify fails the handshake: paho's loop retries like any refused connect.
            client.tls_set_context(tls_context(s.tls_ca_file, s.tls_cert_file, s.tls_key_file))
        client.will_set(s.status_topic, self._status(online=False), qos=1, retain=True)
        client.reconnect_delay_set(RECONNECT_INTERVAL, RECONNECT_INTERVAL)
        client.max_queued_messages_set(MAX_QUEUED_PUBLISHES)
        client.max_inflight_messages_set(MAX_INFLIGHT_PUBLISHES)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def subscriptions(self) -> list[str]:
        s = self.settings
        topics = []
        if CHAT_PROJECT in s.projects:
            topics += [s.topic_user_input, s.topic_cancel]
        if MAZE_PROJECT in s.projects:
            topics += [
                s.topic_state,
                s.topic_template,
                f"{s.topic_template}/+",
                CLEAR_HISTORY_BASE,
                f"{CLEAR_HISTORY_BASE}/+",
                DELETE_SESSION_BASE,
                f"{DELETE_SESSION_BASE}/+",
            ]
        return topics

    def start(self) -> None:
        s = self.settings
        mode = f"LLM {s.llm_model} at {s.llm_base_url}" if self.llm else f"offline mode, streams {s.stream_rate:g}/s"
        log.info(
            "responder %s serving %s via %s:%s%s, %s, reply delay %g s",
            s.client_id,
            ", ".join(s.projects),
            s.broker_host,
            s.broker_port,
            " (TLS)" if s.tls else "",
            mode,
            s.delay,
        )
        self.start_workers()
        # connect_async + loop_start: the network thread retries the first connection too, forever.
        self.client.connect_async(s.broker_host, s.broker_port, keepalive=KEEPALIVE_SECONDS)
        self.client.loop_start()

    def start_workers(self) -> None:
        """The threads that answer (scheduler, LLM pool), without the broker connection: `start` uses it, and tests
        that pass their own `publish`."""
        self.scheduler.start()
        if self.pool:
            self.pool.start()

    def heartbeat(self) -> None:
        if self.client.is_connected():
            self.client.publish(self.settings.status_topic, self._status(online=True), qos=0, retain=True)

    def stop(self) -> None:
        """Announce offline (a clean disconnect suppresses the will), disconnect and stop every thread."""
        self._stopping = True
        dropped = self.scheduler.stop()
        if self.pool:
            dropped += self.pool.stop()
        if dropped:
            log.info("dropped %d pending replies at shutdown", dropped)
        if self.llm:
            self.llm.close()
        if self.client.is_connected():
            info = self.client.publish(self.settings.status_topic, self._status(online=False), qos=1, retain=True)
            try:
                info.wait_for_publish(SHUTDOWN_PUBLISH_TIMEOUT)
            except (RuntimeError, ValueError) as error:
                log.warning("could not announce offline status: %s", error)
        self.client.disconnect()
        self.client.loop_stop()

    def _status(self, *, online: bool) -> bytes:
        body: dict = {"service": self.settings.client_id, "status": "online" if online else "offline"}
        if online:
            body["ts"] = int(time.time())
        return json.dumps(body).encode()

    # -- paho callbacks (never raise) ------------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            s = self.settings
            if reason_code.is_failure:
                log.warning("broker %s:%s refused the connection: %s", s.broker_host, s.broker_port, reason_code)
                return
            # paho leaves Nagle on; without TCP_NODELAY each small reply waits 40+ ms for the previous ACK.
            # With TLS the socket is an ssl.SSLSocket, which passes the option on to its TCP socket.
            client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._failed_connects = 0
            self._outage_since = None
            client.reconnect_delay_set(RECONNECT_INTERVAL, RECONNECT_INTERVAL)
            log.info(
                "connected to %s:%s as %s (session present: %s)",
                s.broker_host,
                s.broker_port,
                s.client_id,
                flags.session_present,
            )
            client.subscribe([(topic, 1) for topic in self.subscriptions()])
            client.publish(s.status_topic, self._status(online=True), qos=1, retain=True)
        except Exception:
            log.exception("error in on_connect")

    def _on_connect_fail(self, client, userdata) -> None:
        try:
            self._failed_connects += 1
            # One line per outage, not one per retry.
            level = logging.WARNING if self._failed_connects == 1 else logging.DEBUG
            log.log(level, "cannot connect to %s:%s; retrying", self.settings.broker_host, self.settings.broker_port)
            self._pace_reconnects(client)
        except Exception:
            log.exception("error in on_connect_fail")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if self._stopping:
                log.info("disconnected from the broker")
            else:
                log.warning("disconnected from the broker (%s); reconnecting", reason_code)
                self._pace_reconnects(client)
        except Exception:
            log.exception("error in on_disconnect")

    def _pace_reconnects(self, client) -> None:
        """Steady attempts through the first RECONNECT_FAST_PERIOD s of an outage, then paho's doubling delays."""
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since, self._backing_off = now, False
        elif now - self._outage_since > RECONNECT_FAST_PERIOD and not self._backing_off:
            client.reconnect_delay_set(RECONNECT_INTERVAL, RECONNECT_MAX_DELAY)  # from here paho doubles them
            self._backing_off = True

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.dispatch(message.topic, message.payload)
        except PayloadError as error:
            log.warning("skipped message on %s: %s", message.topic, error)
        except Exception:
            log.exception("failed to handle message on %s", message.topic)

    # -- dispatch --------------------------------------------------------------------------------------
    def dispatch(self, topic: str, payload: bytes) -> None:
        s = self.settings
        if topic == s.topic_user_input:
            self._on_chat(payload)
        elif topic == s.topic_cancel:
            self._on_cancel(payload)
        elif topic == s.topic_state:
            self._on_state(payload)
        elif (match := split_session_topic(topic, s.topic_template))[0]:
            self._on_template(match[1], payload)
        elif (match := split_session_topic(topic, CLEAR_HISTORY_BASE))[0]:
            self._on_forget(match[1], payload)
        elif (match := split_session_topic(topic, DELETE_SESSION_BASE))[0]:
            self._on_forget(match[1], payload)
        else:
            log.debug("ignored message on %s", topic)

    def _publish(self, topic: str, payload: str, qos: int = 1) -> None:
        self._send(topic, payload.encode(), qos)

    def _publish_to_broker(self, topic: str, payload: bytes, qos: int) -> None:
        info = self.client.publish(topic, payload, qos=qos)
        # NO_CONN still queues a QoS 1 message for the next connection; a QoS 0 one is lost.
        queued = info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (qos > 0 and info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN)
        if not queued:
            # QoS 0 (stream chunks, notices) is expendable by design: one line per chunk of every stream during a
            # broker outage would drown the log.
            level = logging.WARNING if qos > 0 else logging.DEBUG
            log.log(level, "reply to %s not sent: %s", topic, mqtt.error_string(info.rc))

    def _later(self, delay: float, action, refused) -> None:
        """Run `action` after `delay` (right now when 0); run `refused` instead when the heap is full."""
        if delay <= 0:
            action()
        elif not self.scheduler.call_later(delay, action):
            log.warning("too many delayed replies pending")
            refused()

    def _on_pool(self, job, refused) -> None:
        if not self.pool.submit(job):
            log.warning("LLM queue full (%d calls waiting)", MAX_QUEUED_LLM_CALLS)
            refused()

    # -- chat ------------------------------------------------------------------------------------------
    def _on_chat(self, payload: bytes) -> None:
        try:
            data = decode_object(payload)
        except NotAnObject as error:
            log.debug("dropped chat request: %s", error)
            return
        message = data.get("message")
        if message is None or (isinstance(message, str) and not message.strip()):
            log.debug("dropped chat request with an empty message (session %r)", data.get("sessionId"))
            return
        topic = resolve_reply_topic(data.get("replyTopic"), self.settings.topic_assistant_response, session_of(data))
        if topic is None:
            raise PayloadError("chat request has neither a valid sessionId nor a valid replyTopic")
        try:
            request = ChatRequest.parse(data)
        except PayloadError as error:
            log.warning("invalid chat request %r: %s", data.get("requestId"), error)
            self._publish(topic, f"Error: invalid request: {error}")
            return
        log.debug("chat request %r of session %s -> %s", request.request_id, request.session_id, topic)
        if self.llm is None:
            self._chat_offline(request, data, topic)
            return
        stream = self._open_stream(request, data, topic)
        overloaded = partial(self._final, topic, stream, OVERLOADED)
        job = partial(self._chat_with_llm, request, topic, stream)
        self._later(self.settings.delay, partial(self._on_pool, job, overloaded), overloaded)

    def _open_stream(self, request: ChatRequest, data: dict, topic: str) -> ActiveStream | None:
        """A stream for the request's answer when it asks for one and can have one, else None."""
        # Chunks go to <replyTopic>/stream and name the requestId: a request without its own valid replyTopic
        # (answered on the fallback topic <base>/<sessionId>) or without a requestId gets the final reply only.
        if not request.stream or request.request_id is None:
            return None
        if not valid_reply_topic(data.get("replyTopic"), self.settings.topic_assistant_response):
            return None
        stream = self.streams.open(request.request_id, request.session_id, request.message, topic)
        if stream is None:
            log.warning("chat request %r answered without chunks (repeated, or too many streams)", request.request_id)
        return stream

    def _final(self, topic: str, stream: ActiveStream | None, text: str) -> None:
        """Publish the final reply, ending the request's stream if it has one (nothing when that was cancelled)."""
        if stream is None:
            self._publish(topic, text)
        else:
            stream.finish(text)

    def _chat_offline(self, request: ChatRequest, data: dict, topic: str) -> None:
        answer = chat_answer(request.message)
        if answer.text is None:
            log.info("not replying to chat request %r (!noreply)", request.request_id)
            return
        wait = self.settings.delay + answer.wait
        streamed = answer.streamable and self.settings.stream_rate > 0
        stream = self._open_stream(request, data, topic) if streamed else None
        overloaded = partial(self._final, topic, stream, OVERLOADED)
        if stream is None:
            self._later(wait, partial(self._publish, topic, answer.text), overloaded)
        elif not StreamPlayer(self.scheduler, stream, plan(answer, self.settings.stream_rate)).start(wait):
            log.warning("too many delayed replies pending")
            overloaded()

    def _chat_with_llm(self, request: ChatRequest, topic: str, stream: ActiveStream | None) -> None:
        try:
            if stream is not None and stream.cancelled:
                return  # stopped while it waited for its turn: the model is not asked at all
            snapshot = self.memory.open(CHAT_PROJECT, request.session_id, request.system_prompt)
            messages = _conversation(snapshot, request.message)
            sampling = {"temperature": request.temperature, "top_p": request.top_p, "max_tokens": request.max_tokens}
            try:
                if stream is None:
                    text = self.llm.complete(messages, **sampling)
                else:
                    text = self._relay_stream(stream, messages, sampling)
            except LLMError as error:
                # Session ids and content stay out of logs at INFO and above (they identify a user's conversation).
                log.warning("LLM call for a chat request failed: %s", error)
                self._final(topic, stream, f"Error: {error}")
                return
            if text is None or (stream is not None and not stream.end()):
                return  # cancelled: the cancel put the partial answer into the memory
            # The turn is remembered before the reply goes out: the session's next request may follow at once.
            self.memory.add_turn(CHAT_PROJECT, request.session_id, request.message, text)
            self._publish(topic, text)
        finally:
            if stream is not None:
                stream.end()  # whatever went wrong, the stream leaves the registry

    def _relay_stream(self, stream: ActiveStream, messages: list[dict], sampling: dict) -> str | None:
        """Publish the model's answer as it comes; the whole answer, or None when cancelled part-way."""
        coalescer = Coalescer(COALESCE_SECONDS)
        parts: list[str] = []
        # Leaving the `with` early closes the HTTP stream, which stops the model.
        with closing(self.llm.stream(messages, **sampling)) as deltas:
            for delta in deltas:
                if stream.cancelled:
                    return None
                parts.append(delta)
                text = coalescer.add(delta, time.monotonic())
                if text and not stream.send(text):
                    return None
        rest = coalescer.flush()
        if rest and not stream.send(rest):
            return None
        return "".join(parts)

    def _on_cancel(self, payload: bytes) -> None:
        data = decode_object(payload)
        request_id = data.get("requestId")
        if not isinstance(request_id, str) or not request_id:
            raise PayloadError("cancel without a requestId")
        cancelled = self.streams.cancel(request_id, session_of(data))
        if cancelled is None:
            log.debug("ignored cancel of %r: not streaming", request_id)
            return
        stream, partial_answer = cancelled
        log.debug("cancelled chat request %r after %d characters", request_id, len(partial_answer))
        # The model said this much before it was stopped: the conversation goes on from there.
        if partial_answer:
            self.memory.add_turn(CHAT_PROJECT, stream.session_id, stream.message, partial_answer)

    # -- maze ------------------------------------------------------------------------------------------
    def _on_state(self, payload: bytes) -> None:
        data = decode_object(payload)
        session_id = session_of(data)
        if session_id is None:
            raise PayloadError("maze state without a valid sessionId")
        topic = resolve_reply_topic(data.get("replyTopic"), self.settings.hint_base, session_id)
        try:
            state = parse_maze_state(data)
        except PayloadError as error:
            log.warning("invalid maze state: %s", error)
            self._publish(topic, json.dumps({"error": str(error)}))
            return

        # Saturated (heap or LLM queue full): the offline hint at once is more useful to a player than an error.
        def offline_hint() -> None:
            self._publish(topic, json.dumps(maze_hint(state)))

        if self.llm is None:
            self._later(self.settings.delay, offline_hint, offline_hint)
        else:
            job = partial(self._maze_with_llm, session_id, state, data, topic)
            self._later(self.settings.delay, partial(self._on_pool, job, offline_hint), offline_hint)

    def _maze_with_llm(self, session_id: str, state: MazeState, data: dict, topic: str) -> None:
        # Only the template is remembered for the maze, no turns: each state is complete on its own, and states
        # are large and frequent. The state's own prompt, when it carries one, is the game's prompt in effect.
        snapshot = self.memory.open(MAZE_PROJECT, session_id, state.template)
        if state.template is not None:
            snapshot = Snapshot(state.template, snapshot.turns)
        game = {k: v for k, v in data.items() if k not in _STATE_FIELDS_NOT_FOR_MODEL}
        content = json.dumps(game, separators=(",", ":")) + "\n\n" + MAZE_ANSWER_FORMAT
        messages = _conversation(snapshot, content, DEFAULT_MAZE_PROMPT)
        hint = None
        try:
            hint = hint_from_answer(self.llm.complete(messages))
            if hint is None:
                log.warning("LLM answer for a maze state holds no JSON hint; sending the offline hint")
        except LLMError as error:
            log.warning("LLM call for a maze state failed (%s); sending the offline hint", error)
        self._publish(topic, json.dumps(hint if hint is not None else maze_hint(state)))

    def _on_template(self, topic_session: str | None, payload: bytes) -> None:
        data = decode_object(payload)
        session_id = topic_session or session_of(data)
        prompt, reset = template_prompt(data), template_reset(data)
        if prompt is None and not reset:
            raise PayloadError("template update with neither a prompt nor a reset")
        if session_id is None:
            log.warning("template update without a session: applied to every maze session")
            self.memory.set_project_prompt(MAZE_PROJECT, prompt, reset)
            return
        self.memory.set_system_prompt(MAZE_PROJECT, session_id, prompt, reset)
        log.debug("template of maze session %s updated (reset: %s)", session_id, reset)
        self._publish(f"{self.settings.hint_base}/{session_id}", TEMPLATE_NOTICE, qos=0)

    def _on_forget(self, topic_session: str | None, payload: bytes) -> None:
        session_id = topic_session or forget_target(decode_object(payload))
        count = self.memory.delete(MAZE_PROJECT, session_id)
        log.debug("forgot %s: %d session(s)", session_id or "every maze session", count)


def run(settings: Settings) -> int:
    """Serve until SIGTERM or SIGINT, sending the online heartbeat; then stop cleanly. Returns the exit code."""
    stop = threading.Event()

    def request_stop(signum, frame) -> None:
        stop.set()  # only a flag: the main loop does the work

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    responder = Responder(settings)
    responder.start()
    try:
        while not stop.wait(settings.status_interval):
            responder.heartbeat()
        log.info("stop requested")
    finally:
        responder.stop()
    log.info("stopped")
    return 0
