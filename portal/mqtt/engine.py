"""The MQTT worker's engine: relays between the channel layer and the one MQTT connection.

Shape (as healthchecks' sendalerts): `run()` is a thin loop of three tasks that feed units a test can call
directly with fakes (a fake link, the in-memory channel layer, plain functions as hooks): `handle_web_event(event)`
for what a web process sends, `handle_mqtt_message(topic, payload, retained)` for what the broker delivers, and
`expire(now)` for deadlines. Database work runs off the loop (`run_sync`, portal.db.run_db by default); the MQTT
link (client.py) is non-blocking on the loop.

A chat turn, in the obvious order:
1. A web process sends `chat.request`. What the worker cannot serve is refused at once (not connected, LLM
   offline, breaker open, too many requests); otherwise the request gets in its chat session's line (turns.py):
   its turn now, or `chat.queued` while an earlier message of the session is answered.
2. On its turn the chat app opens the session's turn in the database (one request per session in flight, across
   workers), stores the question and says what to publish (`begin_chat_turn`: the LLM sessionId, system prompt
   and sampling; a fresh sessionId when the prompt in effect changed), the request is published (QoS 1), and the
   waiter hears `chat.accepted`.
3. The reply, matched by request id (or, on the fallback topic, to the one request in flight under that
   sessionId), is stored and delivered, whatever its shape; then the session's next message takes its turn.
   A turn whose reply does not come by its deadline ends with a timeout (its late reply is stored for it alone).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from portal.db import run_db

from . import contract
from .breaker import OPEN, CircuitBreaker
from .client import LinkConfig, MqttLink
from .identity import RECLAIMED, ClientIdLease, LeaseLost
from .payloads import ChatReply, MalformedPayload, parse_chat_reply, parse_hint, parse_status, parse_stream_chunk
from .pending import ChatTurn, PendingRegistry, RecentIds
from .presence import LlmPresence
from .shared_state import is_alive, read_worker_states, record_probe_rtt, remove_worker_state, write_worker_state
from .stream import StreamAssembler
from .topics import (
    hint_base,
    parse_reply_topic,
    parse_stream_topic,
    reply_session_consistent,
    reply_topic,
    session_from_hint_topic,
)
from .turns import SessionQueues

log = logging.getLogger("portal.mqtt.worker")

SHUTDOWN_DETAIL = "The chat service is restarting. Please try again in a moment."
STOPPED = "Stopped before it was sent to the model."


def _shutdown_error(request_id: str) -> dict[str, Any]:
    """The answer of a request its worker gives up on as it stops."""
    return contract.error_event(request_id=request_id, code=contract.ERROR_SHUTDOWN, detail=SHUTDOWN_DETAIL)


INBOUND_QUEUE_MAX = 10000
HANDLERS_MAX = 500  # messages handled at once, each in a task of its own
EXIT_RECONNECT_LIMIT, EXIT_LEASE_LOST = 1, 3


@dataclass(frozen=True)
class EngineHooks:
    """The feature apps' database functions: plain sync functions, run off the event loop."""

    # (question, request_id, holder, hold_for, gone) -> {"payload": PROTOCOL.md fields without
    # requestId, clientId and replyTopic, "user_message": JSON, "notice": JSON or None}; {"busy": holder} while
    # another request of the session is open (held by `holder`, "<client id>|<token>|<request id>", unless it is
    # listed in `gone`); None when the chat session is gone. It opens the session's turn for `hold_for` seconds.
    begin_chat_turn: Callable[..., dict | None]
    # (request_id): undo begin_chat_turn for a request that could not be published.
    cancel_chat_turn: Callable[..., None]
    # (request_id, text, is_error, metadata, session_id or None when not known) -> {"message": JSON, "created":
    # bool}; None when its question is gone.
    store_chat_reply: Callable[..., dict | None]
    # (session_key, hint) -> False for an unknown game.
    store_hint: Callable[..., bool] | None = None


@dataclass(frozen=True)
class EngineConfig:
    mqtt: dict[str, Any]
    heartbeat_interval: float
    pending_max: int
    pending_max_age: float
    session_queue_max: int = 5
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    # Each LLM service instance announces itself every 30 s; one silent for this long no longer counts.
    llm_status_timeout: float = 90.0
    housekeeping_interval: float = 0.2
    turn_lock_retry: float = 0.1  # how often a turn whose session another worker holds tries again
    # Streamed answers (docs/protocol.md): ask for them, relay at most once per interval, end a stalled one.
    stream: bool = False
    stream_flush_interval: float = 0.04
    stream_idle_timeout: float = 15.0

    @property
    def response_base(self) -> str:
        return self.mqtt["TOPIC_ASSISTANT_RESPONSE"].rstrip("/")


