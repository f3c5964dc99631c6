"""Template tries (POST /api/templates/<id>/try, maze/trial.py): the state a try sends, the worker hook's path for
`try-` sessions, the wait for the hint (through the web process's reply dispatcher, on the in-memory channel
layer), and the endpoint's refusals. The real broker and responder are in tests/integration/test_template_try.py."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.test import AsyncClient, Client

from maze import engine, hints, trial
from maze.models import MazeGame
from maze.services import game_create
from portal.mqtt import contract, gateway
from prompts import reference
from prompts.services import template_create

pytestmark = pytest.mark.django_db(transaction=True)

TEMPLATE = {"title": "Guide", "content": "Answer with a path.", "version": 3, "user_id": 7}


@pytest.fixture
def llm(monkeypatch):
    """A worker and LLM service stand-in: a published state is answered by relaying `answers` to the try's hint
    group, as the worker relays what arrives on maze/hint/<sessionId> (portal/mqtt/engine.py)."""
    answers: list[dict] = []
    sent: list[dict] = []

    async def available():
        return gateway.Availability(True, workers=("w1",))

    async def publish(state):
        sent.append(state)
        key = state["sessionId"]
        for answer in answers:
            if hints.store_hint(session_key=key, hint=answer):  # the worker's hook decides whether it is relayed
                event = {"type": contract.MAZE_HINT, "session_key": key, "hint": answer, "received_at": 0}
                await get_channel_layer().group_send(contract.hint_group(key), event)
        return True

    monkeypatch.setattr(gateway, "worker_availability", available)
    monkeypatch.setattr(trial, "publish_state", publish)
    return answers, sent


# -- the state a try sends -------------------------------------------------------------------------------------
def test_a_try_state_is_a_game_start_state_on_its_own_session():
    maze = reference.example_maze()
    key = trial.new_try_key()
    state = trial.start_state(maze=maze, session_key=key, template=TEMPLATE)
    assert key.startswith("try-") and trial.is_try_key(key) and key != trial.new_try_key()
    assert state["sessionId"] == key and state["replyTopic"] == f"maze/hint/{key}"
    assert state["prompt_template"] == TEMPLATE
    assert state["player_pos"] == list(maze.start) and state["exit_pos"] == list(maze.exit)
    assert state["visible_map"] == engine.to_protocol_map(maze.walls)  # 1 = floor on the wire
    # The same message the template form's reference shows, but for its session, clock and template.
    example = reference.example_state(maze)
    differ = {k for k in example if example[k] != state[k]}
    assert differ == {"sessionId", "replyTopic", "tick", "prompt_template"}


# -- the worker's hook -------------------------------------------------------------------------------------------
def test_the_hook_relays_a_try_hint_and_stores_it_nowhere(alice):
    game, _ = game_create(owner=alice, width=11, height=9, germs=1, mode="manual", template=None)
    assert hints.store_hint(session_key="try-0123456789abcdef", hint={"hint": "go"}) is True
    assert hints.store_hint(session_key="game-unknown", hint={"hint": "go"}) is False  # still dropped
    game.refresh_from_db()
    assert game.last_hint is None


def test_a_hint_naming_its_session_reaches_the_waiter_of_that_session():
    async def scenario():
        async with gateway.group_events("hint.try-1", "try-1") as inbox:
            await get_channel_layer().group_send("hint.try-1", {"type": contract.MAZE_HINT, "session_key": "try-1"})
            return await inbox.get()

    assert async_to_sync(scenario)()["session_key"] == "try-1"


# -- waiting for the hint ----------------------------------------------------------------------------------------
def test_ask_returns_the_answer_and_skips_the_template_notice(llm):
    answers, sent = llm
    answers += [{"hint": "Template updated"}, {"hint": "East.", "path": [[2, 1]]}]
    state = trial.start_state(maze=reference.example_maze(), session_key=trial.new_try_key(), template=TEMPLATE)
    outcome = async_to_sync(trial.ask)(state=state, timeout=5)
    assert outcome.status == 200 and outcome.hint == {"hint": "East.", "path": [[2, 1]]}
    assert sent == [state] and outcome.latency_ms >= 0


def test_ask_without_an_answer_ends_at_its_deadline_with_504(llm):
    state = trial.start_state(maze=reference.example_maze(), session_key=trial.new_try_key(), template=TEMPLATE)
    outcome = async_to_sync(trial.ask)(state=state, timeout=0.2)
    assert (outcome.status, outcome.code, outcome.hint) == (504, "timeout", None)


def test_ask_without_a_worker_is_503_and_sends_nothing():
    state = trial.start_state(maze=reference.example_maze(), session_key=trial.new_try_key(), template=TEMPLATE)
    outcome = async_to_sync(trial.ask)(state=state, timeout=5)  # unit tests have no Redis: no worker
    assert (outcome.status, outcome.code) == (503, "unavailable") and outcome.detail


def test_ask_when_the_channel_layer_fails_is_503_not_500(llm, monkeypatch):
    _, sent = llm

    class Broken:
        async def __aenter__(self):
            raise ConnectionError("Redis is down")

        async def __aexit__(self, *exc):
            return False

    monkeypatch.setattr(gateway, "group_events", lambda group, key: Broken())
    state = trial.start_state(maze=reference.example_maze(), session_key=trial.new_try_key(), template=TEMPLATE)
    outcome = async_to_sync(trial.ask)(state=state, timeout=5)
    assert (outcome.status, outcome.code) == (503, "unavailable") and sent == []


def test_raw_text_is_the_text_received_or_the_json_object():
    assert trial.raw_text({"raw": "no JSON here"}) == "no JSON here"
    assert json.loads(trial.raw_text({"hint": "é", "path": []})) == {"hint": "é", "path": []}


# -- the endpoint ------------------------------------------------------------------------------------------------
def post(user, template_id, body, raw=None):
    client = AsyncClient()
    if user is not None:
        client.force_login(user)
    data = raw if raw is not None else json.dumps(body)
    return async_to_sync(client.post)(f"/api/templates/{template_id}/try", data, content_type="application/json")


def test_a_try_reports_what_the_game_would_apply_and_ignore(alice, llm):
    answers, sent = llm
    maze = reference.example_maze()
    first = engine.shortest_path(maze.walls, maze.start, maze.exit)[1]
    answers.append({"hint": "Go.", "bfs_steps": [list(first)], "freeze": True, "teleport": [99, 99], "foo": 1})
    template = template_create(owner=alice, title="T", content="Guide well.")
    response = post(alice, template.id, {"source": "example"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["session_id"].startswith("try-") and body["session_id"] == sent[0]["sessionId"]
    assert sent[0]["prompt_template"] == {"title": "T", "content": "Guide well.", "version": 1, "user_id": alice.pk}
    assert body["source"] == {"kind": "example", "game_id": None, "width": maze.width, "height": maze.height}
    assert body["template"] == {"id": template.id, "title": "T", "version": 1}
    assert body["applied"] == {"path": [list(first)], "freeze_germs_ms": 5000}
    assert body["aliases"] == {"bfs_steps": "path", "freeze": "freeze_germs_ms", "teleport": "teleport_player"}
    ignored = {i["action"]: i["reason"] for i in body["ignored"]}
    assert set(ignored) == {"teleport", "foo"} and "off the" in ignored["teleport"]
    assert json.loads(body["raw"]) == answers[0] and body["text"] == "Go." and body["error"] is None
    assert MazeGame.objects.count() == 0  # nothing of a game was made or stored


def test_a_try_on_one_of_your_games_uses_that_games_maze(alice, llm):
    answers, sent = llm
    answers.append({"raw": "I cannot help."})
    template = template_create(owner=alice, title="T", content="Guide well.")
    game, maze = game_create(owner=alice, width=15, height=11, germs=2, mode="manual", template=None)
    body = post(alice, template.id, {"game_id": game.id}).json()
    assert body["source"] == {"kind": "game", "game_id": game.id, "width": 15, "height": 11}
    assert sent[0]["visible_map"] == engine.to_protocol_map(maze.walls)
    assert body["raw"] == "I cannot help." and body["error"] == "I cannot help." and body["applied"] == {}
    game.refresh_from_db()
    assert game.last_hint is None and game.play is None


@pytest.mark.parametrize(
    "body, field",
    [
        ({"source": "history"}, "source"),
        ({"source": 5}, "source"),
        ({"game_id": "x"}, "game_id"),
        ({"game_id": 0}, "game_id"),
    ],
)
def test_a_bad_source_is_400_naming_the_field(alice, body, field):
    template = template_create(owner=alice, title="T", content="c")
    response = post(alice, template.id, body)
    assert response.status_code == 400 and response.json()["field"] == field and response.json()["detail"]


def test_not_json_is_400(alice):
    template = template_create(owner=alice, title="T", content="c")
    assert post(alice, template.id, None, raw="{nope").status_code == 400


def test_only_your_own_templates_and_games(alice, bob, django_user_model):
    template = template_create(owner=alice, title="T", content="c")
    bobs_game, _ = game_create(owner=bob, width=11, height=9, germs=1, mode="manual", template=None)
    assert post(bob, template.id, {"source": "example"}).status_code == 404
    assert post(alice, template.id, {"game_id": bobs_game.id}).status_code == 404
    staff = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    assert post(staff, template.id, {"source": "example"}).status_code == 404  # staff do not spend alice's LLM time
    anonymous = post(None, template.id, {"source": "example"})
    assert anonymous.status_code == 401 and anonymous.json()["detail"]


def test_past_the_hint_rate_limit_is_429_and_sends_nothing(alice, llm, monkeypatch):
    _, sent = llm
    asked = []

    async def limited(*, scope, user_id, limit):
        asked.append((scope, user_id))
        return 7

    monkeypatch.setattr("portal.ratelimit.retry_after", limited)
    template = template_create(owner=alice, title="T", content="c")
    response = post(alice, template.id, {"source": "example"})
    assert response.status_code == 429 and response["Retry-After"] == "7"
    assert response.json()["code"] == "rate_limited" and asked == [("hint", alice.pk)] and sent == []


def test_timeout_and_unavailable_are_json(alice, llm, settings, monkeypatch):
    settings.MAZE_TRY_TIMEOUT = 0.2
    template = template_create(owner=alice, title="T", content="c")
    timed_out = post(alice, template.id, {"source": "example"})
    assert timed_out.status_code == 504 and timed_out.json()["code"] == "timeout"
    monkeypatch.undo()  # no worker again
    unavailable = post(alice, template.id, {"source": "example"})
    assert unavailable.status_code == 503 and unavailable["Retry-After"] and unavailable.json()["detail"]


def test_the_detail_page_offers_a_try_to_the_owner_only(alice, django_user_model, client):
    template = template_create(owner=alice, title="T", content="c")
    game, _ = game_create(owner=alice, width=11, height=9, germs=1, mode="manual", template=None)
    client.force_login(alice)
    page = client.get(f"/templates/{template.id}/").content.decode()
    assert 'id="try-panel"' in page and f'value="{game.id}"' in page
    staff = django_user_model.objects.create_superuser("root", password="pw-root-123456")
    client.force_login(staff)
    assert 'id="try-panel"' not in client.get(f"/templates/{template.id}/").content.decode()


def test_any_body_gets_a_deliberate_answer(alice):
    """Never a 500: any body is a 4xx naming what is wrong, or (valid, but no worker in unit tests) a 503."""
    from hypothesis import example, given
    from hypothesis import strategies as st

    from tests.fuzzing import fuzz_settings
    from tests.unit.test_fuzz_api import assert_deliberate, json_values

    template = template_create(owner=alice, title="T", content="c")
    client = Client()
    client.force_login(alice)
    keys = st.sampled_from(["source", "game_id", "x"])

    @fuzz_settings(40)
    @given(st.one_of(st.binary(max_size=40), st.dictionaries(keys, json_values, max_size=3).map(json.dumps)))
    @example(b"")
    @example('{"game_id": 1e400}')
    @example('{"game_id": 9223372036854775808}')
    @example('{"source": "example\\u0000"}')
    def check(body):
        assert_deliberate(client.post(f"/api/templates/{template.id}/try", body, content_type="application/json"))

    check()
