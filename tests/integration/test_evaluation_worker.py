"""Template evaluations on the real platform (broker, Redis, daphne, the worker, the offline responder, which
answers a maze state with a shortest-path hint): a whole evaluation, then the worker stopped and killed in the middle
of one (the next worker resumes it; nothing stays "running"), last the LLM service gone (a clear 503)."""

import pytest

from tests.harness.procs import wait_until
from tests.integration.test_maze import new_template

PLATFORM_ENV = {
    "EVALUATION_STALE_AFTER": "3",
    "EVALUATION_POLL_INTERVAL": "0.2",
    "EVALUATION_HINT_INTERVAL": "0.3",  # long games, so a worker can be stopped in the middle of one
    "EVALUATION_MAX_PER_USER": "10",
}
LONG = {"games": 20, "width": 21, "height": 15, "germs": 0}


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def template(alice):
    return new_template(alice, title="Pathfinder", content="Answer with the path to the exit.")


def start(alice, template, **fields):
    response = alice.post("/api/maze/evaluations", {"template_id": template["id"], **fields})
    assert response.status_code == 201, response.text
    return response.json()["evaluation"]["id"]


def read(alice, evaluation_id):
    return alice.get(f"/api/maze/evaluations/{evaluation_id}").json()["evaluation"]


def wait_for(alice, evaluation_id, check, timeout=60, what="the evaluation"):
    seen = {}

    def ok():
        seen["e"] = read(alice, evaluation_id)
        return check(seen["e"])

    wait_until(ok, timeout, what=what)
    return seen["e"]


def test_an_evaluation_plays_its_games_with_the_live_llm(alice, template):
    evaluation_id = start(alice, template, games=2, width=11, height=11, germs=0)
    evaluation = wait_for(alice, evaluation_id, lambda e: e["status"] not in ("queued", "running"))
    assert evaluation["status"] == "done", evaluation
    summary = evaluation["summary"]
    assert summary["games"] == 2 and summary["win_rate"] == 1.0 and summary["points_mean"] > 1000
    assert summary["hint_latency_ms_mean"] > 0 and summary["actions_used"]["path"] >= 2
    assert [g["seed"] for g in evaluation["results"]] == [1, 2]
    assert all(g["hints"][0]["applied"] for g in evaluation["results"])


def _resumed_after(platform, alice, template, interrupt):
    evaluation_id = start(alice, template, **LONG)
    before = wait_for(alice, evaluation_id, lambda e: e["games_done"] >= 1, what="a first game")["games_done"]
    interrupt()
    platform.start_worker()
    resumed = wait_for(alice, evaluation_id, lambda e: e["games_done"] > before + 1, what="the evaluation resumed")
    assert resumed["status"] == "running"
    assert alice.post(f"/api/maze/evaluations/{evaluation_id}/cancel").status_code == 200
    ended = wait_for(alice, evaluation_id, lambda e: e["status"] == "cancelled", what="the cancel")
    assert ended["games_done"] >= resumed["games_done"] and ended["progress"] is None
    assert [g["index"] for g in read(alice, evaluation_id)["results"]] == list(range(ended["games_done"]))


def test_a_stopped_worker_gives_its_evaluation_back_at_once(platform, alice, template):
    def stop():
        platform.workers[-1].stop()
        evaluation = read(alice, alice.get("/api/maze/evaluations").json()["results"][0]["id"])
        assert evaluation["status"] == "queued" and evaluation["progress"] is None

    _resumed_after(platform, alice, template, stop)


def test_a_killed_worker_s_evaluation_is_resumed_when_its_heartbeat_stops(platform, alice, template):
    _resumed_after(platform, alice, template, lambda: platform.workers[-1].kill())


def test_without_the_llm_service_an_evaluation_is_refused_with_the_reason(platform, alice, template):
    platform.responder.stop()
    wait_until(lambda: not platform.llm_online(), 20, what="the LLM service to be offline")
    response = alice.post("/api/maze/evaluations", {"template_id": template["id"]})
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert "offline" in response.json()["detail"]
