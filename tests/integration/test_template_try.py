"""Template tries (POST /api/templates/<id>/try) against the real platform: broker, Redis, daphne, the worker and the
offline responder (which answers a maze state with a shortest-path hint); then the template page's Try it panel in
headless Chromium on a desktop and a phone; last, a try the LLM never answers (the responder paused) ends in 504."""

import signal

import pytest

from maze import engine
from tests.harness.mqtt import MqttPeer
from tests.integration.test_browser import log_in
from tests.integration.test_maze import drain, new_game, new_template, next_on
from tests.integration.test_template_editor_browser import SCREENS, no_overflow

# Long enough for the offline responder on a busy machine, short enough for the test of the deadline.
PLATFORM_ENV = {"MAZE_TRY_TIMEOUT": "6"}


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def wire(platform):
    peer = MqttPeer(platform.broker.port, subscribe=("maze/state",))
    yield peer
    peer.close()


def test_a_try_sends_a_state_of_its_own_and_reports_the_path_hint(platform, alice, wire):
    template = new_template(alice, title="Pathfinder", content="Answer with the path to the exit.")
    drain(wire)
    response = alice.post(f"/api/templates/{template['id']}/try", {"source": "example"})
    assert response.status_code == 200, response.text
    body = response.json()
    topic, state, qos = next_on(wire, "maze/state")
    assert state["sessionId"] == body["session_id"] and body["session_id"].startswith("try-")
    assert state["replyTopic"] == f"maze/hint/{body['session_id']}" and qos == 0
    assert state["prompt_template"]["content"] == "Answer with the path to the exit."
    # The responder's answer: a path from the start, which the game would apply step by step.
    assert body["hint"]["path"] and body["applied"]["path"] == body["hint"]["path"]
    assert body["applied"]["show_path"] is True and body["ignored"] == []
    assert body["text"] and '"path"' in body["raw"] and body["latency_ms"] > 0


def test_a_try_on_a_game_uses_its_maze_and_leaves_the_game_alone(platform, alice, wire):
    template = new_template(alice, title="Game try")
    data = new_game(alice, width=15, height=11)
    game, maze = data["game"], data["maze"]
    drain(wire)
    body = alice.post(f"/api/templates/{template['id']}/try", {"game_id": game["id"]}).json()
    _, state, _ = next_on(wire, "maze/state")
    assert body["source"] == {"kind": "game", "game_id": game["id"], "width": 15, "height": 11}
    assert state["player_pos"] == maze["start"] and state["exit_pos"] == maze["exit"]
    walls = engine.from_client_grid(maze["walls"])
    assert state["visible_map"] == engine.to_protocol_map(walls)
    first = body["applied"]["path"][0]
    assert abs(first[0] - maze["start"][0]) + abs(first[1] - maze["start"][1]) == 1
    assert alice.get(f"/api/maze/last_hint?session_id={game['session_key']}").json().get("hint") is None


@pytest.mark.browser
@pytest.mark.parametrize("screen", SCREENS)
def test_try_it_on_the_template_page(platform, browser, alice, screen, tmp_path):
    template = new_template(alice, title=f"Try page ({screen})", content="Guide <b>me</b>.")
    new_game(alice, width=15, height=11)
    context = browser.new_context(**SCREENS[screen])
    page = context.new_page()
    errors, csp = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: csp.append(msg.text) if "Content Security Policy" in msg.text else None)
    log_in(page, platform.base_url, "alice")
    page.goto(f"{platform.base_url}/templates/{template['id']}/")
    assert page.is_hidden("#try-result")

    page.click("#try-button")
    page.wait_for_selector("#try-actions tbody tr.try-applied", timeout=15_000)
    assert '"path"' in page.text_content("#try-raw")
    assert page.text_content("#try-text").strip() not in ("", "—")
    outcomes = page.locator("#try-actions tbody tr td:nth-child(2)").all_text_contents()
    names = page.locator("#try-actions tbody tr td:nth-child(1)").all_text_contents()
    assert "path" in names and set(outcomes) == {"applied"}
    assert page.is_hidden("#try-spinner") and page.is_enabled("#try-button")
    assert "the example maze" in page.text_content("#try-meta")
    assert no_overflow(page)
    page.screenshot(path=str(tmp_path / f"try-{screen}.png"), full_page=True)

    # One of the user's games: its option is in the list, and the answer says which maze it was.
    page.select_option("#try-source", index=1)
    page.click("#try-button")
    page.wait_for_selector("#try-meta:has-text('game #')", timeout=15_000)
    assert no_overflow(page)
    assert errors == [] and csp == []
    context.close()


def test_a_try_the_llm_never_answers_is_504_at_its_deadline(platform, alice):
    template = new_template(alice, title="Unanswered")
    # Paused, the responder still counts as online (its heartbeats are not overdue yet) but answers nothing.
    platform.responder.signal(signal.SIGSTOP)
    try:
        response = alice.post(f"/api/templates/{template['id']}/try", {"source": "example"}, timeout=20)
    finally:
        platform.responder.signal(signal.SIGCONT)
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "timeout" and "6 s" in response.json()["detail"]
