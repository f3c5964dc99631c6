"""The worker engine's rules, called unit by unit with fakes at its seams (a fake MQTT link, a recording channel
layer, in-memory hooks): no broker, no Redis, no sleeps. The faults that need the real parts are in
tests/integration/test_faults.py and test_llm_service_quirks.py."""

import asyncio
import json
import time

import pytest

from portal.mqtt import contract
from portal.mqtt.engine import EngineConfig, EngineHooks, WorkerEngine

BASE = "prompt_portal/assistant_response"
MQTT = {
    "TOPIC_ASSISTANT_RESPONSE": BASE,
    "TOPIC_USER_INPUT": "prompt_portal/user_input",
    "TOPIC_HINT": "maze/hint/+",
    "TOPIC_LLM_STATUS": ["maze/status"],
    "TOPIC_PROBE": "prompt_portal/probe",
    "MAX_PAYLOAD_BYTES": 10_000,
    "MAX_RECONNECT_ATTEMPTS": 0,
    "PROBE_INTERVAL": 5,
    "PROBE_TIMEOUT": 5,
}


class FakeLink:
    def __init__(self):
        self.connected = True
        self.published: list[tuple[str, dict, int]] = []
        self.fatal_error = None
        self.reconnect_attempts = 0

    def publish(self, topic, payload, qos, retain=False):
        if not self.connected:
            return False
        self.published.append((topic, json.loads(payload), qos))
        return True

    def requests(self):
        return [p for t, p, _ in self.published if t == MQTT["TOPIC_USER_INPUT"]]


class RecordingLayer:
    def __init__(self):
        self.events: list[dict] = []

    async def send(self, channel, event):
        self.events.append(event)

    async def group_send(self, group, event):
        self.events.append(event)

    def of(self, request_id, kind=None):
        return [e for e in self.events if e.get("request_id") == request_id and (kind is None or e["type"] == kind)]


class ChatStore:
    """The chat app's hooks, in memory: one LLM sessionId per chat session."""

    def __init__(self):
        self.questions: dict[str, str] = {}
        self.replies: dict[str, tuple[str, bool, dict]] = {}
        self.busy_with: str | None = None  # another worker's open request of the session, until it is "gone"
        self.begun_with_gone: list[tuple] = []

    def begin(self, *, question, request_id, holder, hold_for, gone=()):
        session_id, content = question["session_id"], question["content"]
        if self.busy_with is not None and self.busy_with not in gone:
            return {"busy": self.busy_with}
        self.begun_with_gone.append(tuple(gone))
        self.questions[request_id] = content
        return {
            "payload": {"sessionId": f"llm-{session_id}", "message": content, "systemPrompt": "p"},
            "user_message": {"content": content, "request_id": request_id},
            "notice": None,
        }

    def cancel(self, *, request_id):
        self.questions.pop(request_id, None)

    def store(self, *, request_id, text, is_error, metadata, session_id=None):
        if request_id not in self.questions:
            return None
        created = request_id not in self.replies
        self.replies.setdefault(request_id, (text, is_error, metadata))
        return {"message": {"content": self.replies[request_id][0], "request_id": request_id}, "created": created}


async def run_sync(func, **kwargs):
    return func(**kwargs)


@pytest.fixture
def world():
    store, layer, link = ChatStore(), RecordingLayer(), FakeLink()
    engine = WorkerEngine(
        config=EngineConfig(
            mqtt=MQTT,
            heartbeat_interval=1,
            pending_max=100,
            pending_max_age=120,
            session_queue_max=2,
            breaker_threshold=2,
            breaker_cooldown=30,
            llm_status_timeout=90,
        ),
        client_id="w1",
        channel_layer=layer,
        redis=None,
        link=link,
        run_sync=run_sync,
        hooks=EngineHooks(begin_chat_turn=store.begin, cancel_chat_turn=store.cancel, store_chat_reply=store.store),
    )
    return engine, store, layer, link


def request(engine, request_id, session=1, timeout=45.0):
    return engine.handle_web_event(
        contract.chat_request_event(
            request_id=request_id,
            session_key=f"s{session}",
            timeout=timeout,
            accept_by=time.time() + 5,
            question={"session_id": session, "content": f"question {request_id}", "overrides": {}},
            group="g",
        )
    )


def reply(engine, request_id, payload, session=1, client="w1"):
    topic = f"{BASE}/llm-{session}/{client}/{request_id}" if request_id else f"{BASE}/llm-{session}"
    return engine.handle_mqtt_message(topic, payload)


def run(coro):
    return asyncio.run(coro)


