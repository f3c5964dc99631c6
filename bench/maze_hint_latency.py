"""Maze hint latency: state from the player's WebSocket -> portal -> maze/state -> responder -> maze/hint ->
worker -> the player's WebSocket, side by side with the floor (the same state/hint exchange by a bare MQTT client).

    .venv/bin/python bench/maze_hint_latency.py --rounds 200 --games 1 50

Starts its own mosquitto, Redis, daphne, worker and the offline responder. The portal's share of the latency is
the median total minus the median floor.
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import queue
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from maze import engine  # noqa: E402
from tests.harness.platform import Platform  # noqa: E402
from tests.harness.procs import wait_until  # noqa: E402


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def report(name, ms, elapsed=None):
    line = f"{name:<34} n {len(ms):5d}  p50 {statistics.median(ms):7.2f} ms  p95 {pct(ms, 95):7.2f} ms  p99 {pct(ms, 99):7.2f} ms"
    if elapsed:
        line += f"  {len(ms) / elapsed:7.1f} hints/s"
    print(line, flush=True)
    return statistics.median(ms)


def floor(port, maze, rounds):
    """A bare MQTT client sends the state a portal would send and waits for the hint."""
    session = f"floor-{uuid.uuid4().hex[:8]}"
    arrived: queue.Queue = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: arrived.put(time.perf_counter())
    client.connect("127.0.0.1", port)
    client.socket().setsockopt(__import__("socket").IPPROTO_TCP, __import__("socket").TCP_NODELAY, 1)
    client.loop_start()
    wait_until(client.is_connected, 5, what="floor client")
    client.subscribe(f"maze/hint/{session}", qos=1)
    time.sleep(0.3)
    state = {"sessionId": session, "player_pos": list(maze.start), "exit_pos": list(maze.exit),
             "visible_map": engine.to_protocol_map(maze.walls), "oxygenPellets": [], "germs": [],
             "tick": 0, "health": 100, "oxygen": 100, "replyTopic": f"maze/hint/{session}"}
    rtts = []
    for _ in range(rounds):
        started = time.perf_counter()
        client.publish("maze/state", json.dumps(state), qos=0)
        rtts.append((arrived.get(timeout=10) - started) * 1000)
    client.loop_stop()
    client.disconnect()
    return rtts


def player(p, client, game, rounds, results, errors):
    maze = game["maze"]
    message = json.dumps({"type": "state", "request_hint": True, "state": {
        "player": maze["start"], "exit": maze["exit"], "walls": maze["walls"], "pellets": maze["pellets"],
        "germs": maze["germs"], "tick": 0, "health": 100, "oxygen": 100}})
    with connect(client.ws_url(f"/ws/maze/{game['game']['id']}/"), origin=p.base_url,
                 additional_headers={"Cookie": client.cookie_header}, open_timeout=30) as ws:
        for _ in range(rounds):
            started = time.perf_counter()
            ws.send(message)
            while True:
                event = json.loads(ws.recv(timeout=10))
                if event["type"] == "hint" and not event["notice"]:
                    results.append((time.perf_counter() - started) * 1000)
                    break
                if event["type"] == "error":
                    errors.append(event["code"])
                    break
            time.sleep(0.21)  # hint requests are throttled to one per 200 ms per socket


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=100, help="hint requests per game")
    parser.add_argument("--games", type=int, nargs="+", default=[1, 50])
    args = parser.parse_args()
    print(f"machine: {host_platform.machine()}, {os.cpu_count()} cores, Python {host_platform.python_version()}; "
          f"offline responder, 33x21 maze, one daphne, one worker")
    p = Platform(Path(tempfile.mkdtemp(prefix="bench-maze-")), LOG_LEVEL="WARNING", WORKER_HEARTBEAT_INTERVAL="2")
    try:
        p.start_all()
        p.create_user("player")
        client = p.client("player")
        sample = engine.generate(33, 21, seed=1)
        floor(p.broker.port, sample, 20)  # warm-up
        floor_ms = report("floor (bare MQTT state -> hint)", floor(p.broker.port, sample, args.rounds))
        for games in args.games:
            created = [client.post("/api/maze/games", {"width": 33, "height": 21, "germs": 5}).json()
                       for _ in range(games)]
            results, errors = [], []
            started = time.perf_counter()
            with ThreadPoolExecutor(games) as pool:
                for game in created:
                    pool.submit(player, p, client, game, args.rounds, results, errors)
            elapsed = time.perf_counter() - started
            total = report(f"portal, {games} concurrent game(s)", results, elapsed)
            print(f"{'':<34} portal share of p50: {total - floor_ms:+.2f} ms; errors: "
                  f"{ {e: errors.count(e) for e in set(errors)} or 'none'}", flush=True)
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
