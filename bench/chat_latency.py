"""Chat round trip through the whole platform, side by side with the floor (a bare MQTT request/reply).

    .venv/bin/python bench/chat_latency.py --requests 1000 --concurrency 1 10 100 1000
    .venv/bin/python bench/chat_latency.py --responder-delay 1 --concurrency 100 1000   # a 1-second LLM
    .venv/bin/python bench/chat_latency.py --workers 2 --concurrency 100                # two workers
    .venv/bin/python bench/chat_latency.py --webs 2 --concurrency 100                   # two daphne processes

Starts its own mosquitto (set_tcp_nodelay on), Redis, daphne, one worker (or --workers) and the offline
responder (SQLite), with
the per-user chat rate limit and the per-socket frame budget off (they would refuse a benchmark's traffic by
design). Then, at each concurrency c:
- floor: a bare paho client keeps c PROTOCOL.md chat requests in flight to the responder and times each reply on
  its own reply topic -- what no portal can beat through this broker at that concurrency;
- HTTP: c clients, each in its own session (users own several sessions each), POST /api/chatbot/messages in a
  loop; a success is a 200 whose reply quotes that very request (so a reply delivered to the wrong request
  counts as a failure);
- WebSocket: c sockets, one per session, each sending chat.message and waiting for its chat.reply.
Reported: success rate, requests/s, p50/p95/p99, the p50 overhead over the floor at the same concurrency, every
other outcome by status, the CPU each process spent per request (where the two cores go) and the requests still
pending in the workers afterwards (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
import uuid

import aiohttp
import paho.mqtt.client as paho
import websockets
from common import (
    CpuMeter,
    Run,
    Target,
    machine_line,
    make_targets,
    platform_pids,
    rss_mb,
    run_load,
    start_platform,
    ws_chat_turn,
)
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness.procs import wait_until

BASE = "prompt_portal/assistant_response"


class FloorClient:
    """A bare MQTT peer doing exactly what the worker does on the wire, with nothing else around it."""

    def __init__(self, port):
        self.client_id = f"floor_{uuid.uuid4().hex[:8]}"
        self.sent: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(0)  # paho's default of 20 would cap the floor's concurrency
        self.client.connect("127.0.0.1", port)
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5, what="floor client")
        self.client.subscribe(f"{BASE}/floor/{self.client_id}/#", qos=1)
        time.sleep(0.3)
        self.run: Run | None = None
        self.window: threading.Semaphore | None = None
        self.done = threading.Event()

    def _on_message(self, client, userdata, message):
        now = time.perf_counter()
        with self.lock:
            started = self.sent.pop(message.topic.rsplit("/", 1)[-1], None)
        if started is None or self.run is None:
            return
        self.run.latencies_ms.append((now - started) * 1000)
        self.run.count("ok")
        self.window.release()
        if self.run.ok == self.run.total:
            self.done.set()

    def measure(self, n: int, concurrency: int) -> Run:
        self.run = Run(f"floor, {concurrency} in flight", total=n)
        self.window = threading.Semaphore(concurrency)
        self.done.clear()
        started = time.perf_counter()
        for _ in range(n):
            self.window.acquire()
            request_id = uuid.uuid4().hex
            topic = f"{BASE}/floor/{self.client_id}/{request_id}"
            payload = json.dumps(
                {
                    "sessionId": "floor",
                    "message": f"floor {request_id}",
                    "requestId": request_id,
                    "clientId": self.client_id,
                    "replyTopic": topic,
                }
            )
            with self.lock:
                self.sent[request_id] = time.perf_counter()
            self.client.publish("prompt_portal/user_input", payload, qos=1)
        self.done.wait(120)
        self.run.elapsed = time.perf_counter() - started
        run, self.run = self.run, None
        return run

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


async def http_load(targets: list[Target], n: int, concurrency: int, timeout: float) -> Run:
    run = Run(f"HTTP chat, concurrency {concurrency}", total=n)
    counter = iter(range(n))
    connector = aiohttp.TCPConnector(limit=0)
    client_timeout = aiohttp.ClientTimeout(total=timeout)

    async with aiohttp.ClientSession(
        connector=connector, timeout=client_timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:

        async def user(target: Target) -> None:
            for _ in counter:
                marker = f"bench {uuid.uuid4().hex[:12]}"
                body = json.dumps({"session_id": target.session_id, "content": marker})
                started = time.perf_counter()
                try:
                    async with http.post(
                        f"{target.base_url}/api/chatbot/messages", data=body, headers=target.headers
                    ) as response:
                        status, payload = response.status, await response.read()
                except (TimeoutError, aiohttp.ClientError) as exc:
                    run.count(type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - started
                if status == 200 and marker in json.loads(payload)["assistant_message"]["content"]:
                    run.latencies_ms.append(elapsed * 1000)
                    run.count("ok")
                else:
                    run.count(status if status != 200 else "wrong reply")

        started = time.perf_counter()
        await asyncio.gather(*(user(targets[k]) for k in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run


async def ws_load(targets: list[Target], n: int, concurrency: int, timeout: float) -> Run:
    run = Run(f"WebSocket chat, concurrency {concurrency}", total=n)
    counter = iter(range(n))
    sockets = []
    for start in range(0, concurrency, 100):  # open them (untimed) in batches, as users arrive
        sockets += await asyncio.gather(
            *(
                websockets.connect(
                    t.ws_url,
                    origin=t.base_url,
                    open_timeout=60,
                    additional_headers={"Cookie": t.cookie},
                    max_queue=None,
                )
                for t in targets[start : min(concurrency, start + 100)]
            )
        )

    async def user(ws) -> None:
        for _ in counter:
            marker = f"ws {uuid.uuid4().hex[:12]}"
            started = time.perf_counter()
            outcome = await ws_chat_turn(ws, marker, timeout)
            if outcome == "ok":
                run.latencies_ms.append((time.perf_counter() - started) * 1000)
            run.count(outcome)

    started = time.perf_counter()
    await asyncio.gather(*(user(ws) for ws in sockets))
    run.elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (at least 2 per client)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 100, 1000])
    parser.add_argument("--responder-delay", type=float, default=0.0, help="seconds: simulates a slow LLM")
    parser.add_argument("--skip-ws", action="store_true")
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="MQTT workers beside the one daphne (scale-out on one machine; each its own client id)",
    )
    parser.add_argument(
        "--webs",
        type=int,
        default=1,
        help="daphne processes; each client talks to one of them, in turn (as behind nginx)",
    )
    args = parser.parse_args()
    most = max(args.concurrency)
    reply_timeout = 45
    print(
        machine_line(
            f"SQLite, {args.webs} daphne(s), {args.workers} worker(s), offline responder with a "
            f"{args.responder_delay:g} s delay, "
            f"{args.requests} requests per run (at least 2 per client), CHAT_RATE_LIMIT=0, WS_FRAME_RATE=0"
        ),
        flush=True,
    )
    p = start_platform(
        "bench-chat-",
        CHAT_RATE_LIMIT="0",
        WS_FRAME_RATE="0",
        CHAT_REPLY_TIMEOUT=str(reply_timeout),
        RESPONDER_DELAY=str(args.responder_delay),
    )
    try:
        for n in range(2, args.workers + 1):
            p.start_worker(MQTT_CLIENT_ID=f"bench-worker-{n}")
        for _ in range(2, args.webs + 1):
            p.start_web()
        users, targets = make_targets(p, most)
        print(f"{len(users)} users, {len(targets)} sessions", flush=True)

        floor = FloorClient(p.broker.port)
        floor.measure(100, 1)  # warm-up
        run_load(http_load(targets, 50, 1, reply_timeout + 10))  # warm-up
        for c in args.concurrency:
            n = max(args.requests, 2 * c)
            floor_run = floor.measure(n, c)
            print(floor_run.line(), flush=True)
            if not args.skip_http:
                cpu = CpuMeter(platform_pids(p))
                print(run_load(http_load(targets, n, c, reply_timeout + 10)).line(floor_run.p50), flush=True)
                print(cpu.line(n), flush=True)
            if not args.skip_ws:
                cpu = CpuMeter(platform_pids(p))
                print(run_load(ws_load(targets, n, c, reply_timeout + 10)).line(floor_run.p50), flush=True)
                print(cpu.line(n), flush=True)
            wait_until(lambda: p.pending() == 0, 60, what="pending to drain")
            workers_rss = ", ".join(f"{rss_mb(w.pid):.0f}" for w in p.workers)
            print(
                f"{'':<36} pending afterwards: {p.pending()}; RSS daphne(s) "
                f"{', '.join(f'{rss_mb(w.pid):.0f}' for w in p.webs)} MB, "
                f"worker(s) {workers_rss} MB",
                flush=True,
            )
        floor.close()
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