def test_a_json_answer_without_a_text_field_is_delivered_and_stored_as_it_came(world):
    engine, store, layer, link = world

    async def scenario():
        await request(engine, "r1")
        await reply(engine, "r1", b'{"action": "wait", "reason": "germ ahead"}')

    run(scenario())
    [delivered] = layer.of("r1", contract.CHAT_REPLY)
    assert delivered["raw_response"] == '{"action": "wait", "reason": "germ ahead"}' and not delivered["is_error"]
    assert store.replies["r1"][2] == {"json": {"action": "wait", "reason": "germ ahead"}}
    counters = engine.runtime.counters
    assert counters.malformed == 0 and counters.replies_delivered == 1 and len(engine.pending) == 0


def test_unreadable_replies_are_delivered_as_errors_and_never_open_the_breaker(world):
    engine, store, layer, _ = world

    async def scenario():
        for n in range(5):  # more than the breaker's threshold of 2
            await request(engine, f"r{n}")
            await reply(engine, f"r{n}", b"\xff\xfe")

    run(scenario())
    for n in range(5):
        [delivered] = layer.of(f"r{n}", contract.CHAT_REPLY)
        assert delivered["is_error"] and "not UTF-8" in delivered["raw_response"]
        assert store.replies[f"r{n}"][1] is True
    assert engine.breaker.state == "closed" and engine.runtime.counters.replies_unreadable == 5


def test_one_request_per_session_in_flight_the_next_waits_its_turn_in_order(world):
    engine, store, layer, link = world

    async def scenario():
        for rid in ("r1", "r2", "r3"):
            await request(engine, rid)
        await request(engine, "other", session=2)  # another session is not held up
        assert [p["requestId"] for p in link.requests()] == ["r1", "other"]
        assert [e["position"] for e in layer.events if e["type"] == contract.CHAT_QUEUED] == [1, 2]
        assert "r2" not in store.questions  # stored on its turn: history keeps the order the model saw
        await reply(engine, None, b"answer one")  # the fallback topic: the session's one request in flight
        await asyncio.sleep(0)  # the next turn starts in a task of its own
        assert [p["requestId"] for p in link.requests()] == ["r1", "other", "r2"]
        await reply(engine, "r2", b"answer two")
        await asyncio.sleep(0)
        await reply(engine, "r3", b"answer three")

    run(scenario())
    assert [store.replies[r][0] for r in ("r1", "r2", "r3")] == ["answer one", "answer two", "answer three"]
    assert [e["request_id"] for e in layer.events if e["type"] == contract.CHAT_ACCEPTED] == ["r1", "other", "r2", "r3"]


def test_past_the_sessions_line_a_clear_session_busy(world):
    engine, _, layer, _ = world

    async def scenario():
        for rid in ("r1", "r2", "r3", "r4"):  # one in flight, two waiting (session_queue_max=2), one too many
            await request(engine, rid)

    run(scenario())
    [refused] = layer.of("r4")
    assert refused["code"] == contract.ERROR_SESSION_BUSY and contract.HTTP_STATUS_FOR_ERROR[refused["code"]] == 429


def test_a_timeout_ends_the_turn_counts_for_the_breaker_and_lets_the_next_one_go(world):
    engine, _, layer, link = world

    async def scenario():
        await request(engine, "r1", timeout=10)
        await request(engine, "r2", timeout=10)
        await engine.expire(time.monotonic() + 10.5)
        await asyncio.sleep(0)

    run(scenario())
    assert layer.of("r1", contract.CHAT_ERROR)[0]["code"] == contract.ERROR_TIMEOUT
    assert [p["requestId"] for p in link.requests()] == ["r1", "r2"]
    assert engine.breaker.consecutive_failures == 1 and engine.runtime.counters.timeouts == 1


def test_a_message_waiting_too_long_in_line_times_out_without_blaming_the_model(world):
    engine, _, layer, _ = world

    async def scenario():
        await request(engine, "r1", timeout=10)
        await request(engine, "r2", timeout=3)
        await engine.expire(time.monotonic() + 4)

    run(scenario())
    assert layer.of("r2", contract.CHAT_ERROR)[0]["code"] == contract.ERROR_TIMEOUT
    assert engine.breaker.consecutive_failures == 0 and "r1" in engine.pending


def test_a_late_reply_is_stored_for_its_own_request_and_a_duplicate_once(world):
    engine, store, layer, _ = world

    async def scenario():
        await request(engine, "r1", timeout=1)
        await engine.expire(time.monotonic() + 2)
        await request(engine, "r2")
        await reply(engine, "r1", b"late answer")
        await reply(engine, "r1", b"late answer")  # QoS 1 delivered it twice
        await reply(engine, "r2", b"answer two")
        await reply(engine, "r2", b"answer two")

    run(scenario())
    assert store.replies["r1"][0] == "late answer" and store.replies["r2"][0] == "answer two"
    assert layer.of("r1", contract.CHAT_REPLY) == [] and len(layer.of("r2", contract.CHAT_REPLY)) == 1
    counters = engine.runtime.counters
    assert counters.replies_late == 1 and counters.replies_duplicate == 2


