"""The responder's streamed answers and cancels (PROTOCOL.md "Streamed answers", "Cancel"), without a broker: the
Responder publishes into a recorder, offline on a scheduler the test moves, in LLM mode against a local fake model."""

import json
import threading

import pytest

from responder.config import Settings
from responder.offline_stream import STREAM_FAILURE
from responder.payloads import PayloadError
from responder.service import Responder
from responder.topics import CHAT_PROJECT
from tests.responder.doubles import ManualScheduler, Published
from tests.responder.fake_model import FakeModel, Reply, chunk, completion, streamed

BASE = "prompt_portal/assistant_response"
USER_INPUT = "prompt_portal/user_input"
CANCEL = "prompt_portal/cancel"


def topic_of(request_id, session="s1"):
    return f"{BASE}/{session}/w1/{request_id}"


def chat(message, request_id="r1", session="s1", stream=True, **fields) -> bytes:
    body = {
        "sessionId": session,
        "message": message,
        "requestId": request_id,
        "clientId": "w1",
        "replyTopic": topic_of(request_id, session),
        **fields,
    }
    if stream is not None:
        body["stream"] = stream
    return json.dumps(body).encode()


def cancel(request_id="r1", session="s1") -> bytes:
    return json.dumps({"requestId": request_id, "sessionId": session, "clientId": "w1"}).encode()


def turns(responder, session="s1"):
    return responder.memory.open(CHAT_PROJECT, session).turns


# -- offline --------------------------------------------------------------------------------------------
@pytest.fixture
def offline():
    """(responder, published, scheduler) in offline mode at 10 tokens a second."""

    def make(**settings):
        settings.setdefault("stream_rate", 10)
        scheduler = ManualScheduler()
        published = Published(clock=scheduler)
        return Responder(Settings(**settings), publish=published, scheduler=scheduler), published, scheduler

    return make


def test_offline_stream_chunks_then_the_whole_answer(offline):
    responder, published, scheduler = offline(delay=1.5)
    responder.dispatch(USER_INPUT, chat("How do I escape the maze?"))
    scheduler.run()
    answer = "[offline] You said: How do I escape the maze?"
    stream_topic = topic_of("r1") + "/stream"
    *chunk_messages, final = published.messages
    assert {(topic, qos) for _, topic, _, qos in chunk_messages} == {(stream_topic, 0)}
    chunks = [json.loads(payload) for _, _, payload, _ in chunk_messages]
    assert [c["seq"] for c in chunks] == list(range(9)) and {c["requestId"] for c in chunks} == {"r1"}
    assert "".join(c["delta"] for c in chunks) == answer
    assert chunks[:3] == [
        {"requestId": "r1", "seq": 0, "delta": "[offline] "},
        {"requestId": "r1", "seq": 1, "delta": "You "},
        {"requestId": "r1", "seq": 2, "delta": "said: "},
    ]
    assert final[1:] == (topic_of("r1"), answer, 1)
    # RESPONDER_DELAY before the first chunk, then one a tenth of a second, the final reply with the last one.
    assert [at for at, *_ in chunk_messages] == pytest.approx([1.5 + i / 10 for i in range(9)])
    assert final[0] == pytest.approx(2.3)
    assert len(responder.streams) == 0


@pytest.mark.parametrize(
    "settings, request_fields",
    [
        ({}, {"stream": None}),  # no `stream` field: as before streaming existed
        ({}, {"stream": False}),
        ({}, {"stream": "yes"}),
        ({"stream_rate": 0}, {}),  # rate 0: the old behaviour, on request
        ({}, {"replyTopic": "elsewhere/s1/w1/r1"}),  # an invalid replyTopic: answered on the fallback topic
        ({}, {"requestId": None}),  # chunks must name their request
    ],
)
def test_only_the_final_reply_when_streaming_is_not_asked_for_or_not_possible(offline, settings, request_fields):
    responder, published, scheduler = offline(delay=0.5, **settings)
    body = json.loads(chat("hello there"))
    body.update(request_fields)
    responder.dispatch(USER_INPUT, json.dumps({k: v for k, v in body.items() if v is not None}).encode())
    scheduler.run()
    ((at, topic, payload, qos),) = published.messages
    assert payload == "[offline] You said: hello there" and qos == 1 and at == 0.5
    assert topic in (topic_of("r1"), f"{BASE}/s1")


