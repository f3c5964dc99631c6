"""Idle WebSockets: memory per open chat socket in one daphne process, at 1,000 and 10,000 sockets.

    .venv/bin/python bench/idle_sockets.py --sockets 1000 10000

Starts its own platform (one daphne, one worker, offline responder), bulk-creates users and chat sessions, and
opens logged-in chat sockets (/ws/chat/<id>/, ten per session, as tabs would) in batches from one asyncio client.
At each level: sockets open, failures, daphne's RSS, and the RSS per socket over the level before; then a chat
round trip on one of the open sockets (the process still serves), and the RSS after every socket closed.
The client needs one file descriptor per socket, and so does daphne (ulimit -n must exceed the largest level).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import websockets
from common import create_users, machine_line, rss_mb, run_load, start_platform

SOCKETS_PER_SESSION = 10
BATCH = 200


def create_sessions(p, owner_names: list[str], per_owner: int) -> list[tuple[str, int]]:
    """Sessions in one management-command process; returns (owner, session id) pairs."""
    code = (
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from chatbot.models import ChatSession\n"
        f"owners = get_user_model().objects.filter(username__in={json.dumps(owner_names)})\n"
        "made = ChatSession.objects.bulk_create(\n"
        f"    [ChatSession(owner=o, title='idle') for o in owners for _ in range({per_owner})])\n"
        "print(json.dumps([[s.owner.username, s.id] for s in made]))\n"
    )
    result = p.manage("shell", "-c", code)
    assert result.returncode == 0, result.stderr
    return [tuple(pair) for pair in json.loads(result.stdout.strip().splitlines()[-1])]


async def open_sockets(ws_base, origin, targets, cookies, count, sockets, failures):
    async def one(owner, session_id):
        try:
            ws = await websockets.connect(
                f"{ws_base}/ws/chat/{session_id}/",
                origin=origin,
                open_timeout=60,
                additional_headers={"Cookie": cookies[owner]},
                max_queue=16,
                ping_interval=None,
            )
            sockets.append(ws)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            failures.append(type(exc).__name__)

    while len(sockets) + len(failures) < count:
        start = len(sockets) + len(failures)
        batch = [targets[(start + k) // SOCKETS_PER_SESSION] for k in range(min(BATCH, count - start))]
        await asyncio.gather(*(one(owner, sid) for owner, sid in batch))


async def round_trip(ws) -> float:
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "chat.message", "content": "still serving?"}))
    while True:
        event = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if event["type"] in ("chat.reply", "chat.error"):
            assert event["type"] == "chat.reply", event
            return (time.perf_counter() - started) * 1000


async def run(p, levels):
    most = max(levels)
    sessions_needed = -(-most // SOCKETS_PER_SESSION)
    owners = [f"idle{u}" for u in range(max(1, sessions_needed // 10))]
    create_users(p, owners)
    targets = create_sessions(p, owners, -(-sessions_needed // len(owners)))
    cookies = {name: p.client(name).cookie_header for name in owners}
    ws_base, origin = p.base_url.replace("http://", "ws://"), p.base_url
    pid = p.web.pid

    sockets, failures = [], []
    await open_sockets(ws_base, origin, targets, cookies, 1, sockets, failures)  # warm-up: first socket
    await asyncio.sleep(1)
    baseline = last = rss_mb(pid)
    print(f"daphne RSS with 1 socket open: {baseline:.1f} MB", flush=True)
    last_count = 1
    for level in levels:
        started = time.perf_counter()
        await open_sockets(ws_base, origin, targets, cookies, level, sockets, failures)
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2)
        rss = rss_mb(pid)
        per_socket = (rss - last) * 1024 / max(1, len(sockets) - last_count)
        print(
            f"{len(sockets):6d} sockets open ({len(failures)} failed) in {elapsed:5.1f} s; daphne RSS {rss:7.1f} MB; "
            f"{per_socket:5.1f} KB per socket over the previous level, "
            f"{(rss - baseline) * 1024 / max(1, len(sockets) - 1):5.1f} KB per socket overall",
            flush=True,
        )
        print(f"{'':6} a chat round trip with them open: {await round_trip(sockets[0]):.1f} ms", flush=True)
        last, last_count = rss, len(sockets)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.sleep(3)
    print(
        f"after closing all: daphne RSS {rss_mb(pid):.1f} MB; failures by kind: "
        f"{ {k: failures.count(k) for k in set(failures)} or 'none' }",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    print(machine_line("one daphne, one worker, SQLite; idle logged-in chat sockets, ten per session"), flush=True)
    p = start_platform("bench-idle-")
    try:
        run_load(run(p, sorted(args.sockets)))
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
