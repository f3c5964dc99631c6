"""The web side of the message contract: what views and consumers call to reach the MQTT worker.

No paho here: requests go to a worker over the channel layer, and which workers can take them is read from the
state the workers share in Redis (cached for a moment so a burst of requests costs one read). A chat session's
requests all go to one worker (rendezvous hashing over the workers that can take them), which answers them one at
a time in order (portal/mqtt/turns.py); other messages go to the workers in turn. A worker that let a request go
unacknowledged is passed over until it proves alive again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from . import contract
from .shared_state import is_alive, read_worker_states, redis_client

log = logging.getLogger("portal.mqtt.gateway")

STATUS_CACHE_SECONDS = 0.5
# The worker acknowledges a request within this time or the request is answered 503 (worker gone).
ACCEPT_GRACE = 0.25  # extra wait past the accept deadline, so a just-in-time acceptance is never missed


@dataclass(frozen=True)
class Availability:
    ok: bool
    detail: str = ""
    retry_after: int = 0
    workers: tuple[str, ...] = ()  # client ids of the workers that can take a request now


_rotation = itertools.count()
# client id -> time.monotonic() until which it is passed over (it did not acknowledge a request in time).
_suspects: dict[str, float] = {}


# Per event loop: (valid until, states) and the one read in flight, so a burst of requests costs one Redis read.
_status_cache: dict[int, tuple[float, list[dict[str, Any]] | None]] = {}
_status_reads: dict[int, asyncio.Task] = {}
# Per event loop: (read at, states) of the last read that worked, served while Redis is slow for a moment.
_last_good: dict[int, tuple[float, list[dict[str, Any]]]] = {}
STALE_STATUS_SECONDS = 3.0
WORKER_CHECK_INTERVAL = 1.0  # while waiting, how often to check that the worker holding the request lives
# Before the worker acknowledges: checked this often, so a request sent to a worker that just stopped is answered
# within a second instead of at the accept deadline.
ACCEPT_CHECK_INTERVAL = 0.25
# How long this process stays subscribed to a session's group after its last waiting request ended. A user's next
# message on the same session then goes out at once instead of after a SUBSCRIBE round trip to Redis; meanwhile
# the group's events reach this process and are ignored.
GROUP_LINGER_SECONDS = 30.0


def _evaluate(states: list[dict[str, Any]]) -> Availability:
    interval = settings.WORKER["HEARTBEAT_INTERVAL"]
    alive = [s for s in states if is_alive(s, interval) and s.get("accepting", True)]
    if not alive:
        return Availability(False, "No chat worker is running. Please try again in a moment.", 5)
    if not any(s.get("connected") for s in alive):
        return Availability(False, "The chat service is reconnecting to the message broker. Please try again.", 3)
    connected = [s for s in alive if s.get("connected")]
    if all(s.get("llm", {}).get("online") is False for s in connected):
        return Availability(False, "The language model is offline right now. Please try again in a moment.", 10)
    if all(s.get("breaker", {}).get("state") == "open" for s in connected):
        retry = min(int(s["breaker"].get("retry_after", 10)) for s in connected)
        return Availability(False, "The language model is not answering right now. Please try again shortly.", retry)
    usable = [
        s
        for s in connected
        if s.get("llm", {}).get("online") is not False and s.get("breaker", {}).get("state") != "open"
    ]
    return Availability(True, workers=tuple(sorted(s["client_id"] for s in usable or connected)))


def choose_worker(workers: tuple[str, ...], key: str | None = None) -> str | None:
    """The worker for `key` (every web process picks the same one while they see the same workers), or the next
    in turn without a key; suspects are skipped unless nobody else is left."""
    now = time.monotonic()
    candidates = [w for w in workers if _suspects.get(w, 0.0) <= now] or list(workers)
    if not candidates:
        return None
    if key is not None:
        # Rendezvous hashing: when a worker comes or goes, only the sessions it had (or gets) move.
        return max(candidates, key=lambda w: hashlib.blake2b(f"{w}\n{key}".encode(), digest_size=8).digest())
    return candidates[next(_rotation) % len(candidates)]


def suspect(worker: str) -> None:
    """Pass this worker over until its state could have shown it dead (three heartbeats)."""
    _suspects[worker] = time.monotonic() + 3 * settings.WORKER["HEARTBEAT_INTERVAL"]


async def _worker_states() -> list[dict[str, Any]] | None:
    """The workers' shared state, read at most every STATUS_CACHE_SECONDS per process; None if Redis is down.

    Callers arriving while a read is in flight share it (hundreds of sockets asking at once cost one read). A
    failed read serves the last good state if it is younger than STALE_STATUS_SECONDS: a Redis that answers late
    under load must not turn requests into 503s; one that is really gone does so within seconds.
    """
    loop = asyncio.get_running_loop()
    cached = _status_cache.get(id(loop))
    if cached and cached[0] > loop.time():
        return cached[1]
    read = _status_reads.get(id(loop))
    if read is None or read.done():
        read = _status_reads[id(loop)] = loop.create_task(_read_states(loop))
    return await asyncio.shield(read)


async def _read_states(loop) -> list[dict[str, Any]] | None:
    try:
        states = await read_worker_states(redis_client(settings.REDIS_URL))
        _last_good[id(loop)] = (loop.time(), states)
    except Exception as exc:  # noqa: BLE001 - Redis down means no worker can be reached either
        last = _last_good.get(id(loop))
        states = last[1] if last and loop.time() - last[0] < STALE_STATUS_SECONDS else None
        log.warning("cannot read worker state (%s)%s", exc, "; using the last one read" if states is not None else "")
    _status_cache[id(loop)] = (loop.time() + STATUS_CACHE_SECONDS, states)
    return states


async def worker_availability() -> Availability:
    """Whether some live worker is connected to the broker (and the LLM service is not known offline)."""
    if not settings.REDIS_URL:
        return Availability(False, "The chat service is not set up to reach the language model.", 5)
    states = await _worker_states()
    if states is None:
        return Availability(False, "The chat service cannot reach its message bus. Please try again.", 3)
    return _evaluate(states)


async def worker_alive(client_id: str, *, accepting: bool = False) -> bool:
    """Is this worker alive (and, with `accepting`, still taking new requests)?"""
    states = await _worker_states()
    if states is None:
        return True  # cannot tell: keep waiting until the request's own deadline
    interval = settings.WORKER["HEARTBEAT_INTERVAL"]
    return any(
        s.get("client_id") == client_id and is_alive(s, interval) and (s.get("accepting", True) or not accepting)
        for s in states
    )


@dataclass(frozen=True)
class ChatOutcome:
    """The final event for a request: `chat.reply` or `chat.error` (with a contract error code)."""

    event: dict[str, Any]
    accepted: bool
    user_message: dict[str, Any] | None = None  # the question as the worker stored it on the request's turn
    notice: dict[str, Any] | None = (
        None  # the history's "new conversation with the model" marker, if this turn began one
    )


async def request_chat(
    *,
    request_id: str,
    session_key: str,
    question: dict[str, Any],
    timeout: float,
    group: str | None = None,
    on_progress: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> ChatOutcome:
    """Send one chat request to the session's worker and wait for its outcome; never waits longer than the
    worker may hold it (in line: `timeout`; then for its reply: `timeout`) plus a second."""
    availability = await worker_availability()
    worker = choose_worker(availability.workers, session_key) if availability.ok else None
    if worker is None:
        return ChatOutcome(
            contract.error_event(
                request_id=request_id,
                code=contract.ERROR_UNAVAILABLE,
                detail=availability.detail or "No chat worker can take the request. Please try again.",
                retry_after=availability.retry_after or 2,
            ),
            accepted=False,
        )
    layer = get_channel_layer()
    dispatcher = _dispatcher(layer)
    reply_channel = await dispatcher.channel()
    inbox = dispatcher.register(request_id)
    worker_channel = contract.worker_channel(worker)
    joined = None
    try:
        try:
            if group:
                # The worker publishes each event once, to the group (whose sockets show it), and the
                # dispatcher listens there while the request waits: one message per event, not one per listener.
                await dispatcher.join(group)
                joined = group
            await layer.send(
                worker_channel,
                contract.chat_request_event(
                    request_id=request_id,
                    session_key=session_key,
                    question=question,
                    timeout=timeout,
                    accept_by=time.time() + settings.CHAT_ACCEPT_TIMEOUT,
                    reply_channel=None if group else reply_channel,
                    group=group,
                ),
            )
        except Exception as exc:  # noqa: BLE001 - Redis down: a clear 503, never a 500
            log.warning("could not queue chat request %s: %s", request_id, exc)
            return ChatOutcome(
                contract.error_event(
                    request_id=request_id,
                    code=contract.ERROR_UNAVAILABLE,
                    detail="The chat service is overloaded or unreachable. Please try again.",
                ),
                accepted=False,
            )
        try:
            return await _await_outcome(inbox, request_id, timeout, on_progress, worker)
        except asyncio.CancelledError:
            # The client went away: tell the worker, so a request still in line is dropped now.
            asyncio.ensure_future(_send_quietly(layer, worker_channel, contract.cancel_event(request_id=request_id)))
            raise
    finally:
        dispatcher.unregister(request_id, joined)


class ReplyDispatcher:
    """One reply channel per web process, read by one long-lived task that hands each event to its waiter.

    Why not a channel per request: channels-redis can lose a message that is in flight when a receive is
    cancelled, and a waiter that gives up (deadline, dead worker, client gone) would have to cancel its receive.
    Waiters here wait on an asyncio.Queue, which is safe to abandon.
    """

    def __init__(self, layer, linger: float | None = None):
        self.layer = layer
        self.linger = GROUP_LINGER_SECONDS if linger is None else linger
        self.name: str | None = None
        self.waiters: dict[str, asyncio.Queue] = {}
        self._task: asyncio.Task | None = None
        self._naming = asyncio.Lock()
        # Groups this channel listens to: how many waiting requests need each, and the group_add of each (shared
        # by every request that joins while it is in flight, so none sends before the subscription is).
        self._group_users: collections.Counter[str] = collections.Counter()
        self._group_joins: dict[str, asyncio.Future] = {}
        self._leave_timers: dict[str, asyncio.TimerHandle] = {}  # groups no request needs, until they are left
        self._leaving: set[asyncio.Task] = set()

    async def channel(self) -> str:
        if self.name is None:
            async with self._naming:  # new_channel() awaits its SUBSCRIBE: the first requests arrive together
                if self.name is None:
                    self.name = await self.layer.new_channel()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._read_forever())
        return self.name

    def register(self, request_id: str) -> asyncio.Queue:
        self.waiters[request_id] = queue = asyncio.Queue()
        return queue

    def unregister(self, request_id: str, group: str | None = None) -> None:
        """The request's waiter is gone; pass the group it joined, if it did (see join)."""
        self.waiters.pop(request_id, None)
        if group is not None:
            self._release(group)

    async def join(self, group: str) -> None:
        """Also receive the group's events until the request that joined is unregistered (and `linger` s more)."""
        self._group_users[group] += 1
        timer = self._leave_timers.pop(group, None)
        if timer is not None:
            timer.cancel()  # still subscribed: no round trip
        joining = self._group_joins.get(group)
        if joining is None or (joining.done() and (joining.cancelled() or joining.exception() is not None)):
            joining = self._group_joins[group] = asyncio.ensure_future(self.layer.group_add(group, self.name))
        try:
            await asyncio.shield(joining)
        except BaseException:
            self._release(group)
            raise

    def _release(self, group: str) -> None:
        self._group_users[group] -= 1
        if self._group_users[group] <= 0:
            del self._group_users[group]
            # No timer is pending here: join() cancels it, and the group had users since.
            self._leave_timers[group] = asyncio.get_running_loop().call_later(self.linger, self._leave, group)

    def _leave(self, group: str) -> None:
        self._leave_timers.pop(group, None)
        if group in self._group_users:
            return
        self._group_joins.pop(group, None)
        leaving = asyncio.ensure_future(self._leave_if_unused(group))
        self._leaving.add(leaving)  # a reference, so the task is not collected before it runs
        leaving.add_done_callback(self._leaving.discard)

    async def _leave_if_unused(self, group: str) -> None:
        # Scheduled, not awaited by the request (which may be cancelled); a request joining meanwhile keeps it.
        if group in self._group_users:
            return
        try:
            await self.layer.group_discard(group, self.name)
        except Exception as exc:  # noqa: BLE001 - at worst this process gets a few events it ignores
            log.warning("could not leave %s: %s", group, exc)

    async def _read_forever(self) -> None:
        failures = 0
        while True:
            try:
                event = await self.layer.receive(self.name)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a Redis restart must not end reply delivery
                failures += 1
                log.warning("reply channel receive failed (%s); retrying", exc)
                await asyncio.sleep(min(0.2 * failures, 2.0))
                continue
            waiter = self.waiters.get(_waiter_key(event))
            if waiter is not None:
                waiter.put_nowait(event)