@pytest.mark.parametrize("message, reply", [("!error now", "Error: simulated model failure"), ("!overload", None)])
def test_error_answers_are_only_a_final_reply(offline, message, reply):
    responder, published, scheduler = offline()
    responder.dispatch(USER_INPUT, chat(message))
    scheduler.run()
    ((_, topic, payload, qos),) = published.messages
    assert topic == topic_of("r1") and qos == 1
    assert payload == (reply or "Server is overloaded. Please try again in a moment.")


def test_noreply_and_sleep_with_streaming(offline):
    responder, published, scheduler = offline()
    responder.dispatch(USER_INPUT, chat("!noreply", request_id="r1"))
    responder.dispatch(USER_INPUT, chat("!sleep 3 later", request_id="r2"))
    scheduler.run()
    assert published.finals(topic_of("r1")) == [] and len(responder.streams) == 0
    assert published.messages[0][0] == 3.0  # the !sleep delay comes before the first chunk
    assert published.finals(topic_of("r2")) == ["[offline] You said: !sleep 3 later"]


MESSAGE = "one two three four five six"


def run_hook(offline, hook):
    responder, published, scheduler = offline()
    message = f"{hook} {MESSAGE}"
    responder.dispatch(USER_INPUT, chat(message))
    scheduler.run()
    stream_topic = topic_of("r1") + "/stream"
    chunks = [(at, json.loads(p)) for at, t, p, _ in published.messages if t == stream_topic]
    finals = [(at, p, qos) for at, t, p, qos in published.messages if t == topic_of("r1")]
    assert published.messages[-1][1] == (topic_of("r1") if finals else stream_topic)  # the final reply comes last
    assert len(responder.streams) == 0  # every stream leaves the registry, with or without a final reply
    return f"[offline] You said: {message}", chunks, finals


def test_hook_stall(offline):
    answer, chunks, finals = run_hook(offline, "!stall 2")
    assert [c["seq"] for _, c in chunks] == list(range(11))
    assert chunks[4][0] == pytest.approx(0.4) and chunks[5][0] == pytest.approx(2.5)  # the pause after half
    assert finals == [(pytest.approx(3.0), answer, 1)]


def test_hook_partial(offline):
    answer, chunks, finals = run_hook(offline, "!partial")
    assert [c["seq"] for _, c in chunks] == [0, 1, 2, 3, 4] and finals == []


def test_hook_streamfail(offline):
    answer, chunks, finals = run_hook(offline, "!streamfail")
    assert [c["seq"] for _, c in chunks] == [0, 1, 2, 3, 4]
    assert finals == [(pytest.approx(0.5), STREAM_FAILURE, 1)]


def test_hook_dupchunks(offline):
    answer, chunks, finals = run_hook(offline, "!dupchunks")
    assert [c["seq"] for _, c in chunks] == [seq for seq in range(10) for _ in range(2)]
    assert "".join(c["delta"] for _, c in chunks[::2]) == answer and finals[0][1] == answer


def test_hook_shufflechunks(offline):
    answer, chunks, finals = run_hook(offline, "!shufflechunks")
    assert [c["seq"] for _, c in chunks] == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8]
    assert "".join(c["delta"] for c in sorted((c for _, c in chunks), key=lambda c: c["seq"])) == answer
    assert finals[0][1] == answer


def test_hook_dropchunks(offline):
    answer, chunks, finals = run_hook(offline, "!dropchunks")
    assert [c["seq"] for _, c in chunks] == [0, 1, 3, 4, 6, 7, 9]
    assert finals[0][1] == answer  # the final reply is still whole


def test_stream_hooks_without_streaming_are_plain_echoes(offline):
    responder, published, scheduler = offline()
    responder.dispatch(USER_INPUT, chat("!partial hello", stream=None))
    scheduler.run()
    assert [m[1:] for m in published.messages] == [(topic_of("r1"), "[offline] You said: !partial hello", 1)]


