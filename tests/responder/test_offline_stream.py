import pytest

from responder.offline import chat_answer
from responder.offline_stream import STREAM_FAILURE, Step, StreamPlayer, plan, tokens
from responder.streams import StreamRegistry
from tests.responder.doubles import ManualScheduler

MESSAGE = "one two three four five six"  # the echo has 9 tokens: "[offline] You said: one ... six"
TEXT = "[offline] You said: " + MESSAGE


def chunks(steps):
    return [(step.at, step.seq, step.text) for step in steps if step.seq is not None]


def finals(steps):
    return [(step.at, step.text) for step in steps if step.seq is None]


def test_tokens_join_up_to_the_text():
    for text in ["[offline] You said: hi  there\n", "  lead", "a", "", "x \t y"]:
        assert "".join(tokens(text)) == text
    assert tokens("[offline] You said: hi  there") == ["[offline] ", "You ", "said: ", "hi  ", "there"]


def test_plain_plan_is_one_token_per_step_at_the_rate_then_the_final_reply():
    steps = plan(chat_answer(MESSAGE), rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == list(range(9))
    assert [at for at, _, _ in chunks(steps)] == pytest.approx([i / 10 for i in range(9)])
    assert "".join(text for _, _, text in chunks(steps)) == TEXT
    assert steps[-1] == Step(pytest.approx(0.8), None, TEXT)  # right after the last chunk


def test_stall_pauses_after_half_the_chunks():
    answer = chat_answer("!stall 2 " + MESSAGE)
    steps = plan(answer, rate=10)
    times = [at for at, _, _ in chunks(steps)]
    assert len(times) == 11
    assert times[:5] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert times[5:] == pytest.approx([2.5, 2.6, 2.7, 2.8, 2.9, 3.0])
    assert finals(steps) == [(pytest.approx(3.0), answer.text)]


def test_partial_stops_after_half_the_chunks_with_no_final_reply():
    steps = plan(chat_answer("!partial " + MESSAGE), rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == [0, 1, 2, 3, 4] and finals(steps) == []


def test_streamfail_ends_with_an_error_after_half_the_chunks():
    steps = plan(chat_answer("!streamfail " + MESSAGE), rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == [0, 1, 2, 3, 4]
    assert finals(steps) == [(pytest.approx(0.5), STREAM_FAILURE)]
    assert STREAM_FAILURE == "Error: simulated model failure mid-stream"


def test_dupchunks_sends_every_chunk_twice():
    answer = chat_answer("!dupchunks " + MESSAGE)
    steps = plan(answer, rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == [s for s in range(10) for _ in range(2)]
    assert finals(steps) == [(pytest.approx(0.9), answer.text)]


def test_shufflechunks_swaps_each_pair_at_the_pairs_later_time():
    answer = chat_answer("!shufflechunks " + MESSAGE)  # 10 tokens
    steps = plan(answer, rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8]
    assert [at for at, _, _ in chunks(steps)] == pytest.approx([0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.7, 0.7, 0.9, 0.9])
    by_seq = sorted((seq, text) for _, seq, text in chunks(steps))
    assert "".join(text for _, text in by_seq) == answer.text  # each chunk keeps its true seq
    assert finals(steps) == [(pytest.approx(0.9), answer.text)]
    odd = plan(chat_answer("!shufflechunks " + MESSAGE + " seven"), rate=10)
    assert [seq for _, seq, _ in chunks(odd)] == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 10]  # the odd one out alone


def test_dropchunks_never_sends_every_third_chunk():
    answer = chat_answer("!dropchunks " + MESSAGE)
    steps = plan(answer, rate=10)
    assert [seq for _, seq, _ in chunks(steps)] == [0, 1, 3, 4, 6, 7, 9]
    assert finals(steps) == [(pytest.approx(0.9), answer.text)]  # still the whole answer


class Timed:
    """StreamRegistry publishes text (the service encodes it): (seconds from the start, topic, payload, qos)."""

    def __init__(self, scheduler):
        self.scheduler = scheduler
        self.messages = []

    def __call__(self, topic, payload, qos):
        self.messages.append((round(self.scheduler.now() - 1000.0, 6), topic, payload, qos))


def test_player_publishes_each_step_at_its_time_after_the_delay():
    scheduler = ManualScheduler()
    sent = Timed(scheduler)
    stream = StreamRegistry(sent).open("r1", "s1", "m", "base/s1/w1/r1")
    player = StreamPlayer(scheduler, stream, plan(chat_answer("a b"), rate=4))  # 5 tokens
    assert player.start(delay=2.0)
    assert len(scheduler.heap) == 1  # one entry per stream at any time, whatever its length
    scheduler.run()
    timetable = [(at, qos) for at, _, _, qos in sent.messages]
    assert timetable == [(2.0, 0), (2.25, 0), (2.5, 0), (2.75, 0), (3.0, 0), (3.0, 1)]
    assert sent.messages[-1][1:] == ("base/s1/w1/r1", "[offline] You said: a b", 1)


def test_player_stops_at_a_cancel_and_skips_to_the_final_reply_when_the_heap_is_full():
    scheduler = ManualScheduler()
    sent = Timed(scheduler)
    registry = StreamRegistry(sent)
    stream = registry.open("r1", "s1", "m", "t")
    StreamPlayer(scheduler, stream, plan(chat_answer(MESSAGE), rate=10)).start(0)
    scheduler.run(until=0.25)  # seq 0, 1, 2
    assert registry.cancel("r1", None)[1] == "[offline] You said: "
    scheduler.run()
    assert len(sent.messages) == 3 and not scheduler.heap

    sent.messages.clear()
    stream = registry.open("r2", "s1", "m", "t")
    StreamPlayer(scheduler, stream, plan(chat_answer(MESSAGE), rate=10)).start(0)
    scheduler.accept = False
    scheduler.run()
    assert [(topic, qos) for _, topic, _, qos in sent.messages] == [("t/stream", 0), ("t", 1)]
    assert sent.messages[-1][2] == TEXT and len(registry) == 0
