"""Maze hint latency: state from the player's WebSocket -> portal -> maze/state -> responder -> maze/hint ->
worker -> the player's WebSocket, side by side with the floor (the same state/hint exchange by a bare MQTT client).

    .venv/bin/python bench/maze_hint_latency.py --games 1 50 500 --rounds 20 --interval 1

Starts its own mosquitto, Redis, daphne, worker and the offline responder (SQLite), with the per-user hint rate
limit and the frame budget off (a benchmark is all one user's traffic by design). Every game is a player on its
own socket asking for a hint every `--interval` seconds (players do not ask faster than about once a second; a
socket may ask at most every 0.2 s), so 500 games offer 500 hints/s. The portal's share of the latency is the
median total minus the median floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import queue
import socket
import time
import uuid

import paho.mqtt.client as paho
import websockets
from common import Run, create_users, machine_line, rss_mb, run_load, start_platform
from paho.mqtt.enums import CallbackAPIVersion

from maze import engine
from tests.harness.procs import wait_until

GAMES_PER_USER = 50


def floor(port, maze, rounds) -> Run:
    """A bare MQTT client sends the state a portal would send and waits for the hint, one at a time."""
    session = f"floor-{uuid.uuid4().hex[:8]}"
    arrived: queue.Queue = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, m: arrived.put(time.perf_counter())
    client.connect("127.0.0.1", port)
    client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.loop_start()
    wait_until(client.is_connected, 5, what="floor client")
    client.subscribe(f"maze/hint/{session}", qos=1)
    time.sleep(0.3)
    state = {
        "sessionId": session,
        "player_pos": list(maze.start),
        "exit_pos": list(maze.exit),
        "visible_map": engine.to_protocol_map(maze.walls),
        "oxygenPellets": [],
        "germs": [],
        "tick": 0,
        "health": 100,
        "oxygen": 100,
        "replyTopic": f"maze/hint/{session}",
    }
    run = Run("floor (bare MQTT state -> hint)", total=rounds)
    started_all = time.perf_counter()
    for _ in range(rounds):
        started = time.perf_counter()
        client.publish("maze/state", json.dumps(state), qos=0)
        run.latencies_ms.append((arrived.get(timeout=10) - started) * 1000)
        run.count("ok")
    run.elapsed = time.perf_counter() - started_all
    client.loop_stop()
    client.disconnect()
    return run


async def play(ws_url, origin, cookie, game, rounds, interval, run: Run) -> None:
    maze = game["maze"]
    message = json.dumps(
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
    async with websockets.connect(
        f"{ws_url}/ws/maze/{game['game']['id']}/",
        origin=origin,
        open_timeout=60,
        additional_headers={"Cookie": cookie},
        max_queue=None,
    ) as ws:
        await asyncio.sleep(interval * (hash(game["game"]["id"]) % 1000) / 1000)  # players do not ask in step
        for _ in range(rounds):
            started = time.perf_counter()
            await ws.send(message)
            outcome = None
            try:
                async with asyncio.timeout(15):
                    while outcome is None:
                        event = json.loads(await ws.recv())
                        if event["type"] == "hint" and not event["notice"]:
                            outcome = "ok"
                        elif event["type"] == "error":
                            outcome = event["code"]
            except TimeoutError:
                outcome = "client timeout"
            elapsed = time.perf_counter() - started
            run.count(outcome)
            if outcome == "ok":
                run.latencies_ms.append(elapsed * 1000)
            await asyncio.sleep(max(0.21, interval - elapsed))


async def games_run(p, players, games, rounds, interval) -> Run:
    """`games` games, each owned by one of the players, played at once."""
    loop = asyncio.get_running_loop()
    created = []
    for g in range(games):
        client = players[g // GAMES_PER_USER]
        response = await loop.run_in_executor(
            None, lambda c=client: c.post("/api/maze/games", {"width": 33, "height": 21, "germs": 5})
        )
        created.append((client, response.json()))
    run = Run(f"portal, {games} concurrent game(s)", total=games * rounds)
    started = time.perf_counter()
    ws_url = p.base_url.replace("http://", "ws://")
    await asyncio.gather(
        *(play(ws_url, p.base_url, client.cookie_header, game, rounds, interval, run) for client, game in created)
    )
    run.elapsed = time.perf_counter() - started
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="hint requests per game")
    parser.add_argument("--games", type=int, nargs="+", default=[1, 50, 500])
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between a player's hint requests")
    args = parser.parse_args()
    print(
        machine_line(
            f"offline responder, 33x21 maze, one daphne, one worker, SQLite; a hint every "
            f"{args.interval:g} s per game, {args.rounds} per game; HINT_RATE_LIMIT=0, WS_FRAME_RATE=0"
        ),
        flush=True,
    )
    p = start_platform("bench-maze-", HINT_RATE_LIMIT="0", WS_FRAME_RATE="0")
    try:
        names = [f"player{u}" for u in range(-(-max(args.games) // GAMES_PER_USER))]
        create_users(p, names)
        players = [p.client(name) for name in names]
        sample = engine.generate(33, 21, seed=1)
        floor(p.broker.port, sample, 20)  # warm-up
        floor_run = floor(p.broker.port, sample, 200)
        print(floor_run.line(), flush=True)
        for games in args.games:
            run = run_load(games_run(p, players, games, args.rounds, args.interval))
            print(
                run.line(floor_run.p50) + f"  ({run.total / run.elapsed:.0f} hints/s offered and answered)", flush=True
            )
        print(f"RSS daphne {rss_mb(p.web.pid):.0f} MB, worker {rss_mb(p.workers[0].pid):.0f} MB", flush=True)
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
