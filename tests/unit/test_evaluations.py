"""Template evaluations (issue 20 item 9): the API's refusals and limits, the queue's bookkeeping (claim, heartbeat,
requeue after a worker went silent, failure after too many interruptions, cancel), and the runner playing whole
evaluations against a fake LLM service at the seam (the hint wait of maze/trial.py, on the in-memory channel layer).
The real broker, worker and responder, and the pages, are in tests/integration/test_evaluation_browser.py."""

import asyncio
import json
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.test import Client
from django.utils import timezone

from maze import engine, evaluation_runner, evaluation_stats, evaluations, hints, trial
from maze.models import Evaluation, EvaluationGame
from portal.mqtt import contract, gateway
from prompts.services import template_create, template_update

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"width": 11, "height": 11, "germs": 0}


@pytest.fixture
def template(alice):
    return template_create(owner=alice, title="Guide", content="Answer with the path to the exit.")


@pytest.fixture
def client(alice):
    c = Client()
    c.force_login(alice)
    return c


@pytest.fixture
def llm(monkeypatch):
    """The worker and LLM service at the seam: a published state is answered as `answer(state)` says (None: no
    answer), relayed to the hint group exactly as the worker relays what arrives on maze/hint/<sessionId>."""
    calls: list[dict] = []
    box = {"answer": shortest_path_answer, "available": True}

    async def available():
        if box["available"]:
            return gateway.Availability(True, workers=("w1",))
        return gateway.Availability(False, detail="The language model is offline right now.", retry_after=5)

    async def publish(state):
        calls.append(state)
        answer = await sync_to_async(box["answer"])(state)  # off the loop: an answer may touch the database
        key = state["sessionId"]
        if answer is not None and hints.store_hint(session_key=key, hint=answer):
            event = {"type": contract.MAZE_HINT, "session_key": key, "hint": answer, "received_at": 0}
            await get_channel_layer().group_send(contract.hint_group(key), event)
        return True

    monkeypatch.setattr(gateway, "worker_availability", available)
    monkeypatch.setattr(trial, "publish_state", publish)
    return box, calls


def shortest_path_answer(state: dict) -> dict:
    walls = engine.from_protocol_map(state["visible_map"])
    path = engine.shortest_path(walls, tuple(state["player_pos"]), tuple(state["exit_pos"]))
    return {"hint": "Follow the path.", "path": [list(c) for c in path[1:]], "breakWall": [0, 0], "dance": True}


@pytest.fixture
def fast_runner(settings, monkeypatch):
    settings.MAZE_EVALUATION = {**settings.MAZE_EVALUATION, "HINT_INTERVAL": 0, "HINT_TIMEOUT": 0.2}
    monkeypatch.setattr(evaluation_runner, "OFFLINE_RETRIES", 2)


def post(client, data):
    return client.post("/api/maze/evaluations", json.dumps(data), content_type="application/json")


# -- the API ------------------------------------------------------------------------------------------------------
def test_create_queues_the_current_version_with_defaults(client, template, llm):
    response = post(client, {"template_id": template.id})
    assert response.status_code == 201, response.content
    body = response.json()["evaluation"]
    assert body["status"] == "queued" and body["games"] == 10 and body["games_done"] == 0
    assert body["template"] == {"id": template.id, "title": "Guide", "version": 1}
    assert body["settings"] == {"width": 33, "height": 21, "germs": 5, "seed": 1}
    stored = Evaluation.objects.get(id=body["id"])
    assert stored.prompt["content"] == "Answer with the path to the exit."


def test_an_older_version_is_evaluated_with_its_own_text(client, template, llm):
    template_update(template=template, content="Version two.")
    response = post(client, {"template_id": template.id, "version": 1})
    assert response.status_code == 201
    stored = Evaluation.objects.get(id=response.json()["evaluation"]["id"])
    assert (stored.template_version, stored.prompt["content"]) == (1, "Answer with the path to the exit.")
    missing = post(client, {"template_id": template.id, "version": 9})
    assert missing.status_code == 400 and missing.json()["field"] == "version"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "template_id"),
        ({"template_id": "x"}, "template_id"),
        ({"games": 0}, "games"),
        ({"games": 21}, "games"),
        ({"width": 12}, "width"),
        ({"width": 101}, "width"),
        ({"germs": -1}, "germs"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client, template, llm, data, field):
    data = {"template_id": template.id, **data} if field != "template_id" else data
    response = post(client, data)
    assert response.status_code == 400 and response.json()["field"] == field and response.json()["detail"]


