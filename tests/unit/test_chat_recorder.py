"""portal.telemetry.ChatRecorder against a real redis-server of its own: chat numbers gathered in the process
reach Redis in one write, arrive within the flush interval, and survive a Redis outage."""

import asyncio
import tempfile
from pathlib import Path

import pytest

from portal import telemetry
from tests.harness.procs import RedisServer


@pytest.fixture
def redis_url(settings):
    server = RedisServer(Path(tempfile.mkdtemp(prefix="recorder-"))).start()
    settings.REDIS_URL = server.url
    yield server
    server.stop()


async def _counters():
    return await telemetry.chat_counters()


def test_numbers_gathered_then_written_together(redis_url, monkeypatch):
    monkeypatch.setattr(telemetry, "CHAT_FLUSH_INTERVAL", 0.05)
    recorder = telemetry.ChatRecorder()

    async def scenario():
        for _ in range(7):
            recorder.record("ok", 0.02)
        recorder.record("timeout", 46.0)
        assert (await _counters())[0] == {}  # not yet: they wait for the flush interval
        await asyncio.sleep(0.3)
        return await _counters(), await telemetry.latency_samples("chat", 0)

    (outcomes, duration), samples = asyncio.run(scenario())
    assert outcomes == {"ok": 7, "timeout": 1}
    assert duration["count"] == 8 and duration["+Inf"] == 8
    assert duration["0.025"] == 7 and duration["30.0"] == 7 and duration["60.0"] == 8
    assert duration["sum"] == pytest.approx(7 * 0.02 + 46.0)
    assert len(samples) == 7 and all(ms == pytest.approx(20.0) for _, ms in samples)
    assert not recorder.outcomes  # nothing left behind


def test_a_redis_outage_loses_no_count(redis_url, monkeypatch):
    monkeypatch.setattr(telemetry, "CHAT_FLUSH_INTERVAL", 0.05)
    recorder = telemetry.ChatRecorder()

    async def scenario():
        recorder.record("ok", 0.01)
        assert await recorder.flush()
        redis_url.stop()
        recorder.record("ok", 0.01)
        recorder.record("unavailable", 0.5)
        assert not await recorder.flush()  # kept for the next write
        assert recorder.outcomes == {"ok": 1, "unavailable": 1}
        redis_url.start()
        assert await recorder.flush()
        return await _counters()

    outcomes, duration = asyncio.run(scenario())
    # This redis-server keeps nothing on disk, so the restart wiped the first write: what is there now is
    # exactly what was recorded during the outage.
    assert outcomes == {"ok": 1, "unavailable": 1}
    assert duration["count"] == 2
