"""The web process's reply dispatcher listening to a session's group while a request on it waits
(portal/mqtt/gateway.py): the worker publishes each event once, to the group, so the dispatcher must be
subscribed before the request leaves, and must unsubscribe once no waiting request has needed the group for a
while (it lingers, so a user's next message on the session needs no new subscription).

Against a real Redis server with the production channel layer (Redis pub/sub)."""

import asyncio

import pytest
import redis.asyncio as aioredis
from channels_redis.pubsub import RedisPubSubChannelLayer

from portal.mqtt import contract
from portal.mqtt.gateway import ReplyDispatcher
from tests.harness.procs import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def run(redis_server, scenario, linger=0.0):
    """Runs `scenario(dispatcher, layer, subscribers)` on a fresh layer; subscribers(group) is Redis's count.
    The dispatcher leaves a group `linger` s after its last request ended (0: at once)."""

    async def main():
        layer = RedisPubSubChannelLayer(hosts=[redis_server.url], prefix="t")
        probe = aioredis.from_url(redis_server.url)

        async def subscribers(group: str) -> int:
            """Subscribers of the group's Redis channel (its name contains the group's); the unsubscribe after
            the last leave is scheduled, not awaited, so this waits for the count to settle."""
            counts = []
            for _ in range(20):
                channels = [c for c in await probe.pubsub_channels() if group.encode() in c]
                counts.append(sum(n for _, n in await probe.pubsub_numsub(*channels)) if channels else 0)
                if len(counts) > 2 and counts[-1] == counts[-2] == counts[-3]:
                    break
                await asyncio.sleep(0.02)
            return counts[-1]

        dispatcher = ReplyDispatcher(layer, linger=linger)
        await dispatcher.channel()
        try:
            await scenario(dispatcher, layer, subscribers)
        finally:
            await probe.aclose()
            await layer.flush()

    asyncio.run(main())


def reply(request_id: str) -> dict:
    return {"type": contract.CHAT_REPLY, "request_id": request_id}


def test_an_event_published_to_the_group_reaches_the_waiting_request(redis_server):
    async def scenario(dispatcher, layer, subscribers):
        inbox = dispatcher.register("r1")
        await dispatcher.join("chat.s1")
        await layer.group_send("chat.s1", reply("r1"))
        assert (await asyncio.wait_for(inbox.get(), 2))["request_id"] == "r1"
        dispatcher.unregister("r1", "chat.s1")
        assert await subscribers("chat.s1") == 0

    run(redis_server, scenario)


def test_the_group_is_kept_while_any_request_on_it_waits(redis_server):
    async def scenario(dispatcher, layer, subscribers):
        first, second = dispatcher.register("r1"), dispatcher.register("r2")
        await dispatcher.join("chat.s1")
        await dispatcher.join("chat.s1")
        dispatcher.unregister("r1", "chat.s1")
        assert await subscribers("chat.s1") == 1
        await layer.group_send("chat.s1", reply("r2"))
        assert (await asyncio.wait_for(second.get(), 2))["request_id"] == "r2"
        assert first.empty()
        dispatcher.unregister("r2", "chat.s1")
        assert await subscribers("chat.s1") == 0
        # And a request arriving after that subscribes again.
        third = dispatcher.register("r3")
        await dispatcher.join("chat.s1")
        await layer.group_send("chat.s1", reply("r3"))
        assert (await asyncio.wait_for(third.get(), 2))["request_id"] == "r3"

    run(redis_server, scenario)


def test_requests_joining_together_all_wait_for_the_one_subscription(redis_server):
    async def scenario(dispatcher, layer, subscribers):
        inboxes = {f"r{i}": dispatcher.register(f"r{i}") for i in range(30)}

        async def request(request_id):
            await dispatcher.join("chat.busy")
            # Sent the moment the join returns, as request_chat sends its request: the reply must not be missed.
            await layer.group_send("chat.busy", reply(request_id))
            return (await asyncio.wait_for(inboxes[request_id].get(), 2))["request_id"]

        assert await asyncio.gather(*(request(r) for r in inboxes)) == list(inboxes)

    run(redis_server, scenario)


def test_leaving_keeps_a_socket_of_the_same_process_in_the_group(redis_server):
    async def scenario(dispatcher, layer, subscribers):
        socket_channel = await layer.new_channel()
        await layer.group_add("chat.s1", socket_channel)
        dispatcher.register("r1")
        await dispatcher.join("chat.s1")
        dispatcher.unregister("r1", "chat.s1")
        assert await subscribers("chat.s1") == 1
        await layer.group_send("chat.s1", {"type": "chat.session_changed"})
        assert (await asyncio.wait_for(layer.receive(socket_channel), 2))["type"] == "chat.session_changed"

    run(redis_server, scenario)


def test_a_group_lingers_so_the_next_request_on_it_needs_no_new_subscription(redis_server):
    async def scenario(dispatcher, layer, subscribers):
        adds = []
        real_group_add = layer.group_add

        async def counting_group_add(group, channel):
            adds.append(group)
            await real_group_add(group, channel)

        layer.group_add = counting_group_add
        dispatcher.register("r1")
        await dispatcher.join("chat.s1")
        dispatcher.unregister("r1", "chat.s1")
        assert await subscribers("chat.s1") == 1  # still subscribed after its request ended

        second = dispatcher.register("r2")
        await dispatcher.join("chat.s1")
        assert adds == ["chat.s1"]  # the second request joined without a new SUBSCRIBE
        await layer.group_send("chat.s1", reply("r2"))
        assert (await asyncio.wait_for(second.get(), 2))["request_id"] == "r2"
        dispatcher.unregister("r2", "chat.s1")

        await asyncio.sleep(0.3)  # the linger counts from the last request's end, not the first's
        assert await subscribers("chat.s1") == 1
        await asyncio.sleep(0.6)
        assert await subscribers("chat.s1") == 0  # and then it is left

    run(redis_server, scenario, linger=0.5)
