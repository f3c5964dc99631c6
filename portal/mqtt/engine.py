"""The MQTT worker's engine: relays between the channel layer and the one MQTT connection.

Three asyncio tasks share one event loop with the MQTT link (portal/mqtt/client.py): the inbox (requests from web
processes), the MQTT inbound queue (messages the link received) and housekeeping (deadlines, probe, heartbeat).
The first two hand each message to a task of its own, so the database writes of messages arriving together share
one batch (portal.db.DbBatcher) instead of waiting for each other. Nothing here blocks the loop: database writes
run on the batcher's own thread, and the MQTT socket is non-blocking.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from portal.db import DbBatcher, PrerequisiteFailed

from . import contract
from .breaker import OPEN, CircuitBreaker
from .client import LinkConfig, MqttLink
from .pending import PendingRegistry, PendingRequest, RecentIds
from .payloads import ChatReply, MalformedPayload, parse_chat_reply, parse_hint, parse_status
from .shared_state import record_probe_rtt, remove_worker_state, write_worker_state
from .identity import release_lease, renew_lease
from .topics import (
    ReplyAddress, hint_base, parse_reply_topic, reply_session_consistent, reply_topic, session_from_hint_topic,
)

log = logging.getLogger("portal.mqtt.worker")

INBOUND_QUEUE_MAX = 10000
# Messages handled at once (each a task): their database writes then share batches (portal.db.DbBatcher).
HANDLERS_MAX = 500
_UNKEPT = object()  # a reply not stored because its question was not


def _question_store(request_id: str) -> str:
    """The name under which the store of a request's question records its outcome (DbBatcher `records`)."""
    return f"question:{request_id}"


@dataclass(frozen=True)
class EngineConfig:
    mqtt: dict[str, Any]
    heartbeat_interval: float
    pending_max: int
    pending_max_age: float
    chat_reply_store: Callable[..., dict | None]
    maze_hint_store: Callable[..., bool] | None = None
    # Stores the question of an accepted request; returns its JSON, None when its session is gone.
    chat_question_store: Callable[..., dict | None] | None = None
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    # The LLM service announces itself every 30 s; silence for this long counts as offline.
    llm_status_timeout: float = 90.0
    housekeeping_interval: float = 0.2

    @property
    def response_base(self) -> str:
        return self.mqtt["TOPIC_ASSISTANT_RESPONSE"].rstrip("/")


@dataclass
class Counters:
    messages_in: int = 0
    messages_out: int = 0
    malformed: int = 0
    replies_delivered: int = 0
    replies_late: int = 0
    replies_duplicate: int = 0
    replies_unkept: int = 0  # replies to requests refused after publishing: their question could not be stored
    replies_foreign: int = 0
    replies_mismatched: int = 0
    timeouts: int = 0
    refused_busy: int = 0
    refused_unavailable: int = 0
    dropped_stale: int = 0
    reconnects: int = 0
    probe_failures: int = 0
    inbound_dropped: int = 0
    hints_delivered: int = 0
    hints_unknown: int = 0

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
class LlmStatus:
    online: bool | None = None  # None: never heard of it
    service: str = ""
    last_seen: float | None = None  # wall clock of the last status message


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
    llm: LlmStatus = field(default_factory=LlmStatus)


