from portal.mqtt.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


def test_opens_after_threshold_and_refuses_until_cooldown():
    b = CircuitBreaker(failure_threshold=3, cooldown=10)
    assert b.record_failure(0) is None and b.record_failure(1) is None
    assert b.allow(1)
    assert b.record_failure(2) == OPEN
    assert not b.allow(5)
    assert b.retry_after(5) == 8


def test_half_open_allows_one_trial_then_closes_on_success():
    b = CircuitBreaker(failure_threshold=1, cooldown=10)
    b.record_failure(0)
    assert b.allow(10) and b.state == HALF_OPEN
    assert not b.allow(10)  # only one trial at a time
    assert b.record_success() == CLOSED
    assert b.allow(11) and b.allow(11)


def test_failed_trial_opens_again():
    b = CircuitBreaker(failure_threshold=5, cooldown=10)
    for t in range(5):
        b.record_failure(t)
    assert b.allow(20)
    assert b.record_failure(20) == OPEN
    assert not b.allow(25)


def test_success_resets_the_count():
    b = CircuitBreaker(failure_threshold=2, cooldown=10)
    b.record_failure(0)
    b.record_success()
    assert b.record_failure(1) is None and b.state == CLOSED


def test_the_reported_state_turns_half_open_by_itself_after_the_cooldown():
    # Web processes refuse while the state reads "open": it must change without any request arriving.
    b = CircuitBreaker(failure_threshold=1, cooldown=10)
    b.record_failure(0)
    assert b.state_at(5) == OPEN and b.retry_after(5) == 6
    assert b.state_at(10) == HALF_OPEN and b.retry_after(10) == 1


def test_a_trial_that_never_reports_back_is_replaced_after_another_cooldown():
    b = CircuitBreaker(failure_threshold=1, cooldown=10)
    b.record_failure(0)
    assert b.allow(10)
    assert not b.allow(15)
    assert b.allow(20)
