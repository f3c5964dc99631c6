"""Which worker a request goes to (portal/mqtt/gateway.py): live, connected and usable ones, in turn, with a
worker that left a request unacknowledged passed over."""

import asyncio
import time

import pytest

from portal.mqtt import contract, gateway


def state(client_id, *, connected=True, age=0.0, llm_online=True, breaker="closed"):
    return {
        "client_id": client_id,
        "connected": connected,
        "heartbeat_at": time.time() - age,
        "llm": {"online": llm_online},
        "breaker": {"state": breaker},
    }


@pytest.fixture(autouse=True)
def _no_suspects():
    gateway._suspects.clear()
    yield
    gateway._suspects.clear()


def test_only_live_connected_usable_workers_take_requests():
    availability = gateway._evaluate(
        [
            state("w1"),
            state("w2", connected=False),
            state("w3", age=3600),
            state("w4", breaker="open"),
            state("w5", llm_online=False),
            state("w6"),
        ]
    )
    assert availability.ok and availability.workers == ("w1", "w6")


def test_requests_go_to_the_workers_in_turn():
    chosen = [gateway.choose_worker(("w1", "w2")) for _ in range(10)]
    assert chosen.count("w1") == 5 and chosen.count("w2") == 5
    assert all(a != b for a, b in zip(chosen, chosen[1:]))


def test_a_suspect_is_passed_over_unless_nobody_else_is_left(settings):
    gateway.suspect("w1")
    assert {gateway.choose_worker(("w1", "w2")) for _ in range(10)} == {"w2"}
    assert gateway.choose_worker(("w1",)) == "w1"  # better a try than a certain 503
    assert gateway.choose_worker(()) is None


def test_a_suspect_is_trusted_again_after_three_heartbeats(settings):
    settings.WORKER = {**settings.WORKER, "HEARTBEAT_INTERVAL": 0.01}
    gateway.suspect("w1")
    time.sleep(0.05)
    assert "w1" in {gateway.choose_worker(("w1", "w2")) for _ in range(4)}


def test_worker_channels_are_valid_channel_names():
    assert contract.worker_channel("prompt_portal_backend_w1") == "mqtt-worker.prompt_portal_backend_w1"
    assert contract.worker_channel("a b/c#") == "mqtt-worker.a_b_c_"
    assert len(contract.worker_channel("x" * 500)) < 100


# -- reading the shared state: one read per burst, a moment's Redis trouble bridged -----------------------------
@pytest.fixture
def fake_reads(monkeypatch, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # never connected: the read itself is replaced
    calls = {"n": 0, "fail": False}

    async def read(_client):
        calls["n"] += 1
        await asyncio.sleep(0.01)
        if calls["fail"]:
            raise ConnectionError("redis is busy")
        return [state("w1")]

    monkeypatch.setattr(gateway, "read_worker_states", read)
    for cache in (gateway._status_cache, gateway._status_reads, gateway._last_good):
        cache.clear()
    return calls


def test_a_burst_of_callers_shares_one_read(fake_reads):
    async def burst():
        return await asyncio.gather(*(gateway._worker_states() for _ in range(200)))

    results = asyncio.run(burst())
    assert fake_reads["n"] == 1 and all(r == results[0] for r in results)


def test_a_failed_read_serves_the_last_good_state_for_a_few_seconds_only(fake_reads, monkeypatch):
    monkeypatch.setattr(gateway, "STATUS_CACHE_SECONDS", 0.0)
    monkeypatch.setattr(gateway, "STALE_STATUS_SECONDS", 0.3)

    async def scenario():
        good = await gateway._worker_states()
        fake_reads["fail"] = True
        bridged = await gateway._worker_states()
        await asyncio.sleep(0.4)
        return good, bridged, await gateway._worker_states()

    good, bridged, later = asyncio.run(scenario())
    assert good and bridged == good and later is None
