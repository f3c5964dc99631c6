"""Two daphne processes and two workers against one broker and one Redis."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.harness.platform import ApiClient, Platform
from tests.harness.procs import wait_until


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    p = Platform(tmp_path_factory.mktemp("cluster"), CHAT_REPLY_TIMEOUT="10")
    try:
        p.start_infra()
        p.start_web()
        p.start_web()
        p.start_worker()
        p.start_worker()
        p.start_responder()
        p.create_user("alice")
        yield p
    finally:
        print(p.logs())
        p.stop_all()


def clients_per_web(p):
    return [ApiClient(f"http://127.0.0.1:{port}").login("alice", "correct-horse-battery-9") for port in p.web_ports]


def test_each_worker_has_its_own_stable_id(cluster):
    ids = sorted(s["client_id"] for s in cluster.worker_states())
    assert ids == ["prompt_portal_backend_w1", "prompt_portal_backend_w2"]


def test_replies_reach_their_own_waiter_whichever_process_holds_it(cluster):
    clients = clients_per_web(cluster)
    # Each chat session's messages go to one worker, one at a time: many sessions spread the load over both.
    sessions = [clients[0].new_session()["id"] for _ in range(20)]
    before = {s["client_id"]: s["counters"]["messages_out"] for s in cluster.worker_states()}

    def ask(i):
        client = clients[i % 2]
        response = client.post("/api/chatbot/messages", {"session_id": sessions[i % 20], "content": f"question {i}"})
        return i, response

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(ask, range(80)))
    for i, response in results:
        assert response.status_code == 200, response.text
        assert response.json()["assistant_message"]["content"].endswith(f"question {i}")

    def both_carried_load():
        after = {s["client_id"]: s["counters"]["messages_out"] for s in cluster.worker_states()}
        return all(after[w] - before[w] >= 10 for w in before)

    wait_until(both_carried_load, 5, what="both workers' counters to show their share of the load")


def test_killing_a_worker_mid_load_gives_clear_fast_errors_and_the_other_carries_on(cluster):
    clients = clients_per_web(cluster)
    sessions = [clients[0].new_session()["id"] for _ in range(30)]  # one each: all in flight at once

    def ask(i):
        started = time.monotonic()
        response = clients[i % 2].post(
            "/api/chatbot/messages", {"session_id": sessions[i], "content": f"!sleep 2 slow {i}"}
        )
        return i, response, time.monotonic() - started

    with ThreadPoolExecutor(30) as pool:
        futures = [pool.submit(ask, i) for i in range(30)]
        wait_until(lambda: cluster.pending() == 30, 5, what="all 30 accepted and waiting for the 2 s answers")
        cluster.workers[0].kill()
        results = [f.result(20) for f in futures]
    statuses = [r.status_code for _, r, _ in results]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 5 and statuses.count(503) >= 5
    for i, response, elapsed in results:
        if response.status_code == 200:
            assert response.json()["assistant_message"]["content"].endswith(f"slow {i}")
        else:
            assert response.json()["code"] == "unavailable" and elapsed < 5
    # The survivor keeps answering.
    response = clients[1].post("/api/chatbot/messages", {"session_id": sessions[0], "content": "after the kill"})
    assert response.status_code == 200


def test_metrics_and_socket_counts_add_up_across_web_processes(cluster):
    from prometheus_client.parser import text_string_to_metric_families
    from websockets.sync.client import connect

    cluster.create_user("ops", staff=True)
    ops = [ApiClient(f"http://127.0.0.1:{port}").login("ops", "correct-horse-battery-9") for port in cluster.web_ports]

    def ok_count():
        text = ops[0].get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "portal_chat_requests_total" and sample.labels == {"outcome": "ok"}:
                    return sample.value
        return 0

    before = ok_count()
    session = ops[0].new_session()
    for client in ops:  # one request through each web process
        assert client.post("/api/chatbot/messages", {"session_id": session["id"], "content": "hi"}).status_code == 200
    # Each web process adds its counts to Redis within portal.telemetry.CHAT_FLUSH_INTERVAL.
    wait_until(lambda: ok_count() - before >= 2, 5, what="both requests counted")
    # Each counted once: a third request makes it three, never four.
    assert ops[0].post("/api/chatbot/messages", {"session_id": session["id"], "content": "hi"}).status_code == 200
    wait_until(lambda: ok_count() - before >= 3, 5, what="the third request counted")
    assert ok_count() - before == 3
    sockets = [
        connect(
            client.ws_url(f"/ws/chat/{session['id']}/"),
            origin=client.base_url,
            additional_headers={"Cookie": client.cookie_header},
        )
        for client in ops
    ]
    try:
        wait_until(
            lambda: ops[1].get("/api/health/mqtt").json()["subscribers"]["total_websockets"] == 2,
            5,
            what="both sockets counted",
        )
        assert ops[1].get("/api/health/mqtt").json()["web_processes"] == 2
    finally:
        for ws in sockets:
            ws.close()
