"""Per-user rate limits kept in Redis (fixed windows), so every web process counts against the same budget."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from portal.mqtt.shared_state import redis_client

log = logging.getLogger("portal.ratelimit")


@dataclass(frozen=True)
class Limit:
    count: int  # 0 = no limit
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """ "30/60" = 30 per 60 seconds; "0" or "" = unlimited."""
        if not text or text.strip() == "0":
            return cls(0, 1)
        count, _, seconds = text.partition("/")
        return cls(int(count), int(seconds or 60))


async def retry_after(*, scope: str, user_id: int | str, limit: Limit) -> int:
    """0 when the request may go ahead (and is counted), else the seconds until the window resets."""
    if not limit.count or not settings.REDIS_URL:
        return 0
    window = int(time.time() // limit.seconds)
    key = f"portal:rate:{scope}:{user_id}:{window}"
    try:
        async with redis_client(settings.REDIS_URL).pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, limit.seconds + 1)
            used, _ = await pipe.execute()
    except Exception as exc:  # noqa: BLE001 - without Redis the request fails on availability anyway
        log.debug("rate limit not checked: %s", exc)
        return 0
    return _wait(used, window, limit)


def retry_after_sync(*, scope: str, subject: str, limit: Limit) -> int:
    """retry_after for sync views (a subject that is not a user: an e-mail address, a client address)."""
    if not limit.count or not settings.REDIS_URL:
        return 0
    window = int(time.time() // limit.seconds)
    key = f"portal:rate:{scope}:{subject}:{window}"
    try:
        with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2) as client:
            used, _ = client.pipeline(transaction=False).incr(key).expire(key, limit.seconds + 1).execute()
    except Exception as exc:  # noqa: BLE001 - counting is best effort; the view still works
        log.warning("rate limit not checked: %s", exc)
        return 0
    return _wait(used, window, limit)


def _wait(used: int, window: int, limit: Limit) -> int:
    if used <= limit.count:
        return 0
    return max(1, int((window + 1) * limit.seconds - time.time()) + 1)