def test_someone_elses_template_or_evaluation_is_a_404(client, bob, llm):
    theirs = template_create(owner=bob, title="Bob's", content="x")
    assert post(client, {"template_id": theirs.id}).status_code == 404
    evaluation = evaluations.evaluation_create(owner=bob, template_id=theirs.id, **_fields())
    assert client.get(f"/api/maze/evaluations/{evaluation.id}").status_code == 404
    assert client.post(f"/api/maze/evaluations/{evaluation.id}/cancel").status_code == 404
    assert client.get(f"/maze/evaluations/{evaluation.id}/").status_code == 404


def test_the_per_user_limit_answers_429(client, template, llm, settings):
    settings.MAZE_EVALUATION = {**settings.MAZE_EVALUATION, "MAX_PER_USER": 2}
    assert post(client, {"template_id": template.id}).status_code == 201
    assert post(client, {"template_id": template.id}).status_code == 201
    third = post(client, {"template_id": template.id})
    assert third.status_code == 429 and "at most 2" in third.json()["detail"]


def test_an_offline_llm_is_a_clear_503_and_queues_nothing(client, template, llm):
    llm[0]["available"] = False
    response = post(client, {"template_id": template.id})
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable" and "offline" in response.json()["detail"]
    assert not Evaluation.objects.exists()


def test_cancel_a_queued_one_ends_it_and_a_finished_one_is_409(client, template, llm):
    evaluation_id = post(client, {"template_id": template.id}).json()["evaluation"]["id"]
    response = client.post(f"/api/maze/evaluations/{evaluation_id}/cancel")
    assert response.status_code == 200 and response.json()["evaluation"]["status"] == "cancelled"
    again = client.post(f"/api/maze/evaluations/{evaluation_id}/cancel")
    assert again.status_code == 409 and again.json()["detail"]


# -- the queue ----------------------------------------------------------------------------------------------------
def _fields(**overrides):
    return {"game_count": 2, "width": 11, "height": 11, "germ_count": 0, "seed": 1} | overrides


def test_claims_respect_the_global_limit(alice, template, settings):
    settings.MAZE_EVALUATION = {**settings.MAZE_EVALUATION, "MAX_RUNNING": 1, "MAX_PER_USER": 5}
    first = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    second = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    job = evaluations.claim_next(runner="w1")
    assert job["id"] == first.id and job["games"] == [(0, 1), (1, 2)]
    assert evaluations.claim_next(runner="w2") is None  # the one place is taken
    evaluations.finish(evaluation_id=first.id, runner="w1", status="done")
    assert evaluations.claim_next(runner="w2")["id"] == second.id


def test_a_silent_worker_s_evaluation_is_resumed_then_failed(alice, template, settings):
    settings.MAZE_EVALUATION = {**settings.MAZE_EVALUATION, "MAX_ATTEMPTS": 2, "STALE_AFTER": 30}
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    evaluations.claim_next(runner="w1")
    assert evaluations.record_game(evaluation_id=evaluation.id, runner="w1", index=0, seed=1, result=_result(won=True))
    assert evaluations.requeue_stale() == []  # its heartbeat is fresh
    Evaluation.objects.filter(id=evaluation.id).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    assert evaluations.requeue_stale() == [evaluation.id]
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.runner) == ("queued", "")
    job = evaluations.claim_next(runner="w2")
    assert job["games"] == [(1, 2)]  # the finished game is kept; only the rest is played again
    # The old worker wakes up: nothing it writes lands any more.
    assert not evaluations.record_game(evaluation_id=evaluation.id, runner="w1", index=1, seed=2, result=_result())
    assert not evaluations.still_wanted(evaluation_id=evaluation.id, runner="w1")
    Evaluation.objects.filter(id=evaluation.id).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    evaluations.requeue_stale()
    evaluation.refresh_from_db()
    assert evaluation.status == "failed" and "Interrupted 2 times" in evaluation.detail
    assert evaluation.summary["games"] == 1  # what was played stays readable


