"""channels_redis's pub/sub layer, with the publishes that pile up in one process sent together.

channels_redis sends each message as its own PUBLISH and holds a per-server lock for the round trip, so under load
a process's sends queue on that lock one round trip at a time (a chat turn is three PUBLISHes; 100 turns in flight
are 300 round trips in a row). Here a send joins an outbox; one flusher per server takes everything waiting and
sends it as one pipeline (one write, one read of the replies, under the same lock). Alone, a send costs what it
did; under load, N sends cost one round trip. Order per server is kept (one flusher, FIFO); a send still returns
only once Redis took its message, and fails with Redis's error if it could not be sent, as before.
"""
from __future__ import annotations

import asyncio

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close

MAX_PIPELINE = 500  # messages per round trip: bounds one write's size and the wait of the last in line


class CoalescingShardConnection(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._outbox: list[tuple[str, bytes, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def publish(self, channel, message):
        done = asyncio.get_running_loop().create_future()
        self._outbox.append((channel, message, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_outbox())
        await done

    async def _flush_outbox(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox[:MAX_PIPELINE], self._outbox[MAX_PIPELINE:]
            try:
                async with self._lock:
                    self._ensure_redis()
                    if len(batch) == 1:
                        await self._redis.publish(batch[0][0], batch[0][1])
                    else:
                        pipe = self._redis.pipeline(transaction=False)
                        for channel, message, _ in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
            except Exception as exc:  # noqa: BLE001 - every sender in the batch gets Redis's error
                _settle(batch, exc)
                continue
            except BaseException as exc:  # cancelled: the layer is closing, so this batch and the rest fail
                _settle(batch, ConnectionError(f"channel layer closed ({exc!r})"))
                self._fail_waiting(exc)
                raise
            _settle(batch, None)

    def _fail_waiting(self, exc: BaseException) -> None:
        waiting, self._outbox = self._outbox, []
        _settle(waiting, ConnectionError(f"channel layer closed ({exc!r})"))

    async def flush(self):
        if self._flusher is not None and not self._flusher.done():
            self._flusher.cancel()
        self._fail_waiting(asyncio.CancelledError())
        await super().flush()


def _settle(sends: list[tuple[str, bytes, asyncio.Future]], error: Exception | None) -> None:
    """Each sender still waiting learns its outcome: sent (error None) or the error."""
    for _, _, done in sends:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)


class CoalescingLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [CoalescingShardConnection(shard.host, self) for shard in self._shards]


class CoalescingPubSubChannelLayer(RedisPubSubChannelLayer):
    """Settings' CHANNEL_LAYERS backend: channels_redis.pubsub with coalesced publishes (one layer per loop)."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = CoalescingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer
