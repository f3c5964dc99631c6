"""Fault injection against real processes: every fault is caused for real and its outcome asserted.

Each test builds its own platform (own broker, Redis, database, daphne, worker, responder) so it may stop,
restart, partition or kill any part without disturbing the others.
"""

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness.mqtt import MqttPeer
from tests.harness.platform import Platform
from tests.harness.procs import wait_until
from tests.harness.proxy import FaultProxy

OK_OR_CLEAR = {200, 503, 504}


@pytest.fixture
def make_platform(tmp_path):
    platforms = []

    def make(**env):
        p = Platform(tmp_path / f"p{len(platforms)}", **env)
        platforms.append(p)
        return p

    yield make
    for p in platforms:
        print(p.logs())
        p.stop_all()


def ask(client, session_id, content, timeout=30):
    return client.post("/api/chatbot/messages", {"session_id": session_id, "content": content}, timeout=timeout)


def ready(p: Platform, *, users=("alice",)) -> None:
    p.start_all()
    p.create_users(*users)


def worker_state(p: Platform) -> dict:
    states = p.worker_states()
    assert states, "no worker state in Redis"
    return states[0]


def test_broker_restart_under_chat_traffic(make_platform):
    p = make_platform()
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    statuses, stop = [], threading.Event()

    def traffic():
        while not stop.wait(0.05):  # a request every 50 ms or so, until stopped
            statuses.append(ask(alice, session["id"], "steady traffic").status_code)

    thread = threading.Thread(target=traffic)
    thread.start()
    wait_until(lambda: statuses.count(200) >= 5, 10, what="traffic to flow")
    p.broker.stop()
    wait_until(
        lambda: 503 in statuses and not worker_state(p)["connected"],
        10,
        what="the outage to be seen by the worker and by users",
    )
    p.broker.start()
    back_at, resumed_from = time.monotonic(), len(statuses)
    # The next chat request succeeds within 2 s of the broker accepting connections again.
    wait_until(
        lambda: ask(alice, session["id"], "are you back?", timeout=5).status_code == 200,
        2.0,
        interval=0.1,
        what="a chat to succeed after the broker came back",
    )
    recovered_in = time.monotonic() - back_at
    # The steady traffic flows again too (its request in flight at the recovery may still have been refused).
    wait_until(lambda: 200 in statuses[resumed_from:], 5, what="the steady traffic to flow again")
    stop.set()
    thread.join(30)
    assert set(statuses) <= OK_OR_CLEAR, statuses
    assert 503 in statuses
    assert recovered_in < 2.0
    wait_until(lambda: p.pending() == 0, 5, what="pending to drain")
    assert worker_state(p)["counters"]["reconnects"] >= 1


def test_broker_down_at_worker_start_then_chat_works(make_platform):
    p = make_platform()
    p.start_infra()
    p.start_web()
    p.create_user("alice")
    p.broker.stop()
    p.start_worker(wait_connected=False)
    wait_until(
        lambda: p.worker_states() and worker_state(p)["reconnect_attempts"] >= 2, 10, what="several failed attempts"
    )
    assert worker_state(p)["connected"] is False
    p.broker.start()
    back_at = time.monotonic()
    p.start_responder()
    alice = p.client("alice")
    session = alice.new_session()
    wait_until(
        lambda: ask(alice, session["id"], "hello", timeout=5).status_code == 200,
        3.0,
        interval=0.1,
        what="the first chat after the broker came up",
    )
    assert time.monotonic() - back_at < 3.0


