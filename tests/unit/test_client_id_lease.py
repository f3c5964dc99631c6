"""The client-id lease (portal/mqtt/identity.py) against a real Redis server: compare-and-set inside Redis, so a
worker never frees or extends a lease another worker holds."""

import asyncio

import pytest
import redis.asyncio as aioredis

from portal.mqtt.identity import RECLAIMED, RENEWED, ClientIdLease, LeaseLost
from tests.harness.procs import RedisServer


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def run(redis_server, scenario):
    async def main():
        r = aioredis.from_url(redis_server.url)
        try:
            await r.flushdb()
            await scenario(r)
        finally:
            await r.aclose()

    asyncio.run(main())


def test_the_lease_renews_reclaims_after_expiry_and_is_lost_to_another_holder(redis_server):
    async def scenario(r):
        lease = ClientIdLease(r, ttl=10)
        assert await lease.claim("worker") == "worker_w1"
        other = ClientIdLease(r, ttl=10)
        assert await other.claim("worker") == "worker_w2"  # w1 is held
        assert await lease.renew() == RENEWED
        await r.delete("portal:client-id:worker_w1")  # Redis was away longer than the lease
        assert await lease.renew() == RECLAIMED
        await r.set("portal:client-id:worker_w1", "elsewhere|1|theirs")
        with pytest.raises(LeaseLost):
            await lease.renew()
        await lease.release()  # never deletes what another holds
        assert await r.get("portal:client-id:worker_w1") == b"elsewhere|1|theirs"

    run(redis_server, scenario)
