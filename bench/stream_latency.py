"""Streamed answers: time to the first words through the whole platform, over the LLM service's own first chunk.

    .venv/bin/python bench/stream_latency.py                                    # TTFT at 1 and 100, then the soak
    .venv/bin/python bench/stream_latency.py --concurrency 1 --skip-soak
    .venv/bin/python bench/stream_latency.py --skip-ttft --soak-streams 1000 --soak-seconds 60

Starts its own platform (as bench/chat_latency.py) with the offline responder streaming word by word at --rate
tokens per second. Then:
- floor: a bare paho client sends PROTOCOL.md requests with "stream": true to the responder and times its first
  chunk on <replyTopic>/stream -- the first words no portal can show sooner;
- WebSocket: from chat.message to the first chat.delta of that request (and its chat.reply, which must quote it);
- SSE: from POST /api/chatbot/messages (Accept: text/event-stream) to the first `delta` event (and the reply);
  each reported with its p50 over the floor's;
- soak: --soak-streams sockets, each streaming one answer after another for --soak-seconds: every final reply
  delivered (quoting its question) and stored once, the worker's and daphne's CPU per relayed token, the
  chat.delta events per chunk (the relay's coalescing), and the requests still pending afterwards (must be 0).
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
    run_load,
    start_platform,
)
from paho.mqtt.enums import CallbackAPIVersion

from tests.harness.procs import wait_until

BASE = "prompt_portal/assistant_response"
SOAK_WORDS = 60  # the answer to each soak message streams this many words (plus the echo's own)


class FloorStreams:
    """A bare MQTT peer asking for streamed answers: time to the responder's first chunk of each."""

    def __init__(self, port: int):
        self.client_id = f"floor_{uuid.uuid4().hex[:8]}"
        self.sent: dict[str, float] = {}
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id)
        self.client.on_message = self._on_message
        self.client.max_inflight_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.loop_start()
        wait_until(self.client.is_connected, 5, what="floor client")
        self.client.subscribe(f"{BASE}/floor/{self.client_id}/#", qos=1)
        time.sleep(0.3)  # the SUBACK: a bare client has no event to wait on here
        self.run: Run | None = None
        self.window: threading.Semaphore | None = None
        self.done = threading.Event()
        self.answered = 0

    def _on_message(self, client, userdata, message):
        now = time.perf_counter()
        parts = message.topic.split("/")
        if parts[-1] == "stream":
            if json.loads(message.payload)["seq"] != 0:
                return
            with self.lock:
                started = self.sent.get(parts[-2])
            if started is not None and self.run is not None:
                self.run.latencies_ms.append((now - started) * 1000)
                self.run.count("ok")
            return
        with self.lock:  # the final reply: the request is over
            if self.sent.pop(parts[-1], None) is None:
                return
            self.answered += 1
        self.window.release()
        if self.run is not None and self.answered == self.run.total:
            self.done.set()

    def measure(self, n: int, concurrency: int, words: str = "") -> Run:
        self.run, self.answered = Run(f"floor: first chunk, {concurrency} in flight", total=n), 0
        self.window = threading.Semaphore(concurrency)
        self.done.clear()
        started = time.perf_counter()
        for _ in range(n):
            self.window.acquire()
            request_id = uuid.uuid4().hex
            payload = {
                "sessionId": f"floor{request_id[:8]}",
                "message": f"floor {request_id[:12]} {words}".strip(),
                "requestId": request_id,
                "clientId": self.client_id,
                "replyTopic": f"{BASE}/floor/{self.client_id}/{request_id}",
                "stream": True,
            }
            with self.lock:
                self.sent[request_id] = time.perf_counter()
            self.client.publish("prompt_portal/user_input", json.dumps(payload), qos=1)
        self.done.wait(300)
        self.run.elapsed = time.perf_counter() - started
        run, self.run = self.run, None
        return run

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


async def open_sockets(targets: list[Target], count: int) -> list:
    sockets = []
    for start in range(0, count, 100):  # opened (untimed) in batches, as users arrive
        sockets += await asyncio.gather(
            *(
                websockets.connect(
                    t.ws_url, origin=t.base_url, open_timeout=60, additional_headers={"Cookie": t.cookie}
                )
                for t in targets[start : min(count, start + 100)]
            )
        )
    return sockets