def test_heartbeat_keeps_a_running_evaluation(alice, template):
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    evaluations.claim_next(runner="w1")
    Evaluation.objects.filter(id=evaluation.id).update(heartbeat_at=timezone.now() - timedelta(seconds=31))
    evaluations.heartbeat(runner="w1")
    assert evaluations.requeue_stale() == []


def _result(won=False, points=10):
    return {
        "won": won,
        "points": points,
        "end_reason": "Reached the exit." if won else "Ran out of oxygen.",
        "duration_ms": 1000,
        "steps": 4,
        "hint_count": 1,
        "hints": [],
        "actions_used": {"path": 1},
        "actions_ignored": {},
    }


# -- the runner, against the fake LLM service ------------------------------------------------------------------
def _run(job):
    async_to_sync(evaluation_runner._play_evaluation)(job, "w1")


def test_an_evaluation_plays_every_game_and_sums_them_up(alice, template, llm, fast_runner):
    box, calls = llm
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields(game_count=3))
    _run(evaluations.claim_next(runner="w1"))
    evaluation.refresh_from_db()
    assert evaluation.status == "done" and evaluation.runner == "" and evaluation.progress is None
    summary = evaluation.summary
    assert summary["games"] == 3 and summary["win_rate"] == 1.0 and summary["points_mean"] > 1000
    assert summary["actions_used"]["path"] >= 3
    assert summary["actions_ignored"].get("dance") == summary["hints_per_game"] * 3
    games = list(EvaluationGame.objects.filter(evaluation=evaluation))
    assert [g.seed for g in games] == [1, 2, 3] and all(g.won for g in games)
    # Each game its own conversation with the model, on a session that belongs to no game; the template's text in
    # every state message.
    sessions = {c["sessionId"] for c in calls}
    assert len(sessions) == 3 and all(s.startswith(trial.EVAL_PREFIX) for s in sessions)
    assert all(c["prompt_template"]["content"] == "Answer with the path to the exit." for c in calls)


def test_same_seed_same_mazes_so_two_evaluations_compare(alice, template, llm, fast_runner, client):
    ids = []
    for _ in range(2):
        evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
        _run(evaluations.claim_next(runner="w1"))
        ids.append(evaluation.id)
    body = client.get(f"/api/maze/evaluations/compare?a={ids[0]}&b={ids[1]}").json()
    assert body["same_mazes"] and [p["a"] for p in body["pairs"]] == [p["b"] for p in body["pairs"]]
    assert {r["key"]: r["delta"] for r in body["rows"]}["win_rate"] == 0
    assert client.get(f"/maze/evaluations/compare/?a={ids[0]}&b={ids[1]}").status_code == 200


def test_a_silent_llm_ends_the_evaluation_as_failed(alice, template, llm, fast_runner):
    llm[0]["answer"] = lambda state: None
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    _run(evaluations.claim_next(runner="w1"))
    evaluation.refresh_from_db()
    assert evaluation.status == "failed" and "answered none" in evaluation.detail
    assert len(llm[1]) == evaluation_runner.MISSES_IN_A_ROW  # then it stopped asking


def test_an_llm_that_goes_offline_fails_it_with_the_reason(alice, template, llm, fast_runner):
    llm[0]["available"] = False
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    _run(evaluations.claim_next(runner="w1"))
    evaluation.refresh_from_db()
    assert evaluation.status == "failed" and "offline" in evaluation.detail


def test_cancel_while_running_stops_at_the_next_hint(alice, template, llm, fast_runner):
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields(game_count=5))
    job = evaluations.claim_next(runner="w1")

    def answer_then_cancel(state):
        if len(llm[1]) == 2:  # during the second game
            evaluations.evaluation_cancel(user=alice, evaluation_id=evaluation.id)
        return shortest_path_answer(state)

    llm[0]["answer"] = answer_then_cancel
    _run(job)
    evaluation.refresh_from_db()
    assert evaluation.status == "cancelled" and evaluation.summary["games"] == 2
    assert len(llm[1]) == 2  # nothing asked after the cancel


