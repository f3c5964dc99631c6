"""The portal against a fake of the deployed LLM service with its quirks (tests/harness/fake_llm.py): JSON answers,
one memory per sessionId taking the prompt only once, crossed answers when a session's requests overlap, templates
applied project-wide, several instances, silent stops. Real mosquitto, Redis, daphne and workers."""

import json
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.harness.platform import ROOT, Platform
from tests.harness.procs import Proc, wait_until

PLATFORM_ENV = {"CHAT_REPLY_TIMEOUT": "20", "CHAT_SESSION_QUEUE_MAX": "19", "LLM_BREAKER_THRESHOLD": "3"}


class FakeLlm:
    def __init__(self, platform: Platform, name: str, *, delay: float = 0.2, status_interval: float = 1.0):
        self.record = platform.workdir / f"{name}.jsonl"
        self.proc = Proc(
            name,
            [
                sys.executable,
                "-m",
                "tests.harness.fake_llm",
                "--port",
                str(platform.broker.port),
                "--client-id",
                name,
                "--delay",
                str(delay),
                "--status-interval",
                str(status_interval),
                "--record",
                str(self.record),
            ],
            cwd=ROOT,
            log_dir=platform.workdir,
        ).start()

    def requests(self, topic="prompt_portal/user_input") -> list[dict]:
        if not Path(self.record).exists():
            return []
        lines = [json.loads(line) for line in Path(self.record).read_text().splitlines() if line.strip()]
        return [line["payload"] for line in lines if line["topic"] == topic]


def start_platform(workdir, *, webs=1, workers=1, **env) -> Platform:
    p = Platform(workdir, **{**PLATFORM_ENV, **env})
    p.start_infra()
    for _ in range(webs):
        p.start_web()
    for _ in range(workers):
        p.start_worker()
    p.create_user("alice")
    return p


@pytest.fixture(scope="module")
def quirky(tmp_path_factory):
    """Two daphne, two workers, one fake LLM service."""
    p = start_platform(tmp_path_factory.mktemp("quirks"), webs=2, workers=2)
    try:
        fake = FakeLlm(p, "fake_llm_a")
        wait_until(p.llm_online, 20, what="the fake LLM service to announce itself")
        yield p, fake
    finally:
        fake.proc.stop()
        print(p.logs())
        p.stop_all()


def ask(client, session_id, content, base_url=None, **extra):
    path = "/api/chatbot/messages"
    if base_url:
        return client.http.post(
            base_url + path,
            json={"session_id": session_id, "content": content, **extra},
            headers={"X-CSRFToken": client.http.cookies.get("csrftoken", "")},
            timeout=60,
        )
    return client.post(path, {"session_id": session_id, "content": content, **extra}, timeout=60)


def history(client, session_id):
    return client.get(f"/api/chatbot/sessions/{session_id}/messages").json()["messages"]


def test_json_answers_are_delivered_and_never_open_the_breaker(quirky):
    p, _ = quirky
    alice = p.client("alice")
    session = alice.new_session()
    for n in range(5):  # more than LLM_BREAKER_THRESHOLD
        response = ask(alice, session["id"], f"json please {n}")
        assert response.status_code == 200, response.text
        answer = json.loads(response.json()["assistant_message"]["content"])
        assert answer["reason"] == f"to: json please {n}"
        assert response.json()["assistant_message"]["metadata"]["json"] == answer
    assert all(s["breaker"]["state"] == "closed" for s in p.worker_states())
    assert ask(alice, alice.new_session()["id"], "plain question").status_code == 200


