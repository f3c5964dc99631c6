"""Chat round trip through the whole platform, side by side with the floor (a bare MQTT request/reply).

    .venv/bin/python bench/chat_latency.py --requests 300 --concurrency 1 10 100

Starts its own mosquitto (set_tcp_nodelay on), Redis, daphne, one worker and the offline responder. Then:
- floor, sequential: a bare paho client publishes PROTOCOL.md chat requests to the responder and waits for each
  reply on its own reply topic (what no portal can beat through this broker);
- floor, pipelined: the same requests all in flight at once (throughput of broker + responder);
- HTTP POST /api/chatbot/messages and the chat WebSocket, at each concurrency: success rate, requests/s,
  p50/p95/p99, and the median overhead over the sequential floor.
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
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as paho  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tests.harness.platform import Platform  # noqa: E402
from tests.harness.procs import wait_until  # noqa: E402

BASE = "prompt_portal/assistant_response"


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def summary(name, latencies, ok, total, elapsed, floor_ms=None):
    if not latencies:
        print(f"{name:<28} no successful requests ({ok}/{total})")
        return
    ms = [x * 1000 for x in latencies]
    p50 = statistics.median(ms)
    line = (f"{name:<28} ok {ok}/{total} ({100 * ok / total:.1f} %)  {total / elapsed:8.1f} req/s  "
            f"p50 {p50:7.2f} ms  p95 {pct(ms, 95):7.2f} ms  p99 {pct(ms, 99):7.2f} ms")
    if floor_ms is not None:
        line += f"  overhead p50 {p50 - floor_ms:+.2f} ms"
    print(line, flush=True)
    return p50


class FloorClient:
    """A bare MQTT peer doing exactly what the worker does on the wire, with nothing else around it."""

    def __init__(self, port):
        self.client_id = f"floor_{uuid.uuid4().hex[:8]}"
        self.waiting: dict[str, queue.Queue] = {}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.socket().setsockopt(__import__("socket").IPPROTO_TCP, __import__("socket").TCP_NODELAY, 1)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5, what="floor client")
        self.client.subscribe(f"{BASE}/floor/{self.client_id}/#", qos=1)
        time.sleep(0.3)

    def _on_message(self, client, userdata, message):
        q = self.waiting.get(message.topic.rsplit("/", 1)[-1])
        if q:
            q.put(time.perf_counter())

    def send(self, request_id):
        topic = f"{BASE}/floor/{self.client_id}/{request_id}"
        self.waiting[request_id] = queue.Queue()
        payload = {"sessionId": "floor", "message": f"floor {request_id}", "requestId": request_id,
                   "clientId": self.client_id, "replyTopic": topic}
        started = time.perf_counter()
        self.client.publish("prompt_portal/user_input", json.dumps(payload), qos=1)
        return started

    def wait(self, request_id, timeout=10):
        try:
            return self.waiting[request_id].get(timeout=timeout)
        finally:
            del self.waiting[request_id]

    def sequential(self, n):
        rtts = []
        for _ in range(n):
            rid = uuid.uuid4().hex
            started = self.send(rid)
            rtts.append(self.wait(rid) - started)
        return rtts

    def pipelined(self, n):
        ids = [uuid.uuid4().hex for _ in range(n)]
        started = time.perf_counter()
        starts = {rid: self.send(rid) for rid in ids}
        rtts = [self.wait(rid) - starts[rid] for rid in ids]
        return rtts, time.perf_counter() - started

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def http_run(p, clients, sessions, n, concurrency):
    latencies, statuses = [], []
    lock = threading.Lock()

    def one(i):
        client = clients[i % len(clients)]
        session_id = sessions[i % len(sessions)]
        started = time.perf_counter()
        try:
            response = client.post("/api/chatbot/messages", {"session_id": session_id, "content": f"bench {i}"},
                                   timeout=60)
            status = response.status_code
            ok = status == 200 and f"bench {i}" in response.json()["assistant_message"]["content"]
        except Exception:  # noqa: BLE001
            status, ok = "error", False
        elapsed = time.perf_counter() - started
        with lock:
            statuses.append(status)
            if ok:
                latencies.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return latencies, statuses, time.perf_counter() - started


def ws_sequential(p, client, session_id, n):
    latencies = []
    with connect(client.ws_url(f"/ws/chat/{session_id}/"), origin=p.base_url,
                 additional_headers={"Cookie": client.cookie_header}) as ws:
        for i in range(n):
            started = time.perf_counter()
            ws.send(json.dumps({"type": "chat.message", "content": f"ws {i}"}))
            while True:
                event = json.loads(ws.recv(timeout=10))
                if event["type"] in ("chat.reply", "chat.error"):
                    break
            if event["type"] == "chat.reply":
                latencies.append(time.perf_counter() - started)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--users", type=int, default=10)
    args = parser.parse_args()

    print(f"machine: {host_platform.machine()}, {os.cpu_count()} cores, Python {host_platform.python_version()}; "
          f"offline responder, SQLite, one daphne, one worker; {args.requests} requests per run")
    p = Platform(Path(tempfile.mkdtemp(prefix="bench-")), LOG_LEVEL="WARNING", CHAT_REPLY_TIMEOUT="30",
                 WORKER_HEARTBEAT_INTERVAL="2")
    try:
        p.start_all()
        floor = FloorClient(p.broker.port)
        floor.sequential(50)  # warm-up
        floor_seq = floor.sequential(args.requests)
        floor_ms = summary("floor, sequential", floor_seq, len(floor_seq), args.requests, sum(floor_seq))
        pipe_rtts, pipe_elapsed = floor.pipelined(args.requests)
        summary("floor, pipelined", pipe_rtts, len(pipe_rtts), args.requests, pipe_elapsed)
        floor.close()

        clients, sessions = [], []
        for u in range(args.users):
            p.create_user(f"bench{u}")
            client = p.client(f"bench{u}")
            clients.append(client)
            sessions += [client.new_session()["id"] for _ in range(5)]
        # Each session belongs to one user: pair them up by index.
        pairs_clients = [clients[i // 5] for i in range(len(sessions))]
        http_run(p, pairs_clients, sessions, 50, 1)  # warm-up
        for c in args.concurrency:
            latencies, statuses, elapsed = http_run(p, pairs_clients, sessions, max(args.requests, c), c)
            summary(f"HTTP chat, concurrency {c}", latencies, len(latencies), len(statuses), elapsed, floor_ms)
            others = {s: statuses.count(s) for s in set(statuses) if s != 200}
            if others:
                print(f"{'':<28} non-200: {others}")
        ws = ws_sequential(p, clients[0], sessions[0], args.requests)
        summary("WebSocket chat, sequential", ws, len(ws), args.requests, sum(ws), floor_ms)
        wait_until(lambda: p.pending() == 0, 30, what="pending to drain")
        print(f"pending after the runs: {p.pending()}")
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