def _waiter_key(event: dict[str, Any]) -> Any:
    # Chat events name their request; a maze hint names only its session, which is what a template try (whose
    # `try-` session nothing else uses, maze/trial.py) waits on.
    return event.get("request_id") or event.get("session_key")


_dispatchers: dict[int, ReplyDispatcher] = {}


def _dispatcher(layer) -> ReplyDispatcher:
    key = id(asyncio.get_running_loop())
    dispatcher = _dispatchers.get(key)
    if dispatcher is None or dispatcher.layer is not layer:
        dispatcher = _dispatchers[key] = ReplyDispatcher(layer)
    return dispatcher


@contextlib.asynccontextmanager
async def group_events(group: str, key: str) -> AsyncIterator[asyncio.Queue]:
    """While inside: the events of `group` that name `key` (as their request_id or session_key), in a queue that is
    safe to abandon. Through this process's one reply channel, so nothing is left subscribed per waiter."""
    dispatcher = _dispatcher(get_channel_layer())
    await dispatcher.channel()
    inbox = dispatcher.register(key)
    joined = None
    try:
        await dispatcher.join(group)
        joined = group
        yield inbox
    finally:
        dispatcher.unregister(key, joined)


async def _send_quietly(layer, channel: str, event: dict[str, Any]) -> None:
    try:
        await layer.send(channel, event)
    except Exception as exc:  # noqa: BLE001 - best effort: the deadline sweeps it anyway
        log.debug("could not send %s: %s", event["type"], exc)


