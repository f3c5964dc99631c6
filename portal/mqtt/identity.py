"""A stable, unique MQTT client id per running worker.

The id must be the same across restarts (so the broker's persistent session, with the replies it queued
while we were away, is resumed) and unique among running workers (two clients with one id kick each other
off in a loop). Each worker claims the lowest free slot `<base>_w<N>` with a Redis lease it keeps renewing;
a lease left by a dead process on this host is taken over at once instead of waiting for it to expire.
"""
from __future__ import annotations

import os
import socket

import redis.asyncio as aioredis

from .shared_state import LEASE_KEY

MAX_SLOTS = 64


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _holder_is_dead(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: only its lease expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def claim_client_id(r: aioredis.Redis, base: str, ttl: float, fixed: bool = False) -> str:
    """Claim `base` itself when `fixed` (an operator chose the id), else the lowest free `<base>_w<N>`."""
    me = _holder()
    candidates = [base] if fixed else [f"{base}_w{n}" for n in range(1, MAX_SLOTS + 1)]
    for client_id in candidates:
        key = LEASE_KEY.format(client_id)
        if await r.set(key, me, nx=True, px=int(ttl * 1000)):
            return client_id
        holder = (await r.get(key) or b"").decode()
        if holder == me or _holder_is_dead(holder):
            await r.set(key, me, px=int(ttl * 1000))
            return client_id
    raise RuntimeError(f"no free MQTT client id for {base!r}: is another worker using it?")


async def renew_lease(r: aioredis.Redis, client_id: str, ttl: float) -> bool:
    """Extend our lease; False if someone else holds it now (we must stop to avoid an id fight)."""
    key = LEASE_KEY.format(client_id)
    holder = (await r.get(key) or b"").decode()
    if holder and holder != _holder():
        return False
    await r.set(key, _holder(), px=int(ttl * 1000))
    return True


async def release_lease(r: aioredis.Redis, client_id: str) -> None:
    key = LEASE_KEY.format(client_id)
    if (await r.get(key) or b"").decode() == _holder():
        await r.delete(key)
