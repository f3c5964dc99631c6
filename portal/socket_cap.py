"""At most WS_MAX_SOCKETS_PER_USER open WebSockets per user, counted over every web process.

Each socket costs its web process memory and a subscription or two in Redis; a script opening hundreds of sockets
as one user (300 in a second, in a review) must not be able to exhaust a process others use. Browsers open one per
tab and page, so the default (20) is far above what a person needs.

Counts live in Redis, one hash per user with a field per web process (telemetry.sockets.process_id). A process that
died without closing its sockets stops publishing its presence (portal/telemetry.py), and its field is then
dropped, so a crash never locks a user out.
"""

from __future__ import annotations

import logging

from django.conf import settings

from . import telemetry

log = logging.getLogger("portal.socket_cap")

USER_SOCKETS = "portal:ws-user:{}"

_local: dict[int, int] = {}  # without Redis (single-process tests): this process's counts


async def take(user_id: int) -> bool:
    """Count one more socket of this user; False (and not counted) when that would pass the cap."""
    cap = settings.WS_MAX_SOCKETS_PER_USER
    if not cap:
        return True
    if not settings.REDIS_URL:
        if _local.get(user_id, 0) >= cap:
            return False
        _local[user_id] = _local.get(user_id, 0) + 1
        return True
    key, me = USER_SOCKETS.format(user_id), telemetry.sockets.process_id
    r = telemetry.redis()
    try:
        async with r.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, me, 1)
            pipe.expire(key, 7 * 24 * 3600)
            pipe.hgetall(key)
            _, _, counts = await pipe.execute()
        others = [field.decode() for field in counts if field.decode() != me]
        if others:
            alive = await r.mget([telemetry.WEB_PRESENCE.format(process) for process in others])
            gone = [process for process, state in zip(others, alive) if state is None]
            if gone:
                await r.hdel(key, *gone)
            counts = {f: n for f, n in counts.items() if f.decode() not in gone}
        if sum(int(n) for n in counts.values()) > cap:
            await r.hincrby(key, me, -1)
            return False
    except Exception as exc:  # noqa: BLE001 - Redis away: the socket could not do anything anyway
        log.warning("socket count not checked: %s", exc)
    return True


async def give_back(user_id: int) -> None:
    if not settings.WS_MAX_SOCKETS_PER_USER:
        return
    if not settings.REDIS_URL:
        _local[user_id] = max(0, _local.get(user_id, 0) - 1)
        return
    try:
        await telemetry.redis().hincrby(USER_SOCKETS.format(user_id), telemetry.sockets.process_id, -1)
    except Exception as exc:  # noqa: BLE001
        log.warning("socket count not given back: %s", exc)