async def _await_outcome(inbox: asyncio.Queue, request_id, timeout, on_progress, worker) -> ChatOutcome:
    """Wait for the worker's events: until it acknowledges, briefly (a dead worker must not cost the user 45 s);
    while the request waits its turn, at most `timeout`; once published, `timeout` for the reply. Throughout, the
    worker holding it is checked to be alive, so its death is answered at once rather than at the deadline."""
    loop = asyncio.get_running_loop()
    phase, user_message, notice = "sent", None, None
    until = loop.time() + settings.CHAT_ACCEPT_TIMEOUT + ACCEPT_GRACE
    while True:
        check = ACCEPT_CHECK_INTERVAL if phase == "sent" else WORKER_CHECK_INTERVAL
        remaining = until - loop.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            event = await asyncio.wait_for(inbox.get(), min(remaining, check))
        except TimeoutError:
            if loop.time() < until:
                if not await worker_alive(worker, accepting=phase == "sent"):
                    if phase == "sent":
                        suspect(worker)
                        detail = "The chat worker stopped before it took your message. Please try again."
                    else:
                        detail = "The chat worker handling your message stopped. Please try again."
                    return ChatOutcome(
                        contract.error_event(
                            request_id=request_id, code=contract.ERROR_UNAVAILABLE, retry_after=2, detail=detail
                        ),
                        phase == "accepted",
                        user_message,
                        notice,
                    )
                continue
            if phase == "accepted":
                code, detail = contract.ERROR_TIMEOUT, "The model did not answer in time. Please try again."
            elif phase == "queued":
                code, detail = contract.ERROR_TIMEOUT, "Your earlier messages took too long. Please try again."
            else:
                suspect(worker)  # it never acknowledged: dead, or too busy to take more right now
                code, detail = contract.ERROR_UNAVAILABLE, "No chat worker took the request. Please try again."
            return ChatOutcome(
                contract.error_event(request_id=request_id, code=code, detail=detail),
                phase == "accepted",
                user_message,
                notice,
            )
        kind = event["type"]
        if kind == contract.CHAT_QUEUED:
            phase, until = "queued", loop.time() + timeout + 1.0
        elif kind == contract.CHAT_ACCEPTED:
            phase, until = "accepted", loop.time() + timeout + 1.0
            user_message, notice = event.get("user_message"), event.get("notice")
        elif kind == contract.CHAT_DELTA:
            # A streamed answer that keeps coming is not cut at the timeout: the worker ends a stalled one.
            until = max(until, loop.time() + settings.CHAT_STREAM_IDLE_TIMEOUT + 1.0)
        else:
            return ChatOutcome(event, phase == "accepted" or kind == contract.CHAT_REPLY, user_message, notice)
        if on_progress is not None:
            await on_progress(event)


async def stop_chat(*, request_id: str, session_key: str) -> None:
    """Ask the worker holding `request_id` to stop its answer. Every live worker is asked (a stop is rare, and the
    one holding it may not be the one this process would choose now); each checks that it holds the request and
    that the request is `session_key`'s."""
    states = await _worker_states() or []
    interval = settings.WORKER["HEARTBEAT_INTERVAL"]
    layer, event = get_channel_layer(), contract.stop_event(request_id=request_id, session_key=session_key)
    for client_id in {s["client_id"] for s in states if s.get("client_id") and is_alive(s, interval)}:
        await _send_quietly(layer, contract.worker_channel(client_id), event)


async def publish(*, topic: str, payload: dict[str, Any], qos: int) -> bool:
    """Fire-and-forget publish through a worker; False when no worker can take it or it could not be sent."""
    availability = await worker_availability()
    worker = choose_worker(availability.workers) if availability.ok else None
    if worker is None:
        return False
    try:
        await get_channel_layer().send(
            contract.worker_channel(worker), contract.publish_event(topic=topic, payload=payload, qos=qos)
        )
        return True
    except Exception as exc:  # noqa: BLE001
        log.warning("could not queue a publish to %s: %s", topic, exc)
        return False