def test_half_open_link_is_detected_within_15_seconds(make_platform):
    # Default keepalive and probe settings: this is the production detection time being measured.
    p = make_platform(MQTT_KEEPALIVE="10", MQTT_PROBE_INTERVAL="5", MQTT_PROBE_TIMEOUT="5")
    p.start_infra()
    p.start_web()
    proxy = FaultProxy(p.broker.port)
    try:
        p.start_worker(MQTT_BROKER_PORT=str(proxy.port))
        p.start_responder()
        p.create_user("alice")
        wait_until(lambda: worker_state(p)["probe"]["last_rtt_ms"] is not None, 10, what="a first probe round trip")
        proxy.blackhole()
        cut_at = time.monotonic()
        wait_until(lambda: not worker_state(p)["connected"], 15, interval=0.2, what="the worker to notice")
        detected_in = time.monotonic() - cut_at
        proxy.restore()
        wait_until(p.health_connected, 10, what="the worker to reconnect")
        alice = p.client("alice")
        session = alice.new_session()
        assert ask(alice, session["id"], "after the partition").status_code == 200
        # Detected by the probe or by paho's keepalive, whichever fired first (paho 2 reports its keepalive
        # timeout as "Unspecified error"): either way the worker logged the dead link and reconnected.
        log = p.workers[0].log()
        assert worker_state(p)["counters"]["probe_failures"] >= 1 or "disconnected from" in log, log
    finally:
        proxy.close()
    assert detected_in < 15, detected_in


def test_reply_published_while_the_worker_is_disconnected_is_delivered_after_reconnect(make_platform):
    p = make_platform(CHAT_REPLY_TIMEOUT="15")
    p.start_infra()
    p.start_web()
    proxy = FaultProxy(p.broker.port)
    try:
        p.start_worker(MQTT_BROKER_PORT=str(proxy.port))
        p.start_responder()
        p.create_user("alice")
        alice = p.client("alice")
        session = alice.new_session()
        watcher = MqttPeer(p.broker.port, subscribe=("prompt_portal/assistant_response/#",))
        try:
            with ThreadPoolExecutor(1) as pool:
                future = pool.submit(ask, alice, session["id"], "!sleep 2 answer me later")
                wait_until(lambda: p.pending() == 1, 5, what="the request to be waiting")
                proxy.cut()  # the worker loses its connection; the responder answers in the meantime
                topic, payload, _, _ = watcher.next_message(timeout=10)  # the reply, published while it is away
                assert b"answer me later" in payload
                assert not worker_state(p)["connected"]
                proxy.restore()
                response = future.result(20)
        finally:
            watcher.close()
    finally:
        proxy.close()
    assert response.status_code == 200, response.text
    assert "answer me later" in response.json()["assistant_message"]["content"]
    wait_until(lambda: p.pending() == 0, 3, what="pending to return to 0")


def test_llm_killed_its_will_makes_chat_fail_fast(make_platform):
    p = make_platform(CHAT_REPLY_TIMEOUT="20")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(ask, alice, session["id"], "!sleep 10 never answered")
        wait_until(lambda: p.pending() == 1, 5, what="the request to be waiting")
        p.responder.kill()  # SIGKILL: no clean disconnect, so the broker publishes its last will
        started = time.monotonic()
        response = waiting.result(10)
    assert response.status_code == 503 and time.monotonic() - started < 3
    wait_until(lambda: p.pending() == 0, 3, what="pending to return to 0")
    started = time.monotonic()
    response = ask(alice, session["id"], "hello?")
    assert response.status_code == 503 and time.monotonic() - started < 1.0
    assert "offline" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0


def test_slow_llm_gives_504_and_the_late_reply_is_still_stored(make_platform):
    p = make_platform(CHAT_REPLY_TIMEOUT="2")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    started = time.monotonic()
    response = ask(alice, session["id"], "!sleep 3 slow answer")
    assert response.status_code == 504
    assert 1.8 < time.monotonic() - started < 3.5
    wait_until(lambda: p.pending() == 0, 2, what="the expired request to leave pending")

    def history():
        return alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"]

    wait_until(lambda: len(history()) == 2, 5, what="the late reply to be stored")
    user, assistant = history()
    assert assistant["role"] == "assistant" and "slow answer" in assistant["content"]
    assert assistant["request_id"] == user["request_id"]


def test_worker_sigterm_answers_waiters_503_and_exits_0(make_platform):
    p = make_platform(CHAT_REPLY_TIMEOUT="20")
    ready(p)
    alice = p.client("alice")
    sessions = [alice.new_session() for _ in range(3)]
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(ask, alice, s["id"], "!sleep 15 long") for s in sessions]
        wait_until(lambda: p.pending() == 3, 5, what="three requests waiting")
        started = time.monotonic()
        p.workers[0].signal(signal.SIGTERM)
        responses = [f.result(10) for f in futures]
        p.workers[0].popen.wait(5)
    assert time.monotonic() - started < 5
    assert [r.status_code for r in responses] == [503, 503, 503]
    assert all(r.json()["code"] == "shutdown" for r in responses)
    assert p.workers[0].popen.returncode == 0


