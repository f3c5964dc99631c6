"""At most one request per chat session in flight to the LLM, across every worker: a lock per session in Redis.

Within a worker, SessionQueues (turns.py) already keeps one request per session in flight, and the web sends all
of a session's messages to one worker. This lock covers the moments when two workers see one session at once
(a worker joined or left and the web's choice moved), so even then two requests of one session never overlap.

The lock's value names its holder: `<client id>|<process token>|<request id>`. It expires on its own after the
request's deadline (plus a margin); a lock whose holder is no longer a live worker (killed, restarted: its token
is not in any live worker's state) is broken at once instead of blocking the session until it expires.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

TURN_KEY = "portal:chat-turn:{}"

_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def holder_value(client_id: str, token: str, request_id: str) -> str:
    return f"{client_id}|{token}|{request_id}"


def parse_holder(value: str) -> tuple[str, str, str] | None:
    parts = value.split("|")
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


class TurnLock:
    """`holder_gone(client_id, token, request_id)` tells whether a holder can no longer finish its turn."""

    def __init__(self, r: aioredis.Redis, holder_gone: Callable[[str, str, str], Awaitable[bool]]):
        self.redis = r
        self.holder_gone = holder_gone
        self._delete_if = r.register_script(_DELETE_IF)

    async def acquire(self, session_key: str, holder: str, ttl: float) -> bool:
        key = TURN_KEY.format(session_key)
        if await self.redis.set(key, holder, nx=True, px=int(ttl * 1000)):
            return True
        current = (await self.redis.get(key) or b"").decode()
        parsed = parse_holder(current)
        if current and (parsed is None or await self.holder_gone(*parsed)):
            await self._delete_if(keys=[key], args=[current])
            return bool(await self.redis.set(key, holder, nx=True, px=int(ttl * 1000)))
        return not current and bool(await self.redis.set(key, holder, nx=True, px=int(ttl * 1000)))

    async def release(self, session_key: str, holder: str) -> None:
        await self._delete_if(keys=[TURN_KEY.format(session_key)], args=[holder])


class LocalTurnLock:
    """The same contract in memory, for one worker alone (tests and single-process use)."""

    def __init__(self):
        self.held: dict[str, str] = {}

    async def acquire(self, session_key: str, holder: str, ttl: float) -> bool:
        return self.held.setdefault(session_key, holder) == holder

    async def release(self, session_key: str, holder: str) -> None:
        if self.held.get(session_key) == holder:
            del self.held[session_key]
