"""A chat request waiting for a slow LLM holds no database connection in the web process, over the JSON API and
over the WebSocket, and each gets its own reply; over the socket it holds no thread either.

The earlier platform held a thread and a database connection per waiting request and stalled at 100. Here database
work runs on a small pool (portal/db.py), so the connections stay as few as its threads however many requests wait.
Over HTTP, Django's ASGI handler gives each request a thread of its own while it runs (its request_started signal
has sync receivers); that idle thread is the price of Django's stock handler (docs/benchmarks.md).
"""

import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from websockets.sync.client import connect

from tests.harness.procs import wait_until

PLATFORM_ENV = {"RESPONDER_DELAY": "2", "CHAT_RATE_LIMIT": "0", "WS_FRAME_RATE": "0"}
WAITERS = 60


def threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("Threads:"))


def database_handles_of(pid: int, db_path) -> int:
    """Open handles of the process on the SQLite database file: one per database connection."""
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == str(db_path):
                count += 1
        except OSError:
            pass
    return count


def test_waiting_api_requests_hold_no_database_connection(platform):
    client = platform.client("alice")
    sessions = [client.new_session()["id"] for _ in range(WAITERS)]
    client.post("/api/chatbot/messages", {"session_id": sessions[0], "content": "warm up"}, timeout=30)

    def ask(session_id):
        marker = f"m-{uuid.uuid4().hex[:10]}"
        response = client.post("/api/chatbot/messages", {"session_id": session_id, "content": marker}, timeout=30)
        return response.status_code, marker in response.json().get("assistant_message", {}).get("content", "")

    with ThreadPoolExecutor(WAITERS) as pool:
        futures = [pool.submit(ask, s) for s in sessions]
        wait_until(lambda: platform.pending() >= WAITERS, 10, what="every request to be waiting for the 2 s LLM")
        during = database_handles_of(platform.web.pid, platform.db_path)
        results = [f.result() for f in futures]
    assert results == [(200, True)] * WAITERS  # each its own reply
    # A connection per waiting request would be WAITERS; the pool's few threads hold one each at most.
    assert during <= 8, f"{during} database connections while {WAITERS} requests waited"


def test_waiting_socket_requests_hold_no_thread(platform):
    client = platform.client("bob")
    sessions = [client.new_session()["id"] for _ in range(WAITERS)]
    sockets = [
        connect(
            client.ws_url(f"/ws/chat/{s}/"), origin=client.base_url, additional_headers={"Cookie": client.cookie_header}
        )
        for s in sessions
    ]
    try:
        before = threads_of(platform.web.pid)
        markers = [f"m-{uuid.uuid4().hex[:10]}" for _ in sockets]
        for ws, marker in zip(sockets, markers):
            ws.send(json.dumps({"type": "chat.message", "content": marker}))
        wait_until(lambda: platform.pending() >= WAITERS // 2, 5, what="requests waiting")
        during = threads_of(platform.web.pid)
        for ws, marker in zip(sockets, markers):
            while True:
                event = json.loads(ws.recv(timeout=30))
                if event["type"] in ("chat.reply", "chat.error"):
                    break
            assert event["type"] == "chat.reply" and marker in event["assistant_message"]["content"]
    finally:
        for ws in sockets:
            ws.close()
    assert during - before < 12, f"{during - before} more threads while {WAITERS} requests waited"
