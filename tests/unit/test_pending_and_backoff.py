"""Pure bookkeeping: waiting requests, recent ids, reconnect schedule."""
import itertools

from portal.mqtt.pending import PendingRegistry, PendingRequest, RecentIds
from portal.mqtt.reconnect import reconnect_delays


def req(rid, session="s", deadline=100.0, created=0.0):
    return PendingRequest(request_id=rid, session_key=session, deadline=deadline, created_at=created)


def test_registry_is_bounded_and_refuses_duplicates():
    registry = PendingRegistry(max_size=2)
    assert registry.add(req("a")) and registry.add(req("b"))
    assert not registry.add(req("c"))
    assert registry.pop("a").request_id == "a"
    assert not registry.add(req("b"))
    assert registry.add(req("c")) and len(registry) == 2


def test_fallback_reply_goes_to_the_oldest_request_of_its_session():
    registry = PendingRegistry(10)
    for rid, session in [("1", "x"), ("2", "y"), ("3", "x")]:
        registry.add(req(rid, session))
    assert registry.pop_oldest_for_session("x").request_id == "1"
    assert registry.pop_oldest_for_session("x").request_id == "3"
    assert registry.pop_oldest_for_session("x") is None
    assert registry.count_by_session() == {"y": 1}


def test_expiry_by_deadline_and_by_hard_maximum_age():
    registry = PendingRegistry(10)
    registry.add(req("due", deadline=5.0, created=0.0))
    registry.add(req("old", deadline=1000.0, created=0.0))
    registry.add(req("young", deadline=1000.0, created=50.0))
    expired = registry.pop_expired(now=130.0, max_age=120.0)
    assert sorted(r.request_id for r in expired) == ["due", "old"]
    assert "young" in registry
    assert [r.request_id for r in registry.pop_all()] == ["young"] and len(registry) == 0


def test_recent_ids_tell_duplicates_from_late_replies_and_forget_the_oldest():
    recent = RecentIds(max_size=2)
    recent.mark_answered("a")
    recent.mark_abandoned("b")
    assert recent.is_answered("a") and not recent.is_answered("b")
    recent.mark_answered("b")  # its late reply came and was stored
    recent.mark_abandoned("b")  # a later sweep must not forget that it was answered
    assert recent.is_answered("b")
    recent.mark_answered("c")
    assert "a" not in recent and "c" in recent


def test_a_refused_request_stays_refused_whatever_comes_after():
    # Refused once its question could not be stored: its replies are never kept, on time, late or duplicated.
    recent = RecentIds()
    recent.mark_abandoned("r")  # timed out while its question was being written
    recent.mark_refused("r", "s1")
    recent.mark_answered("r")  # its reply arriving
    recent.mark_abandoned("r")
    assert recent.is_refused("r") and not recent.is_answered("r")
    assert recent.session_of("r") == "s1"


def test_reconnect_delays_start_short_grow_and_stay_capped():
    delays = list(itertools.islice(reconnect_delays(0.2, 30.0), 200))
    assert delays[0] <= 0.2  # first retry well under a second
    assert all(0.1 <= d <= 30.0 for d in delays)
    assert max(delays[10:]) > 10  # it grows toward the cap
    assert len(set(delays[10:])) > 100  # jittered, not lockstep
