"""The worker publishes an accepted chat request before it stores the question (portal/mqtt/engine.py), so the
question's database write runs while the model works instead of before it. What must still hold: the reply is
stored after its question, the waiter hears "accepted" before the reply, and a reply whose question could not be
stored is never kept (the waiter gets a clear error instead).

The engine runs in this process against its own real mosquitto and Redis; the test plays the LLM service on the
wire and plugs recording store hooks into the engine's hook points (EngineConfig), as the chat app plugs its own.
"""
import asyncio
import json
import threading
import time

import pytest
from django.conf import settings

from portal.channel_layer import CoalescingPubSubChannelLayer
from portal.mqtt import contract
from portal.mqtt.engine import EngineConfig, WorkerEngine
from portal.mqtt.shared_state import redis_client
from tests.harness.mqtt import MqttPeer
from tests.harness.procs import Mosquitto, RedisServer

# The engine's database thread checks its connections around each call (portal/db.py), even though these hooks
# run no query.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("engine")
    broker, redis = Mosquitto(workdir).start(), RedisServer(workdir).start()
    yield broker, redis
    broker.stop()
    redis.stop()


class RecordingStores:
    """The chat app's two store hooks, recording their order; the question store holds until the LLM has the
    request (at most 5 s), so a worker that stored before publishing is caught waiting."""

    def __init__(self, question_outcome: str, hold_question: float = 0.0):
        self.question_outcome = question_outcome
        self.hold_question = hold_question  # seconds the question's store takes once the LLM has the request
        self.llm_has_request = threading.Event()
        self.question_waited_for_llm = None
        self.calls: list[str] = []

    def question(self, *, session_id, content, request_id):
        self.question_waited_for_llm = self.llm_has_request.wait(5)
        time.sleep(self.hold_question)
        self.calls.append("question")
        if self.question_outcome == "database error":
            raise RuntimeError("database unavailable")
        if self.question_outcome == "session gone":
            return None
        return {"id": 1, "role": "user", "content": content, "request_id": request_id}

    def reply(self, *, session_key, request_id, text, is_error, metadata):
        self.calls.append("reply")
        return {"message": {"id": 2, "role": "assistant", "content": text, "request_id": request_id},
                "created": True}


def run_one_turn(servers, stores: RecordingStores, *, timeout: float = 10, llm_delay: float = 0.0,
                 settle: float = 0.3) -> tuple[list[dict], WorkerEngine]:
    """One chat request through a fresh engine, answered by the test's LLM after `llm_delay`; the events its
    waiter got up to the first final one, and the engine (`settle` seconds later, for its counters)."""
    broker, redis = servers
    mqtt = {**settings.MQTT, "BROKER_HOST": "127.0.0.1", "BROKER_PORT": broker.port}
    llm = MqttPeer(broker.port, subscribe=(mqtt["TOPIC_USER_INPUT"],))

    def answer_requests():
        topic, payload, *_ = llm.next_message(timeout=10)
        request = json.loads(payload)
        stores.llm_has_request.set()
        time.sleep(llm_delay)
        llm.publish(request["replyTopic"], json.dumps({"response": f"answer to {request['message']}"}))

    responder = threading.Thread(target=answer_requests, daemon=True)
    responder.start()

    async def main():
        layer = CoalescingPubSubChannelLayer(hosts=[redis.url], prefix="t")
        engine = WorkerEngine(
            config=EngineConfig(mqtt=mqtt, heartbeat_interval=1.0, pending_max=10, pending_max_age=30.0,
                                chat_reply_store=stores.reply, chat_question_store=stores.question),
            client_id="engine-test", channel_layer=layer, redis=redis_client(redis.url),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(engine.run(stop))
        try:
            for _ in range(100):
                if engine.link.connected:
                    break
                await asyncio.sleep(0.05)
            waiter = await layer.new_channel()
            await layer.send(contract.worker_channel("engine-test"), contract.chat_request_event(
                request_id="r1", session_key="s1", payload={"sessionId": "s1", "message": "hello"}, timeout=timeout,
                accept_by=9e9, reply_channel=waiter, group=None, question={"session_id": 1, "content": "hello"},
            ))
            events = []
            while not events or events[-1]["type"] == contract.CHAT_ACCEPTED:
                events.append(await asyncio.wait_for(layer.receive(waiter), 10))
            await asyncio.sleep(settle)  # a reply that should be dropped has had time to be stored, wrongly
            return events, engine
        finally:
            stop.set()
            await running
            await layer.flush()

    try:
        return asyncio.run(main())
    finally:
        responder.join(5)
        llm.close()


def test_the_request_reaches_the_llm_before_its_question_is_stored_and_the_reply_after_it(servers):
    stores = RecordingStores("stored")
    events, engine = run_one_turn(servers, stores)
    assert stores.question_waited_for_llm is True  # the LLM had the request while the question was being stored
    assert stores.calls == ["question", "reply"]
    assert [e["type"] for e in events] == [contract.CHAT_ACCEPTED, contract.CHAT_REPLY]
    assert events[0]["user_message"]["content"] == "hello"
    assert events[1]["raw_response"] == "answer to hello"
    assert events[1]["user_message"]["request_id"] == "r1"
    assert engine.runtime.counters.replies_delivered == 1


@pytest.mark.parametrize(("outcome", "code"), [
    ("database error", contract.ERROR_UNAVAILABLE),
    ("session gone", contract.ERROR_GONE),
])
def test_a_reply_whose_question_could_not_be_stored_is_not_kept(servers, outcome, code):
    stores = RecordingStores(outcome)
    events, engine = run_one_turn(servers, stores)
    assert stores.question_waited_for_llm is True
    assert [e["type"] for e in events] == [contract.CHAT_ERROR]
    assert events[0]["code"] == code
    assert stores.calls == ["question"]  # the reply came, and was not stored
    assert engine.runtime.counters.replies_unkept == 1
    assert engine.runtime.counters.replies_delivered == 0


def test_a_late_reply_waits_for_its_question_and_is_not_kept_if_that_fails(servers):
    # The request times out while its question is still being written; its reply comes after the timeout but
    # before the write fails. Stored at once as a late reply, it would be kept without its question.
    stores = RecordingStores("database error", hold_question=1.5)
    events, engine = run_one_turn(servers, stores, timeout=0.5, llm_delay=0.9, settle=1.5)
    assert [e["type"] for e in events] == [contract.CHAT_ERROR]
    assert events[0]["code"] == contract.ERROR_TIMEOUT
    assert stores.calls == ["question"]
    assert engine.runtime.counters.replies_unkept == 1
    assert engine.runtime.counters.replies_late == 0