def test_a_stopping_worker_puts_its_evaluation_back_in_the_queue(alice, template, llm, fast_runner, settings):
    settings.MAZE_EVALUATION = {**settings.MAZE_EVALUATION, "HINT_TIMEOUT": 30}
    llm[0]["answer"] = lambda state: None  # the hint never comes: the worker stops while it waits
    evaluation = evaluations.evaluation_create(owner=alice, template_id=template.id, **_fields())
    job = evaluations.claim_next(runner="w1")

    async def stop_midway():
        task = asyncio.create_task(evaluation_runner._play_evaluation(job, "w1"))
        while not llm[1]:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    async_to_sync(stop_midway)()
    evaluation.refresh_from_db()
    assert (evaluation.status, evaluation.runner, evaluation.attempts) == ("queued", "", 1)
    assert evaluations.claim_next(runner="w2")["games"] == [(0, 1), (1, 2)]


# -- the pages, in each state -------------------------------------------------------------------------------------
def _page_result(i, won, ignored=()):
    return _result(won=won, points=100 * i) | {
        "avg_hint_latency_ms": 20.0 if won else None,
        "hints": [
            {
                "n": 1,
                "at_ms": 1500,
                "latency_ms": None,
                "text": "<b>go</b>",
                "error": "No answer in time.",
                "declared": ["path"],
                "applied": ["path"],
                "ignored": [{"action": a, "reason": "bad <x>"} for a in ignored],
            }
        ],
        "actions_ignored": {a: 1 for a in ignored},
        "trail": [[1, 1]],
    }


def _stored(owner, status, games=(), **fields):
    template = template_create(owner=owner, title="T<script>", content="c")
    evaluation = Evaluation.objects.create(
        owner=owner, template=template, template_version=1, template_title=template.title, prompt={},
        game_count=3, width=11, height=11, germ_count=0, seed=1, status=status, **fields,
    )  # fmt: skip
    for i, result in enumerate(games):
        EvaluationGame.objects.create(
            evaluation=evaluation, index=i, seed=1 + i, won=result["won"], points=result["points"], result=result
        )
    if games:
        evaluation.summary = evaluation_stats.summarize(list(games))
        evaluation.save()
    return evaluation


def test_the_pages_show_each_state_escaped(client, alice):
    queued = _stored(alice, "queued")
    page = client.get(f"/maze/evaluations/{queued.id}/").content.decode()
    assert 'id="evaluation-progress"' in page and "Waiting" in page and "T<script>" not in page
    running = _stored(alice, "running", games=[_page_result(1, True)], progress={"game": 1, "hints": 3})
    page = client.get(f"/maze/evaluations/{running.id}/").content.decode()
    assert "game 2, hint 3" in page and "So far: won 1 of 1" in page and 'id="evaluation-results"' not in page
    failed = _stored(
        alice, "failed", games=[_page_result(1, True), _page_result(2, False, ["teleport"])], detail="The LLM left."
    )
    page = client.get(f"/maze/evaluations/{failed.id}/").content.decode()
    assert "This evaluation failed." in page and "The LLM left." in page and 'id="evaluation-results"' in page
    assert "bad &lt;x&gt;" in page and "&lt;b&gt;go&lt;/b&gt;" in page and "50%" in page
    cancelled = _stored(alice, "cancelled", detail="Cancelled before it started.")
    page = client.get(f"/maze/evaluations/{cancelled.id}/").content.decode()
    assert "was cancelled" in page and 'id="evaluation-results"' not in page
    cancelled.template.delete()  # the results outlive their template, under the title they were run with
    assert "has been deleted" in client.get(f"/maze/evaluations/{cancelled.id}/").content.decode()
    listed = client.get("/maze/evaluations/").content.decode()
    assert listed.count('class="evaluation-pick"') == 4 and "50%" in listed
    compared = client.get(f"/maze/evaluations/compare/?a={failed.id}&b={running.id}").content.decode()
    assert "not played" in compared and ("delta-worse" in compared or "delta-better" in compared)
    assert client.get("/maze/evaluations/compare/?a=x").status_code == 302  # back to the list to pick two


def test_the_list_preselects_a_template_and_the_nav_names_the_page(client, alice, template):
    listed = client.get(f"/maze/evaluations/?template={template.id}").content.decode()
    assert f'<option value="{template.id}" selected>' in listed
    assert 'aria-current="page">Evaluate' in listed and 'href="/maze/" aria-current' not in listed
    assert client.get("/maze/evaluations/?template=abc").status_code == 200
    assert 'href="/maze/" aria-current="page"' in client.get("/maze/").content.decode()
    assert f"/maze/evaluations/?template={template.id}" in client.get(f"/templates/{template.id}/").content.decode()
