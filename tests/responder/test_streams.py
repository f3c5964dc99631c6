import json
import threading

from responder.streams import Coalescer, StreamRegistry

TOPIC = "prompt_portal/assistant_response/s1/w1/r1"


class Recorder:
    def __init__(self):
        self.messages: list[tuple[str, str, int]] = []

    def __call__(self, topic, payload, qos):
        self.messages.append((topic, payload, qos))


def open_stream(registry, request_id="r1", session_id="s1"):
    return registry.open(request_id, session_id, "the question", TOPIC)


def test_chunks_and_the_final_reply_follow_the_protocol():
    sent = Recorder()
    registry = StreamRegistry(sent)
    stream = open_stream(registry)
    assert stream.send("Hello") and stream.send(" world")
    assert stream.finish("Hello world")
    assert sent.messages == [
        (TOPIC + "/stream", json.dumps({"requestId": "r1", "seq": 0, "delta": "Hello"}), 0),
        (TOPIC + "/stream", json.dumps({"requestId": "r1", "seq": 1, "delta": " world"}), 0),
        (TOPIC, "Hello world", 1),
    ]
    assert len(registry) == 0
    assert not stream.send("late") and not stream.finish("again")  # an ended stream publishes nothing more
    assert len(sent.messages) == 3


def test_cancel_stops_the_stream_and_hands_over_the_partial_answer():
    sent = Recorder()
    registry = StreamRegistry(sent)
    stream = open_stream(registry)
    stream.send("The exit")
    stream.send(" is")
    assert registry.cancel("r1", "s1") == (stream, "The exit is")
    assert stream.cancelled and len(registry) == 0
    assert not stream.send(" east") and not stream.finish("The exit is east")
    assert [m[2] for m in sent.messages] == [0, 0]  # no chunk and no final reply after the cancel
    assert registry.cancel("r1", "s1") is None  # a second cancel, or one of a finished request: ignored


def test_cancel_of_an_unknown_finished_or_foreign_request_is_ignored():
    registry = StreamRegistry(Recorder())
    assert registry.cancel("nope", None) is None
    stream = open_stream(registry)
    assert registry.cancel("r1", "another-session") is None and not stream.cancelled
    stream.finish("done")
    assert registry.cancel("r1", "s1") is None


def test_partial_answer_stops_at_the_first_gap_and_ignores_duplicates():
    registry = StreamRegistry(Recorder())
    stream = open_stream(registry)
    for seq, delta in [(1, " b"), (0, "a"), (0, "a"), (3, " d")]:
        stream.chunk(seq, delta)
    assert stream.partial == "a b"  # seq 2 never came: " d" is not part of what a reader can assemble
    stream.chunk(2, " c")
    assert stream.partial == "a b c d"
    assert stream.send(" e") and stream.partial == "a b c d e"  # numbering goes on after the highest seq


def test_registry_is_bounded_and_refuses_a_repeated_request_id():
    registry = StreamRegistry(Recorder(), max_streams=2)
    first = open_stream(registry, "r1")
    assert open_stream(registry, "r1") is None  # a redelivered request is answered without chunks
    assert open_stream(registry, "r2") is not None
    assert open_stream(registry, "r3") is None
    first.finish(None)  # ended without a final reply (!partial): its slot is free again
    assert open_stream(registry, "r3") is not None


def test_no_chunk_goes_out_after_a_cancel_from_another_thread():
    sent = Recorder()
    registry = StreamRegistry(sent)
    stream = open_stream(registry)
    cancelled = {}
    cancel_at = threading.Event()

    def cancel():
        cancel_at.wait(5)
        cancelled["partial"] = registry.cancel("r1", None)[1]

    thread = threading.Thread(target=cancel)
    thread.start()
    seq = 0
    while stream.send(f"{seq} "):
        seq += 1
        if seq == 50:
            cancel_at.set()
    thread.join(5)
    published = "".join(json.loads(payload)["delta"] for _, payload, _ in sent.messages)
    assert cancelled["partial"] == published  # exactly what went out, nothing after


def test_coalescer_joins_deltas_within_its_window():
    joiner = Coalescer(0.02)
    assert joiner.add("a", now=10.0) == "a"  # the first at once
    assert joiner.add("b", now=10.005) is None
    assert joiner.add("c", now=10.01) is None
    assert joiner.add("d", now=10.03) == "bcd"
    assert joiner.add("e", now=10.2) == "e"
    assert joiner.add("f", now=10.201) is None
    assert joiner.flush() == "f" and joiner.flush() == ""
