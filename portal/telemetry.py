"""Cross-process telemetry kept in Redis: chat outcome counters, a latency histogram, recent latency samples
and the number of open WebSockets per web process.

Prometheus's own multiprocess mode only works for processes sharing one directory on one host; web processes
and workers here may run on several machines, so every process adds its numbers to Redis and /metrics reads
the totals. Each write is one pipelined round trip, off the request's critical path; chat numbers are gathered
for a moment and written together.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time

from django.conf import settings

from portal.mqtt.shared_state import LATENCY_SAMPLES, redis_client
from portal.mqtt.shared_state import MAX_LATENCY_SAMPLES as MAX_SAMPLES

log = logging.getLogger("portal.telemetry")

CHAT_OUTCOMES = "portal:metrics:chat_requests"  # hash: outcome -> count
CHAT_DURATION = "portal:metrics:chat_duration"  # hash: bucket bound ("0.05", ..., "+Inf"), "sum", "count"
WEB_PRESENCE = "portal:web:{}"  # per web process: {"websockets": n, "hint_sessions": n}
WEB_SET = "portal:webs"

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PRESENCE_INTERVAL = 10.0


def redis():
    return redis_client(settings.REDIS_URL)


CHAT_FLUSH_INTERVAL = 0.25  # seconds: how long chat metrics gather in this process before one write to Redis


class ChatRecorder:
    """Chat outcomes and durations of this process, gathered for a moment and added to Redis in one round trip.

    Why not one write per request: under load that round trip cost a tenth of a web process's CPU. Gathered
    numbers are a few dozen integers and at most MAX_SAMPLES samples, and a failed write keeps them for the
    next one, so a Redis restart loses no count.
    """

    def __init__(self):
        self.outcomes: dict[str, int] = {}
        self.buckets: dict[str, int] = {}
        self.total_seconds = 0.0
        self.samples: list[str] = []  # "unix_ts:milliseconds" of successful requests, oldest first
        self._task: asyncio.Task | None = None

    def record(self, outcome: str, seconds: float) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        for bound in DURATION_BUCKETS:
            if seconds <= bound:
                self.buckets[repr(bound)] = self.buckets.get(repr(bound), 0) + 1
        self.buckets["+Inf"] = self.buckets.get("+Inf", 0) + 1
        self.buckets["count"] = self.buckets.get("count", 0) + 1
        self.total_seconds += seconds
        if outcome == "ok":
            self.samples.append(f"{time.time():.0f}:{seconds * 1000:.1f}")
            del self.samples[:-MAX_SAMPLES]
        loop = asyncio.get_running_loop()
        if settings.REDIS_URL and (self._task is None or self._task.done() or self._task.get_loop() is not loop):
            self._task = loop.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        # Until everything is written, including what arrived during a write; slower while Redis is down.
        delay = CHAT_FLUSH_INTERVAL
        while self.outcomes:
            await asyncio.sleep(delay)
            delay = CHAT_FLUSH_INTERVAL if await self.flush() else min(2 * delay, 5.0)

    async def flush(self) -> bool:
        if not self.outcomes:
            return True
        outcomes, buckets, total, samples = self.outcomes, self.buckets, self.total_seconds, self.samples
        self.outcomes, self.buckets, self.total_seconds, self.samples = {}, {}, 0.0, []
        try:
            async with redis().pipeline(transaction=False) as pipe:
                for outcome, n in outcomes.items():
                    pipe.hincrby(CHAT_OUTCOMES, outcome, n)
                for field, n in buckets.items():
                    pipe.hincrby(CHAT_DURATION, field, n)
                pipe.hincrbyfloat(CHAT_DURATION, "sum", total)
                if samples:
                    pipe.lpush(LATENCY_SAMPLES.format("chat"), *samples)
                    pipe.ltrim(LATENCY_SAMPLES.format("chat"), 0, MAX_SAMPLES - 1)
                await pipe.execute()
            return True
        except Exception as exc:  # noqa: BLE001 - telemetry must never fail a user's request
            log.debug("could not record chat metrics (kept for the next write): %s", exc)
            for outcome, n in outcomes.items():
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n
            for field, n in buckets.items():
                self.buckets[field] = self.buckets.get(field, 0) + n
            self.total_seconds += total
            self.samples[:0] = samples
            del self.samples[:-MAX_SAMPLES]
            return False


chat_recorder = ChatRecorder()


def record_chat_soon(outcome: str, seconds: float) -> None:
    """Count one chat request by outcome (ok, timeout, unavailable, busy, llm_error, shutdown, invalid...); it
    reaches Redis within CHAT_FLUSH_INTERVAL, together with the others of that moment."""
    chat_recorder.record(outcome, seconds)


class SocketCounter:
    """Open WebSockets of this web process, published to Redis so /api/health/mqtt can sum all processes."""

    def __init__(self):
        self.counts = {"chat": 0, "hint": 0}
        self.hint_sessions: dict[str, int] = {}
        self._task: asyncio.Task | None = None
        self._dirty: asyncio.Event | None = None
        self.process_id = f"{socket.gethostname()}:{os.getpid()}"

    def opened(self, kind: str, session_key: str | None = None) -> None:
        self.counts[kind] += 1
        if kind == "hint" and session_key:
            self.hint_sessions[session_key] = self.hint_sessions.get(session_key, 0) + 1
        self._ensure_publisher()

    def closed(self, kind: str, session_key: str | None = None) -> None:
        self.counts[kind] = max(0, self.counts[kind] - 1)
        if kind == "hint" and session_key and session_key in self.hint_sessions:
            self.hint_sessions[session_key] -= 1
            if self.hint_sessions[session_key] <= 0:
                del self.hint_sessions[session_key]
        self._ensure_publisher()

    def _ensure_publisher(self) -> None:
        if not settings.REDIS_URL:
            return
        if self._task is None or self._task.done():
            self._dirty = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._publish_forever())
        self._dirty.set()

    async def _publish_forever(self) -> None:
        key = WEB_PRESENCE.format(self.process_id)
        while True:
            self._dirty.clear()
            body = json.dumps(
                {
                    "websockets": sum(self.counts.values()),
                    "chat": self.counts["chat"],
                    "hint": self.counts["hint"],
                    "hint_sessions": len(self.hint_sessions),
                }
            )
            try:
                async with redis().pipeline(transaction=False) as pipe:
                    pipe.sadd(WEB_SET, self.process_id)
                    pipe.set(key, body, px=int(PRESENCE_INTERVAL * 3 * 1000))
                    await pipe.execute()
            except Exception as exc:  # noqa: BLE001
                log.debug("could not publish socket counts: %s", exc)
            # Publish again on the next change, or at least every interval to keep the key alive.
            try:
                await asyncio.wait_for(self._dirty.wait(), PRESENCE_INTERVAL)
            except TimeoutError:
                pass


sockets = SocketCounter()


async def web_presence() -> list[dict]:
    r = redis()
    ids = sorted(m.decode() for m in await r.smembers(WEB_SET))
    if not ids:
        return []
    values = await r.mget([WEB_PRESENCE.format(i) for i in ids])
    gone = [i for i, v in zip(ids, values) if v is None]
    if gone:
        await r.srem(WEB_SET, *gone)
    return [json.loads(v) for v in values if v]


async def latency_samples(kind: str, since: float) -> list[tuple[float, float]]:
    raw = await redis().lrange(LATENCY_SAMPLES.format(kind), 0, MAX_SAMPLES - 1)
    samples = []
    for item in raw:
        ts, _, ms = item.decode().partition(":")
        if float(ts) >= since:
            samples.append((float(ts), float(ms)))
    return sorted(samples)


async def chat_counters() -> tuple[dict[str, int], dict[str, float]]:
    r = redis()
    outcomes = {k.decode(): int(v) for k, v in (await r.hgetall(CHAT_OUTCOMES)).items()}
    duration = {k.decode(): float(v) for k, v in (await r.hgetall(CHAT_DURATION)).items()}
    return outcomes, duration