def test_a_changed_system_prompt_starts_a_new_conversation_with_the_model(quirky):
    p, fake = quirky
    alice = p.client("alice")
    session = alice.new_session()
    first = ask(alice, session["id"], "first")
    assert first.status_code == 200 and first.json()["notice"] is None
    assert "prompt: You are a helpful" in first.json()["assistant_message"]["content"]
    assert (
        alice.request(
            "PATCH",
            f"/api/chatbot/sessions/{session['id']}",
            {"system_prompt": "Answer like a pirate.", "temperature": 0.2},
        ).status_code
        == 200
    )
    second = ask(alice, session["id"], "second")
    assert second.status_code == 200
    # The model really uses the new prompt: the fake takes a prompt only for a sessionId it has not seen.
    assert "prompt: Answer like a pirate." in second.json()["assistant_message"]["content"]
    assert second.json()["notice"]["content"] == "New conversation with the model: system prompt changed."
    # A one-message override is a prompt in effect too; the next message goes back to the session's.
    third = ask(alice, session["id"], "third", system_prompt="Answer in French.")
    assert "prompt: Answer in French." in third.json()["assistant_message"]["content"]
    fourth = ask(alice, session["id"], "fourth")
    assert "prompt: Answer like a pirate." in fourth.json()["assistant_message"]["content"]
    fifth = ask(alice, session["id"], "fifth")
    assert fifth.json()["notice"] is None  # the same prompt: the same conversation
    sent = {r["message"]: r for r in fake.requests() if r["message"] in ("first", "second", "third", "fourth", "fifth")}
    keys = [sent[m]["sessionId"] for m in ("first", "second", "third", "fourth", "fifth")]
    assert len({keys[0], keys[1], keys[2], keys[3]}) == 4 and keys[4] == keys[3]
    # Sampling settings are per request: they reach the model on every turn, changed or not.
    assert (sent["first"]["temperature"], sent["second"]["temperature"], sent["fifth"]["temperature"]) == (
        0.7,
        0.2,
        0.2,
    )
    assert all(sent[m]["topP"] == 0.9 and sent[m]["maxTokens"] == 512 for m in sent)
    roles = [(m["role"], m["content"]) for m in history(alice, session["id"])]
    assert ("notice", "New conversation with the model: system prompt changed.") in roles
    assert [r for r, _ in roles].count("user") == 5  # the visible history is kept


def test_twenty_concurrent_messages_on_one_session_each_get_their_own_answer_in_order(quirky):
    p, fake = quirky
    alice = p.client("alice")
    session = alice.new_session()
    questions = [f"question {n:02d}" for n in range(20)]
    # Spread over both daphne processes; the fake crosses answers whenever two requests of a session overlap.
    with ThreadPoolExecutor(20) as pool:
        responses = list(
            pool.map(
                lambda i: ask(alice, session["id"], questions[i], base_url=f"http://127.0.0.1:{p.web_ports[i % 2]}"),
                range(20),
            )
        )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses if r.status_code != 200]
    for question, response in zip(questions, responses):
        assert response.json()["assistant_message"]["content"].startswith(f"answer to: {question} |")
    # The history is the order the model saw: each question directly followed by its own answer.
    messages = history(alice, session["id"])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 20
    for asked, answered in zip(messages[::2], messages[1::2]):
        assert answered["request_id"] == asked["request_id"]
        assert answered["content"].startswith(f"answer to: {asked['content']} |")
    seen = [r["message"] for r in fake.requests() if r["message"] in questions]
    assert seen == [m["content"] for m in messages[::2]]
    # No two of them were ever in flight together at the fake service.
    wait_until(lambda: p.pending() == 0, 5, what="nothing left waiting")


def test_two_workers_never_have_one_sessions_requests_in_flight_together(quirky):
    """The web sends a session's messages to one worker; the turn lock in Redis holds even when two workers
    receive messages of one session (here: sent straight to each worker's channel)."""
    p, fake = quirky
    import asyncio

    from channels_redis.pubsub import RedisPubSubChannelLayer

    alice = p.client("alice")
    session = alice.new_session()
    workers = [s["client_id"] for s in p.worker_states()]
    assert len(workers) == 2
    layer = RedisPubSubChannelLayer(hosts=[p.redis.url], prefix="portal")

    async def send_both():
        for n, worker in enumerate(workers * 3):
            await layer.send(
                f"mqtt-worker.{worker}",
                {
                    "type": "chat.request",
                    "request_id": f"lock-{n}-{time.time_ns()}",
                    "session_key": session["session_key"],
                    "question": {"session_id": session["id"], "content": f"locked {n}", "overrides": {}},
                    "timeout": 20,
                    "accept_by": time.time() + 5,
                    "reply_channel": None,
                    "group": None,
                },
            )
        await layer.flush()

    asyncio.run(send_both())
    wait_until(
        lambda: len([m for m in history(alice, session["id"]) if m["role"] == "assistant"]) == 6,
        20,
        what="all six answers",
    )
    messages = history(alice, session["id"])
    assert [m["role"] for m in messages] == ["user", "assistant"] * 6
    for asked, answered in zip(messages[::2], messages[1::2]):
        assert answered["content"].startswith(f"answer to: {asked['content']} |")
    received = [(r["message"], r) for r in fake.requests() if r["message"].startswith("locked ")]
    assert len({r["clientId"] for _, r in received}) == 2  # both workers took part


