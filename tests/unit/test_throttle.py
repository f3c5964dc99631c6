"""The per-socket frame budget (portal/throttle.py) on a fake clock (binary fractions: no rounding)."""

from portal.throttle import ACCEPT, DISCONNECT, REFUSE, REFUSE_AND_NOTIFY, FrameBudget


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_passes_then_frames_are_refused_with_one_notice_until_tokens_refill():
    clock = Clock()
    budget = FrameBudget(rate=8, burst=5, clock=clock)
    assert [budget.take() for _ in range(8)] == [ACCEPT] * 5 + [REFUSE_AND_NOTIFY] + [REFUSE] * 2
    clock.now += 0.125  # one token back at 8 per second
    assert budget.take() == ACCEPT
    assert budget.take() == REFUSE  # the last notice was less than a second ago
    clock.now += 1
    budget.take()  # refilled
    assert [budget.take() for _ in range(8)] == [ACCEPT] * 4 + [REFUSE_AND_NOTIFY] + [REFUSE] * 3


def test_a_steady_client_at_the_rate_is_never_refused():
    clock = Clock()
    budget = FrameBudget(rate=8, burst=2, clock=clock)
    for _ in range(1000):
        assert budget.take() == ACCEPT
        clock.now += 0.125


def test_a_client_a_little_over_the_rate_is_slowed_not_disconnected():
    clock = Clock()
    budget = FrameBudget(rate=8, burst=4, clock=clock)
    verdicts = []
    for _ in range(2000):  # 11 per second against 8 allowed, for 200 seconds
        verdicts.append(budget.take())
        clock.now += 1 / 11
    assert DISCONNECT not in verdicts and REFUSE_AND_NOTIFY in verdicts
    assert verdicts.count(ACCEPT) >= 1400  # close to 8 of every 11


def test_a_client_flooding_at_twice_the_rate_is_disconnected_within_seconds():
    clock = Clock()
    budget = FrameBudget(rate=8, burst=4, clock=clock)
    for _ in range(1000):
        if budget.take() == DISCONNECT:
            break
        clock.now += 1 / 16
    assert clock.now - 100 <= 2 * 2 * 4 / 8, clock.now - 100


def test_a_wire_speed_flood_is_disconnected_after_two_bursts():
    budget = FrameBudget(rate=8, burst=4, clock=Clock())
    verdicts = [budget.take() for _ in range(9)]
    assert verdicts.count(ACCEPT) == 4 and verdicts[-1] == DISCONNECT


def test_tokens_never_exceed_the_burst_after_a_long_pause():
    clock = Clock()
    budget = FrameBudget(rate=8, burst=3, clock=clock)
    clock.now += 3600
    assert [budget.take() for _ in range(4)] == [ACCEPT] * 3 + [REFUSE_AND_NOTIFY]


def test_rate_zero_means_no_limit():
    budget = FrameBudget(rate=0, burst=1)
    assert all(budget.take() == ACCEPT for _ in range(10_000))