def test_a_fallback_reply_with_nothing_in_flight_is_never_stored(world):
    engine, store, _, _ = world
    run(reply(engine, None, b"forged answer"))
    assert store.replies == {} and engine.runtime.counters.replies_unmatched == 1


def test_a_reply_under_another_llm_session_is_refused_and_its_request_keeps_waiting(world):
    engine, store, _, _ = world

    async def scenario():
        await request(engine, "r1", session=1)
        await reply(engine, "r1", b"someone else's answer", session=2)

    run(scenario())
    assert "r1" in engine.pending and store.replies == {}
    assert engine.runtime.counters.replies_mismatched == 1


def test_cancel_drops_a_waiting_request_but_not_one_in_flight(world):
    engine, store, _, link = world

    async def scenario():
        await request(engine, "r1")
        await request(engine, "r2")
        await engine.handle_web_event(contract.cancel_event(request_id="r2"))
        await engine.handle_web_event(contract.cancel_event(request_id="r1"))
        await reply(engine, "r1", b"still stored")
        await asyncio.sleep(0)

    run(scenario())
    assert store.replies["r1"][0] == "still stored"  # the session's other sockets still see it
    assert [p["requestId"] for p in link.requests()] == ["r1"] and "r2" not in store.questions


def test_a_request_that_cannot_be_published_leaves_no_question(world):
    engine, store, layer, link = world

    class DropsAfterStore(ChatStore):
        def begin(self, **kwargs):
            link.connected = False  # the link drops between the store and the publish
            return super().begin(**kwargs)

    dropping = DropsAfterStore()
    engine.hooks = EngineHooks(
        begin_chat_turn=dropping.begin, cancel_chat_turn=dropping.cancel, store_chat_reply=dropping.store
    )
    run(request(engine, "r1"))
    assert layer.of("r1", contract.CHAT_ERROR)[0]["code"] == contract.ERROR_UNAVAILABLE
    assert dropping.questions == {} and len(engine.turns) == 0


def status(engine, service, state, *, retained=False, ts=None):
    body = {"service": service, "status": state}
    if ts is not None:
        body["ts"] = ts
    return engine.handle_mqtt_message("maze/status", json.dumps(body).encode(), retained)


def test_the_llm_is_online_while_any_instance_is(world):
    engine, _, layer, _ = world

    async def scenario():
        await status(engine, "llm-a", "online")
        await status(engine, "llm-b", "online")
        await request(engine, "r1")
        await status(engine, "llm-a", "offline")  # one instance's will
        assert engine.llm_online() is True and "r1" in engine.pending
        await status(engine, "llm-b", "offline")  # the last one

    run(scenario())
    assert engine.llm_online() is False
    assert layer.of("r1", contract.CHAT_ERROR)[0]["code"] == contract.ERROR_UNAVAILABLE


def test_an_offline_from_an_unknown_service_or_an_old_retained_status_changes_nothing(world):
    engine, _, _, _ = world
    engine.runtime.connected_since = time.time() - 1

    async def scenario():
        await status(engine, "llm-a", "online")
        await status(engine, "intruder", "offline")
        await status(engine, "llm-a", "offline", retained=True)  # the broker replaying an old will

    run(scenario())
    assert engine.llm_online() is True and engine.runtime.counters.status_ignored == 2


def test_a_silent_instance_stops_counting_after_the_status_timeout(world):
    engine, _, _, _ = world
    run(status(engine, "llm-a", "online"))
    assert engine.presence.online(time.time() + 89) is True
    assert engine.presence.online(time.time() + 91) is False  # stopped cleanly, said nothing: not online for long
    # A retained heartbeat is as old as its ts: one from a long-gone instance never makes the LLM online.
    run(status(engine, "llm-b", "online", retained=True, ts=time.time() - 600))
    assert engine.presence.snapshot(time.time())["instances"]["llm-b"]["online"] is False


def test_a_session_held_by_a_request_whose_holder_is_gone_goes_on_with_a_new_conversation(world):
    engine, store, layer, link = world
    # This worker's own request from before, no longer held (it timed out): its answer counts as lost.
    store.busy_with = f"w1|{engine.token}|old-request"
    run(request(engine, "r1"))
    assert [p["requestId"] for p in link.requests()] == ["r1"]
    assert store.begun_with_gone == [(store.busy_with,)]


def test_a_session_held_by_a_live_request_waits_and_times_out_in_line(world):
    engine, store, layer, link = world
    engine.config = EngineConfig(**{**engine.config.__dict__, "turn_lock_retry": 0.01})

    async def held_elsewhere(holder):
        return False  # another worker's request, alive

    engine._holder_gone = held_elsewhere
    store.busy_with = "w2|their-token|their-request"
    run(request(engine, "r1", timeout=0.05))
    assert link.requests() == [] and store.questions == {}
    assert layer.of("r1", contract.CHAT_ERROR)[0]["code"] == contract.ERROR_TIMEOUT