class WorkerEngine:
    def __init__(self, *, config: EngineConfig, client_id: str, channel_layer, redis):
        self.config = config
        self.client_id = client_id
        self.layer = channel_layer
        self.redis = redis
        self.pending = PendingRegistry(config.pending_max)
        self.recent = RecentIds()
        self.runtime = WorkerRuntime()
        self.breaker = CircuitBreaker(config.breaker_threshold, config.breaker_cooldown)
        # The feature apps' database hooks, run in batches on the worker's one database thread, off the loop.
        self.db = DbBatcher()
        self._inbound: asyncio.Queue | None = None
        self._accepting = True
        self._handlers: set[asyncio.Task] = set()
        # request id -> its acceptance (the question's store, then "accepted" or the refusal to the waiter), while
        # it runs: a reply to it is stored only if the question was, and delivered only after it.
        self._questions: dict[str, asyncio.Task] = {}
        self._handler_slots: asyncio.Semaphore | None = None
        m = config.mqtt
        self.probe_topic = f"{m['TOPIC_PROBE'].rstrip('/')}/{client_id}"
        self.hint_topic = m["TOPIC_HINT"]
        self.status_topics = tuple(m["TOPIC_LLM_STATUS"])
        self.link = MqttLink(
            LinkConfig(
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
                    (f"{hint_base(self.hint_topic)}/+", 1),
                    (self.probe_topic, 0),
                    *((t, 1) for t in self.status_topics),
                ),
                reconnect_min_delay=m["RECONNECT_MIN_DELAY"],
                reconnect_max_delay=m["RECONNECT_MAX_DELAY"],
                max_reconnect_attempts=m["MAX_RECONNECT_ATTEMPTS"],
            ),
            on_message=self._enqueue_inbound,
            on_state=self._on_link_state,
        )

    # -- lifecycle ---------------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> int:
        """Serve until `stop` is set (exit code 0) or the reconnect limit is reached (exit code 1)."""
        self._inbound = asyncio.Queue(maxsize=INBOUND_QUEUE_MAX)
        self._handler_slots = asyncio.Semaphore(HANDLERS_MAX)
        tasks = [
            # First, and given a turn before the link starts: its SUBSCRIBE goes out before the worker can
            # report itself connected (which is when web processes start sending here).
            asyncio.create_task(self._inbox_loop(), name="inbox"),
            asyncio.create_task(self._inbound_loop(), name="mqtt-inbound"),
            asyncio.create_task(self._housekeeping_loop(), name="housekeeping"),
        ]
        await asyncio.sleep(0)
        self.link.start()
        await self._heartbeat()
        stopper = asyncio.create_task(stop.wait())
        while not stopper.done() and self.link.fatal_error is None:
            await asyncio.wait([stopper, *tasks], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception():
                    log.error("task %s died", task.get_name(), exc_info=task.exception())
        await self._shutdown(tasks, stopper)
        return 1 if self.link.fatal_error is not None else 0

    async def _shutdown(self, tasks: list[asyncio.Task], stopper: asyncio.Task) -> None:
        log.info("shutting down: answering %d waiting request(s)", len(self.pending))
        self._accepting = False
        stopper.cancel()
        tasks[0].cancel()  # stop taking new requests first
        await self._settle_handlers()
        for request in self.pending.pop_all():
            await self._deliver(
                request,
                contract.error_event(
                    request_id=request.request_id,
                    code=contract.ERROR_SHUTDOWN,
                    detail="The chat service is restarting. Please try again in a moment.",
                ),
            )
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.link.stop()
        await asyncio.to_thread(self.db.close)  # what is queued is written; then its thread ends
        try:
            await remove_worker_state(self.redis, self.client_id)
            await release_lease(self.redis, self.client_id)
        except Exception as exc:  # noqa: BLE001 - Redis may be the thing that is down
            log.warning("could not clear worker state: %s", exc)
        log.info("worker %s stopped", self.client_id)

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

    async def _settle_handlers(self, timeout: float = 5.0) -> None:
        """Let the messages being handled finish (briefly), then cancel the rest."""
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=timeout)
        for task in list(self._handlers):
            task.cancel()

    # -- link -> engine (called on the event loop; must not block) ----------------------------------------
    def _enqueue_inbound(self, topic: str, payload: bytes) -> None:
        try:
            self._inbound.put_nowait((topic, payload))
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
        asyncio.ensure_future(self._heartbeat())

    # -- web -> MQTT -------------------------------------------------------------------------------------
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
            await self._handle_web_event(event)
        except Exception:  # noqa: BLE001
            log.exception("error handling %s", event.get("type"))

    async def _handle_web_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == contract.CHAT_REQUEST:
            await self._handle_chat_request(event)
        elif kind == contract.CHAT_CANCEL:
            request = self.pending.pop(event["request_id"])
            if request is not None:
                # Its reply may still come: remember the id so that reply is stored as late, not re-matched.
                self.recent.mark_abandoned(request.request_id, request.session_key)
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

    async def _handle_chat_request(self, event: dict[str, Any]) -> None:
        now = time.time()
        request_id = event["request_id"]
        target = PendingRequest(
            request_id=request_id,
            session_key=event["session_key"],
            deadline=time.monotonic() + float(event["timeout"]),
            created_at=time.monotonic(),
            reply_channel=event.get("reply_channel"),
            group=event.get("group"),
        )
        if float(event.get("accept_by", now)) < now:
            # Its sender already answered 503 and rolled back: publishing it now would be a ghost request.
            self.runtime.counters.dropped_stale += 1
            log.info("dropped request %s: queued past its accept deadline", request_id)
            return
        if not self._accepting or not self.link.connected:
            self.runtime.counters.refused_unavailable += 1
            await self._deliver(target, contract.error_event(
                request_id=request_id, code=contract.ERROR_UNAVAILABLE,
                detail="The chat service is not connected to the language model right now. Please try again."))
            return
        if self.llm_online() is False:
            self.runtime.counters.refused_unavailable += 1
            await self._deliver(target, contract.error_event(
                request_id=request_id, code=contract.ERROR_UNAVAILABLE,
                detail="The language model is offline right now. Please try again in a moment.", retry_after=10))
            return
        if not self.breaker.allow(time.monotonic()):
            self.runtime.counters.refused_unavailable += 1
            await self._deliver(target, contract.error_event(
                request_id=request_id, code=contract.ERROR_UNAVAILABLE,
                detail="The language model is not answering right now. Please try again shortly.",
                retry_after=self.breaker.retry_after(time.monotonic())))
            return
        if not self.pending.add(target):
            if request_id in self.pending:
                return  # the same request delivered twice: it is already on its way
            self.runtime.counters.refused_busy += 1
            await self._deliver(target, contract.error_event(
                request_id=request_id, code=contract.ERROR_BUSY,
                detail="Too many requests are waiting for the model. Please try again in a moment."))
            return
        payload = dict(event["payload"])
        payload.update(
            requestId=request_id,
            clientId=self.client_id,
            replyTopic=reply_topic(self.config.response_base, target.session_key, self.client_id, request_id),
        )
        # Published before its question is stored: the model works while the question is written, which takes
        # that write (a hop to the database thread and a commit) off every reply's path.
        # The question's store is queued at once, so a reply's store, queued when the reply comes, runs after it
        # and only if it succeeded (portal.db.DbBatcher `requires`): a reply is never kept without its question,
        # nor stored before it.
        if not self._publish_json(self.config.mqtt["TOPIC_USER_INPUT"], payload, qos=1):
            self.pending.pop(request_id)
            self.runtime.counters.refused_unavailable += 1
            await self._deliver(target, contract.error_event(
                request_id=request_id, code=contract.ERROR_UNAVAILABLE,
                detail="The chat service lost its connection to the language model. Please try again."))
            return  # nothing was stored: a request nobody accepted leaves nothing behind
        question = event.get("question")
        stored = None
        if question and self.config.chat_question_store is not None:
            try:
                stored = self.db.submit(self.config.chat_question_store, lock_order=target.session_key,
                                        records=_question_store(request_id), session_id=int(question["session_id"]),
                                        content=str(question["content"]), request_id=request_id)
            except Exception as exc:  # noqa: BLE001 - a malformed question: refused like a failed store
                stored = asyncio.get_running_loop().create_future()
                stored.set_exception(exc)
        accepting = self._questions[request_id] = asyncio.create_task(self._accept(target, stored))
        accepting.add_done_callback(lambda _: self._questions.pop(request_id, None))
        await asyncio.shield(accepting)

    async def _accept(self, target: PendingRequest, stored: asyncio.Future | None) -> None:
        """Once the question is stored, tell the waiter its request is accepted (or refused: see _question)."""
        user_message, refusal = await self._question(stored, target.request_id, target.session_key)
        if refusal is not None:
            self.pending.pop(target.request_id)
            await self._deliver(target, refusal)
            return
        target.extra["user_message"] = user_message
        await self._deliver(target, {
            "type": contract.CHAT_ACCEPTED,
            "request_id": target.request_id,
            "worker": self.client_id,  # so the waiter can tell when this worker dies holding its request
            "user_message": user_message,
        })

    async def _question(
        self, stored: asyncio.Future | None, request_id: str, session_key: str
    ) -> tuple[dict | None, dict | None]:
        """The stored user's message of a request being accepted: (its JSON, None), or (None, the error event
        that refuses the request) when its session is gone or the database failed.

        The worker, not the web process, writes it: then every chat write happens on this one database thread
        (no two writers waiting for each other's lock), and a request nobody accepted has stored nothing. A refused
        request is marked so in `recent`, so its reply, which the model is already working on, is never kept.
        """
        if stored is None:
            return None, None
        try:
            message = await stored
        except Exception:  # noqa: BLE001 - the request is refused with a clear 503 instead
            log.exception("could not store the question of request %s", request_id)
            self.runtime.counters.refused_unavailable += 1
            refusal = contract.error_event(
                request_id=request_id, code=contract.ERROR_UNAVAILABLE, retry_after=3,
                detail="Your message could not be saved right now. Please try again.")
        else:
            if message is not None:
                return message, None
            refusal = contract.error_event(
                request_id=request_id, code=contract.ERROR_GONE, detail="This chat session no longer exists.")
        # Marked before the acceptance ends, so a reply to it that comes later is dropped without a store.
        self.recent.mark_refused(request_id, session_key)
        return None, refusal

    # -- MQTT -> web -------------------------------------------------------------------------------------
    async def _inbound_loop(self) -> None:
        while True:
            topic, payload = await self._inbound.get()
            await self._spawn(self._process_inbound(topic, payload))

    async def _process_inbound(self, topic: str, payload: bytes) -> None:
        """One message from the broker: handled, or counted as malformed and skipped; never raises."""
        self.runtime.counters.messages_in += 1
        self.runtime.last_activity_at = time.time()
        try:
            await self._handle_mqtt_message(topic, payload)
        except MalformedPayload as exc:
            self.runtime.counters.malformed += 1
            log.warning("skipped malformed message on %r: %s", topic[:200], exc)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one bad message must never stop the worker
            self.runtime.counters.malformed += 1
            log.exception("error handling a message on %r", topic[:200])

    async def _handle_mqtt_message(self, topic: str, payload: bytes) -> None:
        max_bytes = self.config.mqtt["MAX_PAYLOAD_BYTES"]
        kind = self._kind_of(topic)
        self.runtime.received_by_kind[kind] = self.runtime.received_by_kind.get(kind, 0) + 1
        if topic == self.probe_topic:
            self._on_probe_echo(payload)
        elif topic in self.status_topics:
            await self._on_llm_status(parse_status(payload, max_bytes))
        elif topic.startswith(self.config.response_base + "/"):
            await self._handle_chat_reply(topic, payload, max_bytes)
        elif (session_key := session_from_hint_topic(self.hint_topic, topic)) is not None:
            await self._handle_hint(session_key, parse_hint(payload, max_bytes))
        else:
            raise MalformedPayload("message on a topic the worker does not handle")

    def _kind_of(self, topic: str) -> str:
        if topic == self.probe_topic:
            return "probe"
        if topic in self.status_topics:
            return "status"
        if topic.startswith(self.config.response_base + "/"):
            return "reply"
        if session_from_hint_topic(self.hint_topic, topic) is not None:
            return "hint"
        return "other"

    async def _handle_hint(self, session_key: str, hint: dict[str, Any]) -> None:
        received_at = time.time()
        if self.config.maze_hint_store is not None:
            if not await self.db.call(self.config.maze_hint_store, lock_order=session_key, session_key=session_key,
                                      hint=hint):
                self.runtime.counters.hints_unknown += 1  # no such game: never relayed to anyone
                return
        self.runtime.counters.hints_delivered += 1
        await self.layer.group_send(contract.hint_group(session_key), {
            "type": contract.MAZE_HINT, "session_key": session_key, "hint": hint, "received_at": received_at,
        })

    async def _on_llm_status(self, status) -> None:
        llm = self.runtime.llm
        went_offline = llm.online is not False and not status.online
        if llm.online != status.online:
            log.info("LLM service %s is %s", status.service or "?", "online" if status.online else "offline")
        llm.online, llm.service, llm.last_seen = status.online, status.service, time.time()
        if went_offline:
            # Its last will: nothing waiting will be answered, so say so now instead of at each deadline.
            for request in self.pending.pop_all():
                self.recent.mark_abandoned(request.request_id, request.session_key)
                await self._deliver(request, contract.error_event(
                    request_id=request.request_id, code=contract.ERROR_UNAVAILABLE,
                    detail="The language model went offline. Please try again in a moment.", retry_after=10))
            asyncio.ensure_future(self._heartbeat())

    async def _handle_chat_reply(self, topic: str, payload: bytes, max_bytes: int) -> None:
        address = parse_reply_topic(self.config.response_base, topic)
        if address is None:
            raise MalformedPayload("reply topic has no usable session segment")
        if address.client_id is not None and address.client_id != self.client_id:
            self.runtime.counters.replies_foreign += 1  # another worker's request: it handles its reply
            return
        reply = parse_chat_reply(payload, max_bytes)
        if not self._reply_session_matches(address, reply):
            return
        if address.request_id is not None:
            request = self.pending.pop(address.request_id)
            if request is None and self.recent.is_answered(address.request_id):
                self.runtime.counters.replies_duplicate += 1
                return
        else:
            # The fallback topic carries no request id: the oldest waiting request of the session owns it.
            request = self.pending.pop_oldest_for_session(address.session_key)
        request_id = request.request_id if request else address.request_id
        if request_id:
            # Before the store is awaited: a second copy of this reply arriving meanwhile is then a duplicate.
            self.recent.mark_answered(request_id, request.session_key if request else address.session_key)
        accepting = self._questions.get(request_id) if request_id else None
        if request_id and self.recent.is_refused(request_id):
            # Its question could not be stored (the request's handler told its waiter): not kept without it.
            self.runtime.counters.replies_unkept += 1
            return
        # Still being accepted: its question's store is queued or running, and this store runs after it, only if
        # it succeeded -- on time or late.
        stored = await self._store_reply(address.session_key, request_id, reply,
                                         after_question=accepting is not None)
        if accepting is not None:
            await asyncio.shield(accepting)  # the waiter hears "accepted" (or the refusal) before the reply
        if stored is _UNKEPT or (request_id and self.recent.is_refused(request_id)):
            self.runtime.counters.replies_unkept += 1
            return
        if request is None:
            self.runtime.counters.replies_late += 1
            log.info("stored a late reply for request %s", request_id or "(none)")
            return
        if stored is not None and not stored["created"]:
            self.runtime.counters.replies_duplicate += 1  # stored by an earlier run: delivered back then
            return
        self.runtime.counters.replies_delivered += 1
        self._breaker_changed(self.breaker.record_success())
        await self._deliver(request, {
            "type": contract.CHAT_REPLY,
            "request_id": request.request_id,
            "is_error": reply.is_error,
            "raw_response": reply.text,
            "assistant_message": stored["message"] if stored else None,
            "user_message": request.extra.get("user_message"),
        })

    def _reply_session_matches(self, address: ReplyAddress, reply: ChatReply) -> bool:
        """Drop a reply whose session contradicts its request's (checked before the waiter is popped, so the
        request keeps waiting for its real reply); the request's session is known while it waits and for a
        while after it was abandoned."""
        expected = None
        if address.request_id is not None:
            expected = self.pending.session_of(address.request_id) or self.recent.session_of(address.request_id)
        if reply_session_consistent(address, expected, reply.metadata.get("sessionId")):
            return True
        self.runtime.counters.replies_mismatched += 1
        self.runtime.counters.malformed += 1
        # Never the reply's text: it may belong to someone else's conversation.
        log.warning("dropped a reply to request %s: its session does not match the request's", address.request_id)
        return False

    async def _store_reply(self, session_key: str, request_id: str | None, reply, after_question: bool):
        """The stored reply's JSON; None when it could not be stored; _UNKEPT when its question was not stored."""
        try:
            return await self.db.call(
                self.config.chat_reply_store, lock_order=session_key,
                requires=_question_store(request_id) if after_question else None, session_key=session_key,
                request_id=request_id or "",
                text=reply.text, is_error=reply.is_error, metadata=reply.metadata,
            )
        except PrerequisiteFailed:
            return _UNKEPT
        except Exception:  # noqa: BLE001 - the user still gets the answer; the failure is logged loudly
            log.exception("could not store the reply to request %s", request_id)
            return None

    async def _deliver(self, request: PendingRequest, event: dict[str, Any]) -> None:
        try:
            if request.reply_channel:
                await self.layer.send(request.reply_channel, event)
            if request.group:
                await self.layer.group_send(request.group, event)
        except Exception as exc:  # noqa: BLE001 - a gone waiter or a Redis blip must not stop the others
            log.warning("could not deliver %s for request %s: %s", event["type"], request.request_id, exc)

    # -- housekeeping: deadlines, probe, heartbeat -------------------------------------------------------
    async def _housekeeping_loop(self) -> None:
        next_probe = next_heartbeat = time.monotonic()
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            now = time.monotonic()
            await self._expire_pending(now)
            if now >= next_probe:
                next_probe = now + self.config.mqtt["PROBE_INTERVAL"]
                self._probe(now)
            elif self.runtime.probe.token and now - self.runtime.probe.sent_at > self.config.mqtt["PROBE_TIMEOUT"]:
                self._probe_failed("no echo within %.1f s" % self.config.mqtt["PROBE_TIMEOUT"])
            if now >= next_heartbeat:
                next_heartbeat = now + self.config.heartbeat_interval
                await self._heartbeat()

    async def _expire_pending(self, now: float) -> None:
        expired = self.pending.pop_expired(now, self.config.pending_max_age)
        if expired:
            log.info("swept %d request(s) past their deadline", len(expired))
        for request in expired:
            self.runtime.counters.timeouts += 1
            self._breaker_changed(self.breaker.record_failure(time.monotonic()))
            self.recent.mark_abandoned(request.request_id, request.session_key)
            await self._deliver(request, contract.error_event(
                request_id=request.request_id, code=contract.ERROR_TIMEOUT,
                detail="The model did not answer in time. Please try again."))

    def llm_online(self) -> bool | None:
        """True: announced itself recently; False: said offline (its will) or went silent; None: not known yet."""
        llm, now, timeout = self.runtime.llm, time.time(), self.config.llm_status_timeout
        if llm.online is None:
            return None if now - self.runtime.started_at < timeout else False
        return llm.online and now - llm.last_seen <= timeout

    def _breaker_changed(self, new_state: str | None) -> None:
        if new_state == OPEN:
            log.warning("circuit breaker open: %d consecutive timeouts; refusing chat for %.0f s",
                        self.breaker.consecutive_failures, self.breaker.cooldown)
        elif new_state is not None:
            log.info("circuit breaker %s: the LLM service answers again", new_state)
        if new_state is not None:
            asyncio.ensure_future(self._heartbeat())

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
        asyncio.ensure_future(record_probe_rtt(self.redis, probe.last_rtt_ms))
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
        rt = self.runtime
        by_session = self.pending.count_by_session()
        return {
            "client_id": self.client_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": rt.started_at,
            "heartbeat_at": time.time(),
            "heartbeat_interval": self.config.heartbeat_interval,
            "connected": self.link.connected,
            "connected_since": rt.connected_since,
            "last_disconnect_reason": rt.last_disconnect_reason,
            "last_activity_at": rt.last_activity_at,
            "reconnect_attempts": self.link.reconnect_attempts,
            "max_reconnect_attempts": self.config.mqtt["MAX_RECONNECT_ATTEMPTS"],
            "pending": len(self.pending),
            "pending_by_session": dict(sorted(by_session.items(), key=lambda kv: -kv[1])[:100]),
            "llm": {"online": self.llm_online(), "service": rt.llm.service, "last_seen": rt.llm.last_seen},
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
        ttl = 3 * self.config.heartbeat_interval
        try:
            await write_worker_state(self.redis, self.snapshot(), ttl=ttl)
            if not await renew_lease(self.redis, self.client_id, ttl=max(ttl, 10.0)):
                log.error("another worker took client id %s", self.client_id)
        except Exception as exc:  # noqa: BLE001 - Redis down: web sees no live worker, which is the truth
            log.warning("heartbeat failed: %s", exc)