@dataclass
class Counters:
    messages_in: int = 0
    messages_out: int = 0
    malformed: int = 0
    replies_delivered: int = 0
    replies_unreadable: int = 0  # matched to a request but unreadable: delivered and stored as an LLM error
    replies_late: int = 0
    replies_duplicate: int = 0
    replies_unmatched: int = 0  # matched no request (fallback topic with nothing in flight, unknown id): dropped
    replies_foreign: int = 0
    replies_mismatched: int = 0
    stream_chunks: int = 0  # chunks that added text to an answer in flight
    stream_chunks_dropped: int = 0  # of no request in flight here, duplicated, or past the bounds
    stream_deltas: int = 0  # chat.delta events relayed (several chunks each under load)
    stopped: int = 0  # answers a user stopped
    timeouts: int = 0
    queue_timeouts: int = 0
    refused_busy: int = 0
    refused_session_busy: int = 0
    refused_unavailable: int = 0
    dropped_stale: int = 0
    queued: int = 0
    new_llm_conversations: int = 0
    reconnects: int = 0
    probe_failures: int = 0
    inbound_dropped: int = 0
    hints_delivered: int = 0
    hints_unknown: int = 0
    status_ignored: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class ProbeState:
    token: str | None = None
    sent_at: float = 0.0  # monotonic
    last_rtt_ms: float | None = None
    last_ok_at: float | None = None  # wall clock
    consecutive_failures: int = 0


@dataclass
class WorkerRuntime:
    """Everything the heartbeat publishes about this worker."""

    started_at: float = field(default_factory=time.time)
    connected_since: float | None = None
    last_activity_at: float | None = None
    last_disconnect_reason: str = ""
    counters: Counters = field(default_factory=Counters)
    received_by_kind: dict[str, int] = field(default_factory=dict)
    probe: ProbeState = field(default_factory=ProbeState)


def _link_config(config: EngineConfig, client_id: str, probe_topic: str) -> LinkConfig:
    m = config.mqtt
    return LinkConfig(
        host=m["BROKER_HOST"],
        port=m["BROKER_PORT"],
        client_id=client_id,
        keepalive=m["KEEPALIVE"],
        username=m["USERNAME"],
        password=m["PASSWORD"],
        tls=m.get("TLS", False),
        tls_ca_file=m.get("TLS_CA_FILE", ""),
        tls_cert_file=m.get("TLS_CERT_FILE", ""),
        tls_key_file=m.get("TLS_KEY_FILE", ""),
        subscriptions=(
            (f"{config.response_base}/#", 1),
            (f"{hint_base(m['TOPIC_HINT'])}/+", 1),
            (probe_topic, 0),
            *((t, 1) for t in m["TOPIC_LLM_STATUS"]),
        ),
        reconnect_interval=m["RECONNECT_INTERVAL"],
        reconnect_fast_period=m["RECONNECT_FAST_PERIOD"],
        reconnect_max_delay=m["RECONNECT_MAX_DELAY"],
        max_reconnect_attempts=m["MAX_RECONNECT_ATTEMPTS"],
    )