async def ws_stream_turn(ws, text: str, timeout: float) -> tuple[str, float | None, int]:
    """One streamed answer on a chat socket: (outcome, seconds to the first chat.delta, words of the answer)."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "chat.message", "content": text}))
    request_id, first = None, None
    try:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await ws.recv())
                kind = event["type"]
                if kind == "chat.accepted" and event["user_message"]["content"] == text:
                    request_id = event["request_id"]
                elif kind == "chat.delta" and event["request_id"] == request_id and first is None:
                    first = time.perf_counter() - started
                elif kind == "chat.reply" and event.get("request_id") == request_id:
                    answer = event["assistant_message"]["content"]
                    return ("ok" if text in answer else "wrong reply"), first, len(answer.split())
                elif kind == "chat.error":
                    return event.get("code", "error"), first, 0
    except TimeoutError:
        return "client timeout", first, 0


async def ws_ttft(targets: list[Target], n: int, concurrency: int, timeout: float, words: str = "") -> Run:
    run = Run(f"WebSocket: first delta, concurrency {concurrency}", total=n)
    counter = iter(range(n))
    sockets = await open_sockets(targets, concurrency)

    async def user(ws) -> None:
        for _ in counter:
            outcome, first, _ = await ws_stream_turn(ws, f"ws {uuid.uuid4().hex[:12]} {words}".strip(), timeout)
            if outcome == "ok" and first is not None:
                run.latencies_ms.append(first * 1000)
            else:  # answered before any preview got out (the final reply replaces it anyway), or failed
                run.count(outcome if outcome != "ok" else "answered before a delta")

    started = time.perf_counter()
    await asyncio.gather(*(user(ws) for ws in sockets))
    run.elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return run


async def sse_ttft(targets: list[Target], n: int, concurrency: int, timeout: float, words: str = "") -> Run:
    run = Run(f"SSE: first delta, concurrency {concurrency}", total=n)
    counter = iter(range(n))
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as http:

        async def user(target: Target) -> None:
            headers = {**target.headers, "Accept": "text/event-stream"}
            for _ in counter:
                marker = f"sse {uuid.uuid4().hex[:12]} {words}".strip()
                body = json.dumps({"session_id": target.session_id, "content": marker})
                started, first, outcome = time.perf_counter(), None, "no reply"
                try:
                    async with http.post(
                        f"{target.base_url}/api/chatbot/messages", data=body, headers=headers
                    ) as response:
                        async for line in response.content:
                            if line.startswith(b"event: delta") and first is None:
                                first = time.perf_counter() - started
                            elif line.startswith(b"data: ") and b'"status"' in line:
                                final = json.loads(line[6:])
                                content = (final.get("assistant_message") or {}).get("content", "")
                                outcome = "ok" if final["status"] == 200 and marker in content else final["status"]
                except (TimeoutError, aiohttp.ClientError) as exc:
                    outcome = type(exc).__name__
                if outcome == "ok" and first is not None:
                    run.latencies_ms.append(first * 1000)
                else:
                    run.count(outcome if outcome != "ok" else "answered before a delta")

        started = time.perf_counter()
        await asyncio.gather(*(user(targets[k]) for k in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    return run


async def soak(targets: list[Target], streams: int, seconds: float, timeout: float) -> dict:
    """`streams` sockets, each streaming one answer after another until `seconds` have passed."""
    sockets = await open_sockets(targets, streams)
    tally = {"requests": 0, "ok": 0, "words": 0, "outcomes": {}, "first_ms": []}
    words = " ".join(f"w{i}" for i in range(SOAK_WORDS))
    until = time.monotonic() + seconds

    async def user(ws) -> None:
        while time.monotonic() < until:
            outcome, first, count = await ws_stream_turn(ws, f"soak {uuid.uuid4().hex[:12]} {words}", timeout)
            tally["requests"] += 1
            tally["outcomes"][outcome] = tally["outcomes"].get(outcome, 0) + 1
            if outcome == "ok":
                tally["ok"] += 1
                tally["words"] += count
                if first is not None:
                    tally["first_ms"].append(first * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(user(ws) for ws in sockets))
    tally["elapsed"] = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return tally


def stored_answers(p, session_ids: list[int]) -> tuple[int, int]:
    """(assistant messages, distinct request ids among them) in these chat sessions."""
    code = (
        "from chatbot.models import ChatMessage\n"
        f"q = ChatMessage.objects.filter(session_id__in={session_ids!r}, role='assistant')\n"
        "print('answers', q.count(), q.values('request_id').distinct().count())\n"
    )
    line = next(x for x in p.manage("shell", "-c", code).stdout.splitlines() if x.startswith("answers "))
    return int(line.split()[1]), int(line.split()[2])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per TTFT run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--rate", type=float, default=30.0, help="tokens per second of each streamed answer")
    parser.add_argument(
        "--words", type=int, default=30, help="extra words in each TTFT question, so its answer streams that long"
    )
    parser.add_argument("--soak-streams", type=int, default=1000)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--skip-ttft", action="store_true")
    parser.add_argument("--skip-soak", action="store_true")
    parser.add_argument("--webs", type=int, default=1, help="daphne processes (clients spread over them)")
    parser.add_argument("--flush-interval", type=float, default=None, help="CHAT_STREAM_FLUSH_INTERVAL for an A/B")
    args = parser.parse_args()
    timeout = 120
    most = max([*args.concurrency, 0 if args.skip_soak else args.soak_streams])
    print(
        machine_line(
            f"SQLite, {args.webs} daphne(s), 1 worker, offline responder streaming {args.rate:g} tokens/s, "
            f"CHAT_RATE_LIMIT=0, WS_FRAME_RATE=0"
        ),
        flush=True,
    )
    p = start_platform(
        "bench-stream-",
        CHAT_RATE_LIMIT="0",
        WS_FRAME_RATE="0",
        CHAT_REPLY_TIMEOUT=str(timeout - 10),
        RESPONDER_STREAM_RATE=str(args.rate),
        **({"CHAT_STREAM_FLUSH_INTERVAL": str(args.flush_interval)} if args.flush_interval is not None else {}),
    )
    try:
        for _ in range(2, args.webs + 1):
            p.start_web()
        _, targets = make_targets(p, most)
        floor = FloorStreams(p.broker.port)
        extra = " ".join(f"w{i}" for i in range(args.words))
        if not args.skip_ttft:
            floor.measure(20, 1)  # warm-up
            run_load(ws_ttft(targets, 10, 1, timeout))
            for c in args.concurrency:
                n = max(args.requests, 2 * c)
                floor_run = floor.measure(n, c, extra)
                print(floor_run.line(), flush=True)
                cpu = CpuMeter(platform_pids(p))
                print(run_load(ws_ttft(targets, n, c, timeout, extra)).line(floor_run.p50), flush=True)
                print(cpu.line(n), flush=True)
                cpu = CpuMeter(platform_pids(p))
                print(run_load(sse_ttft(targets, n, c, timeout, extra)).line(floor_run.p50), flush=True)
                print(cpu.line(n), flush=True)
                wait_until(lambda: p.pending() == 0, 60, what="pending to drain")
        floor.close()
        if not args.skip_soak:
            soak_sessions = [t.session_id for t in targets[: args.soak_streams]]
            stored_before, distinct_before = stored_answers(p, soak_sessions)
            before = p.worker_states()[0]["counters"]
            cpu = CpuMeter(platform_pids(p))
            tally = run_load(soak(targets, args.soak_streams, args.soak_seconds, timeout))
            after = p.worker_states()[0]["counters"]
            chunks = after["stream_chunks"] - before["stream_chunks"]
            deltas = after["stream_deltas"] - before["stream_deltas"]
            first = sorted(tally["first_ms"])
            print(
                f"soak: {args.soak_streams} streams for {tally['elapsed']:.0f} s at {args.rate:g} tokens/s: "
                f"{tally['ok']}/{tally['requests']} answered ({tally['outcomes']}), "
                f"{tally['words'] / tally['elapsed']:.0f} words/s delivered, {chunks} chunks relayed as "
                f"{deltas} chat.delta events ({deltas / max(chunks, 1):.2f} per chunk); first delta p50 "
                f"{first[len(first) // 2] if first else float('nan'):.0f} ms",
                flush=True,
            )
            print(cpu.line(max(chunks, 1)).replace("per request", "per relayed chunk (token)"), flush=True)
            wait_until(lambda: p.pending() == 0, 120, what="pending to drain")
            stored, distinct = stored_answers(p, soak_sessions)
            stored, distinct = stored - stored_before, distinct - distinct_before
            print(
                f"{'':<36} pending afterwards: {p.pending()}; answers stored {stored}, distinct requests {distinct}",
                flush=True,
            )
    finally:
        p.stop_all()


if __name__ == "__main__":
    main()
