"""Pure bookkeeping: turns in flight, one conversation order per session, recent ids, reconnect schedule."""

import itertools

from portal.mqtt.pending import ChatTurn, PendingRegistry, RecentIds
from portal.mqtt.reconnect import reconnect_delays
from portal.mqtt.turns import SessionQueues


def turn(rid, session="s", deadline=100.0, created=0.0, llm_key=None):
    return ChatTurn(request_id=rid, session_key=session, deadline=deadline, created_at=created, llm_key=llm_key)


def test_registry_is_bounded_and_refuses_duplicates():
    registry = PendingRegistry(max_size=2)
    assert registry.add(turn("a")) and registry.add(turn("b"))
    assert not registry.add(turn("c"))
    assert registry.pop("a").request_id == "a"
    assert not registry.add(turn("b"))
    assert registry.add(turn("c")) and len(registry) == 2


def test_a_fallback_reply_finds_the_turn_in_flight_under_its_llm_session_id():
    registry = PendingRegistry(10)
    for rid, key in [("1", "x"), ("2", "y")]:
        registry.add(turn(rid, llm_key=key))
    assert registry.for_llm_key("x").request_id == "1"
    assert registry.for_llm_key("y").request_id == "2"
    assert registry.for_llm_key("z") is None


def test_expiry_by_deadline_and_by_hard_maximum_age():
    registry = PendingRegistry(10)
    registry.add(turn("due", deadline=5.0, created=0.0))
    registry.add(turn("old", deadline=1000.0, created=0.0))
    registry.add(turn("young", deadline=1000.0, created=50.0))
    expired = registry.expired(now=130.0, max_age=120.0)
    assert sorted(t.request_id for t in expired) == ["due", "old"]
    assert "young" in registry


def test_recent_ids_tell_duplicates_from_late_replies_and_forget_the_oldest():
    recent = RecentIds(max_size=2)
    recent.mark_answered("a")
    recent.mark_abandoned("b", "k1")
    assert recent.is_answered("a") and not recent.is_answered("b") and recent.session_of("b") == "k1"
    recent.mark_answered("b")  # its late reply came and was stored
    recent.mark_abandoned("b")  # a later sweep must not forget that it was answered
    assert recent.is_answered("b")
    recent.mark_answered("c")
    assert "a" not in recent and "c" in recent


def test_one_turn_per_session_the_rest_wait_in_order_and_the_line_is_bounded():
    queues = SessionQueues(max_waiting=2)
    a, b, c, d, other = (object() for _ in range(5))
    assert queues.offer("s", a) == 0  # its turn now
    assert queues.offer("s", b) == 1 and queues.offer("s", c) == 2
    assert queues.offer("s", d) is None  # the line is full: the sender gets a 429
    assert queues.offer("t", other) == 0  # another session is not held up
    assert queues.finish("s", b) is None  # only the active one can finish
    assert queues.finish("s", a) is b and queues.active("s") is b
    assert queues.withdraw("s", c) and queues.waiting() == []
    assert queues.finish("s", b) is None and queues.active("s") is None
    assert len(queues) == 1


def test_reconnects_are_steady_through_the_first_minute_then_back_off_to_the_cap():
    now = [0.0]
    delays = reconnect_delays(0.5, 30.0, 60.0, clock=lambda: now[0], uniform=lambda lo, hi: (lo + hi) / 2)
    fast = []
    while now[0] < 60.0:
        fast.append(next(delays))
        now[0] += fast[-1]
    # Within the first minute: every 0.5 s (at most two attempts a second), so a broker back after an outage of
    # up to a minute is reached again within about half a second.
    assert set(fast) == {0.5} and len(fast) == 120
    later = list(itertools.islice(delays, 60))
    assert all(0.5 <= d <= 30.0 for d in later)
    assert max(later) > 10  # it grows toward the cap for a long outage


def test_steady_reconnects_are_jittered():
    delays = list(itertools.islice(reconnect_delays(0.5, 30.0, 60.0), 50))
    assert all(0.4 <= d <= 0.6 for d in delays) and len(set(delays)) > 40
