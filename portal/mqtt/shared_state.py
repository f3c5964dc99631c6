"""Worker state shared through Redis, so web processes and the health app can see every worker.

Each worker writes one JSON record under `portal:worker:<client id>` with a time-to-live of a few heartbeat
intervals: a worker that dies (even by SIGKILL) simply stops refreshing it, and its record's age says so.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis

WORKERS_SET = "portal:workers"
WORKER_KEY = "portal:worker:{}"
LEASE_KEY = "portal:client-id:{}"
LATENCY_SAMPLES = "portal:latency:{}"  # list of "unix_ts:milliseconds", newest first ("chat", "probe")
MAX_LATENCY_SAMPLES = 3600

_clients: dict[tuple[int, str], aioredis.Redis] = {}


def redis_client(url: str) -> aioredis.Redis:
    """One client (and connection pool) per event loop: asyncio connections cannot cross loops."""
    key = (id(asyncio.get_running_loop()), url)
    client = _clients.get(key)
    if client is None:
        client = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, health_check_interval=10)
        _clients[key] = client
    return client


async def write_worker_state(r: aioredis.Redis, state: dict[str, Any], ttl: float) -> None:
    worker_id = state["client_id"]
    async with r.pipeline(transaction=False) as pipe:
        pipe.sadd(WORKERS_SET, worker_id)
        pipe.set(WORKER_KEY.format(worker_id), json.dumps(state), px=int(ttl * 1000))
        await pipe.execute()


async def remove_worker_state(r: aioredis.Redis, worker_id: str) -> None:
    async with r.pipeline(transaction=False) as pipe:
        pipe.srem(WORKERS_SET, worker_id)
        pipe.delete(WORKER_KEY.format(worker_id))
        await pipe.execute()


async def read_worker_states(r: aioredis.Redis) -> list[dict[str, Any]]:
    """Every worker record still alive (expired ones are pruned from the set on the way)."""
    worker_ids = sorted(m.decode() for m in await r.smembers(WORKERS_SET))
    if not worker_ids:
        return []
    raw = await r.mget([WORKER_KEY.format(w) for w in worker_ids])
    states, gone = [], []
    for worker_id, value in zip(worker_ids, raw):
        if value is None:
            gone.append(worker_id)
        else:
            states.append(json.loads(value))
    if gone:
        await r.srem(WORKERS_SET, *gone)
    return states


def heartbeat_age(state: dict[str, Any], now: float | None = None) -> float:
    return (now if now is not None else time.time()) - float(state.get("heartbeat_at", 0))


def is_alive(state: dict[str, Any], heartbeat_interval: float, now: float | None = None) -> bool:
    """Alive while the last heartbeat is younger than three intervals."""
    return heartbeat_age(state, now) < 3 * heartbeat_interval


async def record_probe_rtt(r: aioredis.Redis, rtt_ms: float) -> None:
    """Keep recent probe round trips for the status page's latency chart."""
    key = LATENCY_SAMPLES.format("probe")
    try:
        async with r.pipeline(transaction=False) as pipe:
            pipe.lpush(key, f"{time.time():.0f}:{rtt_ms:.2f}")
            pipe.ltrim(key, 0, MAX_LATENCY_SAMPLES - 1)
            await pipe.execute()
    except Exception:  # noqa: BLE001 - a chart sample is not worth an error
        pass
