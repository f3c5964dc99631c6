"""Prompt templates, maze games, state out / hints in, scores and leaderboard against the real platform."""

import json
import time

import pytest
from websockets.sync.client import connect

from maze import engine
from maze.play import MAX_STEPS_PER_FRAME
from tests.harness.mqtt import MqttPeer
from tests.harness.procs import wait_until


@pytest.fixture(scope="module")
def alice(platform):
    return platform.client("alice")


@pytest.fixture(scope="module")
def bob(platform):
    return platform.client("bob")


@pytest.fixture(scope="module")
def wire(platform):
    """A peer that watches what the portal publishes to the LLM service."""
    peer = MqttPeer(platform.broker.port, subscribe=("maze/template", "maze/template/#", "maze/state"))
    yield peer
    peer.close()


def drain(peer):
    while not peer.messages.empty():
        peer.messages.get_nowait()


def next_on(peer, topic_prefix, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        topic, payload, qos, retain = peer.next_message(max(0.01, deadline - time.monotonic()))
        if topic.startswith(topic_prefix):
            return topic, json.loads(payload), qos


def new_template(client, title="Hinter", content="You guide players out of mazes."):
    response = client.post("/api/templates/", {"title": title, "content": content})
    assert response.status_code == 201, response.text
    return response.json()


def new_game(client, **fields):
    body = {"width": 21, "height": 15, "germs": 3, "mode": "manual", **fields}
    response = client.post("/api/maze/games", body)
    assert response.status_code == 201, response.text
    return response.json()


def socket(platform, client, game_id):
    return connect(
        client.ws_url(f"/ws/maze/{game_id}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": client.cookie_header},
        open_timeout=5,
    )


def state_message(maze, request_hint=True, player=None):
    return json.dumps(
        {
            "type": "state",
            "request_hint": request_hint,
            "state": {
                "player": player or maze["start"],
                "exit": maze["exit"],
                "walls": maze["walls"],
                "pellets": maze["pellets"],
                "germs": maze["germs"],
                "tick": int(time.time() * 1000),
                "health": 100,
                "oxygen": 97,
            },
        }
    )


def receive_type(ws, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if event["type"] == kind:
            return event


def test_templates_are_private_and_versioned(alice, bob):
    template = new_template(alice)
    assert template["version"] == 1
    same = alice.request("PATCH", f"/api/templates/{template['id']}", {"title": "Renamed"}).json()
    assert same["version"] == 1 and same["title"] == "Renamed"
    changed = alice.request("PATCH", f"/api/templates/{template['id']}", {"content": "Be brief."}).json()
    assert changed["version"] == 2
    assert bob.get(f"/api/templates/{template['id']}").status_code == 404
    assert bob.request("PATCH", f"/api/templates/{template['id']}", {"title": "x"}).status_code == 404
    assert template["id"] not in [t["id"] for t in bob.get("/api/templates/").json()["templates"]]
    assert bob.get(f"/templates/{template['id']}/").status_code == 404
    assert alice.get(f"/templates/{template['id']}/").status_code == 200
    assert alice.post("/api/templates/", {"title": "", "content": "x"}).json()["field"] == "title"


def test_chat_session_can_start_from_your_template_only(alice, bob):
    template = new_template(alice, content="Answer like a pirate.")
    session = alice.post("/api/chatbot/sessions", {"template_id": template["id"]}).json()
    assert session["system_prompt"] == "Answer like a pirate."
    assert bob.post("/api/chatbot/sessions", {"template_id": template["id"]}).status_code == 404


def test_game_start_publishes_the_template_to_that_session_only(alice, wire):
    template = new_template(alice, title="Start template", content="Guide me.")
    drain(wire)
    data = new_game(alice, template_id=template["id"])
    topic, payload, qos = next_on(wire, "maze/template")
    assert topic == f"maze/template/{data['game']['session_key']}"
    assert qos == 1
    assert payload["sessionId"] == data["game"]["session_key"]
    assert payload["template"] == payload["systemPrompt"] == "Guide me."
    assert payload["reset"] is True and payload["title"] == "Start template" and payload["version"] == 1


def test_switching_template_republishes_with_reset(alice, wire):
    first, second = new_template(alice, content="first"), new_template(alice, content="second")
    drain(wire)
    data = new_game(alice, template_id=first["id"])
    # The start's publish is asynchronous (through the worker): see it on the wire before switching.
    assert next_on(wire, "maze/template")[1]["template"] == "first"
    response = alice.request("PATCH", f"/api/maze/games/{data['game']['id']}", {"template_id": second["id"]})
    assert response.status_code == 200 and response.json()["game"]["template"]["id"] == second["id"]
    topic, payload, qos = next_on(wire, "maze/template")
    assert topic.endswith(data["game"]["session_key"]) and payload["template"] == "second" and payload["reset"]


def test_state_goes_out_as_protocol_json_with_floor_as_1(platform, alice, wire):
    template = new_template(alice, content="state template")
    data = new_game(alice, template_id=template["id"])
    maze = data["maze"]
    drain(wire)
    with socket(platform, alice, data["game"]["id"]) as ws:
        ws.send(state_message(maze))
        topic, payload, qos = next_on(wire, "maze/state")
        assert qos == 0
        assert payload["sessionId"] == data["game"]["session_key"]
        assert payload["player_pos"] == maze["start"] and payload["exit_pos"] == maze["exit"]
        # The browser's grid has 1 = wall; PROTOCOL.md's visible_map has 1 = floor.
        for y, row in enumerate(maze["walls"]):
            assert payload["visible_map"][y] == [1 - cell for cell in row]
        assert payload["oxygenPellets"] == [{"x": x, "y": y} for x, y in maze["pellets"]]
        assert payload["germs"] == [{"x": x, "y": y} for x, y in maze["germs"]]
        assert payload["prompt_template"] == {
            "title": template["title"],
            "content": "state template",
            "version": 1,
            "user_id": payload["prompt_template"]["user_id"],
        }
        assert payload["replyTopic"] == f"maze/hint/{data['game']['session_key']}"


def test_offline_hint_arrives_within_a_second_and_is_kept(platform, alice):
    data = new_game(alice)
    with socket(platform, alice, data["game"]["id"]) as ws:
        started = time.monotonic()
        ws.send(state_message(data["maze"]))
        hint = receive_type(ws, "hint", timeout=3)
        assert time.monotonic() - started < 1.0
    assert hint["text"] and hint["notice"] is False
    path = hint["applied"]["path"]
    assert len(path) >= 1 and all(len(step) == 2 for step in path)
    assert hint["ignored"] == []
    last = alice.get(f"/api/maze/last_hint?session_id={data['game']['session_key']}").json()
    assert last["hint"]["hint"] == hint["hint"]["hint"] and last["received_at"]


def test_hint_reaches_every_socket_of_its_game_and_no_other(platform, alice):
    game_a, game_b = new_game(alice), new_game(alice)
    key = game_a["game"]["session_key"]
    peer = MqttPeer(platform.broker.port)
    try:
        with (
            socket(platform, alice, game_a["game"]["id"]) as a1,
            socket(platform, alice, game_a["game"]["id"]) as a2,
            socket(platform, alice, game_b["game"]["id"]) as b1,
        ):
            time.sleep(0.3)
            peer.publish(
                f"maze/hint/{key}",
                json.dumps(
                    {
                        "hint": "Go east",
                        "break_wall": [0, 0],
                        "freeze_germs_ms": 2000,
                        "teleport_player": [999, 1],
                        "path": [[1, 1], [3, 3]],
                    }
                ),
            )
            for ws in (a1, a2):
                hint = receive_type(ws, "hint")
                assert hint["text"] == "Go east"
                assert hint["applied"] == {"freeze_germs_ms": 2000}
                assert {i["action"] for i in hint["ignored"]} == {"break_wall", "teleport_player", "path"}
            with pytest.raises(TimeoutError):
                b1.recv(timeout=1.0)
    finally:
        peer.close()


def test_hint_for_an_unknown_game_is_dropped(platform):
    before = platform.worker_states()[0]["counters"]["hints_unknown"]
    peer = MqttPeer(platform.broker.port)
    try:
        peer.publish("maze/hint/game-doesnotexist", json.dumps({"hint": "hello"}))
    finally:
        peer.close()
    wait_until(
        lambda: platform.worker_states()[0]["counters"]["hints_unknown"] == before + 1,
        5,
        what="the unknown hint to be counted",
    )


def test_sockets_of_other_users_and_bad_frames(platform, alice, bob):
    data = new_game(alice)
    with socket(platform, bob, data["game"]["id"]) as ws:
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=5)
    assert getattr(closed.value, "rcvd", None) is not None and closed.value.rcvd.code == 4404
    with socket(platform, alice, data["game"]["id"]) as ws:
        ws.send(json.dumps({"type": "state", "request_hint": True, "state": {"player": [999, 1]}}))
        error = receive_type(ws, "error")
        assert error["code"] == "invalid"


NAMES = {(0, -1): "up", (0, 1): "down", (-1, 0): "left", (1, 0): "right"}


def play_to_the_exit(ws, maze, detours=0):
    """Play a game as the browser does: each move's steps over the game's socket, along the shortest path, after
    stepping forward and back `detours` times. Returns what the browser would report."""
    walls = engine.from_client_grid(maze["walls"])
    path = engine.shortest_path(walls, tuple(maze["start"]), tuple(maze["exit"]))
    cells = [*([path[0], path[1]] * detours), *path]
    steps = [{"dir": NAMES[(b[0] - a[0], b[1] - a[1])], "counts": True} for a, b in zip(cells, cells[1:])]
    # A few steps a frame (as a queued browser sends them), so a long walk stays within the socket's frame budget.
    for start in range(0, len(steps), MAX_STEPS_PER_FRAME):
        ws.send(json.dumps({"type": "move", "steps": steps[start : start + MAX_STEPS_PER_FRAME]}))
    return {
        "won": True,
        "duration_ms": 60000,
        "steps": len(cells) - 1,
        "backtracks": 2 * detours if detours else 0,
        "collisions": 0,
        "oxygen_collected": sum(1 for c in set(cells) if list(c) in maze["pellets"]),
        "hint_count": 0,
        "avg_hint_latency_ms": None,
        "mode": "manual",
    }


def finish(ws, report):
    ws.send(json.dumps({"type": "finish", "report": report}))
    deadline = time.monotonic() + 10
    while True:
        event = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if event["type"] in ("finished", "error"):
            return event


def test_a_score_comes_only_from_play_the_server_saw_and_is_recorded_once(platform, alice, bob):
    template = new_template(alice, title="Scorer")
    data = new_game(alice, template_id=template["id"], germs=0)
    game_id = data["game"]["id"]
    # The forged report of a security review: won in one step with one hint, on a game never played.
    forged = {
        "won": True,
        "duration_ms": 1000,
        "steps": 1,
        "backtracks": 0,
        "collisions": 0,
        "oxygen_collected": 0,
        "hint_count": 1,
        "avg_hint_latency_ms": 0,
        "mode": "manual",
    }
    refused = alice.post(f"/api/maze/games/{game_id}/finish", forged)
    assert refused.status_code == 400 and "saw no play" in refused.json()["detail"]
    assert bob.post(f"/api/maze/games/{game_id}/finish", forged).status_code == 404
    with socket(platform, alice, game_id) as ws:
        report = play_to_the_exit(ws, data["maze"])
        disagreeing = finish(ws, {**report, "collisions": 3})
        assert disagreeing["type"] == "error" and disagreeing["field"] == "collisions"
        assert finish(ws, {**report, "mode": "lam"})["field"] == "mode"
        done = finish(ws, report)
        assert done["type"] == "finished", done
    score = done["score"]
    assert score["won"] is True and score["points"] > 1000 and score["path_efficiency"] == 1.0
    assert alice.post(f"/api/maze/games/{game_id}/finish", report).status_code == 409  # once
    board = alice.get(f"/api/leaderboard/?template_id={template['id']}").json()
    assert board["total"] == 1 and board["results"][0]["points"] == score["points"]
    assert board["results"][0]["template"] == {"id": template["id"], "title": "Scorer", "version": 1}
    assert bob.post("/api/maze/games", {"template_id": template["id"]}).status_code == 404


def test_leaderboard_keeps_the_best_score_per_player_and_template(platform, alice, bob):
    template = new_template(alice, title="Best-of")
    points, efficiency = [], []
    for detours in (0, 5):
        data = new_game(alice, template_id=template["id"], germs=0)
        with socket(platform, alice, data["game"]["id"]) as ws:
            done = finish(ws, play_to_the_exit(ws, data["maze"], detours=detours))
        assert done["type"] == "finished", done
        points.append(done["score"]["points"])
        efficiency.append(done["score"]["path_efficiency"])
    # Each game is a new random maze (its own pellets, path length, time), so only the efficiency compares.
    assert efficiency[0] == 1.0 > efficiency[1]
    board = bob.get(f"/api/leaderboard/?template_id={template['id']}").json()
    assert board["total"] == 1 and board["results"][0]["points"] == max(points)
    overall = bob.get("/api/leaderboard/?page=1").json()
    assert {"results", "page", "pages", "total"} <= set(overall) and overall["page"] == 1
    assert bob.get("/api/leaderboard/?page=abc").status_code == 400