def test_worker_killed_web_answers_503_fast_and_a_new_worker_resumes(make_platform):
    p = make_platform(CHAT_ACCEPT_TIMEOUT="0.5")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    first_id = worker_state(p)["client_id"]
    p.workers[0].kill()
    started = time.monotonic()
    response = ask(alice, session["id"], "anyone?")
    assert response.status_code == 503 and time.monotonic() - started < 1.0
    assert alice.get(f"/api/chatbot/sessions/{session['id']}/messages").json()["messages"] == []
    p.start_worker()
    assert worker_state(p)["client_id"] == first_id  # same id: the broker session is resumed
    response = ask(alice, session["id"], "back again")
    assert response.status_code == 200, response.text


def test_redis_restart_is_survived_by_web_and_worker(make_platform):
    # A request whose hand-off to the worker was lost while Redis was away is answered 503 after the accept
    # timeout (never left hanging): the client's timeout is longer than that, so every attempt gets an answer.
    p = make_platform(CHAT_ACCEPT_TIMEOUT="3")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    assert ask(alice, session["id"], "before").status_code == 200
    p.redis.restart()
    wait_until(
        lambda: ask(alice, session["id"], "after", timeout=15).status_code == 200,
        40,
        interval=0.3,
        what="chat to work after the Redis restart",
    )
    assert p.web.alive and p.workers[0].alive


def test_malformed_mqtt_flood_is_counted_and_skipped(make_platform):
    p = make_platform()
    ready(p)
    base = "prompt_portal/assistant_response"
    attacker = MqttPeer(p.broker.port)
    try:
        for i in range(200):
            attacker.client.publish(f"{base}/s{i}", b"\xff\xfe\xfd", qos=0)
            attacker.client.publish(f"{base}/s{i}/x/y/z/extra", b"too deep", qos=0)
            attacker.client.publish("prompt_portal/status", b"{not json", qos=0)
            attacker.client.publish("maze/hint/g1", json.dumps({"hint": 3}).encode(), qos=0)
        attacker.publish(f"{base}/big", b"x" * (300 * 1024))
    finally:
        attacker.close()
    # Unreadable replies on the fallback topic match no request in flight: dropped and counted as unmatched.
    wait_until(
        lambda: worker_state(p)["counters"]["malformed"] + worker_state(p)["counters"]["replies_unmatched"] >= 600,
        10,
        what="malformed messages counted",
    )
    assert p.workers[0].alive
    alice = p.client("alice")
    session = alice.new_session()
    assert ask(alice, session["id"], "still fine?").status_code == 200


def test_breaker_opens_on_repeated_timeouts_and_closes_again_after_a_trial(make_platform):
    p = make_platform(CHAT_REPLY_TIMEOUT="1", LLM_BREAKER_THRESHOLD="2", LLM_BREAKER_COOLDOWN="2")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    assert [ask(alice, session["id"], "!noreply").status_code for _ in range(2)] == [504, 504]
    wait_until(lambda: worker_state(p)["breaker"]["state"] == "open", 3, what="the breaker to open")
    started = time.monotonic()
    refused = ask(alice, session["id"], "refused at once")
    assert refused.status_code == 503 and time.monotonic() - started < 0.5
    assert "not answering" in refused.json()["detail"]
    # After the cool-down the web side must let a trial through by itself (nothing else reaches the worker).
    wait_until(
        lambda: ask(alice, session["id"], "trial", timeout=5).status_code == 200,
        6,
        interval=0.3,
        what="a trial request to succeed after the cool-down",
    )
    wait_until(lambda: worker_state(p)["breaker"]["state"] == "closed", 3, what="the breaker to close")