def test_cancel_mid_stream_sends_no_final_reply_and_remembers_the_partial_answer(offline):
    responder, published, scheduler = offline()
    responder.dispatch(USER_INPUT, chat(MESSAGE))
    scheduler.run(until=0.35)  # seq 0..3
    responder.dispatch(CANCEL, cancel("r1"))
    scheduler.run()
    chunks = published.chunks(topic_of("r1"))
    assert [c["seq"] for c in chunks] == [0, 1, 2, 3] and published.finals(topic_of("r1")) == []
    assert turns(responder) == ((MESSAGE, "[offline] You said: one "),)


def test_cancel_before_the_first_chunk_remembers_nothing(offline):
    responder, published, scheduler = offline(delay=5)
    responder.dispatch(USER_INPUT, chat(MESSAGE))
    responder.dispatch(CANCEL, cancel("r1"))
    scheduler.run()
    assert published.messages == [] and turns(responder) == ()


def test_unknown_finished_and_malformed_cancels(offline):
    responder, published, scheduler = offline()
    responder.dispatch(CANCEL, cancel("never-seen"))
    responder.dispatch(USER_INPUT, chat("short"))
    scheduler.run()
    responder.dispatch(CANCEL, cancel("r1"))  # finished already: ignored
    assert published.finals(topic_of("r1")) == ["[offline] You said: short"] and turns(responder) == ()
    with pytest.raises(PayloadError):
        responder.dispatch(CANCEL, b'{"sessionId": "s1"}')


def test_cancel_topic_is_subscribed_with_the_chat_project():
    assert CANCEL in Responder(Settings()).subscriptions()
    assert "other/cancel" in Responder(Settings(topic_cancel="other/cancel")).subscriptions()
    assert CANCEL not in Responder(Settings(projects=("maze",))).subscriptions()


def test_a_thousand_streams_at_once_need_no_thread_each():
    published = Published()
    responder = Responder(Settings(stream_rate=200), publish=published)
    responder.start_workers()
    threads = set(threading.enumerate())
    try:
        for i in range(1000):
            responder.dispatch(USER_INPUT, chat(f"question {i}", request_id=f"r{i}", session=f"s{i}"))
        assert set(threading.enumerate()) - threads == set()
        published.wait_for(lambda messages: sum(qos == 1 for *_, qos in messages) == 1000)
    finally:
        responder.stop()
    assert published.finals(topic_of("r999", "s999")) == ["[offline] You said: question 999"]
    assert len(published.chunks(topic_of("r999", "s999"))) == 5


# -- LLM mode -------------------------------------------------------------------------------------------
@pytest.fixture
def model():
    server = FakeModel().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def llm(model):
    """(responder, published) in LLM mode against the fake model; one pool thread, so jobs run in order."""
    started = []

    def make(**settings):
        settings = {"llm_base_url": model.url, "llm_max_retries": 0, "max_concurrency": 1, **settings}
        published = Published()
        responder = Responder(Settings(**settings), publish=published)
        responder.start_workers()
        started.append(responder)
        return responder, published

    try:
        yield make
    finally:
        for responder in started:
            responder.stop()


def final_of(published, request_id="r1"):
    published.wait_for(lambda messages: any(t == topic_of(request_id) for _, t, _, _ in messages))
    (reply,) = published.finals(topic_of(request_id))
    return reply


def test_llm_streamed_answer(llm, model):
    responder, published = llm()
    model.answer(streamed("The exit", " is", " east", "."), completion("Again."))
    responder.dispatch(USER_INPUT, chat("Where is the exit?", systemPrompt="Be brief.", temperature=0.3))
    assert final_of(published) == "The exit is east."
    chunks = published.chunks(topic_of("r1"))
    assert chunks and [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert "".join(c["delta"] for c in chunks) == "The exit is east."
    assert {qos for _, t, _, qos in published.messages if t.endswith("/stream")} == {0}
    assert published.messages[-1][1:] == (topic_of("r1"), "The exit is east.", 1)
    body = model.requests[0]["body"]
    assert body["stream"] is True and body["temperature"] == 0.3 and "top_p" not in body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is the exit?"},
    ]
    # The answer is remembered: the next request carries it.
    responder.dispatch(USER_INPUT, chat("And then?", request_id="r2", stream=None))
    assert final_of(published, "r2") == "Again."
    assert len(model.requests[1]["body"]["messages"]) == 4 and "stream" not in model.requests[1]["body"]
    assert published.chunks(topic_of("r2")) == []


