"""Streamed answers in the worker engine (docs/protocol.md "Streamed answers", "Cancel"), with the fakes of
test_engine_rules: chunks assembled in order and relayed as chat.delta, never stored; lost, duplicated and
reordered chunks; the inactivity deadline; Stop."""

import asyncio
import json
import time

import pytest

from portal.mqtt import contract
from portal.mqtt.engine import EngineConfig, EngineHooks, WorkerEngine
from portal.mqtt.stream import StreamAssembler
from tests.unit.test_engine_rules import BASE, MQTT, ChatStore, FakeLink, RecordingLayer, reply, request, run

CANCEL = "prompt_portal/cancel"


@pytest.fixture
def world():
    store, layer, link = ChatStore(), RecordingLayer(), FakeLink()
    engine = WorkerEngine(
        config=EngineConfig(
            mqtt={**MQTT, "TOPIC_CANCEL": CANCEL},
            heartbeat_interval=1,
            pending_max=100,
            pending_max_age=300,
            session_queue_max=2,
            breaker_threshold=2,
            breaker_cooldown=30,
            stream=True,
            stream_flush_interval=0.01,
            stream_idle_timeout=5.0,
        ),
        client_id="w1",
        channel_layer=layer,
        redis=None,
        link=link,
        run_sync=lambda func, **kwargs: asyncio.sleep(0, func(**kwargs)),
        hooks=EngineHooks(begin_chat_turn=store.begin, cancel_chat_turn=store.cancel, store_chat_reply=store.store),
    )
    return engine, store, layer, link


def chunk(engine, request_id, seq, delta, session=1, client="w1", claimed=None):
    payload = json.dumps({"requestId": claimed or request_id, "seq": seq, "delta": delta}).encode()
    return engine.handle_mqtt_message(f"{BASE}/llm-{session}/{client}/{request_id}/stream", payload)


async def relayed(layer, request_id, count, timeout=2.0):
    """Wait (on the condition, not a fixed time) until `count` deltas of the request were relayed."""
    deadline = time.monotonic() + timeout
    while len(layer.of(request_id, contract.CHAT_DELTA)) < count:
        assert time.monotonic() < deadline, layer.of(request_id, contract.CHAT_DELTA)
        await asyncio.sleep(0.005)
    return layer.of(request_id, contract.CHAT_DELTA)


def shown(deltas) -> str:
    """What a client ends up showing, following the contract: append a delta that starts where it is."""
    text = ""
    for d in deltas:
        if d["offset"] == len(text):
            text += d["delta"]
    return text


def test_the_request_asks_for_a_stream_and_chunks_are_relayed_in_order_never_stored(world):
    engine, store, layer, link = world

    async def scenario():
        await request(engine, "r1")
        assert link.requests()[0]["stream"] is True
        await chunk(engine, "r1", 0, "The exit ")
        deltas = await relayed(layer, "r1", 1)  # the first words go out at once
        assert deltas == [{"type": contract.CHAT_DELTA, "request_id": "r1", "offset": 0, "delta": "The exit "}]
        await chunk(engine, "r1", 1, "is ")
        await chunk(engine, "r1", 2, "east.")
        await relayed(layer, "r1", 2)
        assert store.replies == {}  # nothing of a chunk is stored
        await reply(engine, "r1", b"The exit is east.")

    run(scenario())
    deltas = layer.of("r1", contract.CHAT_DELTA)
    assert shown(deltas) == "The exit is east."
    kinds = [e["type"] for e in layer.of("r1")]
    assert kinds.index(contract.CHAT_ACCEPTED) < kinds.index(contract.CHAT_DELTA) < kinds.index(contract.CHAT_REPLY)
    assert store.replies["r1"][0] == "The exit is east."
    assert engine.runtime.counters.stream_chunks == 3


def test_many_chunks_at_once_are_coalesced_into_few_deltas(world):
    engine, _, layer, _ = world

    async def scenario():
        await request(engine, "r1")
        for seq in range(200):
            await chunk(engine, "r1", seq, f"w{seq} ")
        await relayed(layer, "r1", 1)
        await asyncio.sleep(0.05)  # let any further flush run: there is nothing left to relay
        return layer.of("r1", contract.CHAT_DELTA)

    deltas = run(scenario())
    assert len(deltas) <= 2  # one channel-layer message for the lot, not 200
    assert shown(deltas) == "".join(f"w{seq} " for seq in range(200))
    assert engine.runtime.counters.stream_deltas == len(deltas)


