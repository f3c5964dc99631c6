"""Memory soak: does the platform's memory stay flat over a long run of steady chat traffic?

    .venv/bin/python bench/memory_soak.py --minutes 60 --rate 150
    .venv/bin/python bench/memory_soak.py --minutes 60 --rate 150 --env CHAT_REPLY_TIMEOUT=30

The earlier platform's memory grew with uptime until it died; this measures ours. Starts its own platform
(mosquitto, Redis, one daphne, one worker, the offline responder; SQLite; the per-user chat rate limit and the
socket frame budget off), then keeps chat traffic at about --rate requests/s for --minutes: half the clients
POST /api/chatbot/messages, the other half send chat.message on their own WebSocket, each waiting for its own
reply. Every --sample seconds it records the RSS of daphne and the worker.

Printed: the samples, requests answered and failed, and per process the RSS at the start and end and its growth
over the second half of the run as MB per hour (a least-squares slope; the first half is warm-up: caches,
connection pools and the allocator's arenas filling). Two runs side by side (say, with and without an --env
setting) on the same machine at the same time are the fair comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import statistics
import time
import uuid

import aiohttp
import websockets
from common import SESSIONS_PER_USER, Target, create_users, machine_line, rss_mb, run_load, start_platform, ws_chat_turn

from tests.harness.procs import wait_until


async def http_client(target: Target, period: float, until: float, tally) -> None:
    async with aiohttp.ClientSession(
        cookie_jar=aiohttp.DummyCookieJar(), timeout=aiohttp.ClientTimeout(total=60)
    ) as http:
        while time.monotonic() < until:
            started = time.monotonic()
            marker = f"soak {uuid.uuid4().hex[:12]}"
            try:
                async with http.post(
                    f"{target.base_url}/api/chatbot/messages",
                    headers=target.headers,
                    data=json.dumps({"session_id": target.session_id, "content": marker}),
                ) as response:
                    body = await response.read()
                    ok = response.status == 200 and marker in json.loads(body)["assistant_message"]["content"]
                    tally[("HTTP", "ok" if ok else str(response.status))] += 1
            except (TimeoutError, aiohttp.ClientError) as exc:
                tally[("HTTP", type(exc).__name__)] += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))


async def ws_client(target: Target, period: float, until: float, tally) -> None:
    async with websockets.connect(
        target.ws_url, origin=target.base_url, additional_headers={"Cookie": target.cookie}
    ) as ws:
        while time.monotonic() < until:
            started = time.monotonic()
            outcome = await ws_chat_turn(ws, f"soak {uuid.uuid4().hex[:12]}", timeout=60)
            tally[("WebSocket", outcome)] += 1
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))


async def sample_rss(pids: dict[str, int], every: float, until: float, samples: list) -> None:
    started = time.monotonic()
    while True:
        now = time.monotonic()
        samples.append((now - started, {name: rss_mb(pid) for name, pid in pids.items()}))
        print(
            f"  {now - started:7.0f} s  " + "  ".join(f"{name} {mb:6.1f} MB" for name, mb in samples[-1][1].items()),
            flush=True,
        )
        if now >= until:
            return
        await asyncio.sleep(min(every, max(0.0, until - now)))


def growth_per_hour(samples: list, name: str) -> float:
    """Least-squares slope of RSS over the second half of the run, in MB per hour."""
    late = samples[len(samples) // 2 :]
    if len(late) < 2:
        return float("nan")
    slope, _ = statistics.linear_regression([t for t, _ in late], [rss[name] for _, rss in late])
    return slope * 3600


async def soak(p, targets: list[Target], args) -> tuple[dict, list]:
    tally = collections.Counter()
    samples: list = []
    until = time.monotonic() + args.minutes * 60
    period = args.concurrency / args.rate  # each client's pace, so that all together make about --rate
    pids = {"daphne": p.web.pid, "worker": p.workers[0].pid}
    tasks = [sample_rss(pids, args.sample, until, samples)]
    for n, target in enumerate(targets):
        client = http_client if n % 2 == 0 else ws_client
        tasks.append(client(target, period, until, tally))
    await asyncio.gather(*tasks)
    return tally, samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=150.0, help="chat requests per second, all clients together")
    parser.add_argument("--concurrency", type=int, default=20, help="clients: half HTTP, half WebSocket")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for daphne and the worker (repeatable), e.g. CHAT_REPLY_TIMEOUT=30",
    )
    args = parser.parse_args()
    settings = dict(item.split("=", 1) for item in args.env)
    print(
        machine_line(
            f"SQLite, 1 daphne, 1 worker, offline responder, {args.minutes:g} min at ~{args.rate:g} "
            f"req/s from {args.concurrency} clients (half HTTP, half WebSocket), "
            f"settings {settings or 'default'}"
        ),
        flush=True,
    )
    p = start_platform("bench-memsoak-", CHAT_RATE_LIMIT="0", WS_FRAME_RATE="0", **settings)
    try:
        users = [f"soak{u}" for u in range(-(-args.concurrency // SESSIONS_PER_USER))]
        create_users(p, users)
        base_url = f"http://127.0.0.1:{p.web_ports[0]}"
        targets = []
        for name in users:
            client = p.client(name)
            targets += [Target(client, client.new_session()["id"], base_url) for _ in range(SESSIONS_PER_USER)]
        tally, samples = run_load(soak(p, targets[: args.concurrency], args))
        try:
            wait_until(lambda: p.pending() == 0, 30, what="pending to drain")
        except Exception:  # noqa: BLE001 - reported below as what is still pending
            pass
        pending = p.pending()
    finally:
        p.stop_all()

    answered = sum(n for (_, outcome), n in tally.items() if outcome == "ok")
    others = {key: n for key, n in tally.items() if key[1] != "ok"}
    print(
        f"requests {sum(tally.values())}, answered {answered} ({answered / max(1, args.minutes * 60):.0f}/s); "
        f"others {others or 'none'}; pending at end {pending}"
    )
    for name in samples[0][1]:
        first, last = samples[0][1][name], samples[-1][1][name]
        print(
            f"RSS {name}: {first:.1f} -> {last:.1f} MB ({last - first:+.1f}); "
            f"second half {growth_per_hour(samples, name):+.2f} MB/hour"
        )
    return 0 if answered == sum(tally.values()) and pending == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