@pytest.mark.parametrize(
    "reply, error",
    [
        (lambda: Reply(500, {"error": {"message": "no slots"}}), "Error: model endpoint answered HTTP 500: no slots"),
        (lambda: Reply(429, {"error": {"message": "slow down"}}), "Error: rate limited: slow down"),
        (lambda: Reply(hold=threading.Event(), body={}), "Error: model did not answer within 0.3 s"),
    ],
)
@pytest.mark.parametrize("stream", [True, None])
def test_llm_failures_become_an_error_reply(llm, model, reply, error, stream):
    responder, published = llm(llm_timeout=0.3)
    model.answer(reply())
    responder.dispatch(USER_INPUT, chat("hello", stream=stream))
    assert final_of(published) == error
    assert published.chunks(topic_of("r1")) == [] and turns(responder) == ()


def test_llm_stream_failing_part_way_ends_with_an_error_reply(llm, model):
    responder, published = llm()
    model.answer(Reply(events=[chunk("The exit"), chunk(" is"), {"error": {"message": "out of memory"}}]))
    responder.dispatch(USER_INPUT, chat("Where?"))
    assert final_of(published) == "Error: model failed mid-answer: out of memory"
    # " is" may still have been held back to join a later delta when the error came.
    assert "".join(c["delta"] for c in published.chunks(topic_of("r1"))) in ("The exit", "The exit is")
    assert turns(responder) == ()  # no complete answer, nothing remembered


def test_llm_stream_going_silent_part_way_times_out(llm, model):
    responder, published = llm(llm_timeout=0.3)
    model.answer(Reply(events=[chunk("The exit"), chunk(" is")], hold=threading.Event(), hold_after=1))
    responder.dispatch(USER_INPUT, chat("Where?"))
    assert final_of(published) == "Error: model went silent mid-answer for more than 0.3 s"


def test_llm_cancel_mid_stream_stops_the_model_and_remembers_the_partial_answer(llm, model):
    responder, published = llm()
    release = threading.Event()
    events = [chunk("The exit"), chunk(" is"), chunk(" east"), chunk(".")]
    model.answer(Reply(events=events, hold=release, hold_after=2))
    responder.dispatch(USER_INPUT, chat("Where?"))
    published.wait_for(lambda messages: len(messages) >= 1)  # the first chunk is out at once
    responder.dispatch(CANCEL, cancel("r1"))
    release.set()  # more of the answer arrives: the relay sees the cancel and closes the stream
    done = threading.Event()
    assert responder.pool.submit(done.set)  # one pool thread: this runs once the streaming job has ended
    assert done.wait(10)
    assert published.finals(topic_of("r1")) == []
    streamed_text = "".join(c["delta"] for c in published.chunks(topic_of("r1")))
    assert streamed_text in ("The exit", "The exit is")  # " is" may have been held back with "The exit"
    assert turns(responder) == (("Where?", streamed_text),)


def test_llm_cancel_before_its_turn_never_asks_the_model(llm, model):
    responder, published = llm()
    busy = threading.Event()
    model.answer(Reply(hold=busy, body={"choices": [{"message": {"content": "first"}}]}), streamed("second"))
    responder.dispatch(USER_INPUT, chat("first", request_id="r1", stream=None))
    responder.dispatch(USER_INPUT, chat("second", request_id="r2"))  # waits behind r1 for the one pool thread
    responder.dispatch(CANCEL, cancel("r2"))
    busy.set()
    assert final_of(published, "r1") == "first"
    done = threading.Event()
    assert responder.pool.submit(done.set) and done.wait(10)
    assert len(model.requests) == 1 and published.finals(topic_of("r2")) == []


def test_llm_maze_hints_still_work(llm, model):
    responder, published = llm()
    model.answer(completion('Here:\n```json\n{"hint": "LLM says east"}\n```'))
    state = {"sessionId": "game-1", "player_pos": [0, 0], "exit_pos": [2, 0], "visible_map": [[1, 1, 1]]}
    responder.dispatch("maze/state", json.dumps(state).encode())
    published.wait_for(lambda messages: any(t == "maze/hint/game-1" for _, t, _, _ in messages))
    assert json.loads(published.finals("maze/hint/game-1")[0]) == {"hint": "LLM says east"}
    assert "stream" not in model.requests[0]["body"]
