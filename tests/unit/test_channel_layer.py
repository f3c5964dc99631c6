"""The production channel layer (portal/channel_layer.py): sends that pile up in a process go to Redis together,
in their order, each returning once Redis took it, and failing with Redis's error when Redis is gone.

Against real Redis servers; the round trips are counted by Redis itself (INFO stats total_reads_processed: one
per read of a client's socket, so one per round trip, however many commands a read carries)."""
import asyncio
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from portal.channel_layer import CoalescingPubSubChannelLayer
from tests.harness.procs import RedisServer


@pytest.fixture()
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


async def reads_processed(probe) -> int:
    return int((await probe.info("stats"))["total_reads_processed"])


@asynccontextmanager
async def listening(redis_url: str, layer, group: str = "g"):
    """A plain Redis subscriber on the layer's channel for `group`, independent of the layer under test."""
    client = aioredis.from_url(redis_url)
    pubsub = client.pubsub()
    try:
        await pubsub.subscribe(layer._get_group_channel_name(group))
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        yield pubsub
    finally:
        await pubsub.aclose()
        await client.aclose()


async def collect(pubsub, layer, count: int) -> list[dict]:
    received = []
    while len(received) < count:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None, f"only {len(received)} of {count} messages arrived"
        received.append(layer.deserialize(message["data"]))
    return received


def test_concurrent_sends_arrive_in_order_in_a_few_round_trips(redis_server):
    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[redis_server.url], prefix="t")
        probe = aioredis.from_url(redis_server.url)
        try:
            async with listening(redis_server.url, layer) as pubsub:
                await layer.group_send("g", {"type": "warm.up", "n": -1})  # opens the layer's connection
                await collect(pubsub, layer, 1)
                before = await reads_processed(probe)
                await asyncio.gather(*(layer.group_send("g", {"type": "x.y", "n": n}) for n in range(300)))
                after = await reads_processed(probe)
                assert [m["n"] for m in await collect(pubsub, layer, 300)] == list(range(300))
                # One PUBLISH per round trip would be 300 reads; coalesced, a handful (+1 for the probe's INFO).
                assert after - before < 30, f"{after - before} reads for 300 sends"
        finally:
            await probe.aclose()
            await layer.flush()
    asyncio.run(main())


def test_a_lone_send_is_sent_at_once(redis_server):
    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[redis_server.url], prefix="t")
        try:
            async with listening(redis_server.url, layer) as pubsub:
                for n in range(3):
                    await asyncio.wait_for(layer.group_send("g", {"type": "x.y", "n": n}), 1)
                    assert [m["n"] for m in await collect(pubsub, layer, 1)] == [n]
        finally:
            await layer.flush()
    asyncio.run(main())


def test_sends_fail_with_redis_error_while_redis_is_down_and_work_again_after_it_restarts(redis_server):
    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[{"address": redis_server.url, "socket_connect_timeout": 1}],
                                             prefix="t")
        try:
            await layer.group_send("g", {"type": "x.y"})
            redis_server.stop()
            results = await asyncio.wait_for(
                asyncio.gather(*(layer.group_send("g", {"type": "x.y", "n": n}) for n in range(20)),
                               return_exceptions=True), 30)
            assert all(isinstance(r, (RedisConnectionError, OSError)) for r in results), results
            redis_server.start()
            async with listening(redis_server.url, layer) as pubsub:
                await asyncio.wait_for(layer.group_send("g", {"type": "x.y", "n": "back"}), 10)
                assert [m["n"] for m in await collect(pubsub, layer, 1)] == ["back"]
        finally:
            await layer.flush()
    asyncio.run(main())


def test_a_sender_that_gives_up_does_not_hold_up_the_others(redis_server):
    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[redis_server.url], prefix="t")
        try:
            async with listening(redis_server.url, layer) as pubsub:
                tasks = [asyncio.ensure_future(layer.group_send("g", {"type": "x.y", "n": n})) for n in range(50)]
                await asyncio.sleep(0)
                tasks[10].cancel()
                results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
                assert all(r is None for n, r in enumerate(results) if n != 10), results
                # The one that gave up may or may not have gone out (it may already have been on its way).
                others = [m["n"] for m in await collect(pubsub, layer, 49) if m["n"] != 10]
                assert others == [n for n in range(50) if n != 10][:len(others)] and len(others) >= 48
        finally:
            await layer.flush()
    asyncio.run(main())


def test_flushing_the_layer_fails_the_sends_still_waiting_instead_of_leaving_them_hanging(redis_server):
    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[redis_server.url], prefix="t")
        await layer.group_send("g", {"type": "x.y"})
        tasks = [asyncio.ensure_future(layer.group_send("g", {"type": "x.y", "n": n})) for n in range(600)]
        await asyncio.sleep(0)  # all queued; the first pipeline is on its way
        await layer.flush()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)
        assert all(r is None or isinstance(r, ConnectionError) for r in results), results
    asyncio.run(main())