def test_optional_reconnect_limit_exits_non_zero_for_a_supervisor(make_platform):
    p = make_platform()
    p.start_infra()
    p.broker.stop()
    worker = p.start_worker(wait_connected=False, MQTT_MAX_RECONNECT_ATTEMPTS="3", MQTT_RECONNECT_MAX_DELAY="0.3")
    worker.popen.wait(15)
    assert worker.popen.returncode == 1
    assert "gave up after 3 consecutive failed attempts" in worker.log()


def test_pending_requests_are_bounded_and_the_excess_gets_503_at_once(make_platform):
    p = make_platform(WORKER_PENDING_MAX="3", CHAT_REPLY_TIMEOUT="4")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    with ThreadPoolExecutor(3) as pool:
        waiting = [pool.submit(ask, alice, session["id"], "!noreply hold a slot") for _ in range(3)]
        wait_until(lambda: p.pending() == 3, 5, what="three waiting requests")
        started = time.monotonic()
        refused = ask(alice, session["id"], "one too many")
        assert refused.status_code == 503 and refused.json()["code"] == "busy"
        assert time.monotonic() - started < 1.0
        assert [f.result(10).status_code for f in waiting] == [504, 504, 504]
    wait_until(lambda: p.pending() == 0, 3, what="pending to drain")


def test_after_a_broker_outage_the_first_reply_comes_within_2_s_without_hammering(make_platform):
    # The production reconnect schedule (the harness otherwise retries every 0.1 s to keep tests short).
    p = make_platform(MQTT_RECONNECT_INTERVAL="0.5", MQTT_RECONNECT_FAST_PERIOD="60", MQTT_RECONNECT_MAX_DELAY="30")
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    assert ask(alice, session["id"], "before").status_code == 200
    p.broker.stop()
    down_at = time.monotonic()
    wait_until(
        lambda: time.monotonic() - down_at >= 5 and worker_state(p)["reconnect_attempts"] >= 5,
        10,
        interval=0.1,
        what="a 5-second outage",
    )
    attempts, outage = worker_state(p)["reconnect_attempts"], time.monotonic() - down_at
    assert attempts <= 2 * outage + 1, (attempts, outage)  # at most about two attempts a second
    p.broker.start()
    back_at = time.monotonic()
    wait_until(
        lambda: ask(alice, session["id"], "are you back?", timeout=5).status_code == 200,
        2.0,
        interval=0.05,
        what="the first reply after the broker came back",
    )
    assert time.monotonic() - back_at < 2.0


def test_a_request_to_a_worker_that_just_stopped_waits_under_a_second(make_platform):
    p = make_platform()
    ready(p)
    alice = p.client("alice")
    session = alice.new_session()
    assert ask(alice, session["id"], "the web now knows the worker").status_code == 200
    p.workers[0].signal(signal.SIGTERM)
    waits, statuses = [], []
    stop_at = time.monotonic() + 3  # while it stops, and after it is gone
    while time.monotonic() < stop_at:
        started = time.monotonic()
        statuses.append(ask(alice, session["id"], "anyone?", timeout=10).status_code)
        waits.append(time.monotonic() - started)
    assert p.workers[0].popen.wait(5) == 0
    assert set(statuses) == {503} and max(waits) < 1.0, (statuses, waits)


def test_a_worker_whose_client_id_is_taken_stops_and_one_whose_lease_expired_claims_it_again(make_platform):
    import redis

    p = make_platform()
    ready(p)
    client_id = worker_state(p)["client_id"]
    key = f"portal:client-id:{client_id}"
    r = redis.Redis.from_url(p.redis.url)
    try:
        mine = r.get(key)
        assert mine.startswith(f"{__import__('socket').gethostname()}|{p.workers[0].pid}|".encode())
        r.delete(key)  # as if Redis had been away longer than the lease
        wait_until(lambda: r.get(key) == mine, 5, what="the worker to claim its id again")
        alice = p.client("alice")
        assert ask(alice, alice.new_session()["id"], "still serving").status_code == 200
        r.set(key, b"elsewhere|1|another-workers-token")  # another worker holds the id now
        assert p.workers[0].popen.wait(10) == 3  # stops; its supervisor restarts it with a free id
        assert "another worker holds client id" in p.workers[0].log()
        assert r.get(key) == b"elsewhere|1|another-workers-token"  # and never touched the other's lease
    finally:
        r.close()
