"""A stable, unique MQTT client id per running worker, held by a lease in Redis.

The id must be the same across restarts (so the broker's persistent session, with the replies it queued while we
were away, is resumed) and unique among running workers (two clients with one id kick each other off the broker
in a loop). Each worker claims the lowest free slot `<base>_w<N>` with a lease it renews at every heartbeat; a
lease left by a dead process on this host is taken over at once instead of waiting for it to expire.

The lease's value names its holder (host, pid) and a random token of this process; renewing and releasing compare
that value inside Redis (one script each), so a worker can never extend or delete a lease another worker holds.
Renewal tells three outcomes apart: still ours (extended), expired meanwhile (Redis was away longer than the lease)
and free (claimed again at once), or taken by someone else (LeaseLost: the worker must stop, or the two would
fight over one id).
"""

from __future__ import annotations

import os
import socket
import uuid

import redis.asyncio as aioredis

from .shared_state import LEASE_KEY

MAX_SLOTS = 64

RENEWED, RECLAIMED = "renewed", "reclaimed"

_RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
"""
_REPLACE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LeaseLost(RuntimeError):
    """Another worker holds our client id now."""


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition("|")
    pid = rest.partition("|")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's worker: only its lease expiry can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class ClientIdLease:
    def __init__(self, r: aioredis.Redis, ttl: float):
        self.redis = r
        self.ttl_ms = int(ttl * 1000)
        self.token = uuid.uuid4().hex  # this process's; in its worker state, and naming it as a holder of open requests
        self.holder = f"{socket.gethostname()}|{os.getpid()}|{self.token}"
        self.client_id: str | None = None
        self._renew = r.register_script(_RENEW)
        self._replace_if = r.register_script(_REPLACE_IF)
        self._delete_if = r.register_script(_DELETE_IF)

    async def claim(self, base: str, fixed: bool = False) -> str:
        """Claim `base` itself when `fixed` (an operator chose the id), else the lowest free `<base>_w<N>`."""
        candidates = [base] if fixed else [f"{base}_w{n}" for n in range(1, MAX_SLOTS + 1)]
        for client_id in candidates:
            key = LEASE_KEY.format(client_id)
            if await self.redis.set(key, self.holder, nx=True, px=self.ttl_ms):
                self.client_id = client_id
                return client_id
            holder = (await self.redis.get(key) or b"").decode()
            if _holder_is_dead(holder) and await self._replace_if(keys=[key], args=[holder, self.holder, self.ttl_ms]):
                self.client_id = client_id
                return client_id
        raise RuntimeError(f"no free MQTT client id for {base!r}: is another worker using it?")

    async def renew(self) -> str:
        """RENEWED, or RECLAIMED when it had expired and was free; raises LeaseLost when someone else has it."""
        outcome = await self._renew(keys=[LEASE_KEY.format(self.client_id)], args=[self.holder, self.ttl_ms])
        if outcome == 1:
            return RENEWED
        if outcome == 2:
            return RECLAIMED
        raise LeaseLost(f"another worker holds client id {self.client_id}")

    async def release(self) -> None:
        if self.client_id is not None:
            await self._delete_if(keys=[LEASE_KEY.format(self.client_id)], args=[self.holder])