def test_duplicated_and_reordered_chunks_never_garble_the_preview_and_a_gap_stops_it(world):
    engine, store, layer, _ = world

    async def scenario():
        await request(engine, "r1")
        await chunk(engine, "r1", 1, "B")  # early: held
        await chunk(engine, "r1", 0, "A")
        await chunk(engine, "r1", 0, "A")  # duplicate
        await chunk(engine, "r1", 3, "D")  # 2 is lost
        await relayed(layer, "r1", 1)
        await asyncio.sleep(0.03)
        assert shown(layer.of("r1", contract.CHAT_DELTA)) == "AB"  # never "ABD"
        await reply(engine, "r1", b"ABCD")

    run(scenario())
    [final] = layer.of("r1", contract.CHAT_REPLY)
    assert final["raw_response"] == "ABCD" and store.replies["r1"][0] == "ABCD"
    assert engine.runtime.counters.stream_chunks_dropped == 1  # the duplicate


def test_chunks_of_no_request_here_or_contradicting_their_topic_are_dropped(world):
    engine, _, layer, _ = world

    async def scenario():
        await request(engine, "r1")
        await chunk(engine, "r1", 0, "x", client="w2")  # another worker's
        await chunk(engine, "nobody", 0, "x")  # no such request
        await chunk(engine, "r1", 0, "x", session=9)  # another LLM session
        await chunk(engine, "r1", 0, "x", claimed="r2")  # names another request than its topic
        await engine.handle_mqtt_message(f"{BASE}/llm-1/w1/r1/stream", b"not json")
        await asyncio.sleep(0.03)

    run(scenario())
    counters = engine.runtime.counters
    assert layer.of("r1", contract.CHAT_DELTA) == [] and counters.stream_chunks == 0
    assert counters.replies_foreign == 1 and counters.stream_chunks_dropped == 3 and counters.malformed == 1


def test_a_stream_that_keeps_coming_outlives_its_timeout_and_a_stalled_one_ends(world):
    engine, _, layer, _ = world

    async def scenario():
        await request(engine, "r1", timeout=1.0)
        started = time.monotonic()
        await chunk(engine, "r1", 0, "still writing")
        await engine.expire(started + 2.0)  # past the 1-s timeout, within the 5-s idle window
        assert layer.of("r1", contract.CHAT_ERROR) == [] and "r1" in engine.pending
        await engine.expire(started + 6.0)  # 5 s after the last chunk: stalled

    run(scenario())
    [error] = layer.of("r1", contract.CHAT_ERROR)
    assert error["code"] == contract.ERROR_TIMEOUT


def test_stop_keeps_what_was_streamed_tells_the_service_and_drops_the_late_final_reply(world):
    engine, store, layer, link = world

    async def scenario():
        await request(engine, "r1")
        await request(engine, "r2")  # waits for r1
        await chunk(engine, "r1", 0, "Half an ")
        await chunk(engine, "r1", 1, "answer")
        await engine.handle_web_event(contract.stop_event(request_id="r1", session_key="s1"))
        await reply(engine, "r1", b"Half an answer, and the rest")  # the service finished it anyway
        await asyncio.sleep(0)  # r2 takes its turn in a task of its own

    run(scenario())
    [final] = layer.of("r1", contract.CHAT_REPLY)
    assert final["stopped"] is True and final["raw_response"] == "Half an answer"
    assert store.replies["r1"] == ("Half an answer", False, {"stopped": True})
    assert [(t, p) for t, p, _ in link.published if t == CANCEL] == [
        (CANCEL, {"requestId": "r1", "sessionId": "llm-1", "clientId": "w1"})
    ]
    assert engine.runtime.counters.replies_duplicate == 1 and engine.runtime.counters.stopped == 1
    assert [p["requestId"] for p in link.requests()] == ["r1", "r2"]  # the session's next message went out


def test_stop_of_a_message_still_in_line_withdraws_it_and_of_another_session_does_nothing(world):
    engine, store, layer, link = world

    async def scenario():
        await request(engine, "r1")
        await request(engine, "r2")
        await engine.handle_web_event(contract.stop_event(request_id="r1", session_key="s2"))  # not its session
        await engine.handle_web_event(contract.stop_event(request_id="r2", session_key="s1"))
        await reply(engine, "r1", b"answer")
        await asyncio.sleep(0)

    run(scenario())
    assert layer.of("r1", contract.CHAT_REPLY)[0]["raw_response"] == "answer"
    [error] = layer.of("r2", contract.CHAT_ERROR)
    assert error["code"] == contract.ERROR_STOPPED and contract.HTTP_STATUS_FOR_ERROR[error["code"]] == 409
    assert [p["requestId"] for p in link.requests()] == ["r1"] and "r2" not in store.questions


def test_the_assembler_holds_early_chunks_within_bounds():
    stream = StreamAssembler()
    assert stream.offer(2, "c") is False and stream.offer(1, "b") is False
    assert stream.offer(0, "a") is True and stream.text == "abc"
    assert stream.unrelayed() == (0, "abc") and stream.unrelayed() == (3, "")
    assert stream.offer(1, "b") is False and stream.dropped == 1
