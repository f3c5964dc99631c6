"""Beyond one broker and one Redis, with the engines themselves:
- two mosquitto brokers joined by a bridge (mosquitto's own clustering): the worker on one, the LLM service on
  the other, chat and maze traffic crossing the bridge;
- the channel layer sharded over two redis-servers (channels-redis consistent hashing), chat over HTTP and
  WebSocket working and both shards carrying channels.
"""

import json

import redis
from websockets.sync.client import connect

from tests.harness.platform import Platform
from tests.harness.procs import Mosquitto, RedisServer

BRIDGE = """
listener {port} 127.0.0.1
allow_anonymous true
persistence true
persistence_location {dir}/
set_tcp_nodelay true

# Everything both ways at QoS 1, with a persistent bridge session: what the worker and the LLM service need
# (QoS 1 requests and replies, retained status messages, the worker's probe echo) crosses like on one broker.
connection to_llm_side
address 127.0.0.1:%d
topic # both 1
cleansession false
try_private true
notifications false
restart_timeout 1
"""


def chat_round_trip(platform, client):
    session = client.new_session()
    response = client.post("/api/chatbot/messages", {"session_id": session["id"], "content": "across the bridge"})
    assert response.status_code == 200, response.text
    assert response.json()["assistant_message"]["content"].endswith("across the bridge")
    with connect(
        client.ws_url(f"/ws/chat/{session['id']}/"),
        origin=platform.base_url,
        additional_headers={"Cookie": client.cookie_header},
        open_timeout=5,
    ) as ws:
        ws.send(json.dumps({"type": "chat.message", "content": "and over the socket"}))
        events = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
    assert [e["type"] for e in events] == ["chat.accepted", "chat.reply"]
    assert events[1]["assistant_message"]["content"].endswith("and over the socket")


def test_worker_and_llm_service_on_two_bridged_brokers(tmp_path):
    llm_side = Mosquitto(tmp_path / "b").start()
    portal_side = Mosquitto(tmp_path / "a", config=BRIDGE % llm_side.port)
    platform = Platform(tmp_path, broker=portal_side)
    try:
        platform.start_infra()
        platform.start_web()
        platform.start_worker()
        platform.start_responder(MQTT_BROKER_PORT=str(llm_side.port))  # the LLM service never sees the portal's broker
        platform.create_user("alice")
        alice = platform.client("alice")
        chat_round_trip(platform, alice)

        game = alice.post("/api/maze/games", {"width": 11, "height": 11, "germs": 1}).json()
        maze = game["maze"]
        with connect(
            alice.ws_url(f"/ws/maze/{game['game']['id']}/"),
            origin=platform.base_url,
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
                            "pellets": maze["pellets"],
                            "germs": maze["germs"],
                            "tick": 0,
                            "health": 100,
                            "oxygen": 100,
                        },
                    }
                )
            )
            while (event := json.loads(ws.recv(timeout=10)))["type"] != "hint" or event["notice"]:
                assert event["type"] != "error", event
        assert platform.worker_states()[0]["llm"]["online"] is True  # the retained status crossed too
    except Exception:
        print(platform.logs())
        raise
    finally:
        platform.stop_all()
        llm_side.stop()


def test_channel_layer_sharded_over_two_redis_servers(tmp_path):
    second = RedisServer(tmp_path).start()
    platform = Platform(tmp_path)
    platform.env_overrides["CHANNEL_LAYER_REDIS_URLS"] = f"{platform.redis.url},{second.url}"
    try:
        platform.start_all()
        platform.create_user("alice")
        alice = platform.client("alice")
        chat_round_trip(platform, alice)
        sessions = [alice.new_session() for _ in range(10)]
        sockets = [
            connect(
                alice.ws_url(f"/ws/chat/{s['id']}/"),
                origin=platform.base_url,
                additional_headers={"Cookie": alice.cookie_header},
                open_timeout=5,
            )
            for s in sessions
        ]
        try:
            # Twenty-odd channel and group names (random ones among them), hashed over two servers: both carry
            # some (all on one would happen about twice in a million runs).
            subscribed = [redis.Redis.from_url(server.url).pubsub_channels() for server in (platform.redis, second)]
            assert all(subscribed), subscribed
            for i, ws in enumerate(sockets):
                ws.send(json.dumps({"type": "chat.message", "content": f"shard {i}"}))
            for i, ws in enumerate(sockets):
                events = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
                assert [e["type"] for e in events] == ["chat.accepted", "chat.reply"]
                assert events[1]["assistant_message"]["content"].endswith(f"shard {i}")
        finally:
            for ws in sockets:
                ws.close()
    except Exception:
        print(platform.logs())
        raise
    finally:
        platform.stop_all()
        second.stop()