def test_each_maze_game_gets_hints_from_its_own_prompt(quirky):
    p, _ = quirky
    alice = p.client("alice")
    template = alice.post("/api/templates/", {"title": "Loud", "content": "SHOUT EVERY HINT."}).json()
    with_template = alice.post(
        "/api/maze/games", {"width": 11, "height": 11, "germs": 0, "template_id": template["id"]}
    ).json()
    without = alice.post("/api/maze/games", {"width": 11, "height": 11, "germs": 0}).json()
    # The fake has now heard game 1's template, which it applies to its whole maze project.
    for game, expected in ((without, "You are the guide of a maze game."), (with_template, "SHOUT EVERY HINT.")):
        maze = game["maze"]
        with connect(
            alice.ws_url(f"/ws/maze/{game['game']['id']}/"),
            origin=p.base_url,
            additional_headers={"Cookie": alice.cookie_header},
            open_timeout=5,
        ) as ws:
            ws.send(
                json.dumps(
                    {
                        "type": "state",
                        "request_hint": True,
                        "state": {
                            "player": maze["start"],
                            "exit": maze["exit"],
                            "walls": maze["walls"],
                            "pellets": [],
                            "germs": [],
                        },
                    }
                )
            )
            deadline = time.monotonic() + 10
            while True:
                event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
                if event["type"] == "hint" and not event["notice"]:
                    break
        assert event["text"].startswith(f"prompt: {expected}"), event


# -- presence of several instances, with their own platform ---------------------------------------------------
@pytest.fixture
def two_instances(tmp_path):
    p = start_platform(tmp_path, LLM_STATUS_TIMEOUT="3")
    fakes = [FakeLlm(p, "llm_one", delay=0.0), FakeLlm(p, "llm_two", delay=0.0)]
    try:
        wait_until(
            lambda: set(p.worker_states()[0]["llm"]["instances"]) == {"llm_one", "llm_two"},
            20,
            what="both instances to announce themselves",
        )
        yield p, fakes
    finally:
        for fake in fakes:
            fake.proc.kill()
        print(p.logs())
        p.stop_all()


def test_one_instance_leaving_does_not_take_the_llm_offline_and_a_silent_stop_is_noticed(two_instances):
    p, (one, two) = two_instances
    alice = p.client("alice")
    session = alice.new_session()
    assert ask(alice, session["id"], "both there").status_code == 200
    one.proc.kill()  # SIGKILL: the broker sends its last will
    wait_until(
        lambda: not p.worker_states()[0]["llm"]["instances"]["llm_one"]["online"],
        10,
        what="the will of the first instance",
    )
    assert p.worker_states()[0]["llm"]["online"] is True
    assert ask(alice, session["id"], "the other one answers").status_code == 200
    two.proc.signal(signal.SIGTERM)  # a clean disconnect that says nothing: no will, no offline status
    two.proc.popen.wait(5)
    stopped = time.monotonic()
    wait_until(lambda: p.worker_states()[0]["llm"]["online"] is False, 10, what="the silence to be noticed")
    noticed_in = time.monotonic() - stopped
    response = ask(alice, session["id"], "anyone?")
    assert response.status_code == 503 and "offline" in response.json()["detail"]
    assert noticed_in < 3 + 2  # LLM_STATUS_TIMEOUT after its last heartbeat, plus a heartbeat of the worker
