import threading
import time
from contextlib import closing

import pytest

from responder.llm import LLMClient, LLMError, hint_from_answer
from tests.responder.fake_model import FakeModel, Reply, chunk, completion, streamed

USER = [{"role": "user", "content": "U"}]


@pytest.fixture
def model():
    server = FakeModel().start()
    try:
        yield server
    finally:
        server.stop()


def client(server, **kw):
    kw.setdefault("max_retries", 0)
    return LLMClient(server.url, model="m1", **kw)


def test_completion_request_and_answer(model):
    model.answer(completion(" Head east. "))
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    text = client(model, api_key="k").complete(messages, temperature=0.5, top_p=0.9, max_tokens=64)
    assert text == "Head east."
    (request,) = model.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["body"] == {"model": "m1", "messages": messages, "temperature": 0.5, "top_p": 0.9, "max_tokens": 64}


def test_unset_sampling_settings_are_not_sent_and_a_missing_key_is_a_placeholder(model):
    model.answer(completion("ok"))
    client(model).complete(USER)
    (request,) = model.requests
    assert request["auth"] == "Bearer not-needed"  # local endpoints ignore it; the client needs one
    assert set(request["body"]) == {"model", "messages"}


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(429, {"error": {"message": "slow down"}}), "^rate limited: slow down$"),
        (Reply(500, b"oops"), "^model endpoint answered HTTP 500: oops$"),
        (Reply(503, {"error": "loading model"}), "^model endpoint answered HTTP 503: loading model$"),
        (Reply(200, b"not json"), "unexpected response"),
        (Reply(200, {"choices": []}), "unexpected response"),
        (completion("   "), "empty answer"),
    ],
)
def test_failures_become_short_reasons(model, reply, reason):
    model.answer(reply)
    with pytest.raises(LLMError, match=reason):
        client(model).complete(USER)


def test_failed_calls_are_retried(model):
    # retry-after-ms keeps the client's back-off short; the retries themselves are the client's.
    model.answer(Reply(500, b"busy", headers={"retry-after-ms": "1"}), completion("second time lucky"))
    assert client(model, max_retries=2).complete(USER) == "second time lucky"
    assert len(model.requests) == 2


def test_a_silent_endpoint_times_out(model):
    model.answer(Reply(hold=threading.Event(), body={"choices": []}))
    with pytest.raises(LLMError, match=r"^model did not answer within 0.2 s$"):
        client(model, timeout=0.2).complete(USER)


def test_unreachable_endpoint():
    with pytest.raises(LLMError, match="cannot reach the model endpoint"):
        LLMClient("http://127.0.0.1:1/v1", model="m", max_retries=0).complete(USER)


# -- streaming ----------------------------------------------------------------------------------------
def test_stream_yields_the_answer_as_it_comes_and_asks_for_a_stream(model):
    model.answer(streamed("\n ", " The exit", " is east", ".", " \n"))
    pieces = list(client(model).stream(USER, temperature=0.2))
    # Leading white space dropped, trailing held back: the pieces join up to the stripped answer.
    assert pieces == ["The exit", " is east", "."]
    (request,) = model.requests
    assert request["body"] == {"model": "m1", "messages": USER, "temperature": 0.2, "stream": True}


@pytest.mark.parametrize(
    "reply, reason",
    [
        (streamed(" ", "\n"), "^model returned an empty answer$"),
        (Reply(500, {"error": {"message": "no slots"}}), "^model endpoint answered HTTP 500: no slots$"),
        (Reply(events=[chunk("Hi"), {"error": {"message": "oom"}}]), "^model failed mid-answer: oom$"),
        (Reply(events=[chunk("Hi"), chunk("!")], cut=True), "^connection to the model endpoint was lost mid-answer$"),
        (Reply(events=["not json"]), "unexpected response"),
    ],
)
def test_stream_failures_become_short_reasons(model, reply, reason):
    model.answer(reply)
    with pytest.raises(LLMError, match=reason):
        list(client(model).stream(USER))


def test_a_stream_that_goes_silent_part_way_times_out(model):
    model.answer(Reply(events=[chunk("Hi"), chunk("!")], hold=threading.Event(), hold_after=1))
    received = []
    with pytest.raises(LLMError, match=r"^model went silent mid-answer for more than 0.2 s$"):
        for piece in client(model, timeout=0.2).stream(USER):
            received.append(piece)
    assert received == ["Hi"]


def test_closing_the_stream_early_does_not_wait_for_the_rest(model):
    release = threading.Event()  # the rest of the answer is held until the test is over
    model.answer(Reply(events=[chunk("one"), chunk(" two"), chunk(" three")], hold=release, hold_after=1))
    started = time.monotonic()
    with closing(client(model).stream(USER)) as pieces:
        assert next(pieces) == "one"
    assert time.monotonic() - started < 5  # reading the rest would have waited for `release` (10 s)


def test_hint_is_found_in_prose_and_fences():
    assert hint_from_answer('{"hint": "Go east", "path": [[1, 0]]}') == {"hint": "Go east", "path": [[1, 0]]}
    assert hint_from_answer('Sure!\n```json\n{"hint": "Go north"}\n```') == {"hint": "Go north"}
    assert hint_from_answer('{"note": {"x": 1}} then {"hint": "Go west"}') == {"hint": "Go west"}
    assert hint_from_answer("Go east, then north.") is None
    assert hint_from_answer('{"hint": ""}') is None