class WorkerEngine:
    def __init__(
        self,
        *,
        config: EngineConfig,
        client_id: str,
        channel_layer,
        redis,
        hooks: EngineHooks,
        lease: ClientIdLease | None = None,
        link=None,
        run_sync: Callable[..., Awaitable[Any]] = run_db,
    ):
        self.config = config
        self.client_id = client_id
        self.layer = channel_layer
        self.redis = redis
        self.hooks = hooks
        self.lease = lease
        self.token = lease.token if lease is not None else uuid.uuid4().hex  # this process, in its worker state
        self.run_sync = run_sync
        self.runtime = WorkerRuntime()
        self.presence = LlmPresence(config.llm_status_timeout, self.runtime.started_at)
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_cooldown)
        self.queues: SessionQueues[ChatTurn] = SessionQueues(config.session_queue_max)
        self.turns: dict[str, ChatTurn] = {}  # every request this worker holds (in line or in flight), by id
        self.pending = PendingRegistry(config.pending_max)  # those published and waiting for their reply
        self.recent = RecentIds()
        self.exit_code: int | None = None  # set when the worker must stop by itself
        self._accepting = True
        self._inbound: asyncio.Queue | None = None
        self._handlers: set[asyncio.Task] = set()
        self._handler_slots: asyncio.Semaphore | None = None
        self._background: set[asyncio.Task] = set()
        m = config.mqtt
        self.probe_topic = f"{m['TOPIC_PROBE'].rstrip('/')}/{client_id}"
        self.hint_topic = m["TOPIC_HINT"]
        self.status_topics = tuple(m["TOPIC_LLM_STATUS"])
        self.link = (
            link
            if link is not None
            else MqttLink(
                _link_config(config, client_id, self.probe_topic),
                on_message=self._enqueue_inbound,
                on_state=self._on_link_state,
            )
        )

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> int:
        """Serve until `stop` is set (exit code 0), the reconnect limit is reached (1) or the client id's lease is
        lost to another worker (3)."""
        self._inbound = asyncio.Queue(maxsize=INBOUND_QUEUE_MAX)
        self._handler_slots = asyncio.Semaphore(HANDLERS_MAX)
        inbox = asyncio.create_task(self._inbox_loop(), name="inbox")
        others = [
            asyncio.create_task(self._inbound_loop(), name="mqtt-inbound"),
            asyncio.create_task(self._housekeeping_loop(), name="housekeeping"),
        ]
        # The inbox gets a turn before the link starts: its SUBSCRIBE goes out before the worker can report
        # itself connected (which is when web processes start sending here).
        await asyncio.sleep(0)
        self.link.start()
        await self._heartbeat()
        stopper = asyncio.create_task(stop.wait())
        while not stopper.done() and self._fatal() is None:
            await asyncio.wait([stopper, inbox, *others], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            for task in (inbox, *others):
                if task.done() and not task.cancelled() and task.exception():
                    log.error("task %s died", task.get_name(), exc_info=task.exception())
        stopper.cancel()
        self.exit_code = self._fatal() or 0
        await self._shutdown(inbox, others)
        return self.exit_code

    def _fatal(self) -> int | None:
        if self.link.fatal_error is not None:
            return EXIT_RECONNECT_LIMIT
        return self.exit_code

    async def _shutdown(self, inbox: asyncio.Task, others: list[asyncio.Task]) -> None:
        log.info("shutting down: answering %d request(s)", len(self.turns))
        self._accepting = False
        # Web processes stop choosing this worker at once; requests already on their way are still read and
        # refused with a clear 503 while the ones being handled finish.
        await self._heartbeat()
        await self._settle(self._handlers, timeout=5.0)
        inbox.cancel()
        await asyncio.gather(inbox, return_exceptions=True)
        try:
            if self.exit_code != EXIT_LEASE_LOST:  # else that state is the other worker's now
                await remove_worker_state(self.redis, self.client_id)
        except Exception as exc:  # noqa: BLE001 - Redis may be the thing that is down
            log.warning("could not clear worker state: %s", exc)
        for turn in list(self.turns.values()):
            await self._end_turn(turn, _shutdown_error(turn.request_id), start_next=False)
        await self._settle(self._background, timeout=1.0)
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
        await self.link.stop()
        if self.lease is not None and self.exit_code != EXIT_LEASE_LOST:
            try:
                await self.lease.release()
            except Exception as exc:  # noqa: BLE001
                log.warning("could not release the client id: %s", exc)
        log.info("worker %s stopped", self.client_id)

    @staticmethod
    async def _settle(tasks: set[asyncio.Task], timeout: float) -> None:
        """Let these tasks finish (briefly), then cancel the rest."""
        if tasks:
            await asyncio.wait(list(tasks), timeout=timeout)
        for task in list(tasks):
            task.cancel()

    async def _spawn(self, handling) -> None:
        """Run one message's handling as its own task, at most HANDLERS_MAX at once (waits for a slot)."""
        try:
            await self._handler_slots.acquire()
        except asyncio.CancelledError:
            handling.close()  # shutting down while waiting for a slot: never started, so never awaited
            raise
        task = asyncio.create_task(handling)
        self._handlers.add(task)
        task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task) -> None:
        self._handlers.discard(task)
        self._handler_slots.release()

    def _in_background(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)  # a reference, so the task is not collected before it ends
        task.add_done_callback(self._background.discard)

    # -- link -> engine (called on the event loop; must not block) ----------------------------------------
    def _enqueue_inbound(self, topic: str, payload: bytes, retained: bool = False) -> None:
        try:
            self._inbound.put_nowait((topic, payload, retained))
        except asyncio.QueueFull:
            # Bounded on purpose: a flood must not grow memory; QoS 0 probes and floods are what gets lost.
            self.runtime.counters.inbound_dropped += 1

    def _on_link_state(self, connected: bool, reason: str) -> None:
        if connected:
            if self.runtime.connected_since is None and self.runtime.last_disconnect_reason:
                self.runtime.counters.reconnects += 1
            self.runtime.connected_since = time.time()
            self.runtime.last_activity_at = time.time()
            self.runtime.probe = ProbeState(last_rtt_ms=self.runtime.probe.last_rtt_ms)
        else:
            self.runtime.connected_since = None
            self.runtime.last_disconnect_reason = reason
        self._in_background(self._heartbeat())

    # -- web -> engine -----------------------------------------------------------------------------------
    async def _inbox_loop(self) -> None:
        failures = 0
        channel = contract.worker_channel(self.client_id)
        while True:
            try:
                event = await self.layer.receive(channel)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis restarts must not end the worker
                failures += 1
                log.warning("channel layer receive failed (%s); retrying", exc)
                await asyncio.sleep(min(0.2 * failures, 2.0))
                continue
            await self._spawn(self._handle_web_event_logged(event))

    async def _handle_web_event_logged(self, event: dict[str, Any]) -> None:
        try:
            await self.handle_web_event(event)
        except Exception:  # noqa: BLE001
            log.exception("error handling %s", event.get("type"))

    async def handle_web_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == contract.CHAT_REQUEST:
            await self._on_chat_request(event)
        elif kind == contract.CHAT_CANCEL:
            turn = self.turns.get(event["request_id"])
            # Only a request still in line is dropped: one in flight keeps its turn until its reply (which the
            # session's other sockets still get) or its deadline, so the next message never overlaps it.
            if turn is not None and self.queues.withdraw(turn.session_key, turn):
                self.turns.pop(turn.request_id, None)
        elif kind == contract.CHAT_STOP:
            await self._on_stop(event)
        elif kind == contract.MQTT_PUBLISH:
            self._publish_json(event["topic"], event["payload"], int(event.get("qos", 0)), bool(event.get("retain")))
        else:
            log.warning("unknown event type %r from the channel layer", kind)

    def _publish_json(self, topic: str, payload: dict[str, Any], qos: int, retain: bool = False) -> bool:
        ok = self.link.publish(topic, json.dumps(payload, separators=(",", ":")).encode(), qos=qos, retain=retain)
        if ok:
            self.runtime.counters.messages_out += 1
            self.runtime.last_activity_at = time.time()
        return ok

    def _unavailable(self) -> dict[str, Any] | None:
        """Why no request can go to the LLM right now (code, detail, retry_after), or None."""
        if not self._accepting:
            return {"code": contract.ERROR_SHUTDOWN, "detail": SHUTDOWN_DETAIL}
        if not self.link.connected:
            return {
                "code": contract.ERROR_UNAVAILABLE,
                "detail": "The chat service is not connected to the language model right now. Please try again.",
            }
        if self.llm_online() is False:
            return {
                "code": contract.ERROR_UNAVAILABLE,
                "retry_after": 10,
                "detail": "The language model is offline right now. Please try again in a moment.",
            }
        return None

    async def _on_chat_request(self, event: dict[str, Any]) -> None:
        now = time.monotonic()
        request_id = event["request_id"]
        if request_id in self.turns or request_id in self.recent:
            return  # the same request delivered twice: it is already on its way (or was answered)
        timeout = float(event["timeout"])
        turn = ChatTurn(
            request_id=request_id,
            session_key=event["session_key"],
            deadline=now + timeout,
            created_at=now,
            timeout=timeout,
            question=event.get("question") or {},
            reply_channel=event.get("reply_channel"),
            group=event.get("group"),
        )
        if float(event.get("accept_by", time.time())) < time.time():
            # Its sender already answered 503: publishing it now would be a ghost request.
            self.runtime.counters.dropped_stale += 1
            log.info("dropped request %s: queued past its accept deadline", request_id)
            return
        refusal = self._unavailable()
        if refusal is None and len(self.turns) >= self.config.pending_max:
            self.runtime.counters.refused_busy += 1
            refusal = {
                "code": contract.ERROR_BUSY,
                "detail": "Too many requests are waiting for the model. Please try again in a moment.",
            }
        elif refusal is None and not self.breaker.allow(now):
            refusal = {
                "code": contract.ERROR_UNAVAILABLE,
                "retry_after": self.breaker.retry_after(now),
                "detail": "The language model is not answering right now. Please try again shortly.",
            }
        if refusal is not None:
            if refusal["code"] != contract.ERROR_BUSY:
                self.runtime.counters.refused_unavailable += 1
            await self._deliver(turn, contract.error_event(request_id=request_id, **refusal))
            return
        position = self.queues.offer(turn.session_key, turn)
        if position is None:
            self.runtime.counters.refused_session_busy += 1
            await self._deliver(
                turn,
                contract.error_event(
                    request_id=request_id,
                    code=contract.ERROR_SESSION_BUSY,
                    retry_after=5,
                    detail=f"{self.config.session_queue_max} messages of this chat are already waiting for the model. "
                    "Please wait for their answers.",
                ),
            )
            return
        self.turns[request_id] = turn
        if position == 0:
            await self._start_turn(turn)
            return
        self.runtime.counters.queued += 1
        await self._deliver(
            turn,
            {"type": contract.CHAT_QUEUED, "request_id": request_id, "position": position, "worker": self.client_id},
        )

    async def _start_turn(self, turn: ChatTurn) -> None:
        """The session's turn is this request's: open it and store the question (the chat app), publish, announce.

        Another worker may hold an open request of this session (the web's choice of worker just moved): then this
        one waits, trying again every `turn_lock_retry` s until that request is answered or its holder is gone,
        or this one's own deadline passes."""
        question, gone = turn.question, ()
        while True:
            if (refusal := self._unavailable()) is not None:
                self.runtime.counters.refused_unavailable += 1
                await self._end_turn(turn, contract.error_event(request_id=turn.request_id, **refusal))
                return
            try:
                begun = await self.run_sync(
                    self.hooks.begin_chat_turn,
                    question=question,
                    request_id=turn.request_id,
                    holder=f"{self.client_id}|{self.token}",
                    # A streamed answer may go on past its timeout while it keeps coming.
                    hold_for=self.config.pending_max_age if self.config.stream else turn.timeout,
                    gone=gone,
                )
            except Exception:  # noqa: BLE001 - the request is refused with a clear 503 instead
                log.exception("could not store the question of request %s", turn.request_id)
                self.runtime.counters.refused_unavailable += 1
                await self._end_turn(
                    turn,
                    contract.error_event(
                        request_id=turn.request_id,
                        code=contract.ERROR_UNAVAILABLE,
                        retry_after=3,
                        detail="Your message could not be saved right now. Please try again.",
                    ),
                )
                return
            if begun is None or "busy" not in begun:
                break
            holder = begun["busy"]
            if await self._holder_gone(holder):
                gone = (holder,)  # its answer is lost: the chat app starts a new conversation with the model
            elif time.monotonic() >= turn.deadline or self.turns.get(turn.request_id) is not turn:
                await self._end_turn(turn, self._queue_timeout(turn))
                return
            else:
                await asyncio.sleep(self.config.turn_lock_retry)
        if self.turns.get(turn.request_id) is not turn:  # ended meanwhile (shutting down): never published
            if begun is not None:
                await self._cancel_question(turn)
            return
        if begun is None:
            await self._end_turn(
                turn,
                contract.error_event(
                    request_id=turn.request_id, code=contract.ERROR_GONE, detail="This chat session no longer exists."
                ),
            )
            return
        if begun.get("notice") is not None:
            self.runtime.counters.new_llm_conversations += 1
        payload = dict(begun["payload"])
        turn.llm_key = str(payload["sessionId"])
        payload.update(
            requestId=turn.request_id,
            clientId=self.client_id,
            replyTopic=reply_topic(self.config.response_base, turn.llm_key, self.client_id, turn.request_id),
        )
        if self.config.stream:
            payload["stream"] = True
        turn.deadline = time.monotonic() + turn.timeout
        self.pending.add(turn)
        if not self._publish_json(self.config.mqtt["TOPIC_USER_INPUT"], payload, qos=1):
            self.pending.pop(turn.request_id)
            await self._cancel_question(turn)  # nobody will answer it: it leaves no question behind
            self.runtime.counters.refused_unavailable += 1
            await self._end_turn(
                turn,
                contract.error_event(
                    request_id=turn.request_id,
                    code=contract.ERROR_UNAVAILABLE,
                    detail="The chat service lost its connection to the language model. Please try again.",
                ),
            )
            return
        try:
            await self._deliver(
                turn,
                {
                    "type": contract.CHAT_ACCEPTED,
                    "request_id": turn.request_id,
                    "worker": self.client_id,  # so the waiter can tell when this worker dies holding its request
                    "user_message": begun.get("user_message"),
                    "notice": begun.get("notice"),
                },
            )
        finally:
            turn.announced.set()

    async def _cancel_question(self, turn: ChatTurn) -> None:
        try:
            await self.run_sync(self.hooks.cancel_chat_turn, request_id=turn.request_id)
        except Exception:  # noqa: BLE001
            log.exception("could not undo the question of request %s", turn.request_id)

    def _queue_timeout(self, turn: ChatTurn) -> dict[str, Any]:
        self.runtime.counters.queue_timeouts += 1
        return contract.error_event(
            request_id=turn.request_id,
            code=contract.ERROR_TIMEOUT,
            detail="Your earlier messages in this chat took too long to be answered. Please try again.",
        )

    async def _end_turn(self, turn: ChatTurn, event: dict[str, Any] | None = None, *, start_next: bool = True) -> None:
        """The turn is over (answered, failed, timed out): tell its waiter (`event`), free its session's turn
        and start the session's next message. Safe to call twice."""
        if self.turns.get(turn.request_id) is not turn:
            return
        del self.turns[turn.request_id]
        self.pending.pop(turn.request_id)
        turn.announced.set()
        if turn.flush_handle is not None:
            turn.flush_handle.cancel()  # the final event replaces whatever was still to be relayed
            turn.flush_handle = None
        if not self.queues.withdraw(turn.session_key, turn):
            nxt = self.queues.finish(turn.session_key, turn)
        else:
            nxt = None
        if event is not None:
            await self._deliver(turn, event)
        if nxt is not None:
            if start_next:
                self._in_background(self._start_turn(nxt))
            else:
                await self._end_turn(nxt, _shutdown_error(nxt.request_id), start_next=False)

    async def _holder_gone(self, holder: str) -> bool:
        """Can the holder of a session's open request ("<client id>|<process token>|<request id>") no longer get
        its reply? Ours: when that request is no longer held here; another worker's: when no live worker has that
        client id and process token (killed, or restarted)."""
        client_id, _, rest = holder.partition("|")
        token, _, request_id = rest.partition("|")
        if client_id == self.client_id and token == self.token:
            return request_id not in self.pending
        try:
            states = await read_worker_states(self.redis)
        except Exception:  # noqa: BLE001 - cannot tell: wait, as if it were alive
            return False
        interval = self.config.heartbeat_interval
        return not any(
            s.get("client_id") == client_id and s.get("instance") == token and is_alive(s, interval) for s in states
        )

    # -- MQTT -> engine ----------------------------------------------------------------------------------
    async def _inbound_loop(self) -> None:
        while True:
            topic, payload, retained = await self._inbound.get()
            await self._spawn(self.handle_mqtt_message(topic, payload, retained))

    async def handle_mqtt_message(self, topic: str, payload: bytes, retained: bool = False) -> None:
        """One message from the broker: handled, or counted as malformed and skipped; never raises."""
        self.runtime.counters.messages_in += 1
        self.runtime.last_activity_at = time.time()
        try:
            await self._dispatch_mqtt(topic, payload, retained)
        except MalformedPayload as exc:
            self.runtime.counters.malformed += 1
            log.warning("skipped malformed message on %r: %s", topic[:200], exc)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad message must never stop the worker
            self.runtime.counters.malformed += 1
            log.exception("error handling a message on %r", topic[:200])

    async def _dispatch_mqtt(self, topic: str, payload: bytes, retained: bool) -> None:
        max_bytes = self.config.mqtt["MAX_PAYLOAD_BYTES"]
        kind = self._kind_of(topic)
        self.runtime.received_by_kind[kind] = self.runtime.received_by_kind.get(kind, 0) + 1
        if kind == "probe":
            self._on_probe_echo(payload)
        elif kind == "status":
            await self._on_llm_status(parse_status(payload, max_bytes), retained)
        elif kind == "stream":
            self._on_stream_chunk(topic, payload, max_bytes)
        elif kind == "reply":
            await self._on_chat_reply(topic, payload, max_bytes)
        elif kind == "hint":
            await self._on_hint(session_from_hint_topic(self.hint_topic, topic), parse_hint(payload, max_bytes))
        else:
            raise MalformedPayload("message on a topic the worker does not handle")

    def _kind_of(self, topic: str) -> str:
        if topic == self.probe_topic:
            return "probe"
        if topic in self.status_topics:
            return "status"
        if topic.startswith(self.config.response_base + "/"):
            return "stream" if parse_stream_topic(self.config.response_base, topic) is not None else "reply"
        if session_from_hint_topic(self.hint_topic, topic) is not None:
            return "hint"
        return "other"

    async def _on_hint(self, session_key: str, hint: dict[str, Any]) -> None:
        received_at = time.time()
        if self.hooks.store_hint is not None:
            if not await self.run_sync(self.hooks.store_hint, session_key=session_key, hint=hint):
                self.runtime.counters.hints_unknown += 1  # no such game: never relayed to anyone
                return
        self.runtime.counters.hints_delivered += 1
        await self.layer.group_send(
            contract.hint_group(session_key),
            {
                "type": contract.MAZE_HINT,
                "session_key": session_key,
                "hint": hint,
                "received_at": received_at,
                "hint_key": uuid.uuid4().hex,  # every socket of the game relays it; the play counts it once
            },
        )

    async def _on_llm_status(self, status, retained: bool) -> None:
        now = time.time()
        was = self.presence.online(now)
        if not self.presence.update(
            service=status.service,
            online=status.online,
            ts=status.ts,
            retained=retained,
            now=now,
            connected_since=self.runtime.connected_since,
        ):
            self.runtime.counters.status_ignored += 1
            return
        online = self.presence.online(now)
        if was != online:
            log.info(
                "LLM service %s: %s; the LLM is %s",
                status.service or "?",
                "online" if status.online else "offline",
                "online" if online else "offline",
            )
            self._in_background(self._heartbeat())
        if was is True and online is False:
            # The last instance left (its will): nothing in flight will be answered, so say so now.
            for turn in self.pending.all():
                self.recent.mark_abandoned(turn.request_id, turn.llm_key)
                await self._end_turn(
                    turn,
                    contract.error_event(
                        request_id=turn.request_id,
                        code=contract.ERROR_UNAVAILABLE,
                        retry_after=10,
                        detail="The language model went offline. Please try again in a moment.",
                    ),
                )

    async def _on_chat_reply(self, topic: str, payload: bytes, max_bytes: int) -> None:
        address = parse_reply_topic(self.config.response_base, topic)
        if address is None:
            raise MalformedPayload("reply topic has no usable session segment")
        if address.client_id is not None and address.client_id != self.client_id:
            self.runtime.counters.replies_foreign += 1  # another worker's request: it handles its reply
            return
        if address.request_id is not None:
            turn = self.pending.get(address.request_id)
        else:
            # The fallback topic names only the sessionId: the one request in flight under it owns the reply.
            turn = self.pending.for_llm_key(address.session_key)
        reply = parse_chat_reply(payload, max_bytes)
        if turn is None:
            await self._on_unawaited_reply(address, reply)
            return
        if not reply_session_consistent(address, turn.llm_key, reply.metadata.get("sessionId")):
            self._mismatched(address.request_id)  # the request keeps waiting for its real reply
            return
        self.pending.pop(turn.request_id)
        self.recent.mark_answered(turn.request_id, turn.llm_key)  # before the store: a second copy is a duplicate
        stored = await self._store_reply(turn.request_id, reply, turn.question.get("session_id"))
        await turn.announced.wait()  # the waiter hears "accepted" before the reply
        counters = self.runtime.counters
        counters.replies_delivered += 1
        if reply.malformed:
            counters.replies_unreadable += 1
            log.warning("reply to request %s unreadable (%s): delivered as an error", turn.request_id, reply.malformed)
        # Any reply, even one that cannot be shown, proves the model answers: never a failure for the breaker.
        self._breaker_changed(self.breaker.record_success())
        await self._end_turn(
            turn,
            {
                "type": contract.CHAT_REPLY,
                "request_id": turn.request_id,
                "is_error": reply.is_error,
                "raw_response": reply.text,
                "assistant_message": stored["message"] if stored else None,
            },
        )

    def _on_stream_chunk(self, topic: str, payload: bytes, max_bytes: int) -> None:
        """A chunk of a streamed answer: assembled in order and relayed soon, never stored (the final reply is)."""
        address = parse_stream_topic(self.config.response_base, topic)
        counters = self.runtime.counters
        if address.client_id != self.client_id:
            counters.replies_foreign += 1  # another worker's request
            return
        turn = self.pending.get(address.request_id)
        chunk = parse_stream_chunk(payload, max_bytes)
        if turn is None or chunk.request_id != address.request_id or address.session_key != turn.llm_key:
            counters.stream_chunks_dropped += 1  # finished, never ours, or contradicting its topic
            return
        if turn.stream is None:
            turn.stream = StreamAssembler()
        dropped_before = turn.stream.dropped
        grew = turn.stream.offer(chunk.seq, chunk.delta)
        counters.stream_chunks_dropped += turn.stream.dropped - dropped_before
        if not grew:
            return  # a duplicate, or early (held until the chunks before it come)
        counters.stream_chunks += 1
        # While the answer keeps coming it is not cut at its timeout; a stream that stalls still is.
        turn.deadline = max(turn.deadline, time.monotonic() + self.config.stream_idle_timeout)
        if turn.flush_handle is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, turn.last_flush + self.config.stream_flush_interval - loop.time())
            turn.flush_handle = loop.call_later(delay, self._flush_soon, turn)

    def _flush_soon(self, turn: ChatTurn) -> None:
        turn.flush_handle = None
        if self.pending.get(turn.request_id) is turn:
            turn.last_flush = asyncio.get_running_loop().time()
            self._in_background(self._relay_stream(turn))

    async def _relay_stream(self, turn: ChatTurn) -> None:
        await turn.announced.wait()  # the waiter hears "accepted" first
        offset, delta = turn.stream.unrelayed()
        if delta and self.pending.get(turn.request_id) is turn:
            self.runtime.counters.stream_deltas += 1
            await self._deliver(turn, contract.delta_event(request_id=turn.request_id, offset=offset, delta=delta))

    async def _on_stop(self, event: dict[str, Any]) -> None:
        """A user stopped the answer: what was streamed so far is the answer (stored, marked stopped), the LLM
        service is asked to stop, and the session's next message goes to a new conversation with the model
        (the service may still be writing this one)."""
        turn = self.turns.get(event.get("request_id"))
        if turn is None or turn.session_key != event.get("session_key"):
            return  # answered meanwhile, another worker's, or not this session's
        if self.queues.withdraw(turn.session_key, turn):
            self.turns.pop(turn.request_id, None)  # still in line: never sent, nothing to keep
            await self._deliver(
                turn, contract.error_event(request_id=turn.request_id, code=contract.ERROR_STOPPED, detail=STOPPED)
            )
            return
        if self.pending.pop(turn.request_id) is None:
            return  # not published yet (its turn is being opened): its reply will come as usual
        self.runtime.counters.stopped += 1
        self.recent.mark_answered(turn.request_id, turn.llm_key)  # a final reply that still comes is dropped
        self._publish_json(
            self.config.mqtt["TOPIC_CANCEL"],
            {"requestId": turn.request_id, "sessionId": turn.llm_key, "clientId": self.client_id},
            qos=1,
        )
        text = turn.stream.text if turn.stream is not None else ""
        stored = await self._store_reply(
            turn.request_id, ChatReply(text=text, metadata={"stopped": True}), turn.question.get("session_id")
        )
        await turn.announced.wait()
        await self._end_turn(
            turn,
            {
                "type": contract.CHAT_REPLY,
                "request_id": turn.request_id,
                "is_error": False,
                "stopped": True,
                "raw_response": text,
                "assistant_message": stored["message"] if stored else None,
            },
        )

    async def _on_unawaited_reply(self, address, reply: ChatReply) -> None:
        """A reply no request in flight waits for: late (its request timed out), a duplicate, or nobody's."""
        counters, request_id = self.runtime.counters, address.request_id
        if request_id is None:
            # The fallback topic with nothing in flight under that sessionId: never stored (no forged history).
            counters.replies_unmatched += 1
            log.info("dropped a reply on the fallback topic: no request of that session is in flight")
            return
        if self.recent.is_answered(request_id) or request_id in self.turns:
            counters.replies_duplicate += 1
            return
        if not reply_session_consistent(address, self.recent.session_of(request_id), reply.metadata.get("sessionId")):
            self._mismatched(request_id)
            return
        self.recent.mark_answered(request_id, address.session_key)
        stored = await self._store_reply(request_id, reply)
        if stored is None:
            counters.replies_unmatched += 1  # no such question (never stored, or its session was deleted)
        elif not stored["created"]:
            counters.replies_duplicate += 1  # stored by an earlier run of this worker
        else:
            counters.replies_late += 1
            log.info("stored a late reply for request %s", request_id)

    def _mismatched(self, request_id: str | None) -> None:
        self.runtime.counters.replies_mismatched += 1
        self.runtime.counters.malformed += 1
        # Never the reply's text: it may belong to someone else's conversation.
        log.warning("dropped a reply to request %s: its session does not match the request's", request_id)

    async def _store_reply(self, request_id: str, reply: ChatReply, session_id: int | None = None) -> dict | None:
        try:
            return await self.run_sync(
                self.hooks.store_chat_reply,
                request_id=request_id,
                text=reply.text,
                is_error=reply.is_error,
                metadata=reply.metadata,
                session_id=session_id,
            )
        except Exception:  # noqa: BLE001 - the user still gets the answer; the failure is logged loudly
            log.exception("could not store the reply to request %s", request_id)
            return None

    async def _deliver(self, turn: ChatTurn, event: dict[str, Any]) -> None:
        try:
            if turn.reply_channel:
                await self.layer.send(turn.reply_channel, event)
            if turn.group:
                await self.layer.group_send(turn.group, event)
        except Exception as exc:  # noqa: BLE001 - a gone waiter or a Redis blip must not stop the others
            log.warning("could not deliver %s for request %s: %s", event["type"], turn.request_id, exc)

    # -- housekeeping: deadlines, probe, heartbeat -------------------------------------------------------
    async def _housekeeping_loop(self) -> None:
        next_probe = next_heartbeat = time.monotonic()
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            now = time.monotonic()
            await self.expire(now)
            if now >= next_probe:
                next_probe = now + self.config.mqtt["PROBE_INTERVAL"]
                self._probe(now)
            elif self.runtime.probe.token and now - self.runtime.probe.sent_at > self.config.mqtt["PROBE_TIMEOUT"]:
                self._probe_failed(f"no echo within {self.config.mqtt['PROBE_TIMEOUT']:.1f} s")
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                await self._heartbeat()

    async def expire(self, now: float) -> None:
        """End the turns past their deadline: in flight (504, a failure for the breaker) or still in line."""
        expired = self.pending.expired(now, self.config.pending_max_age)
        if expired:
            log.info("%d request(s) got no reply by their deadline", len(expired))
        for turn in expired:
            self.runtime.counters.timeouts += 1
            self._breaker_changed(self.breaker.record_failure(now))
            self.recent.mark_abandoned(turn.request_id, turn.llm_key)
            await self._end_turn(
                turn,
                contract.error_event(
                    request_id=turn.request_id,
                    code=contract.ERROR_TIMEOUT,
                    detail="The model did not answer in time. Please try again.",
                ),
            )
        for turn in self.queues.waiting():
            if turn.deadline <= now:
                await self._end_turn(turn, self._queue_timeout(turn))

    def llm_online(self) -> bool | None:
        """True: an instance announced itself recently; False: none did (offline, or silent too long);
        None: not known yet."""
        return self.presence.online(time.time())

    def _breaker_changed(self, new_state: str | None) -> None:
        if new_state == OPEN:
            log.warning(
                "circuit breaker open: %d consecutive timeouts; refusing chat for %.0f s",
                self.breaker.consecutive_failures,
                self.breaker.cooldown,
            )
        elif new_state is not None:
            log.info("circuit breaker %s: the LLM service answers again", new_state)
        if new_state is not None:
            self._in_background(self._heartbeat())

    def _probe(self, now: float) -> None:
        """Publish a token on our own probe topic; the broker must bring it back within the deadline."""
        if not self.link.connected:
            return
        if self.runtime.probe.token:
            self._probe_failed("previous probe never came back")
            return
        token = uuid.uuid4().hex
        if self.link.publish(self.probe_topic, token.encode(), qos=0):
            self.runtime.probe.token, self.runtime.probe.sent_at = token, now

    def _on_probe_echo(self, payload: bytes) -> None:
        probe = self.runtime.probe
        if probe.token is None or payload.decode("ascii", "replace") != probe.token:
            return  # an echo of a probe we already gave up on
        probe.last_rtt_ms = (time.monotonic() - probe.sent_at) * 1000
        probe.last_ok_at = time.time()
        self._in_background(record_probe_rtt(self.redis, probe.last_rtt_ms))
        probe.token = None
        probe.consecutive_failures = 0

    def _probe_failed(self, reason: str) -> None:
        probe = self.runtime.probe
        probe.token = None
        probe.consecutive_failures += 1
        self.runtime.counters.probe_failures += 1
        log.warning("probe failed (%s): the link looks half-open", reason)
        self.link.force_reconnect("probe failed: " + reason)

    def snapshot(self) -> dict[str, Any]:
        rt, now = self.runtime, time.time()
        by_session: dict[str, int] = {}
        for turn in self.turns.values():
            by_session[turn.session_key] = by_session.get(turn.session_key, 0) + 1
        return {
            "client_id": self.client_id,
            "instance": self.token,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": rt.started_at,
            "heartbeat_at": now,
            "heartbeat_interval": self.config.heartbeat_interval,
            "accepting": self._accepting,
            "connected": self.link.connected,
            # How it reaches the broker (never the credentials): the status page warns about an anonymous broker.
            "broker_auth": bool(self.config.mqtt.get("USERNAME")),
            "broker_tls": bool(self.config.mqtt.get("TLS")),
            "connected_since": rt.connected_since,
            "last_disconnect_reason": rt.last_disconnect_reason,
            "last_activity_at": rt.last_activity_at,
            "reconnect_attempts": self.link.reconnect_attempts,
            "max_reconnect_attempts": self.config.mqtt["MAX_RECONNECT_ATTEMPTS"],
            "pending": len(self.turns),
            "in_flight": len(self.pending),
            "queued": len(self.turns) - len(self.pending),
            "pending_by_session": dict(sorted(by_session.items(), key=lambda kv: -kv[1])[:100]),
            "llm": self.presence.snapshot(now),
            "probe": {
                "last_rtt_ms": rt.probe.last_rtt_ms,
                "last_ok_at": rt.probe.last_ok_at,
                "consecutive_failures": rt.probe.consecutive_failures,
            },
            "breaker": {
                "state": self.breaker.state_at(time.monotonic()),
                "consecutive_failures": self.breaker.consecutive_failures,
                "retry_after": self.breaker.retry_after(time.monotonic()),
            },
            "counters": rt.counters.as_dict(),
            "received_by_kind": dict(rt.received_by_kind),
        }

    async def _heartbeat(self) -> None:
        """Renew the client id's lease, then publish this worker's state. A lease lost to another worker stops
        this one (exit code 3, for its supervisor to restart it): two workers with one client id would kick each
        other off the broker."""
        ttl = 3 * self.config.heartbeat_interval
        try:
            if self.lease is not None and self.exit_code != EXIT_LEASE_LOST:
                if await self.lease.renew() == RECLAIMED:
                    log.warning("the lease on client id %s had expired (Redis away?); claimed it again", self.client_id)
            if self.exit_code != EXIT_LEASE_LOST:
                await write_worker_state(self.redis, self.snapshot(), ttl=ttl)
        except LeaseLost as exc:
            log.error("%s: stopping (exit code %d) so the two do not fight over it", exc, EXIT_LEASE_LOST)
            self._accepting = False
            self.exit_code = EXIT_LEASE_LOST
        except Exception as exc:  # noqa: BLE001 - Redis down: web sees no live worker, which is the truth
            log.warning("heartbeat failed: %s", exc)
