import threading
import time

from responder.scheduler import BoundedPool, DelayScheduler


def test_delays_run_side_by_side_not_one_after_another():
    scheduler = DelayScheduler()
    scheduler.start()
    fired: list[float] = []
    lock, done = threading.Lock(), threading.Event()

    def record():
        with lock:
            fired.append(time.monotonic())
            if len(fired) == 1000:
                done.set()

    try:
        start = time.monotonic()
        for _ in range(1000):
            assert scheduler.call_later(0.3, record)
        assert done.wait(5)
        assert max(fired) - start < 0.6  # serialized delays would take 300 s
        assert min(fired) - start >= 0.3
    finally:
        scheduler.stop()


def test_callbacks_run_in_due_order_and_a_failure_does_not_stop_the_thread():
    scheduler = DelayScheduler()
    scheduler.start()
    order, done = [], threading.Event()
    try:
        scheduler.call_later(0.10, lambda: (order.append("late"), done.set()))
        scheduler.call_later(0.05, lambda: 1 / 0)
        scheduler.call_later(0.01, lambda: order.append("early"))
        assert done.wait(2)
        assert order == ["early", "late"]
    finally:
        scheduler.stop()


def test_call_at_runs_at_an_absolute_time_on_the_schedulers_clock():
    scheduler = DelayScheduler()
    scheduler.start()
    fired: list[tuple[str, float]] = []
    done = threading.Event()
    try:
        now = scheduler.now()
        scheduler.call_at(now + 0.1, lambda: (fired.append(("second", scheduler.now())), done.set()))
        scheduler.call_at(now - 1, lambda: fired.append(("overdue", scheduler.now())))  # runs at once
        assert done.wait(2)
        assert [name for name, _ in fired] == ["overdue", "second"]
        assert fired[1][1] >= now + 0.1
    finally:
        scheduler.stop()


def test_scheduler_is_bounded_and_stop_drops_pending_work():
    scheduler = DelayScheduler(max_pending=2)
    scheduler.start()
    assert scheduler.call_later(60, lambda: None)
    assert scheduler.call_later(60, lambda: None)
    assert not scheduler.call_later(60, lambda: None)
    assert scheduler.stop() == 2
    assert not scheduler.call_later(0, lambda: None)


def test_pool_refuses_work_beyond_its_queue():
    pool = BoundedPool(workers=1, max_queued=1)
    release, started = threading.Event(), threading.Event()
    pool.start()
    try:
        assert pool.submit(lambda: (started.set(), release.wait(5)))
        assert started.wait(2)
        assert pool.submit(lambda: None)  # queued behind the busy worker
        assert not pool.submit(lambda: None)  # queue full: the caller answers "overloaded"
    finally:
        release.set()
        pool.stop()
